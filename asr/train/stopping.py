"""Stopping a run early and cleanly: after a whole update, with last.pt written, so that `--resume`
continues it exactly as if it had never stopped.

Two reasons to stop: a time budget (`asr train --stop-after 45m`, one piece of a run that spans several
sittings) and a request (the CLI sets `requested` on SIGINT or SIGTERM: Ctrl-C, a scheduler's notice).
Under torchrun the ranks agree at every update (one small all-reduce): all stop, or none.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from asr.train import distributed
from asr.train.distributed import DistContext

__all__ = ["StopRule", "TrainingStopped"]


class TrainingStopped(Exception):  # noqa: N818 - not an error: the run stopped where it was asked to
    """The run stopped before its last epoch, at a clean point; `--resume` continues it from `last`."""

    def __init__(self, reason: str, step: int, epoch: int, last: Path) -> None:
        super().__init__(f"stopped at step {step} (epoch {epoch + 1}) {reason}; {last} holds the run")
        self.reason, self.step, self.epoch, self.last = reason, step, epoch, last


@dataclass
class StopRule:
    """When a run stops early: `after_s` seconds after it started (None: no limit), or once `requested`
    is set (from a signal handler or another thread)."""

    after_s: float | None = None
    requested: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.after_s is not None and not (math.isfinite(self.after_s) and self.after_s > 0):
            raise ValueError(f"the time limit must be a positive number of seconds, got {self.after_s}")

    def reason(self, ctx: DistContext, device: torch.device) -> str | None:
        """Why to stop now (None: go on). Collective under torchrun: every rank must call it."""
        asked = self.requested.is_set()
        late = self.after_s is not None and time.monotonic() - self.started >= self.after_s
        if ctx.enabled:
            flags = distributed.all_sum(ctx, torch.tensor([float(asked), float(late)], device=device))
            asked, late = bool(flags[0] > 0), bool(flags[1] > 0)
        if asked:
            return "on request"
        if late:
            return f"after its time limit ({self.after_s:.0f} s)"
        return None
