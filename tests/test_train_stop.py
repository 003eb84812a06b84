"""A run stopped early (`--stop-after`, or SIGTERM / Ctrl-C) stops after a whole update with last.pt
written, exits 75, and `--resume` continues it to exactly the weights, schedule and averaged checkpoint of
a run that never stopped."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import time

import pytest
import torch
from tiny_corpus import env, finished_run, train_command, training_state, weights

from asr.checkpoint import load_checkpoint
from asr.cli.train import STOPPED_EXIT, duration_seconds

# dropout and SpecAugment on (so the RNG streams matter), a mid-epoch checkpoint every 3 of the 12 steps,
# the last two of them averaged
SETTINGS = (
    "model.dropout=0.2",
    "train.checkpoint_every=3",
    "train.keep_checkpoints=2",
    "train.average_last=2",
)


def test_duration_seconds_reads_units_and_refuses_nonsense():
    assert duration_seconds("90") == duration_seconds("90s") == 90
    assert duration_seconds("45m") == 2700 and duration_seconds("1.5h") == 5400
    for bad in ("", "0", "-5m", "1d", "h", "1.5 hours"):
        with pytest.raises(argparse.ArgumentTypeError):
            duration_seconds(bad)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    root = tmp_path_factory.mktemp("stop")
    return finished_run(root, *SETTINGS, spec_augment=True)


def _same_run(out, ref_out) -> None:
    assert training_state(out / "last.pt")["step"] == training_state(ref_out / "last.pt")["step"] == 12
    for name in ("last.pt", "averaged.pt", "best.pt"):
        final, expected = weights(out / name), weights(ref_out / name)
        for key in expected:
            assert torch.equal(final[key], expected[key]), (name, key)
    assert load_checkpoint(out / "last.pt")["scheduler"] == load_checkpoint(ref_out / "last.pt")["scheduler"]
    assert sorted(p.name for p in out.glob("ckpt-*.pt")) == sorted(p.name for p in ref_out.glob("ckpt-*.pt"))


@pytest.mark.slow
def test_a_run_in_one_step_pieces_equals_one_run(reference, tmp_path):
    """A time limit shorter than any update: each piece trains one step, across epoch ends too."""
    config, ref_out = reference
    out = tmp_path / "pieces"
    steps = []
    for _ in range(20):
        done = subprocess.run(
            train_command(config, out, *SETTINGS, "--resume", "--stop-after", "0.001s"),
            capture_output=True,
            text=True,
            env=env(),
            timeout=120,
        )
        if done.returncode == 0:
            break
        assert done.returncode == STOPPED_EXIT, done.stderr[-3000:]
        assert "add --resume to continue" in done.stderr
        steps.append(training_state(out / "last.pt")["step"])
    # the twelfth piece stopped after the last update, before the run's end (dev, averaging): the
    # thirteenth did those
    assert steps == list(range(1, 13))
    _same_run(out, ref_out)


@pytest.mark.slow
def test_sigterm_stops_after_the_update_and_resume_continues_exactly(reference, tmp_path):
    config, ref_out = reference
    out = tmp_path / "terminated"
    command = train_command(config, out, *SETTINGS, "train.checkpoint_every=0")
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env(), text=True)
    metrics = out / "metrics.csv"  # a line per logged step (log_every = 1)
    deadline = time.monotonic() + 120
    while not (metrics.exists() and len(metrics.read_text().splitlines()) > 2):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()[-3000:]
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == STOPPED_EXIT, stderr[-3000:]
    assert "SIGTERM: stopping after this update" in stderr
    stopped_at = training_state(out / "last.pt")["step"]
    assert 1 <= stopped_at < 12
    assert not list(out.glob("ckpt-*.pt"))  # the stop's checkpoint is last.pt alone
    done = subprocess.run(
        train_command(config, out, *SETTINGS, "--resume"),
        capture_output=True,
        text=True,
        env=env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    _same_run(out, ref_out)
