"""The one inference path: audio batches in, CTC log-probabilities (emissions) out.

Transcription, evaluation and LM tuning all run the acoustic model through :func:`emissions`, so
padding, lengths, device moves and grad mode are decided in one place. :func:`manifest_emissions`
adds what evaluation and LM tuning share on top: manifest items read (seeking to their offset),
unreadable ones skipped, duration-sorted batches of bounded total length. :func:`resolve_decoder` is
the one rule for which decoder reads the emissions when the caller names none: the model's own.

Works with any :class:`asr.recognizer.Recognizer` (the eager model or an exported one).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from asr.audio import AudioError, load_segment
from asr.torch_compat import optional_torch

if TYPE_CHECKING:
    from asr.recognizer import Recognizer

__all__ = [
    "EmissionBatch",
    "duration_batches",
    "emissions",
    "eval_mode",
    "manifest_emissions",
    "pad_waveforms",
    "read_item",
    "resolve_decoder",
]

log = logging.getLogger(__name__)


def emissions(model: Recognizer, waveforms: Sequence[Any]) -> tuple[Any, Any]:
    """Run `model` on a batch of utterances.

    `waveforms`: B one-dimensional float32 sample arrays (S_i,) at `model.sample_rate`, any lengths
    (numpy arrays or torch tensors). They are zero-padded into (B, S_max) with lengths (B,) in samples,
    moved to `model.device` and run under `torch.inference_mode()`, in the order given.

    Returns `(log_probs, lengths)` on `model.device`: log_probs (B, T, V) float, natural-log CTC
    posteriors over `model.vocab` (blank at index 0); lengths (B,) int64, the valid frames of each
    utterance (frames past them are padding, frame i covers `model.frame_shift_s` seconds). Torch
    tensors where torch is installed; numpy arrays where it is not (an ONNX export runs without it).
    The model's train/eval mode is left as it is: wrap calls in :func:`eval_mode`.
    """
    if not len(waveforms):
        raise ValueError("emissions: give at least one waveform")
    if any(w.ndim != 1 for w in waveforms):
        raise ValueError(
            f"emissions: waveforms must be 1-D (samples,), got {[tuple(w.shape) for w in waveforms]}"
        )
    torch = optional_torch()
    if torch is None:
        return model(*pad_waveforms(waveforms))
    waves = [
        w if isinstance(w, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(w)) for w in waveforms
    ]
    device = model.device
    lengths = torch.tensor([len(w) for w in waves], dtype=torch.long)
    padded = torch.nn.utils.rnn.pad_sequence(waves, batch_first=True)
    with torch.inference_mode():
        return model(padded.to(device), lengths.to(device))


def resolve_decoder(model: Recognizer, decoder: Any = None) -> Any:
    """The decoder a caller of transcribe or evaluate names, built for `model`.

    None: the model's own decoding, `model.decoder_config` (what `asr.load_model` read from its
    decoder.json: beam search + LM for the shipped model; greedy where there is none); "greedy": greedy
    decoding (the fastest); a `DecoderConfig`: beam search with it; anything else is used as the decoder.
    """
    from asr.decoding.config import DecoderConfig

    if decoder is None:
        return model.decoder(getattr(model, "decoder_config", None))
    if isinstance(decoder, str):
        if decoder != "greedy":
            raise ValueError(f"decoder {decoder!r}: give 'greedy', a DecoderConfig, a decoder or None")
        return model.decoder()
    if isinstance(decoder, DecoderConfig):
        return model.decoder(decoder)
    return decoder


def pad_waveforms(waveforms: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """B 1-D sample arrays → zero-padded (B, S_max) float32 and lengths (B,) int64 (numpy)."""
    lengths = np.array([len(w) for w in waveforms], dtype=np.int64)
    padded = np.zeros((len(waveforms), int(lengths.max())), dtype=np.float32)
    for i, w in enumerate(waveforms):
        padded[i, : len(w)] = w
    return padded, lengths


@contextlib.contextmanager
def eval_mode(model: Recognizer) -> Iterator[Recognizer]:
    """Put `model` in eval mode for the block, then back in the mode it was in (training may call us)."""
    was_training = bool(getattr(model, "training", False))
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@dataclass(frozen=True)
class EmissionBatch:
    """One batch of :func:`manifest_emissions`.

    `items` are the readable items in batch order, `samples` their lengths at the model's rate,
    `log_probs` (B, T, V) and `lengths` (B,) as :func:`emissions` returns them (on the model's device;
    B = 0 when every item of the batch was unreadable, then both are empty). `skipped`: (id, reason)
    of the unreadable items of this batch (already logged as warnings).
    """

    items: tuple[Any, ...]
    samples: tuple[int, ...]
    log_probs: Any
    lengths: Any
    skipped: tuple[tuple[str, str], ...] = ()

    def __len__(self) -> int:
        return len(self.items)


def duration_batches(items: Sequence[Any], max_seconds: float) -> list[list[Any]]:
    """Items sorted by `duration`, cut into batches whose padded length (longest × count) stays within
    `max_seconds` (a single longer item is a batch of its own)."""
    batches: list[list[Any]] = []
    batch: list[Any] = []
    for item in sorted(items, key=lambda u: u.duration):
        if batch and item.duration * (len(batch) + 1) > max_seconds:
            batches.append(batch)
            batch = []
        batch.append(item)
    if batch:
        batches.append(batch)
    return batches


def read_item(item: Any, sample_rate: int) -> np.ndarray:
    """A manifest item's samples (float32 mono at `sample_rate`): the whole file, or `duration` seconds
    from `offset` when the item has an offset (only that stretch is decoded)."""
    if not item.offset:
        return load_segment(item.audio, sample_rate)
    return load_segment(item.audio, sample_rate, item.offset, item.duration)


def manifest_emissions(
    model: Recognizer, items: Sequence[Any], batch_seconds: float = 300.0
) -> Iterator[EmissionBatch]:
    """Emissions of manifest `items` (objects with id, audio, duration, offset; e.g.
    `asr.data.manifest.Utterance`) in :func:`duration_batches` of at most `batch_seconds`.

    Unreadable audio is logged, left out and reported in the batch's `skipped`. Run inside
    :func:`eval_mode` for eval-mode results."""
    rate = model.sample_rate
    vocab_size = len(model.vocab)
    for batch in duration_batches(items, batch_seconds):
        audios, kept, skipped = [], [], []
        for item in batch:
            try:
                audio = read_item(item, rate)
            except AudioError as e:
                log.warning("skipping %s: %s", item.id, e)
                skipped.append((item.id, str(e)))
                continue
            except Exception as e:  # noqa: BLE001 - one bad file is skipped and listed, never ends the run
                log.debug("%s: unexpected error reading %s", item.id, item.audio, exc_info=True)
                reason = f"{item.audio}: cannot be read (unexpected {type(e).__name__}: {e})"
                log.warning("skipping %s: %s", item.id, reason)
                skipped.append((item.id, reason))
                continue
            audios.append(audio)
            kept.append(item)
        if kept:
            log_probs, lengths = emissions(model, audios)
        else:
            log_probs, lengths = _empty_emissions(vocab_size)
        yield EmissionBatch(tuple(kept), tuple(len(a) for a in audios), log_probs, lengths, tuple(skipped))


def _empty_emissions(vocab_size: int) -> tuple[Any, Any]:
    """(0, 0, V) log-probs and (0,) lengths, as torch tensors where torch is installed."""
    torch = optional_torch()
    if torch is None:
        return np.empty((0, 0, vocab_size), np.float32), np.empty(0, np.int64)
    return torch.empty(0, 0, vocab_size), torch.empty(0, dtype=torch.long)
