"""Checks and conversions every audio reader shares: sample sanity, limits, down-mixing, resampling."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import numpy as np

from asr.errors import AudioError, AudioTooLong

__all__ = [
    "CONVERT_HINT",
    "DECODE_BLOCK_SECONDS",
    "MAX_ABS_SAMPLE",
    "MAX_FILE_CHANNELS",
    "MAX_SOURCE_RATE",
    "MIN_SOURCE_RATE",
    "array_to_mono",
    "check_block",
    "check_file",
    "check_header",
    "check_rate",
    "check_samples",
    "check_source_rate",
    "clean_message",
    "frames_to_mono",
    "int_to_float",
    "StreamResampler",
    "resample",
    "too_long",
]

_MAX_CHANNELS = 8
MAX_FILE_CHANNELS = 32  # more than this in a file is not a recording (a hostile or broken header)
CONVERT_HINT = "convert it with e.g. `ffmpeg -i INPUT -ac 1 -ar 16000 out.wav`"
# Samples beyond this (40 dB over full scale) are not audio: features would overflow to inf/NaN.
MAX_ABS_SAMPLE = 100.0
DECODE_BLOCK_SECONDS = 10.0  # decoders read this much at a time (and check each block)
# Audio at rates outside these is not a recording: 768 kHz is the highest rate audio hardware and formats
# use, and below 1 kHz nothing of speech is left (the band ends at 500 Hz). The bound also keeps the cost
# of upsampling to the model's rate within 16x the samples decoded.
MIN_SOURCE_RATE = 1000
MAX_SOURCE_RATE = 768_000
_OBJECT_REPR = re.compile(r"<[^<>]* object at 0x[0-9a-fA-F]+>")


def check_rate(rate: object, what: str) -> None:
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate <= 0:
        raise ValueError(f"{what} must be a positive integer number of Hz, got {rate!r}")


def check_source_rate(name: str, rate: int) -> None:
    """Refuse, before decoding, a sample rate no recording has (see MIN_SOURCE_RATE, MAX_SOURCE_RATE)."""
    if not MIN_SOURCE_RATE <= rate <= MAX_SOURCE_RATE:
        raise AudioError(
            f"{name}: the header declares a sample rate of {rate} Hz (accepted: {MIN_SOURCE_RATE} to "
            f"{MAX_SOURCE_RATE} Hz); the file is broken or not audio, or {CONVERT_HINT}"
        )


_NOT_FILES = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
)


def check_file(path: Path) -> None:
    """Raise AudioError, with what to do, for a path that is missing, a folder, a device, a pipe, empty
    or unreadable. Only regular files are opened: a FIFO would block the reader, /dev/zero never end."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise AudioError(
            f"{path}: no such file; check the path (relative paths start from {Path.cwd()})"
        ) from None
    except OSError as e:
        raise AudioError(f"{path}: cannot be read ({e.strerror or e})") from None
    if stat.S_ISDIR(mode):
        raise AudioError(f"{path}: is a directory, not an audio file; pass the files inside it")
    for test, what in _NOT_FILES:
        if test(mode):
            raise AudioError(f"{path}: is {what}, not an audio file; pass a regular file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: the file is empty (0 bytes); re-create or re-download it")
    if not os.access(path, os.R_OK):
        raise AudioError(f"{path}: permission denied; make the file readable")


def check_header(
    name: str,
    channels: int,
    duration_s: float | None,
    max_seconds: float | None,
    sample_rate: int | None = None,
) -> None:
    """Refuse, before decoding, a header with an absurd channel count or sample rate, or a duration over
    the limit."""
    if sample_rate is not None:
        check_source_rate(name, sample_rate)
    if not 1 <= channels <= MAX_FILE_CHANNELS:
        raise AudioError(
            f"{name}: the header declares {channels} channels (at most {MAX_FILE_CHANNELS} are accepted); "
            f"{CONVERT_HINT}"
        )
    if max_seconds is not None and duration_s is not None and duration_s > max_seconds:
        raise too_long(name, duration_s, max_seconds)


def too_long(name: str, seconds: float, max_seconds: float, *, at_least: bool = False) -> AudioTooLong:
    lasts = f"more than {max_seconds:g} s" if at_least else f"{seconds:.1f} s"
    return AudioTooLong(
        f"{name}: the audio lasts {lasts}; at most {max_seconds:g} s is accepted: split the recording",
        None if at_least else seconds,
    )


def check_samples(audio: np.ndarray, name: str) -> None:
    if audio.size == 0:
        raise AudioError(f"{name}: decoded to zero samples (no audio); check or re-record the source")
    check_block(audio, name)


def check_block(audio: np.ndarray, name: str) -> None:
    """Raise AudioError for NaN/infinite samples, or samples far beyond full scale (|x| > MAX_ABS_SAMPLE)."""
    if audio.size == 0:
        return
    peak = float(np.max(np.abs(audio)))
    if not np.isfinite(peak):
        raise AudioError(f"{name}: contains NaN or infinite samples; the source is corrupt, re-create it")
    if peak > MAX_ABS_SAMPLE:
        raise AudioError(
            f"{name}: samples reach {peak:.3g}, far beyond full scale (1.0; at most {MAX_ABS_SAMPLE:g} is "
            "accepted): the file is corrupt or not normalised (integer PCM stored as float?); "
            "normalise it to [-1, 1]"
        )


def clean_message(message: str, name: str, path: Path | None = None) -> str:
    """An error message without object reprs or the temporary file's path."""
    message = _OBJECT_REPR.sub(name, message).rstrip(".")
    if path is not None:
        message = message.replace(str(path), name)
    return message


def frames_to_mono(data: np.ndarray) -> np.ndarray:
    """(N, C) frames → (N,) mono: the mean of the channels (a copy of the only one)."""
    return data[:, 0].copy() if data.shape[1] == 1 else data.mean(axis=1)


def array_to_mono(array: np.ndarray, name: str) -> np.ndarray:
    """(N,), (N, C) or (C, N) integer or float samples → float32 (N,), integers scaled to [-1, 1)."""
    if array.dtype == np.bool_ or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise ValueError(f"{name}: expected an integer or float array, got dtype {array.dtype}")
    audio = int_to_float(array) if np.issubdtype(array.dtype, np.integer) else array.astype(np.float32)
    if audio.ndim == 1:
        return audio
    if audio.ndim != 2:
        raise ValueError(f"{name}: expected shape (N,), (N, C) or (C, N), got {array.shape}")
    # The channel axis is the short one; anything with more than a few "channels" is not audio layout.
    channel_axis = 1 if audio.shape[1] <= audio.shape[0] else 0
    if audio.shape[channel_axis] > _MAX_CHANNELS:
        raise ValueError(
            f"{name}: expected shape (N,), (N, C) or (C, N) with C <= {_MAX_CHANNELS}, got {array.shape}"
        )
    return audio.mean(axis=channel_axis)


def int_to_float(array: np.ndarray) -> np.ndarray:
    info = np.iinfo(array.dtype)
    # Map the full integer range onto [-1, 1): unsigned PCM (e.g. 8-bit wav) is centred first.
    offset = (int(info.max) + 1) // 2 if info.min == 0 else 0
    scale = float(int(info.max) + 1 - offset)
    return ((array.astype(np.float64) - offset) / scale).astype(np.float32)


def resample(audio: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    """(S,) or (S, C) float32 at `orig_rate` → `new_rate`, with soxr ("HQ").

    soxr's memory is proportional to the audio whatever the ratio: torchaudio's sinc resampler builds a
    kernel of (new/gcd) x (orig/gcd) taps, gigabytes for 16001 Hz → 16 kHz. soxr is also what the
    synthetic corpus was rendered with (recipes/synthetic/render.py), and it needs no torch."""
    import soxr  # lazy: keeps `import asr.audio` light for tools that only read headers

    return soxr.resample(np.ascontiguousarray(audio, dtype=np.float32), orig_rate, new_rate, "HQ")


class StreamResampler:
    """Resamples consecutive blocks of one recording as if they were one array (soxr keeps the filter's
    state between blocks), so block edges leave no clicks or gaps."""

    def __init__(self, orig_rate: int, new_rate: int) -> None:
        import soxr

        self._stream = soxr.ResampleStream(orig_rate, new_rate, 1, dtype="float32", quality="HQ")

    def __call__(self, block: np.ndarray, last: bool = False) -> np.ndarray:
        return self._stream.resample_chunk(np.ascontiguousarray(block, dtype=np.float32), last=last)
