"""Voice-activity detection: where the speech is, so that long audio is cut at pauses.

Two detectors with one interface, ``speech_regions(wave, sample_rate) -> [(start, end), ...]`` in samples:

* :class:`SileroVad`: the silero-vad network (PyPI ``silero-vad`` ships its model in the wheel; no
  network), robust to noise and music; used when installed.
* :class:`EnergyVad`: frame energy against an adaptive threshold; no dependencies, good on clean audio.

:func:`segment_stream` turns a stream of audio blocks into speech segments of bounded length with
their global start sample, holding at most a block plus one segment in memory, so an hour of audio
never has to be in memory at once.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = ["EnergyVad", "SileroVad", "Vad", "get_vad", "segment_stream", "split_long_regions"]

log = logging.getLogger(__name__)

Region = tuple[int, int]


class Vad(Protocol):
    name: str

    def speech_regions(self, wave: np.ndarray, sample_rate: int) -> list[Region]: ...


def _clean_mask(speech: np.ndarray, frame: int, min_silence: int, min_speech: int) -> list[Region]:
    """Frame mask → regions (in frames): gaps shorter than min_silence filled, short blips dropped."""
    if not speech.any():
        return []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], speech.astype(np.int8), [0]])))
    regions = [[int(s), int(e)] for s, e in zip(edges[::2], edges[1::2])]
    merged = [regions[0]]
    for s, e in regions[1:]:
        if s - merged[-1][1] < min_silence:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged if e - s >= min_speech]


@dataclass
class EnergyVad:
    """Speech = frames whose energy is well above the recording's noise floor.

    The threshold is ``floor_margin_db`` above the 10th-percentile frame energy, never below
    ``min_db`` (dBFS; digital silence and hiss stay silence) and never more than ``peak_margin_db``
    under the loud (95th-percentile) frames, so audio that is all speech still counts as speech.
    """

    min_silence_s: float = 0.25
    min_speech_s: float = 0.1
    pad_s: float = 0.1
    frame_s: float = 0.02
    floor_margin_db: float = 15.0
    peak_margin_db: float = 30.0
    min_db: float = -55.0
    name: str = "energy"

    def frame_db(self, wave: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
        frame = max(1, int(self.frame_s * sample_rate))
        n = len(wave) // frame
        if n == 0:
            return np.zeros(0, dtype=np.float32), frame
        power = np.square(wave[: n * frame].reshape(n, frame), dtype=np.float32).mean(axis=1)
        return 10.0 * np.log10(power + 1e-10), frame

    def speech_regions(self, wave: np.ndarray, sample_rate: int) -> list[Region]:
        db, frame = self.frame_db(wave, sample_rate)
        if db.size == 0:
            return []
        floor, loud = np.percentile(db, 10), np.percentile(db, 95)
        threshold = max(min(floor + self.floor_margin_db, loud - self.peak_margin_db), self.min_db)
        regions = _clean_mask(
            db > threshold,
            frame,
            int(round(self.min_silence_s / self.frame_s)),
            max(1, int(round(self.min_speech_s / self.frame_s))),
        )
        pad = int(self.pad_s * sample_rate)
        return _pad([(s * frame, e * frame) for s, e in regions], pad, len(wave))


def _pad(regions: list[Region], pad: int, total: int) -> list[Region]:
    """Widen each region by `pad` samples without overlapping its neighbours (they meet halfway)."""
    out: list[Region] = []
    for i, (s, e) in enumerate(regions):
        lo = max(0, s - pad) if i == 0 else max(s - pad, (regions[i - 1][1] + s) // 2)
        hi = min(total, e + pad) if i == len(regions) - 1 else min(e + pad, (e + regions[i + 1][0]) // 2)
        out.append((lo, hi))
    return out


class SileroVad:
    """silero-vad (the ``silero-vad`` package, model shipped in its wheel); 8 or 16 kHz input."""

    name = "silero"

    def __init__(
        self,
        threshold: float = 0.5,
        min_silence_s: float = 0.25,
        min_speech_s: float = 0.1,
        pad_s: float = 0.25,  # silero tends to start late on soft onsets (measured up to ~0.15 s)
    ) -> None:
        try:
            from silero_vad import get_speech_timestamps, load_silero_vad
        except ImportError as e:
            raise ImportError("silero VAD needs the silero-vad package: pip install 'asr-blstm[vad]'") from e
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit.load deprecation inside silero-vad
            self._model = load_silero_vad()
        self._timestamps = get_speech_timestamps
        self.threshold = threshold
        self.min_silence_s = min_silence_s
        self.min_speech_s = min_speech_s
        self.pad_s = pad_s

    def speech_regions(self, wave: np.ndarray, sample_rate: int) -> list[Region]:
        import torch

        if sample_rate not in (8000, 16000):
            raise ValueError(f"silero-vad works at 8000 or 16000 Hz, got {sample_rate}")
        if len(wave) < 512:
            return []
        self._model.reset_states()
        with torch.inference_mode():
            stamps = self._timestamps(
                torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)),
                self._model,
                threshold=self.threshold,
                sampling_rate=sample_rate,
                min_speech_duration_ms=int(1000 * self.min_speech_s),
                min_silence_duration_ms=int(1000 * self.min_silence_s),
                speech_pad_ms=0,
            )
        regions = [(int(t["start"]), int(t["end"])) for t in stamps]
        return _pad(regions, int(self.pad_s * sample_rate), len(wave))


def get_vad(name: str = "auto") -> Vad:
    """'silero', 'energy', or 'auto' (silero when the package is installed, else energy)."""
    if name == "energy":
        return EnergyVad()
    if name == "silero":
        return SileroVad()
    if name == "auto":
        try:
            return SileroVad()
        except ImportError:
            log.info(
                "silero-vad (or torch) is not installed: using the energy-based splitter (pip install 'asr-blstm[vad]')"
            )
            return EnergyVad()
    raise ValueError(f"unknown VAD {name!r}; use 'auto', 'silero' or 'energy'")


def split_long_regions(
    wave: np.ndarray, sample_rate: int, regions: Iterable[Region], max_samples: int
) -> list[Region]:
    """Cut regions longer than `max_samples` at their quietest 20 ms frame in the second half of each
    window, so that no piece exceeds `max_samples` and cuts fall in pauses where the speech has any."""
    out: list[Region] = []
    frame = max(1, sample_rate // 50)
    for start, end in regions:
        while end - start > max_samples:
            lo, hi = start + max_samples // 2, start + max_samples
            n = (hi - lo) // frame
            if n < 1:
                cut = hi
            else:
                chunk = wave[lo : lo + n * frame].reshape(n, frame)
                cut = lo + int(np.argmin(np.square(chunk).mean(axis=1))) * frame + frame // 2
            out.append((start, cut))
            start = cut
        if end > start:
            out.append((start, end))
    return out


def segment_stream(
    blocks: Iterable[np.ndarray],
    sample_rate: int,
    vad: Vad,
    max_segment_s: float = 20.0,
    lookahead_s: float = 2.0,
) -> Iterator[tuple[int, np.ndarray]]:
    """Speech segments of at most `max_segment_s` as (global start sample, samples), in order.

    Blocks are appended to a buffer; the VAD runs on it, segments that end more than `lookahead_s`
    before the buffer's end are final and yielded, and the rest of the buffer is carried over. The
    buffer never holds more than one block plus one segment plus the look-ahead.
    """
    max_samples = max(1, int(max_segment_s * sample_rate))
    tail = int(lookahead_s * sample_rate)
    buf = np.zeros(0, dtype=np.float32)
    offset = 0  # global sample index of buf[0]
    it = iter(blocks)
    while True:
        block = next(it, None)
        if block is not None:
            buf = np.concatenate([buf, block]) if buf.size else block
            # Wait for a little more audio before cutting, unless the buffer is already large.
            if len(buf) < max_samples + 2 * tail:
                continue
        last = block is None
        regions = split_long_regions(buf, sample_rate, vad.speech_regions(buf, sample_rate), max_samples)
        keep_from = len(buf) if last else max(0, len(buf) - tail)
        for s, e in regions:
            if not last and e > len(buf) - tail:
                keep_from = min(keep_from, s)
                break
            yield offset + s, buf[s:e].copy()  # a copy: the buffer itself is freed when it moves on
        if last:
            return
        buf = buf[keep_from:].copy()
        offset += keep_from
