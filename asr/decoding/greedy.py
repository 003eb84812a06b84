"""Greedy (best-path) CTC decoding, batched: argmax per frame, collapse repeats, drop blanks."""

from __future__ import annotations

from typing import Any

import numpy as np

from asr.decoding._validate import as_log_probs
from asr.decoding.confidence import WordScorer
from asr.decoding.config import CONFIDENCE_MODES
from asr.decoding.hypothesis import Hypothesis
from asr.decoding.words import path_words
from asr.text import Vocabulary


class GreedyDecoder:
    """Best-path decoding of CTC output.

    `frame_shift_s` is the duration of one output frame in seconds (feature hop × subsampling); it
    turns frame indices into word times. Words and confidences come from :func:`~asr.decoding.words.path_words`
    (the confidence is the word's posterior against its one-change neighbours, acoustics only).
    """

    def __init__(self, vocab: Vocabulary, frame_shift_s: float = 0.03, confidence: str = "full") -> None:
        if not isinstance(vocab, Vocabulary):
            raise ValueError(f"vocab must be a Vocabulary, got {type(vocab).__name__}")
        if confidence not in CONFIDENCE_MODES:
            raise ValueError(f"confidence must be one of {', '.join(CONFIDENCE_MODES)}, got {confidence!r}")
        self.vocab = vocab
        self.frame_shift_s = frame_shift_s
        self.confidence = confidence  # greedy has no vocabulary: "full" and "local" are the same

    def decode(self, log_probs: Any, lengths: Any = None) -> list[list[Hypothesis]]:
        """log_probs (B, T, V) numpy array or tensor, lengths (B,) → one single-element n-best list each."""
        log_probs, lengths = as_log_probs(log_probs, lengths, self.vocab)
        batch, frames, _ = log_probs.shape
        best = log_probs.argmax(axis=-1)  # (B, T)
        best_logp = np.take_along_axis(log_probs, best[..., None], axis=-1)[..., 0]  # (B, T)
        valid = np.arange(frames)[None, :] < lengths[:, None]
        previous = np.concatenate(
            [np.full((batch, 1), self.vocab.blank_id, best.dtype), best[:, :-1]], axis=1
        )
        emit = valid & (best != previous) & (best != self.vocab.blank_id)
        scores = np.where(valid, best_logp, 0.0).sum(axis=1, dtype=np.float64)
        results = []
        for b in range(batch):
            positions = np.flatnonzero(emit[b])
            tokens = best[b, positions].tolist()
            text = "".join(self.vocab.tokens[t] for t in tokens)
            # Every frame may change in a competitor; the confidence is acoustic only.
            _, words = path_words(
                best[b, : lengths[b]],
                log_probs[b, : lengths[b]],
                np.ones(int(lengths[b]), dtype=bool),
                positions,
                positions,
                self.vocab,
                _ACOUSTIC_ONLY,
                self.frame_shift_s,
                self.confidence,
            )
            results.append([Hypothesis(text.strip(), tuple(tokens), float(scores[b]), words)])
        return results


_ACOUSTIC_ONLY = WordScorer(None, 0.0, 0.0, None)
