"""Under torchrun, an accumulation group whose last batch is dropped (unreadable audio or a non-finite
loss on any rank) still averages the group's earlier gradients over the ranks, as DDP does when that
batch's backward pass runs: two gloo processes must then hold the same gradients."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from asr.data.dataset import Batch
from asr.train import step
from asr.train.distributed import DistContext

if not dist.is_available():  # pragma: no cover
    pytest.skip("torch.distributed is not available", allow_module_level=True)

WORLD = 2


def _linear_loss(recognizer, batch: Batch, settings: step.StepSettings) -> torch.Tensor:  # noqa: ANN001
    """Stands in for the CTC forward pass: per-utterance losses of a linear model."""
    return (settings.model(batch.waveforms) ** 2).sum(dim=1)


def _batch(rank: int, index: int) -> Batch:
    waveforms = torch.arange(6, dtype=torch.float32).reshape(2, 3) * (1 + rank) + index
    return Batch(
        ids=[f"r{rank}-b{index}-{i}" for i in range(2)],
        texts=["a", "b"],
        waveforms=waveforms,
        lengths=torch.tensor([3, 3]),
        targets=torch.ones(2, 1, dtype=torch.long),
        target_lengths=torch.tensor([1, 1]),
    )


def _rank(rank: int, port: int, results: dict) -> None:  # noqa: ANN001
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        step.train_step = _linear_loss  # accumulate() looks it up in its module at call time
        torch.manual_seed(0)
        model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(3, 2))
        ctx = DistContext(rank=rank, world_size=WORLD)
        settings = step.StepSettings(torch.nn.CTCLoss(), torch.device("cpu"), model=model, ctx=ctx)
        scaler = torch.amp.GradScaler("cuda", enabled=False)
        loss, _ = step.accumulate(None, _batch(rank, 0), settings, scaler, group_size=2, last_of_group=False)
        assert loss is not None
        own = [p.grad.clone() for p in model.parameters()]  # this rank's share, not yet reduced
        # the group's last batch: rank 1's audio was unreadable, so every rank drops it
        last = None if rank == 1 else _batch(rank, 1)
        loss, _ = step.accumulate(None, last, settings, scaler, group_size=2, last_of_group=True)
        assert loss is None
        results[rank] = ([p.grad.clone() for p in model.parameters()], own)
    finally:
        dist.destroy_process_group()


def test_a_group_whose_last_batch_is_dropped_still_averages_its_gradients_over_ranks():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with mp.Manager() as manager:
        results = manager.dict()
        mp.start_processes(_rank, args=(port, results), nprocs=WORLD, start_method="fork")
        (grads0, own0), (grads1, own1) = results[0], results[1]
    assert any(not torch.equal(a, b) for a, b in zip(own0, own1))  # the ranks' own shares differ
    for g0, g1, a, b in zip(grads0, grads1, own0, own1):
        torch.testing.assert_close(g0, g1, rtol=0, atol=0)
        torch.testing.assert_close(g0, (a + b) / 2)
