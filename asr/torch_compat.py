"""torch where it is installed, numpy where it is not: what the torch-free inference path asks.

The core of asr (decoding, audio, ONNX exports run by onnxruntime) needs no torch; the eager model,
training and export do (the ``torch`` extra). Modules on the inference path import torch only through
:func:`optional_torch`, so ``asr transcribe`` and ``asr serve`` run an ONNX export where torch is absent.
"""

from __future__ import annotations

import contextlib
import importlib.util
from typing import Any

import numpy as np

from asr.errors import MissingDependency

__all__ = [
    "TORCH_INSTALL_HINT",
    "inference_context",
    "optional_torch",
    "require_torch",
    "to_numpy",
    "torch_installed",
]

TORCH_INSTALL_HINT = "pip install 'asr-blstm[torch]'"


def optional_torch() -> Any:
    """The torch module, or None where it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def torch_installed() -> bool:
    """Whether torch can be imported, without importing it."""
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def require_torch(what: str) -> Any:
    """The torch module; MissingDependency saying `what` needs it (and what runs without) otherwise."""
    torch = optional_torch()
    if torch is None:
        raise MissingDependency(
            f"{what} needs torch, which is not installed here: {TORCH_INSTALL_HINT}. Without torch, "
            "asr runs ONNX exports (`asr export --format onnx` on a machine with torch; "
            "here: pip install 'asr-blstm[onnx]')"
        )
    return torch


def inference_context() -> contextlib.AbstractContextManager:
    """``torch.inference_mode()`` when torch is installed, else a no-op context."""
    torch = optional_torch()
    return torch.inference_mode() if torch is not None else contextlib.nullcontext()


def to_numpy(x: Any, dtype: Any = None) -> np.ndarray:
    """A numpy array of `x` (a torch tensor on any device, a numpy array or a sequence)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu()
        if dtype is not None and x.is_floating_point():
            x = x.float()
        x = x.numpy()
    return np.asarray(x, dtype=dtype)
