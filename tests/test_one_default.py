"""One default everywhere: where the user names no decoder, `asr.transcribe`, `asr.evaluate`,
`asr transcribe`, `asr evaluate` and `asr serve` decode with the model's own decoder config (its
decoder.json, read by `asr.load_model`); greedy decoding only when asked for.

The model folder here asks for beam search with confidence "none": a word found by that search has no
confidence (NaN, JSON null), while greedy decoding always gives one, so every output shows which ran."""

from __future__ import annotations

import json
import math

import pytest
from tiny_model import save_model, tiny_recognizer

import asr
from asr.cli import main
from asr.data.manifest import read_manifest
from asr.decoding import BeamSearchDecoder, DecoderConfig, GreedyDecoder
from asr.evaluate import evaluate
from asr.inference import resolve_decoder

pytestmark = pytest.mark.usefixtures("one_torch_thread")
OWN = {"beam_size": 4, "confidence": "none"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A model folder: model.pt and the decoder.json it decodes with."""
    path = tmp_path_factory.mktemp("model")
    save_model(tiny_recognizer(), path / "model.pt")
    (path / "decoder.json").write_text(json.dumps(OWN))
    return path


@pytest.fixture(scope="module")
def wav(speech_corpus):
    return speech_corpus / "wav" / "1.wav"


def _beam(confidences: list) -> bool:
    """Whether words came from the folder's beam search (no confidences) rather than greedy decoding."""
    assert confidences, "no words to tell the decoders apart"
    if all(c is None or math.isnan(c) for c in confidences):
        return True
    assert all(c is not None and math.isfinite(c) for c in confidences), confidences
    return False


def test_the_library_decodes_with_the_models_decoder_json(folder, wav):
    model = asr.load_model(folder)
    assert model.decoder_config == DecoderConfig(**OWN)
    assert isinstance(resolve_decoder(model), BeamSearchDecoder)
    assert isinstance(resolve_decoder(model, "greedy"), GreedyDecoder)
    default = asr.transcribe(model, wav, vad="none")
    assert _beam([w.confidence for w in default.words])
    explicit = asr.transcribe(model, wav, decoder=model.decoder_config, vad="none")
    assert [(w.text, w.start_s) for w in default.words] == [(w.text, w.start_s) for w in explicit.words]
    assert not _beam([w.confidence for w in asr.transcribe(model, wav, decoder="greedy", vad="none").words])
    with pytest.raises(ValueError, match="greedy"):
        asr.transcribe(model, wav, decoder="beam")
    # a model without decoder.json (and one built in memory) decodes greedily
    assert asr.load_model(folder / "model.pt").decoder_config == model.decoder_config  # beside a checkpoint
    assert tiny_recognizer().decoder_config is None
    assert not _beam([w.confidence for w in asr.transcribe(tiny_recognizer(), wav, vad="none").words])


def test_evaluate_uses_the_models_decoder_config(folder, speech_corpus, monkeypatch):
    model = asr.load_model(folder)
    asked: list = []
    build = model.decoder
    monkeypatch.setattr(model, "decoder", lambda config=None: asked.append(config) or build(config))
    items = read_manifest(speech_corpus / "dev.jsonl")[:2]
    evaluate(model, items, progress=False)
    evaluate(model, items, decoder="greedy", progress=False)
    assert asked == [model.decoder_config, None]


def test_the_commands_decode_with_the_models_decoder_json(folder, wav, speech_corpus, tmp_path, capsys):
    args = ["transcribe", str(wav), "--model", str(folder), "--format", "json", "--vad", "none"]
    assert main(args) == 0
    assert _beam([w["confidence"] for w in json.loads(capsys.readouterr().out)["words"]])
    assert main([*args, "--greedy"]) == 0
    assert not _beam([w["confidence"] for w in json.loads(capsys.readouterr().out)["words"]])
    manifest = str(speech_corpus / "dev.jsonl")
    report = ["evaluate", "--model", str(folder), "--manifest", manifest, "--output-dir", str(tmp_path)]
    assert main([*report, "--also-greedy"]) == 0
    out = capsys.readouterr().out
    assert "dev (beam)" in out and "dev-greedy (greedy)" in out
    assert main([*report, "--greedy"]) == 0
    assert "dev (greedy)" in capsys.readouterr().out


def test_the_server_decodes_with_the_models_decoder_json(folder, wav):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from asr.serve import ServeConfig, create_app

    model = asr.load_model(folder)
    app = create_app(model, ServeConfig(vad="none"), model_path=model.path)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert client.get("/healthz").json()["decoder"] == "beam"
        default = client.post(
            "/v1/transcribe", content=wav.read_bytes(), headers={"content-type": "audio/wav"}
        )
        assert default.status_code == 200 and default.json()["decoder"] == "beam"
        assert _beam([w["confidence"] for w in default.json()["words"]])
        expected = asr.transcribe(model, wav, vad="none")
        assert default.json()["text"] == expected.text
        greedy = client.post(
            "/v1/transcribe?decoder=greedy", content=wav.read_bytes(), headers={"content-type": "audio/wav"}
        )
        assert greedy.json()["decoder"] == "greedy" and not _beam(
            [w["confidence"] for w in greedy.json()["words"]]
        )
