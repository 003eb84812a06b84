"""Log-mel front end: waveforms (B, samples) → features (B, T, n_mels) with lengths (torch)."""

from __future__ import annotations

import torch
import torchaudio
from torch import nn

from asr.features import FeatureConfig

__all__ = ["LogMelFrontend"]


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

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if waveforms.dim() != 2:
            raise ValueError(f"waveforms must be (B, samples), got shape {tuple(waveforms.shape)}")
        with torch.autocast(device_type=waveforms.device.type, enabled=False):
            spec = self.mel(waveforms.float())  # (B, n_mels, T)
            feats = torch.log(spec + 1e-6).transpose(1, 2)  # (B, T, n_mels)
        frame_lengths = self.config.num_frames(lengths.to(feats.device)).clamp(max=feats.shape[1])
        mask = torch.arange(feats.shape[1], device=feats.device)[None, :] < frame_lengths[:, None]
        mask = mask.unsqueeze(-1)  # (B, T, 1)
        if self.config.normalize == "utterance":
            count = frame_lengths.clamp(min=1).view(-1, 1, 1).to(feats.dtype)
            mean = (feats * mask).sum(1, keepdim=True) / count
            var = (((feats - mean) * mask) ** 2).sum(1, keepdim=True) / count
            feats = (feats - mean) / torch.sqrt(var + 1e-5)
        return feats.masked_fill(~mask, 0.0), frame_lengths
