"""The peers benchmarks/decode.py compares against: torchaudio's ctc_decoder and pyctcdecode.

Each runner is set up once (outside the timing) and returns a function that decodes the whole set.
With `lm` None both search without a language model (torchaudio also without a lexicon: lexicon-free).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

import torch

from asr.text import Vocabulary
from benchmarks.decode_inputs import EmissionSet, padded


def torchaudio_runner(
    vocab: Vocabulary,
    lm: Path | None,
    lexicon_file: Path | None,
    data: EmissionSet,
    args: argparse.Namespace,
    **options: object,
) -> Callable[[], list[str]]:
    from torchaudio.models.decoder import ctc_decoder

    tokens = ["-" if t == vocab.BLANK else "|" if t == vocab.word_separator else t for t in vocab.tokens]
    decoder = ctc_decoder(
        lexicon=str(lexicon_file) if lexicon_file is not None else None,
        tokens=tokens,
        lm=str(lm) if lm is not None else None,
        beam_size=args.beam_size,
        lm_weight=args.lm_weight * math.log(10) if lm is not None else 0.0,  # flashlight weighs log10
        word_score=args.word_score if lm is not None else 0.0,
        blank_token="-",
        sil_token="|",
        **options,
    )
    if lexicon_file is None:  # lexicon-free: the words are read off the (collapsed, blank-free) tokens
        batches = padded(data.emissions, args.batch_size)

        def spelled(hypothesis) -> str:
            return "".join(decoder.idxs_to_tokens(hypothesis.tokens)).replace("|", " ")

        def run() -> list[str]:
            return [" ".join(spelled(n[0]).split()) for x, lengths in batches for n in decoder(x, lengths)]

        return run
    end = torch.full((1, len(vocab)), -1e4)
    end[0, vocab.separator_id] = 0.0
    batches = padded(data.emissions, args.batch_size, end)

    def run() -> list[str]:
        return [" ".join(n[0].words) for x, lengths in batches for n in decoder(x, lengths)]

    return run


def pyctcdecode_runner(
    vocab: Vocabulary, lm: Path | None, words: list[str], data: EmissionSet, args: argparse.Namespace
) -> Callable[[], list[str]]:
    from pyctcdecode import build_ctcdecoder

    labels = ["" if t == vocab.BLANK else t for t in vocab.tokens]
    if lm is None:
        decoder = build_ctcdecoder(labels)
    else:
        decoder = build_ctcdecoder(
            labels, kenlm_model_path=str(lm), unigrams=words, alpha=args.lm_weight, beta=args.word_score
        )
    arrays = [e.numpy() for e in data.emissions]

    def run() -> list[str]:
        return [decoder.decode(a, beam_width=args.beam_size) for a in arrays]

    return run
