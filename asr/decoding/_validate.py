"""Shared input checks for decoders: shapes, dtypes, vocabulary size.

numpy only: torch tensors (and anything else with ``.detach().cpu().numpy()``) are converted without
importing torch, so `asr.decoding` runs where torch is not installed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from asr.text import Vocabulary


def to_numpy(x: Any) -> np.ndarray:
    """A numpy view of `x`: numpy arrays as they are, tensors via ``.detach().cpu().numpy()`` (duck-typed).

    Floating-point tensors whose dtype numpy lacks (bfloat16, float16 on some builds) become float32 first.
    """
    if isinstance(x, np.ndarray):
        return x
    if all(hasattr(x, name) for name in ("detach", "cpu", "numpy")):
        x = x.detach().cpu()
        is_float = getattr(x, "is_floating_point", None)
        if callable(is_float) and is_float() and hasattr(x, "float"):
            x = x.float()
        return x.numpy()
    raise ValueError(f"log_probs must be a torch.Tensor or numpy array, got {type(x).__name__}")


def as_log_probs(log_probs: Any, lengths: Any, vocab: Vocabulary) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert decoder input to a float32 array (B, T, V) and int64 lengths (B,)."""
    array = to_numpy(log_probs)
    if array.ndim != 3:
        raise ValueError(f"log_probs must have shape (B, T, V), got {tuple(array.shape)}")
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"log_probs must be floating point, got dtype {array.dtype}")
    if array.shape[-1] != len(vocab):
        raise ValueError(
            f"log_probs last dimension must equal the vocabulary size: expected {len(vocab)}, "
            f"got {array.shape[-1]}"
        )
    batch, frames = array.shape[:2]
    if lengths is None:
        lengths_np = np.full((batch,), frames, dtype=np.int64)
    else:
        if not isinstance(lengths, np.ndarray) and all(
            hasattr(lengths, n) for n in ("detach", "cpu", "numpy")
        ):
            lengths = lengths.detach().cpu().numpy()
        lengths_np = np.asarray(lengths)
        if lengths_np.ndim != 1 or lengths_np.shape[0] != batch:
            raise ValueError(f"lengths must have shape ({batch},), got {tuple(lengths_np.shape)}")
        if not np.issubdtype(lengths_np.dtype, np.integer) and lengths_np.size:
            raise ValueError(f"lengths must be integers, got dtype {lengths_np.dtype}")
        lengths_np = lengths_np.astype(np.int64)
        if (lengths_np < 0).any() or (lengths_np > frames).any():
            raise ValueError(f"lengths must lie in [0, {frames}], got {lengths_np.tolist()}")
    return np.ascontiguousarray(array, dtype=np.float32), lengths_np
