"""The native hotword LM (asr/decoding/native, built by the package's install) against the Python LM it replaces:
the same n-best texts and scores on real speech (the shipped model on espeak-ng utterances, its KenLM
and word list), hotwords in and out of the LM vocabulary, phrases and overlapping hotwords; boosting
moves the answers towards the hotwords. ASR_NATIVE_DECODER=0 gives the Python LM.
"""

from __future__ import annotations

import random
import string

import pytest
from speech import require_espeak, speak

from asr.decoding import BeamSearchDecoder, DecoderConfig
from asr.decoding.hotwords import HotwordGraph
from asr.decoding.native import load_library
from asr.loading import shipped_model_dir

MODEL_DIR = shipped_model_dir()
SENTENCES = [
    "the cat sat on the mat",
    "open the door please",
    "we went to the market on monday",
    "turn left at the next light",
    "my dog likes long walks",
]


def _native_or_fail() -> None:
    lib, why = load_library()
    if lib is None:
        pytest.fail(f"the native hotword LM is not available: {why}")


@pytest.fixture(scope="module")
def speech():
    """(vocab, log_probs (B, T, V), lengths) of the shipped model on espeak-ng speech of SENTENCES."""
    require_espeak()
    import torch

    import asr
    from asr.inference import emissions, eval_mode

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = asr.load_model(MODEL_DIR / "model.pt")
        waves = []
        for i, text in enumerate(SENTENCES):
            waves.append(torch.from_numpy(speak(text, ("en-us", "en-gb")[i % 2], 150, model.sample_rate)))
        with eval_mode(model):
            log_probs, lengths = emissions(model, waves)
    finally:
        torch.set_num_threads(threads)
    return model.vocab, log_probs.numpy(), lengths.numpy()


def _decode(speech, monkeypatch, native: bool, **changes):
    vocab, log_probs, lengths = speech
    monkeypatch.setenv("ASR_NATIVE_DECODER", "1" if native else "0")
    config = DecoderConfig.from_file(MODEL_DIR / "decoder.json").replace(nbest=5, **changes)
    decoder = BeamSearchDecoder(vocab, config=config)
    engine = decoder._searcher.engine
    assert (engine.native is not None) == native and (engine.python_lm is not None) != native
    return decoder.decode(log_probs, lengths)


def _thousand_hotwords() -> dict[str, float]:
    rng = random.Random(1)
    from asr.decoding.lexicon import read_lexicon

    pool = [w for w in read_lexicon(MODEL_DIR / "lm3.words.txt") if w.isalpha()]
    hotwords = dict.fromkeys(rng.sample(pool, 600), 2.0)
    hotwords.update({"".join(rng.choices(string.ascii_lowercase, k=7)): 2.0 for _ in range(200)})
    hotwords.update({f"{rng.choice(pool)} {rng.choice(pool)}": 2.0 for _ in range(200)})
    hotwords.update({"walks": 2.0, "the mat": 3.0})
    return hotwords


HOTWORD_SETS = {
    "in-lm-words": {"sat": 2.0, "mat": 1.5, "walks": 2.0, "door": 1.0},
    "out-of-lm-words": {"kat": 6.0, "mutt": 4.0, "zorblax": 3.0},
    "phrases": {"the mat": 3.0, "next light": 2.0, "long walks": 2.5, "new york": 4.0},
    "overlapping": {"the cat": 2.0, "cat sat": 3.0, "the": 0.5, "cat sat on the mat": 4.0, "on the": 1.0},
    "negative-bonus": {"the": -1.0, "monday": -3.0},
    "thousand": _thousand_hotwords(),
}


@pytest.mark.parametrize("name", sorted(HOTWORD_SETS))
def test_native_gives_what_the_python_lm_gives(speech, monkeypatch, name):
    _native_or_fail()
    hotwords = HOTWORD_SETS[name]
    native = _decode(speech, monkeypatch, True, hotwords=hotwords)
    python = _decode(speech, monkeypatch, False, hotwords=hotwords)
    for ours, theirs in zip(native, python, strict=True):
        assert [h.text for h in ours] == [h.text for h in theirs]
        assert [h.score for h in ours] == pytest.approx([h.score for h in theirs], abs=1e-4)
        assert [h.tokens for h in ours] == [h.tokens for h in theirs]


def test_native_without_an_lm(speech, monkeypatch):
    _native_or_fail()
    hotwords = {"walks": 2.0, "the mat": 3.0, "kat": 5.0}
    for changes in ({"lm": None}, {"lm_weight": 0.0}):
        native = _decode(speech, monkeypatch, True, hotwords=hotwords, **changes)
        python = _decode(speech, monkeypatch, False, hotwords=hotwords, **changes)
        for ours, theirs in zip(native, python, strict=True):
            assert [(h.text, round(h.score, 4)) for h in ours] == [
                (h.text, round(h.score, 4)) for h in theirs
            ]


def test_native_boosting_moves_towards_the_hotwords(speech, monkeypatch):
    _native_or_fail()
    unboosted = _decode(speech, monkeypatch, True, hotwords={"zorblax": 1.0})
    plain = [h[0].text for h in unboosted]
    # the shipped model hears "the cat set on the met": a word and a phrase to fix
    assert " sat " not in plain[0] and not plain[0].endswith("on the mat"), plain[0]
    word = _decode(speech, monkeypatch, True, hotwords={"sat": 6.0})
    assert " sat " in word[0][0].text  # a word of the LM
    boosted = _decode(speech, monkeypatch, True, hotwords={"walks": 4.0, "the mat": 6.0, "sat": 6.0})
    texts = [h[0].text for h in boosted]
    assert texts[0].endswith("on the mat") and " sat " in texts[0]  # a phrase, and a word
    assert any("long walks" in t for t in texts[1:])  # boosted, or right already
    # The bonus is added to the hypothesis's score, once per occurrence, whatever the model heard
    # (the shipped model puts "long works" 2.3 above "long walks" before boosting).
    walks = "my dog likes long walks"
    walks_before = next(h.score for h in unboosted[4] if h.text == walks)
    walks_after = next(h.score for h in boosted[4] if h.text == walks)
    assert walks_after == pytest.approx(walks_before + 4.0, abs=1e-3)
    for before, after in zip(plain[1:], texts[1:], strict=True):
        # elsewhere the only change boosting may make is a word turning into the hotword "walks"
        changed = [(a, b) for a, b in zip(before.split(), after.split(), strict=True) if a != b]
        assert all(b == "walks" for _, b in changed), (before, after)
    oov = _decode(speech, monkeypatch, True, hotwords={"kat": 8.0})
    assert oov[0][0].text.split()[1] == "kat"  # a word outside the LM and the lexicon
    # a bonus that is too small to matter changes nothing
    assert [h[0].text for h in _decode(speech, monkeypatch, True, hotwords={"sat": 0.01})] == plain


def test_the_native_table_is_for_word_mode():
    graph = HotwordGraph([((1, 2, 3), 3.0), ((1, 2), 1.0), ((9,), 2.0)])
    potential, banked, edges = graph.native_table()
    assert len(potential) == len(banked) == 5 and [child for _, _, child in edges] == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="word mode"):
        HotwordGraph([((1, 2), 1.0)], separator=0).native_table()
