"""Word confidences: the CTC forward pass behind the vocabulary competitors, the one-edit neighbours,
and the `confidence` modes ("full", "local", "none")."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from asr.decoding import BeamSearchDecoder, DecoderConfig, GreedyDecoder, Word
from asr.decoding.confidence import _one_edit_words, ctc_log_likelihoods
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
        for mode in ("full", "local", "none")
    }
    assert {h.text for h in results.values()} == {"the cut sat"}
    assert all(math.isnan(w.confidence) for w in results["none"].words)
    assert all(0 < w.confidence <= 1 for mode in ("full", "local") for w in results[mode].words)
    # "cut" has "cat" one edit away in the vocabulary, 0.2 nats behind acoustically: both modes see it
    assert results["full"].words[1].confidence < 0.7 and results["local"].words[1].confidence < 0.7
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
