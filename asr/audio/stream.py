"""Reading a recording in blocks, so that memory does not grow with its length.

`read_blocks` streams the files libsndfile reads (seeking, decoding one block at a time) and cuts
everything else (other containers, encoded bytes, sample arrays) into blocks after decoding it whole.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from asr.audio.checks import (
    StreamResampler,
    check_block,
    check_file,
    check_header,
    check_rate,
    frames_to_mono,
)
from asr.audio.load import AudioSource, load_audio
from asr.errors import AudioError

__all__ = ["BLOCK_SECONDS", "read_blocks"]

log = logging.getLogger(__name__)

BLOCK_SECONDS = 60.0


def read_blocks(
    source: AudioSource,
    sample_rate: int,
    *,
    source_rate: int | None = None,
    block_seconds: float = BLOCK_SECONDS,
    name: str | None = None,
    on_duration: Callable[[float], None] | None = None,
) -> Iterator[np.ndarray]:
    """Float32 mono blocks (S,) at `sample_rate`, each at most `block_seconds` long, in order.

    `source` is a path, encoded file bytes, or a sample array (then give `source_rate`). `name` names
    the source in messages. `on_duration(seconds)` is called once the length is known (from the header
    before the first block, or after decoding), not at all when the header does not say.
    Raises AudioError (lazily, while iterating) for unreadable audio.
    """
    check_rate(sample_rate, "sample_rate")
    if isinstance(source, (str, os.PathLike)):
        if source_rate is not None:
            raise ValueError(
                "read_blocks: source_rate= applies only to numpy arrays; files carry their own rate"
            )
        path = Path(source)
        name = name or os.fspath(path)
        check_file(path)
        try:
            handle = sf.SoundFile(str(path))
        except (sf.SoundFileError, RuntimeError):
            handle = None  # not a libsndfile format: the ffmpeg/librosa fallback decodes it whole
        if handle is not None:
            yield from _stream_soundfile(handle, sample_rate, name, block_seconds, on_duration)
            return
        wave = load_audio(path, sample_rate)
    elif isinstance(source, np.ndarray):
        if source_rate is None:
            raise ValueError("read_blocks: a numpy array needs source_rate= (its sample rate in Hz)")
        name = name or "<array>"
        _note_rate(name, source_rate, sample_rate)
        wave = load_audio(source, sample_rate, source_rate=source_rate)
    else:
        name = name or "<bytes>"
        with contextlib.suppress(sf.SoundFileError, RuntimeError):  # the fallback decoders say nothing
            _note_rate(name, sf.info(io.BytesIO(bytes(source))).samplerate, sample_rate)
        wave = load_audio(source, sample_rate)
    if on_duration is not None:
        on_duration(len(wave) / sample_rate)
    step = int(block_seconds * sample_rate)
    for i in range(0, len(wave), step):
        yield wave[i : i + step]


def _stream_soundfile(
    handle: sf.SoundFile,
    target: int,
    name: str,
    block_seconds: float,
    on_duration: Callable[[float], None] | None,
) -> Iterator[np.ndarray]:
    with handle:
        rate = handle.samplerate
        # channels and rate before a block is read: a block is `step` frames of every channel
        check_header(name, handle.channels, None, None, rate)
        _note_rate(name, rate, target)
        if handle.frames > 0 and on_duration is not None:
            on_duration(handle.frames / rate)
        step = max(1, int(block_seconds * rate))
        # One resampler for the whole recording: its filter state carries across blocks.
        resampler = StreamResampler(rate, target) if rate != target else None
        while True:
            try:
                data = handle.read(step, dtype="float32", always_2d=True)
            except (sf.SoundFileError, RuntimeError) as e:
                raise AudioError(f"{name}: cannot decode audio ({e}); check that the file plays") from None
            last = len(data) < step
            block = frames_to_mono(data) if len(data) else np.zeros(0, np.float32)
            check_block(block, name)  # NaN/inf, or far beyond full scale
            if resampler is not None:
                block = resampler(block, last=last)
            if len(block):
                yield np.ascontiguousarray(block, dtype=np.float32)
            if last:
                return


def _note_rate(name: str, rate: int, target: int) -> None:
    if rate < target:
        log.info(
            "%s: %d Hz audio resampled to the model's %d Hz (frequencies above %d Hz are missing, so "
            "accuracy may be lower than on %d Hz recordings)",
            name,
            rate,
            target,
            rate // 2,
            target,
        )
    elif rate != target:
        log.debug("%s: resampling %d Hz to %d Hz", name, rate, target)
