"""CTC decoders. Importing this package loads no training code (a test checks it)."""

from asr.decoding.beam import BeamSearchDecoder
from asr.decoding.config import DecoderConfig
from asr.decoding.factory import build_decoder
from asr.decoding.greedy import GreedyDecoder
from asr.decoding.hypothesis import Hypothesis, Word

__all__ = ["BeamSearchDecoder", "DecoderConfig", "GreedyDecoder", "Hypothesis", "Word", "build_decoder"]
