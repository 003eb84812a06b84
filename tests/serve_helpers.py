"""What the live-server tests share: a real `asr serve` process. Importing this skips the test module
where httpx or uvicorn is missing.

test_serve_load.py, test_serve_abuse.py and test_browser.py start `asr serve` on 127.0.0.1 with `Server`
(energy VAD, one thread: they measure the service, not silero-vad) and stop it with its whole process tree
(fork server, workers, their ffmpeg). Their model is tiny_model.tiny_checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from memory_helpers import tree_pids

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`asr serve --model model_path` on a free 127.0.0.1 port (plus `extra` options), logging to
    `log_path`; ready (GET /healthz answered) when constructed, RuntimeError if it is not in time."""

    def __init__(
        self,
        model_path: Path,
        log_path: Path,
        *extra: str,
        start_timeout_s: float = 120,
        python: str = sys.executable,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [python, "-m", "asr.cli", "serve", "--model", str(model_path), "--host", "127.0.0.1",
               "--port", str(self.port), "--threads", "1", "--vad", "energy", *extra]  # fmt: skip
        self.log_path = log_path
        self.proc = subprocess.Popen(
            cmd,
            stdout=log_path.open("wb"),
            stderr=subprocess.STDOUT,
            env={**(env if env is not None else os.environ), "OMP_NUM_THREADS": "1"},
        )
        deadline = time.monotonic() + start_timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"asr serve exited with {self.proc.returncode}: {self._log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"asr serve did not start in {start_timeout_s:g} s: {self._log_tail()}")
            time.sleep(0.2)

    def _log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def health(self) -> dict:
        return httpx.get(self.url + "/healthz", timeout=10).json()

    def stop(self) -> None:
        """Terminate the server; kill what is left of its tree (a worker stuck in a request)."""
        pids = tree_pids(self.proc.pid)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        for p in pids[1:]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
