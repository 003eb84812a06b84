"""Audio input/output: any common format in, float32 mono at a fixed sample rate out.

soundfile (libsndfile) decodes wav/flac/ogg/opus/mp3. Other containers (m4a, aac, webm, ...) go through
the ``ffmpeg`` command line (it only decodes; we down-mix and resample as for every other input), or,
where ffmpeg is not installed, through librosa/audioread (CoreAudio or GStreamer on other platforms).
torch/torchaudio and librosa are imported lazily so that ``import asr.audio`` stays cheap.

Hostile or broken input is measured before it is decoded: duration and channel count come from the
container header (libsndfile, or ``ffprobe``), so ``max_seconds`` refuses a long file before a sample is
decoded. Decoding then streams in blocks and stops at a hard cap on samples, so a file whose header lies
cannot get past the cap either.

One job per module:

- `asr.audio.load`: decode a whole source (`load_audio`), a stretch of a file (`load_segment`, which
  seeks), a duration (`audio_duration`); write wav (`save_wav`)
- `asr.audio.stream`: a long recording in blocks (`read_blocks`)
- `asr.audio.probe`: the header alone (`probe_audio`, ffprobe)
- `asr.audio.fallback`: what libsndfile cannot decode (ffmpeg, librosa)
- `asr.audio.checks`: sample sanity, limits, down-mixing and resampling shared by all of them
"""

from __future__ import annotations

from asr.audio.checks import MAX_ABS_SAMPLE, check_block, check_file
from asr.audio.load import AudioSource, audio_duration, load_audio, load_segment, save_wav
from asr.audio.probe import AudioInfo, probe_audio
from asr.audio.stream import BLOCK_SECONDS, read_blocks
from asr.errors import AudioError, AudioTooLong

__all__ = [
    "BLOCK_SECONDS",
    "MAX_ABS_SAMPLE",
    "AudioError",
    "AudioInfo",
    "AudioSource",
    "AudioTooLong",
    "audio_duration",
    "check_block",
    "check_file",
    "load_audio",
    "load_segment",
    "probe_audio",
    "read_blocks",
    "save_wav",
]
