"""Connections that send nothing, or send slowly, cannot hold the server: uvicorn's HTTP/1.1 protocol with
a deadline for each request head and a bound on open connections that evicts idle ones first.

uvicorn waits for a new connection's first request line for ever, and its `limit_concurrency` counts
idle connections: about 70 silent sockets used to make every request, `/healthz` included, answer 503.
Here a connection must deliver a complete request head within `header_timeout_s` of opening (or of its
previous response); one that sent part of a head gets 408, a silent one is closed. uvicorn's keep-alive
timeout still closes a connection idle after a response. When more than `max_connections` are open, the
connection that has waited longest for a head is closed to make room, so a flood of idle sockets costs
the attacker's sockets, never the requests that are being answered.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["protocol_class"]

_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
    b"content-length: 41\r\n\r\nthe request head took too long to arrive\n"
)


class _GuardedH11(H11Protocol):
    """H11Protocol plus the head deadline and idle-first eviction (class attributes set by
    `protocol_class`)."""

    header_timeout_s: float = 10.0
    max_connections: int = 512

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiting_since: float | None = None  # monotonic time since a head is awaited; None: busy
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._seen_cycle: Any = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()
        if len(self.connections) > self.max_connections:
            self._evict()

    def data_received(self, data: bytes) -> None:
        if self._waiting_since is not None:
            self._head_bytes += len(data)
        super().data_received(data)
        self._note_request()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing():
            return
        self._note_request()  # a pipelined request may have started
        if self.cycle is self._seen_cycle and self.cycle is not None and self.cycle.response_complete:
            self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        self._waiting_since = None
        super().connection_lost(exc)

    # --- the head deadline ---------------------------------------------------------------------------

    def _await_head(self) -> None:
        self._stop_timer()
        self._waiting_since = time.monotonic()
        self._head_bytes = 0
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_timed_out)

    def _note_request(self) -> None:
        """A new request cycle means its head is complete: the deadline no longer applies."""
        if self.cycle is not None and self.cycle is not self._seen_cycle:
            self._seen_cycle = self.cycle
            self._waiting_since = None
            self._stop_timer()

    def _stop_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._waiting_since is None or self.transport.is_closing():
            return
        if self._head_bytes:
            self.transport.write(_TIMEOUT_RESPONSE)
        self.transport.close()

    # --- the connection bound ------------------------------------------------------------------------

    def _evict(self) -> None:
        """Close the connection that has waited longest for a request head (this one if none other)."""
        idle = [
            c
            for c in self.connections
            if c is not self
            and getattr(c, "_waiting_since", None) is not None
            and not c.transport.is_closing()
        ]
        victim = min(idle, key=lambda c: c._waiting_since) if idle else self
        victim._stop_timer()
        victim.transport.close()


def protocol_class(header_timeout_s: float, max_connections: int) -> type[H11Protocol]:
    """The HTTP protocol class for uvicorn's `http=` option, with these limits."""
    return type(
        "AsrH11Protocol",
        (_GuardedH11,),
        {"header_timeout_s": float(header_timeout_s), "max_connections": int(max_connections)},
    )
