"""Exported models that torch runs: TorchScript exports and the in-memory eager int8 model."""

from __future__ import annotations

import copy
import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from asr.errors import ExportError
from asr.runtime.base import ExportedModel, check_batch, run_stitched

if TYPE_CHECKING:
    from asr.recognizer import SpeechRecognizer

__all__ = ["EagerInt8Model", "TorchScriptModel", "quantize_int8"]

log = logging.getLogger(__name__)


def quantize_int8(module: nn.Module) -> nn.Module:
    """Dynamic int8 quantization of the LSTM and Linear layers (torch.ao.quantization; CPU only).

    Returns a quantized copy; the original is left as it is."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quantize_dynamic is deprecated in favour of torchao (torch 2.14)
        return torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(module).cpu().eval(), {nn.LSTM, nn.Linear}, dtype=torch.qint8
        )


class _TorchExportedModel(ExportedModel):
    """An exported model that torch runs: torch tensors in and out (numpy arrays in, numpy out)."""

    def _run_torch(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    @torch.no_grad()
    def __call__(self, waveforms: Any, lengths: Any) -> tuple[Any, Any]:
        check_batch(waveforms, lengths)
        as_numpy = isinstance(waveforms, np.ndarray)
        waveforms = torch.as_tensor(waveforms).float()
        lengths = torch.as_tensor(lengths).long()
        log_probs, out_lengths = self._stitched(waveforms, lengths)
        if as_numpy:
            return log_probs.cpu().numpy(), out_lengths.cpu().numpy()
        return log_probs, out_lengths

    def _stitched(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return run_stitched(self._run_torch, waveforms, lengths, self.vocab)


class TorchScriptModel(_TorchExportedModel):
    """A TorchScript export (`torch.jit.load`); int8 exports run on the CPU only."""

    def __init__(self, model_file: Path, manifest: dict[str, Any], device: Any):
        super().__init__(manifest, device)
        if self.quantize and self.device_type != "cpu":
            log.warning("int8 TorchScript models run on the CPU only; ignoring device %s", self._device)
            self._device = "cpu"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated, still works
                self.module = torch.jit.load(str(model_file), map_location=self.device).eval()
        except Exception as e:  # noqa: BLE001
            raise ExportError(
                f"{model_file}: torch.jit.load cannot read it ({e}); re-export the model"
            ) from e

    def _run_torch(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.module(waveforms.to(self.device), lengths.to(self.device))


class EagerInt8Model(_TorchExportedModel):
    """The eager recognizer with torch dynamic int8 LSTM/Linear layers, in memory (benchmarks, tests)."""

    def __init__(self, recognizer: SpeechRecognizer) -> None:
        manifest = {
            "features": recognizer.feature_config.to_dict(),
            "model": recognizer.model_config.to_dict(),
            "vocab": recognizer.vocab.to_dict(),
            "frame_shift_s": recognizer.frame_shift_s,
            "backend": "eager",
            "quantize": "int8",
            "metadata": dict(recognizer.metadata),
        }
        super().__init__(manifest, "cpu")
        self.module = quantize_int8(recognizer)

    def _stitched(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.module(waveforms.cpu(), lengths.cpu())  # the eager model packs: any lengths at once
