"""The synthetic recipe's stages chain end to end (tiny corpus, one short epoch)."""

import json
import subprocess

import pytest
from recipe_helpers import run_sh, run_sh_env, write_tiny_recipe_config

pytestmark = pytest.mark.slow


def test_run_sh_end_to_end(tmp_path):
    data, exp = tmp_path / "data", tmp_path / "exp"
    tables = "[corpus]\nnum_train = 40\nnum_dev = 6\nnum_test = 6\n"
    config = write_tiny_recipe_config(
        tmp_path / "tiny.toml", tables, data, exp, max_duration=60.0, warmup_steps=2
    )
    env = run_sh_env()
    cmd = run_sh("synthetic", config)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "transcript:" in out.stdout and "WER" in out.stdout
    summary = json.loads((exp / "summary-test.json").read_text())
    assert summary["utterances"] == 6
    # a second run finds everything up to date and skips training
    again = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "up to date" in again.stdout
