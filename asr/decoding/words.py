"""From a CTC path to words: spans of tokens between separators, their text, times and confidences.

Shared by the greedy and the beam-search decoder, so that both cut words, time them and score their
confidence the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from asr.decoding.confidence import WordScorer, word_confidences
from asr.decoding.hypothesis import Word
from asr.text import Vocabulary

__all__ = ["make_words", "scored_confidences", "spell_words", "word_spans"]


def word_spans(tokens: Sequence[int], separator: int) -> list[tuple[int, int]]:
    """Words as maximal runs of non-separator tokens: [start, end) ranges of `tokens`."""
    spans: list[tuple[int, int]] = []
    start, n = 0, len(tokens)
    while start < n:
        if tokens[start] == separator:
            start += 1
            continue
        end = start
        while end < n and tokens[end] != separator:
            end += 1
        spans.append((start, end))
        start = end
    return spans


def spell_words(tokens: Sequence[int], vocab: Vocabulary) -> tuple[list[tuple[int, int]], list[str]]:
    """The words of a path's output tokens: their [start, end) spans in `tokens` and their text."""
    spans = word_spans(tokens, vocab.separator_id)
    chars = vocab.tokens
    return spans, ["".join(chars[t] for t in tokens[a:b]) for a, b in spans]


def scored_confidences(
    path: np.ndarray,
    row_log_probs: np.ndarray,
    swappable: np.ndarray,
    emitted: np.ndarray,
    spans: list[tuple[int, int]],
    texts: list[str],
    vocab: Vocabulary,
    scorer: WordScorer | Callable[[], WordScorer],
    confidence: str,
) -> list[float]:
    """The slower confidences, "full" or "local": :func:`~asr.decoding.confidence.word_confidences`.

    path (N,): token per row (a row is a frame, or a run of near-certain frames); row_log_probs (N, V):
    every token's log-probability at the row's frame; swappable (N,) bool: rows whose token may change
    in a competitor; emitted (K,): rows where the K output tokens start. `scorer`, or what it returns
    when it is a function (called only for a path with words, as building one may load an LM).
    """
    if not spans:
        return []
    if not isinstance(scorer, WordScorer):
        scorer = scorer()
    row_log_probs = np.minimum(row_log_probs, 0.0)  # garbage above 0 read as certainty
    return word_confidences(
        path,
        row_log_probs[np.arange(len(path)), path],
        row_log_probs,
        swappable,
        emitted,
        spans,
        texts,
        vocab.blank_id,
        vocab.separator_id,
        vocab.tokens,
        scorer,
        vocabulary_neighbours=confidence == "full",
    )


def make_words(
    texts: list[str],
    spans: list[tuple[int, int]],
    frames: np.ndarray,
    confidences: Sequence[float] | None,
    shift: float,
) -> tuple[Word, ...]:
    """Words with their times (frames (K,): the frame of each output token) and confidences (None: NaN)."""
    if confidences is None:
        confidences = [math.nan] * len(texts)
    frame_list = frames.tolist()
    return tuple(
        Word(text, frame_list[a] * shift, (frame_list[b - 1] + 1) * shift, float(conf))
        for text, (a, b), conf in zip(texts, spans, confidences)
    )
