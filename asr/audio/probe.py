"""Reading an audio header without decoding: duration, channels and rate (libsndfile, else ffprobe).

This is what lets ``max_seconds`` refuse a long file before a sample is decoded. ffprobe (and ffmpeg,
in `asr.audio.fallback`) run with a protocol and demuxer whitelist: local files only, no playlists or
concat lists that name other files.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from asr.audio.checks import check_file, clean_message
from asr.errors import AudioError

__all__ = [
    "FFMPEG_FORMATS",
    "FFMPEG_PROTOCOLS",
    "AudioInfo",
    "ffprobe",
    "probe_audio",
    "soundfile_info",
    "temp_copy",
]

_FFPROBE_TIMEOUT_S = 30.0
# Local files and pipes only (no http, no concat/playlist demuxers naming other files).
FFMPEG_PROTOCOLS = "file,pipe"
FFMPEG_FORMATS = ",".join(
    ["mov", "mp4", "m4a", "3gp", "matroska", "webm", "ogg", "mp3", "aac", "wav", "flac", "asf", "nistsphere",
     "amr", "amrnb", "amrwb", "aiff", "au", "caf", "w64", "wv", "ape", "ac3", "eac3", "dts", "avi", "flv",
     "mpeg", "mpegts", "oma"]
)  # fmt: skip


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says, read without decoding. ``duration_s`` is None when it does not say."""

    duration_s: float | None
    channels: int
    sample_rate: int
    reader: str  # "soundfile" or "ffprobe"


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
                return soundfile_info(f)
        except (sf.SoundFileError, RuntimeError) as e:
            sf_error = clean_message(str(e), "<bytes>")
        with temp_copy(data) as tmp:
            info = ffprobe(tmp, "<bytes>")
    else:
        path = Path(source)
        check_file(path)
        try:
            with sf.SoundFile(str(path)) as f:
                return soundfile_info(f)
        except (sf.SoundFileError, RuntimeError) as e:
            sf_error = clean_message(str(e), str(path))
        info = ffprobe(path, str(path))
    if isinstance(info, AudioInfo):
        return info
    name = "<bytes>" if isinstance(source, (bytes, bytearray, memoryview)) else os.fspath(source)
    raise AudioError(f"{name}: cannot read the audio header. soundfile: {sf_error}; ffprobe: {info}")


@contextlib.contextmanager
def temp_copy(data: bytes) -> Iterator[Path]:
    """`data` as a temporary file (ffmpeg cannot seek in a pipe; m4a often keeps its index at the end)."""
    with tempfile.TemporaryDirectory(prefix="asr-audio-") as tmp:
        path = Path(tmp) / "input"
        path.write_bytes(data)
        yield path


def soundfile_info(f: sf.SoundFile) -> AudioInfo:
    rate = int(f.samplerate)
    frames = int(f.frames)
    # libsndfile reports an unknown length as a huge count; treat as "the header does not say".
    duration = frames / rate if 0 <= frames < 2**62 else None
    return AudioInfo(duration, int(f.channels), rate, "soundfile")


def ffprobe(path: Path, name: str) -> AudioInfo | str:
    """The first audio stream's header via ffprobe (whitelisted like ffmpeg), or why it cannot say."""
    exe = shutil.which("ffprobe")
    if exe is None:
        return "ffprobe is not installed"
    cmd = [exe, "-v", "error", "-protocol_whitelist", FFMPEG_PROTOCOLS, "-format_whitelist",
           FFMPEG_FORMATS, "-select_streams", "a:0", "-show_entries",
           "stream=channels,sample_rate,duration:format=duration", "-of", "json", str(path)]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=_FFPROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return f"reading the header took longer than {_FFPROBE_TIMEOUT_S:g} s"
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        return clean_message(lines[-1] if lines else f"exit status {proc.returncode}", name, path)
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
