"""What every decoder returns: hypotheses with words, times and confidences."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Word:
    """One recognised word; times in seconds from the start of the decoded audio."""

    text: str
    start_s: float
    end_s: float
    confidence: float


@dataclass(frozen=True)
class Hypothesis:
    """One decoding result: text, token ids (blanks and repeats removed), score, words."""

    text: str
    tokens: tuple[int, ...]
    score: float
    words: tuple[Word, ...] = field(default_factory=tuple)
