"""torchrun / DistributedDataParallel plumbing: who am I, set up and tear down the process group.

One machine, N GPUs (or N CPU processes with gloo):

    torchrun --standalone --nproc_per_node=N -m asr train --config recipes/X/config.toml

Several machines (run on each; same --rdzv-endpoint, any free port on the first machine):

    torchrun --nnodes=2 --nproc_per_node=8 --rdzv-backend=c10d --rdzv-id=job1 \
        --rdzv-endpoint=HOST0:29400 -m asr train --config recipes/X/config.toml

`train.max_duration` is per process: a step trains on `max_duration * world_size` seconds of audio,
the same global batch that one process gets with `max_duration * world_size`. Every rank builds the
same global batches and takes a disjoint share (`DurationBatchSampler`), so no DistributedSampler is
needed and all ranks run the same number of steps. Only rank 0 evaluates, logs, and writes checkpoints;
`--resume` restores every rank's RNG stream (same world size) and the shared sampler position.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistContext:
    """This process's place in the job. A plain `asr train` is rank 0 of a world of 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> DistContext:
        """Read torchrun's RANK / WORLD_SIZE / LOCAL_RANK (absent: a single process)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        return cls(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def init(ctx: DistContext, device: torch.device, backend: str = "auto") -> None:
    """Join the process group (env:// rendezvous set up by torchrun). NCCL on CUDA, gloo on CPU."""
    if not ctx.enabled or dist.is_initialized():
        return
    if backend == "auto":
        backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    # Rank 0 evaluates the dev set while the others wait in a barrier: allow for a long evaluation.
    dist.init_process_group(backend, timeout=datetime.timedelta(hours=2))
    log.info("rank %d of %d joined (%s)", ctx.rank, ctx.world_size, backend)


def shutdown(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


def all_sum(ctx: DistContext, values: torch.Tensor) -> torch.Tensor:
    """Sum a small tensor over ranks (identity for one process)."""
    if ctx.enabled:
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def average_gradients(ctx: DistContext, parameters: Iterable[torch.nn.Parameter]) -> None:
    """Replace each gradient by its mean over ranks, as DDP's backward pass does (no-op for one process).
    Every rank must hold gradients for the same parameters."""
    if ctx.enabled:
        for p in parameters:
            if p.grad is not None:
                dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
                p.grad /= ctx.world_size


def gather_objects(ctx: DistContext, obj: Any) -> list[Any]:
    """Every rank's `obj`, by rank, on every rank."""
    if not ctx.enabled:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(ctx: DistContext, obj: Any) -> Any:
    """Rank 0's `obj` on every rank."""
    if not ctx.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
