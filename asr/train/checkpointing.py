"""The training checkpoint: the only code that builds or writes one.

``last.pt`` (every `checkpoint_every` steps and each epoch end), ``best.pt`` (by dev WER, then CER;
written before last.pt), ``ckpt-STEP.pt`` (the last `keep_checkpoints`), ``diverged.pt`` and
``averaged.pt``; each is `asr.checkpoint`'s payload plus the training state: the loop's counters, every
rank's RNG streams, the sampler position, the data signature, and the optimizer, scheduler and scaler
(`asr.train.step.Optimisation`). Here too:
``--resume`` (and its refusal of changed data settings), ``train.init_from`` and the clean-up of
temporary files a killed run left.
"""

from __future__ import annotations

import hashlib
import logging
import random
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from asr.checkpoint import average_checkpoints, checkpoint_payload, load_checkpoint, save_checkpoint
from asr.data.sampler import DurationBatchSampler
from asr.errors import TrainingError
from asr.recognizer import SpeechRecognizer
from asr.text import Vocabulary
from asr.train import distributed
from asr.train.config import RunConfig, TrainConfig
from asr.train.distributed import DistContext
from asr.train.step import Optimisation

__all__ = [
    "Checkpointer",
    "TrainState",
    "clean_stale_temporaries",
    "data_signature",
    "init_weights",
    "rng_state",
    "set_rng_state",
]

log = logging.getLogger(__name__)


@dataclass
class TrainState:
    """The loop's counters, saved as the checkpoint's ``train`` entry (with the RNG and sampler state)."""

    epoch: int = 0
    batch_in_epoch: int = 0
    step: int = 0
    loader_seed: int = 0  # this epoch's DataLoader workers' seed, drawn at its start
    best: list[float] | None = None  # [dev WER, dev CER] of best.pt
    history: list[dict[str, Any]] = field(default_factory=list)  # one metrics dict per epoch
    # updates not applied: a non-finite loss (the batch is dropped) or gradient norm (the update is)
    skipped_updates: dict[str, int] = field(
        default_factory=lambda: {"non_finite_loss": 0, "non_finite_grad": 0}
    )


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


def git_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


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
        "extra_train_manifests_sha256": [_file_sha256(p) for p in cfg.extra_train_manifests],
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
    extra = "extra_train_manifests_sha256"
    if saved.get(extra, []) != now[extra]:  # a checkpoint from before the field had none
        changes.append(
            f"train.extra_train_manifests or their contents changed ({', '.join(cfg.extra_train_manifests)})"
        )
    return changes


# What a kill during an atomic write leaves: the old writers' names (".last.pt.XXXX.tmp",
# "train_report.json.tmp") and asr.fileio's (".last.pt.XXXX.tmp.pt", ".train_report.json.XXXX.tmp.json").
STALE_PATTERNS = (".*.pt.*.tmp", ".*.pt.*.tmp.pt", "*.json.tmp", ".*.json.*.tmp.json")


def clean_stale_temporaries(out_dir: Path) -> list[Path]:
    """Remove temporary files a killed run left behind (``.last.pt.XXXX.tmp`` and the like)."""
    stale = sorted({p for pattern in STALE_PATTERNS for p in out_dir.glob(pattern)})
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


def init_weights(recognizer: SpeechRecognizer, run: RunConfig, path: str) -> None:
    """Load `path`'s weights (feature statistics included) into a fresh recognizer of the same shape."""
    payload = load_checkpoint(path)
    if Vocabulary.from_dict(payload["vocab"]) != recognizer.vocab:
        raise TrainingError(f"train.init_from={path}: its vocabulary differs from this run's")
    # Settings a fine-tune may change: the weights keep their shapes and meaning (dropout; a cepstral
    # smoothing of the same log-mel bins). A key a checkpoint predates takes its default.
    adaptable = {"dropout", "cepstral_lifter"}
    for table, config in (("model", run.model), ("features", run.features)):
        mine = asdict(config)
        theirs = {**asdict(type(config)()), **payload.get(table, {})}
        differ = {k: (theirs[k], v) for k, v in mine.items() if k not in adaptable and theirs[k] != v}
        if differ:
            raise TrainingError(f"train.init_from={path}: its [{table}] differs from this run's: {differ}")
    recognizer.acoustic.load_state_dict(payload["state_dict"])  # float16 weights are upcast on copy
    log.info("initialised from %s", path)


class Checkpointer:
    """Saves and restores one run's training checkpoints in `train.out_dir`: the weights of `recognizer`,
    the state of `opt` and `sampler`, and the loop's `TrainState` handed to each call.

    `save` is collective (every rank hands in its RNG state); rank 0 writes each file atomically.
    """

    def __init__(
        self,
        run: RunConfig,
        ctx: DistContext,
        recognizer: SpeechRecognizer,
        opt: Optimisation,
        sampler: DurationBatchSampler,
    ) -> None:
        self.run, self.cfg, self.ctx = run, run.train, ctx
        self.recognizer, self.opt, self.sampler = recognizer, opt, sampler
        self.out_dir = Path(self.cfg.out_dir)
        self.last_path, self.best_path = self.out_dir / "last.pt", self.out_dir / "best.pt"
        self.keep = max(self.cfg.keep_checkpoints, self.cfg.average_last)
        self.signature = data_signature(self.cfg)
        self.saved_step: int | None = None  # of the last.pt on disk

    # ---- resume
    def resume(self, state: TrainState, force: bool = False) -> dict[str, Any] | None:
        """Continue from last.pt: weights, optimizer, schedule, scaler, counters, sampler position.

        Returns this rank's saved RNG streams, for the loop to put back where training continues; None,
        with a warning, when there is no last.pt yet. Refuses (TrainingError) a last.pt trained with
        other batching settings or manifests unless `force`."""
        if not self.last_path.exists():
            log.warning("--resume: no %s yet, starting a new run", self.last_path)
            return None
        payload = load_checkpoint(self.last_path)
        self.recognizer.acoustic.load_state_dict(payload["state_dict"])
        self.opt.load_state_dict(payload)
        saved = payload["train"]
        for key in ("epoch", "batch_in_epoch", "step", "best", "history"):
            setattr(state, key, saved[key])
        state.loader_seed = saved.get("loader_seed", 0)
        state.skipped_updates.update(saved.get("skipped_updates", {}))
        changes = self._check_signature(saved, force)
        sampler_state = saved.get("sampler") or {
            "epoch": state.epoch,
            "position": state.batch_in_epoch,
            "seed": self.cfg.seed,
        }
        if changes:
            log.warning(
                "--resume-force: continuing although %s; the epoch restarts at its first batch",
                "; ".join(changes),
            )
            sampler_state = {**sampler_state, "position": 0}
        self.sampler.load_state_dict(sampler_state)
        rngs = saved.get("rng_per_rank") or [saved["rng"]]
        if len(rngs) != self.ctx.world_size:
            log.warning(
                "resuming a %d-process run with %d processes: the sampler continues, the RNG streams "
                "(dropout, augmentation) do not match the original run",
                len(rngs),
                self.ctx.world_size,
            )
        self.saved_step = state.step
        log.info("resumed from %s at epoch %d, step %d", self.last_path, state.epoch, state.step)
        return rngs[min(self.ctx.rank, len(rngs) - 1)]

    def _check_signature(self, saved: dict[str, Any], force: bool) -> list[str]:
        if "data_signature" not in saved:
            log.warning(
                "%s has no data signature (an older asr): cannot check batching or manifests", self.last_path
            )
            return []
        changes = _signature_changes(saved["data_signature"], self.signature, self.cfg)
        if changes and not force:
            raise TrainingError(
                f"--resume: {self.last_path} was trained with other data settings: {'; '.join(changes)}. "
                "Its saved position would pick other batches. Undo the change, train into another "
                "train.out_dir, or pass --resume-force to continue anyway"
            )
        return changes

    # ---- save
    def save(self, state: TrainState, paths: list[Path], keep: bool = True) -> None:
        """Collective: every rank hands in its RNG state; rank 0 writes each path atomically (and, with
        `keep`, ckpt-STEP.pt when keeping checkpoints, dropping the oldest)."""
        state.batch_in_epoch = self.sampler.position
        rngs = distributed.gather_objects(self.ctx, rng_state())
        if not self.ctx.is_main:
            return
        payload = self._payload(state, rngs)
        if self.keep and keep:
            paths = [*paths, self.out_dir / f"ckpt-{state.step:08d}.pt"]
        for path in paths:
            self._write(payload, path)
            if path == self.last_path:
                self.saved_step = state.step
        if self.keep:
            for old in sorted(self.out_dir.glob("ckpt-*.pt"))[: -self.keep]:
                old.unlink(missing_ok=True)

    def save_epoch_end(self, state: TrainState, improved: bool) -> None:
        # best first: a crash (or a full disk) between the two leaves a last.pt that claims the old best
        self.save(state, [self.best_path, self.last_path] if improved else [self.last_path])

    def diverged(self, state: TrainState, bad_steps: int) -> TrainingError:
        """Save diverged.pt and return the error that stops the run."""
        path = self.out_dir / "diverged.pt"
        self.save(state, [path])
        return TrainingError(
            f"{bad_steps} non-finite losses or gradients in a row; lower train.lr or "
            f"train.grad_clip (state saved to {path})"
        )

    def _payload(self, state: TrainState, rngs: list[dict[str, Any]]) -> dict[str, Any]:
        train_state = {
            **asdict(state),
            "config": self.run.to_dict(),
            "rng": rngs[0],
            "rng_per_rank": rngs,
            "sampler": self.sampler.state_dict(),
            "data_signature": self.signature,
            "world_size": self.ctx.world_size,
            "git_rev": git_revision(),
            "metrics": state.history[-1] if state.history else {},
        }
        return {**checkpoint_payload(self.recognizer, train_state), **self.opt.state_dict()}

    def _write(self, payload: dict[str, Any], path: Path) -> None:
        try:
            save_checkpoint(payload, path)
        except OSError as e:
            kept = (
                f"{self.last_path} (step {self.saved_step}) is kept and loads"
                if self.saved_step is not None
                else "no earlier checkpoint exists"
            )
            raise TrainingError(
                f"could not write {path}: {e.strerror or e}; {kept}. Free some space (or fix the folder) "
                "and rerun with --resume"
            ) from None

    # ---- end of run
    def average(self) -> Path | None:
        """Average the weights of the last `train.average_last` kept checkpoints into averaged.pt
        (rank 0; without optimizer state). None when there is nothing to average."""
        if not self.ctx.is_main or self.cfg.average_last <= 1:
            return None
        recent = sorted(self.out_dir.glob("ckpt-*.pt"))[-self.cfg.average_last :]
        if len(recent) <= 1:
            return None
        path = self.out_dir / "averaged.pt"
        save_checkpoint(average_checkpoints(recent), path)
        log.info("averaged the weights of %d checkpoints into %s", len(recent), path)
        return path
