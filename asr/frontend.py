"""Log-mel front end: waveforms (B, samples) → features (B, T, n_mels) with lengths (torch)."""

from __future__ import annotations

import math

import torch
import torchaudio
from torch import nn

from asr.features import FeatureConfig

__all__ = ["LogMelFrontend", "cepstral_smoothing_matrix"]


def cepstral_smoothing_matrix(n_mels: int, keep: int) -> torch.Tensor:
    """(n_mels, n_mels) matrix S with `frames @ S` = each frame's orthonormal DCT-II over the mel bins,
    all but the first `keep` coefficients zeroed, transformed back: a frequency-smoothed log-mel."""
    n = torch.arange(n_mels, dtype=torch.float64)
    k = torch.arange(n_mels, dtype=torch.float64)[:, None]
    dct = torch.cos(math.pi / n_mels * (n[None, :] + 0.5) * k) * math.sqrt(2.0 / n_mels)  # (n_mels, n_mels)
    dct[0] /= math.sqrt(2.0)
    kept = dct[:keep]  # (keep, n_mels): orthonormal rows
    return (kept.T @ kept).float()


class LogMelFrontend(nn.Module):
    """Batched log-mel spectrogram on CPU or GPU.

    forward(waveforms (B, S), lengths (B,) in samples) → features (B, T, n_mels), frame lengths (B,).
    Padded frames are zero after normalization, so they carry no information into the model.
    """

    def __init__(self, config: FeatureConfig) -> None:
        super().__init__()
        self.config = config
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=config.sample_rate,
            n_fft=config.n_fft,
            win_length=config.win_length,
            hop_length=config.hop_length,
            f_min=config.f_min,
            f_max=config.f_max,
            n_mels=config.n_mels,
            power=2.0,
            center=True,
        )
        if config.cepstral_lifter:
            smoothing = cepstral_smoothing_matrix(config.n_mels, config.cepstral_lifter)
            self.register_buffer("smoothing", smoothing, persistent=False)  # (n_mels, n_mels)
        else:
            self.smoothing = None

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if waveforms.dim() != 2:
            raise ValueError(f"waveforms must be (B, samples), got shape {tuple(waveforms.shape)}")
        with torch.autocast(device_type=waveforms.device.type, enabled=False):
            spec = self.mel(waveforms.float())  # (B, n_mels, T)
            feats = torch.log(spec + 1e-6).transpose(1, 2)  # (B, T, n_mels)
            if self.smoothing is not None:
                feats = feats @ self.smoothing
        frame_lengths = self.config.num_frames(lengths.to(feats.device)).clamp(max=feats.shape[1])
        mask = torch.arange(feats.shape[1], device=feats.device)[None, :] < frame_lengths[:, None]
        mask = mask.unsqueeze(-1)  # (B, T, 1)
        if self.config.normalize == "utterance":
            count = frame_lengths.clamp(min=1).view(-1, 1, 1).to(feats.dtype)
            mean = (feats * mask).sum(1, keepdim=True) / count
            var = (((feats - mean) * mask) ** 2).sum(1, keepdim=True) / count
            feats = (feats - mean) / torch.sqrt(var + 1e-5)
        return feats.masked_fill(~mask, 0.0), frame_lengths
