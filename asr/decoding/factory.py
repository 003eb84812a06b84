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
    ``frame_shift_s`` replaced by the model's, so word times are always in the model's seconds), wrapped
    in an :class:`~asr.decoding.open_vocab.OpenVocabularyDecoder` when ``config.spelling_lm`` is set.

    Models offer this as ``model.decoder(config)``; call that rather than this where a model is at hand.
    """
    if config is None:
        return GreedyDecoder(vocab, frame_shift_s)
    beam = BeamSearchDecoder(vocab, config=config.replace(frame_shift_s=frame_shift_s))
    if config.spelling_lm is None:
        return beam
    return open_vocabulary(beam)


def open_vocabulary(beam: BeamSearchDecoder) -> Decoder:
    """`beam` wrapped so that words its lexicon lacks are spelled (``DecoderConfig.spelling_lm``)."""
    from pathlib import Path

    from asr.decoding.open_vocab import OpenVocabularyDecoder

    config = beam.config
    if beam.words is None:
        beam.close()
        raise ValueError(
            "spelling_lm (open vocabulary) needs a lexicon: it spells the words the lexicon lacks "
            "(lexicon-free search spells every word already)"
        )
    if not Path(config.spelling_lm).is_file():
        beam.close()
        raise FileNotFoundError(
            f"{config.spelling_lm}: no such spelling LM file (build one with `asr lm build --letters`)"
        )
    lm = config.lm if config.lm_weight != 0 else None
    return OpenVocabularyDecoder(
        beam, beam.words, lm, spelling_lm=config.spelling_lm, unk_score=config.open_vocab_unk_score
    )
