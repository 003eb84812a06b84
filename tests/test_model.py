import pytest
import torch

from asr.features import FeatureConfig
from asr.frontend import LogMelFrontend
from asr.model import BiLSTMCTC, ModelConfig, subsampled_lengths


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
    model = BiLSTMCTC(config).eval()
    lengths = torch.tensor([50, 37, 1, 49])
    feats = torch.randn(4, 50, 80)
    log_probs, out_lengths = model(feats, lengths, packed=packed)
    assert out_lengths.tolist() == subsampled_lengths(lengths, config).clamp(min=1).tolist()
    assert log_probs.shape[0] == 4 and log_probs.shape[2] == config.vocab_size
    assert log_probs.shape[1] == int(out_lengths.max())
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(log_probs.shape[:2]), atol=1e-5)


def test_packed_output_independent_of_padding():
    model = BiLSTMCTC(ModelConfig(hidden_size=16, num_layers=2)).eval()
    x = torch.randn(1, 30, 80)
    alone, n = model(x, torch.tensor([30]), packed=True)
    batch = torch.cat([torch.nn.functional.pad(x, (0, 0, 0, 15)), torch.randn(1, 45, 80)])
    together, m = model(batch, torch.tensor([30, 45]), packed=True)
    assert torch.allclose(alone[0, : n[0]], together[0, : m[0]], atol=1e-5)


def test_bad_input_shape_is_a_clear_error():
    model = BiLSTMCTC(ModelConfig(hidden_size=8, num_layers=1))
    with pytest.raises(ValueError, match=r"\(B, T, 80\)"):
        model(torch.randn(2, 10, 40), torch.tensor([10, 10]))


def test_invalid_configs_rejected():
    with pytest.raises(ValueError):
        ModelConfig(subsampling="pool")
    with pytest.raises(ValueError):
        ModelConfig(subsampling="conv", subsampling_factor=3)
    with pytest.raises(ValueError):
        FeatureConfig(normalize="global")
