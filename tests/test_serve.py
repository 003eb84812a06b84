"""HTTP API (FastAPI test client): transcription, formats, limits, errors, queue, timeouts."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
import soundfile as sf
import torch

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

import asr  # noqa: E402
from asr.checkpoint import checkpoint_payload, save_checkpoint  # noqa: E402
from asr.features import FeatureConfig  # noqa: E402
from asr.model import ModelConfig  # noqa: E402
from asr.recognizer import SpeechRecognizer  # noqa: E402
from asr.serve import ServeConfig, create_app  # noqa: E402
from asr.text import Vocabulary  # noqa: E402


def tiny_recognizer() -> SpeechRecognizer:
    torch.manual_seed(0)
    config = ModelConfig(hidden_size=32, num_layers=2)
    rec = SpeechRecognizer(FeatureConfig(), config, Vocabulary.english_characters()).eval()
    with torch.no_grad():  # peaky output with word separators: a non-empty transcript with several words
        rec.acoustic.output.weight.mul_(8)
        rec.acoustic.output.bias[rec.vocab.separator_id] += 1.5
    return rec


class SlowModel:
    """Wraps a model; every call sleeps first (timeouts)."""

    def __init__(self, model, delay: float) -> None:
        self._model, self._delay = model, delay

    def __getattr__(self, name):
        return getattr(self._model, name)

    def __call__(self, *args):
        time.sleep(self._delay)
        return self._model(*args)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model():
    return tiny_recognizer()


@pytest.fixture(scope="module")
def wav_bytes(speech_corpus):
    return (speech_corpus / "wav" / "1.wav").read_bytes()


@pytest.fixture(scope="module")
def client(model):
    with TestClient(create_app(model, ServeConfig(max_upload_bytes=2_000_000, max_audio_seconds=20))) as c:
        yield c


def test_multipart_upload_gives_transcript_with_words(client, model, wav_bytes):
    expected = asr.transcribe(model, wav_bytes)
    r = client.post("/v1/transcribe", files={"file": ("a.wav", wav_bytes, "audio/wav")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["text"] == expected.text and body["text"]
    assert [w["word"] for w in body["words"]] == [w.text for w in expected.words]
    assert all(0 <= w["start"] <= w["end"] <= body["duration_s"] + 1e-3 for w in body["words"])
    assert body["decoder"] == "greedy" and body["duration_s"] == pytest.approx(
        len(sf.read(io.BytesIO(wav_bytes))[0]) / 16000, abs=1e-3
    )


def test_raw_body_and_formats(client, wav_bytes):
    text = client.post("/v1/transcribe", files={"file": ("a.wav", wav_bytes)}).json()["text"]
    raw = client.post("/v1/transcribe", content=wav_bytes, headers={"content-type": "audio/wav"})
    assert raw.status_code == 200 and raw.json()["text"] == text
    no_words = client.post("/v1/transcribe?word_times=false", content=wav_bytes)
    assert "words" not in no_words.json()
    plain = client.post("/v1/transcribe?format=text", content=wav_bytes)
    assert plain.status_code == 200 and plain.text.strip() == text
    srt = client.post("/v1/transcribe?format=srt", content=wav_bytes)
    assert srt.status_code == 200 and "-->" in srt.text and srt.text.startswith("1\n")
    vtt = client.post("/v1/transcribe?format=vtt", content=wav_bytes)
    assert (
        vtt.status_code == 200
        and vtt.text.startswith("WEBVTT")
        and vtt.headers["content-type"].startswith("text/vtt")
    )
    beam = client.post("/v1/transcribe?decoder=beam", content=wav_bytes)
    assert beam.status_code == 200 and beam.json()["decoder"] == "beam"
    assert client.post("/v1/transcribe?format=doc", content=wav_bytes).status_code == 422


def test_health_page_and_docs(client):
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["sample_rate"] == 16000
    assert health["limits"]["max_upload_bytes"] == 2_000_000
    page = client.get("/")
    assert page.status_code == 200 and 'id="transcript"' in page.text and "v1/transcribe" in page.text
    schema = client.get("/openapi.json").json()
    assert "/v1/transcribe" in schema["paths"] and "/healthz" in schema["paths"]
    assert "multipart/form-data" in schema["paths"]["/v1/transcribe"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 200


def test_bad_requests_get_clear_4xx_and_service_keeps_serving(client, wav_bytes):
    garbage = client.post("/v1/transcribe", files={"file": ("x.wav", b"RIFF not really a wave file" * 10)})
    assert garbage.status_code == 422 and "cannot decode audio" in garbage.json()["detail"]
    empty = client.post("/v1/transcribe", content=b"")
    assert empty.status_code == 400 and "no audio" in empty.json()["detail"]
    no_file = client.post("/v1/transcribe", data={"other": "x"}, files={"upload": ("a.wav", wav_bytes)})
    assert no_file.status_code == 400 and "'file'" in no_file.json()["detail"]
    nan = io.BytesIO()
    sf.write(nan, np.full(16000, np.nan, dtype=np.float32), 16000, format="WAV", subtype="FLOAT")
    assert client.post("/v1/transcribe", content=nan.getvalue()).status_code == 422
    assert client.post("/v1/transcribe", content=wav_bytes).status_code == 200


def test_upload_and_duration_limits(model, wav_bytes):
    with TestClient(create_app(model, ServeConfig(max_upload_bytes=1000))) as c:
        r = c.post("/v1/transcribe", content=wav_bytes)
        assert r.status_code == 413 and "limit is 1000 bytes" in r.json()["detail"]
        r = c.post("/v1/transcribe", files={"file": ("a.wav", wav_bytes)})
        assert r.status_code == 413
    with TestClient(create_app(model, ServeConfig(max_audio_seconds=0.5))) as c:
        r = c.post("/v1/transcribe", content=wav_bytes)
        assert r.status_code == 413 and "at most 0.5 s" in r.json()["detail"]


def test_full_queue_gets_503(model, wav_bytes):
    app = create_app(model, ServeConfig(workers=1, max_queue=2))
    with TestClient(app) as c:
        service = app.state.service
        service.admitted = 3  # as if three requests were running or waiting
        r = c.post("/v1/transcribe", content=wav_bytes)
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        service.admitted = 0
        assert c.post("/v1/transcribe", content=wav_bytes).status_code == 200
        assert c.get("/healthz").json()["queue"]["rejected"] == 1


def test_slow_request_times_out_with_504(model, wav_bytes):
    app = create_app(SlowModel(model, 1.0), ServeConfig(request_timeout_s=0.2))
    with TestClient(app) as c:
        r = c.post("/v1/transcribe?decoder=greedy", content=wav_bytes)
        assert r.status_code == 504 and "longer than 0.2 s" in r.json()["detail"]
        time.sleep(1.2)  # the abandoned call finishes and frees its slot
        assert app.state.service.admitted == 0


def test_serves_an_exported_model(tmp_path, model, wav_bytes):
    pytest.importorskip("onnxruntime")
    from asr.export import export_model

    ckpt = tmp_path / "m.pt"
    save_checkpoint(checkpoint_payload(model), ckpt)
    exported = asr.load_model(export_model(ckpt, tmp_path / "onnx").parent)
    with TestClient(create_app(exported)) as c:
        r = c.post("/v1/transcribe", content=wav_bytes)
        assert r.status_code == 200 and r.json()["text"] == asr.transcribe(model, wav_bytes).text
        assert "OnnxModel" in c.get("/healthz").json()["model"]
