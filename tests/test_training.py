"""Real CTC training on real (espeak-ng) speech: the loss falls and the model learns its data; the CLI
trains, and its `evaluate` and `transcribe` give what the library gives for the same model."""

import json
import subprocess
import sys

import pytest
import soundfile as sf
from tiny_corpus import SPEECH_OVERFIT, manifest_run

from asr import load_model
from asr.checkpoint import load_checkpoint
from asr.data.manifest import read_manifest
from asr.evaluate import evaluate
from asr.metrics import cer
from asr.train.loop import train
from asr.transcription import transcribe

pytestmark = pytest.mark.slow

OVERFIT = [*SPEECH_OVERFIT, "train.log_every=1"]
CLI = [sys.executable, "-m", "asr.cli"]


@pytest.fixture(scope="module")
def overfit(speech_corpus, tmp_path_factory):
    """(best checkpoint, out dir) of a 2 x 128 BiLSTM trained 45 epochs on the 48 utterances."""
    out = tmp_path_factory.mktemp("overfit") / "exp"
    return train(manifest_run(speech_corpus, out, "train.epochs=45", *OVERFIT), progress=False), out


def test_overfits_a_few_dozen_utterances(overfit, speech_corpus):
    best, out = overfit
    history = json.loads((out / "train_report.json").read_text())["history"]
    losses = [h["train_loss"] for h in history]
    assert losses[-1] < 0.25 * losses[0], losses
    model = load_model(best)
    result = evaluate(model, read_manifest(speech_corpus / "train.jsonl"), progress=False)
    assert result.cer < 0.05, (result.cer, list(zip(result.references, result.hypotheses))[:5])


def test_cli_train_writes_its_config_its_best_and_its_report(speech_corpus, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(
        f'[train]\ntrain_manifest = "{speech_corpus / "train.jsonl"}"\n'
        f'dev_manifest = "{speech_corpus / "dev.jsonl"}"\nout_dir = "{tmp_path / "exp"}"\nepochs = 2\n'
    )
    subprocess.run([*CLI, "train", "--config", str(config), "--set", *OVERFIT], check=True)
    out = tmp_path / "exp"
    report = json.loads((out / "train_report.json").read_text())
    assert [h["epoch"] for h in report["history"]] == [1, 2]
    scores = [(h["dev_wer"], h["dev_cer"]) for h in report["history"]]
    assert tuple(report["best"]) == min(scores)  # best.pt is the epoch with the lowest dev WER, then CER
    best, last = load_checkpoint(out / "best.pt"), load_checkpoint(out / "last.pt")
    assert best["train"]["epoch"] == 1 + scores.index(min(scores)) and last["train"]["epoch"] == 2
    stored = last["train"]["config"]  # the TOML file with its --set overrides
    assert stored["train"]["epochs"] == 2 and stored["train"]["lr"] == 0.003
    assert stored["model"]["hidden_size"] == 128 and stored["train"]["augment"]["spec_augment"] is False
    assert last["vocab"]["tokens"][0] == "<blank>" and len(last["vocab"]["tokens"]) == 29
    assert last["state_dict"]["output.weight"].shape == (29, 2 * 128)  # one output per vocabulary token


def test_cli_evaluate_and_transcribe_agree_with_the_library(overfit, speech_corpus, tmp_path):
    best, out = overfit
    model = load_model(best)
    dev = speech_corpus / "dev.jsonl"
    printed = subprocess.run(
        [*CLI, "evaluate", "--model", str(best), "--manifest", str(dev)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    summary = json.loads((out / "summary-dev.json").read_text())
    expected = evaluate(model, read_manifest(dev), progress=False)
    assert summary["utterances"] == 8 and summary["skipped"] == 0
    assert summary["wer"] == pytest.approx(expected.wer, abs=1e-5)
    assert summary["cer"] == pytest.approx(expected.cer, abs=1e-5) and summary["cer"] < 0.2
    assert f"dev (greedy): WER {100 * summary['wer']:.2f}%" in printed

    wav = speech_corpus / "wav" / "0.wav"  # "the cat sat on the mat"
    cmd = [*CLI, "transcribe", str(wav), "--model", str(best), "--format", "json", "--vad", "none"]
    result = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    assert result["text"] == transcribe(model, wav, vad="none").text
    assert cer(["the cat sat on the mat"], [result["text"]]) < 0.2  # the model learnt this utterance
    assert result["duration_s"] == pytest.approx(sf.info(str(wav)).duration, abs=1e-3)
    words = result["words"]
    assert " ".join(w["word"] for w in words) == result["text"]
    times = [t for w in words for t in (w["start"], w["end"])]
    assert times == sorted(times) and 0 <= times[0] <= times[-1] <= result["duration_s"]

    missing = subprocess.run([*CLI, "transcribe", str(tmp_path / "nope.wav"), "--model", str(best)],
                             capture_output=True, text=True)  # fmt: skip
    assert missing.returncode != 0 and "nope.wav" in missing.stderr and "Traceback" not in missing.stderr
