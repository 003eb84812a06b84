"""`asr.load_model`: the one call that loads a model, whatever form it comes in.

    model = asr.load_model()                          # $ASR_MODEL, else the shipped model
    model = asr.load_model("synthetic-en")            # a shipped model by name (data/models/NAME)
    model = asr.load_model("data/models/synthetic-en")  # a model folder: model.pt (+ decoder.json)
    model = asr.load_model("exp/synthetic/best.pt")   # a checkpoint file (needs torch)
    model = asr.load_model("exp/synthetic/onnx")      # an export directory (ONNX needs no torch)

The result is a `Recognizer` that carries its decoder config: `model.decoder_config` is how the model
decodes when nobody names a decoder (`asr.transcribe`, `asr.evaluate`, `asr serve`, the CLI), read from
the model's ``decoder.json`` (beam search + LM for the shipped model), or None (greedy) where there is
none; `model.path` is the checkpoint file or export directory it came from.

``decoder.json`` is the one file in which a model keeps its decoder settings: the fields of
`asr.decoding.DecoderConfig` (plus the results `asr lm tune` writes beside them), inside an export
directory or a model folder, or beside a checkpoint file. A model folder is data that may come from
anyone, so the files it names (``lm``, ``lexicon``, ``spelling_lm``) must lie inside it
(`decoder_settings`).

Checkpoints load through `asr.checkpoint` (torch; sizes checked against the weights before anything is
built), export directories through `asr.runtime` (an ONNX export needs no torch).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asr.errors import CheckpointError, ConfigError
from asr.torch_compat import require_torch

if TYPE_CHECKING:
    from asr.decoding.config import DecoderConfig
    from asr.recognizer import Recognizer

__all__ = ["DECODER_FILE", "ENV_VAR", "decoder_file", "decoder_settings", "load_model", "shipped_model_dir"]

log = logging.getLogger(__name__)

ENV_VAR = "ASR_MODEL"
MODELS = Path("data") / "models"  # the shipped models, relative to the source tree's root
SHIPPED = MODELS / "synthetic-en"  # the default among them
DECODER_FILE = "decoder.json"
CHECKPOINT_FILE = "model.pt"  # a model folder's checkpoint
# The keys of decoder.json that name files: in a model folder they must name files inside it.
# (asr.decoding.config.PATH_FIELDS, spelled out here so that loading a model imports no decoder; a test
# checks that they agree.)
PATH_KEYS = ("lm", "lexicon", "spelling_lm")


def load_model(
    name_or_path: str | os.PathLike | None = None, device: Any = "cpu", threads: int = 0
) -> Recognizer:
    """Load a model for inference, in eval mode on `device`, with its decoder config.

    `name_or_path`: a checkpoint file, an export directory, a model folder (holding model.pt, or an
    export), the name of a shipped model, or None for the default ($ASR_MODEL, else the shipped model).
    `threads`: onnxruntime's intra-op threads for an ONNX export (0: torch's setting where torch is
    installed, else onnxruntime's default). The returned `Recognizer` has `decoder_config` (the
    `DecoderConfig` of the model's decoder.json, or None: greedy) and `path`."""
    path = _resolve(name_or_path)
    model = _load_export(path, device, threads) if path.is_dir() else _load_checkpoint(path, device)
    model.path = path
    model.decoder_config = _decoder_config(path)
    return model


def _load_export(path: Path, device: Any, threads: int) -> Recognizer:
    from asr.runtime import load_from_manifest, read_export_manifest

    return load_from_manifest(path, read_export_manifest(path), device, threads)


def _load_checkpoint(path: Path, device: Any) -> Recognizer:
    require_torch(f"loading the checkpoint {path}")
    from asr.checkpoint import load_checkpoint, recognizer_from_payload

    recognizer = recognizer_from_payload(load_checkpoint(path), str(path))
    log.info("loaded %s (%d parameters)", path, recognizer.acoustic.num_parameters())
    return recognizer.to(device).eval()


def shipped_model_dir() -> Path:
    """Where the shipped model lives in a source checkout (an editable install finds it there)."""
    return Path(__file__).resolve().parents[1] / SHIPPED


def _resolve(name_or_path: str | os.PathLike | None) -> Path:
    """The checkpoint file or export directory `load_model` reads for `name_or_path`."""
    if name_or_path is None or str(name_or_path) == "":
        return _default()
    path = Path(name_or_path)
    shipped = shipped_model_dir().parent / path.name
    if not path.exists() and path.name == str(name_or_path) and shipped.is_dir():
        path = shipped  # a shipped model's name
    if not path.exists():
        raise CheckpointError(f"{path}: no such model file (train one with `asr train`, or check the path)")
    return _model_in(path)


def _default() -> Path:
    env = os.environ.get(ENV_VAR)
    if env:
        path = _model_in(Path(env))
        if not path.exists():
            raise FileNotFoundError(f"{ENV_VAR}={env}: no such model")
        log.info("model: %s (from %s)", path, ENV_VAR)
        return path
    path = shipped_model_dir() / CHECKPOINT_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"no model given, no {ENV_VAR} set, and no shipped model at {SHIPPED / CHECKPOINT_FILE} "
            "(it comes with the source repository, not with a wheel): pass --model CHECKPOINT "
            f"(asr.load_model(PATH)) or set {ENV_VAR}"
        )
    log.info("model: %s (the default; --model or %s to change it)", path, ENV_VAR)
    return path


def _model_in(path: Path) -> Path:
    """A model folder's model.pt; an export directory or a checkpoint file as it is."""
    if path.is_dir() and (path / CHECKPOINT_FILE).is_file():
        return path / CHECKPOINT_FILE
    return path


def _decoder_config(path: Path) -> DecoderConfig | None:
    """The model's decoder.json as a DecoderConfig (None: there is none, the model decodes greedily)."""
    config = decoder_file(path)
    if config is None:
        return None
    from asr.decoding.config import DecoderConfig

    try:
        return DecoderConfig.from_dict(decoder_settings(config))
    except ValueError as e:
        raise ConfigError(f"{config}: {e}") from None


def decoder_file(model: str | os.PathLike) -> Path | None:
    """``decoder.json`` inside an export directory or model folder, or beside a checkpoint file, if any."""
    path = Path(model)
    if path.is_dir():
        config = path / DECODER_FILE
    elif path.is_file():
        config = path.parent / DECODER_FILE
    else:
        return None
    return config if config.is_file() else None


def decoder_settings(config: str | os.PathLike) -> dict[str, Any]:
    """A model's ``decoder.json`` as a dict, with the files it names resolved inside its folder.

    A model folder is data that may come from anyone, so what it names must stay in it: a path that
    leaves the folder (absolute, through "..", or a link pointing out) or is missing there is a
    ConfigError naming the key, never a file read from elsewhere. A user who wants an LM from outside
    the folder names it on the command line (--lm, --lexicon, --decoder-config or --set decoder.KEY=PATH)."""
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
            flag = f"--{key}" if key in ("lm", "lexicon") else f"--set decoder.{key}=PATH"
            raise ConfigError(
                f"{path}: {key!r} names {value!r}, outside the model folder; a model folder's files may "
                f"only name files inside it (to use another {key}, give {flag} on the command line)"
            )
        if not target.is_file():
            raise ConfigError(f"{path}: {key!r} names {value!r}, which is not a file in {path.parent}")
        settings[key] = str(target)
    return settings
