"""The acoustic model: subsampling front end → N × bidirectional LSTM → Linear → log-softmax."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from asr.model_config import ModelConfig

__all__ = ["BiLSTMCTC", "ConvSubsampling", "FrameStacking", "ModelConfig", "subsampled_lengths"]


def subsampled_lengths(lengths: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    """Output frames for input frame `lengths` (B,) under the config's subsampling."""
    if config.subsampling == "conv":
        once = torch.div(lengths + 1, 2, rounding_mode="floor")
        return torch.div(once + 1, 2, rounding_mode="floor")
    k = config.subsampling_factor
    return torch.div(lengths + k - 1, k, rounding_mode="floor")


class FrameStacking(nn.Module):
    """(B, T, F) → (B, ceil(T/k), F·k) by concatenating k consecutive frames (zero-padded at the end)."""

    def __init__(self, factor: int) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, f = x.shape
        pad = (-t) % self.factor
        if pad:
            x = nn.functional.pad(x, (0, 0, 0, pad))
        return x.reshape(b, (t + pad) // self.factor, f * self.factor)


class ConvSubsampling(nn.Module):
    """(B, T, F) → (B, ceil(ceil(T/2)/2), C·ceil(ceil(F/2)/2)) with two stride-2 3×3 convolutions."""

    def __init__(self, input_size: int, channels: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, channels, 3, stride=2, padding=1),
            nn.GELU(),
            nn.Conv2d(channels, channels, 3, stride=2, padding=1),
            nn.GELU(),
        )
        freq = (input_size + 1) // 2
        self.output_size = channels * ((freq + 1) // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x.unsqueeze(1))  # (B, C, T', F')
        b, c, t, f = y.shape
        return y.permute(0, 2, 1, 3).reshape(b, t, c * f)


class BiLSTMCTC(nn.Module):
    """Deep bidirectional LSTM acoustic model for CTC.

    forward(features (B, T, F = input_size), lengths (B,)) → log_probs (B, T', V = vocab_size),
    out_lengths (B,). Index 0 of V is the CTC blank (the Vocabulary guarantees it). The two widths are
    arguments, not config: they follow the features and the vocabulary (`SpeechRecognizer` passes them).
    """

    def __init__(self, config: ModelConfig, input_size: int, vocab_size: int) -> None:
        super().__init__()
        self.config = config
        self.input_size, self.vocab_size = input_size, vocab_size
        # Global feature statistics, estimated from training data and stored with the weights so that
        # a checkpoint needs nothing beside it. Identity until `set_feature_stats` is called.
        self.register_buffer("feature_mean", torch.zeros(input_size))
        self.register_buffer("feature_std", torch.ones(input_size))
        if config.subsampling == "stack":
            self.subsample: nn.Module = FrameStacking(config.subsampling_factor)
            lstm_input = input_size * config.subsampling_factor
        else:
            conv = ConvSubsampling(input_size, config.conv_channels)
            self.subsample = conv
            lstm_input = conv.output_size
        self.lstm = nn.LSTM(
            input_size=lstm_input,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            bidirectional=True,
            batch_first=True,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(2 * config.hidden_size, vocab_size)

    def set_feature_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Store global per-bin feature statistics (input_size,) used to standardize inputs."""
        self.feature_mean.copy_(mean.to(self.feature_mean))
        self.feature_std.copy_(std.clamp(min=1e-3).to(self.feature_std))

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return subsampled_lengths(lengths, self.config)

    def forward(
        self, features: torch.Tensor, lengths: torch.Tensor, packed: bool | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`packed`: run the LSTM on packed sequences (exact whatever the padding) or on the dense
        padded batch, whose CPU backward pass is ~4x faster (oneDNN's fused LSTM) and which, with
        duration-bucketed batches, sees only a few zero frames of padding. None: pack whenever the
        lengths differ, so that inference results never depend on how utterances were batched."""
        if features.dim() != 3 or features.shape[-1] != self.input_size:
            raise ValueError(f"features must be (B, T, {self.input_size}), got shape {tuple(features.shape)}")
        x = (features - self.feature_mean) / self.feature_std
        frames = torch.arange(x.shape[1], device=x.device)
        x = x.masked_fill((frames[None, :] >= lengths[:, None]).unsqueeze(-1), 0.0)
        x = self.subsample(x)
        out_lengths = self.output_lengths(lengths).clamp(min=1, max=x.shape[1])
        if packed is None:
            packed = int(out_lengths.min()) != x.shape[1]
        if packed:
            # Packing makes the LSTM skip padding, and the backward direction starts at each
            # utterance's real end rather than in the padding.
            seq = pack_padded_sequence(x, out_lengths.cpu(), batch_first=True, enforce_sorted=False)
            y, _ = self.lstm(seq)
            y, _ = pad_packed_sequence(y, batch_first=True, total_length=x.shape[1])
        else:
            y, _ = self.lstm(x)
        logits = self.output(self.dropout(y))
        return logits.log_softmax(dim=-1), out_lengths

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
