"""`asr serve` against idle and slow connections, DNS rebinding, an odd sample rate and multipart limits.

The live tests run a real `asr serve` (uvicorn, worker processes) on 127.0.0.1; the Host and form checks
run the app in process (no workers are started: the requests are refused before any transcription).
"""

from __future__ import annotations

import io
import socket
import time

import numpy as np
import pytest
import soundfile as sf
from memory_helpers import MemoryWatch
from serve_helpers import Server, httpx  # skips this module without httpx or uvicorn
from tiny_model import tiny_checkpoint, tiny_recognizer

from asr.serve import ServeConfig, create_app

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

HEADER_TIMEOUT_S = 2.0
MAX_CONNECTIONS = 60


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("hostile") / "tiny.pt")


@pytest.fixture(scope="module")
def server(tiny_model, tmp_path_factory):
    srv = Server(
        tiny_model, tmp_path_factory.mktemp("log") / "server.log", "--workers", "1", "--max-queue", "4",
        "--header-timeout-s", str(HEADER_TIMEOUT_S), "--max-connections", str(MAX_CONNECTIONS),
    )  # fmt: skip
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def good_wav(speech_corpus) -> bytes:
    return (speech_corpus / "wav" / "3.wav").read_bytes()


def closed_by_server(sock: socket.socket, wait_s: float) -> bool:
    sock.settimeout(wait_s)
    try:
        while sock.recv(4096):
            pass  # a 408 for a partial head, then the close
        return True
    except TimeoutError:
        return False
    except ConnectionError:
        return True


@pytest.mark.slow
def test_idle_and_slow_connections_do_not_lock_anyone_out(server, good_wav):
    expected = httpx.post(server.url + "/v1/transcribe", files={"file": ("g.wav", good_wav)}, timeout=60)
    assert expected.status_code == 200
    # 150 sockets that never send a byte, more than --max-connections: the server must close idle ones
    # to make room for the requests below
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(150)]
    time.sleep(0.3)
    try:
        health = httpx.get(server.url + "/healthz", timeout=10)
        assert health.status_code == 200, health.text
        r = httpx.post(server.url + "/v1/transcribe", files={"file": ("g.wav", good_wav)}, timeout=60)
        assert r.status_code == 200 and r.json()["text"] == expected.json()["text"]
        # a slow sender: half a request head, then one byte every 0.4 s
        slow = socket.create_connection(("127.0.0.1", server.port))
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        answer = b""
        slow.settimeout(0.4)
        while time.monotonic() - started < HEADER_TIMEOUT_S + 5:
            try:
                slow.sendall(b"X")
                answer += slow.recv(4096)
                if answer:
                    break
            except TimeoutError:
                continue
            except ConnectionError:
                break
        seconds = time.monotonic() - started
        slow.close()
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert seconds < HEADER_TIMEOUT_S + 2, seconds
        # every idle socket is closed by the server: evicted, or at the head deadline
        closed = sum(closed_by_server(s, HEADER_TIMEOUT_S + 2) for s in idle)
        assert closed == len(idle), f"{len(idle) - closed} idle connections were left open"
        print(f"\n150 idle sockets: /healthz {health.status_code}, upload {r.status_code}; slow head 408 "
              f"after {seconds:.1f} s; all idle sockets closed by the server")  # fmt: skip
    finally:
        for s in idle:
            s.close()
    # an idle keep-alive connection is closed after its keep-alive time (5 s)
    keep = socket.create_connection(("127.0.0.1", server.port))
    keep.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
    keep.settimeout(5)
    assert keep.recv(4096).startswith(b"HTTP/1.1 200")
    assert closed_by_server(keep, 8)
    keep.close()


@pytest.mark.slow
def test_an_odd_sample_rate_costs_the_server_memory_proportional_to_the_audio(server):
    t = np.arange(16000) / 16001
    buf = io.BytesIO()
    sf.write(
        buf, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16001, format="WAV", subtype="PCM_16"
    )
    with MemoryWatch(server.proc.pid) as watch:
        r = httpx.post(server.url + "/v1/transcribe", files={"file": ("odd.wav", buf.getvalue())}, timeout=60)
    print(f"\n16001 Hz upload: {r.status_code}; server tree PSS +{watch.growth_mb:.0f} MB")
    assert not watch.killed and r.status_code == 200, r.text
    assert r.json()["duration_s"] == pytest.approx(1.0, abs=0.01)
    assert watch.growth_mb < 150  # a worker reached 3.8 GB before (torchaudio's kernel)


# --- in process: the Host check and the form parser's limits ---------------------------------------------


@pytest.fixture(scope="module")
def model():
    return tiny_recognizer()


def get(app, base_url: str, **headers: str) -> int:
    return TestClient(app, base_url=base_url).get("/healthz", headers=headers).status_code


def test_dns_rebinding_hosts_are_refused_without_a_key(model, good_wav):
    app = create_app(model, ServeConfig(vad="energy"))
    evil = TestClient(app, base_url="http://evil.example:8000")
    r = evil.post("/v1/transcribe", content=good_wav,
                  headers={"content-type": "audio/wav", "origin": "http://evil.example:8000"})  # fmt: skip
    assert r.status_code == 421 and "--allowed-host" in r.json()["detail"]
    assert app.state.service.admitted == 0 and app.state.service.served == 0
    assert get(app, "http://evil.example:8000") == 421
    assert get(app, "http://127.0.0.1.nip.io:8000") == 421
    for ok in ("http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000", "http://LOCALHOST."):
        assert get(app, ok) == 200, ok
    named = create_app(model, ServeConfig(vad="energy", allowed_hosts=("asr.lan",)))
    assert get(named, "http://asr.lan:8000") == 200 and get(named, "http://evil.example") == 421
    wildcard = create_app(model, ServeConfig(vad="energy", host="0.0.0.0"))
    assert get(wildcard, "http://192.168.1.7:8000") == 200 and get(wildcard, "http://evil.example") == 421
    keyed = create_app(model, ServeConfig(vad="energy", api_key="k"))  # the key is the defence
    assert get(keyed, "http://evil.example", authorization="Bearer k") == 200


def test_the_form_parsers_limits_are_named_not_called_malformed(model, good_wav):
    client = TestClient(create_app(model, ServeConfig(vad="energy")), base_url="http://127.0.0.1")
    two = client.post("/v1/transcribe", files=[("file", ("a.wav", good_wav)), ("file", ("b.wav", good_wav))])
    assert two.status_code == 400 and "too many parts" in two.json()["detail"], two.text
    big = client.post("/v1/transcribe", data={"note": "x" * 200_000}, files={"file": ("a.wav", good_wav)})
    assert big.status_code == 413 and "too large" in big.json()["detail"], big.text
    for r in (two, big):
        assert "malformed" not in r.json()["detail"]
    assert client.app.state.service.admitted == 0
