"""Duration-bucketed batching: batches hold about `max_duration` seconds of similar-length audio."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any


class DurationBatchSampler:
    """Yields lists of indices. Utterances are sorted into `num_buckets` duration buckets so a batch
    wastes little padding; batches are filled up to `max_duration` seconds and shuffled (seeded,
    per epoch). `set_epoch` changes the order; the same (seed, epoch) always gives the same batches.

    Distributed training: with `world_size` > 1 every rank builds the same *global* batches of up to
    `max_duration * world_size` padded seconds and takes its own share (every `world_size`-th utterance
    of the global batch sorted by duration), so the shares are disjoint, balanced, and every rank has the
    same number of batches. The union of the shares of step k is exactly batch k of a single process
    run with `max_duration * world_size`: DDP with N ranks trains on the same global batches.

    Resuming: `state_dict()` records the epoch and how many batches of it were consumed (the training
    loop reports them through `advance`); after `load_state_dict` iteration continues at the next batch.
    """

    def __init__(
        self,
        durations: Sequence[float],
        max_duration: float,
        num_buckets: int = 10,
        shuffle: bool = True,
        seed: int = 0,
        max_batch_size: int = 512,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if max_duration <= 0:
            raise ValueError(f"max_duration must be positive, got {max_duration}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world_size {world_size}")
        self.durations = list(durations)
        self.max_duration = max_duration
        self.num_buckets = max(1, num_buckets)
        self.shuffle = shuffle
        self.seed = seed
        self.max_batch_size = max_batch_size
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.position = 0  # batches of this epoch already consumed
        self._cache: tuple[int, list[list[int]]] | None = None

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.position = 0
        self.epoch = epoch

    def _global_batches(self) -> list[list[int]]:
        rng = random.Random(self.seed * 100_003 + self.epoch)
        order = sorted(range(len(self.durations)), key=lambda i: self.durations[i])
        size = -(-len(order) // self.num_buckets) if order else 1
        buckets = [order[i : i + size] for i in range(0, len(order), size)]
        budget = self.max_duration * self.world_size
        max_items = self.max_batch_size * self.world_size
        batches: list[list[int]] = []
        for bucket in buckets:
            if self.shuffle:
                rng.shuffle(bucket)
            batch: list[int] = []
            longest = 0.0
            for i in bucket:
                longest_if_added = max(longest, self.durations[i])
                # Padded cost: every item costs as much as the longest one in the batch.
                if batch and (longest_if_added * (len(batch) + 1) > budget or len(batch) >= max_items):
                    batches.append(batch)
                    batch, longest_if_added = [], self.durations[i]
                batch.append(i)
                longest = longest_if_added
            if batch:
                batches.append(batch)
        if self.shuffle:
            rng.shuffle(batches)
        if self.world_size > 1:
            # Every rank needs at least one utterance per step; a smaller global batch (a lone very
            # long utterance) is dropped rather than letting ranks disagree on the step count.
            batches = [b for b in batches if len(b) >= self.world_size]
        return batches

    def batches(self) -> list[list[int]]:
        """This rank's batches for the current epoch, from the first (ignores the resume position)."""
        if self._cache is None or self._cache[0] != self.epoch:
            batches = self._global_batches()
            if self.world_size > 1:
                shares = []
                for batch in batches:
                    ranked = sorted(batch, key=lambda i: (self.durations[i], i))
                    shares.append(ranked[self.rank :: self.world_size])
                batches = shares
            self._cache = (self.epoch, batches)
        return self._cache[1]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches()[self.position :])

    def __len__(self) -> int:
        """Batches in a whole epoch (the same on every rank)."""
        return len(self.batches())

    def advance(self, count: int = 1) -> None:
        """Record that `count` more batches of this epoch were consumed (for `state_dict`)."""
        self.position += count

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("seed", self.seed) != self.seed:
            raise ValueError(f"sampler state was saved with seed {state['seed']}, this run has {self.seed}")
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])
