"""Utterances → (waveform, token ids) pairs, skipping and recording bad items instead of crashing."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from asr.audio import AudioError, load_segment
from asr.data.manifest import Utterance
from asr.text import Vocabulary

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Example:
    id: str
    audio: np.ndarray  # (samples,) float32
    tokens: list[int]
    text: str


@dataclass(frozen=True)
class Skipped:
    """A bad item: what `SpeechDataset` returns instead of an Example (falsy, like None)."""

    id: str
    reason: str

    def __bool__(self) -> bool:
        return False


class SpeechDataset(torch.utils.data.Dataset):
    """Loads audio on demand. A bad item returns a falsy `Skipped` (reason also kept in `skipped`).

    In DataLoader worker processes `skipped` fills up in the workers' copies, so the reasons also travel
    with the batch: see `collate_with_skips`.
    """

    def __init__(self, items: list[Utterance], vocab: Vocabulary, sample_rate: int = 16000) -> None:
        self.items = items
        self.vocab = vocab
        self.sample_rate = sample_rate
        self.skipped: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Example | Skipped:
        item = self.items[index]
        try:
            tokens = self.vocab.encode(item.text)
            if not tokens:
                raise ValueError("empty transcript")
            # Only [offset, offset + duration) is decoded: a segment of a long recording costs its own length.
            audio = load_segment(item.audio, self.sample_rate, item.offset, item.duration or None)
        except (AudioError, ValueError) as e:
            self.skipped[item.id] = str(e)
            log.warning("skipping %s: %s", item.id, e)
            return Skipped(item.id, str(e))
        return Example(item.id, audio, tokens, item.text)


@dataclass
class Batch:
    ids: list[str]
    texts: list[str]
    waveforms: torch.Tensor  # (B, S) float32, zero-padded
    lengths: torch.Tensor  # (B,) samples
    targets: torch.Tensor  # (B, L) int64, zero-padded
    target_lengths: torch.Tensor  # (B,)

    def __len__(self) -> int:
        return len(self.ids)


def collate(examples: list[Example | Skipped | None]) -> Batch | None:
    """Pad the good examples into a Batch; None when there are none."""
    examples = [e for e in examples if isinstance(e, Example)]
    if not examples:
        return None
    lengths = torch.tensor([len(e.audio) for e in examples])
    waveforms = torch.zeros(len(examples), int(lengths.max()))
    for i, e in enumerate(examples):
        waveforms[i, : len(e.audio)] = torch.from_numpy(e.audio)
    target_lengths = torch.tensor([len(e.tokens) for e in examples])
    targets = torch.zeros(len(examples), int(target_lengths.max()), dtype=torch.long)
    for i, e in enumerate(examples):
        targets[i, : len(e.tokens)] = torch.tensor(e.tokens)
    return Batch(
        [e.id for e in examples], [e.text for e in examples], waveforms, lengths, targets, target_lengths
    )


def collate_with_skips(examples: list[Example | Skipped | None]) -> tuple[Batch | None, dict[str, str]]:
    """`collate`, plus {id: reason} of the bad items: how worker processes report them to the trainer."""
    return collate(examples), {e.id: e.reason for e in examples if isinstance(e, Skipped)}
