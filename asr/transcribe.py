"""Audio in, transcript out: the user-facing join of audio loading, model and decoder."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import torch

from asr.audio import load_audio
from asr.decoding import GreedyDecoder, Word
from asr.recognizer import SpeechRecognizer


@dataclass(frozen=True)
class Segment:
    text: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Transcript:
    text: str
    segments: tuple[Segment, ...] = field(default_factory=tuple)
    words: tuple[Word, ...] = field(default_factory=tuple)
    duration_s: float = 0.0


@torch.no_grad()
def transcribe(
    model: SpeechRecognizer,
    audio: str | os.PathLike | bytes | np.ndarray,
    decoder=None,
    sample_rate: int | None = None,
    chunk_seconds: float = 30.0,
) -> Transcript:
    """Transcribe one recording. `audio` is a path, encoded bytes, or a float array (then give
    `sample_rate`). Audio longer than `chunk_seconds` is decoded in consecutive chunks, so memory
    stays bounded; word times are relative to the start of the recording."""
    decoder = decoder or GreedyDecoder(model.vocab, model.frame_shift_s)
    if isinstance(audio, np.ndarray):
        wave = load_audio(audio, model.sample_rate, source_rate=sample_rate)
    else:  # files and encoded bytes carry their own sample rate
        wave = load_audio(audio, model.sample_rate)
    chunk = max(1, int(chunk_seconds * model.sample_rate))
    segments, words = [], []
    for start in range(0, len(wave), chunk):
        piece = torch.from_numpy(wave[start : start + chunk])[None].to(model.device)
        log_probs, lengths = model(piece, torch.tensor([piece.shape[1]], device=model.device))
        hyp = decoder.decode(log_probs, lengths)[0][0]
        offset = start / model.sample_rate
        shifted = [Word(w.text, w.start_s + offset, w.end_s + offset, w.confidence) for w in hyp.words]
        words.extend(shifted)
        if hyp.text:
            end = offset + piece.shape[1] / model.sample_rate
            segments.append(Segment(hyp.text, offset, end))
    text = " ".join(s.text for s in segments)
    return Transcript(text, tuple(segments), tuple(words), len(wave) / model.sample_rate)
