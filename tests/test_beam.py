"""BeamSearchDecoder on hand-built emissions with known answers (no lmplz needed: ARPA text fixtures)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asr.decoding import BeamSearchDecoder, Decoder, DecoderConfig, GreedyDecoder, Hypothesis, build_decoder
from asr.decoding.hotwords import ROOT, HotwordGraph
from asr.decoding.lexicon import arpa_unigrams, lm_vocabulary, read_lexicon
from asr.errors import ConfigError
from asr.text import Vocabulary

VOCAB = Vocabulary.english_characters()
ROOT_DIR = Path(__file__).resolve().parents[1]
SEP = VOCAB.separator_id


def emission(frames: list, confidence: float = 0.98) -> torch.Tensor:
    """(T, V) log-probs. A frame is a token ("_" = blank) that gets `confidence`, or a dict
    {token: probability} (the rest shared evenly)."""
    V = len(VOCAB)
    rows = []
    for frame in frames:
        probs = {frame: confidence} if isinstance(frame, str) else dict(frame)
        rest = max(1.0 - sum(probs.values()), 1e-6) / (V - len(probs))
        row = torch.full((V,), rest)
        for token, p in probs.items():
            row[0 if token == "_" else VOCAB.tokens.index(token)] = p
        rows.append(row / row.sum())
    return torch.stack(rows).log()


def spell(text: str, repeat: int = 1) -> list:
    """Frames spelling `text`: each character `repeat` times, a blank after each."""
    frames: list = ["_"]
    for ch in text:
        frames += [ch] * repeat + ["_"]
    return frames


def ambiguous(before: str, options: dict[str, float], after: str) -> torch.Tensor:
    """Spell `before`, then one frame split between `options`, then `after` (e.g. c, {a, u}, t)."""
    return emission([*spell(before), options, "_", *spell(after)[1:]])


def decode1(decoder, log_probs: torch.Tensor) -> Hypothesis:
    return decoder.decode(log_probs[None])[0][0]


def write_arpa(path, unigrams: dict[str, float], bigrams: dict[tuple[str, str], float]) -> str:
    """A small but valid ARPA file: log10 probabilities, backoff 0."""
    unigrams = {"<unk>": -3.0, "<s>": -99.0, "</s>": -1.0, **unigrams}
    lines = ["\\data\\", f"ngram 1={len(unigrams)}", f"ngram 2={len(bigrams)}", "", "\\1-grams:"]
    lines += [f"{p}\t{w}\t0" for w, p in unigrams.items()]
    lines += ["", "\\2-grams:"]
    lines += [f"{p}\t{a} {b}" for (a, b), p in bigrams.items()]
    lines += ["", "\\end\\", ""]
    path.write_text("\n".join(lines))
    return str(path)


@pytest.fixture
def cat_lm(tmp_path):
    """An LM that strongly prefers "the cat sat" to "the cut sat"."""
    return write_arpa(
        tmp_path / "cat.arpa",
        {"the": -0.5, "cat": -1.0, "cut": -3.5, "sat": -1.0},
        {("<s>", "the"): -0.1, ("the", "cat"): -0.2, ("the", "cut"): -3.0, ("cat", "sat"): -0.2},
    )


def cut_emission() -> torch.Tensor:
    """ "the c?t sat" where the acoustics lean to "cut" (u 0.55, a 0.45)."""
    return ambiguous("the c", {"u": 0.55, "a": 0.44}, "t sat")


# --- the basics --------------------------------------------------------------------------------------


def test_decodes_a_clear_emission_in_every_mode(cat_lm):
    log_probs = emission(spell("the cat sat", repeat=2))
    for decoder in (
        BeamSearchDecoder(VOCAB),
        BeamSearchDecoder(VOCAB, lexicon=["the", "cat", "sat"]),
        BeamSearchDecoder(VOCAB, lm=cat_lm),
        BeamSearchDecoder(VOCAB, lm=cat_lm, lexicon=["the", "cat", "cut", "sat"]),
        BeamSearchDecoder(VOCAB, hotwords={"sat": 1.0}),
    ):
        hyp = decode1(decoder, log_probs)
        assert hyp.text == "the cat sat"
        assert hyp.tokens == tuple(VOCAB.encode("the cat sat"))
        assert [w.text for w in hyp.words] == ["the", "cat", "sat"]


@pytest.mark.parametrize("seed", range(8))
def test_beam_size_one_equals_greedy(seed):
    rng = np.random.default_rng(seed)
    T, V = int(rng.integers(1, 60)), len(VOCAB)
    # Peaky random emissions: a random winner per frame, blank most often.
    logits = rng.normal(0, 1, (2, T, V)).astype(np.float32)
    winners = np.where(rng.random((2, T)) < 0.5, 0, rng.integers(1, V, (2, T)))
    np.put_along_axis(logits, winners[..., None], rng.uniform(2, 12, (2, T, 1)).astype(np.float32), axis=-1)
    log_probs = torch.log_softmax(torch.from_numpy(logits), -1)
    lengths = torch.tensor([T, max(0, T - 7)])
    greedy = GreedyDecoder(VOCAB, frame_shift_s=0.02).decode(log_probs, lengths)
    beam = BeamSearchDecoder(VOCAB, beam_size=1, frame_shift_s=0.02).decode(log_probs, lengths)
    for g, b in zip(greedy, beam):
        g, b = g[0], b[0]
        assert b.text == " ".join(g.text.split())  # beam search also normalises repeated separators
        assert [w.text for w in b.words] == [w.text for w in g.words]
        assert [(w.start_s, w.end_s) for w in b.words] == [(w.start_s, w.end_s) for w in g.words]
        # (beam search does not try swaps inside collapsed runs of near-certain frames: a tiny difference)
        assert [w.confidence for w in b.words] == pytest.approx([w.confidence for w in g.words], abs=1e-3)


def test_batch_with_lengths_matches_single_utterances(cat_lm):
    a, b = emission(spell("the cat")), emission(spell("sat", repeat=3))
    batch = torch.nn.utils.rnn.pad_sequence([a, b], batch_first=True)
    batch[1, b.shape[0] :] = emission(spell("zzzzzzzzzz"))[: batch.shape[1] - b.shape[0]]  # junk padding
    decoder = BeamSearchDecoder(VOCAB, lm=cat_lm, lexicon=["the", "cat", "sat", "zz"])
    together = decoder.decode(batch.numpy(), np.array([a.shape[0], b.shape[0]]))
    assert [n[0].text for n in together] == ["the cat", "sat"]
    assert together[1][0] == decode1(decoder, b)


def test_empty_and_all_blank_input():
    decoder = BeamSearchDecoder(VOCAB, lexicon=["cat"])
    out = decoder.decode(torch.zeros(2, 0, len(VOCAB)))
    assert [n[0].text for n in out] == ["", ""]
    assert decode1(decoder, emission(["_"] * 5)).words == ()
    assert decoder.decode(emission(spell("cat"))[None], torch.tensor([0]))[0][0].text == ""


def test_nbest_distinct_and_sorted():
    decoder = BeamSearchDecoder(VOCAB, nbest=3)
    hyps = decoder.decode(ambiguous("c", {"a": 0.5, "u": 0.3, "o": 0.19}, "t")[None])[0]
    assert [h.text for h in hyps] == ["cat", "cut", "cot"]
    assert hyps[0].score >= hyps[1].score >= hyps[2].score


# --- language model ------------------------------------------------------------------------------------


def test_tiny_arpa_lm_changes_the_answer(cat_lm):
    log_probs = cut_emission()
    assert decode1(BeamSearchDecoder(VOCAB), log_probs).text == "the cut sat"
    lexicon = ["the", "cat", "cut", "sat"]
    assert decode1(BeamSearchDecoder(VOCAB, lexicon=lexicon), log_probs).text == "the cut sat"
    assert decode1(BeamSearchDecoder(VOCAB, lm=cat_lm, lexicon=lexicon), log_probs).text == "the cat sat"
    # lexicon-free search scores words from Python with the same LM
    assert decode1(BeamSearchDecoder(VOCAB, lm=cat_lm), log_probs).text == "the cat sat"


def test_lm_weight_zero_equals_no_lm(cat_lm):
    log_probs = torch.stack([cut_emission(), emission(spell("the cat sat"))[: cut_emission().shape[0]]])
    for lexicon in (None, ["the", "cat", "cut", "sat"]):
        without = BeamSearchDecoder(VOCAB, lexicon=lexicon).decode(log_probs)
        weightless = BeamSearchDecoder(VOCAB, lm=cat_lm, lexicon=lexicon, lm_weight=0.0).decode(log_probs)
        for a, b in zip(without, weightless):
            assert [(h.text, h.tokens) for h in a] == [(h.text, h.tokens) for h in b]
            assert [[(w.text, w.start_s, w.end_s) for w in h.words] for h in a] == [
                [(w.text, w.start_s, w.end_s) for w in h.words] for h in b
            ]
            # (merging equal states adds probabilities in an order that can differ between two searches;
            # the confidences read the whole final beam, where hypotheses tied at its edge may differ)
            assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-5)
            confidences = [[w.confidence for w in h.words] for h in a]
            assert confidences == [pytest.approx([w.confidence for w in h.words], abs=1e-3) for h in b]


def test_lm_weight_scales_the_lm(cat_lm):
    lexicon = ["the", "cat", "cut", "sat"]
    weak = decode1(BeamSearchDecoder(VOCAB, lm=cat_lm, lexicon=lexicon, lm_weight=0.01), cut_emission())
    assert weak.text == "the cut sat"


def test_unknown_words_cost_unk_score_in_lexicon_free_search(tmp_path):
    lm = write_arpa(tmp_path / "lm.arpa", {"the": -0.5, "cat": -1.0}, {("the", "cat"): -0.1})
    log_probs = ambiguous("the c", {"x": 0.7, "a": 0.29}, "t")
    open_vocabulary = BeamSearchDecoder(VOCAB, lm=lm, unk_score=0.0, lm_weight=0.1)
    assert decode1(open_vocabulary, log_probs).text == "the cxt"
    penalised = BeamSearchDecoder(VOCAB, lm=lm, unk_score=-30.0)
    assert decode1(penalised, log_probs).text == "the cat"


def test_words_outside_the_lexicon(cat_lm):
    log_probs = emission(spell("the dog sat"))
    lexicon = ["the", "cat", "sat", "dogs", "got"]
    for lm in (None, cat_lm):
        # spelled from pieces of lexicon words (here one piece, "dog" of "dogs"), each piece paying
        # unk_score (+ the LM's <unk> score)
        assert decode1(BeamSearchDecoder(VOCAB, lm=lm, lexicon=lexicon), log_probs).text == "the dog sat"
        # "dot" = "do" (of "dogs") + "t": two pieces cost twice
        pieces = BeamSearchDecoder(VOCAB, lm=lm, lexicon=lexicon, unk_score=-3.0)
        assert decode1(pieces, emission(spell("the dot sat"))).text == "the dot sat"
        closed = BeamSearchDecoder(VOCAB, lm=lm, lexicon=lexicon, unk_score=-math.inf)
        assert set(decode1(closed, log_probs).text.split()) <= set(lexicon)


def test_lm_vocabulary_and_lexicon_files(tmp_path, cat_lm):
    assert arpa_unigrams(cat_lm) == ["the", "cat", "cut", "sat"]
    assert lm_vocabulary(cat_lm) == ["the", "cat", "cut", "sat"]
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("# comment\nthe t h e |\ncat c a t |\n\ncat k a t |\nNOPE\nx-ray\n")
    assert read_lexicon(lexicon) == ["the", "cat", "NOPE", "x-ray"]
    decoder = BeamSearchDecoder(VOCAB, lexicon=lexicon)
    assert decoder.words == ("the", "cat")  # words the vocabulary cannot spell are dropped
    assert decode1(decoder, emission(spell("the cat"))).text == "the cat"


# --- hotwords ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lexicon", [None, ["the", "cat", "cut", "sat"]])
def test_hotword_boost_changes_the_answer(lexicon, cat_lm):
    log_probs = ambiguous("the c", {"a": 0.55, "u": 0.44}, "t sat")
    assert decode1(BeamSearchDecoder(VOCAB, lexicon=lexicon), log_probs).text == "the cat sat"
    boosted = BeamSearchDecoder(VOCAB, lexicon=lexicon, hotwords={"cut": 2.0})
    assert decode1(boosted, log_probs).text == "the cut sat"
    # a boost too small to beat the acoustics changes nothing
    assert decode1(BeamSearchDecoder(VOCAB, lexicon=lexicon, hotwords={"cut": 0.05}), log_probs).text == (
        "the cat sat"
    )
    # with an LM that dislikes "cut", the boost must beat the LM too
    with_lm = BeamSearchDecoder(VOCAB, lm=cat_lm, lexicon=lexicon, hotwords={"cut": 12.0})
    assert decode1(with_lm, cut_emission()).text == "the cut sat"


def test_hotword_outside_lexicon_and_lm(cat_lm):
    log_probs = ambiguous("the c", {"a": 0.55, "o": 0.44}, "t sat")
    lexicon = ["the", "cat", "sat"]
    assert decode1(BeamSearchDecoder(VOCAB, lm=cat_lm, lexicon=lexicon), log_probs).text == "the cat sat"
    decoder = BeamSearchDecoder(VOCAB, lm=cat_lm, lexicon=lexicon, hotwords={"cot": 15.0})
    assert "cot" in decoder.words
    assert decode1(decoder, log_probs).text == "the cot sat"


def test_partial_hotword_match_earns_nothing():
    # "cutlery" starts like "cut": a hypothesis that stops at "cut" must pay its partial bonus back.
    log_probs = ambiguous("c", {"a": 0.55, "u": 0.44}, "t")
    for lexicon in (None, ["cat", "cut", "cutlery"]):
        decoder = BeamSearchDecoder(VOCAB, lexicon=lexicon, hotwords={"cutlery": 20.0})
        assert decode1(decoder, log_probs).text == "cat"


def test_phrase_hotword():
    log_probs = ambiguous("new y", {"o": 0.3, "e": 0.69}, "rk")
    assert decode1(BeamSearchDecoder(VOCAB), log_probs).text == "new yerk"
    for lexicon in (None, ["new", "york", "yerk"]):
        decoder = BeamSearchDecoder(VOCAB, lexicon=lexicon, hotwords={"new york": 3.0})
        assert decode1(decoder, log_probs).text == "new york"
    # the phrase's second word alone earns nothing
    alone = ambiguous("y", {"o": 0.3, "e": 0.69}, "rk")
    assert decode1(BeamSearchDecoder(VOCAB, hotwords={"new york": 3.0}), alone).text == "yerk"


def test_hotword_graph_accounting():
    graph = HotwordGraph([((1, 2, 3), 3.0), ((1, 2), 1.0), ((9,), 2.0)])
    gains, node = [], ROOT
    for unit in (1, 2, 3):
        gain, node = graph.step(node, unit)
        gains.append(gain)
    assert sum(gains) == pytest.approx(3.0) and node == ROOT  # completed: locked in
    gain1, node = graph.step(ROOT, 1)
    gain2, node = graph.step(node, 2)
    gain3, node = graph.step(node, 7)  # leaves (1 2 3) after (1 2): keeps the bonus of (1 2)
    assert gain1 + gain2 + gain3 == pytest.approx(1.0) and node == ROOT
    gain1, node = graph.step(ROOT, 1)
    gain2, node = graph.step(node, 9)  # mismatch, but 9 alone is a hotword
    assert gain1 + gain2 == pytest.approx(2.0)
    assert graph.finish(graph.step(ROOT, 1)[1]) == pytest.approx(-graph.step(ROOT, 1)[0])


# --- times -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lexicon", [None, ["hi", "yo"]])
def test_word_times_are_exact(lexicon):
    # 20 ms frames: "hi" at frames 12-15 after a long (collapsed) blank run, "yo" at 30-37
    frames = (
        ["_"] * 12 + ["h", "h", "i", "i"] + ["_"] * 6 + [" "] * 3 + ["_"] * 5 + ["y"] * 3 + ["_"] + ["o"] * 4
    )
    frames += ["_"] * 9
    decoder = BeamSearchDecoder(VOCAB, lexicon=lexicon, frame_shift_s=0.02)
    hyp = decode1(decoder, emission(frames, confidence=0.9999))
    assert [w.text for w in hyp.words] == ["hi", "yo"]
    assert hyp.words[0].start_s == pytest.approx(12 * 0.02) and hyp.words[0].end_s == pytest.approx(15 * 0.02)
    assert hyp.words[1].start_s == pytest.approx(30 * 0.02) and hyp.words[1].end_s == pytest.approx(35 * 0.02)
    assert hyp.words[0].confidence == pytest.approx(0.9999, abs=1e-4)
    greedy = GreedyDecoder(VOCAB, frame_shift_s=0.02).decode(emission(frames, confidence=0.9999)[None])[0][0]
    assert [t for w in greedy.words for t in (w.start_s, w.end_s)] == pytest.approx(
        [t for w in hyp.words for t in (w.start_s, w.end_s)]
    )


def test_a_letter_hidden_in_a_collapsed_run_keeps_its_frame():
    # The lexicon only knows "ha": the "a" must come from frame 9, inside a run of near-certain blanks.
    frames = ["_", "h", "h"] + ["_"] * 6 + [{"_": 0.9990, "a": 0.0009}] + ["_"] * 6
    decoder = BeamSearchDecoder(
        VOCAB,
        lexicon=["ha"],
        frame_shift_s=0.01,
        blank_skip_threshold=0.99,
        token_min_logp=-10,
        unk_score=-math.inf,
    )
    hyp = decode1(decoder, emission(frames, confidence=0.9999))
    assert hyp.text == "ha"
    assert hyp.words[0].start_s == pytest.approx(0.01) and hyp.words[0].end_s == pytest.approx(0.10)
    # the acoustics say blank where the lexicon forced "a" (0.0009): a word to doubt. The reading "h"
    # is 7 nats likelier acoustically; outside the vocabulary it pays 6 (UNKNOWN_COMPETITOR).
    assert hyp.words[0].confidence < 0.5


def test_search_levers_keep_the_answer(cat_lm):
    """Frame collapsing, token masking and tight pruning against the plain search."""
    log_probs = torch.cat([emission(["_"] * 20), cut_emission(), emission(["_"] * 20)])
    plain = DecoderConfig(
        token_min_logp=-math.inf, blank_skip_threshold=1.0, beam_threshold=100, beam_size_token=None
    )
    lexicon = ["the", "cat", "cut", "sat"]
    reference = decode1(BeamSearchDecoder(VOCAB, lm=cat_lm, lexicon=lexicon, config=plain), log_probs)
    fast = decode1(BeamSearchDecoder(VOCAB, lm=cat_lm, lexicon=lexicon), log_probs)
    assert fast.text == reference.text == "the cat sat"
    assert [(w.start_s, w.end_s) for w in fast.words] == [(w.start_s, w.end_s) for w in reference.words]


# --- robustness -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, match",
    [
        (torch.zeros(5, len(VOCAB)), r"\(B, T, V\)"),
        (torch.zeros(1, 5, len(VOCAB) + 1), "expected 29, got 30"),
        (torch.zeros(1, 5, len(VOCAB), dtype=torch.long), "floating point"),
        (np.zeros((1, 5, 3), np.float32), "expected 29, got 3"),
        ("not a tensor", "numpy"),
    ],
)
def test_bad_input_raises_value_error(bad, match):
    with pytest.raises(ValueError, match=match):
        BeamSearchDecoder(VOCAB).decode(bad)


def test_bad_lengths_and_settings(tmp_path):
    decoder = BeamSearchDecoder(VOCAB)
    with pytest.raises(ValueError, match="lengths"):
        decoder.decode(torch.zeros(2, 5, len(VOCAB)), torch.tensor([5, 6]))
    with pytest.raises(ValueError, match="Vocabulary"):
        BeamSearchDecoder(["<blank>", " ", "a"])
    with pytest.raises(ValueError, match="beam_size"):
        BeamSearchDecoder(VOCAB, beam_size=0)
    with pytest.raises(ValueError, match="unknown DecoderConfig field"):
        BeamSearchDecoder(VOCAB, beam_width=8)
    with pytest.raises(ValueError, match="hotword 'K8s'"):
        BeamSearchDecoder(VOCAB, hotwords={"K8s": 1.0})
    with pytest.raises(ValueError, match="bonus"):
        BeamSearchDecoder(VOCAB, hotwords={"cat": float("nan")})
    with pytest.raises(FileNotFoundError, match="asr lm build"):
        BeamSearchDecoder(VOCAB, lm=tmp_path / "missing.bin")
    with pytest.raises(FileNotFoundError, match="lexicon"):
        BeamSearchDecoder(VOCAB, lexicon=tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="no word"):
        BeamSearchDecoder(VOCAB, lexicon=["ÄÖ", "x y"])


def test_non_finite_input_does_not_break_the_search():
    log_probs = emission(spell("cat"))
    log_probs[2, 5] = float("nan")
    log_probs[4, :] = float("-inf")
    log_probs[4, 0] = 0.0
    hyp = decode1(BeamSearchDecoder(VOCAB, lexicon=["cat"]), log_probs)
    assert hyp.text == "cat"


def test_config_round_trip(tmp_path):
    config = DecoderConfig(beam_size=8, hotwords={"new  york": 2, "cat": 1.5}, lm="x.bin")
    assert config.hotwords == (("cat", 1.5), ("new york", 2.0))
    path = tmp_path / "decoder.json"
    import json

    path.write_text(json.dumps({**config.to_dict(), "dev_wer": 0.1}))
    assert DecoderConfig.from_file(path) == config
    with pytest.raises(ValueError, match="beam_threshold"):
        DecoderConfig(beam_threshold=-1)
    with pytest.raises(ValueError, match="token_min_logp"):
        DecoderConfig(token_min_logp=1.0)


def test_decoder_config_rejects_unknown_keys(tmp_path):
    with pytest.raises(ConfigError, match=r"'beam_szie'.*known: .*beam_size"):
        DecoderConfig.from_dict({"beam_szie": 8})
    path = tmp_path / "decoder.json"
    path.write_text('{"lm_wieght": 0.3, "dev_wer": 0.1}')
    with pytest.raises(ConfigError, match=r"decoder.json: .*'lm_wieght'") as error:
        DecoderConfig.from_file(path)
    assert "dev_wer" not in str(error.value)  # `asr lm tune`'s result keys are allowed


@pytest.mark.parametrize(
    "path", sorted(p for top in ("data", "recipes") for p in (ROOT_DIR / top).rglob("decoder*.json"))
)
def test_every_shipped_decoder_json_loads(path):
    assert isinstance(DecoderConfig.from_file(path), DecoderConfig)


def test_greedy_and_beam_satisfy_the_decoder_protocol():
    for decoder in (
        GreedyDecoder(VOCAB, 0.02),
        BeamSearchDecoder(VOCAB, frame_shift_s=0.02),
        build_decoder(VOCAB, 0.04),
        build_decoder(VOCAB, 0.04, DecoderConfig()),
    ):
        assert isinstance(decoder, Decoder)
        assert decoder.vocab is VOCAB and decoder.frame_shift_s in (0.02, 0.04)
        hyps = decoder.decode(emission(spell("cat"))[None], torch.tensor([7]))
        assert len(hyps) == 1 and hyps[0][0].text == "cat"


def test_worker_processes_give_the_same_answers(cat_lm):
    texts = ["the cat sat", "sat", "the cut", "cat sat the"]
    items = [emission(spell(t)) for t in texts] * 2
    batch = torch.nn.utils.rnn.pad_sequence(items, batch_first=True)
    lengths = torch.tensor([e.shape[0] for e in items])
    lexicon = ["the", "cat", "cut", "sat"]
    single = BeamSearchDecoder(VOCAB, lm=cat_lm, lexicon=lexicon).decode(batch, lengths)
    with BeamSearchDecoder(
        VOCAB, lm=cat_lm, lexicon=lexicon, num_workers=2, min_batch_per_worker=1
    ) as pooled:
        assert pooled.decode(batch, lengths) == single
    assert [n[0].text for n in single] == texts * 2


# --- property-based fuzzing ---------------------------------------------------------------------------------

FUZZ_DECODERS = {
    "free": BeamSearchDecoder(VOCAB, beam_size=4),
    "lexicon": BeamSearchDecoder(VOCAB, beam_size=4, lexicon=["a", "ab", "ba", "cab", "abc"], nbest=2),
    "hotwords": BeamSearchDecoder(VOCAB, beam_size=4, hotwords={"ab": 2.0, "b a": 1.0}),
    "wide": BeamSearchDecoder(VOCAB, beam_size=16, beam_size_token=None, blank_skip_threshold=0.5),
    "closed": BeamSearchDecoder(
        VOCAB, beam_size=8, lexicon=["b", "ca"], hotwords={"a b": 1}, unk_score=-math.inf
    ),
}


def check_hypotheses(results, batch: int, lengths: list[int], shift: float) -> None:
    assert isinstance(results, list) and len(results) == batch
    for nbest, length in zip(results, lengths):
        assert len(nbest) >= 1
        for hyp in nbest:
            assert isinstance(hyp, Hypothesis)
            assert isinstance(hyp.text, str) and hyp.text == " ".join(hyp.text.split())
            assert VOCAB.can_encode(hyp.text)
            assert hyp.tokens == tuple(VOCAB.encode(hyp.text))
            assert " ".join(w.text for w in hyp.words) == hyp.text
            assert math.isfinite(hyp.score)
            for w in hyp.words:
                assert 0 <= w.start_s < w.end_s <= length * shift + 1e-9
                assert 0.0 <= w.confidence <= 1.0
        assert len({h.text for h in nbest}) == len(nbest)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    batch=st.integers(1, 3),
    frames=st.integers(0, 25),
    scale=st.sampled_from([0.1, 1.0, 5.0, 30.0]),
    kind=st.sampled_from(sorted(FUZZ_DECODERS)),
    seed=st.integers(0, 2**31 - 1),
)
def test_fuzz_random_log_probs(data, batch, frames, scale, kind, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, scale, (batch, frames, len(VOCAB))).astype(np.float32)
    if frames and data.draw(st.booleans()):
        logits[rng.random(logits.shape) < 0.3] = -np.inf  # impossible tokens
        logits[..., 0] = np.maximum(logits[..., 0], 0)  # keep each frame normalisable
    log_probs = torch.log_softmax(torch.from_numpy(logits), -1)
    lengths = [data.draw(st.integers(0, frames)) for _ in range(batch)]
    as_numpy = data.draw(st.booleans())
    decoder = FUZZ_DECODERS[kind]
    results = decoder.decode(log_probs.numpy() if as_numpy else log_probs, np.array(lengths))
    check_hypotheses(results, batch, lengths, decoder.config.frame_shift_s)
    if kind == "closed":
        assert all(set(h.text.split()) <= {"a", "b", "ca"} for nbest in results for h in nbest)


@settings(max_examples=30, deadline=None)
@given(
    values=st.lists(
        st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=len(VOCAB), max_size=4 * len(VOCAB)
    ),
    dtype=st.sampled_from([torch.float32, torch.float64, torch.float16]),
)
def test_fuzz_garbage_values_never_crash(values, dtype):
    frames = len(values) // len(VOCAB)
    x = (
        torch.tensor(values[: frames * len(VOCAB)], dtype=torch.float32)
        .reshape(1, frames, len(VOCAB))
        .to(dtype)
    )
    for decoder in FUZZ_DECODERS.values():
        results = decoder.decode(x)
        assert len(results) == 1 and isinstance(results[0][0], Hypothesis)
        assert VOCAB.can_encode(results[0][0].text)


# --- word confidences -----------------------------------------------------------------------------


@pytest.mark.parametrize("lexicon", [None, ["the", "cat", "cut", "sat"]])
def test_a_word_the_lm_is_sure_of_is_confident_against_the_acoustics(lexicon, cat_lm):
    # The acoustics lean to "cut" (0.55 vs 0.44), the LM strongly to "cat": the decoder's own scores
    # leave no doubt, so the word is confident although its letter's posterior is only 0.44.
    hyp = decode1(BeamSearchDecoder(VOCAB, lm=cat_lm, lexicon=lexicon), cut_emission())
    assert hyp.text == "the cat sat"
    assert hyp.words[1].confidence > 0.9


def test_a_coin_flip_word_without_an_lm_is_not_confident():
    # Acoustics alone: "cut" at 0.55 against "cat" at 0.44, every other frame certain.
    hyp = decode1(BeamSearchDecoder(VOCAB), cut_emission())
    assert hyp.text == "the cut sat"
    cut = hyp.words[1].confidence
    assert 0.4 < cut < 0.6  # about its posterior between the two readings (0.55 / 0.99)
    assert hyp.words[0].confidence > 0.8 and hyp.words[2].confidence > 0.8


def test_an_lm_that_barely_decides_leaves_the_word_uncertain(tmp_path):
    # An LM that prefers "cat" only a little: the decoder picks "cat" but should not be sure of it.
    lm = write_arpa(
        tmp_path / "weak.arpa",
        {"the": -0.5, "cat": -1.0, "cut": -1.1, "sat": -1.0},
        {("<s>", "the"): -0.1},
    )
    hyp = decode1(
        BeamSearchDecoder(VOCAB, lm=lm, lexicon=["the", "cat", "cut", "sat"]),
        ambiguous("the c", {"u": 0.5, "a": 0.49}, "t sat"),
    )
    assert hyp.words[1].text in ("cat", "cut")
    assert 0.3 < hyp.words[1].confidence < 0.7
