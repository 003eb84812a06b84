"""The synthetic recipe's stages chain end to end (tiny corpus, one short epoch)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def test_run_sh_end_to_end(tmp_path):
    data, exp = tmp_path / "data", tmp_path / "exp"
    config = tmp_path / "tiny.toml"
    config.write_text(
        "[corpus]\nnum_train = 40\nnum_dev = 6\nnum_test = 6\n"
        "[model]\nhidden_size = 32\nnum_layers = 1\n"
        f'[train]\ntrain_manifest = "{data}/train.jsonl"\ndev_manifest = "{data}/dev.jsonl"\n'
        f'out_dir = "{exp}"\nepochs = 1\nmax_duration = 60.0\nwarmup_steps = 2\n'
    )
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PYTHON": sys.executable, "ASR": str(bin_dir / "asr")}
    cmd = ["bash", str(ROOT / "recipes/synthetic/run.sh"), "--config", str(config)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "transcript:" in out.stdout and "WER" in out.stdout
    summary = json.loads((exp / "summary-test.json").read_text())
    assert summary["utterances"] == 6
    # a second run finds everything up to date and skips training
    again = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "up to date" in again.stdout
