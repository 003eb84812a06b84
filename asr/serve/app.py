"""The ASGI application (FastAPI): its routes, the admission of requests, and the uvicorn runner.

A connection must send its request head in time and idle ones make room for others
(`asr.serve.protocol`). A request is checked before anything is read (`asr.serve.auth` for the key, or
without one `asr.serve.hosts` for the Host header; `asr.serve.limits` for the content type, origin and
declared size). It is then admitted, or refused with 503 and Retry-After when
`workers + max_queue` requests are already in (reading, waiting or running), so at most that many bodies
are ever being read or held; its body is read within the limits of `asr.serve.limits`. Decoding and
transcription run in worker processes (`workers`, default 1; see `asr.serve.workers`), each with its own
model and decoders; audio longer than `max_audio_seconds` is refused from its header before it is
decoded. A request not answered within `request_timeout_s` gets 504 and its worker is killed and
replaced, so it stops using CPU and memory. The JSON answer is `asr.formats.transcript_to_dict`'s schema,
the one `asr transcribe --format json` writes, plus `decoder` and `processing_s`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import logging
import os
import threading
import time
from importlib import resources
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from asr.formats import format_transcript, transcript_to_dict
from asr.serve.auth import ApiKey
from asr.serve.config import API_KEY_ENV, ServeConfig, is_loopback, uvicorn_options
from asr.serve.hosts import HostCheck
from asr.serve.limits import audio_bytes, check_request, public_message
from asr.serve.workers import WorkerCrashed, WorkerPool, WorkerSpec, WorkerTimeout, require_picklable

__all__ = ["create_app", "run"]

log = logging.getLogger(__name__)


class Transcriber:
    """Admission (a bounded count of requests in) and the worker processes that transcribe."""

    def __init__(self, model: Any, config: ServeConfig, spec: WorkerSpec) -> None:
        self.model = model
        self.config = config
        self.pool = WorkerPool(spec, config.workers, config.worker_start_timeout_s)
        # Threads that wait on a worker's pipe (one per admitted request, never more).
        self._waiters = concurrent.futures.ThreadPoolExecutor(config.capacity, thread_name_prefix="asr-wait")
        self._lock = threading.Lock()
        self.admitted = 0  # reading + waiting + running
        self.served = 0
        self.failed = 0
        self.rejected = 0

    def try_admit(self) -> bool:
        with self._lock:
            if self.admitted >= self.config.capacity:
                self.rejected += 1
                return False
            self.admitted += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.admitted -= 1

    async def run(self, data: bytes, decoder: str, deadline: float) -> tuple:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._waiters, self.pool.run, data, decoder, deadline)

    def shutdown(self) -> None:
        self.pool.shutdown()
        self._waiters.shutdown(wait=False, cancel_futures=True)


_REQUEST_BODY_DOC = {
    "requestBody": {
        "required": True,
        "description": "The audio: a multipart form with a `file` field, or the file's bytes as the body.",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            "audio/*": {"schema": {"type": "string", "format": "binary"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
_RESPONSES_DOC: dict[int | str, dict[str, Any]] = {
    200: {"description": "The transcript (JSON, or text/srt/vtt per `format`)"},
    400: {"description": "No audio, or a malformed request"},
    401: {"description": "Missing or wrong API key (when the server has one)"},
    403: {"description": "A cross-origin request"},
    408: {"description": "The upload was too slow"},
    413: {"description": "The upload or the audio is too long"},
    415: {"description": "Not an audio content type or multipart form"},
    421: {"description": "The Host header names another server (without an API key: DNS rebinding)"},
    422: {"description": "The audio cannot be decoded, or an option is invalid"},
    503: {"description": "The queue is full; retry after the Retry-After seconds"},
    504: {"description": "The transcription took longer than the request timeout"},
}
_MEDIA_TYPES = {"text": "text/plain", "srt": "application/x-subrip", "vtt": "text/vtt"}


def create_app(
    model: Any,
    config: ServeConfig | None = None,
    *,
    model_path: str | os.PathLike | None = None,
    device: str = "cpu",
) -> FastAPI:
    """The service for a loaded model (a checkpoint's SpeechRecognizer or an exported model).

    Requests that name no decoder decode as the model does by default, `model.decoder_config` (what
    `asr.load_model` read from its decoder.json: beam search + LM for the shipped model; greedy where it
    is None); ``decoder=greedy`` is the fastest, ``decoder=beam`` that beam search (a lexicon-free one
    without LM where the model has none). Worker processes load `model_path` on `device` when given
    (what `asr serve` does), else receive a pickled copy of `model` (exported models need
    `model_path`); each builds its own decoders."""
    config = config or ServeConfig()
    if model_path is None:
        require_picklable(
            model,
            type(model).__name__,
            "pass model_path= (the checkpoint or export directory) so that workers load it",
        )
    own = getattr(model, "decoder_config", None)
    default_decoder = "greedy" if own is None else "beam"
    spec = WorkerSpec(
        model=None if model_path is not None else model,
        model_path=None if model_path is None else os.fspath(model_path),
        device=device,
        beam=own,
        threads=config.threads,
        vad=config.vad,
        max_audio_seconds=config.max_audio_seconds,
    )
    service = Transcriber(model, config, spec)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        await asyncio.to_thread(service.pool.start)
        try:
            yield
        finally:
            service.shutdown()

    app = FastAPI(
        lifespan=lifespan,
        title="asr",
        summary="BiLSTM-CTC speech recognition",
        description="Upload audio (wav, flac, ogg, opus, mp3, m4a, webm, ...) and get the transcript "
        "with word times. The page at / uploads or records audio in the browser.",
        version=_version(),
    )
    app.state.service = service
    if config.api_key is not None:
        app.add_middleware(ApiKey, key=config.api_key)
    else:  # without a key, only requests that name this server (DNS rebinding: asr.serve.hosts)
        app.add_middleware(HostCheck, bind=config.host, extra=config.allowed_hosts)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        html = resources.files("asr.serve").joinpath("static/index.html").read_text(encoding="utf-8")
        return HTMLResponse(html)

    @app.get("/healthz", summary="Liveness, the model served, and the queue")
    async def healthz() -> dict:
        return {
            "status": "ok",
            "model": repr(model) if not hasattr(model, "acoustic") else "checkpoint (eager torch)",
            "sample_rate": model.sample_rate,
            "decoder": default_decoder,
            "queue": {
                "admitted": service.admitted,
                "capacity": config.capacity,
                "served": service.served,
                "failed": service.failed,
                "rejected": service.rejected,
            },
            "workers": {"ready": service.pool.ready, "restarts": service.pool.restarts},
            "limits": config.public(),
        }

    @app.post(
        "/v1/transcribe",
        summary="Transcribe one recording",
        openapi_extra=_REQUEST_BODY_DOC,
        responses=_RESPONSES_DOC,
    )
    async def transcribe_endpoint(
        request: Request,
        decoder: str | None = Query(
            None,
            pattern="^(greedy|beam)$",
            description="greedy (the fastest) or beam (beam search); default: the model's own decoding "
            "(its decoder.json: beam search + LM for the shipped model; greedy for a model without one)",
        ),
        format: str = Query("json", pattern="^(json|text|srt|vtt)$", description="response format"),
        word_times: bool = Query(True, description="include words with start/end times (json)"),
    ) -> Response:
        multipart = check_request(request, config)
        if not service.try_admit():
            raise HTTPException(
                503, "the service is busy (queue full); retry shortly", headers={"Retry-After": "1"}
            )
        decoder = decoder or default_decoder
        result, seconds = await _transcribe(service, request, multipart, decoder)
        if format != "json":
            text = format_transcript(result, "txt" if format == "text" else format)
            return PlainTextResponse(text, media_type=_MEDIA_TYPES[format])
        body = transcript_to_dict(result, word_times=word_times)
        body.update(decoder=decoder, processing_s=round(seconds, 4))
        return JSONResponse(body)

    return app


async def _transcribe(
    service: Transcriber, request: Request, multipart: bool, decoder: str
) -> tuple[Any, float]:
    """An admitted request's (transcript, seconds its worker took): reads the body, runs it on a worker,
    releases the slot; every failure becomes an HTTPException (and counts as failed)."""
    config = service.config
    try:
        data = await audio_bytes(request, config, multipart)
        started = time.perf_counter()
        kind, payload = await service.run(data, decoder, time.monotonic() + config.request_timeout_s)
    except HTTPException:
        service.failed += 1
        raise
    except WorkerTimeout:
        service.failed += 1
        raise HTTPException(504, f"transcription took longer than {config.request_timeout_s:g} s") from None
    except WorkerCrashed:
        service.failed += 1
        raise HTTPException(500, "the worker stopped while transcribing; see the server log") from None
    finally:
        service.release()
    if kind != "ok":
        service.failed += 1
        status = {"too_long": 413, "audio": 422}.get(kind, 500)
        detail = public_message(payload)
        raise HTTPException(status, detail if kind != "audio" else f"cannot use this audio: {detail}")
    service.served += 1
    return payload, time.perf_counter() - started


def _version() -> str:
    from asr import __version__

    return __version__


def run(
    model: str | os.PathLike | Any = None,
    config: ServeConfig | None = None,
    *,
    device: str = "cpu",
    **settings: Any,
) -> None:
    """Serve a model with uvicorn until stopped: what `asr serve` runs.

    `model`: anything `asr.load_model` takes (None: the default model), or a model it returned (with
    its `decoder_config` as the served default). `settings` replace fields of `config` (host=, port=,
    ...); without an api_key, $ASR_API_KEY is the key."""
    import uvicorn

    from asr.loading import load_model

    config = dataclasses.replace(config or ServeConfig(), **settings)
    if config.api_key is None and os.environ.get(API_KEY_ENV):
        config = dataclasses.replace(config, api_key=os.environ[API_KEY_ENV])
    if model is None or isinstance(model, str | os.PathLike):
        model = load_model(model, device=device, threads=config.threads)
    path = getattr(model, "path", None)  # None: a model built in memory, pickled to the workers
    app = create_app(model, config, model_path=path, device=device)
    if config.api_key is None and not is_loopback(config.host):
        log.warning(
            "listening on %s without an API key: anyone who can reach this port can use the service "
            "(set %s or --api-key; see README, Security)",
            config.host,
            API_KEY_ENV,
        )
    log.info("serving %s on http://%s:%d/ (API docs: /docs)", path or model, config.host, config.port)
    uvicorn.run(app, **uvicorn_options(config))
