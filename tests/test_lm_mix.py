"""asr.lm.mix: the static linear mixture of ARPA LMs, and `asr lm build --mix`."""

from __future__ import annotations

import math

import kenlm
import pytest
from test_lm import needs_lmplz

from asr.cli import main
from asr.lm.mix import estimate_weights, mix_arpa, mixture_word_probs, read_arpa


def write_bigram_arpa(path, unigrams: dict[str, float], bigrams: dict[tuple[str, str], float]) -> None:
    """A normalised backoff bigram LM: `unigrams` (probabilities summing to 1 over the words, </s>
    and <unk>), explicit `bigrams`, and the backoffs that make every context sum to one."""
    assert abs(sum(unigrams.values()) - 1) < 1e-9
    backoff = {}
    for h in {h for h, _ in bigrams}:
        seen = [w for g, w in bigrams if g == h]
        left = 1 - sum(bigrams[h, w] for w in seen)
        backoff[h] = math.log10(left / (1 - sum(unigrams[w] for w in seen)))
    lines = ["\\data\\", f"ngram 1={len(unigrams) + 1}", f"ngram 2={len(bigrams)}", "", "\\1-grams:"]
    lines.append(f"-99\t<s>\t{backoff.get('<s>', 0.0):.9f}")
    lines += [f"{math.log10(p):.9f}\t{w}\t{backoff.get(w, 0.0):.9f}" for w, p in unigrams.items()]
    lines += ["", "\\2-grams:"]
    lines += [f"{math.log10(p):.9f}\t{h} {w}" for (h, w), p in bigrams.items()]
    path.write_text("\n".join([*lines, "", "\\end\\", ""]))


@pytest.fixture
def two_lms(tmp_path):
    a, b = tmp_path / "a.arpa", tmp_path / "b.arpa"
    write_bigram_arpa(
        a,
        {"the": 0.3, "cat": 0.2, "dog": 0.1, "sat": 0.15, "</s>": 0.2, "<unk>": 0.05},
        {("<s>", "the"): 0.7, ("the", "cat"): 0.6, ("cat", "sat"): 0.8, ("sat", "</s>"): 0.9},
    )
    # b lacks "dog" and has a word a lacks ("mat"): each gets a share of the other's <unk>
    write_bigram_arpa(
        b,
        {"the": 0.25, "cat": 0.1, "mat": 0.2, "sat": 0.15, "</s>": 0.2, "<unk>": 0.1},
        {("<s>", "the"): 0.5, ("the", "mat"): 0.5, ("the", "cat"): 0.2, ("mat", "</s>"): 0.6},
    )
    return a, b


def conditional(model: kenlm.Model, h: str, w: str) -> float:
    """p(w | h) through kenlm's own query of the written file."""
    if h == "<s>":
        return (
            10 ** model.score(w, bos=True, eos=w == "</s>")
            if w != "</s>"
            else 10 ** model.score("", bos=True)
        )
    if w == "</s>":
        return 10 ** (model.score(h, bos=False, eos=True) - model.score(h, bos=False, eos=False))
    return 10 ** (model.score(f"{h} {w}", bos=False, eos=False) - model.score(h, bos=False, eos=False))


def test_mixture_is_normalised_and_exact_on_listed_ngrams(tmp_path, two_lms):
    a, b = two_lms
    out = tmp_path / "mix.arpa"
    counts = mix_arpa([a, b], [0.3, 0.7], out)
    assert counts == {1: 8, 2: 6}  # <s> <unk> </s> the cat dog mat sat; the union of the bigrams
    model = kenlm.Model(str(out))
    words = ["the", "cat", "dog", "mat", "sat", "<unk>"]
    for h in ["<s>", *words]:
        total = sum(conditional(model, h, w) for w in [*words, "</s>"])
        assert total == pytest.approx(1.0, abs=1e-5), h
    lms = [read_arpa(a), read_arpa(b)]
    # listed n-grams: exactly the mixture of each LM's probability (with its backoff where it lacks it)
    for sentence in ["the cat sat", "the mat", "the dog"]:
        mixed = mixture_word_probs(lms, [0.3, 0.7], [sentence])
        full = [10**lp for lp, _, _ in model.full_scores(sentence)]
        for ngram, exact, static in zip(_ngrams(sentence), mixed, full, strict=True):
            listed = any(ngram in lm.probs[len(ngram) - 1] for lm in lms)
            if listed:
                assert static == pytest.approx(exact, rel=1e-5), ngram
    # "dog" is not in b: b gives it half of its <unk> (two parts: dog, <unk>)
    assert 10 ** lms[1].logprob(("dog",)) == pytest.approx(0.05)
    assert 10 ** lms[0].logprob(("mat",)) == pytest.approx(0.025)


def _ngrams(sentence: str) -> list[tuple[str, ...]]:
    words = ["<s>", *sentence.split(), "</s>"]
    return [tuple(words[i - 1 : i + 1]) for i in range(1, len(words))]


def test_estimated_weights_favour_the_lm_that_fits(two_lms):
    lms = [read_arpa(p) for p in two_lms]
    weights = estimate_weights(lms, ["the mat"] * 5 + ["the cat sat"])
    assert sum(weights) == pytest.approx(1.0)
    assert weights[1] > 0.6
    weights = estimate_weights(lms, ["the cat sat"] * 5 + ["the dog"])
    assert weights[0] > 0.6


def test_mix_rejects_bad_weights(tmp_path, two_lms):
    with pytest.raises(ValueError, match="sum to 1"):
        mix_arpa(list(two_lms), [0.5, 0.6], tmp_path / "x.arpa")


@needs_lmplz
def test_cli_build_with_mix(tmp_path, capsys):
    main_text, other, dev = tmp_path / "main.txt", tmp_path / "other.txt", tmp_path / "dev.txt"
    main_text.write_text("the cat sat on the mat\nthe dog ran\na cat ran\n" * 10)
    other.write_text("the cat ran home\nthe bird sang\n" * 10)  # "bird", "sang", "home": not in main
    dev.write_text("the cat ran home\n")
    out = tmp_path / "lm.arpa"
    assert main(["lm", "build", "--text", str(main_text), "--mix", f"{other}:0.4", "-o", str(out)]) == 0
    assert "weights 0.600 / 0.400" in capsys.readouterr().out
    words = (tmp_path / "lm.words.txt").read_text().split()
    assert sorted(words) == sorted({"the", "cat", "sat", "on", "mat", "dog", "ran", "a"})
    model = kenlm.Model(str(out))
    total = sum(conditional(model, "cat", w) for w in [*words, "<unk>", "</s>"])
    assert total == pytest.approx(1.0, abs=1e-4)
    plain = tmp_path / "plain.arpa"
    assert main(["lm", "build", "--text", str(main_text), "-o", str(plain)]) == 0
    assert model.score("the cat ran") > kenlm.Model(str(plain)).score("the cat ran")

    tuned = tmp_path / "tuned.bin"
    args = [
        "lm",
        "build",
        "--text",
        str(main_text),
        "--mix",
        str(other),
        "--mix-tune",
        str(dev),
        "-o",
        str(tuned),
    ]
    assert main(args) == 0
    assert "a mixture with weights" in capsys.readouterr().out and tuned.stat().st_size > 0
    assert main(["lm", "build", "--text", str(main_text), "--mix", str(other), "-o", str(tuned)]) == 2
    assert "mixture weight" in capsys.readouterr().err
