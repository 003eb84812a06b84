"""ONNX / TorchScript export (fp32 and int8): parity with the eager model on real speech, loading
through asr.load_model, transcription and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import tiny_model
import torch
from tiny_model import save_model

import asr
from asr.checkpoint import CheckpointError
from asr.export import MANIFEST_NAME, ExportError, export_model, max_abs_diff
from asr.features import FeatureConfig
from asr.recognizer import SpeechRecognizer
from asr.text import Vocabulary

pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_recognizer(subsampling: str = "stack", seed: int = 0, lifter: int = 0) -> SpeechRecognizer:
    """A small random recognizer (peaky, feature statistics set): its output varies enough over time to
    make parity meaningful. `lifter`: the front end's cepstral smoothing (0: off)."""
    features = FeatureConfig(cepstral_lifter=lifter)
    return tiny_model.tiny_recognizer(
        subsampling=subsampling, seed=seed, feature_stats=True, features=features
    )


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_model(tiny_recognizer(), tmp_path_factory.mktemp("model") / "tiny.pt")


@pytest.fixture(scope="module")
def speech(speech_corpus):
    """Four real espeak-ng utterances of different lengths, as a padded batch."""
    waves = [
        torch.from_numpy(sf.read(speech_corpus / "wav" / f"{i}.wav", dtype="float32")[0])
        for i in (0, 9, 18, 27)
    ]
    lengths = torch.tensor([len(w) for w in waves])
    assert len(set(lengths.tolist())) == 4, "the parity test needs different lengths"
    return torch.nn.utils.rnn.pad_sequence(waves, batch_first=True), lengths


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("subsampling,lifter", [("stack", 0), ("conv", 0), ("stack", 20)])
@torch.no_grad()
def test_fp32_export_matches_eager_on_speech(tmp_path, speech, fmt, subsampling, lifter, record_property):
    eager = tiny_recognizer(subsampling, lifter=lifter)
    ckpt = tmp_path / "m.pt"
    save_model(eager, ckpt)
    manifest = export_model(ckpt, tmp_path / "export", format=fmt)
    exported = asr.load_model(manifest.parent)  # a directory dispatches to the export loader
    waves, lengths = speech
    # Variable lengths in one padded batch; the eager reference runs each utterance on its own.
    log_probs, out_lengths = exported(waves, lengths)
    eager_lengths = torch.cat(
        [eager(waves[i : i + 1, :n], lengths[i : i + 1])[1] for i, n in enumerate(lengths)]
    )
    assert out_lengths.tolist() == eager_lengths.tolist()
    assert log_probs.shape == (4, int(eager_lengths.max()), len(eager.vocab))
    worst = 0.0
    for i, n in enumerate(lengths.tolist()):
        ref, _ = eager(waves[i : i + 1, :n], lengths[i : i + 1])
        t = int(out_lengths[i])
        worst = max(worst, float((ref[0, :t] - log_probs[i, :t]).abs().max()))
    record_property("max_abs_diff", worst)
    print(
        f"{fmt} fp32 {subsampling} lifter {lifter}: max |log-prob diff| vs eager on 4 utterances: {worst:.2e}"
    )
    assert worst < 1e-3
    # The log-probs are far from uniform (log 1/29 = -3.37), so the comparison means something.
    assert float(log_probs[0, : int(out_lengths[0])].max(-1).values.mean()) > -3.0
    # Batching does not change the result: the exported model runs each length on its own.
    alone, _ = exported(waves[1:2, : lengths[1]], lengths[1:2])
    assert torch.equal(alone[0], log_probs[1, : alone.shape[1]])


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_int8_export_is_smaller_and_close(tmp_path, checkpoint, speech, fmt):
    fp32 = export_model(checkpoint, tmp_path / "fp32", format=fmt).parent
    int8 = export_model(checkpoint, tmp_path / "int8", format=fmt, quantize="int8").parent
    manifest = json.loads((int8 / MANIFEST_NAME).read_text())
    assert manifest["quantize"] == "int8" and manifest["backend"] == fmt
    size = {d: (d / manifest["model_file"]).stat().st_size for d in (fp32, int8)}
    # The LSTM and output weights shrink ~4x (the float32 front end's DFT basis stays the same).
    rec = asr.load_model(checkpoint)
    weight_bytes = 4 * sum(
        p.numel() for m in (rec.acoustic.lstm, rec.acoustic.output) for p in m.parameters()
    )
    assert size[fp32] - size[int8] > 0.6 * weight_bytes
    waves, lengths = speech
    diff = max_abs_diff(asr.load_model(checkpoint), asr.load_model(int8), waves, lengths)
    print(f"{fmt} int8: max |log-prob diff| vs fp32 eager on 4 utterances: {diff:.3f}")
    assert (
        diff < 2.0
    )  # int8 weights of a random tiny model; WER parity is measured by benchmarks/inference.py


def test_export_writes_vocab_and_features(tmp_path, checkpoint):
    out = export_model(checkpoint, tmp_path / "e").parent
    assert Vocabulary.from_file(out / "vocab.json") == Vocabulary.english_characters()
    assert FeatureConfig.from_dict(json.loads((out / "features.json").read_text())) == FeatureConfig()
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert manifest["self_check"]["max_abs_diff_vs_eager"] < 1e-3
    assert manifest["metadata"]["source"] == str(checkpoint)


def test_transcribe_with_exported_model_matches_checkpoint(tmp_path, checkpoint, speech_corpus):
    wav = speech_corpus / "wav" / "3.wav"
    expected = asr.transcribe(asr.load_model(checkpoint), wav, vad="none")
    for fmt in ("onnx", "torchscript"):
        exported = asr.load_model(export_model(checkpoint, tmp_path / fmt, format=fmt).parent)
        got = asr.transcribe(exported, wav, vad="none")
        assert got.text == expected.text and got.text
        assert [w.text for w in got.words] == [w.text for w in expected.words]
        assert np.allclose([w.start_s for w in got.words], [w.start_s for w in expected.words])


def test_evaluate_accepts_exported_model(tmp_path, checkpoint, speech_corpus):
    from asr.data.manifest import read_manifest
    from asr.evaluate import evaluate

    items = read_manifest(speech_corpus / "dev.jsonl")
    exported = asr.load_model(export_model(checkpoint, tmp_path / "e").parent)
    result = evaluate(exported, items, progress=False)
    assert len(result.ids) == len(items) and all(isinstance(h, str) for h in result.hypotheses)


def test_cli_export_then_transcribe(tmp_path, checkpoint, speech_corpus, capsys):
    from asr.cli import main

    out = tmp_path / "cli-onnx"
    assert main(["export", "--model", str(checkpoint), "--format", "onnx", "-o", str(out)]) == 0
    assert "exported to" in capsys.readouterr().out
    wav = str(speech_corpus / "wav" / "5.wav")
    assert main(["transcribe", "--model", str(checkpoint), "--vad", "none", wav]) == 0
    eager_text = capsys.readouterr().out
    assert main(["transcribe", "--model", str(out), "--vad", "none", wav]) == 0
    assert capsys.readouterr().out == eager_text


def test_load_errors_are_clear(tmp_path, checkpoint):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match="no asr_export.json"):
        asr.load_model(empty)
    out = export_model(checkpoint, tmp_path / "e").parent
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    (out / MANIFEST_NAME).write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(ExportError, match="format_version 99"):
        asr.load_model(out)
    (out / MANIFEST_NAME).write_text(json.dumps(manifest))
    (out / "model.onnx").unlink()
    with pytest.raises(ExportError, match="missing"):
        asr.load_model(out)
    with pytest.raises(ExportError, match="unknown export format"):
        export_model(checkpoint, tmp_path / "x", format="tflite")


def test_exported_model_rejects_bad_shapes(tmp_path, checkpoint):
    exported = asr.load_model(export_model(checkpoint, tmp_path / "e").parent)
    with pytest.raises(ValueError, match="waveforms must be"):
        exported(torch.zeros(16000), torch.tensor([16000]))
    with pytest.raises(ValueError, match="lengths must be"):
        exported(torch.zeros(2, 16000), torch.tensor([16000]))


def test_every_loaded_model_is_a_recognizer(tmp_path, checkpoint):
    """load_model has one return type: the eager model and every exported model satisfy Recognizer."""
    from asr.recognizer import Recognizer
    from asr.runtime import EagerInt8Model, ExportedModel

    eager = asr.load_model(checkpoint)
    models = [eager, EagerInt8Model(eager)]
    models += [
        asr.load_model(export_model(checkpoint, tmp_path / f, format=f).parent)
        for f in ("onnx", "torchscript")
    ]
    for model in models:
        assert isinstance(model, Recognizer), type(model).__name__
        assert model.decoder() is not None and model.sample_rate == 16000 and model.frame_shift_s > 0
        assert model.feature_config == FeatureConfig() and model.model_config == eager.model_config
    assert all(isinstance(m, ExportedModel) for m in models[1:])
    with pytest.raises(ExportError, match="already an export"):
        export_model(tmp_path / "onnx", tmp_path / "again")


def test_runtime_loads_no_checkpoint_or_export_code():
    import subprocess
    import sys

    code = (
        "import sys, asr.runtime\n"
        "print(','.join(m for m in sys.modules if m in ('asr.checkpoint', 'asr.export', 'torch.onnx')"
        " or m.startswith(('asr.train', 'asr.data'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
