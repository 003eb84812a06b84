"""Audio → log-probabilities: the feature front end, the acoustic model and the vocabulary in one module."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from asr.features import FeatureConfig, LogMelFrontend
from asr.model import BiLSTMCTC, ModelConfig
from asr.text import Vocabulary

if TYPE_CHECKING:
    from asr.decoding import BeamSearchDecoder, DecoderConfig, GreedyDecoder


class SpeechRecognizer(nn.Module):
    """What `asr.load_model` returns and `asr.transcribe` uses.

    forward(waveforms (B, S) at `sample_rate`, lengths (B,) in samples) → log_probs (B, T', V), lengths (B,).
    """

    def __init__(self, features: FeatureConfig, model: ModelConfig, vocab: Vocabulary) -> None:
        super().__init__()
        if model.vocab_size != len(vocab):
            raise ValueError(f"model vocab_size {model.vocab_size} != vocabulary size {len(vocab)}")
        if model.input_size != features.n_mels:
            raise ValueError(f"model input_size {model.input_size} != features n_mels {features.n_mels}")
        self.feature_config = features
        self.vocab = vocab
        self.frontend = LogMelFrontend(features)
        self.acoustic = BiLSTMCTC(model)
        self.metadata: dict = {}

    @property
    def model_config(self) -> ModelConfig:
        return self.acoustic.config

    @property
    def sample_rate(self) -> int:
        return self.feature_config.sample_rate

    @property
    def frame_shift_s(self) -> float:
        """Seconds per output frame of the acoustic model."""
        factor = 4 if self.model_config.subsampling == "conv" else self.model_config.subsampling_factor
        return factor / self.feature_config.frame_rate

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def decoder(self, config: DecoderConfig | None = None) -> GreedyDecoder | BeamSearchDecoder:
        """A decoder for this model's output: greedy when `config` is None, else beam search with it
        (word times in this model's frame shift)."""
        from asr.decoding import build_decoder

        return build_decoder(self.vocab, self.frame_shift_s, config)

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features, frame_lengths = self.frontend(waveforms, lengths)
        return self.acoustic(features, frame_lengths)
