"""`OnnxModel`: an ONNX export run by onnxruntime (needs no torch)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from asr.errors import ExportError, MissingDependency
from asr.runtime.base import ExportedModel
from asr.torch_compat import optional_torch

__all__ = ["OnnxModel"]

log = logging.getLogger(__name__)


class OnnxModel(ExportedModel):
    """An ONNX export run by onnxruntime (CUDA execution provider on a CUDA device when available)."""

    def __init__(self, model_file: Path, manifest: dict[str, Any], device: Any, threads: int = 0):
        super().__init__(manifest, device)
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise MissingDependency(
                "running an ONNX export needs onnxruntime: pip install 'asr-blstm[onnx]'"
            ) from e
        options = ort.SessionOptions()
        # 0: follow torch's thread setting (what `--threads` sets), so every backend obeys one knob;
        # without torch, onnxruntime's own default (one thread per physical core).
        torch = optional_torch()
        options.intra_op_num_threads = threads or (torch.get_num_threads() if torch is not None else 0)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        providers = ["CPUExecutionProvider"]
        if self.device_type == "cuda":
            if "CUDAExecutionProvider" in ort.get_available_providers():
                providers.insert(0, "CUDAExecutionProvider")
            else:
                log.warning("onnxruntime has no CUDA provider here; running %s on the CPU", model_file)
                self._device = "cpu"
        try:
            self.session = ort.InferenceSession(str(model_file), options, providers=providers)
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise ExportError(f"{model_file}: onnxruntime cannot load it ({e}); re-export the model") from e

    def _run(self, waveforms: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        log_probs, out_lengths = self.session.run(None, {"waveforms": waveforms, "lengths": lengths})
        return log_probs, out_lengths
