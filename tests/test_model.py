import pytest
import torch

from asr.features import FeatureConfig
from asr.frontend import LogMelFrontend, cepstral_smoothing_matrix
from asr.model import BiLSTMCTC, ModelConfig, subsampled_lengths
from asr.model_config import DERIVED_KEYS
from asr.recognizer import SpeechRecognizer
from asr.text import Vocabulary

MELS, TOKENS = 80, 29  # the default front end's bins, the English character vocabulary's size


def test_frontend_shapes_and_lengths():
    config = FeatureConfig()
    frontend = LogMelFrontend(config)
    lengths = torch.tensor([16000, 8000, 1234])
    waves = torch.randn(3, 16000) * (torch.arange(16000)[None] < lengths[:, None])
    feats, frame_lengths = frontend(waves, lengths)
    assert feats.shape == (3, 101, 80)
    assert frame_lengths.tolist() == [101, 51, 8]
    assert torch.all(feats[1, 51:] == 0) and torch.all(feats[2, 8:] == 0)
    # utterance normalization: each valid region has zero mean per bin
    assert feats[0].mean(0).abs().max() < 1e-4


def test_frontend_padding_does_not_change_valid_frames():
    frontend = LogMelFrontend(FeatureConfig(normalize="none"))
    wave = torch.randn(1, 8000)
    alone, n = frontend(wave, torch.tensor([8000]))
    padded, m = frontend(torch.nn.functional.pad(wave, (0, 4000)), torch.tensor([8000]))
    assert n.item() == m.item()
    # The last frames see the padding through the centered window; the rest are identical.
    assert torch.allclose(alone[0, : n - 2], padded[0, : n - 2], atol=1e-4)


def test_cepstral_smoothing_is_a_truncated_dct():
    scipy_fft = pytest.importorskip("scipy.fft")
    frames = torch.randn(5, 80, dtype=torch.float64)
    coefficients = scipy_fft.dct(frames.numpy(), norm="ortho", axis=-1)
    coefficients[:, 24:] = 0
    expected = torch.from_numpy(scipy_fft.idct(coefficients, norm="ortho", axis=-1))
    torch.testing.assert_close(
        frames @ cepstral_smoothing_matrix(80, 24).double(), expected, atol=1e-5, rtol=0
    )
    torch.testing.assert_close(cepstral_smoothing_matrix(80, 80), torch.eye(80), atol=1e-5, rtol=0)


def vowel(f0: float, seconds: float = 0.5, sr: int = 16000) -> torch.Tensor:
    """(samples,) a harmonic series at `f0` shaped by fixed formants near 700, 1200 and 2600 Hz."""
    t = torch.arange(int(seconds * sr)) / sr
    wave = torch.zeros_like(t)
    for h in range(1, int(7000 / f0)):
        f = h * f0
        gain = sum(1 / (1 + ((f - fc) / 120) ** 2) for fc in (700, 1200, 2600)) + 0.02
        wave += gain * torch.sin(2 * torch.pi * f * t)
    return wave / wave.abs().max()


def test_cepstral_smoothing_keeps_the_envelope_and_drops_the_pitch():
    """The same formants at two pitches: smoothing brings their features together (the harmonics
    differ, the envelope does not), and leaves the envelope where it was."""
    raw, smooth = (LogMelFrontend(FeatureConfig(normalize="none", cepstral_lifter=k)) for k in (0, 20))
    waves = torch.stack([vowel(110.0), vowel(150.0)])
    lengths = torch.tensor([waves.shape[1]] * 2)
    (raw_feats, _), (smooth_feats, _) = raw(waves, lengths), smooth(waves, lengths)
    raw_gap = (raw_feats[0] - raw_feats[1]).mean(0).abs().mean()
    smooth_gap = (smooth_feats[0] - smooth_feats[1]).mean(0).abs().mean()
    assert smooth_gap < 0.6 * raw_gap, (float(smooth_gap), float(raw_gap))
    # The smoothed spectrum is still the spectrum: close to the raw one on average, peaks in place.
    assert (smooth_feats[0].mean(0) - raw_feats[0].mean(0)).abs().mean() < 1.0
    assert (smooth_feats[0] - raw_feats[0]).abs().mean() < (raw_feats[0] - raw_feats[0].mean()).abs().mean()


def test_cepstral_lifter_is_bounded_by_the_mel_bins():
    with pytest.raises(ValueError, match="cepstral_lifter"):
        FeatureConfig(cepstral_lifter=81)
    with pytest.raises(ValueError, match="cepstral_lifter"):
        FeatureConfig(cepstral_lifter=-1)


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(subsampling="stack", subsampling_factor=3, hidden_size=32, num_layers=2),
        ModelConfig(subsampling="stack", subsampling_factor=1, hidden_size=16, num_layers=1),
        ModelConfig(subsampling="conv", subsampling_factor=4, hidden_size=32, num_layers=2),
    ],
)
@pytest.mark.parametrize("packed", [True, False, None])
def test_output_lengths_match_subsampling(config, packed):
    model = BiLSTMCTC(config, MELS, TOKENS).eval()
    lengths = torch.tensor([50, 37, 1, 49])
    feats = torch.randn(4, 50, 80)
    log_probs, out_lengths = model(feats, lengths, packed=packed)
    assert out_lengths.tolist() == subsampled_lengths(lengths, config).clamp(min=1).tolist()
    assert log_probs.shape[0] == 4 and log_probs.shape[2] == TOKENS
    assert log_probs.shape[1] == int(out_lengths.max())
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(log_probs.shape[:2]), atol=1e-5)


def test_packed_output_independent_of_padding():
    model = BiLSTMCTC(ModelConfig(hidden_size=16, num_layers=2), MELS, TOKENS).eval()
    x = torch.randn(1, 30, 80)
    alone, n = model(x, torch.tensor([30]), packed=True)
    batch = torch.cat([torch.nn.functional.pad(x, (0, 0, 0, 15)), torch.randn(1, 45, 80)])
    together, m = model(batch, torch.tensor([30, 45]), packed=True)
    assert torch.allclose(alone[0, : n[0]], together[0, : m[0]], atol=1e-5)


def test_bad_input_shape_is_a_clear_error():
    model = BiLSTMCTC(ModelConfig(hidden_size=8, num_layers=1), MELS, TOKENS)
    with pytest.raises(ValueError, match=r"\(B, T, 80\)"):
        model(torch.randn(2, 10, 40), torch.tensor([10, 10]))


def test_the_model_widths_follow_the_features_and_the_vocabulary():
    """A model config holds the architecture's choices only: the input and output widths come from the
    front end and the vocabulary, so a checkpoint records each once. Configs stored with the widths
    (older checkpoints) still read."""
    vocab = Vocabulary(["<blank>", " ", "a", "b"])
    rec = SpeechRecognizer(FeatureConfig(n_mels=40), ModelConfig(hidden_size=8, num_layers=1), vocab)
    assert rec.acoustic.feature_mean.shape == (40,) and rec.acoustic.output.out_features == 4
    log_probs, _ = rec(torch.randn(2, 8000), torch.tensor([8000, 6000]))
    assert log_probs.shape[-1] == len(vocab)
    assert not DERIVED_KEYS & set(ModelConfig().to_dict())
    stored = {**ModelConfig(hidden_size=8).to_dict(), "input_size": 80, "vocab_size": 29}
    assert ModelConfig.from_dict(stored) == ModelConfig(hidden_size=8)


def test_invalid_configs_rejected():
    with pytest.raises(ValueError):
        ModelConfig(subsampling="pool")
    with pytest.raises(ValueError):
        ModelConfig(subsampling="conv", subsampling_factor=3)
    with pytest.raises(ValueError):
        FeatureConfig(normalize="global")
