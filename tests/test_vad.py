"""Voice-activity detection and the streaming segmenter, on espeak-ng speech with known silences."""

from __future__ import annotations

import numpy as np
import pytest
from speech import needs_espeak, require_espeak, speak

from asr.vad import EnergyVad, get_vad, segment_stream, split_long_regions

RATE = 16000


def _speech(text: str, voice: str = "en-us") -> np.ndarray:
    audio = speak(text, voice, sample_rate=RATE)
    # Trim espeak's own leading/trailing silence so that the true speech edges are the array's ends.
    loud = np.flatnonzero(np.abs(audio) > 0.01 * np.abs(audio).max())
    return audio[loud[0] : loud[-1] + 1]


@pytest.fixture(scope="module")
def speech_with_gaps() -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Three sentences separated by 0.8-1.5 s of low noise; returns audio and the true speech spans."""
    require_espeak()
    rng = np.random.default_rng(0)
    parts, truth, t = [], [], 0.0
    for text, gap in [
        ("open the door please", 1.0),
        ("turn left at the next light", 0.8),
        ("it is raining", 1.5),
    ]:
        silence = (0.001 * rng.standard_normal(int(gap * RATE))).astype(np.float32)
        speech = _speech(text)
        parts += [silence, speech]
        t += gap
        truth.append((t, t + len(speech) / RATE))
        t += len(speech) / RATE
    parts.append((0.001 * rng.standard_normal(RATE)).astype(np.float32))
    return np.concatenate(parts), truth


def _check_regions(regions, truth, pad_s: float, tolerance: float = 0.1) -> None:
    assert len(regions) == len(truth), (regions, truth)
    for (s, e), (ts, te) in zip(regions, truth):
        # Regions are padded by pad_s on each side; the speech edges lie within tolerance of that.
        assert abs(s / RATE + pad_s - ts) < tolerance, (s / RATE, ts)
        assert abs(e / RATE - pad_s - te) < tolerance, (e / RATE, te)


def test_energy_vad_finds_sentences_between_known_silences(speech_with_gaps):
    audio, truth = speech_with_gaps
    vad = EnergyVad()
    _check_regions(vad.speech_regions(audio, RATE), truth, vad.pad_s)


def test_silero_vad_finds_sentences_between_known_silences(speech_with_gaps):
    pytest.importorskip("silero_vad")
    audio, truth = speech_with_gaps
    vad = get_vad("silero")
    assert vad.name == "silero"
    # silero's decisions come in 32 ms windows and it keeps a little of the decay: a wider tolerance.
    _check_regions(vad.speech_regions(audio, RATE), truth, vad.pad_s, tolerance=0.15)


@pytest.mark.parametrize("name", ["energy", "silero"])
def test_silence_has_no_speech(name):
    if name == "silero":
        pytest.importorskip("silero_vad")
    vad = get_vad(name)
    assert vad.speech_regions(np.zeros(3 * RATE, dtype=np.float32), RATE) == []
    assert vad.speech_regions(np.zeros(100, dtype=np.float32), RATE) == []
    noise = (0.0005 * np.random.default_rng(1).standard_normal(3 * RATE)).astype(np.float32)
    assert vad.speech_regions(noise, RATE) == []


def test_auto_falls_back_to_energy_without_silero(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_silero(name, *args, **kwargs):
        if name.startswith("silero_vad"):
            raise ImportError("no silero here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_silero)
    assert get_vad("auto").name == "energy"
    with pytest.raises(ImportError, match=r"pip install 'asr-blstm\[vad\]'"):
        get_vad("silero")
    with pytest.raises(ValueError, match="unknown VAD"):
        get_vad("webrtc")


def test_long_regions_are_cut_at_the_quietest_point():
    rng = np.random.default_rng(2)
    audio = (0.3 * rng.standard_normal(25 * RATE)).astype(np.float32)
    audio[int(7.0 * RATE) : int(7.2 * RATE)] *= 0.01  # a short dip, too short for the VAD to split at
    pieces = split_long_regions(audio, RATE, [(0, len(audio))], 10 * RATE)
    assert pieces[0][0] == 0 and pieces[-1][1] == len(audio)
    assert all(e - s <= 10 * RATE for s, e in pieces)
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:]))  # contiguous: nothing lost
    assert 7.0 <= pieces[0][1] / RATE <= 7.2, pieces


@needs_espeak
def test_streamed_segments_have_global_times_and_bounded_length(speech_with_gaps):
    audio, truth = speech_with_gaps
    # Repeat the recording so that it spans many small blocks.
    long = np.concatenate([audio] * 6)
    period = len(audio) / RATE
    all_truth = [(s + k * period, e + k * period) for k in range(6) for s, e in truth]
    block = int(1.7 * RATE)  # blocks cut through sentences
    blocks = (long[i : i + block] for i in range(0, len(long), block))
    vad = EnergyVad()
    segments = list(segment_stream(blocks, RATE, vad, max_segment_s=1.0, lookahead_s=0.5))
    assert all(len(x) <= RATE for _, x in segments)
    starts = [s for s, _ in segments]
    assert starts == sorted(starts)
    for start, samples in segments:  # samples are the recording's own samples at that global position
        np.testing.assert_array_equal(samples, long[start : start + len(samples)])
    # Every true sentence is covered by segments, and segments lie around true speech.
    covered = np.zeros(len(long), dtype=bool)
    for start, samples in segments:
        covered[start : start + len(samples)] = True
    for s, e in all_truth:
        assert covered[int(s * RATE) + 800 : int(e * RATE) - 800].mean() > 0.97, (s, e)
    speech = np.zeros(len(long), dtype=bool)
    for s, e in all_truth:
        speech[int((s - 0.2) * RATE) : int((e + 0.2) * RATE)] = True
    assert not (covered & ~speech).any()
