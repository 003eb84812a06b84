"""Audio input/output: any common format in, float32 mono at a fixed sample rate out.

soundfile (libsndfile) decodes wav/flac/ogg/opus/mp3. Other containers (m4a, aac, webm, ...) go through
the ``ffmpeg`` command line (it only decodes; we down-mix and resample as for every other input), or,
where ffmpeg is not installed, through librosa/audioread (CoreAudio or GStreamer on other platforms).
torch/torchaudio and librosa are imported lazily so that ``import asr.audio`` stays cheap.

Hostile or broken input is measured before it is decoded: duration and channel count come from the
container header (libsndfile, or ``ffprobe``), so ``max_seconds`` refuses a long file before a sample is
decoded. Decoding then streams in blocks and stops at a hard cap on samples, so a file whose header lies
cannot get past the cap either. ffmpeg runs with a protocol and demuxer whitelist (local files only; no
playlists or concat lists that name other files), ``-t``, an output cap and a timeout.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import shutil
import struct
import subprocess
import tempfile
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from asr.errors import AudioError, AudioTooLong

__all__ = [
    "AudioError",
    "AudioInfo",
    "AudioTooLong",
    "MAX_ABS_SAMPLE",
    "audio_duration",
    "load_audio",
    "load_segment",
    "probe_audio",
    "save_wav",
]

logger = logging.getLogger(__name__)

_MAX_CHANNELS = 8
_MAX_FILE_CHANNELS = 32  # more than this in a file is not a recording (a hostile or broken header)
_CONVERT_HINT = "convert it with e.g. `ffmpeg -i INPUT -ac 1 -ar 16000 out.wav`"
# Samples beyond this (40 dB over full scale) are not audio: features would overflow to inf/NaN.
MAX_ABS_SAMPLE = 100.0
_BLOCK_SECONDS = 10.0  # decoding reads this much at a time
_FFMPEG_TIMEOUT_S = 300.0
_FFPROBE_TIMEOUT_S = 30.0
# Local files and pipes only (no http, no concat/playlist demuxers naming other files).
_FFMPEG_PROTOCOLS = "file,pipe"
_FFMPEG_FORMATS = ",".join(
    ["mov", "mp4", "m4a", "3gp", "matroska", "webm", "ogg", "mp3", "aac", "wav", "flac", "asf", "nistsphere",
     "amr", "amrnb", "amrwb", "aiff", "au", "caf", "w64", "wv", "ape", "ac3", "eac3", "dts", "avi", "flv",
     "mpeg", "mpegts", "oma"]
)  # fmt: skip
_OBJECT_REPR = re.compile(r"<[^<>]* object at 0x[0-9a-fA-F]+>")


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says, read without decoding. ``duration_s`` is None when it does not say."""

    duration_s: float | None
    channels: int
    sample_rate: int
    reader: str  # "soundfile" or "ffprobe"


AudioSource = str | os.PathLike | bytes | np.ndarray


def load_audio(
    source: AudioSource,
    sample_rate: int = 16000,
    *,
    source_rate: int | None = None,
    max_seconds: float | None = None,
    timeout_s: float = _FFMPEG_TIMEOUT_S,
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
    _check_rate(sample_rate, "sample_rate")
    if isinstance(source, np.ndarray):
        if source_rate is None:
            raise ValueError("load_audio: a numpy array needs source_rate= (its sample rate in Hz)")
        _check_rate(source_rate, "source_rate")
        name = "<array>"
        audio = _array_to_mono(source, name)
        rate = source_rate
        if max_seconds is not None and len(audio) > max_seconds * rate:
            raise _too_long(name, len(audio) / rate, max_seconds)
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

    _check_samples(audio, name)
    if rate != sample_rate:
        audio = _resample(audio, rate, sample_rate)
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
    _check_rate(sample_rate, "sample_rate")
    if not offset and not duration:
        return load_audio(path, sample_rate)
    p = Path(path)
    name = os.fspath(path)
    _check_file(p)
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
                _check_header(name, handle.channels, None, None)
                handle.seek(min(int(round(offset * rate)), max(handle.frames, 0)))
                frames = -1 if not duration else int(round(duration * rate))
                data = handle.read(frames, dtype="float32", always_2d=True)
        except (sf.SoundFileError, RuntimeError) as e:
            raise AudioError(
                f"{name}: cannot read {duration} s from offset {offset} s ({_clean(str(e), name)})"
            ) from None
        audio = data[:, 0].copy() if data.shape[1] == 1 else data.mean(axis=1)
    if len(audio) == 0:
        raise AudioError(f"{name}: no audio at offset {offset} s (the file is shorter)")
    _check_samples(audio, name)
    if rate != sample_rate:
        audio = _resample(audio, rate, sample_rate)
    return np.ascontiguousarray(audio, dtype=np.float32)


def audio_duration(path: str | os.PathLike) -> float:
    """Duration of an audio file in seconds, from its header (soundfile, else ffprobe); decodes only
    when neither header says."""
    p = Path(path)
    info = probe_audio(p)
    if info.duration_s is not None:
        return info.duration_s
    audio, rate = _decode_path(p, None, _FFMPEG_TIMEOUT_S)
    return len(audio) / rate


def probe_audio(source: str | os.PathLike | bytes) -> AudioInfo:
    """Duration, channels and rate of a file (path or bytes) from its container header, decoding nothing.

    libsndfile formats are read by soundfile, others by ``ffprobe``; raises :class:`AudioError` when
    neither can read the header."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if not data:
            raise AudioError("<bytes>: the audio data is empty (0 bytes); pass the contents of an audio file")
        try:
            with sf.SoundFile(io.BytesIO(data)) as f:
                return _soundfile_info(f)
        except (sf.SoundFileError, RuntimeError) as e:
            sf_error = _clean(str(e), "<bytes>")
        with _temp_copy(data) as tmp:
            info = _ffprobe(tmp, "<bytes>")
    else:
        path = Path(source)
        _check_file(path)
        try:
            with sf.SoundFile(str(path)) as f:
                return _soundfile_info(f)
        except (sf.SoundFileError, RuntimeError) as e:
            sf_error = _clean(str(e), str(path))
        info = _ffprobe(path, str(path))
    if isinstance(info, AudioInfo):
        return info
    name = "<bytes>" if isinstance(source, (bytes, bytearray, memoryview)) else os.fspath(source)
    raise AudioError(f"{name}: cannot read the audio header. soundfile: {sf_error}; ffprobe: {info}")


def save_wav(path: str | os.PathLike, audio: np.ndarray, sample_rate: int) -> None:
    """Write ``audio`` (float, (N,) or (N, C), nominally in [-1, 1]) as 16-bit PCM wav, atomically.

    Samples beyond [-1, 1] are clipped. The file appears complete or not at all: it is written to a
    temporary file in the same folder and renamed over ``path``.
    """
    _check_rate(sample_rate, "sample_rate")
    target = Path(path)
    data = np.asarray(audio)
    if data.ndim not in (1, 2) or data.size == 0:
        raise ValueError(f"save_wav: expected a non-empty (N,) or (N, C) array, got shape {data.shape}")
    if np.issubdtype(data.dtype, np.integer):
        data = _int_to_float(data)
    data = data.astype(np.float32, copy=False)
    if not np.all(np.isfinite(data)):
        raise ValueError(f"save_wav: audio for {target} contains NaN or infinite samples")
    data = np.clip(data, -1.0, 1.0)

    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            sf.write(f, data, sample_rate, format="WAV", subtype="PCM_16")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        # Never leave a half-written temp file behind, whatever interrupted us.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


# --- decoding -------------------------------------------------------------------------------------


def _decode_path(path: Path, max_seconds: float | None, timeout_s: float) -> tuple[np.ndarray, int]:
    _check_file(path)
    name = str(path)
    try:
        handle = sf.SoundFile(name)
    except (sf.SoundFileError, RuntimeError) as e:
        sf_error = _clean(str(e), name)
    else:
        with handle:
            return _read_soundfile(handle, name, max_seconds)
    logger.debug("soundfile cannot read %s (%s); trying the ffmpeg fallback", path, sf_error)
    return _decode_fallback(path, name, sf_error, max_seconds, timeout_s)


def _decode_bytes(data: bytes, max_seconds: float | None, timeout_s: float) -> tuple[np.ndarray, int]:
    name = "<bytes>"
    if not data:
        raise AudioError(f"{name}: the audio data is empty (0 bytes); pass the contents of an audio file")
    try:
        handle = sf.SoundFile(io.BytesIO(data))
    except (sf.SoundFileError, RuntimeError) as e:
        sf_error = _clean(str(e), name)
    else:
        with handle:
            return _read_soundfile(handle, name, max_seconds)
    logger.debug("soundfile cannot read %s (%s); trying the ffmpeg fallback", name, sf_error)
    # ffmpeg cannot seek in a pipe, and m4a often keeps its index at the end: use a real file.
    with _temp_copy(data) as tmp_path:
        return _decode_fallback(tmp_path, name, sf_error, max_seconds, timeout_s)


@contextlib.contextmanager
def _temp_copy(data: bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="asr-audio-") as tmp:
        path = Path(tmp) / "input"
        path.write_bytes(data)
        yield path


def _soundfile_info(f: sf.SoundFile) -> AudioInfo:
    rate = int(f.samplerate)
    frames = int(f.frames)
    # libsndfile reports an unknown length as a huge count; treat as "the header does not say".
    duration = frames / rate if 0 <= frames < 2**62 else None
    return AudioInfo(duration, int(f.channels), rate, "soundfile")


def _check_header(name: str, channels: int, duration_s: float | None, max_seconds: float | None) -> None:
    if not 1 <= channels <= _MAX_FILE_CHANNELS:
        raise AudioError(
            f"{name}: the header declares {channels} channels (at most {_MAX_FILE_CHANNELS} are accepted); "
            f"{_CONVERT_HINT}"
        )
    if max_seconds is not None and duration_s is not None and duration_s > max_seconds:
        raise _too_long(name, duration_s, max_seconds)


def _too_long(name: str, seconds: float, max_seconds: float, *, at_least: bool = False) -> AudioTooLong:
    lasts = f"more than {max_seconds:g} s" if at_least else f"{seconds:.1f} s"
    return AudioTooLong(
        f"{name}: the audio lasts {lasts}; at most {max_seconds:g} s is accepted: split the recording",
        None if at_least else seconds,
    )


def _read_soundfile(handle: sf.SoundFile, name: str, max_seconds: float | None) -> tuple[np.ndarray, int]:
    """Read a libsndfile stream in blocks, down-mixed, stopping past ``max_seconds`` whatever the header."""
    info = _soundfile_info(handle)
    _check_header(name, info.channels, info.duration_s, max_seconds)
    rate = info.sample_rate
    cap = None if max_seconds is None else int(max_seconds * rate)
    step = max(1, int(_BLOCK_SECONDS * rate))
    blocks: list[np.ndarray] = []
    total = 0
    while True:
        try:
            data = handle.read(step, dtype="float32", always_2d=True)
        except (sf.SoundFileError, RuntimeError) as e:
            raise AudioError(
                f"{name}: cannot decode audio ({_clean(str(e), name)}); check that the file plays"
            ) from None
        if len(data) == 0:
            break
        block = data[:, 0].copy() if data.shape[1] == 1 else data.mean(axis=1)
        check_block(block, name)
        total += len(block)
        if cap is not None and total > cap:
            raise _too_long(name, total / rate, max_seconds or 0.0, at_least=True)
        blocks.append(block)
    audio = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
    return audio, rate


def _decode_fallback(
    path: Path, name: str, sf_error: str, max_seconds: float | None, timeout_s: float
) -> tuple[np.ndarray, int]:
    """Decode what libsndfile cannot: ffmpeg if installed, else librosa/audioread."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is not None:
        info = _ffprobe(path, name)
        if isinstance(info, AudioInfo):
            _check_header(name, info.channels, info.duration_s, max_seconds)
        try:
            return _decode_ffmpeg(ffmpeg, path, name, max_seconds, timeout_s)
        except _DecodeFailed as e:
            other = f"ffmpeg: {_clean(str(e), name, path)}"
    else:
        try:
            return _decode_librosa(path, name, max_seconds)
        except AudioError:
            raise
        except Exception as e:  # audioread raises many unrelated types; any of them means "cannot read"
            other = f"librosa/audioread: {type(e).__name__}: {_clean(str(e), name, path)}".rstrip(": ")
    raise AudioError(
        f"{name}: cannot decode audio (corrupt or unsupported format). soundfile: {sf_error}; {other}. "
        f"Check that the file plays, or {_CONVERT_HINT}."
    )


class _DecodeFailed(Exception):
    pass


def _ffprobe(path: Path, name: str) -> AudioInfo | str:
    """The first audio stream's header via ffprobe (whitelisted like ffmpeg), or why it cannot say."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        return "ffprobe is not installed"
    cmd = [ffprobe, "-v", "error", "-protocol_whitelist", _FFMPEG_PROTOCOLS, "-format_whitelist",
           _FFMPEG_FORMATS, "-select_streams", "a:0", "-show_entries",
           "stream=channels,sample_rate,duration:format=duration", "-of", "json", str(path)]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=_FFPROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return f"reading the header took longer than {_FFPROBE_TIMEOUT_S:g} s"
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        return _clean(lines[-1] if lines else f"exit status {proc.returncode}", name, path)
    try:
        report = json.loads(proc.stdout or b"{}")
        stream = (report.get("streams") or [None])[0]
        if stream is None:
            return "no audio stream"
        duration = None
        for value in (stream.get("duration"), (report.get("format") or {}).get("duration")):
            with contextlib.suppress(TypeError, ValueError):
                duration = float(value)
                break
        return AudioInfo(duration, int(stream["channels"]), int(stream["sample_rate"]), "ffprobe")
    except (KeyError, TypeError, ValueError) as e:
        return f"unreadable report ({e})"


def _decode_ffmpeg(
    ffmpeg: str, path: Path, name: str, max_seconds: float | None, timeout_s: float
) -> tuple[np.ndarray, int]:
    """ffmpeg writes a float wav to a pipe, read in blocks (native rate and channels: down-mixing and
    resampling then match the soundfile path; ffmpeg's own "-ac 1" sums stereo at -3 dB instead of taking
    the mean). ``-t`` and an output cap stop it past ``max_seconds``; a timer kills it after ``timeout_s``."""
    limit = [] if max_seconds is None else ["-t", f"{max_seconds + 1.0:.3f}"]
    cmd = [ffmpeg, "-nostdin", "-hide_banner", "-v", "error",
           "-protocol_whitelist", _FFMPEG_PROTOCOLS, "-format_whitelist", _FFMPEG_FORMATS,
           "-i", str(path), "-map", "0:a:0", "-vn", "-sn", "-dn", *limit,
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
            raise _DecodeFailed(lines[-1] if lines else f"exit status {returncode}")
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
        if size > 1 << 20:
            return None, 0, None
        body = _read_exact(stream, size + (size & 1))
        if kind == b"fmt ":
            channels, rate = struct.unpack("<HI", body[2:8])
            bits = struct.unpack("<H", body[14:16])[0]
    if bits != 32 or rate <= 0:
        return None, 0, None
    if not 1 <= channels <= _MAX_FILE_CHANNELS:
        return None, rate, AudioError(f"{name}: the audio has {channels} channels; {_CONVERT_HINT}")
    cap = None if max_seconds is None else int(max_seconds * rate)
    frame_bytes = 4 * channels
    step = max(1, int(_BLOCK_SECONDS * rate)) * frame_bytes
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
        block = frames[:, 0].copy() if channels == 1 else frames.mean(axis=1)
        check_block(block, name)
        total += len(block)
        if cap is not None and total > cap:
            return None, rate, _too_long(name, total / rate, max_seconds or 0.0, at_least=True)
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
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:  # librosa returns (channels, samples)
        audio = audio.mean(axis=0)
    if max_seconds is not None and len(audio) > max_seconds * rate:
        raise _too_long(name, len(audio) / rate, max_seconds, at_least=True)
    return audio, int(rate)


# --- checks and conversions -----------------------------------------------------------------------


def _check_rate(rate: object, what: str) -> None:
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate <= 0:
        raise ValueError(f"{what} must be a positive integer number of Hz, got {rate!r}")


def _check_file(path: Path) -> None:
    if not path.exists():
        raise AudioError(f"{path}: no such file; check the path (relative paths start from {Path.cwd()})")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file; pass the files inside it")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: the file is empty (0 bytes); re-create or re-download it")
    if not os.access(path, os.R_OK):
        raise AudioError(f"{path}: permission denied; make the file readable")


def _check_samples(audio: np.ndarray, name: str) -> None:
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


def _clean(message: str, name: str, path: Path | None = None) -> str:
    """An error message without object reprs or the temporary file's path."""
    message = _OBJECT_REPR.sub(name, message).rstrip(".")
    if path is not None:
        message = message.replace(str(path), name)
    return message


def _array_to_mono(array: np.ndarray, name: str) -> np.ndarray:
    if array.dtype == np.bool_ or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise ValueError(f"{name}: expected an integer or float array, got dtype {array.dtype}")
    audio = _int_to_float(array) if np.issubdtype(array.dtype, np.integer) else array.astype(np.float32)
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


def _int_to_float(array: np.ndarray) -> np.ndarray:
    info = np.iinfo(array.dtype)
    # Map the full integer range onto [-1, 1): unsigned PCM (e.g. 8-bit wav) is centred first.
    offset = (int(info.max) + 1) // 2 if info.min == 0 else 0
    scale = float(int(info.max) + 1 - offset)
    return ((array.astype(np.float64) - offset) / scale).astype(np.float32)


def _resample(audio: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    import torch  # lazy: keeps `import asr.audio` light for tools that only read headers
    import torchaudio.functional as taf

    with torch.inference_mode():
        out = taf.resample(
            torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)), orig_rate, new_rate
        )
    return out.numpy()
