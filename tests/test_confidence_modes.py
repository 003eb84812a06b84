"""Word confidences: the "fast" measure (its one-change readings against a brute-force enumeration,
its hashes, its n-best agreement), the CTC forward pass behind the "full" measure's vocabulary
competitors, the one-edit neighbours, and the `confidence` modes ("fast", "full", "local", "none")."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from asr.decoding import BeamSearchDecoder, DecoderConfig, GreedyDecoder, Word
from asr.decoding.confidence import _one_edit_words, ctc_log_likelihoods
from asr.decoding.fast_confidence import (
    NEGLIGIBLE,
    UNKNOWN_COMPETITOR,
    Alternatives,
    Reading,
    fast_confidences,
)
from asr.decoding.spelling_keys import WordKeys
from asr.formats import transcript_to_dict
from asr.text import Vocabulary
from asr.transcription import Transcript


def _collapse(path, blank):
    out, prev = [], blank
    for t in path:
        if t != prev and t != blank:
            out.append(t)
        prev = t
    return tuple(out)


def test_ctc_forward_equals_the_sum_over_every_alignment():
    rng = np.random.default_rng(0)
    frames, tokens = 5, 3  # blank = 0
    lp = np.log(rng.dirichlet(np.ones(tokens), size=frames))
    labels = [[1], [1, 2], [1, 1], [2, 1, 2], [1, 2, 1, 2, 1, 2]]  # the last cannot fit in 5 frames
    brute = {tuple(seq): -math.inf for seq in labels}
    for path in itertools.product(range(tokens), repeat=frames):
        key = _collapse(path, 0)
        if key in brute:
            brute[key] = np.logaddexp(brute[key], sum(lp[t, s] for t, s in enumerate(path)))
    got = ctc_log_likelihoods(np.broadcast_to(lp, (len(labels), *lp.shape)), labels, blank=0)
    for seq, value in zip(labels, got):
        assert value == pytest.approx(brute[tuple(seq)], abs=1e-9) or (
            value == brute[tuple(seq)] == -math.inf
        )
    # per-sequence frames (K, T, V) padded with certain-blank frames give the same numbers
    padded = np.full((len(labels), frames + 3, tokens), -1e4)
    padded[:, :, 0] = 0.0
    padded[:, :frames] = lp
    np.testing.assert_allclose(ctc_log_likelihoods(padded, labels, blank=0)[:-1], got[:-1], atol=1e-9)


def test_one_edit_neighbours_are_exactly_the_vocabulary_words_one_edit_away():
    known = frozenset({"and", "an", "ant", "band", "hand", "sand", "ad", "end", "a", "bandana"})
    assert _one_edit_words("and", known, "abcdefghijklmnopqrstuvwxyz") == [
        "ad",
        "an",
        "ant",
        "band",
        "end",
        "hand",
        "sand",
    ]
    # only the letters given are inserted or swapped in
    assert _one_edit_words("and", known, "t") == ["ad", "an", "ant"]


@pytest.fixture
def spelled():
    vocab = Vocabulary.english_characters()
    rng = np.random.default_rng(1)
    rows = [{"_": 0.97}]
    for ch in "the cut sat":
        rows += [{"u": 0.55, "a": 0.44} if ch == "u" else {ch: 0.95}, {"_": 0.96}]
    out = np.empty((len(rows), len(vocab)), np.float32)
    for t, probs in enumerate(rows):
        row = np.full(len(vocab), (1 - sum(probs.values())) / (len(vocab) - len(probs))) * rng.uniform(
            0.5, 1.5, len(vocab)
        )
        for tok, p in probs.items():
            row[0 if tok == "_" else vocab.tokens.index(tok)] = p
        out[t] = np.log(row / row.sum())
    return vocab, out[None]


def test_modes_keep_the_text_and_none_gives_nan_that_json_writes_as_null(spelled):
    vocab, log_probs = spelled
    lexicon = ["the", "cat", "cut", "sat", "set", "she"]
    results = {
        mode: BeamSearchDecoder(vocab, lexicon=lexicon, config=DecoderConfig(confidence=mode)).decode(
            log_probs
        )[0][0]
        for mode in ("fast", "full", "local", "none")
    }
    assert {h.text for h in results.values()} == {"the cut sat"}
    assert all(math.isnan(w.confidence) for w in results["none"].words)
    scored = ("fast", "full", "local")
    assert all(0 < w.confidence <= 1 for mode in scored for w in results[mode].words)
    # "cut" has "cat" one edit away in the vocabulary, 0.2 nats behind acoustically: every mode sees it
    assert all(results[mode].words[1].confidence < 0.7 for mode in scored)
    assert all(results[mode].words[0].confidence > 0.9 for mode in scored)
    greedy = GreedyDecoder(vocab, 0.03, confidence="none").decode(log_probs)[0][0]
    assert greedy.text == "the cut sat" and all(math.isnan(w.confidence) for w in greedy.words)
    words = tuple(Word(w.text, w.start_s, w.end_s, w.confidence) for w in results["none"].words)
    out = json.loads(json.dumps(transcript_to_dict(Transcript("the cut sat", (), words, 1.0))))
    assert [w["confidence"] for w in out["words"]] == [None, None, None]


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="confidence must be one of fast, full, local, none"):
        DecoderConfig(confidence="some")
    with pytest.raises(ValueError, match="confidence must be one of"):
        GreedyDecoder(Vocabulary.english_characters(), confidence="some")


# --- "fast": the one-change readings against a brute-force enumeration ---------------------------------

SEP, BLANK = 1, 0


def _emitted(path):
    """(token, row) of every emission of a path."""
    out, previous = [], BLANK
    for row, t in enumerate(path):
        if t != previous and t != BLANK:
            out.append((int(t), row))
        previous = t
    return out


def _words(emitted):
    words, current = [], []
    for t, _ in emitted:
        if t == SEP:
            if current:
                words.append(tuple(current))
            current = []
        else:
            current.append(t)
    if current:
        words.append(tuple(current))
    return words


def _brute_force(path, log_probs, known, word_score, window):
    """The one-change posterior of each word of `path`, by applying every swap to the whole path and
    collapsing it (no hashing, nothing vectorised). A swap at row r changes the emissions of rows r and
    r + 1 at most; of those, what both ends share stays (a separator that only moves is no change), and
    the words around the rest are compared."""
    before = _emitted(path)
    mass = np.zeros(len(_words(before)))
    for r in range(len(path)):
        for x in range(log_probs.shape[1]):
            g = log_probs[r, x] - log_probs[r, path[r]]
            if x == path[r] or g <= -window:
                continue
            swapped = path.copy()
            swapped[r] = x
            after = _emitted(swapped)
            start = sum(row < r for _, row in before)
            old = [t for t, row in before if row in (r, r + 1)]
            new = [t for t, row in after if row in (r, r + 1)]
            if old and new and old[-1] == new[-1]:
                old, new = old[:-1], new[:-1]
            if old and new and old[0] == new[0]:
                old, new, start = old[1:], new[1:], start + 1
            tokens = [t for t, _ in before]
            left, right = start, start + len(old)  # widened to the separators around
            while left > 0 and tokens[left - 1] != SEP:
                left -= 1
            while right < len(tokens) and tokens[right] != SEP:
                right += 1
            replaced = _words(before[left:right])
            reading = _words([(t, 0) for t in tokens[left:start] + new + tokens[start + len(old) : right]])
            if reading == replaced:
                continue
            delta = g + word_score * (len(reading) - len(replaced))
            delta += UNKNOWN_COMPETITOR * (
                sum(w not in known for w in reading) - sum(w not in known for w in replaced)
            )
            if delta <= NEGLIGIBLE:
                continue
            first = len(_words(before[:left]))
            owners = range(first, first + len(replaced)) if replaced else [first - 1, first]
            for i in owners:
                if 0 <= i < len(mass):
                    mass[i] += math.exp(delta)
    return 1.0 / (1.0 + mass)


def _random_path(rng, tokens, length):
    """A path of blanks, separators and letters (2 .. tokens - 1)."""
    kinds = rng.random(length)
    path = np.where(kinds < 0.35, BLANK, np.where(kinds < 0.45, SEP, rng.integers(2, tokens, length)))
    return path.astype(np.int64)


@pytest.mark.parametrize("seed", range(12))
def test_fast_one_change_posteriors_equal_a_brute_force_enumeration(seed):
    rng = np.random.default_rng(seed)
    tokens = 6  # blank, separator, 4 letters: short words repeat, so that readings are often words
    vocab = Vocabulary([Vocabulary.BLANK, " ", "a", "b", "c", "d"])
    readings, expected, rows = [], [], []
    offset = 0
    for _ in range(3):  # a batch of three hypotheses
        path = _random_path(rng, tokens, int(rng.integers(8, 25)))
        logits = rng.normal(0, 1.5, (len(path), tokens))
        logits[np.arange(len(path)), path] += 3.0
        log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        words = _words(_emitted(path))
        known = {w for w in words if rng.random() < 0.7} | {(2,), (3,), (2, 3), (4, 5)}
        expected.append((path, log_probs, known))
        rows.append(log_probs)
        readings.append(Reading(path, offset + np.arange(len(path)), np.ones(len(path), bool), len(words)))
        offset += len(path)
    # one vocabulary for the batch: the union (each reading checked against its own would differ)
    known = set().union(*(k for _, _, k in expected))
    keys = WordKeys(["".join(vocab.tokens[t] for t in w) for w in known], vocab)
    got = fast_confidences(readings, np.concatenate(rows), BLANK, SEP, keys, -0.7, window=4.0)
    for (path, log_probs, _), values in zip(expected, got):
        want = _brute_force(path, log_probs, known, -0.7, 4.0)
        np.testing.assert_allclose(values, want, rtol=1e-9, atol=1e-12)
    # each reading alone gives what it gives in the batch
    for reading, (path, log_probs, _), values in zip(readings, expected, got):
        alone = Reading(path, np.arange(len(path)), reading.swappable, reading.words)
        (single,) = fast_confidences([alone], log_probs, BLANK, SEP, keys, -0.7, window=4.0)
        np.testing.assert_allclose(single, values, rtol=1e-12)


def test_word_keys_know_the_vocabulary_and_nothing_else():
    vocab = Vocabulary.english_characters()
    words = ["a", "an", "and", "band", "banana", "it's", "zz" * 20]
    keys = WordKeys([*words, "caf\u00e9", ""], vocab)  # unspellable and empty words are skipped
    assert len(keys.keys) == len(words)
    spelled = [np.array(vocab.encode(w)) for w in [*words, "na", "ab", "bnad", "banan", "zz" * 19]]
    from asr.decoding.spelling_keys import group_keys as _group_keys

    lengths = np.array([len(t) for t in spelled])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    found = keys.known(_group_keys(np.concatenate(spelled), starts, lengths))
    assert found.tolist() == [True] * len(words) + [False] * 5


def test_fast_agreement_is_the_mass_of_the_hypotheses_that_hold_the_word():
    a, b, c = 2, 3, 4
    best = np.array([a, 0, SEP, b, b, 0, SEP, c], dtype=np.int64)  # "a b c"
    second = np.array([a, 0, SEP, c, c, 0, SEP, c], dtype=np.int64)  # "a c c": word 2 differs
    third = np.array([0, a, SEP, 0, b, SEP, 0, c], dtype=np.int64)  # "a b c", a frame later
    scores = [0.0, math.log(0.5), math.log(0.25)]  # probabilities 4/7, 2/7, 1/7
    alternatives = Alternatives([best, second, third], scores)
    log_probs = np.zeros((8, 5))
    frozen = np.zeros(8, dtype=bool)  # no row may change: the one-change posterior is 1
    readings = [
        Reading(p, np.arange(8), frozen, 3, alternatives, rank) for rank, p in enumerate([best, second])
    ]
    got = fast_confidences(readings, log_probs, BLANK, SEP, None, 0.0)
    np.testing.assert_allclose(got[0], [1.0, 5 / 7, 1.0])
    np.testing.assert_allclose(got[1], [1.0, 2 / 7, 1.0])


def test_fast_is_the_default_everywhere_and_n_best_lists_get_it_too(spelled):
    vocab, log_probs = spelled
    assert DecoderConfig().confidence == "fast" == GreedyDecoder(vocab).confidence
    lexicon = ["the", "cat", "cut", "sat", "set", "she"]
    one = BeamSearchDecoder(vocab, lexicon=lexicon).decode(log_probs)[0]
    many = BeamSearchDecoder(vocab, lexicon=lexicon, nbest=3).decode(log_probs)[0]
    assert len(one) == 1 and len(many) > 1
    # the best hypothesis reads the same final hypotheses (the best 8 are read back either way)
    assert [w.confidence for w in many[0].words] == pytest.approx([w.confidence for w in one[0].words])
    for hyp in many:
        assert all(0.0 <= w.confidence <= 1.0 for w in hyp.words)
    # "the cat sat" (second) holds "cat" where the best holds "cut": the two share the mass (0.55/0.44)
    assert many[1].text == "the cat sat"
    assert many[0].words[1].confidence == pytest.approx(0.55 / 0.99, abs=0.01)
    assert many[0].words[1].confidence + many[1].words[1].confidence == pytest.approx(1.0, abs=0.01)
