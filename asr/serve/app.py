"""The ASGI application (FastAPI), its limits, and the uvicorn runner.

Requests are read with a size limit, then decoded and transcribed in a small pool of worker threads
(`workers`, default 1: torch already uses several cores per call). At most `workers + max_queue`
requests are admitted at once; more get 503 with Retry-After. A request that takes longer than
`request_timeout_s` gets 504 (its work is cancelled if it has not started yet). Bad audio gets a 4xx
with the decoder's message; the service keeps serving.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from asr.audio import AudioError, load_audio

log = logging.getLogger(__name__)

# Multipart framing (boundaries, part headers) allowed on top of the audio size limit.
_MULTIPART_OVERHEAD = 64 * 1024
NO_AUDIO = (
    "no audio in the request: send multipart/form-data with a file field named 'file', "
    "or the audio file's bytes as the request body"
)


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

    def __post_init__(self) -> None:
        if self.max_upload_bytes < 1 or self.max_audio_seconds <= 0 or self.request_timeout_s <= 0:
            raise ValueError(f"ServeConfig limits must be positive: {self}")
        if self.workers < 1 or self.max_queue < 0:
            raise ValueError(f"ServeConfig needs workers >= 1 and max_queue >= 0: {self}")


class _TooLong(Exception):
    pass


class Transcriber:
    """Runs transcriptions in worker threads and bounds how many are admitted."""

    def __init__(self, model: Any, config: ServeConfig, beam_decoder: Any = None) -> None:
        from asr.decoding import GreedyDecoder

        self.model = model
        self.config = config
        self.greedy = GreedyDecoder(model.vocab, model.frame_shift_s)
        self._beam = beam_decoder
        self._beam_lock = threading.Lock()
        self._executor = concurrent.futures.ThreadPoolExecutor(config.workers, thread_name_prefix="asr-infer")
        self._lock = threading.Lock()
        self.admitted = 0  # running + waiting
        self.served = 0
        self.failed = 0
        self.rejected = 0

    def beam(self) -> Any:
        with self._beam_lock:
            if self._beam is None:
                from asr.decoding import BeamSearchDecoder, DecoderConfig

                config = DecoderConfig(frame_shift_s=self.model.frame_shift_s)
                self._beam = BeamSearchDecoder(self.model.vocab, config=config)
            return self._beam

    def try_admit(self) -> bool:
        with self._lock:
            if self.admitted >= self.config.workers + self.config.max_queue:
                self.rejected += 1
                return False
            self.admitted += 1
            return True

    def _release(self, _future: concurrent.futures.Future) -> None:
        with self._lock:
            self.admitted -= 1

    def submit(self, data: bytes, decoder: str) -> concurrent.futures.Future:
        future = self._executor.submit(self._transcribe, data, decoder)
        future.add_done_callback(self._release)
        return future

    def _transcribe(self, data: bytes, decoder: str) -> Any:
        import torch

        from asr.transcribe import transcribe

        if self.config.torch_threads:
            torch.set_num_threads(self.config.torch_threads)
        rate = self.model.sample_rate
        audio = load_audio(data, rate)
        seconds = len(audio) / rate
        if seconds > self.config.max_audio_seconds:
            raise _TooLong(
                f"the audio lasts {seconds:.1f} s; this service accepts at most "
                f"{self.config.max_audio_seconds:g} s per request: split the recording"
            )
        dec = self.beam() if decoder == "beam" else self.greedy
        return transcribe(self.model, audio, decoder=dec, sample_rate=rate, vad=self.config.vad)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the upload is {int(declared)} bytes; the limit is {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the upload exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _audio_bytes(request: Request, max_bytes: int) -> bytes:
    content_type = request.headers.get("content-type", "")
    multipart = content_type.startswith("multipart/form-data")
    body = await _read_limited(request, max_bytes + (_MULTIPART_OVERHEAD if multipart else 0))
    if not multipart:
        if not body:
            raise HTTPException(400, NO_AUDIO)
        return body

    async def replay() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=1, max_fields=16)
    except Exception as e:  # noqa: BLE001 - malformed multipart raises several types
        raise HTTPException(400, f"malformed multipart/form-data body ({e})") from None
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise HTTPException(400, NO_AUDIO)
    data = await upload.read()
    await form.close()
    if len(data) > max_bytes:
        raise HTTPException(413, f"the file is {len(data)} bytes; the limit is {max_bytes} bytes")
    if not data:
        raise HTTPException(400, f"the uploaded file {upload.filename!r} is empty (0 bytes)")
    return data


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


def create_app(model: Any, config: ServeConfig | None = None, beam_decoder: Any = None) -> FastAPI:
    """The service for a loaded model (a checkpoint's SpeechRecognizer or an exported model).

    `beam_decoder`: what `decoder=beam` uses (default: a lexicon-free beam search without LM)."""
    config = config or ServeConfig()
    service = Transcriber(model, config, beam_decoder)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
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
            "limits": asdict(config),
        }

    @app.post(
        "/v1/transcribe",
        summary="Transcribe one recording",
        openapi_extra=_REQUEST_BODY_DOC,
        responses={
            200: {"description": "The transcript (JSON, or text/srt/vtt per `format`)"},
            400: {"description": "No audio, or a malformed request"},
            413: {"description": "The upload or the audio is too long"},
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
        data = await _audio_bytes(request, config.max_upload_bytes)
        if not service.try_admit():
            raise HTTPException(
                503, "the service is busy (queue full); retry shortly", headers={"Retry-After": "1"}
            )
        started = time.perf_counter()
        future = service.submit(data, decoder)
        try:
            result = await asyncio.wait_for(
                asyncio.shield(asyncio.wrap_future(future)), config.request_timeout_s
            )
        except asyncio.TimeoutError:
            future.cancel()
            service.failed += 1
            raise HTTPException(
                504, f"transcription took longer than {config.request_timeout_s:g} s"
            ) from None
        except AudioError as e:
            service.failed += 1
            raise HTTPException(422, f"cannot use this audio: {e}") from None
        except _TooLong as e:
            service.failed += 1
            raise HTTPException(413, str(e)) from None
        except Exception:
            service.failed += 1
            log.exception("transcription failed")
            raise HTTPException(500, "internal error while transcribing; see the server log") from None
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

    model = load_model(model_path, device=device)
    app = create_app(model, config, beam_decoder)
    log.info("serving %s on http://%s:%d (docs: /docs)", model_path, host, port)
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_keep_alive=5)
