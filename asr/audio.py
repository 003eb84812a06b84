"""Audio input/output: any common format in, float32 mono at a fixed sample rate out.

soundfile (libsndfile) decodes wav/flac/ogg/opus/mp3. Other containers (m4a, aac, webm, ...) go through
the ``ffmpeg`` command line (it only decodes; we down-mix and resample as for every other input), or,
where ffmpeg is not installed, through librosa/audioread (CoreAudio or GStreamer on other platforms).
torch/torchaudio and librosa are imported lazily so that ``import asr.audio`` stays cheap.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf

__all__ = ["AudioError", "audio_duration", "load_audio", "save_wav"]

logger = logging.getLogger(__name__)

_MAX_CHANNELS = 8
_CONVERT_HINT = "convert it with e.g. `ffmpeg -i INPUT -ac 1 -ar 16000 out.wav`"


class AudioError(Exception):
    """Audio that cannot be used; the message names the source, the problem and what to do."""


AudioSource = str | os.PathLike | bytes | np.ndarray


def load_audio(
    source: AudioSource,
    sample_rate: int = 16000,
    *,
    source_rate: int | None = None,
) -> np.ndarray:
    """Load ``source`` (a path, encoded file bytes or a sample array) as float32 mono at ``sample_rate``.

    A numpy array needs ``source_rate``; it may be (N,), (N, C) or (C, N) with C <= 8 channels, and an
    integer dtype is scaled to [-1, 1]. Files and bytes carry their own rate, so ``source_rate`` must be
    left out for them. Raises :class:`AudioError` for anything unreadable, empty or non-finite.
    """
    _check_rate(sample_rate, "sample_rate")
    if isinstance(source, np.ndarray):
        if source_rate is None:
            raise ValueError("load_audio: a numpy array needs source_rate= (its sample rate in Hz)")
        _check_rate(source_rate, "source_rate")
        name = "<array>"
        audio = _array_to_mono(source, name)
        rate = source_rate
    elif isinstance(source, (bytes, bytearray, memoryview)):
        if source_rate is not None:
            raise ValueError(
                "load_audio: source_rate= applies only to numpy arrays; bytes carry their own rate"
            )
        name = "<bytes>"
        audio, rate = _decode_bytes(bytes(source))
    elif isinstance(source, (str, os.PathLike)):
        if source_rate is not None:
            raise ValueError(
                "load_audio: source_rate= applies only to numpy arrays; files carry their own rate"
            )
        name = os.fspath(source)
        audio, rate = _decode_path(Path(source))
    else:
        raise TypeError(f"load_audio: expected a path, bytes or numpy array, got {type(source).__name__}")

    _check_samples(audio, name)
    if rate != sample_rate:
        audio = _resample(audio, rate, sample_rate)
    return np.ascontiguousarray(audio, dtype=np.float32)


def audio_duration(path: str | os.PathLike) -> float:
    """Duration of an audio file in seconds, read from the header where soundfile can (no decoding)."""
    p = Path(path)
    _check_file(p)
    try:
        return float(sf.info(str(p)).duration)
    except (sf.SoundFileError, RuntimeError):
        pass
    # Not a libsndfile format (m4a, webm, ...): decode it at its own rate.
    audio, rate = _decode_path(p)
    return len(audio) / rate


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


def _decode_path(path: Path) -> tuple[np.ndarray, int]:
    _check_file(path)
    try:
        return _read_soundfile(str(path))
    except (sf.SoundFileError, RuntimeError) as e:
        sf_error = str(e).rstrip(".")
    logger.debug("soundfile cannot read %s (%s); trying the ffmpeg fallback", path, sf_error)
    return _decode_fallback(path, str(path), sf_error)


def _decode_bytes(data: bytes) -> tuple[np.ndarray, int]:
    name = "<bytes>"
    if not data:
        raise AudioError(f"{name}: the audio data is empty (0 bytes); pass the contents of an audio file")
    try:
        return _read_soundfile(io.BytesIO(data))
    except (sf.SoundFileError, RuntimeError) as e:
        sf_error = str(e).rstrip(".")
    logger.debug("soundfile cannot read %s (%s); trying the ffmpeg fallback", name, sf_error)
    # ffmpeg cannot seek in a pipe, and m4a often keeps its index at the end: use a real file.
    with tempfile.TemporaryDirectory(prefix="asr-audio-") as tmp:
        tmp_path = Path(tmp) / "input"
        tmp_path.write_bytes(data)
        return _decode_fallback(tmp_path, name, sf_error)


def _read_soundfile(file: str | io.BytesIO) -> tuple[np.ndarray, int]:
    data, rate = sf.read(file, dtype="float32", always_2d=True)
    return data.mean(axis=1), int(rate)


def _decode_fallback(path: Path, name: str, sf_error: str) -> tuple[np.ndarray, int]:
    """Decode what libsndfile cannot: ffmpeg if installed, else librosa/audioread."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is not None:
        try:
            return _decode_ffmpeg(ffmpeg, path)
        except _DecodeFailed as e:
            other = f"ffmpeg: {e}"
    else:
        try:
            return _decode_librosa(path)
        except Exception as e:  # audioread raises many unrelated types; any of them means "cannot read"
            other = f"librosa/audioread: {type(e).__name__}: {e}".rstrip(": ")
    raise AudioError(
        f"{name}: cannot decode audio (corrupt or unsupported format). soundfile: {sf_error}; {other}. "
        f"Check that the file plays, or {_CONVERT_HINT}."
    )


class _DecodeFailed(Exception):
    pass


def _decode_ffmpeg(ffmpeg: str, path: Path) -> tuple[np.ndarray, int]:
    # ffmpeg writes a float wav to the pipe (size fields unknown, which libsndfile accepts), so the
    # native rate and channels come back in its header: down-mixing and resampling then match the
    # soundfile path (ffmpeg's own "-ac 1" sums stereo at -3 dB instead of taking the mean).
    cmd = [ffmpeg, "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0", "-vn",
           "-f", "wav", "-acodec", "pcm_f32le", "pipe:1"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise _DecodeFailed(lines[-1] if lines else f"exit status {proc.returncode}")
    try:
        return _read_soundfile(io.BytesIO(proc.stdout))
    except (sf.SoundFileError, RuntimeError) as e:
        raise _DecodeFailed(f"unreadable output ({e})") from None


def _decode_librosa(path: Path) -> tuple[np.ndarray, int]:
    import librosa  # lazy: its first load costs 10-30 s (numba), paid only on this rare path

    with warnings.catch_warnings():
        # librosa warns that soundfile failed and that audioread is deprecated: both expected here.
        warnings.simplefilter("ignore")
        audio, rate = librosa.load(str(path), sr=None, mono=False)
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:  # librosa returns (channels, samples)
        audio = audio.mean(axis=0)
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
    if not np.all(np.isfinite(audio)):
        raise AudioError(f"{name}: contains NaN or infinite samples; the source is corrupt, re-create it")


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
