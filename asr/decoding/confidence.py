"""Word confidences: how likely each word of a hypothesis is to be right, as a probability.

The default measure, ``confidence="fast"``, lives in :mod:`asr.decoding.fast_confidence`. The slower measures are opt-in (``DecoderConfig.confidence``): ``"local"`` scores each one-change
reading with the LM in the word's context (Python, per reading), ``"full"`` adds the vocabulary's
one-edit neighbours of every word with their CTC log-likelihood over the word's frames
(:func:`word_confidences`). They cost 2-9x the search (benchmarks/README.md). What they compute:

For every word w of the best path, the competitors are the words (or word sequences, or nothing) that the
same frames spell when the path changes in one place: one frame's token swapped for any other token
within `window` nats of it (blank and separator included, so deletions, insertions, splits and merges
count), and the frame-wise best tokens over the whole span. A competitor c scores

    Δ(c) = [acoustic log-prob of c's frames - of w's]
         + lm_weight · [LM log-prob of c, and of the next word after c, in w's left context - the same for w]
         + word_score · (words in c - 1) + unknown-word cost of c,

i.e. what the decoder's own objective says about trading w for c, the rest of the path kept. With
"full", when the decoder has a vocabulary, the words of it one edit away from w (a letter deleted,
inserted or replaced) compete too, whatever the frames' best tokens: their acoustic term is the CTC
log-likelihood of the span spelling c minus that of it spelling w (the forward algorithm over the
span). The confidence is w's share of the probability mass, ``1 / (1 + Σ_c exp Δ(c))``. Without an LM
it is acoustic only.

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
MASKED_LOGP = -1e4  # padding rows: every token but blank impossible
NEIGHBOUR_LM_MARGIN = 4.0  # nats: vocabulary neighbours within WINDOW + this acoustically are scored


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


def _one_edit_words(word: str, known: frozenset[str], letters: Sequence[str]) -> list[str]:
    """The words of `known` one edit (deletion; insertion or substitution of one of `letters`) away."""
    found = set()
    for i in range(len(word) + 1):
        head, tail = word[:i], word[i:]
        if tail:
            found.add(head + tail[1:])
        for ch in letters:
            found.add(head + ch + tail)
            if tail:
                found.add(head + ch + tail[1:])
    found.discard(word)
    return sorted(w for w in found if w and w in known)


def ctc_log_likelihoods(log_probs: np.ndarray, labels: Sequence[Sequence[int]], blank: int) -> np.ndarray:
    """log P(labels_k | frames) under CTC for each label sequence: the forward algorithm, batched.

    log_probs (K, T, V): one set of frames per sequence; labels: K non-empty token sequences → (K,)
    (-inf where one cannot fit in T frames).
    """
    k_count, longest = len(labels), max(len(seq) for seq in labels)
    states = 2 * longest + 1
    ext = np.full((k_count, states), blank, dtype=np.int64)  # blank, l1, blank, l2, ..., blank
    for k, seq in enumerate(labels):
        ext[k, 1 : 2 * len(seq) : 2] = seq
    ends = np.array([2 * len(seq) for seq in labels])  # index of each sequence's last (blank) state
    valid = np.arange(states)[None, :] <= ends[:, None]
    skip = np.zeros((k_count, states), dtype=bool)  # l_{s-2} -> l_s, allowed between different labels
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    emit = np.take_along_axis(log_probs, ext[:, None, :], axis=2).transpose(1, 0, 2)  # (T, K, S)
    alpha = np.full((k_count, states), -np.inf)
    alpha[:, :2] = emit[0, :, :2]
    alpha[~valid] = -np.inf
    none = np.full((k_count, 2), -np.inf)
    for t in range(1, emit.shape[0]):
        one_back = np.concatenate([none[:, :1], alpha[:, :-1]], axis=1)
        two_back = np.where(skip, np.concatenate([none, alpha[:, :-2]], axis=1), -np.inf)
        alpha = np.logaddexp(np.logaddexp(alpha, one_back), two_back) + emit[t]
        alpha[~valid] = -np.inf
    rows = np.arange(k_count)
    return np.logaddexp(alpha[rows, ends], alpha[rows, ends - 1])


def _neighbour_gains(
    spans: Sequence[tuple[int, int]],
    words: Sequence[str],
    row_log_probs: np.ndarray,
    scorer: WordScorer,
    chars: Sequence[str],
    blank: int,
    sep: int,
) -> list[dict[tuple[str, ...], float]]:
    """Per word: the acoustic gain (CTC log-likelihood of its span spelling c - spelling the word) of
    each vocabulary word c one edit away. `spans`: each word's [lo, hi) rows, separators around it
    included (none before the first word, none after the last). One batched forward pass for all words:
    shorter spans are padded with certain-blank rows, which leave every likelihood as it is."""
    out: list[dict[tuple[str, ...], float]] = [{} for _ in words]
    if scorer.known is None:
        return out
    # Further below than this, not even a strong LM preference gives a competitor mass that counts;
    # a letter never that likely in a span cannot be inserted or swapped in above it either.
    floor = -(WINDOW + NEIGHBOUR_LM_MARGIN)
    index = {c: t for t, c in enumerate(chars)}
    jobs: list[tuple[int, list[str]]] = []
    labels: list[list[int]] = []
    owners: list[int] = []
    for i, ((lo, hi), word) in enumerate(zip(spans, words)):
        if hi <= lo:
            continue
        likely = row_log_probs[lo:hi].max(axis=0) > floor
        letters = [c for t, c in enumerate(chars) if likely[t] and t not in (blank, sep)]
        neighbours = _one_edit_words(word, scorer.known, letters)
        if not neighbours:
            continue
        before = [sep] if i > 0 else []
        after = [sep] if i + 1 < len(words) else []
        jobs.append((i, neighbours))
        for w in (word, *neighbours):
            labels.append(before + [index[c] for c in w] + after)
            owners.append(i)
    if not jobs:
        return out
    length = max(spans[i][1] - spans[i][0] for i, _ in jobs)
    padded = np.full((len(words), length, row_log_probs.shape[1]), MASKED_LOGP, dtype=np.float32)
    padded[:, :, blank] = 0.0
    for i, _ in jobs:
        lo, hi = spans[i]
        padded[i, : hi - lo] = row_log_probs[lo:hi]
    with np.errstate(invalid="ignore"):
        scores = ctc_log_likelihoods(padded[owners], labels, blank)
    k = 0
    for i, neighbours in jobs:
        own, theirs = scores[k], scores[k + 1 : k + 1 + len(neighbours)]
        k += 1 + len(neighbours)
        if np.isfinite(own):
            out[i] = {(w,): float(g) for w, g in zip(neighbours, theirs - own) if g > floor}
    return out


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
    vocabulary_neighbours: bool = True,
) -> list[float]:
    """Confidence in [0, 1] of each word (`vocabulary_neighbours`: the vocabulary's one-edit
    neighbours compete too, when the scorer has a vocabulary).

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
    bounds = [
        (
            int(emitted[spans[i - 1][1] - 1]) + 1 if i > 0 else 0,
            int(emitted[spans[i + 1][0]]) if i + 1 < len(spans) else n,
        )
        for i in range(len(spans))
    ]
    if vocabulary_neighbours:
        neighbour_gains = _neighbour_gains(bounds, words, row_log_probs, scorer, chars, blank, sep)
    else:
        neighbour_gains = [{} for _ in words]
    for i, (lo, hi) in enumerate(bounds):
        k0, k1 = np.searchsorted(rows, lo), np.searchsorted(rows, hi)
        segment = path[lo:hi].tolist()
        competitors = neighbour_gains[i]
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
