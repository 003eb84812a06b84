"""DurationBatchSampler: resumable position and disjoint, equal-length shares for DDP ranks."""

from __future__ import annotations

import numpy as np
import pytest

from asr.data.sampler import DurationBatchSampler


def durations(n: int = 300, seed: int = 0) -> list[float]:
    return np.random.default_rng(seed).uniform(0.5, 12, size=n).tolist()


def test_state_dict_resumes_at_the_exact_batch():
    d = durations()
    sampler = DurationBatchSampler(d, max_duration=40, num_buckets=8, seed=5)
    sampler.set_epoch(2)
    full = list(sampler)
    sampler.advance(7)
    state = sampler.state_dict()
    fresh = DurationBatchSampler(d, max_duration=40, num_buckets=8, seed=5)
    fresh.load_state_dict(state)
    assert fresh.epoch == 2 and list(fresh) == full[7:]
    assert len(fresh) == len(full)  # len is the whole epoch, wherever the position is
    fresh.set_epoch(3)
    assert fresh.position == 0 and list(fresh) != full
    with pytest.raises(ValueError, match="seed"):
        DurationBatchSampler(d, 40, seed=6).load_state_dict(state)


@pytest.mark.parametrize("world_size", [2, 3, 4])
def test_ranks_get_disjoint_shares_of_the_single_process_batches(world_size):
    d = durations()
    single = DurationBatchSampler(d, max_duration=40 * world_size, num_buckets=8, seed=1)
    ranks = [
        DurationBatchSampler(d, max_duration=40, num_buckets=8, seed=1, rank=r, world_size=world_size)
        for r in range(world_size)
    ]
    for epoch in (0, 1):
        single.set_epoch(epoch)
        for s in ranks:
            s.set_epoch(epoch)
        shares = [list(s) for s in ranks]
        assert len({len(s) for s in shares}) == 1  # equal batch counts: no rank waits for another
        expected = [b for b in single if len(b) >= world_size]
        for k, batch in enumerate(expected):
            parts = [share[k] for share in shares]
            assert sorted(i for p in parts for i in p) == sorted(batch)
            assert max(len(p) for p in parts) - min(len(p) for p in parts) <= 1
            for p in parts:  # each share stays within the per-process budget, give or take one utterance
                assert max(d[i] for i in p) * (len(p) - 1) <= 40 + 1e-9


def test_rank_outside_world_is_an_error():
    with pytest.raises(ValueError, match="rank"):
        DurationBatchSampler([1.0], 10, rank=2, world_size=2)
