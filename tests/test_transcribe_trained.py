"""Transcription with a model that recognizes speech, checked against the truth.

A small model is trained here (~30 s) on the espeak-ng corpus of conftest.py; the test audio is made of
those utterances separated by known silences, so the true speech spans are known to the sample.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from asr import load_model
from asr.data.manifest import read_manifest
from asr.metrics import wer
from asr.transcription import transcribe, transcribe_many

pytestmark = pytest.mark.slow

RATE = 16000
NOISE = 3e-4  # faint background noise (about -70 dBFS) under every recording, training copies too


@pytest.fixture(scope="module")
def trained(speech_corpus, tmp_path_factory):
    """(model path, utterances, its training manifest) for a 2 x 128 BiLSTM that has learnt the corpus.

    Its training copies start with 0-0.4 s of silence, as speech cut out by a VAD does, and carry the
    faint noise of the test recordings: a model trained on 48 clean utterances knows nothing else."""
    from tiny_corpus import SPEECH_OVERFIT, manifest_run

    from asr.train.loop import train

    root = tmp_path_factory.mktemp("padded")
    rows = []
    for i, item in enumerate(read_manifest(speech_corpus / "train.jsonl")):
        audio, _ = sf.read(item.audio, dtype="float32")
        rng = np.random.default_rng(i)
        padded = np.concatenate([np.zeros(int(rng.uniform(0, 0.4) * RATE), dtype=np.float32), audio])
        padded += (NOISE * rng.standard_normal(len(padded))).astype(np.float32)
        path = root / f"{item.id}.wav"
        sf.write(path, padded, RATE)
        speaker = "AB"[i % 2]
        rows.append({"id": item.id, "audio": str(path), "duration": len(padded) / RATE, "text": item.text,
                     "speaker": speaker})  # fmt: skip
    (root / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:8]))
    run = manifest_run(root, root / "exp", "train.epochs=30", *SPEECH_OVERFIT, "train.num_threads=1")
    best = train(run, progress=False)
    return best, read_manifest(speech_corpus / "train.jsonl"), root / "train.jsonl"


def _speech_span(audio: np.ndarray) -> tuple[int, int]:
    """First and last sample above 1 % of the peak: where the sound of an utterance begins and ends."""
    loud = np.flatnonzero(np.abs(audio) > 0.01 * np.abs(audio).max())
    return int(loud[0]), int(loud[-1]) + 1


def _recording(items, order, seed: int):
    """Utterances in `order` with 0.5-1.5 s of silence between them, faint noise throughout;
    returns (audio, truth spans)."""
    rng = np.random.default_rng(seed)
    parts, truth, pos = [], [], 0
    for i in order:
        audio, _ = sf.read(items[i].audio, dtype="float32")
        gap = np.zeros(int(rng.uniform(0.5, 1.5) * RATE), dtype=np.float32)
        parts += [gap, audio]
        pos += len(gap)
        s, e = _speech_span(audio)
        truth.append(((pos + s) / RATE, (pos + e) / RATE, items[i].text))
        pos += len(audio)
    parts.append(np.zeros(RATE // 2, dtype=np.float32))
    audio = np.concatenate(parts)
    audio += (NOISE * rng.standard_normal(len(audio))).astype(np.float32)
    return audio, truth


def _words_of(result, start: float, end: float, margin: float = 0.3):
    return [w for w in result.words if w.end_s > start - margin and w.start_s < end + margin]


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("decoding", ["greedy", "beam"])
def test_word_times_at_known_silences_within_a_tenth_of_a_second(trained, decoding):
    from asr.decoding import BeamSearchDecoder

    path, items, _ = trained
    model = load_model(path)
    decoder = None if decoding == "greedy" else BeamSearchDecoder(model.vocab, beam_size=8,
                                                                  frame_shift_s=model.frame_shift_s)  # fmt: skip
    audio, truth = _recording(items, [0, 9, 18, 27, 36, 45, 6, 15, 24, 33], seed=1)
    result = transcribe(model, audio, sample_rate=RATE, decoder=decoder)
    refs = " ".join(t for _, _, t in truth)
    assert wer([refs], [result.text]) < 0.15, result.text
    errors = []
    for start, end, text in truth:
        words = _words_of(result, start, end)
        assert words, (start, end, text)
        # An edge is timed only where its word was recognised: a dropped first letter ("t is raining")
        # moves the word's start by the letter, which is a recognition error, not a timing one.
        if words[0].text == text.split()[0]:
            errors.append(words[0].start_s - start)
        if words[-1].text == text.split()[-1]:
            errors.append(words[-1].end_s - end)
        # Inside a sentence: in order, not overlapping, inside the sound.
        for a, b in zip(words, words[1:]):
            assert a.start_s <= a.end_s <= b.start_s + 1e-6, (a, b)
        assert start - 0.1 <= words[0].start_s and words[-1].end_s <= end + 0.1
    assert len(errors) >= 0.8 * 2 * len(truth), f"too few edge words recognised: {result.text}"
    errors = np.abs(errors)
    assert errors.max() <= 0.1, np.round(errors, 3)


@pytest.mark.usefixtures("one_torch_thread")
def test_ten_minute_recording_text_segments_and_bounded_memory(trained, tmp_path, monkeypatch):
    path, items, _ = trained
    model = load_model(path)
    rng = np.random.default_rng(7)
    order: list[int] = []
    while sum(items[i].duration for i in order) + 1.0 * len(order) < 610:
        order += list(rng.permutation(len(items)))
    audio, truth = _recording(items, order, seed=2)
    assert len(audio) / RATE >= 600
    wav = tmp_path / "ten_minutes.wav"
    sf.write(wav, audio, RATE, subtype="PCM_16")
    whole_bytes = audio.nbytes
    del audio

    calls = []
    forward = model.forward

    def spy(waveforms, lengths):
        calls.append(int(lengths.sum()))
        return forward(waveforms, lengths)

    monkeypatch.setattr(model, "forward", spy)
    import asr.transcription as tr

    monkeypatch.setattr(tr, "_BLOCK_SECONDS", 20.0)  # read 20 s at a time (60 s by default)
    tracemalloc.start()
    result = transcribe(model, wav, batch_seconds=30.0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    # Bounded memory: never the whole recording at once, in Python buffers or in one model call.
    assert peak < whole_bytes / 4, (peak, whole_bytes)
    assert max(calls) <= 30 * RATE and len(calls) >= 12
    assert result.duration_s == pytest.approx(whole_bytes / 4 / RATE)

    # The same model on each utterance alone, with the same faint noise: the accuracy to expect.
    rng = np.random.default_rng(3)
    alone = []
    for item in items:
        clip, _ = sf.read(item.audio, dtype="float32")
        alone.append(clip + (NOISE * rng.standard_normal(len(clip))).astype(np.float32))
    alone_texts = [t.text for _, t in transcribe_many(model, [(a, RATE) for a in alone])]
    alone_wer = wer([item.text for item in items], alone_texts)
    reference = " ".join(t for _, _, t in truth)
    long_wer = wer([reference], [result.text])
    # Cutting, batching and stitching lose nothing against utterance-by-utterance decoding.
    assert long_wer <= alone_wer + 0.05 and long_wer < 0.3, (long_wer, alone_wer)

    # Segment times: each utterance overlaps one segment, whose edges lie on the utterance's edges
    # (within 0.1 s nearly always), and every segment holds speech.
    edge_errors = []
    for start, end, text in truth:
        inside = [s for s in result.segments if s.start_s < end and s.end_s > start]
        assert len(inside) == 1, (start, end, text, inside)
        edge_errors += [inside[0].start_s - start, inside[0].end_s - end]
    edge_errors = np.abs(edge_errors)
    assert np.mean(edge_errors < 0.1) > 0.95 and edge_errors.max() < 0.25, np.sort(edge_errors)[-10:]
    spans = np.array([(s, e) for s, e, _ in truth])
    for seg in result.segments:
        assert ((spans[:, 0] < seg.end_s) & (spans[:, 1] > seg.start_s)).any(), seg
    # Stitched word times: the words timed inside each utterance's span are that utterance's words.
    found = []
    for start, end, _ in truth:
        words = _words_of(result, start, end, margin=0.1)
        assert all(start - 0.1 <= w.start_s and w.end_s <= end + 0.1 for w in words)
        found.append(" ".join(w.text for w in words))
    assert wer([t for _, _, t in truth], found) <= long_wer + 0.02


def test_cli_evaluate_greedy_and_beam_in_one_run(trained, tmp_path):
    path, _, train_manifest = trained
    manifest = tmp_path / "test.jsonl"
    manifest.write_text("".join(train_manifest.read_text().splitlines(keepends=True)[:16]))
    out = subprocess.run(
        [sys.executable, "-m", "asr.cli", "evaluate", "--model", str(path), "--manifest", str(manifest),
         "--beam-size", "8", "--also-greedy", "--output-dir", str(tmp_path / "rep"), "--threads", "1"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    beam = json.loads((tmp_path / "rep" / "summary-test.json").read_text())
    greedy = json.loads((tmp_path / "rep" / "summary-test-greedy.json").read_text())
    for summary in (beam, greedy):
        assert summary["utterances"] == 16 and summary["wer"] < 0.1
        assert set(summary["per_speaker"]) == {"A", "B"}
    assert "test (beam)" in out.stdout and "test-greedy (greedy)" in out.stdout
