"""What a request must be before and while its body is read.

Before anything is read: an audio content type or multipart form, a same-origin `Origin` if any, a
declared size within the limit. While reading: the body must arrive within `upload_timeout_s`, with no
gap longer than `upload_idle_s` (else 408), and within `max_upload_bytes` (else 413). Error bodies go
through `public_message`, so they carry the decoder's message but never a path or an object repr.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import urlsplit

from fastapi import HTTPException, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException

from asr.serve.config import ServeConfig

__all__ = ["NO_AUDIO", "UNSUPPORTED_TYPE", "audio_bytes", "check_request", "public_message"]

# Multipart framing (boundaries, part headers) allowed on top of the audio size limit.
_MULTIPART_OVERHEAD = 64 * 1024
_MAX_FIELD_BYTES = 64 * 1024  # a form's text fields (not the file): the page sends none
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
_PATH = re.compile(r"(?<![\w.])/(?:[\w.+-]+/)+[\w.+-]*")
_OBJECT_REPR = re.compile(r"<[^<>]* object at 0x[0-9a-fA-F]+>")


def public_message(message: str) -> str:
    """A message safe for an error body: no absolute paths, no object reprs."""
    return _PATH.sub("<path>", _OBJECT_REPR.sub("<object>", message))


def _form_error(message: str) -> tuple[int, str]:
    """(status, detail) for the form parser's message: a limit it enforces is said as that limit (413
    for a part too large, 400 for too many parts), not as a malformed body."""
    message = public_message(message)[:200]
    if "exceeded maximum size" in message:
        return (
            413,
            f"multipart/form-data: a form field is too large ({message}); send the audio as the 'file' field",
        )
    if message.startswith("Too many"):
        return 400, f"multipart/form-data: too many parts ({message}); send one field named 'file'"
    return 400, f"malformed multipart/form-data body ({message})"


def _body_limit(config: ServeConfig, multipart: bool) -> int:
    return config.max_upload_bytes + (_MULTIPART_OVERHEAD if multipart else 0)


def check_request(request: Request, config: ServeConfig) -> bool:
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
    limit = _body_limit(config, multipart)
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
        except TimeoutError:
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


async def audio_bytes(request: Request, config: ServeConfig, multipart: bool) -> bytes:
    """The uploaded audio file's bytes (the raw body, or the form's `file` field), read within limits."""
    max_bytes = config.max_upload_bytes
    limited = Request(request.scope, _limited_receive(request, _body_limit(config, multipart), config))
    if not multipart:
        body = await limited.body()
        if not body:
            raise HTTPException(400, NO_AUDIO)
        return body
    try:
        form = await limited.form(max_files=1, max_fields=16, max_part_size=_MAX_FIELD_BYTES)
    except HTTPException:
        raise
    except StarletteHTTPException as e:  # the parser's own limits and syntax errors, with its message
        raise HTTPException(*_form_error(str(e.detail))) from None
    except MultiPartException as e:
        raise HTTPException(*_form_error(e.message)) from None
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
