"""More speakers per voice: vocal-tract-length (formant) warping, pitch and tempo set independently.

One recorded voice becomes a family of speakers with other vocal tracts, registers and paces. (sox
cannot do this: its ``pitch`` effect resamples, so it moves formants with F0, and ``speed`` followed by
``pitch`` crashes sox 14.4.2 for some values.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import SynthesisError


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
    # Engines whose clips are never warped: neural voices whose own speakers are the point (WORLD
    # resynthesis makes them buzzier), and hibari, whose variants are warps already.
    skip_engines: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 <= self.prob <= 1.0:
            raise ValueError(f"[corpus.warp] prob must be in [0, 1], got {self.prob}")
        for name, lo_limit, hi_limit in (
            ("formant", 0.7, 1.4),
            ("pitch_semitones", -12, 12),
            ("tempo", 0.5, 2.0),
        ):
            if len(getattr(self, name)) != 2:
                raise ValueError(f"[corpus.warp] {name} must be [low, high], got {getattr(self, name)!r}")
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


def warp_envelope(envelope: np.ndarray, factor: float) -> np.ndarray:
    """(frames, bins) spectral envelope with every frequency moved by ``factor`` (> 1: up)."""
    bins = envelope.shape[1]
    src = np.clip(np.arange(bins) / factor, 0, bins - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, bins - 1)
    frac = src - lo
    return envelope[:, lo] * (1 - frac) + envelope[:, hi] * frac


def apply_warp(x: np.ndarray, sample_rate: int, warp: SpeakerWarp, frame_ms: float = 5.0) -> np.ndarray:
    """(samples,) float32 -> the warped waveform at the same rate (identity returns ``x``).

    The WORLD vocoder (pyworld) splits speech into F0, spectral envelope and aperiodicity: the envelope
    (formants, the vocal tract) is stretched along frequency by ``formant``, F0 is moved by
    ``pitch_semitones``, and resynthesis at another frame period sets the tempo: three independent knobs.
    """
    if warp.identity:
        return x
    try:
        import pyworld
    except ImportError:
        raise SynthesisError('speaker warping needs the WORLD vocoder: pip install -e ".[synth]"') from None
    x64 = np.ascontiguousarray(x, dtype=np.float64)
    f0, times = pyworld.dio(x64, sample_rate, frame_period=frame_ms)
    f0 = pyworld.stonemask(x64, f0, times, sample_rate)
    envelope = pyworld.cheaptrick(x64, f0, times, sample_rate)
    aperiodicity = pyworld.d4c(x64, f0, times, sample_rate)
    f0 = f0 * 2 ** (warp.pitch_semitones / 12)
    if warp.formant != 1.0:
        envelope = np.ascontiguousarray(warp_envelope(envelope, warp.formant))
        aperiodicity = np.ascontiguousarray(warp_envelope(aperiodicity, warp.formant))
    y = pyworld.synthesize(f0, envelope, aperiodicity, sample_rate, frame_ms / warp.tempo)
    if not np.isfinite(y).all():
        raise SynthesisError("WORLD resynthesis produced non-finite samples")
    return y.astype(np.float32)
