"""asr.metrics: corpus WER/CER, error counts and aligned error lines, checked against hand counts."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest

from asr.metrics import ErrorStats, align, cer, error_stats, wer


def test_wer_by_hand() -> None:
    # "the cat sat" -> "the bat sat down": 1 substitution + 1 insertion over 3 words.
    assert wer(["the cat sat"], ["the bat sat down"]) == pytest.approx(2 / 3)
    assert wer(["a b c d"], ["a b c d"]) == 0.0
    assert wer(["a b c d"], [""]) == 1.0  # 4 deletions
    assert wer(["a b"], ["x y z w"]) == 2.0  # 2 substitutions + 2 insertions: WER can exceed 1


def test_wer_is_corpus_level_not_mean_of_utterances() -> None:
    # 1 error in 1 word + 0 errors in 9 words = 1/10, not the mean (1 + 0) / 2.
    refs = ["hello", "one two three four five six seven eight nine"]
    hyps = ["hullo", "one two three four five six seven eight nine"]
    assert wer(refs, hyps) == pytest.approx(0.1)


def test_cer_by_hand() -> None:
    assert cer(["abc"], ["abd"]) == pytest.approx(1 / 3)
    # "ab cd" (5 characters with the space) -> "abcd": one deletion.
    assert cer(["ab cd"], ["abcd"]) == pytest.approx(1 / 5)
    assert cer(["kitten"], ["sitting"]) == pytest.approx(3 / 6)


def test_whitespace_is_normalized() -> None:
    assert wer(["  the   cat "], ["the cat"]) == 0.0
    assert cer(["the   cat"], [" the cat"]) == 0.0


def test_error_stats_counts() -> None:
    stats = error_stats(
        ["the cat sat on the mat", "hello world"], ["the bat sat on mat", "hello world again"]
    )
    # utterance 1: cat->bat (S), "the" deleted (D); utterance 2: "again" inserted (I).
    assert stats == ErrorStats(substitutions=1, deletions=1, insertions=1, hits=6, ref_units=8)
    assert stats.errors == 3
    assert stats.rate == pytest.approx(3 / 8) and stats.ref_units == 8
    # the names that said "word" whatever the unit are gone
    assert not hasattr(stats, "wer") and not hasattr(stats, "ref_words")
    chars = error_stats(["abc"], ["xbcd"], unit="char")
    assert chars == ErrorStats(substitutions=1, deletions=0, insertions=1, hits=2, ref_units=3)
    assert chars.rate == pytest.approx(2 / 3)


def test_error_stats_add_and_frozen() -> None:
    a = ErrorStats(1, 2, 3, 4, 7)
    assert a + ErrorStats(1, 0, 0, 1, 2) == ErrorStats(2, 2, 3, 5, 9)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.hits = 0  # type: ignore[misc]


def test_empty_references() -> None:
    # An empty reference makes every hypothesis word an insertion; the corpus still has 2 reference words.
    assert error_stats(["", "a b"], ["x y", "a b"]) == ErrorStats(0, 0, 2, 2, 2)
    assert wer(["", "a b"], ["x y", "a b"]) == 1.0
    assert cer(["", "ab"], ["x", "ab"]) == pytest.approx(1 / 2)
    # No reference words at all: perfect if nothing was said, otherwise unbounded.
    assert wer([""], [""]) == 0.0
    assert wer(["  "], ["x"]) == math.inf
    assert wer([], []) == 0.0


def test_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        wer(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="references"):
        cer(["a"], [])


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="single strings"):
        wer("the cat", "the cat")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unit"):
        error_stats(["a"], ["a"], unit="phone")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="hypothesis 0 is NoneType"):
        wer(["a"], [None])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("ref", "hyp", "expected"),
    [
        ("the cat sat", "the cat sat", "REF: the cat sat\nHYP: the cat sat"),
        ("the cat sat", "the bat sat down", "REF: the CAT sat ****\nHYP: the BAT sat DOWN"),
        ("a big dog", "a dog", "REF: a BIG dog\nHYP: a *** dog"),
        ("", "hello there", "REF: ***** *****\nHYP: HELLO THERE"),
        ("hello there", "", "REF: HELLO THERE\nHYP: ***** *****"),
        ("", "", "REF:\nHYP:"),
    ],
)
def test_align_words(ref: str, hyp: str, expected: str) -> None:
    assert align(ref, hyp) == expected


def test_align_chars() -> None:
    assert align("the cat", "the bat", unit="char") == "REF: the_Cat\nHYP: the_Bat"
    assert align("ab", "abc", unit="char") == "REF: ab*\nHYP: abC"


def test_align_columns_line_up() -> None:
    ref_line, hyp_line = align("a substitution here", "a sub here and more").splitlines()
    starts = [[m.start() for m in re.finditer(r"\S+", line)] for line in (ref_line, hyp_line)]
    assert starts[0] == starts[1]  # every column starts at the same offset on both lines
