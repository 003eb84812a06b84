"""Shared fixtures: real speech from espeak-ng (made by speech.py), once per session; torch on one thread."""

from __future__ import annotations

import sys

import pytest
from skip_guard import (  # noqa: F401 - hooks: in CI (CI=true / ASR_FAIL_ON_SKIP=1) a skip fails the run
    pytest_make_collect_report,
    pytest_runtest_makereport,
    pytest_sessionfinish,
    pytest_terminal_summary,
)
from speech import make_speech_corpus, require_espeak


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
    """48 espeak-ng utterances of 8 sentences by 4 voices at 16 kHz, with train/dev manifests
    (`speech.make_speech_corpus`)."""
    require_espeak()
    return make_speech_corpus(tmp_path_factory.mktemp("speech"))
