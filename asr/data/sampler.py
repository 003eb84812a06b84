"""Duration-bucketed batching: batches hold about `max_duration` seconds of similar-length audio."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence


class DurationBatchSampler:
    """Yields lists of indices. Utterances are sorted into `num_buckets` duration buckets so a batch
    wastes little padding; batches are filled up to `max_duration` seconds and shuffled (seeded,
    per epoch). `set_epoch` changes the order; the same (seed, epoch) always gives the same batches.
    """

    def __init__(
        self,
        durations: Sequence[float],
        max_duration: float,
        num_buckets: int = 10,
        shuffle: bool = True,
        seed: int = 0,
        max_batch_size: int = 512,
    ) -> None:
        if max_duration <= 0:
            raise ValueError(f"max_duration must be positive, got {max_duration}")
        self.durations = list(durations)
        self.max_duration = max_duration
        self.num_buckets = max(1, num_buckets)
        self.shuffle = shuffle
        self.seed = seed
        self.max_batch_size = max_batch_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        rng = random.Random(self.seed * 100_003 + self.epoch)
        order = sorted(range(len(self.durations)), key=lambda i: self.durations[i])
        size = -(-len(order) // self.num_buckets) if order else 1
        buckets = [order[i : i + size] for i in range(0, len(order), size)]
        batches: list[list[int]] = []
        for bucket in buckets:
            if self.shuffle:
                rng.shuffle(bucket)
            batch: list[int] = []
            longest = 0.0
            for i in bucket:
                longest_if_added = max(longest, self.durations[i])
                # Padded cost: every item costs as much as the longest one in the batch.
                if batch and (
                    longest_if_added * (len(batch) + 1) > self.max_duration
                    or len(batch) >= self.max_batch_size
                ):
                    batches.append(batch)
                    batch, longest_if_added = [], self.durations[i]
                batch.append(i)
                longest = longest_if_added
            if batch:
                batches.append(batch)
        if self.shuffle:
            rng.shuffle(batches)
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._batches())

    def __len__(self) -> int:
        return len(self._batches())
