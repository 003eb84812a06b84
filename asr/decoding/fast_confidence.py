"""Word confidences, the default measure (``confidence="fast"``).

It (:func:`fast_confidences`) costs a fraction of the
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

The slower, opt-in measures are in :mod:`asr.decoding.confidence`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from asr.decoding.spelling_keys import POWERS, WordKeys, group_keys, key_filter

__all__ = ["ALTERNATIVES", "Alternatives", "Reading", "fast_confidences"]

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


# --- "fast": n-best agreement x one-change posterior, for a whole batch at once ----------------------


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
                self.keys = group_keys(path[letters], first, lengths)
                self.hyp = np.searchsorted(starts, letters[first], side="right") - 1
                # rows from the first letter to the separator after the last one (blanks included: a
                # one-letter word moved by a frame is still the same word)
                self.lo = letters[first] - starts[self.hyp]
                self.hi = separators[group[first]] - 1 - starts[self.hyp]
                self.utt = np.repeat(np.arange(len(utterances)), sizes)[self.hyp]
        self.joint = self._joint(self.keys, self.utt)
        self.order = np.argsort(self.joint)
        self.sorted = self.joint[self.order]
        self.filter = key_filter(self.sorted)

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
        POWERS.ensure(k + 3)
        up, down = POWERS.up, POWERS.down
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
