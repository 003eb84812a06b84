"""What every decoder offers its callers (transcribe, evaluate, LM tuning, the server)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from asr.decoding.hypothesis import Hypothesis
from asr.text import Vocabulary

__all__ = ["Decoder"]


@runtime_checkable
class Decoder(Protocol):
    """A CTC decoder: :class:`~asr.decoding.GreedyDecoder` and :class:`~asr.decoding.BeamSearchDecoder`.

    ``decode(log_probs, lengths)``: log_probs (B, T, V) log-probabilities (numpy array or tensor),
    lengths (B,) valid frames per utterance (None: all T) → per utterance its n-best list, best first
    (one hypothesis for greedy decoding). `vocab` is the vocabulary V indexes; `frame_shift_s` the
    seconds per frame that word times are measured in.
    """

    vocab: Vocabulary

    @property
    def frame_shift_s(self) -> float: ...

    def decode(self, log_probs: Any, lengths: Any = None) -> list[list[Hypothesis]]: ...
