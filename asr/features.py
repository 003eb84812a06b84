"""Log-mel front end: waveforms (B, samples) → features (B, T, n_mels) with lengths."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torchaudio
from torch import nn


@dataclass(frozen=True)
class FeatureConfig:
    """How audio becomes features. Saved inside every checkpoint."""

    sample_rate: int = 16000
    n_mels: int = 80
    win_ms: float = 25.0
    hop_ms: float = 10.0
    n_fft: int = 512
    f_min: float = 20.0
    f_max: float = 7600.0
    # "utterance": each utterance's features get zero mean / unit variance per mel bin, which removes
    # most of the speaker/channel offset; "none": raw log-mel (the model's global stats still apply).
    normalize: str = "utterance"

    def __post_init__(self) -> None:
        if self.normalize not in ("utterance", "none"):
            raise ValueError(f"FeatureConfig.normalize must be 'utterance' or 'none', got {self.normalize!r}")
        if self.win_length > self.n_fft:
            raise ValueError(f"window of {self.win_length} samples exceeds n_fft={self.n_fft}")

    @property
    def win_length(self) -> int:
        return int(round(self.sample_rate * self.win_ms / 1000))

    @property
    def hop_length(self) -> int:
        return int(round(self.sample_rate * self.hop_ms / 1000))

    @property
    def frame_rate(self) -> float:
        """Feature frames per second."""
        return self.sample_rate / self.hop_length

    def num_frames(self, num_samples: torch.Tensor | int) -> torch.Tensor | int:
        """Frames produced for `num_samples` samples (centered STFT)."""
        if isinstance(num_samples, torch.Tensor):
            return torch.div(num_samples, self.hop_length, rounding_mode="floor") + 1
        return num_samples // self.hop_length + 1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FeatureConfig:
        return cls(**d)


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
