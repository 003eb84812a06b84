"""Real speech for tests, spoken by espeak-ng: the one place tests make it (conftest.py's
`speech_corpus` fixture builds its corpus here too)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (make install brings it)"
)

SENTENCES = [
    "the cat sat on the mat",
    "a quick brown fox jumps over the dog",
    "she sells sea shells by the shore",
    "open the door please",
    "we went to the market on monday",
    "it is raining again today",
    "my dog likes long walks",
    "turn left at the next light",
]
VOICES = ["en-us", "en-gb", "en-us+f3", "en-gb-scotland+m3"]


def require_espeak() -> None:
    """Skip the test (or the fixture's users) when espeak-ng is not installed."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make install brings it)")


def espeak(text: str, voice: str = "en-us", rate: int = 160) -> tuple[np.ndarray, int]:
    """`text` spoken by `voice` at `rate` words per minute: (float32 audio, espeak-ng's sample rate)."""
    out = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(rate), "--stdout", text], capture_output=True, check=True
    ).stdout
    audio, rate_hz = sf.read(io.BytesIO(out), dtype="float32")
    return audio, rate_hz


def speak(text: str, voice: str = "en-us", rate: int = 160, sample_rate: int = 16000) -> np.ndarray:
    """`espeak`, resampled to `sample_rate`: (samples,) float32."""
    import torch
    import torchaudio

    audio, rate_hz = espeak(text, voice, rate)
    return torchaudio.functional.resample(torch.from_numpy(audio), rate_hz, sample_rate).numpy()


def make_speech_corpus(root: Path) -> Path:
    """48 utterances of SENTENCES by the 4 VOICES at 6 speaking rates, 16 kHz, under `root`: wav/N.wav,
    train.jsonl (all of them) and dev.jsonl (the first 8)."""
    (root / "wav").mkdir(parents=True)
    rows = []
    for i in range(48):
        text = SENTENCES[i % len(SENTENCES)]
        audio = speak(text, VOICES[(i // len(SENTENCES)) % len(VOICES)], 140 + 7 * (i % 6))
        sf.write(root / "wav" / f"{i}.wav", audio, 16000, subtype="PCM_16")
        rows.append({"id": f"utt{i}", "audio": f"wav/{i}.wav", "duration": len(audio) / 16000, "text": text})
    (root / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:8]))
    return root
