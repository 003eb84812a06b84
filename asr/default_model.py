"""The model `asr transcribe`, `asr evaluate` and `asr serve` use when no --model is given.

Resolution order: the ``ASR_MODEL`` environment variable (a checkpoint, an export directory, or a model
folder holding ``model.pt``), then the model shipped in the source tree, ``data/models/synthetic-en/``
(see data/models/README.md). A model folder may also hold ``decoder.json``: the beam-search settings
(LM, lexicon, weights) it was tuned with, used when no decoding option is given.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from asr.errors import ConfigError

log = logging.getLogger(__name__)

ENV_VAR = "ASR_MODEL"
SHIPPED = Path("data") / "models" / "synthetic-en"  # relative to the source tree's root
DECODER_FILE = "decoder.json"
# The keys of decoder.json that name files: in a model folder they must name files inside it.
PATH_KEYS = ("lm", "lexicon")


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


def bundled_decoder_settings(config: str | os.PathLike) -> dict[str, Any]:
    """A model folder's ``decoder.json`` as a dict, with the files it names resolved inside the folder.

    A model folder is data that may come from anyone, so what it names must stay in it: a path that
    leaves the folder (absolute, through "..", or a link pointing out) or is missing there is a
    ConfigError naming the key, never a file read from elsewhere. A user who wants an LM from outside
    the folder names it on the command line (--lm, --lexicon or --decoder-config)."""
    path = Path(config)
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: not a readable JSON decoder config ({e})") from None
    if not isinstance(settings, dict):
        raise ConfigError(f"{path}: expected a JSON object of decoder settings")
    folder = path.parent.resolve()
    for key in PATH_KEYS:
        value = settings.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise ConfigError(f"{path}: {key!r} must be a file name inside {path.parent}, got {value!r}")
        target = (folder / value).resolve()
        if Path(value).is_absolute() or not target.is_relative_to(folder):
            raise ConfigError(
                f"{path}: {key!r} names {value!r}, outside the model folder; a model folder's files may "
                f"only name files inside it (to use another {key}, give --{key} on the command line)"
            )
        if not target.is_file():
            raise ConfigError(f"{path}: {key!r} names {value!r}, which is not a file in {path.parent}")
        settings[key] = str(target)
    return settings
