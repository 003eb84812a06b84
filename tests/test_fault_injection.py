"""Fault injection: `asr transcribe` over a folder of 50 files, 10 of them hostile in 10 different ways.

Every good file's transcript must be written (and be what transcribing the good files alone gives), and
every bad file must be named on its own error line with its reason; the run ends with exit status 1, no
traceback, and nothing written for the bad files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from tiny_model import tiny_checkpoint

from asr import load_model
from asr.transcription import transcribe_many

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# (file name, how it is written, what its error line must say)
HOSTILE = {
    "bad-empty.wav": "the file is empty (0 bytes)",
    "bad-garbage.wav": "cannot decode audio",
    "bad-header-only.wav": "cannot decode audio",
    "bad-nan.wav": "NaN or infinite samples",
    "bad-huge-samples.wav": "far beyond full scale",
    "bad-rate.wav": "sample rate of 2000000 Hz",
    "bad-channels.wav": "40 channels",
    "bad-fifo.wav": "is a named pipe",
    "bad-device.wav": "is a character device",
    "bad-dangling.wav": "no such file",
}
# good files: format, sample rate, channels (resampled and down-mixed on loading)
GOOD_KINDS = [("wav", 16000, 1), ("flac", 22050, 1), ("wav", 16001, 1), ("wav", 8000, 1),
              ("flac", 44100, 2), ("ogg", 48000, 1), ("mp3", 24000, 1), ("wav", 11025, 2)]  # fmt: skip


def speechlike(seconds: float, rate: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    audio = 0.01 * rng.standard_normal(len(t))
    for start in np.arange(0.2, seconds - 0.6, 0.9):
        mask = (t >= start) & (t < start + 0.5)
        audio[mask] += 0.3 * np.sin(2 * np.pi * rng.uniform(150, 900) * t[mask])
    return audio.astype(np.float32)


def make_folder(folder: Path) -> list[Path]:
    """40 good files (8 kinds) and the 10 hostile ones; returns the good ones."""
    folder.mkdir()
    good = []
    for i in range(40):
        fmt, rate, channels = GOOD_KINDS[i % len(GOOD_KINDS)]
        audio = speechlike(1.5 + 0.1 * (i % 7), rate, i)
        if channels == 2:
            audio = np.stack([audio, 0.5 * audio], axis=1)
        path = folder / f"good-{i:02d}.{fmt}"
        subtype = {"ogg": "VORBIS", "mp3": "MPEG_LAYER_III"}.get(fmt, "PCM_16")
        sf.write(path, audio, rate, format={"mp3": "MP3"}.get(fmt, fmt.upper()), subtype=subtype)
        good.append(path)
    wav = (folder / "good-00.wav").read_bytes()
    (folder / "bad-empty.wav").write_bytes(b"")
    (folder / "bad-garbage.wav").write_bytes(np.random.default_rng(1).bytes(20000))
    (folder / "bad-header-only.wav").write_bytes(wav[:30])
    sf.write(folder / "bad-nan.wav", np.full(16000, np.nan, np.float32), 16000, subtype="FLOAT")
    sf.write(folder / "bad-huge-samples.wav", np.full(16000, 3e30, np.float32), 16000, subtype="FLOAT")
    sf.write(folder / "bad-rate.wav", speechlike(0.1, 16000, 0), 2_000_000, subtype="PCM_16")
    sf.write(folder / "bad-channels.wav", np.zeros((1600, 40), np.float32), 16000, subtype="PCM_16")
    os.mkfifo(folder / "bad-fifo.wav")
    (folder / "bad-device.wav").symlink_to("/dev/zero")
    (folder / "bad-dangling.wav").symlink_to(folder / "deleted.wav")
    return good


@pytest.mark.slow
def test_transcribe_50_files_10_hostile_writes_every_good_transcript_and_names_every_bad_file(tmp_path):
    model_path = tiny_checkpoint(tmp_path / "tiny.pt")
    folder = tmp_path / "in"
    good = make_folder(folder)
    assert len(list(folder.iterdir())) == 50
    out_dir = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "asr.cli", "transcribe", str(folder), "--model", str(model_path),
         "--output-dir", str(out_dir), "--format", "json", "--vad", "energy", "--threads", "1"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    # every bad file named once, with its reason
    errors = [line for line in proc.stderr.splitlines() if "asr transcribe: error:" in line]
    assert len(errors) == 10, "\n".join(errors)
    for name, reason in HOSTILE.items():
        lines = [line for line in errors if f"{folder / name}:" in line]
        assert len(lines) == 1 and reason in lines[0], (name, reason, lines)
    assert "10 of 50 inputs failed" in proc.stderr
    # every good transcript written, and the same as transcribing the good files alone
    written = sorted(p.name for p in out_dir.iterdir())
    assert written == sorted(f"{p.stem}.json" for p in good), written
    model = load_model(model_path)
    expected = {Path(p).stem: t.text for p, t in transcribe_many(model, sorted(good), vad="energy")}
    texts = {p.stem: json.loads(p.read_text())["text"] for p in out_dir.iterdir()}
    assert texts == expected
    assert sum(bool(t) for t in texts.values()) >= 35  # the peaky model says something for most
