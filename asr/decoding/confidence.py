"""Word confidences: how likely each word of a hypothesis is to be right, as a probability.

Two measures. The default, ``confidence="fast"`` (:func:`fast_confidences`), costs a fraction of the
search and is the product of two posteriors:

* **n-best agreement**: the share of the probability mass of the search's best `ALTERNATIVES` final
  hypotheses (scores softmax-normalised) held by those that have the same word at an overlapping place.
  It carries the language model's view: a word the LM and the acoustics both support against every
  alternative the search kept gets 1, a word the hypotheses disagree on gets its share.
* **one-change posterior**: ``1 / (1 + Σ_c exp Δ(c))`` over the readings c that the word's frames give
  when the path changes in one place (one frame's token swapped for any token within `FAST_WINDOW`
  nats of it; blank and separator included, so deletions, insertions, splits and merges count; a swap
  that only moves a boundary reads the same words and is no competitor). Δ(c) is the acoustic gain of
  the swap, plus ``word_score`` per word c adds, plus `UNKNOWN_COMPETITOR` per word of c outside the
  decoder's vocabulary (its lexicon, or the LM's words; none without one). Readings that a final
  hypothesis holds at the same place are left out: the agreement has them, scored with the LM. It
  catches what the search never kept: a word whose frames hesitate with a vocabulary word nearby. No LM
  is queried: readings are compared through hashes of their spellings, all swaps of a batch at once.

A search without alternatives (greedy decoding) has the second alone.

The slower measures are opt-in (``DecoderConfig.confidence``): ``"local"`` scores each one-change
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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from asr.text import Vocabulary

__all__ = [
    "ALTERNATIVES",
    "Alternatives",
    "Reading",
    "WordKeys",
    "WordScorer",
    "fast_confidences",
    "word_confidences",
]

# An unknown competitor word pays this on top of the LM's own <unk> log-probability. Softer than the
# search's unk_score (-8 by default): the search's value is tuned for WER, and with it every out-of-
# vocabulary reading counts as impossible, so words the LM forced over the acoustics look certain.
UNKNOWN_WORD_COST = -3.0
WINDOW = 8.0  # nats: tokens further below a frame's path token are not tried as swaps
MASKED_LOGP = -1e4  # padding rows: every token but blank impossible
NEIGHBOUR_LM_MARGIN = 4.0  # nats: vocabulary neighbours within WINDOW + this acoustically are scored
# "fast": what a one-change reading pays per word outside the vocabulary. Chosen on the two sets of
# benchmarks/confidence.py (-4 ... -12 tried; AUROC moved by at most 0.02 between -5 and -8).
UNKNOWN_COMPETITOR = -6.0
# "fast": swaps further than this below the path's token are not tried (on those sets, 5 nats instead
# of 8 lowered AUROC by 0.002 at most and leaves half as many swaps), and readings whose score is more
# than NEGLIGIBLE below the word's are dropped before the costlier steps (exp(-12) = 6e-6 of its mass).
FAST_WINDOW = 5.0
NEGLIGIBLE = -12.0
# "fast": the n-best agreement reads the search's best final hypotheses, up to this many (on those
# sets 8 gave AUROC within 0.002 of all of them, about 13 on average; 1, the best path alone, 0.02-0.04
# less).
ALTERNATIVES = 8


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


# --- "fast": n-best agreement x one-change posterior, for a whole batch at once ----------------------
#
# Words are compared through polynomial hashes of their token ids, Σ (token + 1) B**j modulo 2**64:
# int64 arithmetic that wraps around, so no modulo is ever taken, and B odd, so B**-j exists and the
# hash of any stretch of a sequence follows from prefix sums. A reading's spelling is hashed from those
# of the path's emitted tokens: no string is ever built.

_BASE = 0x9E3779B97F4A7C15  # odd


class _Powers:
    """B**j and B**-j modulo 2**64 (as int64), for j up to the longest sequence seen (grown on demand)."""

    def __init__(self) -> None:
        self.up = self.down = np.ones(1, dtype=np.int64)

    def ensure(self, length: int) -> None:
        if len(self.up) > length:
            return
        size = max(2 * len(self.up), length + 1)
        mask, inverse = (1 << 64) - 1, pow(_BASE, -1, 1 << 64)
        up, down = [1], [1]
        for _ in range(size - 1):
            up.append(up[-1] * _BASE & mask)
            down.append(down[-1] * inverse & mask)
        self.up = np.array(up, dtype=np.uint64).view(np.int64)
        self.down = np.array(down, dtype=np.uint64).view(np.int64)


_POWERS = _Powers()


def _group_keys(tokens: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Keys of the sequences tokens[starts[k]: starts[k] + lengths[k]] (consecutive, non-empty)."""
    _POWERS.ensure(int(lengths.max(initial=0)))
    position = np.arange(len(tokens)) - np.repeat(starts, lengths)
    return np.add.reduceat((tokens.astype(np.int64) + 1) * _POWERS.up[position], starts)


def _filter(keys: np.ndarray) -> np.ndarray:
    """A bit table that most keys outside `keys` miss: membership tests search only what hits it
    (most readings tested are not words, and a binary search per key costs more than the rest)."""
    size = 1 << max(10, min(24, int(len(keys)).bit_length() + 4))  # 8-16 slots per key
    table = np.zeros(size, dtype=bool)
    table[keys & (size - 1)] = True
    return table


def _member(keys: np.ndarray, sorted_keys: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Which of `keys` are in `sorted_keys` (`table`: its _filter)."""
    out = table[keys & (len(table) - 1)]
    maybe = np.flatnonzero(out)
    if len(maybe):
        found = np.minimum(np.searchsorted(sorted_keys, keys[maybe]), len(sorted_keys) - 1)
        out[maybe] = sorted_keys[found] == keys[maybe]
    return out


class WordKeys:
    """A vocabulary as a sorted array of spelling keys: ``known(keys)`` says which keys are words of it.

    `words`: the vocabulary's words (characters of `vocab`; others are skipped).
    """

    def __init__(self, words: Iterable[str], vocab: Vocabulary) -> None:
        ids = {t: i for i, t in enumerate(vocab.tokens) if len(t) == 1}
        spelled = [w for w in words if w and all(c in ids for c in w)]
        self.keys = np.zeros(0, np.int64)
        if spelled:
            codes = np.frombuffer("".join(spelled).encode("utf-32-le"), dtype=np.uint32)
            table = np.full(int(codes.max()) + 1, -1, dtype=np.int64)
            for c, i in ids.items():
                if ord(c) < len(table):
                    table[ord(c)] = i
            lengths = np.fromiter(map(len, spelled), dtype=np.int64, count=len(spelled))
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
            self.keys = np.unique(_group_keys(table[codes], starts, lengths))
        self.filter = _filter(self.keys)

    def known(self, keys: np.ndarray) -> np.ndarray:
        return _member(keys, self.keys, self.filter)


@dataclass(frozen=True)
class Reading:
    """One hypothesis to score: its path over the search's rows, where each row's log-probabilities
    are, whether each row may change, how many of its words to score, and its n-best list.

    path (n,): token per row; rows (n,): index of each row's log-probabilities in the batch's array;
    swappable (n,) bool: rows whose token may change (runs of near-certain frames may not);
    words: the hypothesis's words are the first `words` letter runs of the path; alternatives: the
    final hypotheses of its utterance (None: no n-best agreement), `rank` its index among them.
    """

    path: np.ndarray
    rows: np.ndarray
    swappable: np.ndarray
    words: int
    alternatives: Alternatives | None = None
    rank: int = 0


@dataclass(frozen=True)
class Alternatives:
    """An utterance's final hypotheses, best first: their paths over its rows ((n,) each, the same n)
    and their scores."""

    paths: Sequence[np.ndarray]
    scores: Sequence[float]


def fast_confidences(
    readings: Sequence[Reading],
    log_probs: np.ndarray,
    blank: int,
    sep: int,
    vocabulary: WordKeys | None,
    word_score: float,
    window: float = FAST_WINDOW,
) -> list[np.ndarray]:
    """The "fast" confidence of each word of each reading: n-best agreement x one-change posterior.

    log_probs (R, V): the rows the readings index (log-probabilities; values above 0 are read as 0).
    `vocabulary`: what counts as a known word (None: every reading is). Returns one (words,) array per
    reading, in [0, 1].
    """
    if not readings:
        return []
    beams = _Beams(readings, blank, sep)
    change = _one_change_posteriors(readings, log_probs, blank, sep, vocabulary, word_score, window, beams)
    agreement = beams.agreement(readings)
    return [np.clip(c * a if a is not None else c, 0.0, 1.0) for c, a in zip(change, agreement)]


def _joined(paths: Sequence[np.ndarray], sep: int, blank: int) -> tuple[np.ndarray, np.ndarray]:
    """The paths end to end, a separator and a blank row after each, and where each starts: no word
    runs from one path into the next, each path ends before a separator and starts after a blank (as
    it would alone: a separator it starts with is emitted, one it ends with is not)."""
    lengths = np.fromiter((len(p) + JOINT for p in paths), dtype=np.int64, count=len(paths))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return _interleaved(paths, np.array([sep, blank], dtype=np.int64)), starts


JOINT = 2  # rows between two joined paths


def _interleaved(pieces: Sequence[np.ndarray], between: np.ndarray) -> np.ndarray:
    """pieces[0], between, pieces[1], between, ...: one array (one call, however many pieces)."""
    return np.concatenate([x for piece in pieces for x in (piece, between)]) if len(pieces) else between[:0]


def _emissions(path: np.ndarray, blank: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows where a token is emitted (not blank, not a repeat) and the token before each row."""
    previous = np.empty_like(path)
    previous[:1] = blank
    previous[1:] = path[:-1]
    return (path != blank) & (path != previous), previous


def _expand(begin: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (k, i) with begin[k] <= i < end[k], as two arrays."""
    counts = end - begin
    owner = np.repeat(np.arange(len(begin)), counts)
    return owner, np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts) + begin[owner]


class _Beams:
    """The words of every final hypothesis of the batch's utterances: spelling key, utterance, hypothesis,
    rows of its first and last letter; searchable by (utterance, spelling)."""

    def __init__(self, readings: Sequence[Reading], blank: int, sep: int) -> None:
        self.utterance: dict[int, int] = {}  # id(alternatives) -> utterance index
        utterances: list[Alternatives] = []
        for rd in readings:
            if rd.alternatives is not None and id(rd.alternatives) not in self.utterance:
                self.utterance[id(rd.alternatives)] = len(utterances)
                utterances.append(rd.alternatives)
        sizes = np.array([len(u.paths) for u in utterances], dtype=np.int64)
        self.first_hyp = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        empty = np.zeros(0, dtype=np.int64)
        self.keys = self.hyp = self.lo = self.hi = self.utt = self.probability = empty
        if utterances:
            # Each hypothesis's probability among its utterance's final ones (softmax of the scores).
            scores = np.concatenate([np.asarray(u.scores, dtype=np.float64) for u in utterances])
            scores = np.exp(scores - np.repeat(np.maximum.reduceat(scores, self.first_hyp), sizes))
            self.probability = scores / np.repeat(np.add.reduceat(scores, self.first_hyp), sizes)
            # Every hypothesis's path end to end: one array.
            path, starts = _joined([p for u in utterances for p in u.paths], sep, blank)
            emits, _ = _emissions(path, blank)
            letters = np.flatnonzero(emits & (path != sep))
            if len(letters):
                separators = np.flatnonzero(emits & (path == sep))  # one after every word (the joints)
                group = np.searchsorted(separators, letters)  # letters between separators: a word
                first = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]]))
                lengths = np.diff(np.append(first, len(letters)))
                self.keys = _group_keys(path[letters], first, lengths)
                self.hyp = np.searchsorted(starts, letters[first], side="right") - 1
                # rows from the first letter to the separator after the last one (blanks included: a
                # one-letter word moved by a frame is still the same word)
                self.lo = letters[first] - starts[self.hyp]
                self.hi = separators[group[first]] - 1 - starts[self.hyp]
                self.utt = np.repeat(np.arange(len(utterances)), sizes)[self.hyp]
        self.joint = self._joint(self.keys, self.utt)
        self.order = np.argsort(self.joint)
        self.sorted = self.joint[self.order]
        self.filter = _filter(self.sorted)

    @staticmethod
    def _joint(keys: np.ndarray, utt: np.ndarray) -> np.ndarray:
        # One int64 for (utterance, spelling), wrapping around (a collision is as unlikely as one of
        # the spelling keys').
        return keys * np.int64(0x1F3D5B79) + utt

    def matches(
        self, keys: np.ndarray, utt: np.ndarray, lo: np.ndarray, hi: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pairs (query k, word w) where word w has query k's spelling, in its utterance, and its rows
        [lo, hi] overlap the query's."""
        joint = self._joint(keys, utt)
        maybe = np.flatnonzero(self.filter[joint & (len(self.filter) - 1)])
        begin = np.searchsorted(self.sorted, joint[maybe], side="left")
        end = np.searchsorted(self.sorted, joint[maybe], side="right")
        query, at = _expand(begin, end)
        query = maybe[query]
        word = self.order[at]
        overlap = (lo[query] <= self.hi[word]) & (hi[query] >= self.lo[word])
        return query[overlap], word[overlap]

    def agreement(self, readings: Sequence[Reading]) -> list[np.ndarray | None]:
        """Per reading with alternatives, per word: the probability of the final hypotheses that have
        the word too (same spelling, overlapping rows)."""
        owners = [j for j, rd in enumerate(readings) if rd.alternatives is not None]
        out: list[np.ndarray | None] = [None] * len(readings)
        if not owners:
            return out
        hyp = np.array(
            [self.first_hyp[self.utterance[id(readings[j].alternatives)]] + readings[j].rank for j in owners]
        )
        # a hypothesis's words are consecutive in the table
        begin = np.searchsorted(self.hyp, hyp, side="left")
        count = np.minimum(
            np.searchsorted(self.hyp, hyp, side="right") - begin, [readings[j].words for j in owners]
        )
        reading, words = _expand(begin, begin + count)
        query, word = self.matches(self.keys[words], self.utt[words], self.lo[words], self.hi[words])
        # Each hypothesis counts once per word, however many of its words match.
        pairs = np.unique(query * len(self.probability) + self.hyp[word])
        query, hyps = pairs // len(self.probability), pairs % len(self.probability)
        mass = np.bincount(query, weights=self.probability[hyps], minlength=len(words))
        for j, piece in zip(owners, np.split(mass, np.cumsum(count)[:-1])):
            out[j] = piece
        return out


def _one_change_posteriors(
    readings: Sequence[Reading],
    log_probs: np.ndarray,
    blank: int,
    sep: int,
    vocabulary: WordKeys | None,
    word_score: float,
    window: float,
    beams: _Beams,
) -> list[np.ndarray]:
    """Per reading and word: ``1 / (1 + Σ exp(gain + word-level cost))`` over the readings one swap
    makes, but those the final hypotheses hold at the same place (n-best agreement counts them)."""
    path, starts = _joined([r.path for r in readings], sep, blank)
    n = len(path)
    rows = _interleaved([r.rows for r in readings], np.zeros(JOINT, dtype=np.int64))
    swappable = _interleaved([r.swappable for r in readings], np.zeros(JOINT, dtype=bool))  # joints stay
    utterance = np.array(
        [-1 if r.alternatives is None else beams.utterance[id(r.alternatives)] for r in readings]
    )
    emits, previous = _emissions(path, blank)
    emitted = np.flatnonzero(emits)
    tokens = path[emitted]
    k = len(tokens)
    is_sep = tokens == sep
    # Words are runs of letters between separators of the emitted sequence.
    word_start = ~is_sep & np.concatenate([[True], is_sep[:-1]])
    starts_before = np.concatenate([[0], np.cumsum(word_start)])  # (k + 1,): words starting before p
    n_words = int(starts_before[-1])
    first_word = starts_before[np.searchsorted(emitted, starts)]
    mass = np.zeros(n_words + 1)  # the last slot collects what belongs to no word
    candidates = np.flatnonzero(swappable)
    if len(candidates) and len(log_probs):
        # Every swap within `window` nats of the path's token, at a row that may change.
        row_lp = np.minimum(log_probs[rows[candidates]], 0.0)
        own = row_lp[np.arange(len(candidates)), path[candidates]]
        gain = row_lp - own[:, None]
        gain[np.arange(len(candidates)), path[candidates]] = -np.inf
        c, x = np.nonzero(gain > -window)
        g = gain[c, x]
        r = candidates[c]
        # A swap at row r changes what rows r and r + 1 emit; the rest of the sequence stays.
        following = path[np.minimum(r + 1, n - 1)]  # (a path's last row is followed by a joint)
        was_r, was_next = emits[r], emits[np.minimum(r + 1, n - 1)]
        is_r = (x != blank) & (x != previous[r])
        is_next = (following != blank) & (following != x)
        rem1 = np.where(was_r, path[r], np.where(was_next, following, -1))
        rem2 = np.where(was_r & was_next, following, -1)
        ins1 = np.where(is_r, x, np.where(is_next, following, -1))
        ins2 = np.where(is_r & is_next, following, -1)
        q = (np.cumsum(emits) - emits)[r]  # where in the emitted sequence row r's emission is, or goes
        q_end = q + was_r + was_next  # the emissions removed: [q, q_end), replaced by ins1, ins2
        # The smallest edit: what the removed and the inserted tokens share at either end stays (a
        # separator that only moves must not join the words on both sides of it into the reading).
        last_rem, last_ins = np.where(rem2 >= 0, rem2, rem1), np.where(ins2 >= 0, ins2, ins1)
        tail_kept = (last_rem >= 0) & (last_rem == last_ins)
        rem1 = np.where(tail_kept & (rem2 < 0), -1, rem1)
        ins1, ins2 = np.where(tail_kept & (ins2 < 0), -1, ins1), np.where(tail_kept, -1, ins2)
        q_end = q_end - tail_kept
        head_kept = (rem1 >= 0) & (rem1 == ins1)
        ins1, ins2 = np.where(head_kept, ins2, ins1), np.where(head_kept, -1, ins2)
        q = q + head_kept
        # A boundary that only moved changes no token: no reading.
        moved = np.flatnonzero((q_end > q) | (ins1 >= 0))
        r, g, ins1, ins2, q, q_end = r[moved], g[moved], ins1[moved], ins2[moved], q[moved], q_end[moved]

        # The reading replaces the words around the change: letters back to the previous separator,
        # forward to the next one. Its one or two words (a separator put in splits it), hashed.
        position = np.arange(k)
        last_sep = np.maximum.accumulate(np.where(is_sep, position, -1))
        next_sep = np.append(np.minimum.accumulate(np.where(is_sep, position, k)[::-1])[::-1], k)
        left = last_sep[np.maximum(q - 1, 0)] + 1 if k else q
        left = np.where(q > 0, left, 0)
        right = next_sep[q_end]
        _POWERS.ensure(k + 3)
        up, down = _POWERS.up, _POWERS.down
        prefix = np.concatenate([[0], np.cumsum((tokens + 1) * up[:k])])
        head = (prefix[q] - prefix[left]) * down[left]
        tail = (prefix[right] - prefix[q_end]) * down[q_end]
        has1, has2 = ins1 >= 0, ins2 >= 0
        sep1, sep2 = ins1 == sep, ins2 == sep
        t1, t2 = np.where(has1, ins1 + 1, 0), np.where(has2, ins2 + 1, 0)
        n1, n2 = has1.astype(np.int64), has2.astype(np.int64)
        left_len, right_len = q - left, right - q_end
        whole = head + t1 * up[left_len] + t2 * up[left_len + n1] + tail * up[left_len + n1 + n2]
        # head | t2 + tail, or head + t1 | tail, or one word
        key1 = np.where(sep1, head, np.where(sep2, head + t1 * up[left_len], whole))
        key2 = np.where(sep1, t2 + tail * up[n2], tail)
        len1 = np.where(sep1, left_len, np.where(sep2, left_len + 1, left_len + n1 + n2 + right_len))
        len2 = np.where(sep1, n2 + right_len, np.where(sep2, right_len, 0))
        word1, word2 = len1 > 0, len2 > 0

        # The path's words i0..i1 it replaces.
        own_start = np.flatnonzero(word_start)
        own_end = next_sep[own_start]
        own_keys = np.append((prefix[own_end] - prefix[own_start]) * down[own_start], 0)
        own_known = vocabulary.known(own_keys[:-1]) if vocabulary is not None else np.ones(n_words, bool)
        known_before = np.concatenate([[0], np.cumsum(own_known)])
        i0 = starts_before[left]
        i1 = starts_before[right] - 1
        words_o = np.maximum(i1 - i0 + 1, 0)
        words_c = word1.astype(np.int64) + word2
        # (indices clipped for readings that replace no word; what they read is not used)
        at0, at1 = np.clip(i0, 0, n_words), np.clip(i1, 0, n_words)
        same = (
            ((words_o == 0) & (words_c == 0))
            | ((words_o == 1) & (words_c == 1) & (np.where(word1, key1, key2) == own_keys[at0]))
            | ((words_o == 2) & word1 & word2 & (key1 == own_keys[at0]) & (key2 == own_keys[at1]))
        )
        unknown_o = words_o - (known_before[np.maximum(i1 + 1, i0)] - known_before[i0])
        delta = g + word_score * (words_c - words_o) - UNKNOWN_COMPETITOR * unknown_o
        # Drop what cannot count (before the look-ups: a reading's unknown words only lower it).
        live = np.flatnonzero((delta > NEGLIGIBLE) & ~same)
        r, delta, i0, i1, words_o = r[live], delta[live], i0[live], i1[live], words_o[live]
        key1, key2, word1, word2, at0, at1 = (
            key1[live],
            key2[live],
            word1[live],
            word2[live],
            at0[live],
            at1[live],
        )
        if vocabulary is not None:
            unknown = (word1 & ~vocabulary.known(key1)).astype(np.int64) + (word2 & ~vocabulary.known(key2))
            delta += UNKNOWN_COMPETITOR * unknown
            delta[delta <= NEGLIGIBLE] = -np.inf

        # Readings that a final hypothesis holds at the same place are in the n-best agreement already.
        reading = np.searchsorted(starts, r, side="right") - 1
        utt = utterance[reading]
        # rows of each word, as _Beams has them: first letter to the separator after it (one of the
        # joints at the latest)
        own_lo = np.append(emitted[own_start], 0)
        own_hi = np.append(emitted[own_end] - 1, 0)
        lo = np.where(words_o > 0, own_lo[at0], r) - starts[reading]
        hi = np.where(words_o > 0, own_hi[at1], r) - starts[reading]
        ask = np.flatnonzero((utt >= 0) & (delta > NEGLIGIBLE))
        if len(beams.keys) and len(ask):
            # each word of the reading must be there: ask for both, count what is found
            both = np.concatenate([ask, ask])
            present = np.concatenate([word1[ask], word2[ask]])
            keys = np.concatenate([key1[ask], key2[ask]])
            query, _ = beams.matches(keys[present], utt[both][present], lo[both][present], hi[both][present])
            found = np.zeros(len(both), dtype=bool)
            found[np.flatnonzero(present)[np.unique(query)]] = True
            held_count = (found | ~present).reshape(2, -1).all(axis=0) & present.reshape(2, -1).any(axis=0)
            delta[ask[held_count]] = -np.inf
        weight = np.exp(np.minimum(delta, 50.0))
        # The words replaced compete with the reading; a word put in between two, with both (of the
        # same hypothesis).
        a = np.where(words_o > 0, i0, i0 - 1)
        b = np.where(words_o > 1, i1, np.where(words_o == 0, i0, -1))
        b = np.where(b == a, -1, b)
        last_word = np.append(first_word[1:], n_words)
        for idx in (a, b):
            idx = np.where((idx >= first_word[reading]) & (idx < last_word[reading]), idx, n_words)
            mass += np.bincount(idx, weights=weight, minlength=n_words + 1)
    posterior = 1.0 / (1.0 + mass[:n_words])
    return [posterior[w : w + rd.words] for w, rd in zip(first_word.tolist(), readings)]
