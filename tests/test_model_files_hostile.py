"""Model files from someone else: a model folder's decoder.json may only name files inside the folder,
and a checkpoint whose configuration disagrees with its weights (or claims absurd sizes) is a
CheckpointError before anything is built."""

from __future__ import annotations

import json
import time

import pytest
import torch
from tiny_model import save_model, tiny_recognizer

from asr import load_model
from asr.checkpoint import checkpoint_payload, save_checkpoint
from asr.cli import main
from asr.errors import CheckpointError, ConfigError
from asr.loading import decoder_settings

SECRET = "password=hunter2"


@pytest.fixture
def folder(tmp_path):
    """A model folder (model.pt + lm.arpa + words.txt) beside a secret file it must not reach."""
    (tmp_path / "secret.txt").write_text(SECRET + "\n")
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    save_model(tiny_recognizer(), model_dir / "model.pt")
    (model_dir / "lm.arpa").write_text("\\data\\\n")
    (model_dir / "words.txt").write_text("hello\n")
    return model_dir


@pytest.mark.parametrize("escape", ["../secret.txt", "ABSOLUTE", "link.txt"])
def test_a_decoder_json_naming_a_file_outside_its_folder_is_refused(folder, escape, capsys, tmp_path):
    secret = tmp_path / "secret.txt"
    if escape == "ABSOLUTE":
        escape = str(secret)
    elif escape == "link.txt":
        (folder / "link.txt").symlink_to(secret)  # inside by name, outside in fact
    (folder / "decoder.json").write_text(json.dumps({"beam_size": 4, "lm": escape, "lexicon": "words.txt"}))
    with pytest.raises(ConfigError, match="'lm' names .*outside the model folder"):
        decoder_settings(folder / "decoder.json")
    with pytest.raises(ConfigError, match="'lm' names .*outside the model folder"):
        load_model(folder)  # the one load call reads the folder's decoder.json under the same rule
    wav = tmp_path / "a.wav"
    wav.write_bytes(b"RIFF")  # never read: the model's settings are refused first
    code = main(["transcribe", str(wav), "--model", str(folder / "model.pt")])
    err = capsys.readouterr().err
    assert code == 2 and "'lm'" in err and "outside the model folder" in err, err
    assert SECRET not in err and "Traceback" not in err


def test_files_inside_the_folder_resolve_there(folder):
    (folder / "decoder.json").write_text(
        json.dumps({"beam_size": 4, "lm": "lm.arpa", "lexicon": "words.txt"})
    )
    settings = decoder_settings(folder / "decoder.json")
    assert settings["lm"] == str((folder / "lm.arpa").resolve())
    assert settings["lexicon"] == str((folder / "words.txt").resolve())
    own = load_model(folder).decoder_config
    assert own.beam_size == 4 and own.lm == settings["lm"] and own.lexicon == settings["lexicon"]


def test_export_never_copies_a_file_from_outside_the_folder(folder, tmp_path):
    pytest.importorskip("onnx")
    from asr.errors import ExportError
    from asr.export import export_model

    (folder / "decoder.json").write_text(json.dumps({"beam_size": 4, "lm": "../secret.txt"}))
    out = tmp_path / "export"
    with pytest.raises(ExportError, match="'lm'"):
        export_model(folder / "model.pt", out, format="torchscript")
    copied = [p.name for p in out.iterdir()] if out.exists() else []
    assert "secret.txt" not in copied and "decoder.json" not in copied and "asr_export.json" not in copied
    for path in out.rglob("*") if out.exists() else []:
        assert SECRET.encode() not in path.read_bytes()


def _edited(tmp_path, **changes) -> object:
    payload = checkpoint_payload(tiny_recognizer())
    for key, value in changes.items():
        section, _, field = key.partition("__")
        payload[section] = {**payload[section], field: value} if field else value
    path = tmp_path / "edited.pt"
    save_checkpoint(payload, path)
    return path


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"model__hidden_size": 64}, "model.hidden_size is 64, but the weights have 32"),
        ({"model__num_layers": 100_000}, "model.num_layers is 100000, but the weights have 2"),
        ({"model__subsampling_factor": 4}, "subsampling_factor"),
        ({"features__n_mels": 40}, "features.n_mels is 40"),
        ({"features__n_fft": 1 << 30, "features__win_ms": 25.0}, "n_fft"),
        ({"model__num_layers": "many"}, "invalid configuration"),
    ],
)
def test_a_checkpoint_that_disagrees_with_its_weights_is_a_checkpoint_error(tmp_path, changes, message):
    path = _edited(tmp_path, **changes)
    started = time.monotonic()
    with pytest.raises(CheckpointError, match=message) as caught:
        load_model(path)
    assert str(path) in str(caught.value)
    assert time.monotonic() - started < 30  # refused before building (100 000 layers took minutes)


def test_a_vocabulary_that_does_not_match_the_output_layer_is_a_checkpoint_error(tmp_path, capsys):
    payload = checkpoint_payload(tiny_recognizer())
    vocab = dict(payload["vocab"])
    key = next(k for k, v in vocab.items() if isinstance(v, list))
    vocab[key] = [*vocab[key], "é", "ß"]
    payload["vocab"] = vocab
    path = tmp_path / "vocab.pt"
    save_checkpoint(payload, path)
    with pytest.raises(CheckpointError, match="vocabulary's size"):
        load_model(path)
    wav = tmp_path / "a.wav"
    wav.write_bytes(b"RIFF")
    assert main(["transcribe", str(wav), "--model", str(path)]) == 2
    err = capsys.readouterr().err
    assert "vocabulary's size" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_weights_of_the_wrong_shape_are_a_checkpoint_error(tmp_path):
    payload = checkpoint_payload(tiny_recognizer())
    sd = dict(payload["state_dict"])
    sd["lstm.bias_hh_l0"] = torch.zeros(3)
    payload["state_dict"] = sd
    path = tmp_path / "shape.pt"
    save_checkpoint(payload, path)
    with pytest.raises(CheckpointError, match="do not match the model configuration"):
        load_model(path)


def test_an_export_manifest_naming_a_model_file_outside_its_folder_is_refused(tmp_path):
    from asr.runtime import MANIFEST_NAME

    export = tmp_path / "export"
    export.mkdir()
    (tmp_path / "elsewhere.onnx").write_bytes(b"not yours")
    manifest = {
        "format": "asr-export",
        "format_version": 1,
        "backend": "onnx",
        "model_file": "../elsewhere.onnx",
    }
    (export / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="'model_file' names '../elsewhere.onnx', outside"):
        load_model(export)
