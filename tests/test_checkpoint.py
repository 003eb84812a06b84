import subprocess
import sys

import pytest
import torch

from asr import load_model
from asr.checkpoint import CheckpointError, checkpoint_payload, save_checkpoint
from asr.features import FeatureConfig
from asr.model import ModelConfig
from asr.recognizer import SpeechRecognizer
from asr.text import Vocabulary


def small_recognizer() -> SpeechRecognizer:
    torch.manual_seed(0)
    return SpeechRecognizer(
        FeatureConfig(), ModelConfig(hidden_size=16, num_layers=2), Vocabulary.english_characters()
    )


def test_save_load_gives_identical_log_probs(tmp_path):
    rec = small_recognizer().eval()
    rec.acoustic.set_feature_stats(torch.randn(80), torch.rand(80) + 0.5)
    path = tmp_path / "model.pt"
    save_checkpoint(checkpoint_payload(rec, {"epoch": 3}), path)
    loaded = load_model(path)
    waves, lengths = torch.randn(2, 16000), torch.tensor([16000, 9000])
    with torch.no_grad():
        a, la = rec(waves, lengths)
        b, lb = loaded(waves, lengths)
    assert torch.equal(a, b) and torch.equal(la, lb)
    assert loaded.vocab == rec.vocab and loaded.feature_config == rec.feature_config
    # a checkpoint describes itself: plain weights_only load works
    payload = torch.load(path, weights_only=True)
    assert set(payload) >= {"format_version", "features", "model", "vocab", "state_dict", "train"}
    assert not list(tmp_path.glob("*.tmp"))


def test_clear_errors_for_bad_files(tmp_path):
    with pytest.raises(CheckpointError, match="no such model file"):
        load_model(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt"):
        load_model(junk)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not an asr checkpoint"):
        load_model(foreign)
    future = tmp_path / "future.pt"
    payload = checkpoint_payload(small_recognizer())
    payload["format_version"] = 99
    torch.save(payload, future)
    with pytest.raises(CheckpointError, match="format_version 99"):
        load_model(future)


def test_killed_writer_never_leaves_a_torn_checkpoint(tmp_path):
    """A writer killed mid-save leaves the previous checkpoint intact and readable."""
    path = tmp_path / "last.pt"
    save_checkpoint(checkpoint_payload(small_recognizer(), {"epoch": 1}), path)
    script = f"""
import os, signal, torch
from asr.checkpoint import save_checkpoint
real_save = torch.save
def dying_save(obj, f):
    f.write(b"partial bytes")
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)
torch.save = dying_save
save_checkpoint({{"big": torch.zeros(1000)}}, {str(path)!r})
"""
    proc = subprocess.run([sys.executable, "-c", script])
    assert proc.returncode == -9
    assert load_model(path).metadata["epoch"] == 1
