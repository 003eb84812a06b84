"""The training loop, top to bottom: data → model → optimizer → epochs of CTC steps → dev → checkpoints."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import math
import random
import subprocess
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from asr.checkpoint import checkpoint_payload, load_checkpoint, save_checkpoint
from asr.data.augment import SpecAugment, WaveformAugment, waveform_augment_from
from asr.data.dataset import Batch, SpeechDataset, collate_with_skips
from asr.data.manifest import Utterance, read_manifest
from asr.data.sampler import DurationBatchSampler
from asr.errors import TrainingError
from asr.evaluate import evaluate
from asr.model import subsampled_lengths
from asr.recognizer import SpeechRecognizer
from asr.text import Vocabulary
from asr.train import distributed
from asr.train.config import RunConfig, TrainConfig
from asr.train.distributed import DistContext
from asr.train.monitor import Monitor

__all__ = ["SpecAugment", "TrainingError", "average_checkpoints", "data_signature", "train", "train_step"]

log = logging.getLogger(__name__)


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


def init_weights(recognizer: SpeechRecognizer, run: RunConfig, path: str) -> None:
    """Load `path`'s weights (feature statistics included) into a fresh recognizer of the same shape."""
    payload = load_checkpoint(path)
    for table, mine in (("model", asdict(run.model)), ("features", asdict(run.features))):
        theirs = payload.get(table, {})
        differ = {k: (theirs.get(k), v) for k, v in mine.items() if k != "dropout" and theirs.get(k) != v}
        if differ:
            raise TrainingError(f"train.init_from={path}: its [{table}] differs from this run's: {differ}")
    recognizer.acoustic.load_state_dict(payload["state_dict"])  # float16 weights are upcast on copy
    log.info("initialised from %s", path)


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
        if not example:  # a Skipped item
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


def make_waveform_augment(cfg: TrainConfig, sample_rate: int) -> WaveformAugment | None:
    """The configured waveform augmentation, or None when every kind is off (the default)."""
    return waveform_augment_from(
        cfg.speed_factors if cfg.speed_perturb else (),
        cfg.gain_prob,
        cfg.gain_db,
        cfg.noise_prob,
        cfg.noise_snr_db,
        cfg.noise_dir,
        cfg.reverb_prob,
        cfg.reverb_rt60,
        sample_rate,
        cfg.telephone_prob,
        cfg.babble_prob,
        cfg.babble_snr_db,
    )


def average_checkpoints(paths: list[Path]) -> dict[str, torch.Tensor]:
    """The element-wise mean of the floating-point weights of `paths` (other tensors from the last)."""
    if not paths:
        raise ValueError("no checkpoints to average")
    states = [load_checkpoint(p)["state_dict"] for p in paths]
    averaged = {}
    for key, last in states[-1].items():
        if last.is_floating_point():
            averaged[key] = sum(s[key].double() for s in states).div(len(states)).to(last.dtype)
        else:
            averaged[key] = last
    return averaged


def _file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def data_signature(cfg: TrainConfig) -> dict[str, Any]:
    """What the saved sampler position means: the batching settings and the manifests' sha256.

    Stored in every checkpoint; ``--resume`` refuses a run whose signature differs (unless forced)."""
    return {
        "batching": {
            "max_duration": cfg.max_duration,
            "num_buckets": cfg.num_buckets,
            "grad_accum": cfg.grad_accum,
            "max_utterance_seconds": cfg.max_utterance_seconds,
            "seed": cfg.seed,
        },
        "train_manifest_sha256": _file_sha256(cfg.train_manifest),
        "dev_manifest_sha256": _file_sha256(cfg.dev_manifest),
    }


def _signature_changes(saved: dict[str, Any], now: dict[str, Any], cfg: TrainConfig) -> list[str]:
    changes = []
    for key, value in now["batching"].items():
        if key in saved.get("batching", {}) and saved["batching"][key] != value:
            changes.append(f"train.{key} was {saved['batching'][key]!r}, is {value!r}")
    for key, path in (
        ("train_manifest_sha256", cfg.train_manifest),
        ("dev_manifest_sha256", cfg.dev_manifest),
    ):
        if saved.get(key) and saved[key] != now[key]:
            changes.append(f"{path} changed (sha256 {saved[key][:12]}… then, {now[key][:12]}… now)")
    return changes


def clean_stale_temporaries(out_dir: Path) -> list[Path]:
    """Remove temporary files a killed run left behind (``.last.pt.XXXX.tmp`` and the like)."""
    stale = [*out_dir.glob(".*.pt.*.tmp"), *out_dir.glob("*.json.tmp")]
    for path in stale:
        path.unlink(missing_ok=True)
    if stale:
        log.info(
            "removed %d stale temporary file(s) from %s: %s",
            len(stale),
            out_dir,
            ", ".join(p.name for p in stale),
        )
    return stale


def _format_eta(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def train(run: RunConfig, resume: bool = False, progress: bool = True, resume_force: bool = False) -> Path:
    """Train per `run`; returns the path of the best checkpoint (by dev WER, then CER).

    Under torchrun (WORLD_SIZE > 1) every process calls this; they form a DistributedDataParallel job
    (gloo on CPU, NCCL on CUDA, one GPU per process). Only rank 0 evaluates, logs and writes files.
    `resume` continues from last.pt, refusing one whose batching settings or manifests differ from
    `run`'s (see :func:`data_signature`) unless `resume_force`. A full disk raises TrainingError.
    """
    cfg = run.train
    ctx = DistContext.from_env()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    # Over the padded frames of a batch the LSTM state decays into denormal floats, which x86 CPUs
    # compute 10-100x slower: measured 3.5x slower fp32 steps on a 32-utterance 2-16 s batch without this.
    torch.set_flush_denormal(True)
    device = pick_device(cfg.device)
    if ctx.enabled and device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
    distributed.init(ctx, device, cfg.dist_backend)
    try:
        return _train(run, ctx, device, resume, progress and ctx.is_main, resume_force)
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise TrainingError(
            f"no space left on the device while writing into {cfg.out_dir} ({e}); checkpoints are written "
            "atomically, so last.pt still holds the last complete one: free some space and rerun with --resume"
        ) from None
    finally:
        distributed.shutdown(ctx)


def _train(
    run: RunConfig, ctx: DistContext, device: torch.device, resume: bool, progress: bool, force: bool = False
) -> Path:
    cfg = run.train
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if ctx.is_main:
        clean_stale_temporaries(out_dir)
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    run_start = time.monotonic()

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
    loader_skipped: dict[str, str] = {}  # unreadable audio found while loading, from every epoch
    sampler = DurationBatchSampler(
        [u.duration for u in train_items],
        cfg.max_duration,
        cfg.num_buckets,
        shuffle=True,
        seed=cfg.seed,
        rank=ctx.rank,
        world_size=ctx.world_size,
    )
    batches_per_epoch = len(sampler)
    if batches_per_epoch == 0:
        raise TrainingError(f"{cfg.train_manifest}: too few utterances for {ctx.world_size} processes")
    steps_per_epoch = -(-batches_per_epoch // cfg.grad_accum)
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
    if ctx.enabled:
        log.info(
            "distributed: %d processes, %d batches per process per epoch", ctx.world_size, batches_per_epoch
        )

    # ---- model and optimisation
    recognizer = SpeechRecognizer(run.features, run.model, vocab)
    optimizer = torch.optim.AdamW(recognizer.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(cfg.warmup_steps, total_steps, cfg.min_lr_ratio)
    )
    # One process: the mean over utterances of loss per target token. Several: per-utterance losses,
    # normalised by the *global* batch size so that DDP's gradient average equals one big batch's.
    ctc = torch.nn.CTCLoss(
        blank=vocab.blank_id, reduction="none" if ctx.enabled else "mean", zero_infinity=True
    )
    augment = SpecAugment(cfg.freq_mask, cfg.time_mask, cfg.num_time_masks) if cfg.spec_augment else None
    wave_augment = make_waveform_augment(cfg, run.features.sample_rate)
    if wave_augment is not None:
        log.info("waveform augmentation: %s", wave_augment.config)
    amp_dtype = autocast_dtype(cfg.precision, device)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    state: dict[str, Any] = {"epoch": 0, "batch_in_epoch": 0, "step": 0, "best": None, "history": []}
    # updates not applied: a non-finite loss (the batch is dropped) or gradient norm (the update is)
    state["skipped_updates"] = {"non_finite_loss": 0, "non_finite_grad": 0}
    signature = data_signature(cfg)

    last_path, best_path = out_dir / "last.pt", out_dir / "best.pt"
    pending_rng: dict[str, Any] | None = None
    resumed = resume and last_path.exists()
    if resumed:
        payload = load_checkpoint(last_path)
        recognizer.acoustic.load_state_dict(payload["state_dict"])
        optimizer.load_state_dict(payload["optimizer"])
        scheduler.load_state_dict(payload["scheduler"])
        if payload.get("scaler"):
            scaler.load_state_dict(payload["scaler"])
        saved = payload["train"]
        state.update({k: saved[k] for k in ("epoch", "batch_in_epoch", "step", "best", "history")})
        state["skipped_updates"].update(saved.get("skipped_updates", {}))
        changes = []
        if "data_signature" not in saved:
            log.warning(
                "%s has no data signature (an older asr): cannot check batching or manifests", last_path
            )
        else:
            changes = _signature_changes(saved["data_signature"], signature, cfg)
        if changes and not force:
            raise TrainingError(
                f"--resume: {last_path} was trained with other data settings: {'; '.join(changes)}. Its saved "
                "position would pick other batches. Undo the change, train into another train.out_dir, or "
                "pass --resume-force to continue anyway"
            )
        sampler_state = saved.get("sampler") or {
            "epoch": state["epoch"],
            "position": state["batch_in_epoch"],
            "seed": cfg.seed,
        }
        if changes:
            log.warning(
                "--resume-force: continuing although %s; the epoch restarts at its first batch",
                "; ".join(changes),
            )
            sampler_state = {**sampler_state, "position": 0}
        sampler.load_state_dict(sampler_state)
        rngs = saved.get("rng_per_rank") or [saved["rng"]]
        if len(rngs) != ctx.world_size:
            log.warning(
                "resuming a %d-process run with %d processes: the sampler continues, the RNG streams "
                "(dropout, augmentation) do not match the original run",
                len(rngs),
                ctx.world_size,
            )
        pending_rng = rngs[min(ctx.rank, len(rngs) - 1)]
        log.info("resumed from %s at epoch %d, step %d", last_path, state["epoch"], state["step"])
    else:
        if resume:
            log.warning("--resume: no %s yet, starting a new run", last_path)
        if cfg.init_from:
            init_weights(recognizer, run, cfg.init_from)
        elif ctx.is_main:  # DDP copies rank 0's buffers (these statistics) to the other ranks
            mean, std = estimate_feature_stats(recognizer, dataset, seed=cfg.seed)
            recognizer.acoustic.set_feature_stats(mean, std)
    recognizer.to(device)
    log.info("model: %d parameters on %s", recognizer.acoustic.num_parameters(), device)
    acoustic: torch.nn.Module = recognizer.acoustic
    if ctx.enabled:
        acoustic = torch.nn.parallel.DistributedDataParallel(
            recognizer.acoustic, device_ids=[device.index] if device.type == "cuda" else None
        )
        if pending_rng is None and ctx.rank > 0:
            torch.manual_seed(cfg.seed + 7919 * ctx.rank)  # own dropout masks and augmentation per rank
    monitor = Monitor(out_dir, enabled=ctx.is_main, tensorboard=cfg.tensorboard, append=resumed)

    keep = max(cfg.keep_checkpoints, cfg.average_last)
    saved_step: list[int | None] = [state["step"] if resumed else None]  # of the last.pt on disk

    def save(paths: list[Path]) -> None:
        """Collective: every rank hands in its RNG state; rank 0 writes each path atomically."""
        state["batch_in_epoch"] = sampler.position
        rngs = distributed.gather_objects(ctx, rng_state())
        if not ctx.is_main:
            return
        train_state = {
            **state,
            "config": run.to_dict(),
            "rng": rngs[0],
            "rng_per_rank": rngs,
            "sampler": sampler.state_dict(),
            "data_signature": signature,
            "world_size": ctx.world_size,
            "git_rev": git_revision(),
            "metrics": state["history"][-1] if state["history"] else {},
        }
        payload = checkpoint_payload(recognizer, train_state, optimizer.state_dict(), scheduler.state_dict())
        payload["scaler"] = scaler.state_dict()
        if keep:
            paths = [*paths, out_dir / f"ckpt-{state['step']:08d}.pt"]
        for path in paths:
            try:
                save_checkpoint(payload, path)
            except OSError as e:
                kept = (
                    f"{last_path} (step {saved_step[0]}) is kept and loads"
                    if saved_step[0] is not None
                    else ("no earlier checkpoint exists")
                )
                raise TrainingError(
                    f"could not write {path}: {e.strerror or e}; {kept}. Free some space (or fix the folder) "
                    "and rerun with --resume"
                ) from None
            if path == last_path:
                saved_step[0] = state["step"]
        if keep:
            for old in sorted(out_dir.glob("ckpt-*.pt"))[:-keep]:
                old.unlink(missing_ok=True)

    # ---- epochs
    # Packed LSTMs skip padding but their CPU backward pass is ~4x slower than the dense oneDNN kernel
    # (measured: 80 x 2.4 s batch, 3 x 256: 3.3 s vs 0.47 s); tight duration buckets keep padding small.
    pack = {"auto": device.type == "cuda", "true": True, "false": False}[cfg.pack_sequences]
    log.info("precision: %s", amp_dtype or torch.float32)
    bad_steps = 0
    session_start_step, session_start = state["step"], time.monotonic()
    if pending_rng is not None and sampler.position == 0:
        set_rng_state(pending_rng)  # saved at an epoch end: before the next epoch's loader draws its seed
        pending_rng = None
    while state["epoch"] < cfg.epochs:
        epoch = state["epoch"]
        sampler.set_epoch(epoch)
        first = sampler.position
        loader = torch.utils.data.DataLoader(
            dataset, batch_sampler=list(sampler), collate_fn=collate_with_skips, num_workers=cfg.num_workers
        )
        recognizer.train()
        batches = iter(loader)  # draws a seed from torch's RNG, as it did before the checkpoint
        if pending_rng is not None:
            set_rng_state(pending_rng)  # saved mid-epoch: after this epoch's loader drew its seed
            pending_rng = None
        bar = tqdm(
            batches,
            desc=f"epoch {epoch + 1}/{cfg.epochs}",
            total=batches_per_epoch,
            initial=first,
            unit="batch",
            disable=not progress,
            dynamic_ncols=True,
        )
        t0, audio_seconds, loss_sum, loss_count = time.monotonic(), 0.0, 0.0, 0
        window_loss, window_count = 0.0, 0
        group_left, group_size, group_backwards = 0, 1, 0
        for batch, bad_items in bar:
            loader_skipped.update(bad_items)  # reasons come with the batch: workers' datasets are copies
            if group_left == 0:
                group_size = group_left = min(cfg.grad_accum, batches_per_epoch - sampler.position)
                group_backwards = 0
                group_ids: list[str] = []
            sampler.advance()
            group_left -= 1
            group_end = group_left == 0
            sync = contextlib.nullcontext()
            if ctx.enabled and not group_end:
                sync = acoustic.no_sync()  # type: ignore[operator]
            with sync:
                loss = backward_loss = None
                if batch is not None:
                    out = train_step(
                        recognizer, batch, ctc, augment, device, pack, amp_dtype, acoustic, wave_augment
                    )
                    if ctx.enabled:
                        per_utt = out / batch.target_lengths.to(device).clamp(min=1)
                        loss = per_utt.detach().mean()
                        backward_loss = per_utt.sum()
                    else:
                        loss = backward_loss = out
                diverged = loss is not None and not bool(torch.isfinite(loss))
                ok = loss is not None and not diverged
                if ctx.enabled:  # every rank steps, or none does
                    flags = distributed.all_sum(
                        ctx,
                        torch.tensor(
                            [float(diverged), float(batch is None), len(batch) if ok else 0.0], device=device
                        ),
                    )
                    diverged, ok, global_count = (
                        bool(flags[0] > 0),
                        bool(flags[:2].sum() == 0),
                        float(flags[2]),
                    )
                if not ok:
                    if diverged:
                        bad_steps += 1
                        state["skipped_updates"]["non_finite_loss"] += 1
                        if batch is not None:
                            log.warning("non-finite loss, step skipped; utterances: %s", ", ".join(batch.ids))
                    if bad_steps >= cfg.max_bad_steps:
                        optimizer.zero_grad(set_to_none=True)
                        save([out_dir / "diverged.pt"])
                        raise TrainingError(
                            f"{bad_steps} non-finite losses or gradients in a row; lower train.lr or "
                            f"train.grad_clip (state saved to {out_dir / 'diverged.pt'})"
                        )
                else:
                    group_ids.extend(batch.ids if batch is not None else ())
                    assert backward_loss is not None and loss is not None and batch is not None
                    if ctx.enabled:
                        backward_loss = backward_loss * (ctx.world_size / global_count)
                    if group_size > 1:
                        backward_loss = backward_loss / group_size
                    scaler.scale(backward_loss).backward()
                    group_backwards += 1
                    audio_seconds += float(batch.lengths.sum()) / run.features.sample_rate
                    loss_value = loss.item()
                    loss_sum, loss_count = loss_sum + loss_value, loss_count + 1
                    window_loss, window_count = window_loss + loss_value, window_count + 1
            if not group_end:
                continue
            if group_backwards == 0:
                optimizer.zero_grad(set_to_none=True)
                continue
            scaler.unscale_(optimizer)
            grad_norm = torch.nn.utils.clip_grad_norm_(recognizer.parameters(), cfg.grad_clip)
            # With fp16 loss scaling, inf/NaN gradients are expected now and then: the scaler skips that
            # step itself and lowers its scale. Otherwise a non-finite norm would write NaN into every
            # weight (clipping cannot fix it), so the update is dropped. DDP ranks see the same reduced
            # gradients, so they all decide alike.
            if not scaler.is_enabled() and not math.isfinite(float(grad_norm)):
                optimizer.zero_grad(set_to_none=True)
                bad_steps += 1
                state["skipped_updates"]["non_finite_grad"] += 1
                log.warning(
                    "non-finite gradient norm (%s), update skipped; utterances: %s",
                    float(grad_norm),
                    ", ".join(group_ids),
                )
                if bad_steps >= cfg.max_bad_steps:
                    save([out_dir / "diverged.pt"])
                    raise TrainingError(
                        f"{bad_steps} non-finite losses or gradients in a row; lower train.lr or "
                        f"train.grad_clip (state saved to {out_dir / 'diverged.pt'})"
                    )
                continue
            bad_steps = 0
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            state["step"] += 1
            if state["step"] % cfg.log_every == 0 and window_count:
                speed = audio_seconds / (time.monotonic() - t0)
                rate = (time.monotonic() - session_start) / max(1, state["step"] - session_start_step)
                lr = scheduler.get_last_lr()[0]
                bar.set_postfix(
                    loss=f"{loss_sum / loss_count:.3f}",
                    lr=f"{lr:.2e}",
                    audio_s_per_s=f"{speed * ctx.world_size:.0f}",
                    eta=_format_eta(rate * (total_steps - state["step"])),
                )
                monitor.log(
                    state["step"],
                    {
                        "train/loss": window_loss / window_count,
                        "train/lr": lr,
                        "train/audio_s_per_s": speed * ctx.world_size,
                    },
                )
                window_loss, window_count = 0.0, 0
            if cfg.checkpoint_every and state["step"] % cfg.checkpoint_every == 0:
                save([last_path])
        bar.close()

        # ---- end of epoch: dev (rank 0), bookkeeping, checkpoints
        elapsed = time.monotonic() - t0
        dev_scores = None
        if ctx.is_main:
            dev = evaluate(recognizer, dev_items, progress=progress)
            dev_scores = (dev.wer, dev.cer)
        dev_wer, dev_cer = distributed.broadcast_object(ctx, dev_scores)
        for part in distributed.gather_objects(ctx, dict(loader_skipped)):
            skipped.update(part)
        metrics = {
            "epoch": epoch + 1,
            "step": state["step"],
            "train_loss": loss_sum / max(1, loss_count),
            "dev_wer": dev_wer,
            "dev_cer": dev_cer,
            "audio_seconds_per_second": audio_seconds * ctx.world_size / max(elapsed, 1e-9),
            "epoch_seconds": elapsed,
        }
        state["history"].append(metrics)
        log.info(
            "epoch %d: loss %.3f, dev WER %.2f%%, CER %.2f%%, %.0f audio-s/s, %d utterances skipped so far",
            epoch + 1,
            metrics["train_loss"],
            100 * dev_wer,
            100 * dev_cer,
            metrics["audio_seconds_per_second"],
            len(skipped),
        )
        state["epoch"] += 1
        sampler.set_epoch(state["epoch"])
        improved = state["best"] is None or (dev_wer, dev_cer) < tuple(state["best"])
        if improved:
            state["best"] = [dev_wer, dev_cer]
        # best first: a crash (or a full disk) between the two leaves a last.pt that claims the old best
        save([best_path, last_path] if improved else [last_path])
        if ctx.is_main:
            monitor.log(
                state["step"],
                {"train/epoch_loss": metrics["train_loss"], "dev/wer": dev_wer, "dev/cer": dev_cer},
            )
            if cfg.plots:
                monitor.plot()
            _write_report(out_dir, skipped, state)

    # ---- end of run
    if ctx.is_main and cfg.average_last > 1:
        recent = sorted(out_dir.glob("ckpt-*.pt"))[-cfg.average_last :]
        if len(recent) > 1:
            payload = load_checkpoint(recent[-1])
            payload["state_dict"] = average_checkpoints(recent)
            for key in ("optimizer", "scheduler", "scaler"):
                payload.pop(key, None)
            save_checkpoint(payload, out_dir / "averaged.pt")
            log.info("averaged the weights of %d checkpoints into %s", len(recent), out_dir / "averaged.pt")
    if ctx.is_main:
        report = _write_report(out_dir, skipped, state)
        monitor.close()
        best = state["best"] or [float("nan"), float("nan")]
        lost = state["skipped_updates"]
        if any(lost.values()):
            log.warning(
                "%d batches had a non-finite loss and %d updates a non-finite gradient norm: skipped (see %s)",
                lost["non_finite_loss"],
                lost["non_finite_grad"],
                out_dir / "train_report.json",
            )
        log.info(
            "done: %d epochs, %d steps in %s; best dev WER %.2f%%, CER %.2f%% (%s); %d utterances skipped%s",
            state["epoch"],
            state["step"],
            _format_eta(time.monotonic() - run_start),
            100 * best[0],
            100 * best[1],
            best_path,
            len(report["skipped"]),
            f" (see {out_dir / 'train_report.json'})" if report["skipped"] else "",
        )
    return best_path


def _write_report(out_dir: Path, skipped: dict[str, str], state: dict[str, Any]) -> dict[str, Any]:
    report = {
        "skipped": skipped,
        "skipped_updates": state["skipped_updates"],
        "history": state["history"],
        "best": state["best"],
    }
    tmp = out_dir / "train_report.json.tmp"
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    tmp.replace(out_dir / "train_report.json")
    return report


def train_step(
    recognizer: SpeechRecognizer,
    batch: Batch,
    ctc: torch.nn.CTCLoss,
    augment: torch.nn.Module | None,
    device: torch.device,
    pack: bool = False,
    amp_dtype: torch.dtype | None = None,
    acoustic: torch.nn.Module | None = None,
    wave_augment: WaveformAugment | None = None,
) -> torch.Tensor:
    """Forward one batch and return its CTC loss as `ctc` reduces it (by default the mean over
    utterances of loss per target token). `acoustic` replaces `recognizer.acoustic` (a DDP wrapper)."""
    waveforms, lengths = batch.waveforms.to(device), batch.lengths.to(device)
    with torch.no_grad():
        if wave_augment is not None:
            waveforms, lengths = wave_augment(waveforms, lengths)
        features, frame_lengths = recognizer.frontend(waveforms, lengths)
        if augment is not None:
            features = augment(features)
    model = acoustic if acoustic is not None else recognizer.acoustic
    with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        log_probs, out_lengths = model(features, frame_lengths, packed=pack)
    # cuDNN's CTC is non-deterministic and picky; the native kernel takes (T, B, V) in float32.
    return ctc(
        log_probs.transpose(0, 1).float(),
        batch.targets.to(device),
        out_lengths,
        batch.target_lengths.to(device),
    )
