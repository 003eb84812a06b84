"""A training process killed with SIGKILL resumes and ends with exactly the weights of an uninterrupted run."""

from __future__ import annotations

import pytest
import torch
from tiny_corpus import finished_run, killed_run, resumed_run, training_state, weights

from asr.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run: 3 epochs of 4 batches, dropout and SpecAugment on (so the RNG matters)."""
    root = tmp_path_factory.mktemp("resume")
    return finished_run(root, "model.dropout=0.2", spec_augment=True, checkpoint_every=0)


@pytest.mark.parametrize("checkpoint_every", [3, 0], ids=["mid-epoch", "epoch-end"])
def test_sigkill_then_resume_equals_uninterrupted(reference, tmp_path, checkpoint_every):
    config, ref_out = reference
    out = tmp_path / "killed"
    extra = ["model.dropout=0.2", f"train.checkpoint_every={checkpoint_every}"]
    state = killed_run(config, out, *extra)
    assert state["step"] < 12, "the run finished before it was killed"
    if checkpoint_every:
        assert state["batch_in_epoch"] > 0 and state["sampler"]["position"] == state["batch_in_epoch"]
    resumed_run(config, out, *extra)
    final, expected = weights(out / "last.pt"), weights(ref_out / "last.pt")
    assert training_state(out / "last.pt")["step"] == training_state(ref_out / "last.pt")["step"] == 12
    for key in expected:
        assert torch.equal(final[key], expected[key]), key
    # The optimizer and LR schedule continued too, not just the weights.
    assert load_checkpoint(out / "last.pt")["scheduler"] == load_checkpoint(ref_out / "last.pt")["scheduler"]
