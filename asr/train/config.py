"""TrainConfig and the run config that joins features, model and training settings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from asr.config import ConfigError, apply_overrides, from_table, load_toml
from asr.features import FeatureConfig
from asr.model import ModelConfig


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and bookkeeping for one training run. Saved inside every checkpoint."""

    train_manifest: str = "data/synthetic/train.jsonl"
    dev_manifest: str = "data/synthetic/dev.jsonl"
    out_dir: str = "exp/synthetic"
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
    spec_augment: bool = True
    freq_mask: int = 15  # widest frequency mask, in mel bins
    time_mask: int = 20  # widest time mask, in frames
    num_time_masks: int = 2
    seed: int = 0
    device: str = "auto"  # "auto" picks CUDA when present
    num_threads: int = 0  # torch intra-op threads; 0 leaves torch's default
    num_workers: int = 0  # DataLoader worker processes
    checkpoint_every: int = 500  # steps between mid-epoch checkpoints (0: epoch ends only)
    max_bad_steps: int = 20  # consecutive non-finite losses before the run stops
    dev_max_utterances: int = 0  # 0: the whole dev set
    log_every: int = 10

    def __post_init__(self) -> None:
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise ValueError(f"train.precision must be auto, fp32, bf16 or fp16, got {self.precision!r}")
        if self.pack_sequences not in ("auto", "true", "false"):
            raise ValueError(f"train.pack_sequences must be auto, true or false, got {self.pack_sequences!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunConfig:
    features: FeatureConfig
    model: ModelConfig
    train: TrainConfig

    def to_dict(self) -> dict[str, Any]:
        return {"features": asdict(self.features), "model": asdict(self.model), "train": asdict(self.train)}


# Tables a recipe config may carry for its own scripts (e.g. corpus generation); `asr train` ignores them.
RECIPE_TABLES = {"corpus", "lm", "decode"}


def load_run_config(path: str | Path | None, overrides: list[str] | None = None) -> RunConfig:
    raw = load_toml(path) if path else {}
    raw = apply_overrides(raw, overrides or [])
    unknown = set(raw) - {"features", "model", "train"} - RECIPE_TABLES
    if unknown:
        raise ConfigError(f"unknown config table(s) {sorted(unknown)}; expected [features], [model], [train]")
    features = from_table(FeatureConfig, raw.get("features", {}), "features")
    model = from_table(ModelConfig, raw.get("model", {}), "model")
    # The model's input width always follows the features; a mismatch would be a silent error otherwise.
    if "input_size" in raw.get("model", {}) and model.input_size != features.n_mels:
        raise ConfigError(f"model.input_size={model.input_size} must equal features.n_mels={features.n_mels}")
    model = replace(model, input_size=features.n_mels)
    train = from_table(TrainConfig, raw.get("train", {}), "train")
    return RunConfig(features, model, train)
