"""Real CTC training on real (espeak-ng) speech: the loss falls and the model learns its data."""

import json
import subprocess
import sys

import pytest
from tiny_corpus import SPEECH_OVERFIT, manifest_run

from asr.checkpoint import load_model
from asr.data.manifest import read_manifest
from asr.evaluate import evaluate
from asr.train.loop import train

pytestmark = pytest.mark.slow

OVERFIT = [*SPEECH_OVERFIT, "train.log_every=1"]


def test_overfits_a_few_dozen_utterances(speech_corpus, tmp_path):
    out = tmp_path / "exp"
    run = manifest_run(speech_corpus, out, "train.epochs=45", *OVERFIT)
    best = train(run, progress=False)
    history = json.loads((out / "train_report.json").read_text())["history"]
    losses = [h["train_loss"] for h in history]
    assert losses[-1] < 0.25 * losses[0], losses
    model = load_model(best)
    result = evaluate(model, read_manifest(speech_corpus / "train.jsonl"), progress=False)
    assert result.cer < 0.05, (result.cer, list(zip(result.references, result.hypotheses))[:5])


def test_cli_train_evaluate_transcribe(speech_corpus, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(
        f'[train]\ntrain_manifest = "{speech_corpus / "train.jsonl"}"\n'
        f'dev_manifest = "{speech_corpus / "dev.jsonl"}"\nout_dir = "{tmp_path / "exp"}"\nepochs = 2\n'
    )
    cli = [sys.executable, "-m", "asr.cli"]
    subprocess.run([*cli, "train", "--config", str(config), "--set", *OVERFIT], check=True)
    model = tmp_path / "exp" / "best.pt"
    out = subprocess.run(
        [*cli, "evaluate", "--model", str(model), "--manifest", str(speech_corpus / "dev.jsonl")],
        check=True,
        capture_output=True,
        text=True,
    )
    assert "WER" in out.stdout and (tmp_path / "exp" / "summary-dev.json").exists()
    out = subprocess.run(
        [*cli, "transcribe", str(speech_corpus / "wav" / "0.wav"), "--model", str(model), "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert "text" in json.loads(out.stdout)
    missing = subprocess.run(
        [*cli, "transcribe", str(tmp_path / "nope.wav"), "--model", str(model)],
        capture_output=True,
        text=True,
    )
    assert missing.returncode != 0 and "nope.wav" in missing.stderr and "Traceback" not in missing.stderr
