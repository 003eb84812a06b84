"""The API key check: ASGI middleware in front of every route but the page at /."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

__all__ = ["ApiKey"]


class ApiKey:
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
            # Hashing first makes the comparison constant-time whatever the lengths.
            digest = hashlib.sha256(given.encode("utf-8", "replace")).digest()
            if not hmac.compare_digest(digest, self._digest):
                await _refuse(send)
                return
        await self.app(scope, receive, send)


async def _refuse(send: Any) -> None:
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
