"""The ASGI application (FastAPI), its limits, and the uvicorn runner.

A request is checked before anything is read: the API key (when one is set), an audio content type or
multipart form, a same-origin `Origin` if any, the declared size. It is then admitted, or refused with
503 and Retry-After when `workers + max_queue` requests are already in (reading, waiting or running), so
at most that many bodies are ever being read or held. The body must arrive within `upload_timeout_s`,
with no gap longer than `upload_idle_s` (else 408), and within `max_upload_bytes` (else 413).
Decoding and transcription run in worker processes (`workers`, default 1; see `asr.serve.workers`), each
with its own model and decoders; audio longer than `max_audio_seconds` is refused from its header before
it is decoded. A request not answered within `request_timeout_s` gets 504 and its worker is killed and
replaced, so it stops using CPU and memory. Error bodies carry the decoder's message, never a path.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import pickle
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from asr.serve.workers import WorkerCrashed, WorkerPool, WorkerSpec, WorkerTimeout, decoder_recipe

log = logging.getLogger(__name__)

# Multipart framing (boundaries, part headers) allowed on top of the audio size limit.
_MULTIPART_OVERHEAD = 64 * 1024
NO_AUDIO = (
    "no audio in the request: send multipart/form-data with a file field named 'file', "
    "or the audio file's bytes as the request body"
)
UNSUPPORTED_TYPE = (
    "send multipart/form-data with a file field named 'file' (curl -F file=@a.wav), or the audio as the "
    "body with an audio Content-Type or application/octet-stream "
    "(curl -H 'Content-Type: audio/wav' --data-binary @a.wav)"
)
_RAW_TYPES = ("audio/", "video/", "application/octet-stream")
API_KEY_ENV = "ASR_API_KEY"
_PATH = re.compile(r"(?<![\w.])/(?:[\w.+-]+/)+[\w.+-]*")
_OBJECT_REPR = re.compile(r"<[^<>]* object at 0x[0-9a-fA-F]+>")


@dataclass(frozen=True)
class ServeConfig:
    """Limits and execution settings of the service."""

    max_upload_bytes: int = 25 * 1024 * 1024
    max_audio_seconds: float = 600.0
    workers: int = 1
    max_queue: int = 8
    request_timeout_s: float = 120.0
    torch_threads: int = 0  # 0: leave torch's setting alone
    vad: str = "auto"  # how long audio is cut at pauses (asr.transcribe's `vad`): auto, silero, energy, none
    upload_timeout_s: float = 60.0  # the whole body must arrive within this
    upload_idle_s: float = 15.0  # and no gap between its pieces may be longer
    api_key: str | None = field(default=None, repr=False)  # required on every request but the page at /
    worker_start_timeout_s: float = 300.0

    def __post_init__(self) -> None:
        if self.max_upload_bytes < 1 or self.max_audio_seconds <= 0 or self.request_timeout_s <= 0:
            raise ValueError(f"ServeConfig limits must be positive: {self}")
        if self.upload_timeout_s <= 0 or self.upload_idle_s <= 0:
            raise ValueError(f"ServeConfig upload timeouts must be positive: {self}")
        if self.workers < 1 or self.max_queue < 0:
            raise ValueError(f"ServeConfig needs workers >= 1 and max_queue >= 0: {self}")
        if self.api_key is not None and not self.api_key:
            raise ValueError("ServeConfig api_key must not be empty (None: no key)")

    @property
    def capacity(self) -> int:
        """Requests admitted at once: reading their upload, waiting for a worker, or running."""
        return self.workers + self.max_queue

    def public(self) -> dict[str, Any]:
        """The limits as /healthz shows them (never the key)."""
        out = asdict(self)
        del out["api_key"]
        out["api_key_required"] = self.api_key is not None
        return out


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


def _public(message: str) -> str:
    """A message safe for an error body: no absolute paths, no object reprs."""
    return _PATH.sub("<path>", _OBJECT_REPR.sub("<object>", message))


def _check_request(request: Request, config: ServeConfig) -> bool:
    """Refuse, before reading anything, what is not an audio upload; returns whether it is multipart."""
    content_type = request.headers.get("content-type", "").lower()
    multipart = content_type.startswith("multipart/form-data")
    if not multipart and not content_type.startswith(_RAW_TYPES):
        shown = content_type[:80] or "none"
        raise HTTPException(415, f"unsupported Content-Type ({shown}): {UNSUPPORTED_TYPE}")
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        if urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower():
            raise HTTPException(403, "cross-origin requests are refused; call the API from the same origin")
    elif origin == "null":
        raise HTTPException(403, "requests from an opaque origin are refused")
    limit = config.max_upload_bytes + (_MULTIPART_OVERHEAD if multipart else 0)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the upload is {int(declared)} bytes; the limit is {limit} bytes")
    return multipart


def _limited_receive(request: Request, limit: int, config: ServeConfig) -> Any:
    """`receive` for the body: at most `limit` bytes, within the upload deadline and idle timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + config.upload_timeout_s
    size = 0

    async def receive() -> dict:
        nonlocal size
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise HTTPException(408, f"the upload took longer than {config.upload_timeout_s:g} s")
        try:
            message = await asyncio.wait_for(request.receive(), min(remaining, config.upload_idle_s))
        except asyncio.TimeoutError:
            if loop.time() >= deadline:
                raise HTTPException(
                    408, f"the upload took longer than {config.upload_timeout_s:g} s"
                ) from None
            raise HTTPException(
                408, f"the upload stalled (nothing received for {config.upload_idle_s:g} s)"
            ) from None
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                raise HTTPException(413, f"the upload exceeds the limit of {limit} bytes")
        return message

    return receive


async def _audio_bytes(request: Request, config: ServeConfig, multipart: bool) -> bytes:
    max_bytes = config.max_upload_bytes
    limit = max_bytes + (_MULTIPART_OVERHEAD if multipart else 0)
    limited = Request(request.scope, _limited_receive(request, limit, config))
    if not multipart:
        body = await limited.body()
        if not body:
            raise HTTPException(400, NO_AUDIO)
        return body
    try:
        form = await limited.form(max_files=1, max_fields=16)
    except HTTPException:
        raise
    except Exception as e:  # noqa: BLE001 - malformed multipart raises several types
        raise HTTPException(400, f"malformed multipart/form-data body ({type(e).__name__})") from None
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise HTTPException(400, NO_AUDIO)
    data = await upload.read()
    await form.close()
    if len(data) > max_bytes:
        raise HTTPException(413, f"the file is {len(data)} bytes; the limit is {max_bytes} bytes")
    if not data:
        raise HTTPException(400, "the uploaded file is empty (0 bytes)")
    return data


class _ApiKey:
    """ASGI middleware: every request but the page at / carries the key (Authorization: Bearer KEY, or
    X-API-Key: KEY); compared in constant time."""

    def __init__(self, app: Any, key: str) -> None:
        self.app = app
        self._digest = hashlib.sha256(key.encode()).digest()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not (scope["path"] == "/" and scope["method"] in ("GET", "HEAD")):
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            given = headers.get("x-api-key", "")
            auth = headers.get("authorization", "")
            if auth[:7].lower() == "bearer ":
                given = auth[7:].strip()
            digest = hashlib.sha256(given.encode("utf-8", "replace")).digest()
            if not hmac.compare_digest(digest, self._digest):
                body = json.dumps({"detail": "missing or wrong API key (Authorization: Bearer KEY)"}).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"www-authenticate", b"Bearer"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


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


def create_app(
    model: Any,
    config: ServeConfig | None = None,
    beam_decoder: Any = None,
    *,
    model_path: str | os.PathLike | None = None,
    device: str = "cpu",
) -> FastAPI:
    """The service for a loaded model (a checkpoint's SpeechRecognizer or an exported model).

    Worker processes load `model_path` on `device` when given (what `asr serve` does), else receive a
    pickled copy of `model` (exported models need `model_path`). `beam_decoder`: what `decoder=beam`
    uses (default: a lexicon-free beam search without LM); each worker builds its own."""
    config = config or ServeConfig()
    if model_path is None:
        try:
            pickle.dumps(model)
        except Exception as e:  # noqa: BLE001 - pickling raises many types
            raise TypeError(
                f"{type(model).__name__} cannot be sent to a worker process ({type(e).__name__}); "
                "pass model_path= (the checkpoint or export directory) so that workers load it"
            ) from None
    spec = WorkerSpec(
        model=None if model_path is not None else model,
        model_path=None if model_path is None else os.fspath(model_path),
        device=device,
        beam=decoder_recipe(beam_decoder),
        torch_threads=config.torch_threads,
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
        app.add_middleware(_ApiKey, key=config.api_key)

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
            "queue": {
                "admitted": service.admitted,
                "capacity": config.workers + config.max_queue,
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
        responses={
            200: {"description": "The transcript (JSON, or text/srt/vtt per `format`)"},
            400: {"description": "No audio, or a malformed request"},
            401: {"description": "Missing or wrong API key (when the server has one)"},
            403: {"description": "A cross-origin request"},
            408: {"description": "The upload was too slow"},
            413: {"description": "The upload or the audio is too long"},
            415: {"description": "Not an audio content type or multipart form"},
            422: {"description": "The audio cannot be decoded, or an option is invalid"},
            503: {"description": "The queue is full; retry after the Retry-After seconds"},
            504: {"description": "The transcription took longer than the request timeout"},
        },
    )
    async def transcribe_endpoint(
        request: Request,
        decoder: str = Query("greedy", pattern="^(greedy|beam)$", description="greedy or beam search"),
        format: str = Query("json", pattern="^(json|text|srt|vtt)$", description="response format"),
        word_times: bool = Query(True, description="include words with start/end times (json)"),
    ) -> Response:
        multipart = _check_request(request, config)
        if not service.try_admit():
            raise HTTPException(
                503, "the service is busy (queue full); retry shortly", headers={"Retry-After": "1"}
            )
        try:
            data = await _audio_bytes(request, config, multipart)
            started = time.perf_counter()
            kind, payload = await service.run(data, decoder, time.monotonic() + config.request_timeout_s)
        except HTTPException:
            service.failed += 1
            raise
        except WorkerTimeout:
            service.failed += 1
            raise HTTPException(
                504, f"transcription took longer than {config.request_timeout_s:g} s"
            ) from None
        except WorkerCrashed:
            service.failed += 1
            raise HTTPException(500, "the worker stopped while transcribing; see the server log") from None
        finally:
            service.release()
        if kind != "ok":
            service.failed += 1
            status = {"too_long": 413, "audio": 422}.get(kind, 500)
            detail = _public(payload) if kind != "audio" else f"cannot use this audio: {_public(payload)}"
            raise HTTPException(status, detail)
        result = payload
        service.served += 1
        seconds = time.perf_counter() - started
        if format != "json":
            from asr.formats import format_transcript

            media = {"text": "text/plain", "srt": "application/x-subrip", "vtt": "text/vtt"}[format]
            text = format_transcript(result, "txt" if format == "text" else format)
            return PlainTextResponse(text, media_type=media)
        body = transcript_json(result, word_times)
        body.update(decoder=decoder, processing_s=round(seconds, 4))
        return JSONResponse(body)

    return app


def transcript_json(result: Any, word_times: bool = True) -> dict[str, Any]:
    """The JSON body of a transcription: text, duration, segments and (optionally) timed words."""
    body: dict[str, Any] = {
        "text": result.text,
        "duration_s": round(result.duration_s, 3),
        "segments": [
            {"text": s.text, "start": round(s.start_s, 3), "end": round(s.end_s, 3)} for s in result.segments
        ],
    }
    if word_times:
        body["words"] = [
            {
                "word": w.text,
                "start": round(w.start_s, 3),
                "end": round(w.end_s, 3),
                "confidence": round(w.confidence, 3),
            }
            for w in result.words
        ]
    return body


def _version() -> str:
    from asr import __version__

    return __version__


def run(
    model_path: str | os.PathLike,
    host: str = "127.0.0.1",
    port: int = 8000,
    config: ServeConfig | None = None,
    device: str = "cpu",
    beam_decoder: Any = None,
) -> None:
    """Load the model (a checkpoint or an export directory) and serve it with uvicorn until stopped."""
    import uvicorn

    from asr.checkpoint import load_model

    config = config or ServeConfig(api_key=os.environ.get(API_KEY_ENV) or None)
    model = load_model(model_path, device=device)
    app = create_app(model, config, beam_decoder, model_path=model_path, device=device)
    if config.api_key is None and not is_loopback(host):
        log.warning("serving on %s without an API key: anyone who can reach it can use it", host)
    log.info("serving %s on http://%s:%d (docs: /docs)", model_path, host, port)
    uvicorn.run(app, **uvicorn_options(config, host, port))


def uvicorn_options(config: ServeConfig, host: str, port: int) -> dict[str, Any]:
    """uvicorn settings: connections beyond a bound get 503 before the app sees them."""
    return {
        "host": host,
        "port": port,
        "log_level": "info",
        "timeout_keep_alive": 5,
        "limit_concurrency": 64 + 2 * config.capacity,
        "timeout_graceful_shutdown": 10,
    }


def is_loopback(host: str) -> bool:
    """Whether `host` only listens on this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
