"""The shipped default model: found without --model, small enough for the repo, and it really transcribes
speech from a voice it never trained on (an espeak-ng accent held out of its training data)."""

from __future__ import annotations

import subprocess
import sys

import jiwer
import numpy as np
import pytest
import soundfile as sf
import torch
from speech import espeak, needs_espeak

from asr import load_model
from asr.checkpoint import CheckpointError, load_checkpoint, slim_checkpoint
from asr.cli import main
from asr.loading import ENV_VAR, decoder_file, shipped_model_dir

SHIPPED = shipped_model_dir()


def test_the_shipped_bundle_is_complete_and_small():
    files = {p.name: p.stat().st_size for p in SHIPPED.iterdir()}
    assert {"model.pt", "decoder.json", "lm3.bin", "lm3.words.txt"} <= set(files)
    assert files["model.pt"] <= 25 * 1024 * 1024
    payload = load_checkpoint(SHIPPED / "model.pt")
    assert "optimizer" not in payload  # weights and configs only
    train = payload["train"]["config"]["train"]
    for key in ("train_manifest", "dev_manifest", "out_dir", "init_from"):
        assert not train[key].startswith("/"), (key, train[key])  # no machine's paths in the repo
    assert decoder_file(SHIPPED / "model.pt") == SHIPPED / "decoder.json"


def test_one_load_call_for_every_way_of_naming_the_shipped_model(tmp_path, monkeypatch):
    """Nothing, $ASR_MODEL, the folder, its checkpoint, the model's name: the same model, with the beam
    search + LM of its decoder.json as its decoder config."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    default = load_model()
    assert default.path == SHIPPED / "model.pt"
    assert default.decoder_config is not None and default.decoder_config.beam_size > 1
    assert default.decoder_config.lm == str(SHIPPED / "lm3.bin")
    for name in (str(SHIPPED), SHIPPED / "model.pt", "synthetic-en"):
        model = load_model(name)
        assert model.path == SHIPPED / "model.pt" and model.decoder_config == default.decoder_config
    monkeypatch.setenv(ENV_VAR, str(SHIPPED))
    assert load_model().path == SHIPPED / "model.pt"
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing.pt"))
    with pytest.raises(FileNotFoundError, match=ENV_VAR):
        load_model()
    with pytest.raises(CheckpointError, match="no such model"):
        load_model(tmp_path / "missing.pt")


def _speak(text: str, voice: str, path) -> None:
    audio, rate = espeak(text, voice, 150)
    sf.write(path, audio, rate)  # 22.05 kHz: asr resamples on load


SENTENCES = [
    "the weather was cold and the wind blew from the north",
    "she opened the door and walked into the garden",
    "there is nothing more important than a good friend",
]


@needs_espeak
@pytest.mark.slow
def test_transcribe_without_model_uses_the_shipped_model_and_its_beam_search(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    files = []
    for i, text in enumerate(SENTENCES):
        path = tmp_path / f"s{i}.wav"
        _speak(text, "gmw/en-GB-x-gbcwmd+m4", path)  # accent and variant both held out of training
        files.append(str(path))
    assert main(["transcribe", *files, "--vad", "none"]) == 0
    beam = [line.split("\t", 1)[1].strip() for line in capsys.readouterr().out.splitlines()]
    assert main(["transcribe", *files, "--vad", "none", "--greedy"]) == 0
    greedy = [line.split("\t", 1)[1].strip() for line in capsys.readouterr().out.splitlines()]
    beam_wer, greedy_wer = jiwer.wer(SENTENCES, beam), jiwer.wer(SENTENCES, greedy)
    print("beam:", beam, beam_wer, "greedy:", greedy, greedy_wer)
    assert beam_wer <= 0.25, beam
    assert greedy_wer <= 0.5, greedy
    assert beam_wer <= greedy_wer


def test_slim_half_checkpoint_round_trip(tmp_path, capsys):
    src = SHIPPED / "model.pt"
    full = load_model(src)
    out = tmp_path / "copy.pt"
    assert main(["export", "--model", str(src), "--format", "checkpoint", "--half", "-o", str(out)]) == 0
    assert "no optimizer state" in capsys.readouterr().out
    copy = load_model(out)
    assert next(copy.parameters()).dtype == torch.float32  # float16 on disk, float32 in memory
    x = torch.from_numpy(np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1)
    with torch.no_grad():
        a, _ = full(x[None], torch.tensor([16000]))
        b, _ = copy(x[None], torch.tensor([16000]))
    torch.testing.assert_close(a, b)  # the shipped weights are float16 already: nothing more is lost
    assert main(["export", "--model", str(src), "--format", "checkpoint", "--quantize", "int8"]) == 2
    with pytest.raises(CheckpointError, match="no such model"):
        slim_checkpoint(tmp_path / "nope.pt", tmp_path / "x.pt")


def test_cli_without_model_or_shipped_model_is_a_clear_error(tmp_path, monkeypatch, capsys):
    import asr.loading

    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(asr.loading, "shipped_model_dir", lambda: tmp_path / "none")
    sf.write(tmp_path / "a.wav", np.zeros(16000, dtype=np.float32), 16000)
    assert main(["transcribe", str(tmp_path / "a.wav")]) == 2
    err = capsys.readouterr().err
    assert "--model" in err and "ASR_MODEL" in err and "Traceback" not in err


def test_asr_module_entry_point_help_mentions_the_default():
    out = subprocess.run(
        [sys.executable, "-m", "asr", "transcribe", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "data/models/synthetic-en" in out.replace("\n", " ").replace("  ", " ") or "ASR_MODEL" in out
