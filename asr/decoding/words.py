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

__all__ = ["path_words", "word_spans"]


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


def path_words(
    path: np.ndarray,
    row_log_probs: np.ndarray,
    swappable: np.ndarray,
    emitted: np.ndarray,
    frames: np.ndarray,
    vocab: Vocabulary,
    scorer: WordScorer | Callable[[], WordScorer],
    frame_shift_s: float,
    confidence: str = "full",
) -> tuple[list[tuple[int, int]], tuple[Word, ...]]:
    """The words of a path, with their spans in the output tokens.

    path (N,): token per row (a row is a frame, or a run of near-certain frames); row_log_probs (N, V):
    every token's log-probability at the row's frame; swappable (N,) bool: rows whose token may change
    in a competitor; emitted (K,): rows where the K output tokens start; frames (K,): their frames in
    the model's output, which give the words' times. Confidences: :func:`~asr.decoding.confidence.word_confidences`
    with `scorer` (or what it returns when it is a function: called only for a path with words, as
    building one may load an LM); `confidence`: "full", "local" (no vocabulary neighbours) or "none"
    (NaN, nothing computed).
    """
    tokens = path[emitted].tolist()
    spans = word_spans(tokens, vocab.separator_id)
    if not spans:
        return spans, ()
    chars = vocab.tokens
    texts = ["".join(chars[t] for t in tokens[a:b]) for a, b in spans]
    if confidence == "none":
        return spans, _words(texts, spans, frames, [math.nan] * len(spans), frame_shift_s)
    if not isinstance(scorer, WordScorer):
        scorer = scorer()
    row_log_probs = np.minimum(row_log_probs, 0.0)  # garbage above 0 read as certainty
    confidences = word_confidences(
        path,
        row_log_probs[np.arange(len(path)), path],
        row_log_probs,
        swappable,
        emitted,
        spans,
        texts,
        vocab.blank_id,
        vocab.separator_id,
        chars,
        scorer,
        vocabulary_neighbours=confidence == "full",
    )
    return spans, _words(texts, spans, frames, confidences, frame_shift_s)


def _words(
    texts: list[str], spans: list[tuple[int, int]], frames: np.ndarray, confidences: list[float], shift: float
) -> tuple[Word, ...]:
    return tuple(
        Word(text, float(frames[a]) * shift, float(frames[b - 1] + 1) * shift, conf)
        for text, (a, b), conf in zip(texts, spans, confidences)
    )
