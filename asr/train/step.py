"""The pieces of an optimisation step that the loop calls: a batch's CTC loss and its share of the
group's gradient (`accumulate`), and the clipped update (`apply_update`) with the optimizer, schedule
and loss scaler bundled as `Optimisation`.

A non-finite loss drops its batch, a non-finite gradient norm its update. Under torchrun every rank
takes the same decisions (an all-reduce of the flags), so none waits forever in a collective that the
others skipped.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from asr.data.augment import SpecAugment, WaveformAugment, make_spec_augment, make_waveform_augment
from asr.data.dataset import Batch
from asr.recognizer import SpeechRecognizer
from asr.train import distributed
from asr.train.config import TrainConfig
from asr.train.distributed import DistContext

__all__ = ["Optimisation", "StepSettings", "accumulate", "apply_update", "lr_lambda", "train_step"]

log = logging.getLogger(__name__)


def lr_lambda(warmup: int, total: int, min_ratio: float) -> Callable[[int], float]:
    """Linear warmup, then cosine decay to `min_ratio` of the peak at step `total`."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


@dataclass
class Optimisation:
    """AdamW, its warmup-then-cosine LR schedule and the loss scaler (active for fp16 only): all that an
    update changes besides the weights. One bundle, so that the loop steps it and a checkpoint saves
    and restores it whole."""

    optimizer: torch.optim.AdamW
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler

    @classmethod
    def create(
        cls, recognizer: SpeechRecognizer, cfg: TrainConfig, total_steps: int, amp_dtype: torch.dtype | None
    ) -> Optimisation:
        optimizer = torch.optim.AdamW(recognizer.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lr_lambda(cfg.warmup_steps, total_steps, cfg.min_lr_ratio)
        )
        return cls(optimizer, scheduler, torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16))

    @property
    def lr(self) -> float:
        return self.scheduler.get_last_lr()[0]

    def state_dict(self) -> dict[str, dict[str, Any]]:
        """The checkpoint's "optimizer", "scheduler" and "scaler" entries."""
        return {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
        }

    def load_state_dict(self, payload: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        if payload.get("scaler"):  # empty when the scaler was off, absent in the oldest checkpoints
            self.scaler.load_state_dict(payload["scaler"])


@dataclass(frozen=True)
class StepSettings:
    """How a batch becomes a CTC loss in this run: fixed for the run, built once by `create`."""

    ctc: torch.nn.CTCLoss
    device: torch.device
    # Packed LSTMs skip padding but their CPU backward pass is ~4x slower than the dense oneDNN kernel
    # (measured: 80 x 2.4 s batch, 3 x 256: 3.3 s vs 0.47 s); tight duration buckets keep padding small.
    pack: bool = False
    amp_dtype: torch.dtype | None = None
    spec_augment: SpecAugment | None = None
    wave_augment: WaveformAugment | None = None
    model: torch.nn.Module | None = None  # the acoustic model to run (DDP's wrapper); None: the recognizer's
    ctx: DistContext = DistContext()

    @classmethod
    def create(
        cls,
        recognizer: SpeechRecognizer,
        model: torch.nn.Module,
        cfg: TrainConfig,
        ctx: DistContext,
        device: torch.device,
        amp_dtype: torch.dtype | None,
    ) -> StepSettings:
        # One process: the mean over utterances of loss per target token. Several: per-utterance losses,
        # normalised by the *global* batch size so that DDP's gradient average equals one big batch's.
        ctc = torch.nn.CTCLoss(
            blank=recognizer.vocab.blank_id, reduction="none" if ctx.enabled else "mean", zero_infinity=True
        )
        wave_augment = make_waveform_augment(cfg.augment, recognizer.feature_config.sample_rate)
        if wave_augment is not None:
            log.info("waveform augmentation: %s", wave_augment.config)
        pack = {"auto": device.type == "cuda", "true": True, "false": False}[cfg.pack_sequences]
        return cls(ctc, device, pack, amp_dtype, make_spec_augment(cfg.augment), wave_augment, model, ctx)


def train_step(recognizer: SpeechRecognizer, batch: Batch, settings: StepSettings) -> torch.Tensor:
    """Forward one batch and return its CTC loss as `settings.ctc` reduces it (by default the mean over
    utterances of loss per target token; per utterance under DDP)."""
    device = settings.device
    waveforms, lengths = batch.waveforms.to(device), batch.lengths.to(device)  # (B, S), (B,)
    with torch.no_grad():
        if settings.wave_augment is not None:
            waveforms, lengths = settings.wave_augment(waveforms, lengths)
        features, frame_lengths = recognizer.frontend(waveforms, lengths)  # (B, T, F)
        if settings.spec_augment is not None:
            features = settings.spec_augment(features)
    model = settings.model if settings.model is not None else recognizer.acoustic
    amp_dtype = settings.amp_dtype
    with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        log_probs, out_lengths = model(features, frame_lengths, packed=settings.pack)  # (B, T', V)
    # cuDNN's CTC is non-deterministic and picky; the native kernel takes (T, B, V) in float32.
    return settings.ctc(
        log_probs.transpose(0, 1).float(),
        batch.targets.to(device),
        out_lengths,
        batch.target_lengths.to(device),
    )


def accumulate(
    recognizer: SpeechRecognizer,
    batch: Batch | None,
    settings: StepSettings,
    scaler: torch.amp.GradScaler,
    group_size: int,
    last_of_group: bool,
) -> tuple[float | None, bool]:
    """Forward `batch` (None: its audio was unreadable) and add its share, 1/`group_size`, of the group's
    gradient. Under DDP the gradients are all-reduced only with the group's last batch.

    Returns (its loss, or None when it did not count; whether its loss was non-finite). A batch that
    does not count leaves the gradients untouched: a non-finite loss, an unreadable batch, or under DDP
    any rank's such batch (every rank drops it alike)."""
    ctx = settings.ctx
    sync = contextlib.nullcontext()
    if ctx.enabled and not last_of_group:
        sync = settings.model.no_sync()  # type: ignore[union-attr]
    with sync:
        loss = backward_loss = None
        if batch is not None:
            out = train_step(recognizer, batch, settings)
            if ctx.enabled:
                per_utt = out / batch.target_lengths.to(settings.device).clamp(min=1)
                loss, backward_loss = per_utt.detach().mean(), per_utt.sum()
            else:
                loss = backward_loss = out
        non_finite = loss is not None and not bool(torch.isfinite(loss))
        ok = loss is not None and not non_finite
        global_count = 0.0
        if ctx.enabled:  # every rank steps, or none does
            flags = torch.tensor(
                [float(non_finite), float(batch is None), len(batch) if ok else 0.0], device=settings.device
            )
            flags = distributed.all_sum(ctx, flags)
            non_finite, ok, global_count = bool(flags[0] > 0), bool(flags[:2].sum() == 0), float(flags[2])
        if not ok:
            if non_finite and batch is not None:
                log.warning("non-finite loss, step skipped; utterances: %s", ", ".join(batch.ids))
            if ctx.enabled and last_of_group:
                # DDP all-reduces in the group's last backward pass, and this one is skipped: reduce the
                # earlier batches' gradients here, or each rank would step with its own and drift apart.
                distributed.average_gradients(ctx, settings.model.parameters())  # type: ignore[union-attr]
            return None, non_finite
        assert loss is not None and backward_loss is not None
        if ctx.enabled:
            backward_loss = backward_loss * (ctx.world_size / global_count)
        if group_size > 1:
            backward_loss = backward_loss / group_size
        scaler.scale(backward_loss).backward()
        return loss.item(), False


def apply_update(
    recognizer: SpeechRecognizer, opt: Optimisation, grad_clip: float, utterances: list[str]
) -> bool:
    """Clip the accumulated gradients to `grad_clip`, step the optimizer, the schedule and the scaler, and
    clear the gradients. Returns False when a non-finite gradient norm dropped the update instead (the
    warning names the group's `utterances`)."""
    opt.scaler.unscale_(opt.optimizer)
    grad_norm = float(torch.nn.utils.clip_grad_norm_(recognizer.parameters(), grad_clip))
    # With fp16 loss scaling, inf/NaN gradients are expected now and then: the scaler skips that step
    # itself and lowers its scale. Otherwise a non-finite norm would write NaN into every weight
    # (clipping cannot fix it), so the update is dropped. DDP ranks see the same reduced gradients,
    # so they all decide alike.
    applied = opt.scaler.is_enabled() or math.isfinite(grad_norm)
    if applied:
        opt.scaler.step(opt.optimizer)
        opt.scaler.update()
        opt.scheduler.step()
    else:
        log.warning(
            "non-finite gradient norm (%s), update skipped; utterances: %s", grad_norm, ", ".join(utterances)
        )
    opt.optimizer.zero_grad(set_to_none=True)
    return applied
