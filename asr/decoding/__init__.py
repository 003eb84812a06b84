"""CTC decoders. Importing this package loads no training code (a test checks it)."""

from asr.decoding.beam import BeamSearchDecoder
from asr.decoding.config import DecoderConfig
from asr.decoding.factory import build_decoder
from asr.decoding.greedy import GreedyDecoder
from asr.decoding.hypothesis import Hypothesis, Word
from asr.decoding.protocol import Decoder

__all__ = [
    "BeamSearchDecoder",
    "Decoder",
    "DecoderConfig",
    "GreedyDecoder",
    "Hypothesis",
    "Word",
    "build_decoder",
]
