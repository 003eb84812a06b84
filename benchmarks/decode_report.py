"""Timing and reporting for benchmarks/decode.py: interleaved best-of-N passes, WER/CER, the targets."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from asr.metrics import error_stats
from benchmarks.decode_inputs import EmissionSet

# What justifies a search of our own: >= 5x the faster peer's frames/s at equal or lower WER, one thread.
TARGET_RATIO = 5.0
# With the defaults (confidences on) >= 3x the faster peer, and the confidences costing <= 1.5x the search
# without them: cheap enough to stay on by default.
TARGET_RATIO_DEFAULTS = 3.0
TARGET_CONFIDENCE_COST = 1.5


@dataclass
class Row:
    name: str
    seconds: float
    frames: int
    audio_seconds: float
    wer: float
    cer: float
    note: str = ""
    peer: bool = False
    ours: bool = False
    bare: bool = False  # ours without confidences

    @property
    def fps(self) -> float:
        return self.frames / self.seconds


# --clock: wall time, or this process's CPU time (every decoder here runs on one thread; on a shared
# machine CPU time does not count the time other jobs hold the core).
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def measure(
    runners: list[tuple[str, Callable[[], list[str]], dict]],
    data: EmissionSet,
    repeats: int,
    clock: Callable[[], float] = time.perf_counter,
) -> list[Row]:
    """Time every runner `repeats` times, interleaved; keep the fastest pass of each."""
    best: dict[str, float] = {}
    texts: dict[str, list[str]] = {}
    for _ in range(repeats):
        for name, run, _ in runners:
            t0 = clock()
            out = run()
            elapsed = clock() - t0
            best[name] = min(best.get(name, math.inf), elapsed)
            texts[name] = out
    rows = []
    for name, _, meta in runners:
        refs = meta.get("references", data.references)
        frames = meta.get("frames", data.frames)
        rows.append(
            Row(
                name,
                best[name],
                frames,
                frames * data.frame_shift_s,
                error_stats(refs, texts[name], "word").rate,
                error_stats(refs, texts[name], "char").rate,
                meta.get("note", ""),
                meta.get("peer", False),
                meta.get("ours", False),
                meta.get("bare", False),
            )
        )
    return rows


def report(data: EmissionSet, rows: list[Row], condition: str = "") -> dict:
    peers = [r for r in rows if r.peer]
    fastest = max(peers, key=lambda r: r.fps) if peers else None
    print(
        f"\n== {data.name} emissions{condition}: {data.description}; {data.frames} frames "
        f"= {data.frames * data.frame_shift_s:.0f} s of audio at {1000 * data.frame_shift_s:.0f} ms/frame"
    )
    print(f"{'decoder':<44} {'frames/s':>10} {'RTF':>9} {'WER %':>7} {'CER %':>7} {'vs faster peer':>15}")
    for r in rows:
        ratio = f"{r.fps / fastest.fps:.2f}x" if fastest else "-"
        print(
            f"{r.name:<44} {r.fps:>10,.0f} {r.seconds / r.audio_seconds:>9.5f} {100 * r.wer:>7.2f} "
            f"{100 * r.cer:>7.2f} {ratio:>15}{'  ' + r.note if r.note else ''}"
        )
    summary: dict = {
        "set": data.name + condition,
        "frames": data.frames,
        "rows": {r.name: vars(r) | {"fps": r.fps} for r in rows},
    }
    main = next((r for r in rows if r.ours), None)
    if fastest and main:
        ratio = main.fps / fastest.fps
        met = ratio >= TARGET_RATIO and main.wer <= fastest.wer
        print(
            f"=> ours is {ratio:.2f}x the faster peer ({fastest.name}) at WER {100 * main.wer:.2f}% vs "
            f"{100 * fastest.wer:.2f}%: target (>= {TARGET_RATIO:g}x at <= its WER) {'MET' if met else 'NOT met'}"
        )
        summary.update(ratio=ratio, target_met=met, faster_peer=fastest.name)
        bare = next((r for r in rows if r.bare), None)
        if bare:
            cost = main.seconds / bare.seconds
            met_defaults = ratio >= TARGET_RATIO_DEFAULTS and cost <= TARGET_CONFIDENCE_COST
            print(
                f"=> confidences cost {cost:.2f}x the search without them (ours without: "
                f"{bare.fps / fastest.fps:.2f}x the faster peer); the defaults' target (>= "
                f"{TARGET_RATIO_DEFAULTS:g}x the faster peer with confidences, <= {TARGET_CONFIDENCE_COST:g}x "
                f"their cost) {'MET' if met_defaults else 'NOT met'}"
            )
            summary.update(confidence_cost=cost, defaults_target_met=met_defaults)
    return summary
