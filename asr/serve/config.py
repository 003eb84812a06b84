"""The service's settings: limits and execution (`ServeConfig`), the key's environment variable, and
what they mean for uvicorn and the listening address."""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["API_KEY_ENV", "ServeConfig", "is_loopback", "uvicorn_options"]

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
