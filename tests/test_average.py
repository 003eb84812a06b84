"""`asr average` / `asr.checkpoint.average_checkpoints`: the weighted mean of one model's checkpoints."""

from __future__ import annotations

import pytest
import torch
from tiny_model import save_model, tiny_recognizer

from asr import cli, load_model
from asr.checkpoint import average_checkpoints, load_checkpoint, slim_checkpoint
from asr.errors import CheckpointError
from asr.features import FeatureConfig
from asr.model import ModelConfig
from asr.recognizer import SpeechRecognizer
from asr.text import Vocabulary


@pytest.fixture
def two(tmp_path):
    return save_model(tiny_recognizer(seed=1), tmp_path / "a.pt"), save_model(
        tiny_recognizer(seed=2), tmp_path / "b.pt"
    )


def test_interpolation_is_the_weighted_mean_in_the_first_models_dtypes(two, tmp_path, capsys):
    a, b = two
    half_b = slim_checkpoint(b, tmp_path / "b16.pt", half=True)  # as a shipped model is stored
    out = tmp_path / "mix.pt"
    assert cli.main(["average", str(a), str(half_b), "--weights", "3", "1", "-o", str(out)]) == 0
    assert f"wrote {out}: 0.75 x {a} + 0.25 x {half_b}" in capsys.readouterr().out
    sa, sb, mix = (load_checkpoint(p)["state_dict"] for p in (a, half_b, out))
    assert any(v.dtype == torch.float16 for v in sb.values())
    for key, value in mix.items():
        assert value.dtype == sa[key].dtype
        torch.testing.assert_close(value, (0.75 * sa[key].double() + 0.25 * sb[key].double()).to(value.dtype))
    assert not torch.equal(mix[key], sa[key])
    assert "optimizer" not in load_checkpoint(out)
    load_model(out)  # a model like any other


def test_equal_weights_by_default(two):
    a, b = two
    sa, sb = (load_checkpoint(p)["state_dict"] for p in two)
    for key, value in average_checkpoints([a, b])["state_dict"].items():
        torch.testing.assert_close(value, (sa[key] + sb[key]) / 2)


def test_refuses_other_models_bad_weights_and_overwriting_an_input(two, tmp_path, capsys):
    a, b = two
    wide = SpeechRecognizer(
        FeatureConfig(), ModelConfig(hidden_size=40, num_layers=1), Vocabulary.english_characters()
    )
    other = save_model(wide, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match=r"\[model\] hidden_size(, num_layers)? differ from"):
        average_checkpoints([a, other])
    out = str(tmp_path / "x.pt")
    for argv, message in (
        ([str(a), str(b), "--weights", "1", "-o", out], "one weight >= 0 per checkpoint"),
        ([str(a), str(b), "--weights", "1", "-1", "-o", out], "one weight >= 0 per checkpoint"),
        ([str(a), "-o", out], "two or more models"),
        ([str(a), str(b), "-o", str(a)], "is one of the models"),
    ):
        assert cli.main(["average", *argv]) == 2
        assert message in capsys.readouterr().err
    assert cli.main(["average", str(a), str(other), "-o", out]) == 2  # CheckpointError: one line, status 2
    assert "differ from" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()
