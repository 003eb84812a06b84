"""Run exported models (ONNX, TorchScript, int8): the loading side of `asr.export`.

An export directory (written by `asr.export.export_model`, see there for the layout) holds a manifest,
`asr_export.json`, and one model file. `asr.load_model(dir)` loads it through `load_from_manifest`
as an `ExportedModel`, which satisfies `asr.recognizer.Recognizer`: the interface `asr.transcribe`,
`asr.evaluate` and `asr serve` use.

This package never imports checkpoint or export code: running a model needs neither torch.onnx nor
the training checkpoint format, and an ONNX export (`asr.runtime.onnx`) needs no torch at all:
onnxruntime and numpy (`pip install 'asr-blstm[onnx]'`). TorchScript and int8 eager models
(`asr.runtime.torch_models`) load torch when asked for. The exported LSTM runs on the dense padded
batch (packed sequences do not export reliably); utterances of different lengths therefore run one at
a time, so that results never depend on how utterances were batched (the eager model packs for the
same reason).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from asr.errors import ExportError
from asr.runtime.base import ExportedModel
from asr.runtime.manifest import EXPORT_FORMAT_VERSION, MANIFEST_NAME, read_export_manifest
from asr.runtime.onnx import OnnxModel

__all__ = [
    "EXPORT_FORMAT_VERSION",
    "MANIFEST_NAME",
    "EagerInt8Model",
    "ExportError",
    "ExportedModel",
    "OnnxModel",
    "TorchScriptModel",
    "load_from_manifest",
    "quantize_int8",
    "read_export_manifest",
]

_TORCH_MODELS = ("EagerInt8Model", "TorchScriptModel", "quantize_int8")


def __getattr__(name: str) -> Any:
    if name in _TORCH_MODELS:  # lazy: they import torch
        from asr.runtime import torch_models

        return getattr(torch_models, name)
    raise AttributeError(f"module 'asr.runtime' has no attribute {name!r}")


def load_from_manifest(
    path: Path, manifest: dict[str, Any], device: Any = "cpu", threads: int = 0
) -> ExportedModel:
    """The model of export directory `path` described by `manifest` (already read and checked).

    `threads`: intra-op threads for onnxruntime (0: torch's current setting, `torch.get_num_threads()`,
    or onnxruntime's default where torch is not installed). TorchScript uses torch's thread setting."""
    backend = manifest.get("backend")
    name = str(manifest.get("model_file", ""))
    model_file = path / name
    # an export directory is data that may come from anyone: its manifest names a file inside it only
    if Path(name).is_absolute() or not model_file.resolve().is_relative_to(path.resolve()):
        raise ExportError(
            f"{path / MANIFEST_NAME}: 'model_file' names {name!r}, outside the export directory; "
            "re-export the model"
        )
    if not model_file.is_file():
        raise ExportError(f"{model_file}: the exported model file is missing; re-export the model")
    if backend == "onnx":
        return OnnxModel(model_file, manifest, device, threads)
    if backend == "torchscript":
        from asr.torch_compat import require_torch

        require_torch("a TorchScript export")
        from asr.runtime.torch_models import TorchScriptModel

        return TorchScriptModel(model_file, manifest, device)
    raise ExportError(f"{path / MANIFEST_NAME}: unknown backend {backend!r}")
