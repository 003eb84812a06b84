"""`asr.load_model`: a checkpoint file or an export directory in, a `Recognizer` out.

Export directories load through `asr.runtime` (an ONNX export needs no torch); checkpoint files through
`asr.checkpoint`, which needs torch (the ``torch`` extra).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asr.errors import CheckpointError
from asr.torch_compat import require_torch

if TYPE_CHECKING:
    from asr.recognizer import Recognizer

__all__ = ["load_model"]


def load_model(path: str | os.PathLike, device: Any = "cpu", threads: int = 0) -> Recognizer:
    """Load a model for inference, in eval mode on `device`: the public loader (`asr.load_model`).

    A file is a checkpoint: rebuilt as a `SpeechRecognizer` from it alone (needs torch). A directory is
    an exported model (`asr export`), loaded by `asr.runtime.load_exported` (`threads`: onnxruntime's
    intra-op threads, 0 for the default). Either is a `Recognizer`, which `transcribe`, `evaluate` and
    `asr serve` use the same way."""
    if Path(path).is_dir():
        from asr.runtime import load_exported

        return load_exported(path, device=device, threads=threads)
    if not Path(path).exists():
        raise CheckpointError(f"{path}: no such model file (train one with `asr train`, or check the path)")
    require_torch(f"loading the checkpoint {path}")
    from asr.checkpoint import load_model as load_checkpoint_model

    return load_checkpoint_model(path, device=device)
