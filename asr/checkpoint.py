"""Self-describing checkpoints: one file holds configs, vocabulary, weights and training state.

Layout: {"format_version", "features", "model", "vocab", "state_dict", "train",
"optimizer", "scheduler"}; loadable with `torch.load(path, weights_only=True)`. `asr.load_model` loads
one for inference (`load_checkpoint`, then `recognizer_from_payload`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

from asr.errors import CheckpointError
from asr.features import FeatureConfig
from asr.fileio import atomic_write
from asr.model import ModelConfig
from asr.recognizer import SpeechRecognizer
from asr.text import Vocabulary

FORMAT_VERSION = 1


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
    recognizer_from_payload(slim, str(src))  # refuse to write something that does not load
    save_checkpoint(slim, dst)
    return Path(dst)


def average_checkpoints(
    paths: list[Path], weights: list[float] | None = None, like: int = -1
) -> dict[str, Any]:
    """`paths[like]`'s checkpoint without its training state, its weights replaced by the weighted mean of
    the floating-point weights of `paths` (equal weights by default; normalised to sum to 1), each in
    `paths[like]`'s dtype (its other tensors are kept as they are). The end of a run averages its last
    checkpoints; `asr average` interpolates two models' weights. CheckpointError when the checkpoints
    differ in vocabulary, configs or tensor names and shapes."""
    if not paths:
        raise ValueError("no checkpoints to average")
    weights = [1.0] * len(paths) if weights is None else [float(w) for w in weights]
    if len(weights) != len(paths) or min(weights) < 0 or sum(weights) <= 0:
        raise ValueError(f"need one weight >= 0 per checkpoint ({len(paths)}), not all 0; got {weights}")
    payloads = [load_checkpoint(p) for p in paths]
    first = payloads[0]
    for path, payload in zip(paths[1:], payloads[1:]):
        if payload["vocab"] != first["vocab"]:
            raise CheckpointError(f"{path}: its vocabulary differs from {paths[0]}'s")
        for table in ("model", "features"):  # dropout does not change what the weights mean
            ours, theirs = first[table], payload[table]  # older checkpoints also list derived sizes
            differ = sorted(k for k in set(ours) & set(theirs) - {"dropout"} if ours[k] != theirs[k])
            if differ:
                raise CheckpointError(f"{path}: its [{table}] {', '.join(differ)} differ from {paths[0]}'s")
        theirs = {k: tuple(v.shape) for k, v in payload["state_dict"].items()}
        if theirs != {k: tuple(v.shape) for k, v in first["state_dict"].items()}:
            raise CheckpointError(f"{path}: its tensors differ in names or shapes from {paths[0]}'s")
    total = sum(weights)
    averaged = {}
    for key, model in payloads[like]["state_dict"].items():
        if model.is_floating_point():
            mean = sum(w / total * p["state_dict"][key].double() for w, p in zip(weights, payloads))
            averaged[key] = mean.to(model.dtype)
        else:
            averaged[key] = model
    slim = {k: v for k, v in payloads[like].items() if k not in TRAINING_STATE_KEYS}
    return {**slim, "state_dict": averaged}


def recognizer_from_payload(payload: dict[str, Any], name: str = "checkpoint") -> SpeechRecognizer:
    """The `SpeechRecognizer` a payload describes; CheckpointError (naming `name`) when its configs are
    invalid, too large to be real, or disagree with its weights. Sizes are checked against the weights
    before anything is built, so a config that claims 100 000 layers is refused at once."""
    try:
        features = FeatureConfig.from_dict(payload["features"])
        model = ModelConfig.from_dict(payload["model"])
        vocab = Vocabulary.from_dict(payload["vocab"])
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{name}: invalid configuration ({type(e).__name__}: {e})") from None
    state_dict = payload["state_dict"]
    if not isinstance(state_dict, dict):
        raise CheckpointError(f"{name}: 'state_dict' is not a mapping of weights")
    _check_sizes(name, features, model, vocab, state_dict)
    recognizer = SpeechRecognizer(features, model, vocab)
    try:
        recognizer.acoustic.load_state_dict(state_dict)
    except RuntimeError as e:  # shapes or keys that do not match the configuration
        first = str(e).strip().splitlines()
        raise CheckpointError(
            f"{name}: the weights do not match the model configuration ({' '.join(first[:3])[:500]})"
        ) from None
    train = payload.get("train") if isinstance(payload.get("train"), dict) else {}
    recognizer.metadata = {k: train.get(k) for k in ("epoch", "step", "metrics", "git_rev")}
    return recognizer


# Beyond these a configuration describes no real front end: refused before the mel filter bank and the
# STFT window are built (n_fft is not tied to any weight, so it needs a bound of its own).
_MAX_N_FFT = 1 << 16
_RATES = (1000, 768_000)


def _check_sizes(
    name: str, features: FeatureConfig, model: ModelConfig, vocab: Vocabulary, state_dict: dict
) -> None:
    """Every size the configs give must be the size of the weights on file: building the model then
    costs what the file already holds, whatever the configuration claims."""
    if not 0 < features.n_fft <= _MAX_N_FFT or not _RATES[0] <= features.sample_rate <= _RATES[1]:
        raise CheckpointError(
            f"{name}: features.n_fft {features.n_fft} or features.sample_rate {features.sample_rate} is out "
            f"of range (n_fft at most {_MAX_N_FFT}, sample rate {_RATES[0]} to {_RATES[1]} Hz)"
        )

    def width(key: str, dim: int) -> int:
        tensor = state_dict.get(key)
        if not isinstance(tensor, torch.Tensor) or tensor.dim() <= dim:
            raise CheckpointError(f"{name}: the weights lack {key!r}: not a BiLSTM-CTC checkpoint of asr")
        return int(tensor.shape[dim])

    layers = sum(1 for key in state_dict if re.fullmatch(r"lstm\.weight_ih_l\d+", str(key)))
    expected = [
        ("features.n_mels", features.n_mels, width("feature_mean", 0)),
        ("model.num_layers", model.num_layers, layers),
        ("model.hidden_size", model.hidden_size, width("lstm.weight_hh_l0", 1)),
        ("the vocabulary's size", len(vocab), width("output.weight", 0)),
    ]
    if model.subsampling == "conv":
        expected.append(("model.conv_channels", model.conv_channels, width("subsample.conv.0.weight", 0)))
    else:
        stacked = features.n_mels * model.subsampling_factor
        expected.append(
            ("features.n_mels x model.subsampling_factor", stacked, width("lstm.weight_ih_l0", 1))
        )
    for what, claimed, actual in expected:
        if claimed != actual:
            raise CheckpointError(
                f"{name}: {what} is {claimed}, but the weights have {actual}; the checkpoint is corrupt or "
                "was edited"
            )
