"""The benchmark scripts run end to end and their figures are consistent (no speed is asserted)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_train_throughput_measures_both_methods_on_the_same_audio():
    """4 generated utterances (43 s): (a) duration buckets of one utterance each, so no padding; (b) all
    four in one padded batch of up to 32. The figures must say exactly that, and the ratio be theirs."""
    cmd = [sys.executable, str(ROOT / "benchmarks/train_throughput.py"), "--audio-seconds", "40"]
    cmd += ["--hidden-size", "16", "--num-layers", "1", "--rounds", "1", "--round-seconds", "0.5"]
    cmd += ["--threads", "1", "--plain-precision", "same"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True).stdout
    total = float(re.search(r"^(\d+) utterances, (\d+) s of audio", out, re.M).group(2))
    rows = {
        m["name"]: {k: float(m[k]) for k in ("steps", "speed", "padding", "per_step")}
        for m in re.finditer(
            r"^\((?P<name>[ab])\) \w+ +(?P<steps>\d+) +(?P<speed>[\d.]+) +(?P<padding>[\d.]+)% +(?P<per_step>[\d.]+)$",
            out,
            re.M,
        )
    }
    assert set(rows) == {"a", "b"}, out
    a, b = rows["a"], rows["b"]
    assert a["steps"] >= 1 and b["steps"] >= 1 and a["speed"] > 0 and b["speed"] > 0
    assert a["padding"] == 0.0 < b["padding"] < 100
    assert b["per_step"] == pytest.approx(total, abs=0.5)  # every utterance in each of (b)'s batches
    assert a["per_step"] < b["per_step"]
    ratio = float(re.search(r"^ratio \(a\) / \(b\): ([\d.]+)x", out, re.M).group(1))
    assert ratio == pytest.approx(a["speed"] / b["speed"], abs=0.01)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None, reason="espeak-ng, sox")
def test_accuracy_scores_clean_and_degraded_sets(tmp_path):
    cmd = [sys.executable, str(ROOT / "benchmarks/accuracy.py"), "--limit", "4", "--out", str(tmp_path)]
    cmd += ["--data", str(tmp_path / "data")]
    cmd += ["--sets", "test,noise10,tel8k,mp3_32k", "--threads", "1"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=True).stdout
    rows = json.loads((tmp_path / "accuracy.json").read_text())["rows"]
    assert [r["set"] for r in rows] == ["test", "test/accent", "test/variant", "noise10", "tel8k", "mp3_32k"]
    for row in rows:
        assert 0 <= row["greedy WER"] <= 200 and 0 <= row["beam+LM WER"] <= 200
    assert rows[0]["utterances"] == 4 == rows[1]["utterances"] + rows[2]["utterances"]
    assert len(list((tmp_path / "degraded" / "mp3_32k").glob("*.mp3"))) == 4
    assert "| test |" in out
