"""recipes/synthetic/studies/interpolate.py: WiSE-FT weight interpolation between two checkpoints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from asr.checkpoint import CheckpointError, checkpoint_payload, load_checkpoint, save_checkpoint
from asr.features import FeatureConfig
from asr.model import ModelConfig
from asr.recognizer import SpeechRecognizer
from asr.text import Vocabulary

SCRIPT = Path(__file__).resolve().parents[1] / "recipes" / "synthetic" / "studies" / "interpolate.py"
sys.path.insert(0, str(SCRIPT.parent))

from interpolate import interpolate  # noqa: E402


def payload(seed: int, hidden: int = 16) -> dict:
    torch.manual_seed(seed)
    rec = SpeechRecognizer(
        FeatureConfig(), ModelConfig(hidden_size=hidden, num_layers=2), Vocabulary.english_characters()
    )
    return checkpoint_payload(rec, {"epoch": seed})


def test_endpoints_and_midpoint_are_exact():
    a, b = payload(0), payload(1)
    for alpha, expect in ((0.0, lambda k: a["state_dict"][k]), (1.0, lambda k: b["state_dict"][k])):
        out = interpolate(a, b, alpha)["state_dict"]
        for k in out:
            assert torch.equal(out[k], expect(k)), (alpha, k)
    mid = interpolate(a, b, 0.25)
    k = next(k for k, v in a["state_dict"].items() if v.is_floating_point() and v.numel() > 1)
    torch.testing.assert_close(mid["state_dict"][k], 0.75 * a["state_dict"][k] + 0.25 * b["state_dict"][k])
    assert mid["train"]["epoch"] == 0 and mid["train"]["interpolated"] == {"alpha": 0.25}


def test_refuses_different_models_and_bad_alpha():
    with pytest.raises(CheckpointError, match="model"):
        interpolate(payload(0), payload(1, hidden=8), 0.5)
    with pytest.raises(ValueError, match="alpha"):
        interpolate(payload(0), payload(1), 1.5)


def test_cli_writes_a_loadable_checkpoint(tmp_path):
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    save_checkpoint(payload(0), a)
    save_checkpoint(payload(1), b)
    out = tmp_path / "mid.pt"
    run = subprocess.run(
        [sys.executable, str(SCRIPT), str(a), str(b), "0.5", str(out)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert load_checkpoint(out)["train"]["interpolated"] == {"alpha": 0.5}
    small = tmp_path / "small.pt"
    save_checkpoint(payload(2, hidden=8), small)
    bad = subprocess.run(
        [sys.executable, str(SCRIPT), str(a), str(small), "0.5", str(tmp_path / "x.pt")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "not one model" in bad.stderr and not (tmp_path / "x.pt").exists()
