"""The LM's vocabulary (the decoder's lexicon): the most frequent words across several sources.

Each source (a text file, or a word-frequency list) counts as much as any other: a word's score is the
mean over the sources of its share of that source's words, so a large source cannot crowd out the words
of a small one (the Bible's "thee" against everyday speech). :func:`select_vocabulary` keeps the `size`
best-scoring words that the decoder can spell (``a-z`` and apostrophes inside words).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["UNK", "count_words", "read_word_counts", "select_vocabulary", "spellable"]

UNK = "<unk>"
# What the character model can output as one word: letters, apostrophes only between letters.
_SPELLABLE = re.compile(r"[a-z]+(?:'[a-z]+)*")
MAX_WORD_LENGTH = 24


def spellable(word: str) -> bool:
    return len(word) <= MAX_WORD_LENGTH and _SPELLABLE.fullmatch(word) is not None


def count_words(lines: Iterable[str]) -> Counter[str]:
    """Word counts of already-normalized lines."""
    counts: Counter[str] = Counter()
    for line in lines:
        counts.update(line.split())
    return counts


def read_word_counts(path: str | os.PathLike) -> Counter[str]:
    """A word-frequency list: ``word<TAB>count`` (any positive number: a count or a frequency) a line;
    a line with a word alone counts 1. Blank lines and ``#`` comments are skipped."""
    counts: Counter[str] = Counter()
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            try:
                value = float(fields[1]) if len(fields) > 1 else 1.0
            except ValueError:
                raise ValueError(f"{path}:{n}: expected 'word<TAB>count', got {line.strip()!r}") from None
            if value > 0:
                counts[fields[0]] += value
    return counts


def select_vocabulary(
    sources: Sequence[Mapping[str, float]],
    size: int,
    *,
    min_count: float = 0,
    exclude: Iterable[str] = (),
) -> list[str]:
    """The `size` words with the highest mean relative frequency over `sources`, best first (ties by the
    word, so the result is the same on every run).

    A word needs a count above `min_count` in at least one source; words the decoder cannot spell and
    those in `exclude` (e.g. ``<unk>``, ``<s>``) never enter.
    """
    if size < 1:
        raise ValueError(f"vocabulary size must be >= 1, got {size}")
    sources = [s for s in sources if s]
    if not sources:
        raise ValueError("no words to choose a vocabulary from")
    excluded = set(exclude) | {UNK, "<s>", "</s>"}
    scores: dict[str, float] = {}
    eligible: set[str] = set()
    for counts in sources:
        total = float(sum(counts.values()))
        for word, count in counts.items():
            scores[word] = scores.get(word, 0.0) + count / total
            if count > min_count:
                eligible.add(word)
    ranked = sorted(
        (w for w in eligible if w not in excluded and spellable(w)), key=lambda w: (-scores[w], w)
    )
    return ranked[:size]
