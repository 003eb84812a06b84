"""How audio becomes features: the frozen `FeatureConfig` (no torch: exported models read it too).

The torch front end that computes them is `asr.frontend.LogMelFrontend`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


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
    # Cepstral smoothing: keep the first K coefficients of each frame's DCT over the mel bins and
    # transform back (same n_mels): the spectral envelope (formants) without the fine ripple of pitch
    # harmonics. 0 leaves log-mel as is. On held-out-engine folds K=24 gave no clear gain (recipe README).
    cepstral_lifter: int = 0

    def __post_init__(self) -> None:
        if self.normalize not in ("utterance", "none"):
            raise ValueError(f"FeatureConfig.normalize must be 'utterance' or 'none', got {self.normalize!r}")
        if not 0 <= self.cepstral_lifter <= self.n_mels:
            raise ValueError(
                f"FeatureConfig.cepstral_lifter must be in [0, n_mels={self.n_mels}], got {self.cepstral_lifter}"
            )
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

    def num_frames(self, num_samples: Any) -> Any:
        """Frames produced for `num_samples` samples (centered STFT): an int, or elementwise for a
        tensor / array of non-negative sample counts (floor division on each)."""
        return num_samples // self.hop_length + 1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FeatureConfig:
        return cls(**d)
