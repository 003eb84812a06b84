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
    assert hyp.words[0].confidence == pytest.approx(0.8, abs=1e-5)


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
