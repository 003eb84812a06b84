"""The native word LM (asr/decoding/native, built by the package's install) without hotwords against flashlight's
own KenLM path it replaces (ASR_NATIVE_DECODER=0): the same n-best texts, tokens and scores on real
speech (the fixtures of test_hotwords_native.py), with the open and the closed vocabulary.
"""

from __future__ import annotations

import pytest
from test_hotwords_native import MODEL_DIR, _native_or_fail, speech  # noqa: F401 (fixture)

from asr.decoding import BeamSearchDecoder, DecoderConfig


def _decode(speech, monkeypatch, native: bool, **changes):  # noqa: F811
    vocab, log_probs, lengths = speech
    monkeypatch.setenv("ASR_NATIVE_DECODER", "1" if native else "0")
    config = DecoderConfig.from_file(MODEL_DIR / "decoder.json").replace(nbest=5, **changes)
    decoder = BeamSearchDecoder(vocab, config=config)
    engine = decoder._searcher.engine
    assert (engine.native is not None) == native and engine.python_lm is None
    return decoder.decode(log_probs, lengths)


@pytest.mark.parametrize(
    "changes",
    [{}, {"unk_score": float("-inf")}, {"lm_weight": 1.0, "word_score": 0.0}, {"beam_size": 8}],
    ids=["defaults", "closed-vocabulary", "heavier-lm", "narrow-beam"],
)
def test_native_gives_what_flashlights_kenlm_gives(speech, monkeypatch, changes):  # noqa: F811
    _native_or_fail()
    native = _decode(speech, monkeypatch, True, **changes)
    kenlm = _decode(speech, monkeypatch, False, **changes)
    assert sum(len(n) for n in native) > len(native)  # n-best lists, not just the best
    for ours, theirs in zip(native, kenlm, strict=True):
        assert [h.text for h in ours] == [h.text for h in theirs]
        assert [h.tokens for h in ours] == [h.tokens for h in theirs]
        assert [h.score for h in ours] == pytest.approx([h.score for h in theirs], abs=1e-4)
        assert [[w.start_s for w in h.words] for h in ours] == [[w.start_s for w in h.words] for h in theirs]


def test_without_an_lm_the_native_library_is_not_used(speech, monkeypatch):  # noqa: F811
    vocab, _, _ = speech
    monkeypatch.setenv("ASR_NATIVE_DECODER", "1")
    config = DecoderConfig.from_file(MODEL_DIR / "decoder.json").replace(lm=None)
    assert BeamSearchDecoder(vocab, config=config)._searcher.engine.native is None
