"""A tiny corpus of equal-length tone+noise utterances, tiny-model configs and run helpers, for
training-loop tests (and the settings that make a model learn conftest.py's espeak-ng corpus).

Equal lengths mean no padding anywhere, so a batch split across DDP ranks computes exactly what the
whole batch computes in one process."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import asr.train.step as step
from asr.data.augment import AugmentConfig
from asr.train.config import load_run_config

AUGMENT_KEYS = {f.name for f in dataclasses.fields(AugmentConfig)}

WORDS = ["ab", "cat", "sun", "go", "tree", "dog"]


def make_corpus(root: Path, count: int = 16, seconds: float = 1.0, seed: int = 0) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    samples = int(16000 * seconds)
    t = np.arange(samples) / 16000
    rows = []
    for i in range(count):
        text = " ".join(rng.choice(WORDS, 2))
        tone = 0.1 * np.sin(2 * np.pi * (200 + 40 * (ord(text[0]) - 97)) * t)
        audio = (tone + 0.01 * rng.standard_normal(samples)).astype(np.float32)
        sf.write(root / f"{i}.wav", audio, 16000)
        rows.append({"id": f"u{i}", "audio": f"{i}.wav", "duration": seconds, "text": text})
    (root / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
    return root


def write_config(path: Path, corpus: Path, **train: object) -> Path:
    """Tiny deterministic model: fp32, one thread, no dropout, no SpecAugment. `train` keys of the
    [train.augment] table (spec_augment, noise_prob …) go there."""
    settings = {
        "train_manifest": str(corpus / "train.jsonl"),
        "dev_manifest": str(corpus / "dev.jsonl"),
        "epochs": 3,
        "max_duration": 4.0,
        "num_buckets": 2,
        "precision": "fp32",
        "num_threads": 1,
        "spec_augment": False,
        "warmup_steps": 2,
        "log_every": 1,
        "tensorboard": False,
        "plots": False,
        **train,
    }
    augment = {k: settings.pop(k) for k in list(settings) if k in AUGMENT_KEYS}
    lines = ["[model]", "hidden_size = 16", "num_layers = 2", "dropout = 0.0", "[train]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    lines += ["[train.augment]", *(f"{k} = {json.dumps(v)}" for k, v in augment.items())]
    path.write_text("\n".join(lines) + "\n")
    return path


def train_command(config: Path, out_dir: Path, *extra: str, nproc: int = 1) -> list[str]:
    base = [sys.executable, "-m", "asr"]
    if nproc > 1:
        base = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={nproc}",
            "-m",
            "asr",
        ]
    return [*base, "train", "--config", str(config), "--set", f"train.out_dir={out_dir}", *extra]


def env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def run_to_end(command: list[str], timeout: float = 120) -> None:
    out = subprocess.run(command, capture_output=True, text=True, env=env(), timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]


def kill_after_checkpoint(command: list[str], checkpoint: Path, timeout: float = 120) -> None:
    """Start `command`, SIGKILL its whole process group as soon as `checkpoint` exists."""
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env(), start_new_session=True
    )
    deadline = time.monotonic() + timeout
    try:
        while not checkpoint.exists():
            if proc.poll() is not None:
                raise AssertionError(f"run ended before {checkpoint} appeared: {proc.stderr.read()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {checkpoint} after {timeout} s")
            time.sleep(0.002)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL


def finished_run(
    root: Path, *extra: str, count: int = 16, nproc: int = 1, **train: object
) -> tuple[Path, Path]:
    """A run to its end on a fresh corpus of `count` utterances under `root`: write_config's `train`
    settings, `extra` on the command line. Returns (its config, its out dir)."""
    corpus = make_corpus(root / "corpus", count=count)
    config = write_config(root / "c.toml", corpus, **train)
    out = root / "run"
    run_to_end(train_command(config, out, *extra, nproc=nproc))
    return config, out


def killed_run(config: Path, out: Path, *extra: str, nproc: int = 1) -> dict:
    """A run SIGKILLed as soon as its first last.pt exists; returns that checkpoint's training state."""
    kill_after_checkpoint(train_command(config, out, *extra, nproc=nproc), out / "last.pt")
    return training_state(out / "last.pt")


def resumed_run(config: Path, out: Path, *extra: str, nproc: int = 1) -> None:
    """The run in `out` resumed (--resume) and run to its end."""
    run_to_end(train_command(config, out, *extra, "--resume", nproc=nproc))


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def training_state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)["train"]


# A 2 x 128 BiLSTM that learns the espeak-ng corpus of conftest.py (48 utterances) in a few dozen epochs.
SPEECH_OVERFIT = (
    "model.hidden_size=128",
    "model.num_layers=2",
    "model.dropout=0.0",
    "train.lr=0.003",
    "train.warmup_steps=20",
    "train.max_duration=40",
    "train.augment.spec_augment=false",
)


def manifest_run(corpus: Path, out: Path, *settings: str):
    """An in-process RunConfig training on corpus/train.jsonl (dev: corpus/dev.jsonl) into `out`, with
    `settings` ("section.key=value") over the defaults."""
    return load_run_config(
        None,
        [
            f"train.train_manifest={corpus / 'train.jsonl'}",
            f"train.dev_manifest={corpus / 'dev.jsonl'}",
            f"train.out_dir={out}",
            *settings,
        ],
    )


def tiny_run(corpus: Path, out: Path, *extra: str):
    """An in-process RunConfig for a 1-layer, 16-unit model on `corpus`: 2 epochs, fp32, tiny batches."""
    return manifest_run(
        corpus,
        out,
        "model.hidden_size=16",
        "model.num_layers=1",
        "train.epochs=2",
        "train.max_duration=4",
        "train.num_buckets=2",
        "train.precision=fp32",
        "train.warmup_steps=2",
        "train.log_every=1",
        *extra,
    )


def wrap_train_step(
    monkeypatch: pytest.MonkeyPatch, change: Callable[[int, torch.Tensor], torch.Tensor]
) -> dict:
    """Replace asr.train.step.train_step for the test: the loss of call n (from 1) becomes
    `change(n, loss)`. Returns the call count, {"n": calls so far}."""
    real_step = step.train_step
    calls = {"n": 0}

    def changed_step(*args, **kwargs):
        calls["n"] += 1
        return change(calls["n"], real_step(*args, **kwargs))

    monkeypatch.setattr(step, "train_step", changed_step)
    return calls
