"""Greedy (best-path) CTC decoding, batched: argmax per frame, collapse repeats, drop blanks."""

from __future__ import annotations

from typing import Any

import numpy as np

from asr.decoding._validate import as_log_probs
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
            confidences = np.exp(best_logp[b, positions]).tolist()
            text = "".join(self.vocab.tokens[t] for t in tokens)
            words = self._words(tokens, positions.tolist(), confidences)
            results.append([Hypothesis(text.strip(), tuple(tokens), float(scores[b]), words)])
        return results

    def _words(self, tokens: list[int], frames: list[int], confidences: list[float]) -> tuple[Word, ...]:
        """Group emitted characters into words with start/end times and mean character confidence."""
        words: list[Word] = []
        chars: list[str] = []
        start = end = 0
        probs: list[float] = []
        for token, frame, conf in zip([*tokens, self.vocab.separator_id], [*frames, -1], [*confidences, 0.0]):
            if token == self.vocab.separator_id:
                if chars:
                    words.append(
                        Word(
                            "".join(chars),
                            start * self.frame_shift_s,
                            (end + 1) * self.frame_shift_s,
                            sum(probs) / len(probs),
                        )
                    )
                chars, probs = [], []
                continue
            if not chars:
                start = frame
            chars.append(self.vocab.tokens[token])
            probs.append(conf)
            end = frame
        return tuple(words)
