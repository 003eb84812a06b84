"""Greedy (best-path) CTC decoding, batched: argmax per frame, collapse repeats, drop blanks."""

from __future__ import annotations

import numpy as np
import torch

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

    def decode(
        self, log_probs: torch.Tensor | np.ndarray, lengths: torch.Tensor | np.ndarray | None = None
    ) -> list[list[Hypothesis]]:
        """log_probs (B, T, V), lengths (B,) → one single-element n-best list per utterance."""
        log_probs, lengths = as_log_probs(log_probs, lengths, self.vocab)
        best_logp, best = log_probs.max(dim=-1)  # (B, T)
        frames = torch.arange(best.shape[1], device=best.device)
        valid = frames[None, :] < lengths[:, None]
        previous = torch.nn.functional.pad(best[:, :-1], (1, 0), value=self.vocab.blank_id)
        emit = valid & (best != previous) & (best != self.vocab.blank_id)
        scores = (best_logp * valid).sum(dim=1)
        # One host transfer for the whole batch; the loop below runs per utterance, never per frame.
        best, emit, best_logp, scores = best.cpu(), emit.cpu(), best_logp.cpu(), scores.cpu()
        results = []
        for b in range(best.shape[0]):
            positions = emit[b].nonzero().squeeze(1)
            tokens = best[b, positions].tolist()
            confidences = best_logp[b, positions].exp().tolist()
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
