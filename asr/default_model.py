"""The model `asr transcribe`, `asr evaluate` and `asr serve` use when no --model is given.

Resolution order: the ``ASR_MODEL`` environment variable (a checkpoint, an export directory, or a model
folder holding ``model.pt``), then the model shipped in the source tree, ``data/models/synthetic-en/``
(see data/models/README.md). A model folder may also hold ``decoder.json``: the beam-search settings
(LM, lexicon, weights) it was tuned with, used when no decoding option is given.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

ENV_VAR = "ASR_MODEL"
SHIPPED = Path("data") / "models" / "synthetic-en"  # relative to the source tree's root
DECODER_FILE = "decoder.json"


def shipped_model_dir() -> Path:
    """Where the shipped model lives in a source checkout (an editable install finds it there)."""
    return Path(__file__).resolve().parents[1] / SHIPPED


def _model_in(path: Path) -> Path:
    """A model folder's model.pt; an export directory or a checkpoint file as it is."""
    if path.is_dir() and (path / "model.pt").is_file():
        return path / "model.pt"
    return path


def default_model() -> Path:
    """The checkpoint (or export directory) to use when the user named none."""
    env = os.environ.get(ENV_VAR)
    if env:
        path = _model_in(Path(env))
        if not path.exists():
            raise FileNotFoundError(f"{ENV_VAR}={env}: no such model")
        return path
    path = shipped_model_dir() / "model.pt"
    if path.is_file():
        return path
    raise FileNotFoundError(
        "no --model given, no ASR_MODEL set, and no shipped model at "
        f"{SHIPPED / 'model.pt'} (it comes with the source repository, not with a wheel): "
        "pass --model CHECKPOINT or set ASR_MODEL"
    )


def resolve_model(arg: str | None) -> tuple[Path, bool]:
    """(model path, whether it is the default) for a --model option that may be absent."""
    if arg:
        return _model_in(Path(arg)), False
    path = default_model()
    log.info("model: %s (the default; --model or ASR_MODEL to change it)", path)
    return path, True


def bundled_decoder_config(model: str | os.PathLike) -> Path | None:
    """``decoder.json`` beside a checkpoint file or inside an export directory, if there is one."""
    path = Path(model)
    if path.is_dir():
        config = path / DECODER_FILE
    elif path.is_file():
        config = path.parent / DECODER_FILE
    else:
        return None
    return config if config.is_file() else None
