"""The peers benchmarks/decode.py compares against: torchaudio's ctc_decoder and pyctcdecode.

Each runner is set up once (outside the timing) and returns a function that decodes the whole set.
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
    lm: Path,
    lexicon_file: Path,
    data: EmissionSet,
    args: argparse.Namespace,
    **options: object,
) -> Callable[[], list[str]]:
    from torchaudio.models.decoder import ctc_decoder

    tokens = ["-" if t == vocab.BLANK else "|" if t == vocab.word_separator else t for t in vocab.tokens]
    decoder = ctc_decoder(
        lexicon=str(lexicon_file),
        tokens=tokens,
        lm=str(lm),
        beam_size=args.beam_size,
        lm_weight=args.lm_weight * math.log(10),  # flashlight weighs log10 LM scores
        word_score=args.word_score,
        blank_token="-",
        sil_token="|",
        **options,
    )
    end = torch.full((1, len(vocab)), -1e4)
    end[0, vocab.separator_id] = 0.0
    batches = padded(data.emissions, args.batch_size, end)

    def run() -> list[str]:
        return [" ".join(n[0].words) for x, lengths in batches for n in decoder(x, lengths)]

    return run


def pyctcdecode_runner(
    vocab: Vocabulary, lm: Path, words: list[str], data: EmissionSet, args: argparse.Namespace
) -> Callable[[], list[str]]:
    from pyctcdecode import build_ctcdecoder

    labels = ["" if t == vocab.BLANK else t for t in vocab.tokens]
    decoder = build_ctcdecoder(
        labels, kenlm_model_path=str(lm), unigrams=words, alpha=args.lm_weight, beta=args.word_score
    )
    arrays = [e.numpy() for e in data.emissions]

    def run() -> list[str]:
        return [decoder.decode(a, beam_width=args.beam_size) for a in arrays]

    return run
