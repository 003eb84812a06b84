"""In-process training-loop features: gradient accumulation, kept and averaged checkpoints, monitoring
files, resume of a finished run, and the non-finite-loss guard."""

from __future__ import annotations

import csv

import pytest
import torch
from old_layout import flat_augment_layout
from tiny_corpus import make_corpus, tiny_run, training_state, wrap_train_step

import asr.train.loop as loop
from asr import load_model
from asr.checkpoint import load_checkpoint


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("tiny") / "corpus", count=12)


@pytest.mark.slow
def test_accumulation_checkpoints_averaging_and_monitoring(corpus, tmp_path):
    out = tmp_path / "exp"
    run = tiny_run(corpus, out, "train.grad_accum=2", "train.keep_checkpoints=2", "train.average_last=2")
    best = loop.train(run, progress=False)
    # 12 utterances of 1 s, 4 per batch: 3 batches per epoch -> 2 optimizer steps (2 + 1 batches).
    assert training_state(out / "last.pt")["step"] == 4
    assert sorted(p.name for p in out.glob("ckpt-*.pt")) == ["ckpt-00000002.pt", "ckpt-00000004.pt"]
    averaged = load_checkpoint(out / "averaged.pt")
    assert "optimizer" not in averaged
    a = load_checkpoint(out / "ckpt-00000002.pt")["state_dict"]
    b = load_checkpoint(out / "ckpt-00000004.pt")["state_dict"]
    key = "output.weight"
    torch.testing.assert_close(averaged["state_dict"][key], (a[key] + b[key]) / 2)
    load_model(out / "averaged.pt")
    assert best.exists()
    with (out / "metrics.csv").open() as f:
        names = {row["name"] for row in csv.DictReader(f)}
    assert {"train/loss", "train/lr", "train/audio_s_per_s", "dev/wer", "dev/cer"} <= names
    assert (out / "curves.png").stat().st_size > 1000
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    # Resuming a finished run trains no further and keeps its state.
    loop.train(run, resume=True, progress=False)
    assert training_state(out / "last.pt")["step"] == 4


def test_non_finite_losses_skip_steps_then_stop_the_run(corpus, tmp_path, monkeypatch, caplog):
    wrap_train_step(monkeypatch, lambda n, loss: loss * float("nan") if n == 2 or n >= 4 else loss)
    out = tmp_path / "exp"
    run = tiny_run(corpus, out, "train.max_bad_steps=3", "train.epochs=3", "train.tensorboard=false")
    with pytest.raises(loop.TrainingError, match="3 non-finite losses or gradients in a row"):
        loop.train(run, progress=False)
    assert "non-finite loss, step skipped; utterances: u" in caplog.text
    # Steps 1 and 3 trained; 2, 4, 5, 6 were skipped (the third in a row stopped the run).
    assert training_state(out / "diverged.pt")["step"] == 2


@pytest.mark.slow
def test_unreadable_audio_in_worker_processes_is_skipped_and_reported(tmp_path):
    """With DataLoader workers the dataset's own record lives in other processes: the report must not."""
    import json

    import numpy as np
    import soundfile as sf

    corpus = make_corpus(tmp_path / "corpus", count=10)
    (corpus / "3.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")  # corrupt header
    nan = np.zeros(16000, dtype=np.float32)
    nan[100] = np.nan
    sf.write(corpus / "5.wav", nan, 16000, subtype="FLOAT")
    (corpus / "7.wav").unlink()  # listed but missing
    out = tmp_path / "exp"
    loop.train(tiny_run(corpus, out, "train.num_workers=2", "train.epochs=1"), progress=False)
    skipped = json.loads((out / "train_report.json").read_text())["skipped"]
    assert set(skipped) == {"u3", "u5", "u7"}, skipped
    assert "NaN" in skipped["u5"] or "nan" in skipped["u5"].lower()
    assert all(reason for reason in skipped.values())


@pytest.mark.slow
def test_init_from_starts_at_the_given_weights_and_refuses_another_shape(corpus, tmp_path):
    first = tmp_path / "first"
    loop.train(tiny_run(corpus, first, "train.epochs=1"), progress=False)
    start = load_checkpoint(first / "best.pt")["state_dict"]
    second = tmp_path / "second"
    run = tiny_run(
        corpus,
        second,
        "train.epochs=1",
        "train.lr=0",
        "train.warmup_steps=1",
        f"train.init_from={first / 'best.pt'}",
    )
    loop.train(run, progress=False)  # lr 0: the weights stay exactly where they were loaded
    after = load_checkpoint(second / "best.pt")["state_dict"]
    for key, value in start.items():
        torch.testing.assert_close(after[key], value, rtol=0, atol=0)
    wider = tiny_run(
        corpus, tmp_path / "third", "model.hidden_size=24", f"train.init_from={first / 'best.pt'}"
    )
    with pytest.raises(loop.TrainingError, match="hidden_size"):
        loop.train(wider, progress=False)


def test_init_from_an_old_checkpoint_whose_stored_config_keeps_augmentation_flat(tmp_path):
    """A checkpoint whose stored run config keeps the augmentation keys flat in [train] (older asr
    versions wrote them so): that config still rebuilds the run, and train.init_from loads its weights."""
    from asr.loading import shipped_model_dir
    from asr.recognizer import SpeechRecognizer
    from asr.text import Vocabulary
    from asr.train.checkpointing import init_weights
    from asr.train.config import RunConfig

    shipped = shipped_model_dir() / "model.pt"
    payload = load_checkpoint(shipped)
    payload["train"]["config"] = flat_augment_layout(payload["train"]["config"])
    old = tmp_path / "old.pt"
    torch.save(payload, old)
    assert "noise_prob" in load_checkpoint(old)["train"]["config"]["train"]  # the old, flat layout
    run = RunConfig.from_dict(payload["train"]["config"])
    recognizer = SpeechRecognizer(run.features, run.model, Vocabulary.english_characters())
    init_weights(recognizer, run, str(old))
    for key, value in payload["state_dict"].items():
        torch.testing.assert_close(recognizer.acoustic.state_dict()[key], value.float(), rtol=0, atol=0)


def test_init_from_accepts_a_new_cepstral_lifter_and_refuses_other_feature_changes(tmp_path):
    """Cepstral smoothing keeps the mel bins, so a fine-tune may switch it on from a checkpoint that
    predates the setting (its stored [features] lack the key); a different n_mels is refused."""
    from dataclasses import replace

    from asr.features import FeatureConfig
    from asr.loading import shipped_model_dir
    from asr.recognizer import SpeechRecognizer
    from asr.text import Vocabulary
    from asr.train.checkpointing import init_weights
    from asr.train.config import RunConfig

    payload = load_checkpoint(shipped_model_dir() / "model.pt")
    payload["features"].pop("cepstral_lifter", None)
    old = tmp_path / "old.pt"
    torch.save(payload, old)
    run = RunConfig.from_dict(payload["train"]["config"])
    smoothed = replace(run, features=replace(run.features, cepstral_lifter=24))
    recognizer = SpeechRecognizer(smoothed.features, smoothed.model, Vocabulary.english_characters())
    init_weights(recognizer, smoothed, str(old))
    for key, value in payload["state_dict"].items():
        torch.testing.assert_close(recognizer.acoustic.state_dict()[key], value.float(), rtol=0, atol=0)
    coarser = replace(run, features=FeatureConfig(n_mels=40))
    with pytest.raises(loop.TrainingError, match="n_mels"):
        init_weights(recognizer, coarser, str(old))
