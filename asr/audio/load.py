"""Decoding audio to float32 mono at a fixed rate: whole sources, stretches of files, and writing wav.

soundfile (libsndfile) decodes wav/flac/ogg/opus/mp3, in blocks, stopping at a hard cap on samples
(``max_seconds``), so a file whose header lies cannot get past the cap; the header is checked first
(`asr.audio.checks.check_header`). Other containers go to `asr.audio.fallback` (ffmpeg or librosa).
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import numpy as np
import soundfile as sf

from asr.audio.checks import (
    DECODE_BLOCK_SECONDS,
    array_to_mono,
    check_block,
    check_file,
    check_header,
    check_rate,
    check_samples,
    check_source_rate,
    clean_message,
    frames_to_mono,
    int_to_float,
    resample,
    too_long,
)
from asr.audio.fallback import FFMPEG_TIMEOUT_S, decode_fallback
from asr.audio.probe import probe_audio, soundfile_info, temp_copy
from asr.errors import AudioError
from asr.fileio import atomic_write

__all__ = ["AudioSource", "audio_duration", "load_audio", "load_segment", "save_wav"]

logger = logging.getLogger(__name__)

AudioSource = str | os.PathLike | bytes | np.ndarray


def load_audio(
    source: AudioSource,
    sample_rate: int = 16000,
    *,
    source_rate: int | None = None,
    max_seconds: float | None = None,
    timeout_s: float = FFMPEG_TIMEOUT_S,
) -> np.ndarray:
    """Load ``source`` (a path, encoded file bytes or a sample array) as float32 mono at ``sample_rate``.

    A numpy array needs ``source_rate``; it may be (N,), (N, C) or (C, N) with C <= 8 channels, and an
    integer dtype is scaled to [-1, 1]. Files and bytes carry their own rate, so ``source_rate`` must be
    left out for them. ``max_seconds``: refuse longer audio with :class:`AudioTooLong`, from the header
    before decoding and, whatever the header says, by stopping the decoder at that many seconds.
    ``timeout_s`` bounds an ffmpeg decode. Raises :class:`AudioError` for anything unreadable, empty,
    non-finite or far out of range (|x| > ``MAX_ABS_SAMPLE``).
    """
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds must be positive, got {max_seconds!r}")
    check_rate(sample_rate, "sample_rate")
    if isinstance(source, np.ndarray):
        if source_rate is None:
            raise ValueError("load_audio: a numpy array needs source_rate= (its sample rate in Hz)")
        check_rate(source_rate, "source_rate")
        name = "<array>"
        check_source_rate(name, int(source_rate))
        audio = array_to_mono(source, name)
        rate = source_rate
        if max_seconds is not None and len(audio) > max_seconds * rate:
            raise too_long(name, len(audio) / rate, max_seconds)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        if source_rate is not None:
            raise ValueError(
                "load_audio: source_rate= applies only to numpy arrays; bytes carry their own rate"
            )
        name = "<bytes>"
        audio, rate = _decode_bytes(bytes(source), max_seconds, timeout_s)
    elif isinstance(source, (str, os.PathLike)):
        if source_rate is not None:
            raise ValueError(
                "load_audio: source_rate= applies only to numpy arrays; files carry their own rate"
            )
        name = os.fspath(source)
        audio, rate = _decode_path(Path(source), max_seconds, timeout_s)
    else:
        raise TypeError(f"load_audio: expected a path, bytes or numpy array, got {type(source).__name__}")

    check_samples(audio, name)
    if rate != sample_rate:
        audio = resample(audio, rate, sample_rate)
    return np.ascontiguousarray(audio, dtype=np.float32)


def load_segment(
    path: str | os.PathLike,
    sample_rate: int = 16000,
    offset: float = 0.0,
    duration: float | None = None,
) -> np.ndarray:
    """Samples [``offset``, ``offset + duration``) seconds of a file as float32 mono at ``sample_rate``.

    libsndfile formats seek: only that stretch is decoded, whatever the file's length. Other formats
    are decoded whole and cut. ``duration`` None (or 0): to the end of the file. Raises
    :class:`AudioError` when the file is unreadable or holds no audio in that stretch."""
    check_rate(sample_rate, "sample_rate")
    if not offset and not duration:
        return load_audio(path, sample_rate)
    p = Path(path)
    name = os.fspath(path)
    check_file(p)
    try:
        handle = sf.SoundFile(name)
    except (sf.SoundFileError, RuntimeError):
        handle = None  # not a libsndfile format: decode it whole below
    if handle is None:
        audio = load_audio(p, sample_rate)
        start = int(round(offset * sample_rate))
        stop = None if not duration else start + int(round(duration * sample_rate))
        audio = audio[start:stop]
        rate = sample_rate
    else:
        try:
            with handle:
                rate = handle.samplerate
                check_header(name, handle.channels, None, None, rate)
                handle.seek(min(int(round(offset * rate)), max(handle.frames, 0)))
                frames = -1 if not duration else int(round(duration * rate))
                data = handle.read(frames, dtype="float32", always_2d=True)
        except (sf.SoundFileError, RuntimeError) as e:
            raise AudioError(
                f"{name}: cannot read {duration} s from offset {offset} s ({clean_message(str(e), name)})"
            ) from None
        audio = frames_to_mono(data)
    if len(audio) == 0:
        raise AudioError(f"{name}: no audio at offset {offset} s (the file is shorter)")
    check_samples(audio, name)
    if rate != sample_rate:
        audio = resample(audio, rate, sample_rate)
    return np.ascontiguousarray(audio, dtype=np.float32)


def audio_duration(path: str | os.PathLike) -> float:
    """Duration of an audio file in seconds, from its header (soundfile, else ffprobe); decodes only
    when neither header says."""
    p = Path(path)
    info = probe_audio(p)
    if info.duration_s is not None:
        return info.duration_s
    audio, rate = _decode_path(p, None, FFMPEG_TIMEOUT_S)
    return len(audio) / rate


def save_wav(path: str | os.PathLike, audio: np.ndarray, sample_rate: int) -> None:
    """Write ``audio`` (float, (N,) or (N, C), nominally in [-1, 1]) as 16-bit PCM wav, atomically.

    Samples beyond [-1, 1] are clipped. The file appears complete or not at all: it is written to a
    temporary file in the same folder and renamed over ``path``.
    """
    check_rate(sample_rate, "sample_rate")
    target = Path(path)
    data = np.asarray(audio)
    if data.ndim not in (1, 2) or data.size == 0:
        raise ValueError(f"save_wav: expected a non-empty (N,) or (N, C) array, got shape {data.shape}")
    if np.issubdtype(data.dtype, np.integer):
        data = int_to_float(data)
    data = data.astype(np.float32, copy=False)
    if not np.all(np.isfinite(data)):
        raise ValueError(f"save_wav: audio for {target} contains NaN or infinite samples")
    data = np.clip(data, -1.0, 1.0)

    with atomic_write(target, "wb") as f:  # removes its temporary file whatever interrupts it
        sf.write(f, data, sample_rate, format="WAV", subtype="PCM_16")


def _decode_path(path: Path, max_seconds: float | None, timeout_s: float) -> tuple[np.ndarray, int]:
    check_file(path)
    name = str(path)
    decoded, sf_error = _open_soundfile(name, name, max_seconds)
    if decoded is not None:
        return decoded
    logger.debug("soundfile cannot read %s (%s); trying the ffmpeg fallback", path, sf_error)
    return decode_fallback(path, name, sf_error, max_seconds, timeout_s)


def _decode_bytes(data: bytes, max_seconds: float | None, timeout_s: float) -> tuple[np.ndarray, int]:
    name = "<bytes>"
    if not data:
        raise AudioError(f"{name}: the audio data is empty (0 bytes); pass the contents of an audio file")
    decoded, sf_error = _open_soundfile(io.BytesIO(data), name, max_seconds)
    if decoded is not None:
        return decoded
    logger.debug("soundfile cannot read %s (%s); trying the ffmpeg fallback", name, sf_error)
    # ffmpeg cannot seek in a pipe, and m4a often keeps its index at the end: use a real file.
    with temp_copy(data) as tmp_path:
        return decode_fallback(tmp_path, name, sf_error, max_seconds, timeout_s)


def _open_soundfile(
    source: str | io.BytesIO, name: str, max_seconds: float | None
) -> tuple[tuple[np.ndarray, int] | None, str]:
    """((audio, sample rate), "") when libsndfile opens ``source``; else (None, why not), for the
    fallback's message. An error after opening (too long, bad samples) is raised, not returned."""
    try:
        handle = sf.SoundFile(source)
    except (sf.SoundFileError, RuntimeError) as e:
        return None, clean_message(str(e), name)
    with handle:
        return _read_soundfile(handle, name, max_seconds), ""


def _read_soundfile(handle: sf.SoundFile, name: str, max_seconds: float | None) -> tuple[np.ndarray, int]:
    """Read a libsndfile stream in blocks, down-mixed, stopping past ``max_seconds`` whatever the header."""
    info = soundfile_info(handle)
    check_header(name, info.channels, info.duration_s, max_seconds, info.sample_rate)
    rate = info.sample_rate
    cap = None if max_seconds is None else int(max_seconds * rate)
    step = max(1, int(DECODE_BLOCK_SECONDS * rate))
    blocks: list[np.ndarray] = []
    total = 0
    while True:
        try:
            data = handle.read(step, dtype="float32", always_2d=True)
        except (sf.SoundFileError, RuntimeError) as e:
            raise AudioError(
                f"{name}: cannot decode audio ({clean_message(str(e), name)}); check that the file plays"
            ) from None
        if len(data) == 0:
            break
        block = frames_to_mono(data)
        check_block(block, name)
        total += len(block)
        if cap is not None and total > cap:
            raise too_long(name, total / rate, max_seconds or 0.0, at_least=True)
        blocks.append(block)
    audio = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
    return audio, rate
