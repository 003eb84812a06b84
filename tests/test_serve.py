"""HTTP API (FastAPI test client): transcription, formats, limits, errors, queue, timeouts, access.

The service's workers are real processes (spawned per app): each test app pays their start-up."""

from __future__ import annotations

import io
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from pathlib import Path  # noqa: E402

from fastapi.testclient import TestClient  # noqa: E402
from tiny_model import save_model, tiny_recognizer  # noqa: E402

import asr  # noqa: E402
from asr.formats import transcript_to_dict  # noqa: E402
from asr.serve import ServeConfig, create_app  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
WAV = {"content-type": "audio/wav"}
# Without an API key the server answers only Host names of its address (asr.serve.hosts)
LOCAL = "http://127.0.0.1"


class SlowModel:
    """Wraps a model; every call sleeps first (timeouts). Picklable: workers get a copy."""

    def __init__(self, model, delay: float) -> None:
        self._model, self._delay = model, delay

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._model, name)

    def __call__(self, *args):
        time.sleep(self._delay)
        return self._model(*args)


@pytest.fixture(scope="module")
def model():
    return tiny_recognizer()


@pytest.fixture(scope="module")
def wav_bytes(speech_corpus):
    return (speech_corpus / "wav" / "1.wav").read_bytes()


@pytest.fixture(scope="module")
def client(model):
    with TestClient(
        create_app(model, ServeConfig(max_upload_mb=2_000_000 / 2**20, max_audio_seconds=20)), base_url=LOCAL
    ) as c:
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
    # One schema: the CLI's json (asr.formats) plus what only a request has.
    assert set(body) == set(transcript_to_dict(expected)) | {"decoder", "processing_s"}
    assert [set(s) for s in body["segments"]] == [{"start", "end", "text", "words"}] * len(expected.segments)


def test_raw_body_and_formats(client, wav_bytes):
    text = client.post("/v1/transcribe", files={"file": ("a.wav", wav_bytes)}).json()["text"]
    raw = client.post("/v1/transcribe", content=wav_bytes, headers={"content-type": "audio/wav"})
    assert raw.status_code == 200 and raw.json()["text"] == text
    octets = {"content-type": "application/octet-stream"}
    assert client.post("/v1/transcribe", content=wav_bytes, headers=octets).json()["text"] == text
    no_words = client.post("/v1/transcribe?word_times=false", content=wav_bytes, headers=WAV)
    assert "words" not in no_words.json()
    plain = client.post("/v1/transcribe?format=text", content=wav_bytes, headers=WAV)
    assert plain.status_code == 200 and plain.text.strip() == text
    srt = client.post("/v1/transcribe?format=srt", content=wav_bytes, headers=WAV)
    assert srt.status_code == 200 and "-->" in srt.text and srt.text.startswith("1\n")
    vtt = client.post("/v1/transcribe?format=vtt", content=wav_bytes, headers=WAV)
    assert (
        vtt.status_code == 200
        and vtt.text.startswith("WEBVTT")
        and vtt.headers["content-type"].startswith("text/vtt")
    )
    beam = client.post("/v1/transcribe?decoder=beam", content=wav_bytes, headers=WAV)
    assert beam.status_code == 200 and beam.json()["decoder"] == "beam"
    assert client.post("/v1/transcribe?format=doc", content=wav_bytes, headers=WAV).status_code == 422


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
    empty = client.post("/v1/transcribe", content=b"", headers=WAV)
    assert empty.status_code == 400 and "no audio" in empty.json()["detail"]
    no_file = client.post("/v1/transcribe", data={"other": "x"}, files={"upload": ("a.wav", wav_bytes)})
    assert no_file.status_code == 400 and "'file'" in no_file.json()["detail"]
    nan = io.BytesIO()
    sf.write(nan, np.full(16000, np.nan, dtype=np.float32), 16000, format="WAV", subtype="FLOAT")
    assert client.post("/v1/transcribe", content=nan.getvalue(), headers=WAV).status_code == 422
    loud = io.BytesIO()
    sf.write(loud, np.full(16000, 3e30, dtype=np.float32), 16000, format="WAV", subtype="FLOAT")
    r = client.post("/v1/transcribe", content=loud.getvalue(), headers=WAV)
    assert r.status_code == 422 and "far beyond full scale" in r.json()["detail"]
    assert client.post("/v1/transcribe", content=wav_bytes, headers=WAV).status_code == 200


def test_upload_and_duration_limits(model, wav_bytes):
    with TestClient(create_app(model, ServeConfig(max_upload_mb=1000 / 2**20)), base_url=LOCAL) as c:
        r = c.post("/v1/transcribe", content=wav_bytes, headers=WAV)
        assert r.status_code == 413 and "limit is 1000 bytes" in r.json()["detail"]
        r = c.post("/v1/transcribe", files={"file": ("a.wav", wav_bytes)})
        assert r.status_code == 413
    with TestClient(create_app(model, ServeConfig(max_audio_seconds=0.5)), base_url=LOCAL) as c:
        r = c.post("/v1/transcribe", content=wav_bytes, headers=WAV)
        assert r.status_code == 413 and "at most 0.5 s" in r.json()["detail"]


def test_full_queue_gets_503(model, wav_bytes):
    app = create_app(model, ServeConfig(workers=1, max_queue=2))
    with TestClient(app, base_url=LOCAL) as c:
        service = app.state.service
        service.admitted = 3  # as if three requests were running or waiting
        r = c.post("/v1/transcribe", content=wav_bytes, headers=WAV)
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        service.admitted = 0
        assert c.post("/v1/transcribe", content=wav_bytes, headers=WAV).status_code == 200
        assert c.get("/healthz").json()["queue"]["rejected"] == 1


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_timed_out_request_kills_its_worker_and_a_new_one_serves(model, wav_bytes):
    app = create_app(SlowModel(model, 600.0), ServeConfig(request_timeout_s=1.0, vad="energy"))
    with TestClient(app, base_url=LOCAL) as c:
        service = app.state.service
        (old_pid,) = service.pool.worker_pids()
        started = time.monotonic()
        r = c.post("/v1/transcribe?decoder=greedy", content=wav_bytes, headers=WAV)
        assert r.status_code == 504 and "longer than 1 s" in r.json()["detail"]
        assert time.monotonic() - started < 10
        assert service.admitted == 0  # freed at once, not when the abandoned work would end
        assert not _alive(old_pid)  # the work itself is stopped: its process is gone
        _wait_for(lambda: service.pool.ready == 1, 120, "a replacement worker is ready")
        (new_pid,) = service.pool.worker_pids()
        assert new_pid != old_pid and c.get("/healthz").json()["workers"]["restarts"] == 1


def test_each_worker_has_its_own_decoders(model, wav_bytes):
    """Concurrent beam-search requests over two workers: each answer is the one a lone request gets."""
    app = create_app(model, ServeConfig(workers=2, max_queue=8, vad="energy"))
    with TestClient(app, base_url=LOCAL) as c:
        alone = c.post("/v1/transcribe?decoder=beam", content=wav_bytes, headers=WAV).json()["text"]
        with ThreadPoolExecutor(6) as pool:
            answers = list(
                pool.map(
                    lambda _: c.post("/v1/transcribe?decoder=beam", content=wav_bytes, headers=WAV),
                    range(12),
                )
            )
        assert [r.status_code for r in answers] == [200] * 12
        assert {r.json()["text"] for r in answers} == {alone}
        assert len(set(app.state.service.pool.worker_pids())) == 2


# --- access ----------------------------------------------------------------------------------------


def test_api_key_is_required_on_every_request_but_the_page(model, wav_bytes):
    app = create_app(model, ServeConfig(api_key="s3cret-key", vad="energy"))
    with TestClient(app, base_url=LOCAL) as c:
        assert c.get("/").status_code == 200  # the page holds no data; it asks for the key
        for r in (
            c.get("/healthz"),
            c.get("/openapi.json"),
            c.post("/v1/transcribe", content=wav_bytes, headers=WAV),
            c.post("/v1/transcribe", content=wav_bytes, headers={**WAV, "authorization": "Bearer wrong"}),
            c.post("/v1/transcribe", content=wav_bytes, headers={**WAV, "x-api-key": "s3cret-ke"}),
        ):
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", r.text
        assert app.state.service.served == 0 and app.state.service.admitted == 0
        ok = c.post(
            "/v1/transcribe", content=wav_bytes, headers={**WAV, "authorization": "Bearer s3cret-key"}
        )
        assert ok.status_code == 200 and ok.json()["text"]
        health = c.get("/healthz", headers={"x-api-key": "s3cret-key"})
        assert health.status_code == 200 and health.json()["limits"]["api_key_required"] is True
        assert "s3cret" not in health.text


def test_uploads_need_an_audio_type_or_a_form_and_the_same_origin(client, wav_bytes):
    served = client.app.state.service.served
    for headers in (
        {"content-type": "text/plain"},
        {"content-type": "application/x-www-form-urlencoded"},
        {},
    ):
        r = client.post("/v1/transcribe", content=wav_bytes, headers=headers)
        assert r.status_code == 415 and "multipart/form-data" in r.json()["detail"], (headers, r.text)
    # A cross-site page posting a form (no-cors) sends its Origin: refused before any work.
    evil = client.post(
        "/v1/transcribe", files={"file": ("a.wav", wav_bytes)}, headers={"origin": "http://evil.example"}
    )
    assert evil.status_code == 403 and "cross-origin" in evil.json()["detail"]
    opaque = client.post("/v1/transcribe", content=wav_bytes, headers={**WAV, "origin": "null"})
    assert opaque.status_code == 403
    assert client.app.state.service.served == served
    same = client.post("/v1/transcribe", files={"file": ("a.wav", wav_bytes)}, headers={"origin": LOCAL})
    assert same.status_code == 200


def test_error_bodies_carry_no_paths_or_object_reprs(client):
    for body in (b"RIFF not really a wave file" * 10, os.urandom(3000)):
        r = client.post("/v1/transcribe", files={"file": ("x.m4a", body)})
        detail = r.json()["detail"]
        assert r.status_code == 422 and "cannot decode audio" in detail
        assert " at 0x" not in detail and "/tmp" not in detail and "asr-audio-" not in detail, detail
    bad_form = client.post(
        "/v1/transcribe",
        content=b"--x\r\nnot a part",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert bad_form.status_code == 400 and " at 0x" not in bad_form.text
    assert client.get("/healthz").json()["model"] == "checkpoint (eager torch)"


def test_serves_an_exported_model(tmp_path, model, wav_bytes):
    pytest.importorskip("onnxruntime")
    from asr.export import export_model

    ckpt = save_model(model, tmp_path / "m.pt")
    export_dir = export_model(ckpt, tmp_path / "onnx").parent
    exported = asr.load_model(export_dir)
    with pytest.raises(TypeError, match="model_path"):
        create_app(exported)  # an onnxruntime session cannot be pickled to a worker
    with TestClient(create_app(exported, model_path=export_dir), base_url=LOCAL) as c:
        r = c.post("/v1/transcribe", content=wav_bytes, headers=WAV)
        assert r.status_code == 200 and r.json()["text"] == asr.transcribe(model, wav_bytes).text
        assert "OnnxModel" in c.get("/healthz").json()["model"]


def test_cli_warns_when_listening_beyond_loopback_without_a_key(tmp_path, model, monkeypatch, caplog):
    """`asr serve --host 0.0.0.0` without a key warns (uvicorn.run is replaced: nothing listens)."""
    import uvicorn

    from asr.cli import main

    ckpt = save_model(model, tmp_path / "m.pt")
    ran: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: ran.append({"app": app, **kw}))
    monkeypatch.delenv("ASR_API_KEY", raising=False)

    def warnings() -> str:
        text = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
        caplog.clear()
        return text

    assert main(["serve", "--model", str(ckpt), "--host", "0.0.0.0", "--greedy"]) == 0
    assert "without an API key" in warnings()
    assert ran[-1]["host"] == "0.0.0.0" and "limit_concurrency" not in ran[-1]
    monkeypatch.setenv("ASR_API_KEY", "k")
    assert main(["serve", "--model", str(ckpt), "--host", "0.0.0.0", "--greedy"]) == 0
    assert "without an API key" not in warnings()
    assert ran[-1]["app"].state.service.config.api_key == "k"
    assert main(["serve", "--model", str(ckpt), "--greedy"]) == 0  # 127.0.0.1: no warning
    assert warnings() == ""


def test_serve_options_are_the_fields_of_serve_config(tmp_path, model, monkeypatch, capsys):
    """Each ServeConfig field is an `asr serve` option of its name; the old spellings still work, and
    --set serve.FIELD=VALUE sets any field."""
    import dataclasses

    import uvicorn

    from asr.cli import build_parser, main
    from asr.cli.serve import serve_config

    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    shown = capsys.readouterr().out.split()
    for field in dataclasses.fields(ServeConfig):
        assert "--" + field.name.replace("_", "-") in shown, field.name

    def config(*flags: str) -> ServeConfig:
        return serve_config(build_parser().parse_args(["serve", *flags]))

    assert config() == ServeConfig()
    assert config("--max-upload-mb", "3", "--request-timeout-s", "9", "--threads", "2") == ServeConfig(
        max_upload_mb=3.0, request_timeout_s=9.0, threads=2
    )
    old = config("--timeout", "9", "--upload-timeout", "7", "--header-timeout", "3", "--allowed-host", "a")
    assert (old.request_timeout_s, old.upload_timeout_s, old.header_timeout_s) == (9.0, 7.0, 3.0)
    assert config("--allowed-hosts", "a", "--allowed-hosts", "b").allowed_hosts == ("a", "b")
    assert old.allowed_hosts == ("a",)
    assert config("--set", "serve.keep_alive_s=2", "--set", "serve.allowed_hosts=a,b") == ServeConfig(
        keep_alive_s=2.0, allowed_hosts=("a", "b")
    )
    ckpt = save_model(model, tmp_path / "m.pt")
    ran: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: ran.append({"app": app, **kw}))
    assert main(["serve", "--model", str(ckpt), "--port", "8123", "--set", "serve.max_queue=3"]) == 0
    assert ran[-1]["port"] == 8123 and ran[-1]["app"].state.service.config.max_queue == 3
    assert main(["serve", "--model", str(ckpt), "--set", "serve.no_such=1"]) == 2
    assert main(["serve", "--model", str(ckpt), "--set", "train.lr=1"]) == 2
