"""Training under faults: NaN gradients, a resume with other batching or data, a full disk, stale
temporary files, and the order best.pt / last.pt are written in."""

from __future__ import annotations

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
    asr.checkpoint.load_model(out / "last.pt")
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


def test_an_epoch_with_one_batch_more_than_estimated_does_not_stop_later_updates():
    """The sampler's batch count is an estimate: an epoch can yield one batch more (shuffled buckets pack
    differently). That batch's group must still close, and the next epoch must update as usual (a
    group of size 0 once left every later batch of the run unapplied)."""
    from asr.data.dataset import Batch
    from asr.features import FeatureConfig
    from asr.model import ModelConfig
    from asr.recognizer import SpeechRecognizer
    from asr.text import Vocabulary
    from asr.train.config import TrainConfig
    from asr.train.distributed import DistContext
    from asr.train.step import Stepper

    torch.manual_seed(0)
    vocab = Vocabulary.english_characters()
    rec = SpeechRecognizer(
        FeatureConfig(), ModelConfig(vocab_size=len(vocab), hidden_size=16, num_layers=1), vocab
    )
    optimizer = torch.optim.SGD(rec.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    cfg = TrainConfig(grad_accum=2)
    stepper = Stepper(
        rec, rec.acoustic, optimizer, scheduler, scaler, cfg, DistContext(), torch.device("cpu"), None, {}
    )
    batch = Batch(
        ids=["u"],
        texts=["hi"],
        waveforms=torch.randn(1, 16000) * 0.1,
        lengths=torch.tensor([16000]),
        targets=torch.tensor([vocab.encode("hi")]),
        target_lengths=torch.tensor([2]),
    )
    estimated = 3  # batches the epoch was expected to hold; it yields 4
    for epoch in range(2):
        stepper.begin_epoch()
        applied = 0
        for position in range(estimated + 1):
            if stepper.group_done:
                stepper.begin_group(min(cfg.grad_accum, estimated - position))
            stepper.accumulate(batch)
            if stepper.group_done and stepper.update() == "applied":
                applied += 1
        # groups of 2, 1 (the estimated end) and 1 (the extra batch): three updates, every epoch
        assert applied == 3, f"epoch {epoch}: {applied} updates"
