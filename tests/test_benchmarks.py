"""The benchmark scripts run end to end and print their figures (no timing is asserted)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_train_throughput_prints_both_methods_and_the_ratio():
    cmd = [sys.executable, str(ROOT / "benchmarks/train_throughput.py"), "--audio-seconds", "40"]
    cmd += ["--hidden-size", "16", "--num-layers", "1", "--rounds", "1", "--round-seconds", "0.5"]
    cmd += ["--threads", "1", "--plain-precision", "same"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True).stdout
    assert "(a) pipeline" in out and "(b) plain" in out and "ratio (a) / (b):" in out


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
