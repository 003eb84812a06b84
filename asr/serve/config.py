"""The service's settings: limits and execution (`ServeConfig`), the key's environment variable, and
what they mean for uvicorn and the listening address."""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["API_KEY_ENV", "ServeConfig", "is_loopback", "raise_open_files_limit", "uvicorn_options"]

API_KEY_ENV = "ASR_API_KEY"


def _setting(default: Any, help: str, **kwargs: Any) -> Any:
    """A ServeConfig field; `help` is its `asr serve --FIELD-NAME` option's help text."""
    return field(default=default, metadata={"help": help}, **kwargs)


@dataclass(frozen=True)
class ServeConfig:
    """Limits and execution settings of the service. `asr serve` has one option per field, named after
    it (--max-upload-mb sets max_upload_mb), and ``--set serve.FIELD=VALUE``."""

    max_upload_mb: float = _setting(25.0, "largest accepted upload (MiB)")
    max_audio_seconds: float = _setting(600.0, "longest accepted audio (s)")
    workers: int = _setting(1, "worker processes (each with its own model): transcriptions at once")
    max_queue: int = _setting(8, "requests waiting beyond those; more get 503")
    request_timeout_s: float = _setting(
        120.0, "seconds (after the upload) before a request gets 504; its worker is killed and replaced"
    )
    threads: int = _setting(0, "CPU threads per worker (torch or onnxruntime; 0: their default)")
    vad: str = _setting("auto", "how long audio is cut at pauses (asr.transcribe's vad)")
    upload_timeout_s: float = _setting(60.0, "seconds an upload may take before it gets 408")
    upload_idle_s: float = _setting(15.0, "longest gap between the pieces of an upload before it gets 408")
    api_key: str | None = _setting(
        None,
        "require this key on every request but the page at / (Authorization: Bearer KEY); default: "
        f"${API_KEY_ENV}. Prefer the environment variable: command lines are visible to other users",
        repr=False,
    )
    worker_start_timeout_s: float = _setting(300.0, "seconds a worker may take to load its model")
    # Connections (asr.serve.protocol): a request head must arrive within header_timeout_s of connecting
    # (or of the previous response); an idle keep-alive connection is closed after keep_alive_s; past
    # max_connections open, the one idle longest is closed.
    header_timeout_s: float = _setting(
        10.0,
        "seconds a connection may take to send its request head (line and headers) before it is "
        "closed (408 if it sent part of one); idle or slow sockets cannot hold the server",
    )
    keep_alive_s: float = _setting(5.0, "seconds an idle keep-alive connection stays open")
    max_connections: int = _setting(
        512, "open connections at most; beyond, the one waiting longest for a request head is closed"
    )
    # The address listened on and further names for the Host header (asr.serve.hosts): without an API
    # key, a request whose Host names neither gets 421 (DNS rebinding).
    host: str = _setting("127.0.0.1", "address to listen on (0.0.0.0: all interfaces)")
    port: int = _setting(8000, "port to listen on")
    allowed_hosts: tuple[str, ...] = _setting(
        (),
        "names clients may use in the Host header besides the listening address (repeatable; e.g. "
        "the machine's DNS name). Without an API key other names get 421 (DNS rebinding)",
    )

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
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def capacity(self) -> int:
        """Requests admitted at once: reading their upload, waiting for a worker, or running."""
        return self.workers + self.max_queue

    def public(self) -> dict[str, Any]:
        """The limits as /healthz shows them (never the key)."""
        out = asdict(self)
        del out["api_key"]
        out["api_key_required"] = self.api_key is not None
        out["max_upload_bytes"] = self.max_upload_bytes
        return out


def uvicorn_options(config: ServeConfig) -> dict[str, Any]:
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
        "host": config.host,
        "port": config.port,
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
