"""What a run needs before its first step: the device and precision, the data (filtered utterances, the
duration-bucketed sampler, a loader per epoch), the feature statistics of a fresh model, and its DDP
wrapper under torchrun."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

import numpy as np
import torch

from asr.data.dataset import SpeechDataset, collate_with_skips
from asr.data.manifest import Utterance, read_manifest
from asr.data.sampler import DurationBatchSampler
from asr.errors import TrainingError
from asr.model import subsampled_lengths
from asr.recognizer import SpeechRecognizer
from asr.train import distributed
from asr.train.config import RunConfig, TrainConfig
from asr.train.distributed import DistContext

__all__ = [
    "TrainData",
    "autocast_dtype",
    "draw_seed",
    "estimate_feature_stats",
    "filter_trainable",
    "load_data",
    "pick_device",
    "prepare_process",
    "wrap_ddp",
]

log = logging.getLogger(__name__)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def prepare_process(cfg: TrainConfig, ctx: DistContext) -> torch.device:
    """Threads, denormals and this process's device (its own GPU under torchrun); joins the process group."""
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    # Over the padded frames of a batch the LSTM state decays into denormal floats, which x86 CPUs
    # compute 10-100x slower: measured 3.5x slower fp32 steps on a 32-utterance 2-16 s batch without this.
    torch.set_flush_denormal(True)
    device = pick_device(cfg.device)
    if ctx.enabled and device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
    distributed.init(ctx, device, cfg.dist_backend)
    return device


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for `precision` on `device`, or None for plain fp32."""
    if precision == "fp32":
        return None
    if precision == "fp16":
        if device.type != "cuda":
            raise TrainingError("train.precision = 'fp16' needs CUDA; use 'bf16' or 'fp32' on CPU")
        return torch.float16
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    # bf16 is only a win on CPUs with AMX tiles; elsewhere it emulates and runs slower than fp32.
    return torch.bfloat16 if torch.cpu._is_amx_tile_supported() else None


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)


def draw_seed() -> int:
    """An int64 seed drawn from torch's global RNG, just as a DataLoader draws its workers' base seed."""
    return int(torch.empty((), dtype=torch.int64).random_().item())


def filter_trainable(items: list[Utterance], run: RunConfig, skipped: dict[str, str]) -> list[Utterance]:
    """Drop utterances that cannot train: too long, untokenizable text, or too short for their labels."""
    vocab = run.vocab
    kept = []
    for item in items:
        frames = run.features.num_frames(int(item.duration * run.features.sample_rate))
        out_frames = int(subsampled_lengths(torch.tensor(frames), run.model))
        if item.duration > run.train.max_utterance_seconds:
            skipped[item.id] = f"longer than max_utterance_seconds ({item.duration:.1f} s)"
        elif not item.text.strip():
            skipped[item.id] = "empty transcript"
        elif not vocab.can_encode(item.text):
            skipped[item.id] = f"characters outside the vocabulary in {item.text!r}"
        elif out_frames < len(item.text) + sum(a == b for a, b in zip(item.text, item.text[1:])):
            # CTC needs one frame per label plus a blank between repeated labels.
            skipped[item.id] = (
                f"audio too short for its transcript ({out_frames} frames, {len(item.text)} labels)"
            )
        else:
            kept.append(item)
    return kept


@dataclass
class TrainData:
    """The training and dev utterances, this rank's sampler, and every utterance left out (id → why)."""

    train_items: list[Utterance]
    dev_items: list[Utterance]
    dataset: SpeechDataset
    sampler: DurationBatchSampler
    skipped: dict[str, str]

    @property
    def batches_per_epoch(self) -> int:
        """The current epoch's batches. Epochs differ by a batch or so (shuffled buckets pack differently),
        so the first epoch's count is only an estimate of a run's."""
        return len(self.sampler)

    def steps_per_epoch(self, grad_accum: int) -> int:
        return -(-self.batches_per_epoch // grad_accum)

    def loader(self, num_workers: int, seed: int) -> torch.utils.data.DataLoader:
        """This epoch's loader: the sampler's remaining batches, in order. Yields (Batch | None, skipped).

        Its workers' seeds come from `seed`, not from torch's global RNG, so that iterating it draws
        nothing from the streams a checkpoint saves."""
        return torch.utils.data.DataLoader(
            self.dataset,
            batch_sampler=list(self.sampler),
            collate_fn=collate_with_skips,
            num_workers=num_workers,
            generator=torch.Generator().manual_seed(seed),
        )


def load_data(run: RunConfig, ctx: DistContext) -> TrainData:
    """Read the manifests, drop what cannot train, and build this rank's share of the batches."""
    cfg = run.train
    skipped: dict[str, str] = {}
    manifests = (cfg.train_manifest, *cfg.extra_train_manifests)
    train_items = filter_trainable([u for m in manifests for u in read_manifest(m)], run, skipped)
    dev_items = read_manifest(cfg.dev_manifest)
    if cfg.dev_max_utterances:
        dev_items = dev_items[: cfg.dev_max_utterances]
    if not train_items:
        raise TrainingError(f"{cfg.train_manifest}: no usable training utterances ({len(skipped)} skipped)")
    dataset = SpeechDataset(train_items, run.vocab, run.features.sample_rate)
    sampler = DurationBatchSampler(
        [u.duration for u in train_items],
        cfg.max_duration,
        cfg.num_buckets,
        shuffle=True,
        seed=cfg.seed,
        rank=ctx.rank,
        world_size=ctx.world_size,
    )
    data = TrainData(train_items, dev_items, dataset, sampler, skipped)
    if data.batches_per_epoch == 0:
        raise TrainingError(f"{cfg.train_manifest}: too few utterances for {ctx.world_size} processes")
    log.info(
        "train: %d utterances (%.2f h), %d skipped; dev: %d; %d steps/epoch",
        len(train_items),
        sum(u.duration for u in train_items) / 3600,
        len(skipped),
        len(dev_items),
        data.steps_per_epoch(cfg.grad_accum),
    )
    if ctx.enabled:
        log.info(
            "distributed: %d processes, %d batches per process per epoch",
            ctx.world_size,
            data.batches_per_epoch,
        )
    return data


@torch.no_grad()
def estimate_feature_stats(
    recognizer: SpeechRecognizer, dataset: SpeechDataset, count: int = 200, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-mel-bin mean and std, each (F,), over a random sample of training utterances."""
    rng = random.Random(seed)
    indices = rng.sample(range(len(dataset)), min(count, len(dataset)))
    total = torch.zeros(recognizer.feature_config.n_mels, dtype=torch.float64)
    total_sq = torch.zeros_like(total)
    frames = 0
    for i in indices:
        example = dataset[i]
        if not example:  # a Skipped item
            continue
        wave = torch.from_numpy(example.audio)[None]
        feats, _ = recognizer.frontend(wave, torch.tensor([wave.shape[1]]))
        feats = feats[0].double()  # (T, F)
        total += feats.sum(0)
        total_sq += (feats**2).sum(0)
        frames += feats.shape[0]
    if frames == 0:
        raise TrainingError("no readable training audio to estimate feature statistics from")
    mean = total / frames
    std = (total_sq / frames - mean**2).clamp(min=1e-8).sqrt()
    return mean.float(), std.float()


def wrap_ddp(
    recognizer: SpeechRecognizer, ctx: DistContext, device: torch.device, resumed: bool, seed: int
) -> torch.nn.Module:
    """The acoustic model the steps run: itself, or under torchrun its DistributedDataParallel wrapper."""
    if not ctx.enabled:
        return recognizer.acoustic
    acoustic = torch.nn.parallel.DistributedDataParallel(
        recognizer.acoustic, device_ids=[device.index] if device.type == "cuda" else None
    )
    if not resumed and ctx.rank > 0:
        torch.manual_seed(seed + 7919 * ctx.rank)  # own dropout masks and augmentation per rank
    return acoustic
