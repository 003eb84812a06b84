"""The training loop, top to bottom: data → model → optimizer → epochs of CTC steps → dev → checkpoints.

What the story calls lives beside it: `setup` (device, precision, data, feature statistics), `step`
(a batch's loss and gradient, the update, and the optimizer bundle), `checkpointing` (every checkpoint
written or read, resume, init_from).
"""

from __future__ import annotations

import errno
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from asr.errors import ConfigError, TrainingError
from asr.evaluate import evaluate
from asr.fileio import atomic_write
from asr.recognizer import SpeechRecognizer
from asr.train import distributed
from asr.train.checkpointing import (
    Checkpointer,
    TrainState,
    clean_stale_temporaries,
    init_weights,
    set_rng_state,
)
from asr.train.config import RunConfig
from asr.train.distributed import DistContext
from asr.train.monitor import Monitor
from asr.train.setup import (
    TrainData,
    autocast_dtype,
    draw_seed,
    estimate_feature_stats,
    load_data,
    prepare_process,
    seed_everything,
    wrap_ddp,
)
from asr.train.step import Optimisation, StepSettings, accumulate, apply_update
from asr.train.stopping import StopRule, TrainingStopped

__all__ = ["StopRule", "TrainingError", "TrainingStopped", "train"]

log = logging.getLogger(__name__)


def train(
    run: RunConfig,
    resume: bool = False,
    progress: bool = True,
    resume_force: bool = False,
    stop: StopRule | None = None,
) -> Path:
    """Train per `run`; returns the path of the best checkpoint (by dev WER, then CER).

    Under torchrun (WORLD_SIZE > 1) every process calls this; they form a DistributedDataParallel job
    (gloo on CPU, NCCL on CUDA, one GPU per process). Only rank 0 evaluates, logs and writes files.
    `resume` continues from last.pt, refusing one whose batching settings or manifests differ from
    `run`'s (see :func:`~asr.train.checkpointing.data_signature`) unless `resume_force`. A full disk
    raises TrainingError. `stop` ends the run early, after a whole update with last.pt written, by
    raising TrainingStopped (`resume` then continues it exactly).
    """
    missing = run.train.missing_paths()
    if missing:
        raise ConfigError(
            f"{', '.join(missing)} not set: name the manifests and the output folder in the config's "
            f"[train] table (or --set {missing[0]}=...)"
        )
    ctx = DistContext.from_env()
    device = prepare_process(run.train, ctx)
    try:
        return _train(run, ctx, device, resume, progress and ctx.is_main, resume_force, stop or StopRule())
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise TrainingError(
            f"no space left on the device while writing into {run.train.out_dir} ({e}); checkpoints are "
            "written atomically, so last.pt still holds the last complete one: free some space and rerun "
            "with --resume"
        ) from None
    finally:
        distributed.shutdown(ctx)


@dataclass
class _Meter:
    """An epoch's running loss and audio throughput, and the window since the last log line."""

    start: float = field(default_factory=time.monotonic)
    audio_seconds: float = 0.0
    loss_sum: float = 0.0
    loss_count: int = 0
    window_loss: float = 0.0
    window_count: int = 0

    def add(self, loss: float, audio_seconds: float) -> None:
        self.audio_seconds += audio_seconds
        self.loss_sum, self.loss_count = self.loss_sum + loss, self.loss_count + 1
        self.window_loss, self.window_count = self.window_loss + loss, self.window_count + 1


def _train(
    run: RunConfig,
    ctx: DistContext,
    device: torch.device,
    resume: bool,
    progress: bool,
    force: bool,
    stop: StopRule,
) -> Path:
    cfg = run.train
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if ctx.is_main:
        clean_stale_temporaries(out_dir)
    seed_everything(cfg.seed)
    run_start = time.monotonic()

    # ---- data, model, optimisation
    data = load_data(run, ctx)
    sampler = data.sampler
    total_steps = data.steps_per_epoch(cfg.grad_accum) * cfg.epochs  # for the LR schedule and the ETA
    recognizer = SpeechRecognizer(run.features, run.model, run.vocab)
    amp_dtype = autocast_dtype(cfg.precision, device)
    opt = Optimisation.create(recognizer, cfg, total_steps, amp_dtype)

    # ---- start: last.pt (--resume), init_from, or fresh weights with this corpus's feature statistics
    state = TrainState()
    ckpt = Checkpointer(run, ctx, recognizer, opt, sampler)
    saved_rng = ckpt.resume(state, force) if resume else None
    resumed = saved_rng is not None
    if not resumed and cfg.init_from:
        init_weights(recognizer, run, cfg.init_from)
    elif not resumed and ctx.is_main:  # DDP copies rank 0's buffers (these statistics) to the other ranks
        mean, std = estimate_feature_stats(recognizer, data.dataset, seed=cfg.seed)
        recognizer.acoustic.set_feature_stats(mean, std)
    recognizer.to(device)
    log.info("model: %d parameters on %s", recognizer.acoustic.num_parameters(), device)
    settings = StepSettings.create(
        recognizer, wrap_ddp(recognizer, ctx, device, resumed, cfg.seed), cfg, ctx, device, amp_dtype
    )
    monitor = Monitor(out_dir, enabled=ctx.is_main, tensorboard=cfg.tensorboard, append=resumed)
    log.info("precision: %s", amp_dtype or torch.float32)

    # ---- epochs
    loader_skipped: dict[str, str] = {}  # unreadable audio found while loading, from every epoch
    session = (state.step, time.monotonic())  # for the ETA
    bad_steps = 0  # non-finite losses and gradient norms since the last applied update
    if saved_rng is not None:
        set_rng_state(saved_rng)  # dropout, augmentation: every random stream where the checkpoint left it
    while state.epoch < cfg.epochs:
        sampler.set_epoch(state.epoch)
        if sampler.position == 0:  # a new epoch; one resumed mid-way drew its seed before the checkpoint
            state.loader_seed = draw_seed()
        recognizer.train()
        bar = tqdm(
            data.loader(cfg.num_workers, state.loader_seed),
            desc=f"epoch {state.epoch + 1}/{cfg.epochs}",
            total=data.batches_per_epoch,
            initial=sampler.position,
            unit="batch",
            disable=not progress,
            dynamic_ncols=True,
        )
        meter = _Meter()
        group_left = 0  # batches still to come in the open accumulation group
        for batch, bad_items in bar:
            loader_skipped.update(bad_items)  # reasons come with the batch: workers' datasets are copies
            if group_left == 0:  # open a group: grad_accum batches, fewer at the epoch's end
                group_size = group_left = min(cfg.grad_accum, data.batches_per_epoch - sampler.position)
                group_ids: list[str] = []  # the utterances whose gradients the group holds
            sampler.advance()
            group_left -= 1
            loss, non_finite = accumulate(
                recognizer, batch, settings, opt.scaler, group_size, group_left == 0
            )
            if non_finite:
                bad_steps += 1
                state.skipped_updates["non_finite_loss"] += 1
                if bad_steps >= cfg.max_bad_steps:
                    raise ckpt.diverged(state, bad_steps)
            if loss is not None:
                group_ids += batch.ids
                meter.add(loss, float(batch.lengths.sum()) / run.features.sample_rate)
            if group_left > 0 or not group_ids:  # the group is still open, or closed with nothing in it
                continue

            # ---- the group's update
            if not apply_update(recognizer, opt, cfg.grad_clip, group_ids):
                bad_steps += 1
                state.skipped_updates["non_finite_grad"] += 1
                if bad_steps >= cfg.max_bad_steps:
                    raise ckpt.diverged(state, bad_steps)
                continue
            bad_steps = 0
            state.step += 1
            if state.step % cfg.log_every == 0 and meter.window_count:
                _log_progress(bar, monitor, meter, state.step, total_steps, session, opt.lr, ctx)
            saved = bool(cfg.checkpoint_every) and state.step % cfg.checkpoint_every == 0
            if saved:
                ckpt.save(state, [ckpt.last_path])
            if (why := stop.reason(ctx, device)) is not None:
                bar.close()
                if not saved:  # last.pt alone: the checkpoints to average stay those of a run without stops
                    ckpt.save(state, [ckpt.last_path], keep=False)
                _stopped(out_dir, data, monitor, state, ctx)
                raise TrainingStopped(why, state.step, state.epoch, ckpt.last_path)
        bar.close()

        # ---- end of epoch: dev (rank 0), bookkeeping, checkpoints
        for part in distributed.gather_objects(ctx, dict(loader_skipped)):
            data.skipped.update(part)
        dev_wer, dev_cer = _end_of_epoch(recognizer, data, state, meter, ctx, progress)
        sampler.set_epoch(state.epoch)
        improved = state.best is None or (dev_wer, dev_cer) < tuple(state.best)
        if improved:
            state.best = [dev_wer, dev_cer]
        ckpt.save_epoch_end(state, improved)
        if ctx.is_main:
            monitor.log(
                state.step,
                {"train/epoch_loss": state.history[-1]["train_loss"], "dev/wer": dev_wer, "dev/cer": dev_cer},
            )
            if cfg.plots:
                monitor.plot()
            _write_report(out_dir, data.skipped, state)

    # ---- end of run
    ckpt.average()
    if ctx.is_main:
        report = _write_report(out_dir, data.skipped, state)
        monitor.close()
        _log_summary(state, report, out_dir, ckpt.best_path, time.monotonic() - run_start)
    return ckpt.best_path


def _log_progress(
    bar: tqdm,
    monitor: Monitor,
    meter: _Meter,
    step: int,
    total_steps: int,
    session: tuple[int, float],
    lr: float,
    ctx: DistContext,
) -> None:
    """The progress bar's loss, LR, speed and ETA, and the window's scalars to the monitor."""
    speed = meter.audio_seconds / (time.monotonic() - meter.start)
    rate = (time.monotonic() - session[1]) / max(1, step - session[0])
    bar.set_postfix(
        loss=f"{meter.loss_sum / meter.loss_count:.3f}",
        lr=f"{lr:.2e}",
        audio_s_per_s=f"{speed * ctx.world_size:.0f}",
        eta=_format_eta(rate * (total_steps - step)),
    )
    monitor.log(
        step,
        {
            "train/loss": meter.window_loss / meter.window_count,
            "train/lr": lr,
            "train/audio_s_per_s": speed * ctx.world_size,
        },
    )
    meter.window_loss, meter.window_count = 0.0, 0


def _end_of_epoch(
    recognizer: SpeechRecognizer,
    data: TrainData,
    state: TrainState,
    meter: _Meter,
    ctx: DistContext,
    progress: bool,
) -> tuple[float, float]:
    """Score the dev set (rank 0; every rank gets the scores), append the epoch's metrics, count it."""
    elapsed = time.monotonic() - meter.start
    dev_scores = None
    if ctx.is_main:
        dev = evaluate(recognizer, data.dev_items, progress=progress)
        dev_scores = (dev.wer, dev.cer)
    dev_wer, dev_cer = distributed.broadcast_object(ctx, dev_scores)
    state.history.append(
        {
            "epoch": state.epoch + 1,
            "step": state.step,
            "train_loss": meter.loss_sum / max(1, meter.loss_count),
            "dev_wer": dev_wer,
            "dev_cer": dev_cer,
            "audio_seconds_per_second": meter.audio_seconds * ctx.world_size / max(elapsed, 1e-9),
            "epoch_seconds": elapsed,
        }
    )
    state.epoch += 1
    log.info(
        "epoch %d: loss %.3f, dev WER %.2f%%, CER %.2f%%, %.0f audio-s/s, %d utterances skipped so far",
        state.epoch,
        state.history[-1]["train_loss"],
        100 * dev_wer,
        100 * dev_cer,
        state.history[-1]["audio_seconds_per_second"],
        len(data.skipped),
    )
    return dev_wer, dev_cer


def _stopped(out_dir: Path, data: TrainData, monitor: Monitor, state: TrainState, ctx: DistContext) -> None:
    """Leave the files of a run that stops early as a finished epoch would: its report and curves."""
    if ctx.is_main:
        _write_report(out_dir, data.skipped, state)
        monitor.close()


def _log_summary(
    state: TrainState, report: dict[str, Any], out_dir: Path, best_path: Path, seconds: float
) -> None:
    best = state.best or [float("nan"), float("nan")]
    lost = state.skipped_updates
    if any(lost.values()):
        log.warning(
            "%d batches had a non-finite loss and %d updates a non-finite gradient norm: skipped (see %s)",
            lost["non_finite_loss"],
            lost["non_finite_grad"],
            out_dir / "train_report.json",
        )
    log.info(
        "done: %d epochs, %d steps in %s; best dev WER %.2f%%, CER %.2f%% (%s); %d utterances skipped%s",
        state.epoch,
        state.step,
        _format_eta(seconds),
        100 * best[0],
        100 * best[1],
        best_path,
        len(report["skipped"]),
        f" (see {out_dir / 'train_report.json'})" if report["skipped"] else "",
    )


def _write_report(out_dir: Path, skipped: dict[str, str], state: TrainState) -> dict[str, Any]:
    """train_report.json: the utterances left out (id → why), skipped updates, history and best."""
    report = {
        "skipped": skipped,
        "skipped_updates": state.skipped_updates,
        "history": state.history,
        "best": state.best,
    }
    with atomic_write(out_dir / "train_report.json") as f:
        f.write(json.dumps(report, indent=2) + "\n")
    return report


def _format_eta(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
