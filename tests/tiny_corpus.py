"""A tiny corpus of equal-length tone+noise utterances and a tiny-model config, for training-loop tests.

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
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

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


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def training_state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)["train"]


def tiny_run(corpus: Path, out: Path, *extra: str):
    """An in-process RunConfig for a 1-layer, 16-unit model on `corpus`: 2 epochs, fp32, tiny batches."""
    return load_run_config(
        None,
        [
            f"train.train_manifest={corpus / 'train.jsonl'}",
            f"train.dev_manifest={corpus / 'dev.jsonl'}",
            f"train.out_dir={out}",
            "model.hidden_size=16",
            "model.num_layers=1",
            "train.epochs=2",
            "train.max_duration=4",
            "train.num_buckets=2",
            "train.precision=fp32",
            "train.warmup_steps=2",
            "train.log_every=1",
            *extra,
        ],
    )
