"""On-the-fly augmentation of padded batches, vectorised over the batch, on CPU or GPU.

`WaveformAugment` works on (B, samples) waveforms before the feature front end: speed perturbation,
random gain, additive noise at a random SNR (generated coloured noise, or clips from a noise folder)
and simulated room reverberation. `SpecAugment` masks the (B, T, F) features. Both draw from torch's
global RNG, which the training loop saves in its checkpoints, so a resumed run draws the same masks.
Neither is applied at evaluation: the training loop calls them in its training step only. What runs
is one :class:`AugmentConfig`, the ``[train.augment]`` table of a training config.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torchaudio
import torchaudio.functional as AF

from asr.errors import ConfigError

log = logging.getLogger(__name__)

NOISE_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".opus"}


class SpecAugment(torch.nn.Module):
    """Frequency and time masks on (B, T, F) features (torchaudio's transforms, a mask per utterance)."""

    def __init__(self, freq_mask: int, time_mask: int, num_time_masks: int) -> None:
        super().__init__()
        self.freq = torchaudio.transforms.FrequencyMasking(freq_mask, iid_masks=True)
        self.time = torchaudio.transforms.TimeMasking(time_mask, iid_masks=True)
        self.num_time_masks = num_time_masks

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = features.transpose(1, 2).unsqueeze(1)  # (B, 1, F, T): the layout the transforms expect
        x = self.freq(x)
        for _ in range(self.num_time_masks):
            x = self.time(x)
        return x.squeeze(1).transpose(1, 2)


@dataclass(frozen=True)
class AugmentConfig:
    """The ``[train.augment]`` table: which augmentations run and how strongly (waveform kinds all off
    by default, SpecAugment on). Probabilities are per utterance. Saved in every checkpoint."""

    # ---- SpecAugment on the (B, T, F) features
    spec_augment: bool = True
    freq_mask: int = 15  # widest frequency mask, in mel bins
    time_mask: int = 20  # widest time mask, in frames
    num_time_masks: int = 2
    # ---- waveform augmentation, before the front end
    speed_perturb: bool = False
    speed_factors: tuple[float, ...] = (0.9, 1.0, 1.1)  # one drawn per utterance when speed_perturb
    gain_prob: float = 0.0  # probability of a random gain
    gain_db: float = 6.0  # gain drawn uniformly in ±gain_db
    noise_prob: float = 0.0  # probability of additive noise
    noise_snr_db: tuple[float, ...] = (5.0, 30.0)  # SNR drawn uniformly in this range
    noise_dir: str = ""  # folder of noise recordings mixed in (half the time); empty: generated noise
    reverb_prob: float = 0.0  # probability of simulated room reverberation
    reverb_rt60: tuple[float, ...] = (0.2, 0.7)  # reverberation time range, seconds
    telephone_prob: float = 0.0  # 8 kHz telephone band (300-3400 Hz), then back
    babble_prob: float = 0.0  # other utterances of the batch talking underneath
    babble_snr_db: tuple[float, ...] = (5.0, 20.0)  # foreground-to-babble ratio drawn in this range
    babble_voices: int = 3  # how many other utterances talk at once

    def __post_init__(self) -> None:
        for name in ("noise_snr_db", "reverb_rt60", "babble_snr_db"):
            value = getattr(self, name)
            if len(value) != 2 or value[0] > value[1]:
                raise ConfigError(f"train.augment.{name} must be [low, high], got {list(value)}")
        for name in ("gain_prob", "noise_prob", "reverb_prob", "telephone_prob", "babble_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(
                    f"train.augment.{name} must be a probability in [0, 1], got {getattr(self, name)}"
                )
        if self.speed_perturb and not all(0.5 <= f <= 2.0 for f in self.speed_factors):
            raise ConfigError(
                f"train.augment.speed_factors must lie in [0.5, 2], got {list(self.speed_factors)}"
            )

    @property
    def speeds(self) -> tuple[float, ...]:
        """The speed factors drawn from: none unless speed_perturb is on."""
        return self.speed_factors if self.speed_perturb else ()

    @property
    def waveform_active(self) -> bool:
        """Whether any waveform augmentation runs (SpecAugment aside)."""
        speed = any(f != 1.0 for f in self.speeds)
        probs = (self.gain_prob, self.noise_prob, self.reverb_prob, self.telephone_prob, self.babble_prob)
        return speed or any(p > 0 for p in probs)


def _valid_mask(lengths: torch.Tensor, samples: int) -> torch.Tensor:
    return torch.arange(samples, device=lengths.device)[None, :] < lengths[:, None]


def coloured_noise(batch: int, samples: int, exponents: torch.Tensor) -> torch.Tensor:
    """(batch, samples) unit-power noise with a 1/f^exponent power spectrum (0 white, 1 pink, 2 brown)."""
    white = torch.randn(batch, samples, device=exponents.device)
    spectrum = torch.fft.rfft(white, dim=1)
    freqs = torch.arange(spectrum.shape[1], device=white.device).clamp(min=1).float()
    spectrum = spectrum * freqs[None, :].pow(-exponents[:, None] / 2)
    noise = torch.fft.irfft(spectrum, n=samples, dim=1)
    return noise / noise.pow(2).mean(1, keepdim=True).clamp(min=1e-12).sqrt()


def synthetic_rir(batch: int, rt60: torch.Tensor, sample_rate: int, max_seconds: float = 0.6) -> torch.Tensor:
    """(batch, L) room impulse responses: a direct path then exponentially decaying noise (RT60 each)."""
    length = int(max_seconds * sample_rate)
    t = torch.arange(length, device=rt60.device).float() / sample_rate
    decay = torch.exp(-6.9078 * t[None, :] / rt60[:, None])  # -60 dB at t = rt60
    rir = torch.randn(batch, length, device=rt60.device) * decay
    rir[:, 0] = 1.0  # direct path
    return rir / rir.norm(dim=1, keepdim=True)


class WaveformAugment(torch.nn.Module):
    """forward(waveforms (B, S), lengths (B,)) → augmented (B, S'), new lengths (B,).

    Each utterance independently gets a speed factor, a gain, noise and reverberation with the
    configured probabilities. Work is batched: one resampling call per distinct speed factor, one FFT
    convolution for all reverberated utterances, noise for the whole batch at once.
    """

    def __init__(self, config: AugmentConfig, sample_rate: int = 16000, max_noise_files: int = 200):
        super().__init__()
        self.config = config
        self.sample_rate = sample_rate
        self.noises: list[torch.Tensor] = []
        if config.noise_dir:
            self.noises = load_noise_folder(config.noise_dir, sample_rate, max_noise_files)

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.config
        x, lengths = waveforms, lengths
        if any(f != 1.0 for f in cfg.speeds):
            x, lengths = self.speed(x, lengths)
        b, s = x.shape
        device = x.device
        mask = _valid_mask(lengths, s)
        # In this order; each draws its choice of utterances only when enabled, so a config's random
        # stream (and a resumed run's batches) does not depend on effects it leaves off.
        effects: list[tuple[float, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]] = [
            (cfg.babble_prob if b > 1 else 0.0, lambda x, chosen: self.babble(x, lengths, chosen)),
            (cfg.reverb_prob, self.reverb),
            (cfg.noise_prob, lambda x, chosen: self.add_noise(x, lengths, chosen)),
            (cfg.telephone_prob, self.telephone),
        ]
        for prob, effect in effects:
            if prob > 0:
                chosen = torch.rand(b, device=device) < prob
                if chosen.any():
                    x = effect(x, chosen)
        if cfg.gain_prob > 0:
            chosen = torch.rand(b, device=device) < cfg.gain_prob
            gain_db = (torch.rand(b, device=device) * 2 - 1) * cfg.gain_db
            x = x * torch.where(chosen, 10 ** (gain_db / 20), torch.ones_like(gain_db))[:, None]
        return x * mask, lengths

    def babble(self, x: torch.Tensor, lengths: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
        """Add the speech of up to `babble_voices` other utterances of the batch at a random SNR.

        Each other utterance starts at a random offset and repeats to cover the target, so the
        background talks throughout; its words are not in the transcript, which teaches the model to
        follow the foreground voice. (B, S) in, (B, S) out.
        """
        b, s = x.shape
        mask = _valid_mask(lengths, s)
        crowd = torch.zeros_like(x)
        for _ in range(min(self.config.babble_voices, b - 1)):
            shift = torch.randint(1, b, (b,), device=x.device)
            source = (torch.arange(b, device=x.device) + shift) % b
            offset = torch.randint(0, s, (b,), device=x.device)
            # Position t of row i takes sample (t + offset_i) mod len_j of utterance j = source_i.
            src_len = lengths[source].clamp(min=1)
            idx = (torch.arange(s, device=x.device)[None, :] + offset[:, None]) % src_len[:, None]
            voice = torch.gather(x[source], 1, idx)
            power = voice.pow(2).mean(1, keepdim=True).clamp(min=1e-10)
            crowd = crowd + voice / power.sqrt()
        lo, hi = self.config.babble_snr_db
        snr_db = lo + (hi - lo) * torch.rand(b, device=x.device)
        power = (x.pow(2) * mask).sum(1) / lengths.clamp(min=1)
        crowd_power = (crowd.pow(2) * mask).sum(1) / lengths.clamp(min=1)
        scale = (power / crowd_power.clamp(min=1e-12) / 10 ** (snr_db / 10)).sqrt()
        scale = torch.where(chosen, scale, torch.zeros_like(scale))
        return x + crowd * mask * scale[:, None]

    def telephone(self, x: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
        """Telephone band: down to 8 kHz and back (nothing above 4 kHz survives), then a 300 Hz high-pass."""
        rows = chosen.nonzero().squeeze(1)
        narrow = AF.resample(x[rows], self.sample_rate, 8000)
        wide = AF.resample(narrow, 8000, self.sample_rate)[:, : x.shape[1]]
        wide = AF.highpass_biquad(wide, self.sample_rate, 300.0)
        out = x.clone()
        out[rows, : wide.shape[1]] = wide
        return out

    def speed(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Resample each utterance by a factor drawn from `speed_factors` (faster = shorter)."""
        factors = torch.tensor(self.config.speeds, device=x.device)
        picks = torch.randint(len(factors), (x.shape[0],), device=x.device)
        pieces: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        for k, factor in enumerate(self.config.speeds):
            rows = (picks == k).nonzero().squeeze(1)
            if rows.numel() == 0:
                continue
            sub = x[rows, : int(lengths[rows].max())]
            if factor == 1.0:
                new_lengths = lengths[rows]
            else:
                orig = int(round(self.sample_rate * factor))
                g = math.gcd(orig, self.sample_rate)
                sub = torchaudio.functional.resample(sub, orig // g, self.sample_rate // g)
                new_lengths = torch.div(
                    lengths[rows] * self.sample_rate + orig - 1, orig, rounding_mode="floor"
                )
                new_lengths = new_lengths.clamp(max=sub.shape[1])
            pieces.append((rows, sub, new_lengths))
        out_len = max(int(p[2].max()) for p in pieces)
        out = x.new_zeros(x.shape[0], out_len)
        new = lengths.clone()
        for rows, sub, new_lengths in pieces:
            width = min(out_len, sub.shape[1])
            out[rows, :width] = sub[:, :width]
            new[rows] = new_lengths
        return out * _valid_mask(new, out_len), new

    def reverb(self, x: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
        rows = chosen.nonzero().squeeze(1)
        lo, hi = self.config.reverb_rt60
        rt60 = lo + (hi - lo) * torch.rand(rows.numel(), device=x.device)
        rir = synthetic_rir(rows.numel(), rt60, self.sample_rate)
        dry = x[rows]
        wet = torchaudio.functional.fftconvolve(dry, rir)[:, : x.shape[1]]
        # Keep the utterance's level: reverberation should not act as a gain change too.
        scale = dry.norm(dim=1, keepdim=True) / wet.norm(dim=1, keepdim=True).clamp(min=1e-8)
        out = x.clone()
        out[rows] = wet * scale
        return out

    def add_noise(self, x: torch.Tensor, lengths: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
        b, s = x.shape
        lo, hi = self.config.noise_snr_db
        snr_db = lo + (hi - lo) * torch.rand(b, device=x.device)
        exponents = torch.rand(b, device=x.device) * 2  # white … brown
        noise = coloured_noise(b, s, exponents)
        if self.noises:
            use_file = torch.rand(b, device=x.device) < 0.5
            for i in use_file.nonzero().squeeze(1).tolist():
                noise[i] = self._noise_clip(s, x.device)
        mask = _valid_mask(lengths, s)
        power = (x.pow(2) * mask).sum(1) / lengths.clamp(min=1)
        noise_power = (noise.pow(2) * mask).sum(1) / lengths.clamp(min=1)
        scale = (power / noise_power.clamp(min=1e-12) / 10 ** (snr_db / 10)).sqrt()
        scale = torch.where(chosen, scale, torch.zeros_like(scale))
        return x + noise * scale[:, None]

    def _noise_clip(self, samples: int, device: torch.device) -> torch.Tensor:
        clip = self.noises[int(torch.randint(len(self.noises), ()))]
        if clip.numel() < samples:
            clip = clip.repeat(samples // clip.numel() + 1)
        start = int(torch.randint(clip.numel() - samples + 1, ()))
        return clip[start : start + samples].to(device)


def load_noise_folder(folder: str | Path, sample_rate: int, max_files: int = 200) -> list[torch.Tensor]:
    """Noise recordings under `folder` (recursively), resampled to `sample_rate`; unreadable ones skipped."""
    from asr.audio import AudioError, load_audio

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: noise folder not found (train.augment.noise_dir)")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in NOISE_SUFFIXES)[:max_files]
    clips = []
    for path in paths:
        try:
            audio = torch.from_numpy(load_audio(path, sample_rate))
        except AudioError as e:
            log.warning("skipping noise file %s: %s", path, e)
            continue
        if audio.numel() >= sample_rate // 10 and float(audio.abs().max()) > 0:
            clips.append(audio)
    if not clips:
        raise FileNotFoundError(f"{folder}: no usable noise recordings ({', '.join(sorted(NOISE_SUFFIXES))})")
    log.info("noise augmentation: %d recordings from %s", len(clips), folder)
    return clips


def make_waveform_augment(config: AugmentConfig, sample_rate: int) -> WaveformAugment | None:
    """The configured waveform augmentation, or None when every kind is off (the default)."""
    return WaveformAugment(config, sample_rate) if config.waveform_active else None


def make_spec_augment(config: AugmentConfig) -> SpecAugment | None:
    """The configured SpecAugment, or None when it is off."""
    if not config.spec_augment:
        return None
    return SpecAugment(config.freq_mask, config.time_mask, config.num_time_masks)
