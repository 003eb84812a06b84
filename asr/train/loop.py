"""The training loop, top to bottom: data → model → optimizer → epochs of CTC steps → dev → checkpoints."""

from __future__ import annotations

import json
import logging
import math
import random
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchaudio
from tqdm import tqdm

from asr.checkpoint import checkpoint_payload, load_checkpoint, save_checkpoint
from asr.data.dataset import Batch, SpeechDataset, collate
from asr.data.manifest import Utterance, read_manifest
from asr.data.sampler import DurationBatchSampler
from asr.evaluate import evaluate
from asr.model import subsampled_lengths
from asr.recognizer import SpeechRecognizer
from asr.text import Vocabulary
from asr.train.config import RunConfig

log = logging.getLogger(__name__)


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss keeps diverging); the message says what to change."""


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


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


def git_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def filter_trainable(
    items: list[Utterance], vocab: Vocabulary, run: RunConfig, skipped: dict[str, str]
) -> list[Utterance]:
    """Drop utterances that cannot train: too long, untokenizable text, or too short for their labels."""
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


def lr_lambda(warmup: int, total: int, min_ratio: float):
    """Linear warmup, then cosine decay to `min_ratio` of the peak at step `total`."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


@torch.no_grad()
def estimate_feature_stats(
    recognizer: SpeechRecognizer, dataset: SpeechDataset, count: int = 200, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-mel-bin mean and std over a random sample of training utterances."""
    rng = random.Random(seed)
    indices = rng.sample(range(len(dataset)), min(count, len(dataset)))
    total = torch.zeros(recognizer.feature_config.n_mels, dtype=torch.float64)
    total_sq = torch.zeros_like(total)
    frames = 0
    for i in indices:
        example = dataset[i]
        if example is None:
            continue
        wave = torch.from_numpy(example.audio)[None]
        feats, _ = recognizer.frontend(wave, torch.tensor([wave.shape[1]]))
        feats = feats[0].double()
        total += feats.sum(0)
        total_sq += (feats**2).sum(0)
        frames += feats.shape[0]
    if frames == 0:
        raise TrainingError("no readable training audio to estimate feature statistics from")
    mean = total / frames
    std = (total_sq / frames - mean**2).clamp(min=1e-8).sqrt()
    return mean.float(), std.float()


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": list(random.getstate()[1]),
        "numpy": torch.from_numpy(np.random.get_state()[1].astype(np.int64)),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(state["python"]), None))
    np.random.set_state(("MT19937", state["numpy"].numpy().astype(np.uint32), 624, 0, 0.0))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class SpecAugment(torch.nn.Module):
    """Frequency and time masks on (B, T, F) features (torchaudio's transforms, a mask per utterance)."""

    def __init__(self, freq_mask: int, time_mask: int, num_time_masks: int) -> None:
        super().__init__()
        self.freq = torchaudio.transforms.FrequencyMasking(freq_mask, iid_masks=True)
        self.time = torchaudio.transforms.TimeMasking(time_mask, iid_masks=True)
        self.num_time_masks = num_time_masks

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = features.transpose(1, 2).unsqueeze(1)  # (B, 1, F, T): the layout the transforms expect
        x = self.freq(x)
        for _ in range(self.num_time_masks):
            x = self.time(x)
        return x.squeeze(1).transpose(1, 2)


def train(run: RunConfig, resume: bool = False, progress: bool = True) -> Path:
    """Train per `run`; returns the path of the best checkpoint (by dev WER, then CER)."""
    cfg = run.train
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)

    # ---- data
    vocab = Vocabulary.english_characters()
    skipped: dict[str, str] = {}
    train_items = filter_trainable(read_manifest(cfg.train_manifest), vocab, run, skipped)
    dev_items = read_manifest(cfg.dev_manifest)
    if cfg.dev_max_utterances:
        dev_items = dev_items[: cfg.dev_max_utterances]
    if not train_items:
        raise TrainingError(f"{cfg.train_manifest}: no usable training utterances ({len(skipped)} skipped)")
    dataset = SpeechDataset(train_items, vocab, run.features.sample_rate)
    sampler = DurationBatchSampler(
        [u.duration for u in train_items], cfg.max_duration, cfg.num_buckets, shuffle=True, seed=cfg.seed
    )
    steps_per_epoch = len(sampler)
    total_steps = steps_per_epoch * cfg.epochs
    hours = sum(u.duration for u in train_items) / 3600
    log.info(
        "train: %d utterances (%.2f h), %d skipped; dev: %d; %d steps/epoch",
        len(train_items),
        hours,
        len(skipped),
        len(dev_items),
        steps_per_epoch,
    )

    # ---- model and optimisation
    recognizer = SpeechRecognizer(run.features, run.model, vocab)
    optimizer = torch.optim.AdamW(recognizer.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(cfg.warmup_steps, total_steps, cfg.min_lr_ratio)
    )
    ctc = torch.nn.CTCLoss(blank=vocab.blank_id, reduction="mean", zero_infinity=True)
    augment = SpecAugment(cfg.freq_mask, cfg.time_mask, cfg.num_time_masks) if cfg.spec_augment else None
    state = {"epoch": 0, "batch_in_epoch": 0, "step": 0, "best": None, "history": []}

    last_path, best_path = out_dir / "last.pt", out_dir / "best.pt"
    if resume and last_path.exists():
        payload = load_checkpoint(last_path)
        recognizer.acoustic.load_state_dict(payload["state_dict"])
        optimizer.load_state_dict(payload["optimizer"])
        scheduler.load_state_dict(payload["scheduler"])
        saved = payload["train"]
        state.update({k: saved[k] for k in ("epoch", "batch_in_epoch", "step", "best", "history")})
        set_rng_state(saved["rng"])
        log.info("resumed from %s at epoch %d, step %d", last_path, state["epoch"], state["step"])
    else:
        if resume:
            log.warning("--resume: no %s yet, starting a new run", last_path)
        mean, std = estimate_feature_stats(recognizer, dataset, seed=cfg.seed)
        recognizer.acoustic.set_feature_stats(mean, std)
    recognizer.to(device)
    log.info("model: %d parameters on %s", recognizer.acoustic.num_parameters(), device)

    def save(path: Path) -> None:
        train_state = {
            **state,
            "config": run.to_dict(),
            "rng": rng_state(),
            "git_rev": git_revision(),
            "metrics": state["history"][-1] if state["history"] else {},
        }
        save_checkpoint(
            checkpoint_payload(recognizer, train_state, optimizer.state_dict(), scheduler.state_dict()), path
        )

    # ---- epochs
    # Packed LSTMs skip padding but their CPU backward pass is ~4x slower than the dense oneDNN kernel
    # (measured: 80 x 2.4 s batch, 3 x 256: 3.3 s vs 0.47 s); tight duration buckets keep padding small.
    pack = {"auto": device.type == "cuda", "true": True, "false": False}[cfg.pack_sequences]
    amp_dtype = autocast_dtype(cfg.precision, device)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    log.info("precision: %s", amp_dtype or torch.float32)
    bad_steps = 0
    while state["epoch"] < cfg.epochs:
        epoch = state["epoch"]
        sampler.set_epoch(epoch)
        batches = list(sampler)[state["batch_in_epoch"] :]
        loader = torch.utils.data.DataLoader(
            dataset, batch_sampler=batches, collate_fn=collate, num_workers=cfg.num_workers
        )
        recognizer.train()
        bar = tqdm(
            loader,
            desc=f"epoch {epoch + 1}/{cfg.epochs}",
            total=len(batches),
            initial=0,
            unit="batch",
            disable=not progress,
            dynamic_ncols=True,
        )
        t0, audio_seconds, loss_sum, loss_count = time.monotonic(), 0.0, 0.0, 0
        for batch in bar:
            state["batch_in_epoch"] += 1
            if batch is None:
                continue
            loss = train_step(recognizer, batch, ctc, augment, device, pack, amp_dtype)
            if not torch.isfinite(loss):
                bad_steps += 1
                log.warning("non-finite loss, step skipped; utterances: %s", ", ".join(batch.ids))
                optimizer.zero_grad(set_to_none=True)
                if bad_steps >= cfg.max_bad_steps:
                    save(out_dir / "diverged.pt")
                    raise TrainingError(
                        f"{bad_steps} non-finite losses in a row; lower train.lr or train.grad_clip "
                        f"(state saved to {out_dir / 'diverged.pt'})"
                    )
                continue
            bad_steps = 0
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(recognizer.parameters(), cfg.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            state["step"] += 1
            audio_seconds += float(batch.lengths.sum()) / run.features.sample_rate
            loss_sum, loss_count = loss_sum + loss.item(), loss_count + 1
            if state["step"] % cfg.log_every == 0:
                bar.set_postfix(
                    loss=f"{loss_sum / loss_count:.3f}",
                    lr=f"{scheduler.get_last_lr()[0]:.2e}",
                    audio_s_per_s=f"{audio_seconds / (time.monotonic() - t0):.0f}",
                )
            if cfg.checkpoint_every and state["step"] % cfg.checkpoint_every == 0:
                save(last_path)
        bar.close()

        # ---- end of epoch: dev, bookkeeping, checkpoints
        elapsed = time.monotonic() - t0
        dev = evaluate(recognizer, dev_items, progress=progress)
        metrics = {
            "epoch": epoch + 1,
            "step": state["step"],
            "train_loss": loss_sum / max(1, loss_count),
            "dev_wer": dev.wer,
            "dev_cer": dev.cer,
            "audio_seconds_per_second": audio_seconds / max(elapsed, 1e-9),
            "epoch_seconds": elapsed,
        }
        state["history"].append(metrics)
        log.info(
            "epoch %d: loss %.3f, dev WER %.2f%%, CER %.2f%%, %.0f audio-s/s",
            epoch + 1,
            metrics["train_loss"],
            100 * dev.wer,
            100 * dev.cer,
            metrics["audio_seconds_per_second"],
        )
        state["epoch"] += 1
        state["batch_in_epoch"] = 0
        improved = state["best"] is None or (dev.wer, dev.cer) < tuple(state["best"])
        if improved:
            state["best"] = [dev.wer, dev.cer]
        save(last_path)
        if improved:
            save(best_path)

    report = {"skipped": skipped | dataset.skipped, "history": state["history"], "best": state["best"]}
    (out_dir / "train_report.json").write_text(json.dumps(report, indent=2) + "\n")
    if skipped or dataset.skipped:
        log.warning("%d utterances skipped; see %s", len(report["skipped"]), out_dir / "train_report.json")
    return best_path


def train_step(
    recognizer: SpeechRecognizer,
    batch: Batch,
    ctc: torch.nn.CTCLoss,
    augment: torch.nn.Module | None,
    device: torch.device,
    pack: bool = False,
    amp_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Forward one batch and return its CTC loss (mean over utterances of loss per target token)."""
    waveforms, lengths = batch.waveforms.to(device), batch.lengths.to(device)
    with torch.no_grad():
        features, frame_lengths = recognizer.frontend(waveforms, lengths)
        if augment is not None:
            features = augment(features)
    with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        log_probs, out_lengths = recognizer.acoustic(features, frame_lengths, packed=pack)
    # cuDNN's CTC is non-deterministic and picky; the native kernel takes (T, B, V) in float32.
    return ctc(
        log_probs.transpose(0, 1).float(),
        batch.targets.to(device),
        out_lengths,
        batch.target_lengths.to(device),
    )
