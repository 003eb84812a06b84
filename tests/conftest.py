"""Shared fixtures: real speech from espeak-ng, made once per session; torch on one thread."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from skip_guard import (  # noqa: F401 - hooks: in CI (CI=true / ASR_FAIL_ON_SKIP=1) a skip fails the run
    pytest_make_collect_report,
    pytest_runtest_makereport,
    pytest_sessionfinish,
    pytest_terminal_summary,
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


def espeak(text: str, voice: str = "en-us", rate: int = 160) -> tuple[np.ndarray, int]:
    """Speak `text` with espeak-ng; returns (float32 audio, sample rate)."""
    out = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(rate), "--stdout", text], capture_output=True, check=True
    ).stdout
    audio, rate_hz = sf.read(io.BytesIO(out), dtype="float32")
    return audio, rate_hz


@pytest.fixture(autouse=True)
def _denormals_restored():
    """In-process CLI runs (`asr train`, `asr transcribe`) turn flush-to-zero on for the whole process;
    switch it off after each test so later tests (hypothesis's float fuzzing) see IEEE arithmetic
    whatever ran before them."""
    yield
    torch = sys.modules.get("torch")  # None where a test blocks torch; never imported here
    if torch is not None and hasattr(torch, "set_flush_denormal"):
        torch.set_flush_denormal(False)


@pytest.fixture
def one_torch_thread():
    """Torch on one thread for the test, restored after (`pytestmark = pytest.mark.usefixtures(...)`)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def speech_corpus(tmp_path_factory):
    """48 utterances of 8 sentences by 4 voices at 16 kHz, with train/dev manifests."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make install brings it)")
    import torch
    import torchaudio

    root = tmp_path_factory.mktemp("speech")
    (root / "wav").mkdir()
    rows = []
    for i in range(48):
        text = SENTENCES[i % len(SENTENCES)]
        audio, rate = espeak(text, VOICES[(i // len(SENTENCES)) % len(VOICES)], 140 + 7 * (i % 6))
        audio = torchaudio.functional.resample(torch.from_numpy(audio), rate, 16000).numpy()
        sf.write(root / "wav" / f"{i}.wav", audio, 16000, subtype="PCM_16")
        rows.append({"id": f"utt{i}", "audio": f"wav/{i}.wav", "duration": len(audio) / 16000, "text": text})
    (root / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:8]))
    return root
