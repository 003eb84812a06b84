"""Tuning the beam search's LM settings: a grid of ``lm_weight`` × ``word_score`` on a dev set.

The model runs once over the dev manifest; every grid point re-decodes the cached emissions, so a
36-point grid costs 36 decodes, not 36 forward passes.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from asr.fileio import atomic_write

if TYPE_CHECKING:
    from asr.decoding.config import DecoderConfig

__all__ = [
    "DEFAULT_LM_WEIGHTS",
    "DEFAULT_WORD_SCORES",
    "GridPoint",
    "TuneResult",
    "decode_all",
    "model_emissions",
    "tune_lm",
]

log = logging.getLogger(__name__)

DEFAULT_LM_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)
DEFAULT_WORD_SCORES = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0)

GridPoint = dict[str, float]
"""One tried setting and its dev scores: lm_weight, word_score, wer, cer."""


@dataclass(frozen=True)
class TuneResult:
    """The best setting found, its dev WER/CER, and every grid point tried."""

    config: DecoderConfig
    wer: float
    cer: float
    grid: list[GridPoint] = field(default_factory=list)
    utterances: int = 0
    skipped: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.config.to_dict(),
            "dev_wer": round(self.wer, 5),
            "dev_cer": round(self.cer, 5),
            "utterances": self.utterances,
            "skipped": self.skipped,
            "grid": self.grid,
        }

    def save(self, path: str | os.PathLike) -> None:
        """JSON that :meth:`DecoderConfig.from_file` reads back (the result keys beside the config: only those in
        `asr.decoding.config.RESULT_KEYS` are accepted there, so add any new one to that list)."""
        with atomic_write(path) as f:
            f.write(json.dumps(self.to_dict(), indent=2) + "\n")


def model_emissions(
    recognizer: Any, items: Sequence[Any], batch_seconds: float = 120.0
) -> tuple[list, list, int]:
    """(log_probs (T, V) float32 CPU tensors, reference texts, skipped count) for manifest `items`,
    in duration order, through the one inference path (:func:`asr.inference.manifest_emissions`).

    Unreadable audio is logged and counted, not fatal.
    """
    from asr.inference import eval_mode, manifest_emissions

    emissions, references, skipped = [], [], 0
    with eval_mode(recognizer):
        for batch in manifest_emissions(recognizer, items, batch_seconds):
            skipped += len(batch.skipped)
            for b, item in enumerate(batch.items):
                # clone: a plain tensor, not an inference-mode one, for the decoders' batching
                emissions.append(batch.log_probs[b, : int(batch.lengths[b])].float().cpu().clone())
                references.append(item.text)
    return emissions, references, skipped


def decode_all(decoder: Any, emissions: Sequence[Any], batch_size: int = 32) -> list[str]:
    """Best texts of `decoder` over a list of (T, V) log-prob tensors, decoded in padded (B, T, V) batches."""
    import torch

    texts = []
    for start in range(0, len(emissions), batch_size):
        chunk = emissions[start : start + batch_size]
        lengths = torch.tensor([e.shape[0] for e in chunk])
        padded = torch.nn.utils.rnn.pad_sequence(list(chunk), batch_first=True)
        texts.extend(nbest[0].text for nbest in decoder.decode(padded, lengths))
    return texts


def tune_lm(
    model: str | os.PathLike,
    manifest: str | os.PathLike,
    lm: str | os.PathLike,
    lexicon: str | os.PathLike | None = None,
    *,
    lm_weights: Sequence[float] = DEFAULT_LM_WEIGHTS,
    word_scores: Sequence[float] = DEFAULT_WORD_SCORES,
    base: DecoderConfig | None = None,
    device: str = "cpu",
    progress: bool = True,
    on_point: Callable[[int, int, GridPoint], None] | None = None,
) -> TuneResult:
    """Grid-search `lm_weight` × `word_score` on `manifest` (a dev set, never the test set).

    The model runs once; each grid point re-decodes its cached output. Best = lowest WER, then CER.
    Each point is logged (with `progress`) and passed to `on_point(i, n, point)` (1-based `i` of `n`).
    """
    from asr.data.manifest import read_manifest
    from asr.decoding import DecoderConfig
    from asr.loading import load_model
    from asr.metrics import error_stats

    recognizer = load_model(model, device=device)
    items = read_manifest(manifest)
    if not items:
        raise ValueError(f"{manifest}: no utterances to tune on")
    emissions, references, skipped = model_emissions(recognizer, items)
    if not emissions:
        raise ValueError(f"{manifest}: no utterance could be read ({skipped} skipped)")
    # the saved config carries the model's frame shift, as every DecoderConfig written before did
    base = (base or DecoderConfig()).replace(
        lm=os.fspath(lm),
        lexicon=os.fspath(lexicon) if lexicon else None,
        frame_shift_s=recognizer.frame_shift_s,
    )
    grid: list[GridPoint] = []
    best: tuple[float, float, DecoderConfig] | None = None
    points = list(itertools.product(lm_weights, word_scores))
    for i, (lm_weight, word_score) in enumerate(points, 1):
        config = base.replace(lm_weight=float(lm_weight), word_score=float(word_score))
        hypotheses = decode_all(recognizer.decoder(config), emissions)
        wer = error_stats(references, hypotheses, "word").rate
        cer = error_stats(references, hypotheses, "char").rate
        point = {"lm_weight": lm_weight, "word_score": word_score, "wer": round(wer, 5), "cer": round(cer, 5)}
        grid.append(point)
        if progress:
            log.info(
                "[%d/%d] lm_weight %g word_score %g: WER %.2f%% CER %.2f%%",
                i, len(points), lm_weight, word_score, 100 * wer, 100 * cer,
            )  # fmt: skip
        if on_point is not None:
            on_point(i, len(points), point)
        if best is None or (wer, cer) < best[:2]:
            best = (wer, cer, config)
    assert best is not None
    return TuneResult(best[2], best[0], best[1], grid, len(emissions), skipped)
