"""More speakers per voice: vocal-tract-length (formant) warping with pitch and tempo set independently.

``sox speed a`` scales formants, pitch and tempo together by ``a`` (a shorter or longer vocal tract);
``pitch`` and ``tempo`` (WSOLA, formant-preserving) then move pitch and tempo to where they were asked
for. So one recorded voice becomes a family of speakers with other vocal tracts, registers and paces.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .base import SynthesisError, parse_wav, run, wav_bytes, which


@dataclass(frozen=True)
class SpeakerWarp:
    """The warps applied to one utterance: formant factor, pitch shift (semitones), tempo factor."""

    formant: float = 1.0
    pitch_semitones: float = 0.0
    tempo: float = 1.0

    @property
    def identity(self) -> bool:
        return self.formant == 1.0 and self.pitch_semitones == 0.0 and self.tempo == 1.0

    def to_dict(self) -> dict[str, float]:
        return {"formant": self.formant, "pitch": self.pitch_semitones, "tempo": self.tempo}


@dataclass(frozen=True)
class WarpConfig:
    """How often and how far voices are warped (the ``[corpus.warp]`` table)."""

    prob: float = 0.0
    formant: tuple[float, float] = (0.88, 1.12)
    pitch_semitones: tuple[float, float] = (-3.0, 3.0)
    tempo: tuple[float, float] = (0.9, 1.1)

    def __post_init__(self) -> None:
        if not 0.0 <= self.prob <= 1.0:
            raise ValueError(f"[corpus.warp] prob must be in [0, 1], got {self.prob}")
        for name, lo_limit, hi_limit in (
            ("formant", 0.7, 1.4),
            ("pitch_semitones", -12, 12),
            ("tempo", 0.5, 2.0),
        ):
            lo, hi = getattr(self, name)
            if not lo_limit <= lo <= hi <= hi_limit:
                raise ValueError(f"[corpus.warp] {name} must be [low, high] within {lo_limit}..{hi_limit}")

    def draw(self, rng: np.random.Generator) -> SpeakerWarp:
        """A warp for one utterance (identity with probability 1 - prob); always consumes 4 draws."""
        u = rng.uniform(size=4)
        if u[0] >= self.prob:
            return SpeakerWarp()

        def at(lo_hi: tuple[float, float], x: float) -> float:
            return round(lo_hi[0] + (lo_hi[1] - lo_hi[0]) * float(x), 3)

        return SpeakerWarp(at(self.formant, u[1]), at(self.pitch_semitones, u[2]), at(self.tempo, u[3]))

    @classmethod
    def from_dict(cls, table: Mapping[str, object]) -> WarpConfig:
        known = {"prob", "formant", "pitch_semitones", "tempo"}
        unknown = sorted(set(table) - known)
        if unknown:
            raise ValueError(f"[corpus.warp]: unknown keys {unknown}; known keys: {sorted(known)}")
        kwargs: dict[str, object] = {}
        for k, v in table.items():
            if k == "prob":
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise ValueError(f"[corpus.warp] prob must be a number, got {v!r}")
                kwargs[k] = float(v)
            else:
                if not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v)):
                    raise ValueError(f"[corpus.warp] {k} must be [low, high], got {v!r}")
                kwargs[k] = (float(v[0]), float(v[1]))
        return cls(**kwargs)  # type: ignore[arg-type]


def apply_warp(x: np.ndarray, sample_rate: int, warp: SpeakerWarp) -> np.ndarray:
    """(samples,) float32 -> the warped waveform at the same rate (sox; identity returns ``x``)."""
    if warp.identity:
        return x
    if which("sox") is None:
        raise SynthesisError("sox is not installed (needed for speaker warping): apt-get install -y sox")
    a = warp.formant
    # After `speed a` the pitch moved by 12*log2(a) semitones and the tempo by a: undo what was not asked.
    pitch_cents = 100 * warp.pitch_semitones - 1200 * math.log2(a)
    tempo = warp.tempo / a
    effects = ["speed", f"{a:.4f}"]
    if abs(pitch_cents) > 1:
        effects += ["pitch", f"{pitch_cents:.1f}"]
    if abs(tempo - 1) > 1e-3:
        effects += ["tempo", "-s", f"{tempo:.4f}"]
    out = run(
        [
            "sox",
            "-q",
            "-t",
            "wav",
            "-",
            "-t",
            "wav",
            "-b",
            "16",
            "-",
            *effects,
            "rate",
            "-h",
            str(sample_rate),
        ],
        stdin=wav_bytes(x, sample_rate),
    )
    y, _ = parse_wav(out)
    return y
