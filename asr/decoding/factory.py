"""One way to build a decoder for a model: the model's frame shift is supplied here, once."""

from __future__ import annotations

from asr.decoding.beam import BeamSearchDecoder
from asr.decoding.config import DecoderConfig
from asr.decoding.greedy import GreedyDecoder
from asr.decoding.protocol import Decoder
from asr.text import Vocabulary

__all__ = ["build_decoder"]


def build_decoder(vocab: Vocabulary, frame_shift_s: float, config: DecoderConfig | None = None) -> Decoder:
    """Greedy decoding when `config` is None, otherwise beam search with `config` (its
    ``frame_shift_s`` replaced by the model's, so word times are always in the model's seconds).

    Models offer this as ``model.decoder(config)``; call that rather than this where a model is at hand.
    """
    if config is None:
        return GreedyDecoder(vocab, frame_shift_s)
    return BeamSearchDecoder(vocab, config=config.replace(frame_shift_s=frame_shift_s))
