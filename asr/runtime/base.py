"""`ExportedModel`: what every exported model shares (configs, vocabulary, decoder, the batch rule)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from asr.features import FeatureConfig
from asr.model_config import ModelConfig
from asr.text import Vocabulary
from asr.torch_compat import optional_torch, require_torch, to_numpy

if TYPE_CHECKING:
    from asr.decoding import Decoder, DecoderConfig

__all__ = ["PAD_LOGP", "ExportedModel", "check_batch", "run_stitched"]

# Frames past an utterance's end, when a batch of different lengths is run one utterance at a time:
# certain blank (decoders ignore them anyway, lengths say where each utterance ends).
PAD_LOGP = -30.0


def check_batch(waveforms: Any, lengths: Any) -> None:
    """ValueError unless waveforms is (B, S) and lengths (B,) (numpy arrays or torch tensors)."""
    if waveforms.ndim != 2:
        raise ValueError(f"waveforms must be (B, samples), got shape {tuple(waveforms.shape)}")
    if lengths.ndim != 1 or lengths.shape[0] != waveforms.shape[0]:
        raise ValueError(
            f"lengths must be ({waveforms.shape[0]},) to match waveforms, got {tuple(lengths.shape)}"
        )


def run_stitched(
    run: Callable[[Any, Any], tuple[Any, Any]], waveforms: Any, lengths: Any, vocab: Vocabulary
) -> tuple[Any, Any]:
    """Run `run` (one equal-length batch → log_probs (B, T', V), lengths) on any batch.

    waveforms (B, S), lengths (B,): numpy arrays or torch tensors, answered in kind. A batch of different
    lengths runs one utterance at a time, so padding never reaches the dense LSTM, and is stitched back
    into (B, max T', V) with certain blank past each end."""
    if bool((lengths == lengths[0]).all()):
        return run(waveforms[:, : int(lengths[0])], lengths)
    outs = [run(waveforms[i : i + 1, : int(n)], lengths[i : i + 1]) for i, n in enumerate(lengths)]
    first = outs[0][0]
    shape = (len(outs), max(o[0].shape[1] for o in outs), len(vocab))
    if isinstance(first, np.ndarray):
        log_probs, cat = np.full(shape, PAD_LOGP, dtype=first.dtype), np.concatenate
    else:
        log_probs, cat = first.new_full(shape, PAD_LOGP), require_torch("torch tensors in").cat
    log_probs[:, :, vocab.blank_id] = 0.0
    for i, (lp, _) in enumerate(outs):
        log_probs[i, : lp.shape[1]] = lp[0]
    return log_probs, cat([o[1] for o in outs])


class ExportedModel:
    """Base of the exported models; satisfies `asr.recognizer.Recognizer` (what `asr.transcribe`,
    `asr.evaluate` and `asr serve` use).

    Called with numpy arrays it answers numpy arrays (no torch needed); called with torch tensors, torch
    tensors on `device`. Subclasses run one equal-length batch in `_run`."""

    training = False  # evaluate() toggles eval/train mode; an export is always in inference mode
    # Set by asr.load_model: how the model decodes when no decoder is named (its decoder.json; None:
    # greedy), and the export directory it came from.
    decoder_config: DecoderConfig | None = None
    path: Path | None = None

    def __init__(self, manifest: dict[str, Any], device: Any) -> None:
        self.manifest = manifest
        self.feature_config = FeatureConfig.from_dict(manifest["features"])
        self.model_config = ModelConfig.from_dict(manifest["model"])
        self.vocab = Vocabulary.from_dict(manifest["vocab"])
        self.frame_shift_s = float(manifest["frame_shift_s"])
        self.backend: str = manifest["backend"]
        self.quantize: str | None = manifest.get("quantize")
        self.metadata: dict = manifest.get("metadata") or {}
        self._device = str(device)

    @property
    def sample_rate(self) -> int:
        return self.feature_config.sample_rate

    @property
    def device(self) -> Any:
        """A `torch.device` where torch is installed, else the device's name ('cpu')."""
        torch = optional_torch()
        return torch.device(self._device) if torch is not None else self._device

    @property
    def device_type(self) -> str:
        return self._device.split(":")[0]

    def decoder(self, config: DecoderConfig | None = None) -> Decoder:
        """A decoder for this model's output: greedy when `config` is None, else beam search with it
        (word times in this model's frame shift)."""
        from asr.decoding import build_decoder

        return build_decoder(self.vocab, self.frame_shift_s, config)

    def eval(self) -> ExportedModel:
        return self

    def train(self, mode: bool = True) -> ExportedModel:
        if mode:
            raise RuntimeError("an exported model cannot be trained; train the checkpoint it came from")
        return self

    def __repr__(self) -> str:
        q = f", {self.quantize}" if self.quantize else ""
        return f"{type(self).__name__}({self.backend}{q}, device={self._device})"

    def _run(self, waveforms: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One batch of equal lengths: waveforms (B, S) float32, lengths (B,) int64 → log_probs, lengths."""
        raise NotImplementedError

    def __call__(self, waveforms: Any, lengths: Any) -> tuple[Any, Any]:
        """waveforms (B, S) float at `sample_rate`, lengths (B,) samples → log_probs (B, T', V), lengths."""
        check_batch(waveforms, lengths)
        as_torch = not isinstance(waveforms, np.ndarray)
        waves = to_numpy(waveforms, np.float32)
        lens = to_numpy(lengths).astype(np.int64)
        log_probs, out_lengths = run_stitched(
            lambda w, n: self._run(np.ascontiguousarray(w), n), waves, lens, self.vocab
        )
        if not as_torch:
            return log_probs, out_lengths
        torch = require_torch("torch tensors in")
        return torch.from_numpy(log_probs).to(self.device), torch.from_numpy(out_lengths).to(self.device)
