"""The LM's vocabulary (asr.lm.vocab), `asr lm build --vocab-size` and `asr lm eval` (asr.lm.evaluate)."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from test_lm import needs_lmplz

from asr.cli import main
from asr.lm import build_lm
from asr.lm.evaluate import perplexity, read_lines
from asr.lm.vocab import count_words, read_word_counts, select_vocabulary, spellable


def test_frequency_cut_keeps_the_most_frequent_words():
    counts = Counter({"the": 50, "cat": 10, "sat": 5, "mat": 1})
    assert select_vocabulary([counts], 2) == ["the", "cat"]
    assert select_vocabulary([counts], 10) == ["the", "cat", "sat", "mat"]
    assert select_vocabulary([counts], 10, min_count=1) == ["the", "cat", "sat"]


def test_each_source_weighs_the_same():
    big = Counter({"thee": 1000, "thou": 900, "ads": 1})
    small = Counter({"ads": 3, "buyer": 2})
    # by raw counts "ads" would be third; by share of each source it leads
    assert select_vocabulary([big, small], 3) == ["ads", "thee", "thou"]


def test_ties_are_broken_by_the_word_and_the_result_is_stable():
    counts = Counter({"b": 1, "a": 1, "c": 1})
    assert select_vocabulary([counts], 2) == ["a", "b"]


def test_words_the_decoder_cannot_spell_or_reserved_symbols_never_enter():
    counts = Counter(
        {"ok": 5, "<unk>": 9, "<s>": 9, "don't": 3, "'quote": 3, "x2": 3, "café": 3, "a" * 30: 3}
    )
    assert select_vocabulary([counts], 100) == ["ok", "don't"]
    assert select_vocabulary([counts], 100, exclude=["ok"]) == ["don't"]
    assert spellable("o'brien's") and not spellable("end'")


def test_select_rejects_nonsense():
    with pytest.raises(ValueError, match="size"):
        select_vocabulary([Counter(a=1)], 0)
    with pytest.raises(ValueError, match="no words"):
        select_vocabulary([Counter()], 5)


def test_word_count_files(tmp_path):
    path = tmp_path / "freq.tsv"
    path.write_text("# comment\nthe\t12.5\ncat\t3\n\nlonely\nzero\t0\n")
    assert read_word_counts(path) == Counter({"the": 12.5, "cat": 3, "lonely": 1})
    path.write_text("the\tlots\n")
    with pytest.raises(ValueError, match="freq.tsv:1"):
        read_word_counts(path)
    assert count_words(["the cat", "the"]) == Counter({"the": 2, "cat": 1})


@needs_lmplz
def test_build_with_a_vocabulary_size(tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat\nthe dog sat on the log\nzyzzyva zyzzyva rare\n" * 5)
    freq = tmp_path / "freq.tsv"
    freq.write_text("the\t100\nbuyer\t50\ncushion\t40\nzyzzyva\t0.001\n")
    result = build_lm([text], tmp_path / "lm.arpa", 3, vocab_size=8, vocab_lists=[freq])
    words = (tmp_path / "lm.words.txt").read_text().split()
    assert result.words == len(words) == 8
    # 'buyer' and 'cushion' are in no text but frequent in the list: they get unigrams of their own
    assert {"the", "buyer", "cushion", "cat", "sat"} <= set(words)
    assert "rare" not in words and result.unk_rate and result.unk_rate > 0
    arpa = (tmp_path / "lm.arpa").read_text()
    assert "\tbuyer\t" in arpa and "\trare\t" not in arpa
    with pytest.raises(ValueError, match="vocab_size"):
        build_lm([text], tmp_path / "x.arpa", 3, vocab_lists=[freq])

    out = tmp_path / "cli.arpa"
    args = [
        "lm",
        "build",
        "--text",
        str(text),
        "--vocab-list",
        str(freq),
        "--vocab-size",
        "6",
        "-o",
        str(out),
    ]
    assert main(args) == 0
    assert "<unk>" in capsys.readouterr().out
    assert len(out.with_suffix(".words.txt").read_text().split()) == 6


@needs_lmplz
def test_perplexity_and_oov(tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 20)
    lm = tmp_path / "lm.arpa"
    build_lm([text], lm, 3)
    seen = perplexity(lm, ["the cat sat on the log"])
    assert seen.words == 6 and seen.oov == 0 and 1 < seen.perplexity < 10
    unseen = perplexity(lm, ["the cow sat on the mat"])
    assert unseen.oov == 1 and unseen.oov_rate == pytest.approx(1 / 6)
    # a lexicon smaller than the LM's vocabulary: its missing words count as OOV too
    assert perplexity(lm, ["the cat sat"], lexicon=["the", "sat"]).oov == 1

    manifest = tmp_path / "dev.jsonl"
    manifest.write_text(
        json.dumps({"id": "a", "audio": "a.wav", "duration": 1.0, "text": "The cat sat!"}) + "\n"
    )
    assert read_lines(manifest) == ["the cat sat"]
    table = tmp_path / "ppl.json"
    assert (
        main(["lm", "eval", "--lm", str(lm), "--text", str(manifest), str(text), "--json", str(table)]) == 0
    )
    rows = json.loads(table.read_text())
    assert [r["sentences"] for r in rows] == [1, 40] and rows[0]["oov_rate"] == 0
    assert "perplexity" in capsys.readouterr().out
