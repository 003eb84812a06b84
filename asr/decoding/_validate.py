"""Shared input checks for decoders: shapes, dtypes, vocabulary size."""

from __future__ import annotations

import numpy as np
import torch

from asr.text import Vocabulary


def as_log_probs(
    log_probs: torch.Tensor | np.ndarray, lengths: torch.Tensor | np.ndarray | None, vocab: Vocabulary
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate and convert decoder input to float32 CPU-or-device tensors (B, T, V) and (B,) int64."""
    if isinstance(log_probs, np.ndarray):
        log_probs = torch.from_numpy(log_probs)
    if not isinstance(log_probs, torch.Tensor):
        raise ValueError(f"log_probs must be a torch.Tensor or numpy array, got {type(log_probs).__name__}")
    if log_probs.dim() != 3:
        raise ValueError(f"log_probs must have shape (B, T, V), got {tuple(log_probs.shape)}")
    if not log_probs.is_floating_point():
        raise ValueError(f"log_probs must be floating point, got dtype {log_probs.dtype}")
    if log_probs.shape[-1] != len(vocab):
        raise ValueError(
            f"log_probs last dimension must equal the vocabulary size: expected {len(vocab)}, "
            f"got {log_probs.shape[-1]}"
        )
    batch, frames = log_probs.shape[:2]
    if lengths is None:
        lengths = torch.full((batch,), frames, dtype=torch.long)
    else:
        lengths = torch.as_tensor(lengths)
        if lengths.dim() != 1 or lengths.shape[0] != batch:
            raise ValueError(f"lengths must have shape ({batch},), got {tuple(lengths.shape)}")
        if lengths.is_floating_point():
            raise ValueError(f"lengths must be integers, got dtype {lengths.dtype}")
        if (lengths < 0).any() or (lengths > frames).any():
            raise ValueError(f"lengths must lie in [0, {frames}], got {lengths.tolist()}")
    return log_probs.float(), lengths.long().to(log_probs.device)
