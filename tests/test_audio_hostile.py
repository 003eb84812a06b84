"""Hostile audio: odd and absurd sample rates, paths that are not regular files, a tag that dwarfs the
audio, and resampling that stays continuous across streamed blocks.

An odd rate (16001 Hz) used to cost gigabytes: torchaudio's sinc kernel has (16000/gcd) x (rate/gcd)
taps. Memory is measured as the growth of a child process's private memory while it loads the file
(from after its imports), with a guard that kills it at 1 GB (the old resampler reached it)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from memory_helpers import child_growth_mb

from asr.audio import AudioError, load_audio, probe_audio, read_blocks

SR = 16000
GROWTH_BOUND_MB = 50.0  # 16 000 frames of float32 are 0.06 MB; imports are done before measuring


def tone(frames: int, rate: int, seconds_per_cycle: float = 1 / 440) -> np.ndarray:
    t = np.arange(frames) / rate
    return (0.3 * np.sin(2 * np.pi * t / seconds_per_cycle)).astype(np.float32)


@pytest.mark.parametrize("rate", [8001, 16001, 44101, 655349])
def test_an_odd_sample_rate_costs_memory_proportional_to_the_audio(tmp_path, rate):
    path = tmp_path / f"odd-{rate}.wav"
    sf.write(path, tone(16000, rate), rate, subtype="PCM_16")  # 32 KB of samples, as in the report
    # torch and torchaudio are imported before measuring: the resampler they held is not counted
    setup = (
        "import contextlib\nwith contextlib.suppress(ImportError):\n    import torch, torchaudio\n"
        "from asr.audio import load_audio"
    )
    growth, out = child_growth_mb(setup, f"print(len(load_audio({str(path)!r})))", guard_mb=1000)
    print(f"\n{rate} Hz, 16000 frames: private memory +{growth:.1f} MB while loading")
    assert growth < GROWTH_BOUND_MB, f"{rate} Hz: loading grew the process by {growth:.0f} MB"
    assert abs(int(out) - round(16000 * SR / rate)) <= 2


@pytest.mark.parametrize("rate", [1, 999, 768_001, 4_000_000])
def test_absurd_sample_rates_are_refused_with_a_clear_error(tmp_path, rate):
    path = tmp_path / "absurd.wav"
    sf.write(path, np.zeros(2000, np.int16), rate, subtype="PCM_16")
    for call in (
        lambda: load_audio(path),
        lambda: load_audio(path.read_bytes(), max_seconds=600),
        lambda: list(read_blocks(path, SR)),
        lambda: load_audio(np.zeros(100, np.float32), source_rate=rate),
    ):
        with pytest.raises(AudioError, match=f"sample rate of {rate} Hz"):
            call()


def test_devices_pipes_and_folders_are_named_for_what_they_are(tmp_path):
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    folder = tmp_path / "x.wav"
    folder.mkdir()
    cases = [
        (Path("/dev/zero"), "is a character device"),
        (fifo, "is a named pipe"),
        (folder, "is a directory"),
    ]
    for path, what in cases:
        for call in (load_audio, lambda p: list(read_blocks(p, SR)), probe_audio):
            with pytest.raises(AudioError, match=what):  # a FIFO is never opened: that would block
                call(path)


def test_a_tag_larger_than_the_audio_does_not_stop_decoding(tmp_path):
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is needed (make install brings it)")
    meta = tmp_path / "meta.txt"
    meta.write_text(";FFMETADATA1\ncomment=" + "x" * 8_000_000 + "\n")
    m4a = tmp_path / "tagged.m4a"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=f=440:r=16000:d=1", "-i", str(meta),
         "-map", "0:a", "-map_metadata", "1", "-c:a", "aac", str(m4a)],
        check=True, capture_output=True,
    )  # fmt: skip
    assert m4a.stat().st_size > 8_000_000
    for audio in (load_audio(m4a), load_audio(m4a.read_bytes(), max_seconds=600)):
        assert 0.95 < len(audio) / SR < 1.1 and np.abs(audio).max() > 0.1


def test_streamed_blocks_are_resampled_as_one_recording(tmp_path):
    rate = 22050
    t = np.arange(5 * rate) / rate
    path = tmp_path / "chirp.wav"
    sf.write(path, (0.4 * np.sin(2 * np.pi * (200 + 300 * t) * t)).astype(np.float32), rate, subtype="FLOAT")
    whole = load_audio(path)
    blocks = list(read_blocks(path, SR, block_seconds=0.37))
    joined = np.concatenate(blocks)
    assert len(blocks) > 10 and len(joined) == len(whole)
    np.testing.assert_allclose(joined, whole, atol=1e-5)  # no clicks or gaps at the 13 block edges


def test_streaming_refuses_an_absurd_channel_count_before_reading_a_block(tmp_path):
    path = tmp_path / "many.wav"
    sf.write(path, np.zeros((1600, 40), np.float32), SR, subtype="PCM_16")
    with pytest.raises(AudioError, match="40 channels"):
        next(read_blocks(path, SR))  # a block holds every channel: 60 s x 65535 channels would be 250 GB
