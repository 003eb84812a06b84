"""Greedy (best-path) CTC decoding, batched: argmax per frame, collapse repeats, drop blanks."""

from __future__ import annotations

from typing import Any

import numpy as np

from asr.decoding._validate import as_log_probs
from asr.decoding.confidence import WordScorer
from asr.decoding.config import CONFIDENCE_MODES, DEFAULT_CONFIDENCE
from asr.decoding.fast_confidence import Reading, fast_confidences
from asr.decoding.hypothesis import Hypothesis
from asr.decoding.words import make_words, scored_confidences, spell_words
from asr.text import Vocabulary


class GreedyDecoder:
    """Best-path decoding of CTC output.

    `frame_shift_s` is the duration of one output frame in seconds (feature hop × subsampling); it
    turns frame indices into word times. Words and confidences come from :mod:`asr.decoding.words`
    (the confidence is the word's posterior against its one-change neighbours, acoustics only: "fast",
    "full" and "local" measure the same thing here, "fast" for the whole batch at once).
    """

    def __init__(
        self, vocab: Vocabulary, frame_shift_s: float = 0.03, confidence: str = DEFAULT_CONFIDENCE
    ) -> None:
        if not isinstance(vocab, Vocabulary):
            raise ValueError(f"vocab must be a Vocabulary, got {type(vocab).__name__}")
        if confidence not in CONFIDENCE_MODES:
            raise ValueError(f"confidence must be one of {', '.join(CONFIDENCE_MODES)}, got {confidence!r}")
        self.vocab = vocab
        self.frame_shift_s = frame_shift_s
        self.confidence = confidence

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
        drafts = []
        for b in range(batch):
            positions = np.flatnonzero(emit[b])
            tokens = best[b, positions].tolist()
            spans, texts = spell_words(tokens, self.vocab)
            drafts.append((positions, tokens, spans, texts))
        mode = self.confidence
        if mode == "fast":
            # Every frame may change in a competitor; no vocabulary, no alternatives: acoustics only.
            readings = [
                Reading(
                    best[b, : lengths[b]],
                    b * frames + np.arange(lengths[b]),
                    np.ones(lengths[b], bool),
                    len(d[2]),
                )
                for b, d in enumerate(drafts)
            ]
            flat = log_probs.reshape(-1, log_probs.shape[-1])
            sep, blank = self.vocab.separator_id, self.vocab.blank_id
            confidences: list = fast_confidences(readings, flat, blank, sep, None, 0.0)
        elif mode == "none":
            confidences = [None] * batch
        else:
            confidences = [
                scored_confidences(
                    best[b, : lengths[b]],
                    log_probs[b, : lengths[b]],
                    np.ones(int(lengths[b]), dtype=bool),
                    positions,
                    spans,
                    texts,
                    self.vocab,
                    _ACOUSTIC_ONLY,
                    mode,
                )
                for b, (positions, _, spans, texts) in enumerate(drafts)
            ]
        results = []
        for b, (positions, tokens, spans, texts) in enumerate(drafts):
            text = "".join(self.vocab.tokens[t] for t in tokens)
            words = make_words(texts, spans, positions, confidences[b], self.frame_shift_s)
            results.append([Hypothesis(text.strip(), tuple(tokens), float(scores[b]), words)])
        return results


_ACOUSTIC_ONLY = WordScorer(None, 0.0, 0.0, None)
