"""Small untrained recognizers for tests that check plumbing, not accuracy, and saving one as a checkpoint."""

from __future__ import annotations

from pathlib import Path

import torch

from asr.checkpoint import checkpoint_payload, save_checkpoint
from asr.features import FeatureConfig
from asr.model import ModelConfig
from asr.recognizer import SpeechRecognizer
from asr.text import Vocabulary


def tiny_recognizer(
    peaky: bool = True,
    *,
    subsampling: str = "stack",
    seed: int = 0,
    feature_stats: bool = False,
    features: FeatureConfig | None = None,
) -> SpeechRecognizer:
    """An untrained 2x32 BiLSTM (seed `seed`). `peaky`: output sharpened, with word separators favoured,
    so that transcripts are non-empty and have several words to compare (and the output varies enough
    over time to make export parity meaningful). `feature_stats`: random feature mean/std set."""
    torch.manual_seed(seed)
    factor = 4 if subsampling == "conv" else 3
    config = ModelConfig(hidden_size=32, num_layers=2, subsampling=subsampling, subsampling_factor=factor)
    rec = SpeechRecognizer(features or FeatureConfig(), config, Vocabulary.english_characters()).eval()
    with torch.no_grad():
        if peaky:
            rec.acoustic.output.weight.mul_(8)
            rec.acoustic.output.bias[rec.vocab.separator_id] += 1.5
        if feature_stats:
            mels = rec.feature_config.n_mels
            rec.acoustic.set_feature_stats(0.1 * torch.randn(mels), 1 + 0.1 * torch.rand(mels))
    return rec


def letters_recognizer() -> SpeechRecognizer:
    """An untrained 1x32 BiLSTM (seed 0) biased away from blank: untrained CTC output is nearly all
    blank, the bias towards letters makes the plumbing visible."""
    torch.manual_seed(0)
    vocab = Vocabulary.english_characters()
    rec = SpeechRecognizer(FeatureConfig(), ModelConfig(hidden_size=32, num_layers=1), vocab)
    with torch.no_grad():
        rec.acoustic.output.bias[vocab.blank_id] -= 3.0
    return rec.eval()


def save_model(rec: SpeechRecognizer, path: Path) -> Path:
    """`rec` saved as a checkpoint at `path`."""
    save_checkpoint(checkpoint_payload(rec), path)
    return path


def tiny_checkpoint(path: Path, peaky: bool = True) -> Path:
    """`tiny_recognizer(peaky)` saved as a checkpoint at `path`."""
    return save_model(tiny_recognizer(peaky), path)
