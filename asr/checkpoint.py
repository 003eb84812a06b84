"""Self-describing checkpoints: one file holds configs, vocabulary, weights and training state.

Layout: {"format_version", "features", "model", "vocab", "state_dict", "train",
"optimizer", "scheduler"}; loadable with `torch.load(path, weights_only=True)`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

from asr.errors import CheckpointError
from asr.features import FeatureConfig
from asr.fileio import atomic_write
from asr.model import ModelConfig
from asr.recognizer import Recognizer, SpeechRecognizer
from asr.text import Vocabulary

FORMAT_VERSION = 1
log = logging.getLogger(__name__)


def checkpoint_payload(
    recognizer: SpeechRecognizer,
    train: dict[str, Any] | None = None,
    optimizer: dict | None = None,
    scheduler: dict | None = None,
) -> dict[str, Any]:
    """Everything needed to rebuild `recognizer` (and, with the optional parts, resume training)."""
    payload: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "features": recognizer.feature_config.to_dict(),
        "model": recognizer.model_config.to_dict(),
        "vocab": recognizer.vocab.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in recognizer.acoustic.state_dict().items()},
        "train": train or {},
    }
    if optimizer is not None:
        payload["optimizer"] = optimizer
    if scheduler is not None:
        payload["scheduler"] = scheduler
    return payload


def save_checkpoint(payload: dict[str, Any], path: str | os.PathLike) -> None:
    """Write atomically (`asr.fileio.atomic_write`: temp file beside it, fsync, rename, ordinary
    permissions). A kill never leaves a torn file."""
    with atomic_write(path, "wb") as f:
        torch.save(payload, f)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and validate a checkpoint file; raises CheckpointError with what to do."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such model file (train one with `asr train`, or check the path)")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types for foreign files
        raise CheckpointError(f"{path}: not a readable asr checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(payload, dict) or "format_version" not in payload:
        raise CheckpointError(f"{path}: not an asr checkpoint (no format_version)")
    version = payload["format_version"]
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format_version {version} is not supported by this asr "
            f"(supports {FORMAT_VERSION}); upgrade asr or re-export the model"
        )
    for key in ("features", "model", "vocab", "state_dict"):
        if key not in payload:
            raise CheckpointError(f"{path}: checkpoint is missing '{key}'")
    return payload


TRAINING_STATE_KEYS = ("optimizer", "scheduler", "scaler")


def slim_checkpoint(src: str | os.PathLike, dst: str | os.PathLike, half: bool = False) -> Path:
    """Copy a checkpoint without its optimizer/scheduler state (a third of the size), optionally with
    float16 weights (half again; they load back as float32). Configs, vocabulary and the training config
    stay: the copy still describes itself. Feature statistics and other small tensors keep float32."""
    payload = load_checkpoint(src)
    slim = {k: v for k, v in payload.items() if k not in TRAINING_STATE_KEYS}
    if half:
        slim["state_dict"] = {
            k: v.half() if v.is_floating_point() and v.numel() > 1024 else v
            for k, v in payload["state_dict"].items()
        }
    recognizer_from_payload(slim)  # refuse to write something that does not load
    save_checkpoint(slim, dst)
    return Path(dst)


def recognizer_from_payload(payload: dict[str, Any]) -> SpeechRecognizer:
    recognizer = SpeechRecognizer(
        FeatureConfig.from_dict(payload["features"]),
        ModelConfig.from_dict(payload["model"]),
        Vocabulary.from_dict(payload["vocab"]),
    )
    recognizer.acoustic.load_state_dict(payload["state_dict"])
    recognizer.metadata = {k: payload["train"].get(k) for k in ("epoch", "step", "metrics", "git_rev")}
    return recognizer


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> Recognizer:
    """A checkpoint file rebuilt as a `SpeechRecognizer` from it alone, in eval mode on `device`.

    The public loader, `asr.load_model` (`asr.loading`), also takes export directories; it calls this
    for files."""
    recognizer = recognizer_from_payload(load_checkpoint(path))
    log.info("loaded %s (%d parameters)", path, recognizer.acoustic.num_parameters())
    return recognizer.to(device).eval()
