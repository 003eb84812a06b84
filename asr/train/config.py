"""TrainConfig (with its [train.augment] AugmentConfig) and the run config that joins features, model
and training settings."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from asr.config import ConfigError, apply_overrides, from_table, load_toml
from asr.data.augment import AugmentConfig
from asr.features import FeatureConfig
from asr.model import ModelConfig
from asr.model_config import DERIVED_KEYS
from asr.text import Vocabulary

__all__ = [
    "AugmentConfig",
    "RunConfig",
    "TrainConfig",
    "load_run_config",
    "train_config_from_dict",
    "train_config_from_table",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and bookkeeping for one training run. Saved inside every checkpoint."""

    # The data and the output folder have no default: a recipe's config names them, and `train`
    # refuses a run without them rather than reading or writing some recipe's folders.
    train_manifest: str = ""
    # More training manifests whose utterances join train_manifest's: another corpus mixed in, such as
    # a replay of what a fine-tuned model learned first, so that it does not forget it.
    extra_train_manifests: tuple[str, ...] = ()
    dev_manifest: str = ""
    out_dir: str = ""
    epochs: int = 10
    max_duration: float = 240.0  # seconds of (padded) audio per batch
    num_buckets: int = 30
    max_utterance_seconds: float = 30.0
    lr: float = 2e-3
    min_lr_ratio: float = 0.02  # cosine decay ends at lr * min_lr_ratio
    warmup_steps: int = 150
    weight_decay: float = 1e-2
    grad_clip: float = 5.0
    # "auto": packed sequences on CUDA, the dense padded batch on CPU (its oneDNN LSTM is ~4x faster
    # there; duration buckets keep the padding to a few frames); "true"/"false" force it.
    pack_sequences: str = "auto"
    # "auto": bfloat16 autocast where the hardware has fast bf16 (CUDA with bf16; CPUs with AMX, where
    # the LSTM step measured ~5x faster than fp32), else fp32. "bf16", "fp16" (CUDA only), "fp32" force it.
    precision: str = "auto"
    seed: int = 0
    # Start from these weights (a checkpoint with the same [model] and [features]) instead of a random
    # init: fine-tuning, or a second learning-rate cycle. --resume, when it finds last.pt, wins over this.
    init_from: str = ""
    device: str = "auto"  # "auto" picks CUDA when present
    num_threads: int = 0  # torch intra-op threads; 0 leaves torch's default
    num_workers: int = 0  # DataLoader worker processes
    checkpoint_every: int = 500  # steps between mid-epoch checkpoints (0: epoch ends only)
    max_bad_steps: int = 20  # consecutive non-finite losses before the run stops
    dev_max_utterances: int = 0  # 0: the whole dev set
    log_every: int = 10
    # ---- optimisation extras (all off by default)
    grad_accum: int = 1  # batches whose gradients add up before one optimizer step
    keep_checkpoints: int = 0  # also keep the last K checkpoints as ckpt-STEP.pt (0: last.pt/best.pt only)
    average_last: int = 0  # at the end, average the weights of the last N checkpoints into averaged.pt
    # ---- augmentation: the [train.augment] table (see asr/data/augment.py)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # ---- monitoring (rank 0 only): metrics.csv always; TensorBoard events and PNG curves when enabled
    tensorboard: bool = True
    plots: bool = True
    # ---- distributed (torchrun): "auto" is NCCL on CUDA, gloo on CPU
    dist_backend: str = "auto"

    def __post_init__(self) -> None:
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise ConfigError(f"train.precision must be auto, fp32, bf16 or fp16, got {self.precision!r}")
        if self.pack_sequences not in ("auto", "true", "false"):
            raise ConfigError(
                f"train.pack_sequences must be auto, true or false, got {self.pack_sequences!r}"
            )
        if self.grad_accum < 1:
            raise ConfigError(f"train.grad_accum must be >= 1, got {self.grad_accum}")
        if self.dist_backend not in ("auto", "gloo", "nccl"):
            raise ConfigError(f"train.dist_backend must be auto, gloo or nccl, got {self.dist_backend!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def missing_paths(self) -> list[str]:
        """The path settings a run needs but this config leaves empty, as ``train.KEY``."""
        return [f"train.{k}" for k in ("train_manifest", "dev_manifest", "out_dir") if not getattr(self, k)]


@dataclass(frozen=True)
class RunConfig:
    features: FeatureConfig
    model: ModelConfig
    train: TrainConfig

    @property
    def vocab(self) -> Vocabulary:
        """The output symbols a run trains: blank, space, a-z and the apostrophe, what `normalize_text`
        leaves of a transcript. Not a setting; a checkpoint stores it as its "vocab", and the model's
        output width is its length."""
        return Vocabulary.english_characters()

    def to_dict(self) -> dict[str, Any]:
        return {"features": asdict(self.features), "model": asdict(self.model), "train": asdict(self.train)}

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> RunConfig:
        """The run config a checkpoint stored (``payload["train"]["config"]``), old layouts included."""
        return cls(
            FeatureConfig.from_dict(stored["features"]),
            ModelConfig.from_dict(stored["model"]),
            train_config_from_dict(stored.get("train", {})),
        )


# Tables a recipe config may carry for its own scripts (e.g. corpus generation); `asr train` ignores them.
RECIPE_TABLES = {"corpus", "lm"}

# The augmentation keys [train] held before they moved into [train.augment] (old checkpoints store them).
FLAT_AUGMENT_KEYS = frozenset(f.name for f in fields(AugmentConfig)) - {"babble_voices"}


def _augment_table(train: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a [train] table into its own keys and its [train.augment] sub-table, which a TOML file
    gives as a nested table and `--set train.augment.key=value` as a dotted key."""
    train = dict(train)
    augment = train.pop("augment", {})
    if not isinstance(augment, dict):
        raise ConfigError(f"train.augment = {augment!r}: expected a table ([train.augment])")
    augment = dict(augment)
    for key in [k for k in train if k.startswith("augment.")]:
        augment[key.removeprefix("augment.")] = train.pop(key)
    return train, augment


def train_config_from_table(table: dict[str, Any]) -> TrainConfig:
    """[train] and its [train.augment] sub-table; an augmentation key left in [train] is an error."""
    train, augment = _augment_table(table)
    moved = sorted(FLAT_AUGMENT_KEYS & set(train))
    if moved:
        raise ConfigError(
            f"[train]: {', '.join(moved)} moved to the [train.augment] table: write them under a "
            f"`[train.augment]` heading (or --set train.augment.{moved[0]}=...)"
        )
    return replace(
        from_table(TrainConfig, train, "train"), augment=from_table(AugmentConfig, augment, "train.augment")
    )


def train_config_from_dict(stored: dict[str, Any]) -> TrainConfig:
    """A TrainConfig from a checkpoint's stored dict. Checkpoints written before [train.augment] keep the
    augmentation keys flat in it: they are moved into the sub-table; keys this asr no longer knows are
    dropped (with a warning), so an old checkpoint still describes itself."""
    train, augment = _augment_table(stored)
    for key in FLAT_AUGMENT_KEYS & set(train):
        augment.setdefault(key, train.pop(key))
    known = {f.name for f in fields(TrainConfig)}
    known_augment = {f.name for f in fields(AugmentConfig)}
    dropped = sorted({*(set(train) - known), *(f"augment.{k}" for k in set(augment) - known_augment)})
    if dropped:
        log.warning("stored train config: ignoring keys this asr does not know: %s", ", ".join(dropped))
    train = {k: v for k, v in train.items() if k in known}
    augment = {k: v for k, v in augment.items() if k in known_augment}
    return replace(
        from_table(TrainConfig, train, "train"), augment=from_table(AugmentConfig, augment, "train.augment")
    )


def load_run_config(path: str | Path | None, overrides: list[str] | None = None) -> RunConfig:
    raw = load_toml(path) if path else {}
    raw = apply_overrides(raw, overrides or [])
    unknown = set(raw) - {"features", "model", "train"} - RECIPE_TABLES
    if "decode" in unknown:
        raise ConfigError(
            "[decode] is no longer read (nothing used it): pass decoding options to `asr transcribe` / "
            "`asr evaluate`, or keep them in a decoder.json beside the model"
        )
    if unknown:
        raise ConfigError(f"unknown config table(s) {sorted(unknown)}; expected [features], [model], [train]")
    features = from_table(FeatureConfig, raw.get("features", {}), "features")
    derived = sorted(DERIVED_KEYS & set(raw.get("model", {})))
    if derived:
        raise ConfigError(
            f"model.{derived[0]} is not a setting: the model's input width is features.n_mels and its "
            "output width the vocabulary's size"
        )
    model = from_table(ModelConfig, raw.get("model", {}), "model")
    train = train_config_from_table(raw.get("train", {}))
    return RunConfig(features, model, train)
