"""Training under faults: NaN gradients, a resume with other batching or data, a full disk, stale
temporary files, and the order best.pt / last.pt are written in."""

from __future__ import annotations

import dataclasses
import errno
import logging
import math
import os
from pathlib import Path

import pytest
import tiny_corpus
import torch
from tiny_corpus import make_corpus, training_state, wrap_train_step, write_config

import asr.checkpoint
import asr.train.checkpointing as checkpointing
import asr.train.loop as loop
from asr import cli
from asr.checkpoint import load_checkpoint
from asr.config import ConfigError
from asr.data.sampler import DurationBatchSampler
from asr.train.config import load_run_config


def tiny_run(corpus, out, *extra: str):
    """tiny_corpus.tiny_run without TensorBoard, plots or a second thread."""
    return tiny_corpus.tiny_run(
        corpus, out, "train.tensorboard=false", "train.plots=false", "train.num_threads=1", *extra
    )


@pytest.fixture
def corpus(tmp_path):
    # 12 utterances of 1 s in batches of up to 4 s
    return make_corpus(tmp_path / "corpus", count=12)


class _NaNGradient(torch.autograd.Function):
    """Identity forward (the loss stays finite), NaN backward: what an overflow inside the LSTM does."""

    @staticmethod
    def forward(ctx, x):  # noqa: ANN001, ANN205
        return x.clone()

    @staticmethod
    def backward(ctx, grad):  # noqa: ANN001, ANN205
        return grad * float("nan")


def test_non_finite_gradient_norm_skips_the_update(corpus, tmp_path, monkeypatch, caplog):
    calls = wrap_train_step(monkeypatch, lambda n, loss: _NaNGradient.apply(loss) if n in (2, 5) else loss)
    caplog.set_level(logging.WARNING)
    out = tmp_path / "exp"
    loop.train(tiny_run(corpus, out), progress=False)
    state = training_state(out / "last.pt")
    assert calls["n"] >= 6 and state["step"] == calls["n"] - 2  # one update per batch, 2 dropped
    assert state["skipped_updates"] == {"non_finite_loss": 0, "non_finite_grad": 2}
    for key, value in load_checkpoint(out / "last.pt")["state_dict"].items():
        assert torch.isfinite(value).all(), key  # NaN never reached the weights
    assert "non-finite gradient norm (nan), update skipped; utterances: u" in caplog.text
    import json

    report = json.loads((out / "train_report.json").read_text())
    assert report["skipped_updates"]["non_finite_grad"] == 2
    assert math.isfinite(report["history"][-1]["train_loss"])


def test_non_finite_gradients_in_a_row_stop_the_run(corpus, tmp_path, monkeypatch):
    wrap_train_step(monkeypatch, lambda n, loss: _NaNGradient.apply(loss))
    out = tmp_path / "exp"
    with pytest.raises(loop.TrainingError, match="3 non-finite losses or gradients in a row"):
        loop.train(tiny_run(corpus, out, "train.max_bad_steps=3"), progress=False)
    assert training_state(out / "diverged.pt")["step"] == 0


def test_resume_refuses_changed_batching_unless_forced(corpus, tmp_path):
    out = tmp_path / "exp"
    loop.train(tiny_run(corpus, out, "train.epochs=1"), progress=False)
    before = training_state(out / "last.pt")
    assert before["data_signature"]["batching"]["max_duration"] == 4.0
    changed = tiny_run(corpus, out, "train.max_duration=3")
    with pytest.raises(loop.TrainingError) as e:
        loop.train(changed, resume=True, progress=False)
    message = str(e.value)
    assert "train.max_duration was 4.0, is 3.0" in message and "--resume-force" in message
    assert training_state(out / "last.pt")["step"] == before["step"]  # untouched
    # the same settings resume fine; forced, the changed ones do too
    loop.train(changed, resume=True, resume_force=True, progress=False)
    state = training_state(out / "last.pt")
    assert state["epoch"] == 2 and state["data_signature"]["batching"]["max_duration"] == 3.0


def test_resume_refuses_a_changed_manifest_with_a_clear_cli_error(corpus, tmp_path, capsys):
    out = tmp_path / "exp"
    config = write_config(tmp_path / "c.toml", corpus, epochs=1, checkpoint_every=0)
    argv = ["train", "--config", str(config), "--set", f"train.out_dir={out}", "model.num_layers=1"]
    assert cli.main(argv) == 0
    manifest = corpus / "train.jsonl"
    manifest.write_text("".join(manifest.read_text().splitlines(keepends=True)[:-1]))  # one utterance fewer
    capsys.readouterr()
    assert cli.main([*argv, "train.epochs=2", "--resume"]) == 2
    err = capsys.readouterr().err
    assert f"{manifest} changed" in err and "--resume-force" in err and "Traceback" not in err
    assert cli.main([*argv, "train.epochs=2", "--resume-force"]) == 0
    assert training_state(out / "last.pt")["epoch"] == 2


def test_best_is_written_before_last(corpus, tmp_path, monkeypatch):
    written = []
    real_save = checkpointing.save_checkpoint

    def recording_save(payload, path):
        written.append(path.name)
        real_save(payload, path)

    monkeypatch.setattr(checkpointing, "save_checkpoint", recording_save)
    loop.train(
        tiny_run(corpus, tmp_path / "exp", "train.epochs=1", "train.checkpoint_every=0"), progress=False
    )
    assert written == ["best.pt", "last.pt"]  # a crash in between never leaves last.pt claiming a new best


def test_full_disk_is_a_clear_error_and_keeps_the_last_checkpoint(corpus, tmp_path, monkeypatch, capsys):
    out = tmp_path / "exp"
    config = write_config(tmp_path / "c.toml", corpus, epochs=2, checkpoint_every=0)
    real_save = torch.save
    calls = {"n": 0}

    def filling_save(obj, f, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= 2:  # epoch 1: best.pt and last.pt
            return real_save(obj, f, *args, **kwargs)
        if isinstance(f, str | os.PathLike):  # a writer that hands torch.save a path
            Path(f).write_bytes(b"\0" * 1000)
        else:
            f.write(b"\0" * 1000)  # part of the file, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(asr.checkpoint.torch, "save", filling_save)
    argv = ["train", "--config", str(config), "--set", f"train.out_dir={out}", "model.num_layers=1"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err
    assert f"{out / 'last.pt'} (step 4) is kept" in err
    monkeypatch.undo()
    state = training_state(out / "last.pt")  # the epoch-1 checkpoint, whole
    assert state["step"] == 4 and state["epoch"] == 1
    asr.load_model(out / "last.pt")
    assert sorted(p.name for p in out.glob(".*tmp")) == []


def test_full_disk_elsewhere_in_the_run_is_a_training_error(corpus, tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(loop, "_write_report", full)
    with pytest.raises(loop.TrainingError, match="no space left on the device while writing into"):
        loop.train(tiny_run(corpus, tmp_path / "exp", "train.epochs=1"), progress=False)


def test_stale_temporary_checkpoints_are_removed_at_start(corpus, tmp_path):
    out = tmp_path / "exp"
    out.mkdir()
    stale = [out / ".last.pt.k2j3h4.tmp", out / ".best.pt.x9y8z7.tmp", out / "train_report.json.tmp"]
    for path in stale:
        path.write_bytes(b"\0" * 4096)  # what a kill during a write leaves
    (out / "notes.txt").write_text("mine")
    loop.train(tiny_run(corpus, out, "train.epochs=1"), progress=False)
    assert not any(p.exists() for p in stale)
    assert (out / "notes.txt").read_text() == "mine"


def test_a_run_that_names_no_data_or_output_folder_is_refused(tmp_path, monkeypatch):
    """The library's defaults name no recipe's folders: a config without them is an error, not a run
    that reads or writes somewhere it was not told to."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        ConfigError, match=r"train\.train_manifest, train\.dev_manifest, train\.out_dir not set"
    ):
        loop.train(load_run_config(None), progress=False)
    run = load_run_config(None, ["train.train_manifest=t.jsonl", "train.dev_manifest=d.jsonl"])
    with pytest.raises(ConfigError, match=r"^train\.out_dir not set"):
        loop.train(run, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_every_group_of_every_epoch_ends_in_one_update(corpus, tmp_path, monkeypatch):
    """Epochs pack their shuffled buckets differently, so their batch counts differ from the first
    epoch's (the run's estimate for its LR schedule). Each epoch's batches must still form groups of
    grad_accum, the last one smaller, and each group end in exactly one update: a group that never
    closes carries its gradients into the next epoch's first update, or loses them at the run's end."""
    real_batches = DurationBatchSampler._global_batches
    wanted = {0: 5, 1: 3, 2: 6}  # batches per epoch (the sampler makes 4 of these 12 utterances)
    made: dict[int, int] = {}

    def uneven(self: DurationBatchSampler) -> list[list[int]]:
        batches = sorted(real_batches(self), key=len)
        while len(batches) < wanted[self.epoch]:  # split the largest
            big = batches.pop()
            batches += [big[: len(big) // 2], big[len(big) // 2 :]]
            batches.sort(key=len)
        while len(batches) > wanted[self.epoch]:  # merge the two smallest
            batches = sorted([batches[0] + batches[1], *batches[2:]], key=len)
        made[self.epoch] = len(batches)
        return batches

    monkeypatch.setattr(DurationBatchSampler, "_global_batches", uneven)
    calls = wrap_train_step(monkeypatch, lambda n, loss: loss)
    groups: list[int] = []  # batches forwarded since the previous optimizer step, at each step
    real_step = torch.optim.AdamW.step

    def counting_step(self, *args, **kwargs):  # noqa: ANN001, ANN202
        groups.append(calls["n"] - sum(groups))
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", counting_step)
    out = tmp_path / "exp"
    loop.train(tiny_run(corpus, out, "train.epochs=3", "train.grad_accum=2"), progress=False)
    assert made == wanted
    assert groups == [2, 2, 1] + [2, 1] + [2, 2, 2]
    assert training_state(out / "last.pt")["step"] == len(groups)


def test_extra_train_manifests_join_the_training_set_and_guard_resume(corpus, tmp_path, caplog):
    """train.extra_train_manifests: their utterances train with train_manifest's (here the corpus split
    in two); --resume refuses the run once an extra manifest's contents change."""
    lines = (corpus / "train.jsonl").read_text().splitlines(keepends=True)
    (corpus / "first.jsonl").write_text("".join(lines[:8]))
    (corpus / "rest.jsonl").write_text("".join(lines[8:]))
    out = tmp_path / "exp"
    run = tiny_run(corpus, out, "train.epochs=1", f"train.train_manifest={corpus / 'first.jsonl'}",
                   f"train.extra_train_manifests={corpus / 'rest.jsonl'}")  # fmt: skip
    assert run.train.extra_train_manifests == (str(corpus / "rest.jsonl"),)
    with caplog.at_level(logging.INFO, logger="asr.train"):
        loop.train(run, progress=False)
    assert f"train: {len(lines)} utterances" in caplog.text
    (corpus / "rest.jsonl").write_text("".join(lines[8:-1]))
    longer = dataclasses.replace(run, train=dataclasses.replace(run.train, epochs=2))
    with pytest.raises(loop.TrainingError, match="extra_train_manifests or their contents changed"):
        loop.train(longer, resume=True, progress=False)
