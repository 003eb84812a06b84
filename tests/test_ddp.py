"""torchrun with 2 gloo processes on CPU trains like one process on the same global batches, and resumes."""

from __future__ import annotations

import json
import subprocess

import pytest
import torch
from tiny_corpus import (
    env,
    finished_run,
    killed_run,
    resumed_run,
    run_to_end,
    train_command,
    training_state,
    weights,
)

pytestmark = pytest.mark.slow

if not torch.distributed.is_available():  # pragma: no cover
    pytest.skip("torch.distributed is not available", allow_module_level=True)


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    """2 processes x max_duration 4 s: 3 global batches of 8 utterances per epoch, 3 epochs."""
    return finished_run(tmp_path_factory.mktemp("ddp"), count=24, nproc=2, num_buckets=3, checkpoint_every=2)


def test_two_processes_match_one_process_on_the_same_global_batch(ddp_run, tmp_path):
    config, ddp_out = ddp_run
    single = tmp_path / "single"
    run_to_end(train_command(config, single, "train.max_duration=8.0"))
    assert training_state(single / "last.pt")["step"] == training_state(ddp_out / "last.pt")["step"] == 9
    a, b = weights(single / "last.pt"), weights(ddp_out / "last.pt")
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=1e-4, atol=1e-5, msg=key)
    # Only rank 0 wrote files; the checkpoint records both ranks' RNG streams.
    state = training_state(ddp_out / "last.pt")
    assert state["world_size"] == 2 and len(state["rng_per_rank"]) == 2
    report = json.loads((ddp_out / "train_report.json").read_text())
    assert len(report["history"]) == 3


def test_ddp_run_killed_and_resumed_matches_uninterrupted(ddp_run, tmp_path):
    config, ddp_out = ddp_run
    out = tmp_path / "killed"
    assert killed_run(config, out, nproc=2)["step"] < 9
    resumed_run(config, out, nproc=2)
    a, b = weights(out / "last.pt"), weights(ddp_out / "last.pt")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=key)


def test_ddp_run_stopped_on_time_by_both_ranks_resumes_exactly(ddp_run, tmp_path):
    """The ranks agree to stop at the same update (or one would wait forever in the next all-reduce)."""
    config, ddp_out = ddp_run
    out = tmp_path / "stopped"
    stopped = subprocess.run(
        train_command(config, out, "--stop-after", "0.001s", nproc=2),
        capture_output=True,
        text=True,
        env=env(),
        timeout=300,
    )
    assert stopped.returncode != 0 and "stopped at step 1" in stopped.stderr, stopped.stderr[-3000:]
    assert training_state(out / "last.pt")["step"] == 1
    resumed_run(config, out, nproc=2)
    a, b = weights(out / "last.pt"), weights(ddp_out / "last.pt")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=key)
