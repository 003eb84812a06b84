"""Decoding what libsndfile cannot read (m4a, aac, webm, ...): the ``ffmpeg`` command line, else librosa.

ffmpeg only decodes (to a float wav on a pipe, read in blocks): down-mixing and resampling then happen as
for every other input. It runs with a protocol and demuxer whitelist (local files only; no playlists or
concat lists that name other files), ``-t``, an output cap and a timeout. Where ffmpeg is not installed,
librosa/audioread (CoreAudio or GStreamer) decode; librosa is imported only then.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from asr.audio.checks import (
    CONVERT_HINT,
    DECODE_BLOCK_SECONDS,
    MAX_FILE_CHANNELS,
    check_block,
    check_header,
    check_source_rate,
    clean_message,
    frames_to_mono,
    too_long,
)
from asr.audio.probe import FFMPEG_FORMATS, FFMPEG_PROTOCOLS, AudioInfo, ffprobe
from asr.errors import AudioError

__all__ = ["FFMPEG_TIMEOUT_S", "decode_fallback"]

FFMPEG_TIMEOUT_S = 300.0


def decode_fallback(
    path: Path, name: str, sf_error: str, max_seconds: float | None, timeout_s: float
) -> tuple[np.ndarray, int]:
    """Decode what libsndfile cannot: ffmpeg if installed, else librosa/audioread."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is not None:
        info = ffprobe(path, name)
        if isinstance(info, AudioInfo):
            check_header(name, info.channels, info.duration_s, max_seconds, info.sample_rate)
        try:
            return _decode_ffmpeg(ffmpeg, path, name, max_seconds, timeout_s)
        except _DecodeFailed as e:
            other = f"ffmpeg: {clean_message(str(e), name, path)}"
    else:
        try:
            return _decode_librosa(path, name, max_seconds)
        except AudioError:
            raise
        except Exception as e:  # audioread raises many unrelated types; any of them means "cannot read"
            other = f"librosa/audioread: {type(e).__name__}: {clean_message(str(e), name, path)}".rstrip(": ")
    raise AudioError(
        f"{name}: cannot decode audio (corrupt or unsupported format). soundfile: {sf_error}; {other}. "
        f"Check that the file plays, or {CONVERT_HINT}."
    )


class _DecodeFailed(Exception):
    pass


def _decode_ffmpeg(
    ffmpeg: str, path: Path, name: str, max_seconds: float | None, timeout_s: float
) -> tuple[np.ndarray, int]:
    """ffmpeg writes a float wav to a pipe, read in blocks (native rate and channels: down-mixing and
    resampling then match the soundfile path; ffmpeg's own "-ac 1" sums stereo at -3 dB instead of taking
    the mean). ``-t`` and an output cap stop it past ``max_seconds``; a timer kills it after ``timeout_s``.
    Tags are left out of the wav (``-map_metadata -1``): a long comment would precede the audio."""
    limit = [] if max_seconds is None else ["-t", f"{max_seconds + 1.0:.3f}"]
    cmd = [ffmpeg, "-nostdin", "-hide_banner", "-v", "error",
           "-protocol_whitelist", FFMPEG_PROTOCOLS, "-format_whitelist", FFMPEG_FORMATS,
           "-i", str(path), "-map", "0:a:0", "-map_metadata", "-1", "-vn", "-sn", "-dn", *limit,
           "-f", "wav", "-acodec", "pcm_f32le", "pipe:1"]  # fmt: skip
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors)
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(timeout_s, kill)
        timer.start()
        try:
            assert proc.stdout is not None
            audio, rate, stopped = _read_wav_stream(proc.stdout, name, max_seconds)
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()  # stopped at the cap (or failed): ffmpeg need not finish
            proc.stdout.close()  # type: ignore[union-attr]
            returncode = proc.wait()
        if stopped is not None:
            raise stopped
        if timed_out.is_set():
            raise _DecodeFailed(f"decoding took longer than {timeout_s:g} s")
        if returncode != 0 or audio is None:
            errors.seek(0)
            lines = errors.read(64 * 1024).decode("utf-8", "replace").strip().splitlines()
            if lines:
                raise _DecodeFailed(lines[-1])
            # Killed by us (returncode -9) because its output was not a float wav: say that, not "-9".
            raise _DecodeFailed(
                "its output was not a readable wav" if audio is None else f"exit status {returncode}"
            )
    return audio, rate


def _read_exact(stream: Any, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = stream.read(n - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _skip(stream: Any, n: int) -> bool:
    """Read and drop `n` bytes in pieces; False if the stream ends first."""
    while n > 0:
        piece = stream.read(min(n, 1 << 16))
        if not piece:
            return False
        n -= len(piece)
    return True


def _read_wav_stream(
    stream: Any, name: str, max_seconds: float | None
) -> tuple[np.ndarray | None, int, AudioError | None]:
    """Parse ffmpeg's streamed float wav: (mono audio or None if unreadable, rate, a cap error or None)."""
    head = _read_exact(stream, 12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None, 0, None
    channels = rate = bits = 0
    while True:
        chunk = _read_exact(stream, 8)
        if len(chunk) < 8:
            return None, 0, None
        kind, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if kind == b"data":
            break
        if kind == b"fmt ":
            if size > 1024:  # a wave format header is 16 to 40 bytes
                return None, 0, None
            body = _read_exact(stream, size + (size & 1))
            if len(body) < 16:
                return None, 0, None
            channels, rate = struct.unpack("<HI", body[2:8])
            bits = struct.unpack("<H", body[14:16])[0]
        elif not _skip(stream, size + (size & 1)):  # other chunks (tags) are skipped, never held
            return None, 0, None
    if bits != 32 or rate <= 0:
        return None, 0, None
    if not 1 <= channels <= MAX_FILE_CHANNELS:
        return None, rate, AudioError(f"{name}: the audio has {channels} channels; {CONVERT_HINT}")
    try:
        check_source_rate(name, rate)
    except AudioError as e:
        return None, rate, e
    cap = None if max_seconds is None else int(max_seconds * rate)
    frame_bytes = 4 * channels
    step = max(1, int(DECODE_BLOCK_SECONDS * rate)) * frame_bytes
    blocks: list[np.ndarray] = []
    total = 0
    rest = b""
    while True:
        data = stream.read(step)
        if not data:
            break
        data = rest + data
        usable = len(data) - len(data) % frame_bytes
        rest = data[usable:]
        frames = np.frombuffer(data[:usable], dtype="<f4").reshape(-1, channels)
        block = frames_to_mono(frames)
        check_block(block, name)
        total += len(block)
        if cap is not None and total > cap:
            return None, rate, too_long(name, total / rate, max_seconds or 0.0, at_least=True)
        blocks.append(block)
    audio = np.concatenate(blocks).astype(np.float32, copy=False) if blocks else np.zeros(0, np.float32)
    return audio, rate, None


def _decode_librosa(path: Path, name: str, max_seconds: float | None) -> tuple[np.ndarray, int]:
    import librosa  # lazy: its first load costs 10-30 s (numba), paid only on this rare path

    duration = None if max_seconds is None else max_seconds + 1.0
    with warnings.catch_warnings():
        # librosa warns that soundfile failed and that audioread is deprecated: both expected here.
        warnings.simplefilter("ignore")
        audio, rate = librosa.load(str(path), sr=None, mono=False, duration=duration)
    check_source_rate(name, int(rate))
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:  # librosa returns (channels, samples)
        audio = audio.mean(axis=0)
    if max_seconds is not None and len(audio) > max_seconds * rate:
        raise too_long(name, len(audio) / rate, max_seconds, at_least=True)
    return audio, int(rate)
