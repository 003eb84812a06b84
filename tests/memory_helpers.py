"""Memory of a process tree, measured as the sum of each process's PSS, and a watch that samples it.

Workers are forked from a fork server that holds torch: summing their RSS would count every shared page
once per process, so a new worker would look like hundreds of MB it does not use. PSS (proportional set
size) splits each shared page between the processes sharing it, so the sum is the tree's real footprint.
The watch kills the tree past a guard, so that a regression fails its test instead of the machine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

__all__ = ["MemoryWatch", "anon_rss_mb", "child_growth_mb", "tree_pids", "tree_pss_mb"]


def tree_pids(pid: int) -> list[int]:
    """`pid` and all its descendants (from /proc)."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
    return pids


def tree_pss_mb(pid: int) -> float:
    """The sum of the PSS of `pid` and its descendants, in MB (VmRSS where smaps_rollup is missing)."""
    total = 0
    for p in tree_pids(pid):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, PermissionError):
            rollup = Path(f"/proc/{p}/smaps_rollup")
            source, key = (rollup, "Pss:") if rollup.exists() else (Path(f"/proc/{p}/status"), "VmRSS:")
            for line in source.read_text().splitlines():
                if line.startswith(key):
                    total += int(line.split()[1])
                    break
    return total / 1024


def anon_rss_mb(pid: int) -> float:
    """The private anonymous memory of one process (RssAnon), in MB: what its allocations cost. Unlike
    PSS it does not move when other processes on the machine map or unmap the same libraries."""
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return 0.0


class MemoryWatch:
    """Samples `measure(pid)` (default: the tree's PSS) every 20 ms in a thread; kills the tree past
    `guard_mb` over the starting figure."""

    def __init__(
        self, pid: int, guard_mb: float = 1500.0, measure: Callable[[int], float] = tree_pss_mb
    ) -> None:
        self.pid, self.guard_mb, self.measure = pid, guard_mb, measure
        self.start_mb = measure(pid)
        self.peak_mb = self.start_mb
        self.killed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pss = self.measure(self.pid)
            self.peak_mb = max(self.peak_mb, pss)
            if pss - self.start_mb > self.guard_mb and not self.killed:
                self.killed = True
                for p in tree_pids(self.pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(p, signal.SIGKILL)
            self._stop.wait(0.02)

    @property
    def growth_mb(self) -> float:
        return self.peak_mb - self.start_mb

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def child_growth_mb(
    setup: str, work: str, guard_mb: float = 1500.0, timeout: float = 120.0
) -> tuple[float, str]:
    """(peak growth of its private memory in MB, stdout) of a Python child while it runs `work`, from
    the moment `setup` (imports, reading inputs) is done; killed past `guard_mb` (then the growth is
    reported as at least the guard). Raises if the child fails otherwise."""
    code = f"{setup}\nimport sys\nprint('ready', flush=True)\nsys.stdin.readline()\n{work}\n"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdin is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        raise RuntimeError(f"the child failed during setup: {line}{proc.communicate()[1][-2000:]}")
    with MemoryWatch(proc.pid, guard_mb, anon_rss_mb) as watch:
        proc.stdin.write("\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=timeout)
    if watch.killed:
        return max(watch.growth_mb, guard_mb), out
    if proc.returncode != 0:
        raise RuntimeError(f"the child failed: {err[-2000:]}")
    return watch.growth_mb, out
