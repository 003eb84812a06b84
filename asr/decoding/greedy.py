"""Greedy (best-path) CTC decoding, batched: argmax per frame, collapse repeats, drop blanks."""

from __future__ import annotations

from typing import Any

import numpy as np

from asr.decoding._validate import as_log_probs
from asr.decoding.confidence import WordScorer, word_confidences
from asr.decoding.hypothesis import Hypothesis, Word
from asr.text import Vocabulary


class GreedyDecoder:
    """Best-path decoding of CTC output.

    `frame_shift_s` is the duration of one output frame in seconds (feature hop × subsampling); it
    turns frame indices into word times.
    """

    def __init__(self, vocab: Vocabulary, frame_shift_s: float = 0.03) -> None:
        if not isinstance(vocab, Vocabulary):
            raise ValueError(f"vocab must be a Vocabulary, got {type(vocab).__name__}")
        self.vocab = vocab
        self.frame_shift_s = frame_shift_s

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
            words = self._words(tokens, positions, log_probs[b, : lengths[b]], best[b, : lengths[b]])
            results.append([Hypothesis(text.strip(), tuple(tokens), float(scores[b]), words)])
        return results

    def _words(
        self, tokens: list[int], positions: np.ndarray, log_probs: np.ndarray, path: np.ndarray
    ) -> tuple[Word, ...]:
        """Group emitted characters (at frames `positions`) into words with times and confidences.

        log_probs (T, V) and path (T,): the utterance's frames and their best tokens. The confidence is
        the word's posterior against its one-change neighbours, acoustics only
        (:func:`asr.decoding.confidence.word_confidences`).
        """
        sep = self.vocab.separator_id
        spans: list[tuple[int, int]] = []
        start, n = 0, len(tokens)
        while start < n:
            if tokens[start] == sep:
                start += 1
                continue
            end = start
            while end < n and tokens[end] != sep:
                end += 1
            spans.append((start, end))
            start = end
        if not spans:
            return ()
        chars = self.vocab.tokens
        texts = ["".join(chars[t] for t in tokens[a:b]) for a, b in spans]
        row_log_probs = np.minimum(log_probs, 0.0)
        confidences = word_confidences(
            path,
            row_log_probs[np.arange(len(path)), path],
            row_log_probs,
            np.ones(len(path), dtype=bool),
            positions,
            spans,
            texts,
            self.vocab.blank_id,
            sep,
            chars,
            _ACOUSTIC_ONLY,
        )
        shift = self.frame_shift_s
        return tuple(
            Word(text, float(positions[a]) * shift, float(positions[b - 1] + 1) * shift, confidence)
            for text, (a, b), confidence in zip(texts, spans, confidences)
        )


_ACOUSTIC_ONLY = WordScorer(None, 0.0, 0.0, None)
