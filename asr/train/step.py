"""One optimisation step: the CTC loss of each batch of a `grad_accum` group, their summed gradients,
and one clipped AdamW update; a non-finite loss drops its batch, a non-finite gradient norm its update.
Under torchrun every rank takes the same decisions (an all-reduce of the flags), so none waits forever."""

from __future__ import annotations

import contextlib
import logging
import math
from typing import Literal

import torch

from asr.data.augment import SpecAugment, WaveformAugment, make_spec_augment, make_waveform_augment
from asr.data.dataset import Batch
from asr.recognizer import SpeechRecognizer
from asr.train import distributed
from asr.train.config import TrainConfig
from asr.train.distributed import DistContext

__all__ = ["Stepper", "train_step"]

log = logging.getLogger(__name__)

Outcome = Literal["applied", "empty", "non_finite"]


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
    waveforms, lengths = batch.waveforms.to(device), batch.lengths.to(device)  # (B, S), (B,)
    with torch.no_grad():
        if wave_augment is not None:
            waveforms, lengths = wave_augment(waveforms, lengths)
        features, frame_lengths = recognizer.frontend(waveforms, lengths)  # (B, T, F)
        if augment is not None:
            features = augment(features)
    model = acoustic if acoustic is not None else recognizer.acoustic
    with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        log_probs, out_lengths = model(features, frame_lengths, packed=pack)  # (B, T', V)
    # cuDNN's CTC is non-deterministic and picky; the native kernel takes (T, B, V) in float32.
    return ctc(
        log_probs.transpose(0, 1).float(),
        batch.targets.to(device),
        out_lengths,
        batch.target_lengths.to(device),
    )


class Stepper:
    """Accumulates the batches of one group (`begin_group`, then `accumulate` each) and `update`s.

    `bad_steps` counts non-finite losses and gradient norms since the last applied update;
    `skipped_updates` (the run state's counters) counts them over the run.
    """

    def __init__(
        self,
        recognizer: SpeechRecognizer,
        acoustic: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        scaler: torch.amp.GradScaler,
        cfg: TrainConfig,
        ctx: DistContext,
        device: torch.device,
        amp_dtype: torch.dtype | None,
        skipped_updates: dict[str, int],
    ) -> None:
        self.recognizer, self.acoustic = recognizer, acoustic
        self.optimizer, self.scheduler, self.scaler = optimizer, scheduler, scaler
        self.cfg, self.ctx, self.device, self.amp_dtype = cfg, ctx, device, amp_dtype
        self.skipped_updates = skipped_updates
        # One process: the mean over utterances of loss per target token. Several: per-utterance losses,
        # normalised by the *global* batch size so that DDP's gradient average equals one big batch's.
        self.ctc = torch.nn.CTCLoss(
            blank=recognizer.vocab.blank_id, reduction="none" if ctx.enabled else "mean", zero_infinity=True
        )
        self.spec_augment: SpecAugment | None = make_spec_augment(cfg.augment)
        self.wave_augment = make_waveform_augment(cfg.augment, recognizer.feature_config.sample_rate)
        if self.wave_augment is not None:
            log.info("waveform augmentation: %s", self.wave_augment.config)
        # Packed LSTMs skip padding but their CPU backward pass is ~4x slower than the dense oneDNN kernel
        # (measured: 80 x 2.4 s batch, 3 x 256: 3.3 s vs 0.47 s); tight duration buckets keep padding small.
        self.pack = {"auto": device.type == "cuda", "true": True, "false": False}[cfg.pack_sequences]
        self.bad_steps = 0
        self.group_ids: list[str] = []
        self.begin_epoch()  # no group open yet

    @property
    def group_done(self) -> bool:
        return self.group_left == 0

    def begin_epoch(self) -> None:
        """Forget any group left open: an epoch's first batch always starts a new one."""
        self.group_left, self.group_size, self.group_backwards = 0, 1, 0
        self.group_ids = []

    def begin_group(self, size: int) -> None:
        """The next `size` batches add up into one update (fewer than grad_accum at an epoch's end).

        At least one: the sampler's batch count is an estimate, and an epoch that yields a batch more
        than it (shuffled buckets pack differently) must still close that batch's group."""
        size = max(1, size)
        self.group_size = self.group_left = size
        self.group_backwards = 0
        self.group_ids = []

    def accumulate(self, batch: Batch | None) -> tuple[float | None, bool]:
        """Forward and backward one batch of the group (None: its audio was unreadable).

        Returns its loss (None when the batch did not count) and whether it went wrong: a non-finite
        loss (the batch is dropped), or under DDP a rank whose batch was empty or non-finite."""
        self.group_left -= 1
        sync = contextlib.nullcontext()
        if self.ctx.enabled and not self.group_done:
            sync = self.acoustic.no_sync()  # type: ignore[operator]  # gradients reduce at the group's end
        with sync:
            loss = backward_loss = None
            if batch is not None:
                out = train_step(
                    self.recognizer,
                    batch,
                    self.ctc,
                    self.spec_augment,
                    self.device,
                    self.pack,
                    self.amp_dtype,
                    self.acoustic,
                    self.wave_augment,
                )
                if self.ctx.enabled:
                    per_utt = out / batch.target_lengths.to(self.device).clamp(min=1)
                    loss = per_utt.detach().mean()
                    backward_loss = per_utt.sum()
                else:
                    loss = backward_loss = out
            diverged = loss is not None and not bool(torch.isfinite(loss))
            ok = loss is not None and not diverged
            global_count = 0.0
            if self.ctx.enabled:  # every rank steps, or none does
                flags = distributed.all_sum(
                    self.ctx,
                    torch.tensor(
                        [float(diverged), float(batch is None), len(batch) if ok else 0.0], device=self.device
                    ),
                )
                diverged, ok, global_count = bool(flags[0] > 0), bool(flags[:2].sum() == 0), float(flags[2])
            if not ok:
                if diverged:
                    self.bad_steps += 1
                    self.skipped_updates["non_finite_loss"] += 1
                    if batch is not None:
                        log.warning("non-finite loss, step skipped; utterances: %s", ", ".join(batch.ids))
                return None, True
            assert backward_loss is not None and loss is not None and batch is not None
            self.group_ids.extend(batch.ids)
            if self.ctx.enabled:
                backward_loss = backward_loss * (self.ctx.world_size / global_count)
            if self.group_size > 1:
                backward_loss = backward_loss / self.group_size
            self.scaler.scale(backward_loss).backward()
            self.group_backwards += 1
            return loss.item(), False

    def update(self) -> Outcome:
        """Apply the group's gradients: "applied", "empty" (no batch counted) or "non_finite" (dropped)."""
        if self.group_backwards == 0:
            self.optimizer.zero_grad(set_to_none=True)
            return "empty"
        self.scaler.unscale_(self.optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.recognizer.parameters(), self.cfg.grad_clip)
        # With fp16 loss scaling, inf/NaN gradients are expected now and then: the scaler skips that
        # step itself and lowers its scale. Otherwise a non-finite norm would write NaN into every
        # weight (clipping cannot fix it), so the update is dropped. DDP ranks see the same reduced
        # gradients, so they all decide alike.
        if not self.scaler.is_enabled() and not math.isfinite(float(grad_norm)):
            self.optimizer.zero_grad(set_to_none=True)
            self.bad_steps += 1
            self.skipped_updates["non_finite_grad"] += 1
            log.warning(
                "non-finite gradient norm (%s), update skipped; utterances: %s",
                float(grad_norm),
                ", ".join(self.group_ids),
            )
            return "non_finite"
        self.bad_steps = 0
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        return "applied"
