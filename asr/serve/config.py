"""The service's settings: limits and execution (`ServeConfig`), the key's environment variable, and
what they mean for uvicorn and the listening address."""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["API_KEY_ENV", "ServeConfig", "is_loopback", "raise_open_files_limit", "uvicorn_options"]

API_KEY_ENV = "ASR_API_KEY"


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
    # Connections (asr.serve.protocol): a request head must arrive within header_timeout_s of connecting
    # (or of the previous response); an idle keep-alive connection is closed after keep_alive_s; past
    # max_connections open, the one idle longest is closed.
    header_timeout_s: float = 10.0
    keep_alive_s: float = 5.0
    max_connections: int = 512
    # The address listened on and further names for the Host header (asr.serve.hosts): without an API
    # key, a request whose Host names neither gets 421 (DNS rebinding).
    host: str = "127.0.0.1"
    allowed_hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_upload_bytes < 1 or self.max_audio_seconds <= 0 or self.request_timeout_s <= 0:
            raise ValueError(f"ServeConfig limits must be positive: {self}")
        if self.upload_timeout_s <= 0 or self.upload_idle_s <= 0:
            raise ValueError(f"ServeConfig upload timeouts must be positive: {self}")
        if self.header_timeout_s <= 0 or self.keep_alive_s <= 0 or self.max_connections < 1:
            raise ValueError(f"ServeConfig connection limits must be positive: {self}")
        if isinstance(self.allowed_hosts, str):
            raise ValueError("ServeConfig allowed_hosts must be a tuple of names, not one string")
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


def uvicorn_options(config: ServeConfig, host: str, port: int) -> dict[str, Any]:
    """uvicorn settings: its HTTP/1.1 protocol with a deadline on request heads and a connection bound
    that closes idle connections first (`asr.serve.protocol`). No `limit_concurrency`: it counted idle
    connections, so silent sockets locked everyone out; admission (`ServeConfig.capacity`) bounds the
    work instead."""
    from asr.serve.protocol import protocol_class

    # Sockets share the open-files limit with the server's own files (pipes to workers, uploads, logs).
    spare = 256
    connections = max(
        1, min(config.max_connections, raise_open_files_limit(config.max_connections + spare) - spare)
    )
    return {
        "host": host,
        "port": port,
        "log_level": "info",
        "http": protocol_class(config.header_timeout_s, connections),
        "timeout_keep_alive": config.keep_alive_s,
        "timeout_graceful_shutdown": 10,
    }


def raise_open_files_limit(wanted: int) -> int:
    """Raise this process's soft limit on open files towards `wanted` (at most the hard limit), so that
    `max_connections` sockets fit beside the server's own files; returns the soft limit now in force."""
    try:
        import resource
    except ImportError:  # not on Windows
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (OSError, ValueError):
            pass
    return wanted if soft == resource.RLIM_INFINITY else soft


def is_loopback(host: str) -> bool:
    """Whether `host` only listens on this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
