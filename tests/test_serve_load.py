"""Bounded load test of a real `asr serve` process on 127.0.0.1: 200 requests, 8 at a time.

Reports latency percentiles; asserts no failed request and server memory growth under MEMORY_BOUND_MB
(measured after a warm-up, so allocator pools and lazy imports are not counted)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest
from serve_helpers import Server, httpx  # skips this module without httpx or uvicorn
from tiny_model import tiny_checkpoint

REQUESTS = 200
CONCURRENCY = 8
WARMUP = 16
MEMORY_BOUND_MB = 50.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("load")
    # Energy VAD (Server's default): the test measures the service (queue, I/O, memory), not silero-vad's
    # 0.2 s per request.
    srv = Server(tiny_checkpoint(tmp / "tiny.pt", peaky=False), tmp / "server.log")
    yield srv
    srv.stop()


async def _run(url: str, bodies: list[bytes], concurrency: int) -> tuple[list[float], list[int]]:
    latencies: list[float] = []
    statuses: list[int] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            started = time.perf_counter()
            r = await client.post(url + "/v1/transcribe", files={"file": ("a.wav", body, "audio/wav")})
            latencies.append(time.perf_counter() - started)
            statuses.append(r.status_code)

    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return latencies, statuses


def test_load_200_requests_8_concurrent(server, speech_corpus, capsys):
    proc, url = server.proc, server.url
    bodies = [(speech_corpus / "wav" / f"{i}.wav").read_bytes() for i in range(8)]
    asyncio.run(_run(url, [bodies[i % 8] for i in range(WARMUP)], CONCURRENCY))
    before = rss_mb(proc.pid)
    started = time.perf_counter()
    latencies, statuses = asyncio.run(_run(url, [bodies[i % 8] for i in range(REQUESTS)], CONCURRENCY))
    wall = time.perf_counter() - started
    after = rss_mb(proc.pid)
    p50, p90, p99 = np.percentile(latencies, [50, 90, 99])
    failed = sum(s != 200 for s in statuses)
    with capsys.disabled():
        print(
            f"\nload test: {REQUESTS} requests, {CONCURRENCY} concurrent, {wall:.1f} s ({REQUESTS / wall:.1f} req/s); "
            f"latency p50 {1000 * p50:.0f} ms, p90 {1000 * p90:.0f} ms, p99 {1000 * p99:.0f} ms, "
            f"max {1000 * max(latencies):.0f} ms; failed {failed}; server RSS {before:.0f} -> {after:.0f} MB "
            f"(bound +{MEMORY_BOUND_MB:.0f} MB)"
        )
    assert len(statuses) == REQUESTS and failed == 0, sorted(set(statuses))
    assert after - before < MEMORY_BOUND_MB
    health = httpx.get(url + "/healthz").json()
    assert health["queue"]["failed"] == 0 and health["queue"]["admitted"] == 0
