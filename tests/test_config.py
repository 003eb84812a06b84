import pytest
import torch
from old_layout import flat_augment_layout

from asr.config import ConfigError
from asr.loading import shipped_model_dir
from asr.train.config import RunConfig, load_run_config, train_config_from_dict

SHIPPED_MODEL = shipped_model_dir() / "model.pt"


def write(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_toml_and_overrides_with_types(tmp_path):
    path = write(tmp_path, "[model]\nhidden_size = 64\n[train]\nlr = 0.001\n[corpus]\nnum_train = 5\n")
    run = load_run_config(path, ["train.lr=3e-4", "model.num_layers=2", "train.augment.spec_augment=false"])
    assert run.model.hidden_size == 64 and run.model.num_layers == 2
    assert run.train.lr == pytest.approx(3e-4) and run.train.augment.spec_augment is False


@pytest.mark.parametrize(
    "text, overrides, match",
    [
        ("[model]\nhiden_size = 3\n", [], "unknown key"),
        ("[trian]\n", [], "unknown config table"),
        ("", ["train.lr=fast"], "expected a number"),
        ("", ["model.num_layers=2.5"], "expected an integer"),
        ("", ["lr=3"], "section.key=value"),
        ("[model\n", [], "invalid TOML"),
        ("[features]\nn_mels = 40\n[model]\ninput_size = 40\n", [], "input_size is not a setting"),
        ("", ["model.vocab_size=30"], "vocab_size is not a setting"),
    ],
)
def test_config_errors(tmp_path, text, overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_run_config(write(tmp_path, text), overrides)


def test_augment_table_from_toml_and_dotted_overrides(tmp_path):
    path = write(tmp_path, "[train]\nlr = 0.001\n[train.augment]\nnoise_prob = 0.5\nspec_augment = false\n")
    run = load_run_config(path, ["train.augment.reverb_prob=0.25", "train.augment.noise_snr_db=3,20"])
    augment = run.train.augment
    assert augment.noise_prob == 0.5 and augment.spec_augment is False and augment.reverb_prob == 0.25
    assert augment.noise_snr_db == (3.0, 20.0) and run.train.lr == pytest.approx(1e-3)
    assert run.to_dict()["train"]["augment"]["noise_prob"] == 0.5  # what checkpoints store


@pytest.mark.parametrize(
    "text, overrides",
    [
        ("[train]\nnoise_prob = 0.5\n", []),
        ("", ["train.speed_perturb=true"]),
        ("[train]\nspec_augment = false\n", []),
    ],
)
def test_old_flat_augmentation_keys_name_the_new_table(tmp_path, text, overrides):
    with pytest.raises(ConfigError, match=r"moved to the \[train.augment\] table"):
        load_run_config(write(tmp_path, text), overrides)


def test_unknown_augmentation_key_and_the_gone_decode_table(tmp_path):
    with pytest.raises(ConfigError, match=r"\[train.augment\]: unknown key"):
        load_run_config(write(tmp_path, "[train.augment]\nnoise_probability = 0.5\n"), [])
    with pytest.raises(ConfigError, match=r"\[decode\] is no longer read"):
        load_run_config(write(tmp_path, "[decode]\nbeam_size = 8\n"), [])


def test_stored_flat_train_config_of_an_old_checkpoint_translates():
    """Checkpoints of older asr versions keep the augmentation keys flat in their stored [train]: they
    still read as a run config."""
    payload = torch.load(SHIPPED_MODEL, map_location="cpu", weights_only=True)
    stored = flat_augment_layout(payload["train"]["config"])
    assert "noise_prob" in stored["train"] and "augment" not in stored["train"]
    run = RunConfig.from_dict(stored)
    assert run.train.augment.noise_prob == stored["train"]["noise_prob"]
    assert run.train.augment.speed_perturb is stored["train"]["speed_perturb"]
    assert run.train.lr == stored["train"]["lr"] and run.model.hidden_size == stored["model"]["hidden_size"]
    # the new layout reads back the same, and keys a later asr dropped are ignored
    assert train_config_from_dict({**run.to_dict()["train"], "gone_knob": 1}) == run.train
