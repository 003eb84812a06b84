"""Worker processes for `asr serve`: each holds its own model and decoders and transcribes one request at
a time; a request that runs past its deadline has its worker killed (with its ffmpeg) and replaced.

Threads cannot be stopped, so a transcription that outlives its 504 would keep its CPU and memory: here
it cannot. One model and decoder set per process also means nothing is shared between concurrent
requests (the beam decoder is not thread-safe).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import queue
import signal
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from asr.torch_compat import torch_installed

if TYPE_CHECKING:
    from asr.decoding.config import DecoderConfig

log = logging.getLogger(__name__)


class WorkerTimeout(Exception):
    """The request's deadline passed (waiting for a worker, or while one ran it)."""


class WorkerCrashed(Exception):
    """The worker process died while running the request (killed by the OS, a crash)."""


@dataclass(frozen=True)
class WorkerSpec:
    """How a worker process gets its model and decoders (everything here is pickled to it)."""

    model: Any = None  # a picklable model object, or None to load `model_path`
    model_path: str | None = None
    device: str = "cpu"
    # What decoder=beam runs (the served default when set): the model's decoder config, or the
    # command line's; None: a lexicon-free beam search without LM.
    beam: DecoderConfig | None = None
    threads: int = 0
    vad: str = "auto"
    max_audio_seconds: float = 600.0


def require_picklable(obj: Any, what: str, hint: str) -> None:
    """TypeError (saying `hint`) unless `obj` can be pickled to a worker process."""
    try:
        pickle.dumps(obj)
    except Exception as e:  # noqa: BLE001 - pickling raises many types
        raise TypeError(
            f"{what} cannot be sent to a worker process ({type(e).__name__}: {e}); {hint}"
        ) from None


def _worker_main(conn: Any, spec: WorkerSpec) -> None:
    """The worker process: load, report ready, then answer (data, decoder) requests until told to stop."""
    os.setsid()  # its own process group: killing the group also kills an ffmpeg it runs
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server shuts its workers down itself
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from asr.audio import AudioError, AudioTooLong, load_audio
    from asr.torch_compat import optional_torch
    from asr.transcription import transcribe
    from asr.vad import get_vad

    torch = optional_torch()  # None: an ONNX export served without torch
    if torch is not None:
        if spec.threads:
            torch.set_num_threads(spec.threads)
        torch.set_flush_denormal(True)
    if spec.model is not None:
        model = spec.model
    else:
        from asr.loading import load_model

        model = load_model(spec.model_path, device=spec.device, threads=spec.threads)
    greedy = model.decoder()
    # The served default is built before the worker says it is ready, so that no request waits for
    # its LM to load; the lexicon-free search of decoder=beam without a config only when asked for.
    beam = None if spec.beam is None else model.decoder(spec.beam)
    vad = None if spec.vad == "none" else get_vad(spec.vad)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the server is gone
        if message is None:
            return
        data, decoder = message
        try:
            rate = model.sample_rate
            audio = load_audio(data, rate, max_seconds=spec.max_audio_seconds)
            del data
            if decoder == "beam":
                if beam is None:
                    from asr.decoding import DecoderConfig

                    beam = model.decoder(DecoderConfig())
                dec = beam
            else:
                dec = greedy
            reply: tuple = ("ok", transcribe(model, audio, decoder=dec, sample_rate=rate, vad=vad))
        except AudioTooLong as e:
            reply = ("too_long", str(e))
        except AudioError as e:
            reply = ("audio", str(e))
        except Exception:  # noqa: BLE001 - reported as a 500, the worker keeps serving
            log.exception("transcription failed")
            reply = ("error", "internal error while transcribing; see the server log")
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            return


class _Worker:
    def __init__(self, context: Any, spec: WorkerSpec) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, spec), name="asr-worker")
        self.process.start()
        child.close()
        self.pid: int = self.process.pid

    def wait_ready(self, timeout: float) -> bool:
        try:
            return bool(self.conn.poll(timeout)) and self.conn.recv()[0] == "ready"
        except (EOFError, OSError):
            return False

    def call(self, data: bytes, decoder: str, timeout: float) -> tuple:
        try:
            self.conn.send((data, decoder))
            if not self.conn.poll(max(0.0, timeout)):
                raise WorkerTimeout
            return self.conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError) as e:
            raise WorkerCrashed(str(e)) from None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)  # the worker and its ffmpeg, if any
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.join(5)
        self.conn.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.process.join(2)
        if self.process.is_alive():
            self.kill()
        else:
            self.conn.close()


class WorkerPool:
    """`size` worker processes; `run` borrows an idle one until a deadline, killing and replacing it if
    the deadline passes while it works."""

    def __init__(self, spec: WorkerSpec, size: int, start_timeout_s: float = 300.0) -> None:
        self.spec = spec
        self.size = size
        self.start_timeout_s = start_timeout_s
        # Not fork (forking after torch/OpenMP threads started can hang): a fork server that has imported
        # torch and asr once, so that a worker (or a replacement) starts in a fraction of a second.
        self._context = multiprocessing.get_context("forkserver")
        preload = ["asr.transcription", "asr.serve.workers"]
        if torch_installed():
            preload.insert(0, "torch")
        self._context.set_forkserver_preload(preload)
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._workers: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.restarts = 0

    @property
    def ready(self) -> int:
        with self._lock:
            return len(self._workers)

    def worker_pids(self) -> list[int]:
        with self._lock:
            return sorted(w.pid for w in self._workers)

    def start(self) -> None:
        """Start every worker and wait until each has loaded its model."""
        started = [_Worker(self._context, self.spec) for _ in range(self.size)]
        for worker in started:
            if not worker.wait_ready(self.start_timeout_s):
                for w in started:
                    w.kill()
                raise RuntimeError(
                    f"an asr serve worker did not start within {self.start_timeout_s:g} s (see the log above)"
                )
        with self._lock:
            self._workers.update(started)
        for worker in started:
            self._idle.put(worker)
        log.info("%d worker process(es) ready: pids %s", self.size, self.worker_pids())

    def run(self, data: bytes, decoder: str, deadline: float) -> tuple:
        """(kind, payload) from a worker; WorkerTimeout past `deadline` (time.monotonic())."""
        try:
            worker = self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise WorkerTimeout from None
        try:
            reply = worker.call(data, decoder, deadline - time.monotonic())
        except (WorkerTimeout, WorkerCrashed) as e:
            kind = "ran past its deadline" if isinstance(e, WorkerTimeout) else "died"
            log.warning("worker %d %s: killing and replacing it", worker.pid, kind)
            self._replace(worker)
            raise
        self._idle.put(worker)
        return reply

    def _replace(self, worker: _Worker) -> None:
        with self._lock:
            self._workers.discard(worker)
            self.restarts += 1
        worker.kill()
        threading.Thread(target=self._start_replacement, name="asr-worker-start", daemon=True).start()

    def _start_replacement(self) -> None:
        for attempt in range(3):
            if self._closed:
                return
            worker = _Worker(self._context, self.spec)
            if worker.wait_ready(self.start_timeout_s):
                with self._lock:
                    if self._closed:
                        worker.stop()
                        return
                    self._workers.add(worker)
                self._idle.put(worker)
                return
            worker.kill()
            log.error("a replacement worker did not start (attempt %d of 3)", attempt + 1)
            time.sleep(1.0)

    def shutdown(self) -> None:
        self._closed = True
        with self._lock:
            workers = list(self._workers)
            self._workers.clear()
        for worker in workers:
            worker.stop()
