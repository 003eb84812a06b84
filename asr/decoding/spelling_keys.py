"""Spelling keys: token sequences compared as 64-bit polynomial hashes, for the "fast" confidences.

Words are compared through polynomial hashes of their token ids, Σ (token + 1) B**j modulo 2**64:
int64 arithmetic that wraps around, so no modulo is ever taken, and B odd, so B**-j exists and the
hash of any stretch of a sequence follows from prefix sums. A reading's spelling is hashed from those
of the path's emitted tokens: no string is ever built.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from asr.text import Vocabulary

__all__ = ["POWERS", "WordKeys", "group_keys", "key_filter", "member"]

_BASE = 0x9E3779B97F4A7C15  # odd


class Powers:
    """B**j and B**-j modulo 2**64 (as int64), for j up to the longest sequence seen (grown on demand)."""

    def __init__(self) -> None:
        self.up = self.down = np.ones(1, dtype=np.int64)

    def ensure(self, length: int) -> None:
        if len(self.up) > length:
            return
        size = max(2 * len(self.up), length + 1)
        mask, inverse = (1 << 64) - 1, pow(_BASE, -1, 1 << 64)
        up, down = [1], [1]
        for _ in range(size - 1):
            up.append(up[-1] * _BASE & mask)
            down.append(down[-1] * inverse & mask)
        self.up = np.array(up, dtype=np.uint64).view(np.int64)
        self.down = np.array(down, dtype=np.uint64).view(np.int64)


POWERS = Powers()


def group_keys(tokens: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Keys of the sequences tokens[starts[k]: starts[k] + lengths[k]] (consecutive, non-empty)."""
    POWERS.ensure(int(lengths.max(initial=0)))
    position = np.arange(len(tokens)) - np.repeat(starts, lengths)
    return np.add.reduceat((tokens.astype(np.int64) + 1) * POWERS.up[position], starts)


def key_filter(keys: np.ndarray) -> np.ndarray:
    """A bit table that most keys outside `keys` miss: membership tests search only what hits it
    (most readings tested are not words, and a binary search per key costs more than the rest)."""
    size = 1 << max(10, min(24, int(len(keys)).bit_length() + 4))  # 8-16 slots per key
    table = np.zeros(size, dtype=bool)
    table[keys & (size - 1)] = True
    return table


def member(keys: np.ndarray, sorted_keys: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Which of `keys` are in `sorted_keys` (`table`: its _filter)."""
    out = table[keys & (len(table) - 1)]
    maybe = np.flatnonzero(out)
    if len(maybe):
        found = np.minimum(np.searchsorted(sorted_keys, keys[maybe]), len(sorted_keys) - 1)
        out[maybe] = sorted_keys[found] == keys[maybe]
    return out


class WordKeys:
    """A vocabulary as a sorted array of spelling keys: ``known(keys)`` says which keys are words of it.

    `words`: the vocabulary's words (characters of `vocab`; others are skipped).
    """

    def __init__(self, words: Iterable[str], vocab: Vocabulary) -> None:
        ids = {t: i for i, t in enumerate(vocab.tokens) if len(t) == 1}
        spelled = [w for w in words if w and all(c in ids for c in w)]
        self.keys = np.zeros(0, np.int64)
        if spelled:
            codes = np.frombuffer("".join(spelled).encode("utf-32-le"), dtype=np.uint32)
            table = np.full(int(codes.max()) + 1, -1, dtype=np.int64)
            for c, i in ids.items():
                if ord(c) < len(table):
                    table[ord(c)] = i
            lengths = np.fromiter(map(len, spelled), dtype=np.int64, count=len(spelled))
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
            self.keys = np.unique(group_keys(table[codes], starts, lengths))
        self.filter = key_filter(self.keys)

    def known(self, keys: np.ndarray) -> np.ndarray:
        return member(keys, self.keys, self.filter)
