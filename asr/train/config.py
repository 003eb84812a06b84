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
    # ---- waveform augmentation (all off by default; see asr/data/augment.py)
    speed_perturb: bool = False
    speed_factors: tuple[float, ...] = (0.9, 1.0, 1.1)
    gain_prob: float = 0.0  # probability of a random gain per utterance
    gain_db: float = 6.0  # gains drawn uniformly in +-gain_db
    noise_prob: float = 0.0  # probability of additive noise per utterance
    noise_snr_db: tuple[float, ...] = (5.0, 30.0)  # SNR drawn uniformly in this range
    noise_dir: str = ""  # folder of noise recordings mixed in (half the time); empty: generated noise
    reverb_prob: float = 0.0  # probability of simulated room reverberation per utterance
    reverb_rt60: tuple[float, ...] = (0.2, 0.7)  # reverberation time range, seconds
    telephone_prob: float = 0.0  # probability of the 8 kHz telephone band (300-3400 Hz) per utterance
    babble_prob: float = 0.0  # probability of babble: other utterances of the batch talking underneath
    babble_snr_db: tuple[float, ...] = (5.0, 20.0)  # foreground-to-babble ratio drawn in this range
    # ---- monitoring (rank 0 only): metrics.csv always; TensorBoard events and PNG curves when enabled
    tensorboard: bool = True
    plots: bool = True
    # ---- distributed (torchrun): "auto" is NCCL on CUDA, gloo on CPU
    dist_backend: str = "auto"

    def __post_init__(self) -> None:
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise ValueError(f"train.precision must be auto, fp32, bf16 or fp16, got {self.precision!r}")
        if self.pack_sequences not in ("auto", "true", "false"):
            raise ValueError(f"train.pack_sequences must be auto, true or false, got {self.pack_sequences!r}")
        if self.grad_accum < 1:
            raise ValueError(f"train.grad_accum must be >= 1, got {self.grad_accum}")
        if self.dist_backend not in ("auto", "gloo", "nccl"):
            raise ValueError(f"train.dist_backend must be auto, gloo or nccl, got {self.dist_backend!r}")
        for name in ("noise_snr_db", "reverb_rt60", "babble_snr_db"):
            value = getattr(self, name)
            if len(value) != 2 or value[0] > value[1]:
                raise ValueError(f"train.{name} must be [low, high], got {list(value)}")
        for name in ("gain_prob", "noise_prob", "reverb_prob", "telephone_prob", "babble_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"train.{name} must be a probability in [0, 1], got {getattr(self, name)}")
        if self.speed_perturb and not all(0.5 <= f <= 2.0 for f in self.speed_factors):
            raise ValueError(f"train.speed_factors must lie in [0.5, 2], got {list(self.speed_factors)}")

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
