import numpy as np
import pytest
import torch

from asr.decoding import GreedyDecoder
from asr.text import Vocabulary

VOCAB = Vocabulary.english_characters()


def emission(frames: list[str], confidence: float = 0.9) -> torch.Tensor:
    """(T, V) log-probs whose argmax per frame is the given token ("_" = blank)."""
    V = len(VOCAB)
    out = torch.full((len(frames), V), (1 - confidence) / (V - 1))
    for t, token in enumerate(frames):
        out[t, 0 if token == "_" else VOCAB.tokens.index(token)] = confidence
    return out.log()


def test_collapses_repeats_and_blanks():
    frames = list("hh_e_ll_l_oo") + [" "] + list("_w_o_rr_ld_")
    hyp = GreedyDecoder(VOCAB).decode(emission(frames)[None])[0][0]
    assert hyp.text == "hello world"
    assert hyp.tokens == tuple(VOCAB.encode("hello world"))


def test_batched_with_lengths_matches_individual():
    a = emission(list("_cc_a_t_"))
    b = emission(list("d_o_g_____"))
    batch = torch.nn.utils.rnn.pad_sequence([a, b], batch_first=True)
    dec = GreedyDecoder(VOCAB)
    together = dec.decode(batch, torch.tensor([8, 10]))
    assert [n[0].text for n in together] == ["cat", "dog"]
    # frames beyond a length are ignored even if they hold letters
    padded = torch.cat([a, emission(list("zzz"))])[None]
    assert dec.decode(padded, torch.tensor([8]))[0][0].text == "cat"


def test_word_times_and_confidence():
    # 10 ms frames: "hi" at frames 2-3, separator at 5, "yo" at 7-9
    frames = list("__hi_ _y_o_")
    dec = GreedyDecoder(VOCAB, frame_shift_s=0.01)
    hyp = dec.decode(emission(frames, confidence=0.8)[None])[0][0]
    assert [w.text for w in hyp.words] == ["hi", "yo"]
    assert hyp.words[0].start_s == pytest.approx(0.02) and hyp.words[0].end_s == pytest.approx(0.04)
    assert hyp.words[1].start_s == pytest.approx(0.07) and hyp.words[1].end_s == pytest.approx(0.10)
    # the word's posterior against its one-change neighbours: 20 % of every frame's mass lies elsewhere,
    # so a word spanning several such frames is less sure than any one of them
    assert 0.2 < hyp.words[0].confidence < 0.8
    clear = dec.decode(emission(frames, confidence=0.999)[None])[0][0]
    assert all(w.confidence > 0.95 for w in clear.words)


def test_confidence_is_the_posterior_of_a_two_way_choice():
    # one frame split 0.6 / 0.4 between "u" and "a" (c?t), everything else certain: the word is "cut"
    # with probability 0.6 by the acoustics alone, whatever the other letters' posteriors
    V = len(VOCAB)
    frames = list("_c__t_")  # frame 3 is replaced below
    log_probs = emission(frames, confidence=0.999999).numpy()
    split = np.full(V, 1e-9)
    split[VOCAB.tokens.index("u")], split[VOCAB.tokens.index("a")] = 0.6, 0.4
    log_probs[3] = np.log(split / split.sum())
    hyp = GreedyDecoder(VOCAB).decode(log_probs[None])[0][0]
    assert hyp.text == "cut"
    assert hyp.words[0].confidence == pytest.approx(0.6, abs=0.01)


def test_numpy_input_and_empty_output():
    dec = GreedyDecoder(VOCAB)
    hyp = dec.decode(emission(list("____")).numpy()[None])[0][0]
    assert hyp.text == "" and hyp.words == () and hyp.tokens == ()


@pytest.mark.parametrize(
    "bad, match",
    [
        (torch.zeros(5, len(VOCAB)), r"\(B, T, V\)"),
        (torch.zeros(1, 5, len(VOCAB) + 1), "expected 29, got 30"),
        (torch.zeros(1, 5, len(VOCAB), dtype=torch.long), "floating point"),
        ("not a tensor", "numpy"),
    ],
)
def test_bad_input_raises_value_error(bad, match):
    with pytest.raises(ValueError, match=match):
        GreedyDecoder(VOCAB).decode(bad)


def test_bad_lengths_and_vocab():
    with pytest.raises(ValueError, match="lengths"):
        GreedyDecoder(VOCAB).decode(np.zeros((2, 5, len(VOCAB)), np.float32), torch.tensor([5, 6]))
    with pytest.raises(ValueError, match="Vocabulary"):
        GreedyDecoder(["a", "b"])
