"""`asr config get`: the one way recipes read a config (dataclass tables resolved, recipe tables raw)."""

import subprocess
import sys

import pytest

from asr.cli.config import config_values
from asr.config import ConfigError

CONFIG = """
[lm]
order = 4

[lm.mix]
weight = 0.3

[train]
train_manifest = "corpus/train.jsonl"
out_dir = "exp/x"

[train.augment]
spec_augment = false
"""


def test_values_resolve_like_asr_train(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(CONFIG)
    values = config_values(str(path), ["train.out_dir", "train.train_manifest", "lm.order", "lm.arpa=a.gz"])
    assert values == ["exp/x", "corpus/train.jsonl", "4", "a.gz"]
    # a [train] key the file leaves out takes the dataclass default, as `asr train` would
    from asr.train.config import load_run_config

    epochs = load_run_config(str(path)).train.epochs
    assert config_values(str(path), ["train.epochs"]) == [str(epochs)]
    assert config_values(str(path), ["train.out_dir"], ["train.out_dir=exp/y"]) == ["exp/y"]


def test_dotted_keys_reach_into_sub_tables(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(CONFIG)
    values = config_values(
        str(path), ["train.augment.spec_augment", "train.augment.time_mask", "lm.mix.weight"]
    )
    from asr.data.augment import AugmentConfig

    assert values == ["false", str(AugmentConfig().time_mask), "0.3"]
    assert config_values(str(path), ["lm.mix.other=7"]) == ["7"]


@pytest.mark.parametrize(
    "key, match",
    [
        ("lm.arpa", "not set and no default"),
        ("train.nope", "no key 'nope'"),
        ("train", "section.key"),
        ("train.augment.nope", r"\[train.augment\] has no key 'nope'"),
        ("train.epochs.x", r"\[train.epochs\] has no key 'x'"),
    ],
)
def test_missing_or_unknown_keys_are_errors(tmp_path, key, match):
    path = tmp_path / "c.toml"
    path.write_text(CONFIG)
    with pytest.raises(ConfigError, match=match):
        config_values(str(path), [key])


def test_command_prints_one_value_per_line(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(CONFIG)
    cmd = [sys.executable, "-m", "asr", "config", "get", "--config", str(path), "train.out_dir", "lm.order"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["exp/x", "4"]
    bad = subprocess.run([*cmd[:-2], "lm.missing"], capture_output=True, text=True)
    assert bad.returncode == 2 and "lm.missing" not in bad.stdout and "[lm] missing" in bad.stderr
