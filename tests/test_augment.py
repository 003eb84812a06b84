"""Waveform augmentation: each kind does what it says, keeps padding silent, and is seeded."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from asr.data.augment import AugmentConfig, WaveformAugment, make_waveform_augment
from asr.train.config import TrainConfig, load_run_config


def batch(lengths=(16000, 12000, 8000)) -> tuple[torch.Tensor, torch.Tensor]:
    t = torch.arange(max(lengths)) / 16000
    x = torch.stack([0.3 * torch.sin(2 * torch.pi * (300 + 100 * i) * t) for i in range(len(lengths))])
    lengths_t = torch.tensor(lengths)
    return x * (torch.arange(x.shape[1])[None] < lengths_t[:, None]), lengths_t


def test_everything_off_by_default():
    assert make_waveform_augment(TrainConfig().augment, 16000) is None
    assert make_waveform_augment(AugmentConfig(speed_perturb=True, speed_factors=(1.0,)), 16000) is None


def test_speed_perturbation_changes_lengths_by_the_factor():
    torch.manual_seed(0)
    aug = WaveformAugment(AugmentConfig(speed_perturb=True, speed_factors=(0.9, 1.1)))
    x, lengths = batch()
    y, new = aug(x, lengths)
    ratios = (lengths / new).tolist()
    assert all(min(abs(r - 0.9), abs(r - 1.1)) < 0.01 for r in ratios), ratios
    assert y.shape[1] == int(new.max())
    for row, n in zip(y, new.tolist()):
        assert row[:n].abs().max() > 0.1 and (row[n:] == 0).all()


def test_noise_is_added_at_the_requested_snr():
    torch.manual_seed(0)
    aug = WaveformAugment(AugmentConfig(noise_prob=1.0, noise_snr_db=(10.0, 10.0)))
    x, lengths = batch()
    y, _ = aug(x, lengths)
    for i, n in enumerate(lengths.tolist()):
        noise = y[i, :n] - x[i, :n]
        snr = 10 * torch.log10(x[i, :n].pow(2).mean() / noise.pow(2).mean())
        assert abs(float(snr) - 10.0) < 0.01
        assert (y[i, n:] == 0).all()


def test_noise_folder_recordings_are_mixed_in(tmp_path):
    sf.write(tmp_path / "hum.wav", 0.2 * np.sin(np.arange(4000) / 3.0).astype(np.float32), 16000)
    (tmp_path / "broken.wav").write_bytes(b"not audio")
    aug = WaveformAugment(AugmentConfig(noise_prob=1.0, noise_dir=str(tmp_path)))
    assert len(aug.noises) == 1
    torch.manual_seed(1)
    y, _ = aug(*batch())
    assert torch.isfinite(y).all()
    with pytest.raises(FileNotFoundError, match="noise folder"):
        WaveformAugment(AugmentConfig(noise_prob=1.0, noise_dir=str(tmp_path / "nope")))


def test_gain_and_reverb_keep_shape_and_silence_padding():
    torch.manual_seed(0)
    x, lengths = batch()
    gain = WaveformAugment(AugmentConfig(gain_prob=1.0, gain_db=6.0))
    y, _ = gain(x, lengths)
    ratio_db = 20 * torch.log10(y.abs().amax(1) / x.abs().amax(1))
    assert (ratio_db.abs() <= 6.0 + 1e-4).all() and not torch.allclose(y, x)
    reverb = WaveformAugment(AugmentConfig(reverb_prob=1.0))
    y, new = reverb(x, lengths)
    assert y.shape == x.shape and torch.equal(new, lengths)
    for i, n in enumerate(lengths.tolist()):
        assert torch.allclose(y[i, :n].norm(), x[i, :n].norm(), rtol=0.2)
        assert (y[i, n:] == 0).all()
    assert not torch.allclose(y, x, atol=1e-3)


def test_telephone_band_removes_energy_above_4khz_and_below_300hz():
    t = torch.arange(16000) / 16000
    tones = {hz: 0.2 * torch.sin(2 * torch.pi * hz * t) for hz in (100, 1000, 6000)}
    x = torch.stack([sum(tones.values()), sum(tones.values())])
    lengths = torch.tensor([16000, 16000])
    aug = WaveformAugment(AugmentConfig(telephone_prob=1.0))
    y, new = aug(x, lengths)
    assert y.shape == x.shape and torch.equal(new, lengths)

    def level(signal, hz):  # amplitude of one tone, from the spectrum (1 Hz bins)
        return float(torch.fft.rfft(signal[4000:12000]).abs()[hz // 2] / 4000)

    for row in y:
        assert level(row, 1000) > 0.15  # the speech band passes
        assert level(row, 6000) < 0.002  # nothing above the 4 kHz Nyquist of 8 kHz audio
        assert level(row, 100) < 0.1  # the 300 Hz high-pass takes most of the hum
    off = WaveformAugment(AugmentConfig(telephone_prob=1e-9, gain_prob=1.0, gain_db=0.0))
    assert torch.allclose(off(x, lengths)[0], x)  # not chosen: untouched


def test_seeded_and_configurable_from_toml_overrides():
    run = load_run_config(
        None,
        [
            "train.augment.speed_perturb=true",
            "train.augment.noise_prob=0.5",
            "train.augment.reverb_prob=0.3",
            "train.augment.gain_prob=0.5",
        ],
    )
    aug = make_waveform_augment(run.train.augment, 16000)
    assert aug is not None and aug.config.speed_factors == (0.9, 1.0, 1.1)
    x, lengths = batch()
    torch.manual_seed(3)
    a = aug(x, lengths)
    torch.manual_seed(3)
    b = aug(x, lengths)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    with pytest.raises(ValueError, match="noise_snr_db"):
        AugmentConfig(noise_snr_db=(30.0, 5.0))


def test_babble_mixes_other_utterances_of_the_batch_at_the_requested_snr():
    torch.manual_seed(0)
    aug = WaveformAugment(AugmentConfig(babble_prob=1.0, babble_snr_db=(10.0, 10.0), babble_voices=2))
    x, lengths = batch()
    y, new = aug(x, lengths)
    assert torch.equal(new, lengths)
    for i, n in enumerate(lengths.tolist()):
        added = (y[i] - x[i])[:n]
        snr = 10 * torch.log10(x[i, :n].pow(2).mean() / added.pow(2).mean())
        assert abs(float(snr) - 10.0) < 0.1
        assert (y[i, n:] == 0).all()  # padding stays silent
        # the babble is the other rows' tones: its spectrum peaks at their frequencies, not row i's
        spectrum = torch.fft.rfft(added).abs()
        freqs = torch.fft.rfftfreq(n, 1 / 16000)
        own = spectrum[(freqs - (300 + 100 * i)).abs() < 5].max()
        others = max(spectrum[(freqs - (300 + 100 * k)).abs() < 5].max() for k in range(3) if k != i)
        assert others > 5 * own
    single = WaveformAugment(AugmentConfig(babble_prob=1.0))
    x1, l1 = batch((16000,))
    assert torch.equal(single(x1, l1)[0], x1)  # nobody else to talk: unchanged
    cfg = load_run_config(None, ["train.augment.babble_prob=0.5", "train.augment.babble_snr_db=3,12"]).train
    assert make_waveform_augment(cfg.augment, 16000).config.babble_snr_db == (3.0, 12.0)


STUDIES = Path(__file__).resolve().parents[1] / "recipes" / "synthetic" / "studies"


def augment_off_overrides() -> list[str]:
    """The `--set` overrides studies/augment_off.sh defines, read by bash as the studies read them."""
    script = f'. "{STUDIES / "augment_off.sh"}"; printf "%s" "$augment_off"'
    return subprocess.run(["bash", "-c", script], check=True, capture_output=True, text=True).stdout.split()


@pytest.mark.parametrize("preset", ["config.multi.toml", "studies/augment.toml"])
def test_the_studies_augmentation_off_turns_every_on_the_fly_kind_off(preset):
    path = STUDIES.parent / preset
    assert load_run_config(path).train.augment.waveform_active  # the presets do augment
    augment = load_run_config(path, augment_off_overrides()).train.augment
    assert not augment.waveform_active and not augment.spec_augment
    assert make_waveform_augment(augment, 16000) is None


@pytest.mark.parametrize(
    ("env", "group", "message"),
    [({}, "bogus", "unknown group bogus"), ({"AUGMENT": "maybe"}, "pico", "AUGMENT=maybe")],
)
def test_loeo_refuses_a_bad_group_or_augment_before_rendering(env, group, message):
    # PYTHON/ASR=false: rendering or training would exit 1, so exit 2 means it stopped before either.
    run_env = {**os.environ, "PYTHON": "false", "ASR": "false", "INIT": "", **env}
    done = subprocess.run(
        ["bash", str(STUDIES / "loeo.sh"), group], env=run_env, capture_output=True, text=True
    )
    assert done.returncode == 2 and message in done.stderr
