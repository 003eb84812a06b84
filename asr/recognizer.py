"""Audio → log-probabilities: the `Recognizer` protocol and the eager `SpeechRecognizer` that satisfies it.

Every model `asr.load_model` returns (a checkpoint's `SpeechRecognizer`, or an exported model from
`asr.runtime`) satisfies `Recognizer`: that is all transcription, evaluation and the server use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch
from torch import nn

from asr.features import FeatureConfig
from asr.frontend import LogMelFrontend
from asr.model import BiLSTMCTC, ModelConfig
from asr.text import Vocabulary

if TYPE_CHECKING:
    from asr.decoding import Decoder, DecoderConfig


@runtime_checkable
class Recognizer(Protocol):
    """What a loaded model offers, whatever runs it (eager torch, ONNX, TorchScript, int8).

    `model(waveforms (B, S) float32 at sample_rate, lengths (B,) int64 samples)` →
    `(log_probs (B, T, V) natural-log CTC posteriors, lengths (B,) int64 valid frames)`;
    one frame covers `frame_shift_s` seconds; blank is `vocab.blank_id` (0). `decoder_config` is how the
    model decodes when no decoder is named (`asr.load_model` reads it from the model's decoder.json;
    None: greedy); `path` is the checkpoint file or export directory it was loaded from (None: built in
    memory).
    """

    vocab: Vocabulary
    feature_config: FeatureConfig
    metadata: dict[str, Any]
    training: bool
    decoder_config: DecoderConfig | None
    path: Path | None

    @property
    def sample_rate(self) -> int: ...

    @property
    def frame_shift_s(self) -> float: ...

    @property
    def model_config(self) -> ModelConfig: ...

    @property
    def device(self) -> torch.device: ...

    def __call__(
        self, waveforms: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]: ...

    def eval(self) -> Any: ...

    def train(self, mode: bool = True) -> Any: ...

    def decoder(self, config: DecoderConfig | None = None) -> Decoder: ...


class SpeechRecognizer(nn.Module):
    """The eager recognizer: what `asr.load_model` returns for a checkpoint file (a `Recognizer`).

    forward(waveforms (B, S) at `sample_rate`, lengths (B,) in samples) → log_probs (B, T', V), lengths (B,).
    """

    # Set by asr.load_model (see Recognizer); a model built for training has neither.
    decoder_config: DecoderConfig | None = None
    path: Path | None = None

    def __init__(self, features: FeatureConfig, model: ModelConfig, vocab: Vocabulary) -> None:
        super().__init__()
        self.feature_config = features
        self.vocab = vocab
        self.frontend = LogMelFrontend(features)
        # The model's widths follow the front end and the vocabulary: one mel bin per input, one
        # output per token, so a checkpoint's "features" and "vocab" entries are their only record.
        self.acoustic = BiLSTMCTC(model, features.n_mels, len(vocab))
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

    def decoder(self, config: DecoderConfig | None = None) -> Decoder:
        """A decoder for this model's output: greedy when `config` is None, else beam search with it
        (word times in this model's frame shift)."""
        from asr.decoding import build_decoder

        return build_decoder(self.vocab, self.frame_shift_s, config)

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features, frame_lengths = self.frontend(waveforms, lengths)
        return self.acoustic(features, frame_lengths)
