"""`asr.transcribe` / `asr transcribe`: inputs of every kind, errors, batching, the command line.

These use a small untrained model: they check plumbing (the same audio in any form gives the same
result, batches give what single files give), not accuracy; tests/test_transcribe_trained.py trains a
model and checks words, times and long audio against the truth.
"""

from __future__ import annotations

import io
import json
import logging

import numpy as np
import pytest
import soundfile as sf
import torch
from tiny_model import letters_recognizer, save_model

from asr.audio import AudioError
from asr.checkpoint import checkpoint_payload
from asr.recognizer import SpeechRecognizer
from asr.transcription import Transcript, transcribe, transcribe_many

RATE = 16000


@pytest.fixture(scope="module")
def model() -> SpeechRecognizer:
    return letters_recognizer()


@pytest.fixture(scope="module")
def model_path(model, tmp_path_factory):
    return save_model(model, tmp_path_factory.mktemp("model") / "m.pt")


def _tone_bursts(seconds: float, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """Bursts of noisy tones separated by silences: 'speech' for a VAD, words for a random model."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    audio = np.zeros_like(t)
    pos = 0.3
    while pos < seconds - 1.0:
        length = rng.uniform(0.4, 1.2)
        mask = (t >= pos) & (t < pos + length)
        audio[mask] = 0.3 * np.sin(2 * np.pi * rng.uniform(150, 900) * t[mask]) + 0.05 * rng.standard_normal(
            mask.sum()
        )
        pos += length + rng.uniform(0.4, 0.9)
    return audio.astype(np.float32)


def _rounded(t: Transcript) -> tuple:
    """A transcript with times and confidences rounded: batched float sums differ in the last bits."""
    return (
        t.text,
        round(t.duration_s, 3),
        [(s.text, round(s.start_s, 3), round(s.end_s, 3)) for s in t.segments],
        [(w.text, round(w.start_s, 3), round(w.end_s, 3), round(w.confidence, 3)) for w in t.words],
    )


@pytest.fixture(scope="module")
def audio_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("audio")
    paths = []
    for i, seconds in enumerate([3.0, 7.0, 5.0]):
        path = root / f"f{i}.wav"
        sf.write(path, _tone_bursts(seconds, seed=i), RATE)
        paths.append(path)
    return paths


def test_every_kind_of_input_gives_the_same_transcript(model, audio_files, tmp_path):
    path = audio_files[1]
    audio, _ = sf.read(path, dtype="float32")
    reference = transcribe(model, path, vad="energy")
    assert reference.text and reference.segments and reference.words
    assert reference.duration_s == pytest.approx(7.0)
    assert _rounded(transcribe(model, path.read_bytes(), vad="energy")) == _rounded(reference)
    assert _rounded(transcribe(model, audio, sample_rate=RATE, vad="energy")) == _rounded(reference)
    stereo = np.stack([audio, audio], axis=1)
    assert transcribe(model, stereo, sample_rate=RATE, vad="energy").text == reference.text
    pcm = np.round(audio * 32767).astype(np.int16)
    assert transcribe(model, pcm, sample_rate=RATE, vad="energy").text == reference.text
    flac = tmp_path / "x.flac"
    sf.write(flac, stereo, RATE)
    assert transcribe(model, flac, vad="energy").text == reference.text


def test_times_are_global_ordered_and_inside_the_recording(model, audio_files):
    result = transcribe(model, audio_files[1], vad="energy", max_segment_s=1.0)
    assert all(s.end_s - s.start_s <= 1.0 + 1e-6 for s in result.segments)
    starts = [s.start_s for s in result.segments]
    assert starts == sorted(starts)
    assert result.text == " ".join(s.text for s in result.segments)
    assert [w for s in result.segments for w in s.words] == list(result.words)
    for seg in result.segments:
        for w in seg.words:
            assert seg.start_s - 1e-6 <= w.start_s <= w.end_s <= seg.end_s + 1e-6
            assert 0.0 <= w.confidence <= 1.0


def test_batches_of_many_files_give_what_single_files_give(model, audio_files):
    single = [transcribe(model, p, vad="energy") for p in audio_files]
    # A small batch size: segments of one file are spread over batches shared with the next file.
    together = list(transcribe_many(model, audio_files, vad="energy", batch_seconds=2.0, max_segment_s=2.0))
    assert [src for src, _ in together] == audio_files
    small = [transcribe(model, p, vad="energy", max_segment_s=2.0) for p in audio_files]
    assert [_rounded(t) for _, t in together] == [_rounded(t) for t in small]
    big = list(transcribe_many(model, audio_files, vad="energy", batch_seconds=1000.0))
    assert [_rounded(t) for _, t in big] == [_rounded(t) for t in single]


def test_long_audio_is_streamed_in_blocks(model, tmp_path, monkeypatch):
    import asr.transcription as tr

    path = tmp_path / "long.wav"
    audio = _tone_bursts(30.0, seed=5)
    sf.write(path, audio, RATE)
    whole = transcribe(model, path, vad="energy")
    monkeypatch.setattr(tr, "_BLOCK_SECONDS", 4.0)
    calls = []
    real = tr.segment_stream

    def spy(blocks, *args, **kwargs):
        def counted():
            for b in blocks:
                calls.append(len(b))
                yield b

        return real(counted(), *args, **kwargs)

    monkeypatch.setattr(tr, "segment_stream", spy)
    streamed = transcribe(model, path, vad="energy")
    assert max(calls) == 4 * RATE and sum(calls) == len(audio)
    assert streamed.duration_s == pytest.approx(30.0)
    # Same segments (cut at the same pauses) and the same words, whatever the block size.
    assert [round(s.start_s, 2) for s in streamed.segments] == [round(s.start_s, 2) for s in whole.segments]
    assert streamed.text == whole.text


def test_silence_and_empty_files_give_empty_transcripts(model, tmp_path):
    for vad in ("energy", "none"):
        silent = transcribe(model, np.zeros(2 * RATE, dtype=np.float32), sample_rate=RATE, vad=vad)
        assert silent.text == "" and silent.words == () and silent.duration_s == pytest.approx(2.0)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, dtype=np.float32), RATE)
    assert transcribe(model, empty) == Transcript("", (), (), 0.0)


def test_8khz_audio_is_resampled_with_a_note(model, caplog):
    import torchaudio

    audio = _tone_bursts(3.0)
    low = torchaudio.functional.resample(torch.from_numpy(audio), RATE, 8000).numpy()
    buf = io.BytesIO()
    sf.write(buf, low, 8000, format="WAV")
    with caplog.at_level(logging.INFO, logger="asr"):  # the note comes from asr.audio.stream
        result = transcribe(model, buf.getvalue(), vad="energy")
    assert result.duration_s == pytest.approx(3.0, abs=0.01)
    assert any("8000 Hz" in r.getMessage() and "16000" in r.getMessage() for r in caplog.records)


def test_unreadable_audio_raises_and_many_files_go_on(model, audio_files, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"this is not audio" * 20)
    with pytest.raises(AudioError, match="bad.wav"):
        transcribe(model, bad)
    with pytest.raises(AudioError, match="missing.wav"):
        transcribe(model, tmp_path / "missing.wav")
    nan = np.zeros(RATE, dtype=np.float32)
    nan[100] = np.nan
    with pytest.raises(AudioError, match="NaN"):
        transcribe(model, nan, sample_rate=RATE)
    out = list(transcribe_many(model, [audio_files[0], bad, audio_files[2]], vad="energy"))
    assert [type(r) for _, r in out] == [Transcript, AudioError, Transcript]
    assert _rounded(out[2][1]) == _rounded(transcribe(model, audio_files[2], vad="energy"))


def test_package_level_function_and_max_segment(model, audio_files):
    import asr
    import asr.transcription  # the module has its own name: asr.transcribe stays the function

    result = asr.transcribe(model, audio_files[0], vad="energy")
    assert isinstance(result, asr.Transcript)
    fixed = transcribe(model, audio_files[1], vad=None, max_segment_s=2.0)
    assert all(s.end_s - s.start_s <= 2.0 + 1e-6 for s in fixed.segments)


# --- command line ---------------------------------------------------------------------------------


class _Run:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def cli(capsys):
    """Run `asr transcribe ...` in this process (a subprocess per call costs seconds of imports)."""
    from asr.cli import main

    def run(*args: str) -> _Run:
        capsys.readouterr()
        code = main(["transcribe", *args, "--threads", "1"])
        out = capsys.readouterr()
        return _Run(code, out.out, out.err)

    return run


def test_cli_formats_files_folders_globs_and_a_bad_file(cli, model_path, audio_files, tmp_path):
    folder = audio_files[0].parent
    bad = tmp_path / "broken.mp3"
    bad.write_bytes(b"\x00garbage" * 50)
    out = cli(str(folder), str(bad), str(tmp_path / "nothing*.wav"), "--model", str(model_path),
               "--vad", "energy", "--format", "json")  # fmt: skip
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr
    errors = [line for line in out.stderr.splitlines() if "error:" in line]
    assert (
        len(errors) == 2 and any("broken.mp3" in e for e in errors) and any("nothing*" in e for e in errors)
    )
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["file"] for r in rows] == [str(p) for p in audio_files]
    assert all(r["segments"] and r["words"] for r in rows)

    out_dir = tmp_path / "subs"
    out = cli(str(folder / "f*.wav"), "--model", str(model_path), "--vad", "energy", "--format", "srt",
               "--output-dir", str(out_dir))  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in out_dir.iterdir()) == ["f0.srt", "f1.srt", "f2.srt"]
    assert (out_dir / "f1.srt").read_text().startswith("1\n00:00:0")

    out = cli(str(audio_files[0]), "--model", str(model_path), "--format", "vtt", "--vad", "energy")
    assert out.returncode == 0 and out.stdout.startswith("WEBVTT\n")
    out = cli(*map(str, audio_files), "--model", str(model_path), "--format", "tsv")
    assert out.returncode == 2 and "--output-dir" in out.stderr


def test_cli_model_mistakes_are_one_line_errors(cli, model, audio_files, tmp_path):
    not_ours = tmp_path / "weights.pt"
    torch.save({"some": torch.zeros(2)}, not_ours)
    newer = tmp_path / "newer.pt"
    payload = checkpoint_payload(model)
    payload["format_version"] = 99
    torch.save(payload, newer)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    for path, expected in [
        (tmp_path / "missing.pt", "no such model file"),
        (not_ours, "not an asr checkpoint"),
        (newer, "format_version 99"),
        (text, "not a readable asr checkpoint"),
    ]:
        out = cli(str(audio_files[0]), "--model", str(path))
        assert out.returncode == 2, (path, out.stderr)
        assert "Traceback" not in out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0] and str(path) in lines[0], lines
