"""Fault and abuse suite against a real `asr serve` process on 127.0.0.1 (uvicorn, worker processes).

Admission before the body is read, slow senders, a 6-hour Opus file and hours of FLAC silence refused
quickly with bounded memory, and a storm of 50 concurrent bad uploads mixed with good ones. Memory is the
resident size of the whole server process tree (server, fork server, workers), sampled every 20 ms; a
guard kills the tree if it grows past GUARD_MB, so a regression fails the test instead of the machine.
Figures are printed (pytest -s, or the captured output of a failure)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import random
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from memory_helpers import MemoryWatch
from serve_helpers import Server, httpx  # skips this module without httpx or uvicorn
from tiny_model import tiny_checkpoint

from asr import load_model

GROWTH_BOUND_MB = 400.0
GUARD_MB = 1500.0  # MemoryWatch's default guard
MAX_UPLOAD_MB = 16
UPLOAD_TIMEOUT_S = 3.0
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


# --- the server ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    # A peaky model: non-empty transcripts to compare.
    return tiny_checkpoint(tmp_path_factory.mktemp("abuse") / "tiny.pt")


@pytest.fixture
def server(tiny_model, tmp_path):
    srv = Server(
        tiny_model, tmp_path / "server.log", "--workers", "1", "--max-queue", "4", "--request-timeout-s", "30",
        "--upload-timeout-s", str(UPLOAD_TIMEOUT_S), "--max-upload-mb", str(MAX_UPLOAD_MB),
    )  # fmt: skip
    yield srv
    srv.stop()


# --- raw HTTP, for what httpx will not do (stall, lie, stop half-way) ----------------------------------


async def raw_request(
    port: int,
    headers: dict[str, str],
    chunks: list[bytes] = (),  # type: ignore[assignment]
    *,
    delay_s: float = 0.0,
    stall: bool = False,
    timeout: float = 30.0,
) -> tuple[int | str, float]:
    """Send a POST to /v1/transcribe piece by piece; (status or 'closed'/'reset'/'timeout', seconds)."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = "POST /v1/transcribe HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"

    async def send() -> None:
        with contextlib.suppress(ConnectionError):
            writer.write(head.encode())
            await writer.drain()
            for chunk in chunks:
                writer.write(chunk)
                await writer.drain()
                if delay_s:
                    await asyncio.sleep(delay_s)
            if stall:
                await asyncio.sleep(3600)

    sender = asyncio.create_task(send())
    try:
        line = await asyncio.wait_for(reader.readline(), timeout)
        outcome: int | str = int(line.split()[1]) if line.startswith(b"HTTP/1.1 ") else "closed"
    except TimeoutError:
        outcome = "timeout"
    except ConnectionError:
        outcome = "reset"
    finally:
        sender.cancel()
        with contextlib.suppress(BaseException):
            await sender
        writer.close()
        with contextlib.suppress(BaseException):
            await writer.wait_closed()
    return outcome, time.monotonic() - started


# --- admission and slow senders ------------------------------------------------------------------------


def test_full_server_refuses_with_503_before_reading_the_body(tiny_model, tmp_path):
    srv = Server(
        tiny_model, tmp_path / "s.log", "--workers", "1", "--max-queue", "0", "--upload-timeout-s", "30"
    )
    try:

        async def scenario() -> tuple:
            # One slow upload holds the only slot...
            holder = asyncio.create_task(
                raw_request(
                    srv.port,
                    {"content-type": "audio/wav", "content-length": "100000"},
                    [b"x" * 100],
                    stall=True,
                    timeout=60,
                )  # fmt: skip
            )
            deadline = time.monotonic() + 20
            while (await asyncio.to_thread(srv.health))["queue"]["admitted"] < 1:
                assert time.monotonic() < deadline, "the holding upload was never admitted"
                await asyncio.sleep(0.05)
            # ...so a second one is refused at once, though it has sent no byte of its 15 MB body.
            second = await raw_request(
                srv.port, {"content-type": "audio/wav", "content-length": str(15 << 20)}, timeout=10
            )
            holder.cancel()
            return second

        status, seconds = asyncio.run(scenario())
        assert status == 503 and seconds < 5, (status, seconds)
    finally:
        srv.stop()


def test_slow_sender_times_out_and_frees_its_slot(server):
    async def scenario() -> tuple:
        stalled = raw_request(
            server.port, {"content-type": "audio/wav", "content-length": "50000"}, [b"RIFF"], stall=True
        )
        trickle = raw_request(
            server.port, {"content-type": "audio/wav", "content-length": "50000"},
            [b"x" * 10] * 5000, delay_s=0.05,
        )  # fmt: skip
        return await asyncio.gather(stalled, trickle)

    (s1, t1), (s2, t2) = asyncio.run(scenario())
    assert (s1, s2) == (408, 408) and t1 < UPLOAD_TIMEOUT_S + 5 and t2 < UPLOAD_TIMEOUT_S + 5, (
        s1,
        t1,
        s2,
        t2,
    )
    deadline = time.monotonic() + 10
    while server.health()["queue"]["admitted"]:
        assert time.monotonic() < deadline, "slots were not freed"
        time.sleep(0.05)


# --- huge audio in small files ---------------------------------------------------------------------------


def six_hour_opus(folder: Path) -> Path:
    ten = folder / "ten-minutes.opus"
    six = folder / "six-hours.opus"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "anoisesrc=d=600:c=pink:r=16000:a=0.02",
         "-ac", "1", "-c:a", "libopus", "-b:a", "6k", str(ten)],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(  # 36 copies of the stream, remuxed: 6 hours in ~12 MB without encoding them
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-stream_loop", "35", "-i", str(ten), "-c", "copy", str(six)],
        check=True, capture_output=True,
    )  # fmt: skip
    return six


def silent_flac(path: Path, hours: float, rate: int = 16000) -> Path:
    with sf.SoundFile(str(path), "w", rate, 1, format="FLAC", subtype="PCM_16") as f:
        minute = np.zeros(rate * 60, np.int16)
        for _ in range(int(hours * 60)):
            f.write(minute)
    return path


@pytest.fixture(scope="module")
def huge_files(tmp_path_factory) -> dict[str, Path]:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is needed for the abuse suite (make install brings it)")
    folder = tmp_path_factory.mktemp("huge")
    return {"opus-6h": six_hour_opus(folder), "flac-3h-silence": silent_flac(folder / "silence.flac", 3)}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["opus-6h", "flac-3h-silence"])
def test_hours_of_audio_in_a_small_file_are_refused_fast_with_bounded_memory(server, huge_files, kind):
    path = huge_files[kind]
    info = sf.info(str(path))
    assert info.duration > 3 * 3600 - 1 and path.stat().st_size < MAX_UPLOAD_MB << 20
    with MemoryWatch(server.proc.pid) as watch:
        started = time.monotonic()
        try:
            r = httpx.post(
                server.url + "/v1/transcribe", files={"file": (path.name, path.read_bytes())}, timeout=15
            )
            status: int | str = r.status_code
        except httpx.TimeoutException:
            status = "timeout"
        seconds = time.monotonic() - started
    print(
        f"\n{kind} ({path.stat().st_size / 1e6:.1f} MB, {info.duration / 3600:.1f} h): {status} in {seconds:.2f} s; "
        f"server tree PSS {watch.start_mb:.0f} -> peak {watch.peak_mb:.0f} MB (+{watch.growth_mb:.0f} MB)"
    )
    assert not watch.killed, f"server grew past +{GUARD_MB:.0f} MB and was killed"
    assert status == 413 and "at most 600 s" in r.json()["detail"], status
    assert seconds < 15 and watch.growth_mb < GROWTH_BOUND_MB
    assert server.health()["queue"]["admitted"] == 0


# --- the storm -------------------------------------------------------------------------------------------


def _wav(audio: np.ndarray) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, audio, 16000, format="WAV", subtype="FLOAT")
    return buf.getvalue()


@pytest.mark.slow
def test_50_concurrent_bad_uploads_mixed_with_good_ones(server, huge_files, speech_corpus, tiny_model):
    from asr.transcription import transcribe

    model = load_model(tiny_model)
    good = [(speech_corpus / "wav" / f"{i}.wav").read_bytes() for i in range(10)]
    expected = [transcribe(model, g, vad="energy").text for g in good]
    assert all(expected)
    rng = random.Random(0)
    opus = huge_files["opus-6h"].read_bytes()
    loud = _wav(np.full(16000, 3e30, np.float32))
    port = server.port
    big = str((MAX_UPLOAD_MB + 4) << 20)

    def bad(i: int):  # 50 bad requests of 9 kinds
        kind = ["declared-oversize", "chunked-oversize", "stalled", "trickle", "corrupt", "opus-6h",
                "huge-samples", "text/plain", "truncated-wav"][i % 9]  # fmt: skip
        audio = {"content-type": "audio/wav"}
        if kind == "declared-oversize":
            return kind, raw_request(port, {**audio, "content-length": big}, [b"\0" * 65536] * 4)
        if kind == "chunked-oversize":
            piece = b"10000\r\n" + b"\0" * 65536 + b"\r\n"
            return kind, raw_request(port, {**audio, "transfer-encoding": "chunked"}, [piece] * 400)
        if kind == "stalled":
            return kind, raw_request(port, {**audio, "content-length": "40000"}, [good[0][:1000]], stall=True)
        if kind == "trickle":
            return kind, raw_request(
                port, {**audio, "content-length": "40000"}, [b"RIFF"] * 2000, delay_s=0.01
            )
        if kind == "corrupt":
            body = bytes(rng.getrandbits(8) for _ in range(20000))
            return kind, raw_request(port, {**audio, "content-length": str(len(body))}, [body])
        if kind == "opus-6h":
            return kind, raw_request(
                port, {"content-type": "audio/ogg", "content-length": str(len(opus))}, [opus]
            )
        if kind == "huge-samples":
            return kind, raw_request(port, {**audio, "content-length": str(len(loud))}, [loud])
        if kind == "text/plain":
            return kind, raw_request(
                port, {"content-type": "text/plain", "content-length": str(len(good[0]))}, [good[0]]
            )
        body = good[1][: len(good[1]) // 3]  # a WAV cut short: decodes what is there (200) or not (422)
        return kind, raw_request(port, {**audio, "content-length": str(len(body))}, [body])  # fmt: skip

    async def good_request(client, i: int) -> tuple[int, str, int]:
        retries = 0
        deadline = time.monotonic() + 180
        while True:
            try:
                r = await client.post(
                    server.url + "/v1/transcribe", files={"file": ("g.wav", good[i % 10], "audio/wav")}
                )
                if r.status_code != 503 or time.monotonic() > deadline:
                    return r.status_code, r.json().get("text", r.text), retries
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            retries += 1
            await asyncio.sleep(0.2 + 0.3 * rng.random())

    async def bad_request(i: int) -> tuple[str, int | str, int]:
        """A bad upload, sent again while it gets 503 (as a client honouring Retry-After would), so that
        every kind reaches the part of the server it attacks."""
        deadline = time.monotonic() + 120
        refused = 0
        while True:
            kind, attempt = bad(i)
            status, _ = await attempt
            if status != 503 or time.monotonic() > deadline:
                return kind, status, refused
            refused += 1
            await asyncio.sleep(0.2 + 0.3 * rng.random())

    async def storm():
        async with httpx.AsyncClient(timeout=120) as client:
            tasks = [asyncio.create_task(bad_request(i)) for i in range(50)]
            goods = [asyncio.create_task(good_request(client, i)) for i in range(20)]
            return await asyncio.gather(*tasks), await asyncio.gather(*goods)

    with MemoryWatch(server.proc.pid) as watch:
        started = time.monotonic()
        bad_results, good_results = asyncio.run(storm())
        wall = time.monotonic() - started
    outcomes: dict[str, dict] = {}
    for kind, status, _ in bad_results:
        outcomes.setdefault(kind, {}).setdefault(status, 0)
        outcomes[kind][status] += 1
    health = server.health() if server.proc.poll() is None else {}
    print(
        f"\nstorm: 50 bad uploads (9 kinds) + 20 good, {wall:.1f} s; bad outcomes {outcomes} after "
        f"{sum(r for *_, r in bad_results)} 503-retries; good: "
        f"{sum(s == 200 for s, _, _ in good_results)}/20 answered 200 after {sum(r for *_, r in good_results)} "
        f"503-retries; server tree PSS {watch.start_mb:.0f} -> peak {watch.peak_mb:.0f} MB "
        f"(+{watch.growth_mb:.0f} MB); health {health.get('queue')} workers {health.get('workers')}"
    )
    assert not watch.killed and server.proc.poll() is None, "the server died or grew past the guard"
    for i, (status, text, _) in enumerate(good_results):
        assert status == 200 and text == expected[i % 10], (i, status, text)
    allowed = {
        "declared-oversize": {413, "closed", "reset"}, "chunked-oversize": {413, "closed", "reset"},
        "stalled": {408}, "trickle": {408}, "corrupt": {422}, "opus-6h": {413}, "huge-samples": {422},
        "text/plain": {415}, "truncated-wav": {200, 422},
    }  # fmt: skip
    for kind, counts in outcomes.items():
        assert set(counts) <= allowed[kind], (kind, counts)
    assert watch.growth_mb < GROWTH_BOUND_MB
    assert health["queue"]["admitted"] == 0 and health["status"] == "ok"
    assert (
        httpx.post(server.url + "/v1/transcribe", files={"file": ("g.wav", good[0])}).json()["text"]
        == expected[0]
    )
