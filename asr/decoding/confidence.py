"""Word confidences: the posterior of each word of the best path against its local competitors.

For every word w of the best path, the competitors are the words (or word sequences, or nothing) that the
same frames spell when the path changes in one place: one frame's token swapped for any other token
within `window` nats of it (blank and separator included, so deletions, insertions, splits and merges
count), and the frame-wise best tokens over the whole span. A competitor c scores

    Δ(c) = [acoustic log-prob of c's frames - of w's]
         + lm_weight · [LM log-prob of c, and of the next word after c, in w's left context - the same for w]
         + word_score · (words in c - 1) + unknown-word cost of c,

i.e. what the decoder's own objective says about trading w for c, the rest of the path kept. The
confidence is w's share of the probability mass, ``1 / (1 + Σ_c exp Δ(c))``: the word's posterior in a
lattice made of the best path and its one-change neighbours. It is high when no neighbouring path
comes close, whether the acoustics or the LM rule the others out, and it is the probability the
decoder itself gives the word among those, so it can be read as a probability (benchmarks/README.md
reports how well it is calibrated). Without an LM it is acoustic only.

The span of word w runs from just after the previous word's last character to just before the next
word's first character (separators and blanks around w included).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["WordScorer", "word_confidences"]

# An unknown competitor word pays this on top of the LM's own <unk> log-probability. Softer than the
# search's unk_score (-8 by default): the search's value is tuned for WER, and with it every out-of-
# vocabulary reading counts as impossible, so words the LM forced over the acoustics look certain.
UNKNOWN_WORD_COST = -3.0
WINDOW = 8.0  # nats: tokens further below a frame's path token are not tried as swaps


class WordScorer:
    """Word-level part of Δ: weighted KenLM scores (if any), word score, unknown-word cost.

    `model`: a ``kenlm.Model`` or None; `weight`: multiplies log10 LM scores; `known`: the vocabulary
    (None: every word is known).
    """

    def __init__(self, model: Any, weight: float, word_score: float, known: frozenset[str] | None) -> None:
        self.model = model
        self.weight = weight
        self.word_score = word_score
        self.known = known
        self._kenlm = None
        if model is not None:
            import kenlm

            self._kenlm = kenlm

    def states(self, words: Sequence[str]) -> list[Any] | None:
        """LM state before each word (and after the last): the left contexts."""
        if self.model is None:
            return None
        kenlm, model = self._kenlm, self.model
        state = kenlm.State()
        model.BeginSentenceWrite(state)
        out = [state]
        for word in words:
            nxt = kenlm.State()
            model.BaseScore(state, word, nxt)
            out.append(nxt)
            state = nxt
        return out

    def score(self, states: list[Any] | None, words: Sequence[str], i: int, seq: Sequence[str]) -> float:
        """Score of `seq` in place of words[i], the following word's LM score included."""
        value = self.word_score * len(seq)
        if self.known is not None:
            value += sum(UNKNOWN_WORD_COST for w in seq if w not in self.known)
        if states is None:
            return value
        kenlm, model = self._kenlm, self.model
        state = states[i]
        total = 0.0
        for word in seq:
            nxt = kenlm.State()
            total += model.BaseScore(state, word, nxt)
            state = nxt
        total += model.BaseScore(state, words[i + 1] if i + 1 < len(words) else "</s>", kenlm.State())
        return value + self.weight * total


def _collapse(tokens: Sequence[int], blank: int, sep: int, chars: Sequence[str]) -> tuple[str, ...]:
    """CTC-collapse a token path and split it into words."""
    out: list[str] = []
    prev = blank
    for t in tokens:
        if t != prev and t != blank:
            out.append(chars[t])
        prev = t
    return tuple(w for w in "".join(out).split(chars[sep]) if w)


def word_confidences(
    path: np.ndarray,
    row_lp: np.ndarray,
    row_log_probs: np.ndarray,
    swappable: np.ndarray,
    emitted: np.ndarray,
    spans: Sequence[tuple[int, int]],
    words: Sequence[str],
    blank: int,
    sep: int,
    chars: Sequence[str],
    scorer: WordScorer,
) -> list[float]:
    """Confidence in [0, 1] of each word.

    path (N,): the best path's token per row (a row is a frame, or a run of near-certain frames);
    row_lp (N,): its log-probability there; row_log_probs (N, V): every token's log-probability at the
    row's frame; swappable (N,) bool: rows whose token may change (runs of near-certain frames may not);
    emitted (K,): rows where the K output tokens start; spans: [start, end) of each word in those K;
    words: the words' text.
    """
    if not spans:
        return []
    n = len(path)
    delta = row_log_probs - row_lp[:, None]  # (N, V): what a swap at a row costs acoustically
    delta[np.arange(n), path] = -np.inf
    delta[~swappable] = -np.inf
    rows, alts = np.nonzero(delta > -WINDOW)
    gains = delta[rows, alts]
    best = row_log_probs.argmax(axis=1)
    differs = np.flatnonzero((best != path) & swappable)
    states = None
    out: list[float] = []
    for i in range(len(spans)):
        lo = int(emitted[spans[i - 1][1] - 1]) + 1 if i > 0 else 0
        hi = int(emitted[spans[i + 1][0]]) if i + 1 < len(spans) else n
        k0, k1 = np.searchsorted(rows, lo), np.searchsorted(rows, hi)
        if k0 == k1:
            out.append(1.0)
            continue
        segment = path[lo:hi].tolist()
        competitors: dict[tuple[str, ...], float] = {}
        for r, x, g in zip(rows[k0:k1].tolist(), alts[k0:k1].tolist(), gains[k0:k1].tolist()):
            swapped = segment.copy()
            swapped[r - lo] = x
            seq = _collapse(swapped, blank, sep, chars)
            if seq != (words[i],) and competitors.get(seq, -math.inf) < g:
                competitors[seq] = g
        d0, d1 = np.searchsorted(differs, lo), np.searchsorted(differs, hi)
        if d1 - d0 > 1:  # the frame-wise best over the span (one swap alone is covered above)
            swapped = np.array(segment)
            where = differs[d0:d1]
            swapped[where - lo] = best[where]
            seq = _collapse(swapped.tolist(), blank, sep, chars)
            gain = float((row_log_probs[where, best[where]] - row_lp[where]).sum())
            if seq != (words[i],) and competitors.get(seq, -math.inf) < gain:
                competitors[seq] = gain
        if not competitors:
            out.append(1.0)
            continue
        if states is None:
            states = scorer.states(words)
        own = scorer.score(states, words, i, (words[i],))
        d = np.array([g + scorer.score(states, words, i, seq) - own for seq, g in competitors.items()])
        top = max(0.0, float(d.max()))
        out.append(float(math.exp(-top) / (math.exp(-top) + np.exp(d - top).sum())))
    return out
