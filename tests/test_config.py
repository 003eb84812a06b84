import pytest

from asr.config import ConfigError
from asr.train.config import load_run_config


def write(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_toml_and_overrides_with_types(tmp_path):
    path = write(tmp_path, "[model]\nhidden_size = 64\n[train]\nlr = 0.001\n[corpus]\nnum_train = 5\n")
    run = load_run_config(path, ["train.lr=3e-4", "model.num_layers=2", "train.spec_augment=false"])
    assert run.model.hidden_size == 64 and run.model.num_layers == 2
    assert run.train.lr == pytest.approx(3e-4) and run.train.spec_augment is False
    assert run.model.input_size == run.features.n_mels


@pytest.mark.parametrize(
    "text, overrides, match",
    [
        ("[model]\nhiden_size = 3\n", [], "unknown key"),
        ("[trian]\n", [], "unknown config table"),
        ("", ["train.lr=fast"], "expected a number"),
        ("", ["model.num_layers=2.5"], "expected an integer"),
        ("", ["lr=3"], "section.key=value"),
        ("[model\n", [], "invalid TOML"),
        ("[features]\nn_mels = 40\n[model]\ninput_size = 80\n", [], "must equal"),
    ],
)
def test_config_errors(tmp_path, text, overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_run_config(write(tmp_path, text), overrides)
