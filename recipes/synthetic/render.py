"""Rendering planned utterances to wav files: the engines' audio trimmed, warped, resampled and written
atomically, in parallel worker processes."""

from __future__ import annotations

import logging
import multiprocessing
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
from corpus_config import CorpusConfig
from synth import apply_warp, get_backend
from voice_plan import Utterance

from asr.fileio import atomic_path

log = logging.getLogger("asr.recipes.synthetic")


def engine_versions(engines: Sequence[str]) -> str:
    """Every engine's version (part of the corpus hash: a changed engine re-renders its clips)."""
    versions = [
        get_backend(e).version() if e == "espeak" else f"{e}: {get_backend(e).version()}" for e in engines
    ]
    return " | ".join(versions)


def trim_silence(x: np.ndarray, sr: int, keep_s: float, threshold_db: float = -60.0) -> np.ndarray:
    """Cut leading/trailing silence (below ``threshold_db`` relative to the peak) beyond ``keep_s``.

    espeak-ng starts speaking ~12 ms in and ends with ~0.3 s of digital zeros."""
    if x.size == 0:
        return x
    peak = float(np.abs(x).max())
    if peak == 0.0:
        return x[:0]
    loud = np.flatnonzero(np.abs(x) > peak * 10 ** (threshold_db / 20))
    keep = int(round(keep_s * sr))
    return x[max(0, loud[0] - keep) : min(x.size, loud[-1] + 1 + keep)]


# No engine here speaks faster than ~25 characters a second (the fastest training clips, espeak-ng at
# 210 wpm or MBROLA warped 1.1x faster, take ~0.036 s a character); a render under 0.025 s a character
# stopped early. A backend that knows its engine failed says so itself (Festival: MBROLA's "Fatal
# error"); this catches the engines that fail silently. Such a clip teaches CTC nothing and scores an
# utterance as all deletions.
MIN_SECONDS_PER_CHARACTER = 0.025


def check_render_length(x: np.ndarray, sr: int, text: str, engine: str) -> None:
    """RuntimeError if ``x`` (trimmed) is too short to be ``text`` spoken: the engine gave up early."""
    seconds = x.size / sr
    if seconds < max(0.1, MIN_SECONDS_PER_CHARACTER * len(text)):
        raise RuntimeError(
            f"{engine} produced {seconds:.2f} s of audio for {len(text)} characters ({text!r}): "
            "the engine stopped early"
        )


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    if sr_in == sr_out:
        return x
    try:
        import soxr  # installed with librosa; 3x faster than torchaudio here, high quality
    except ImportError:  # pragma: no cover - soxr comes with librosa
        import torch
        import torchaudio.functional as AF

        return AF.resample(torch.from_numpy(x), sr_in, sr_out).numpy()
    return soxr.resample(x, sr_in, sr_out, quality="HQ")


def synthesize(utt: Utterance, path: Path, sample_rate: int, max_silence: float) -> float:
    """Speak ``utt`` into ``path`` (16-bit mono wav, written atomically); returns the duration (s)."""
    backend = get_backend(utt.engine)
    x = backend.synthesize(utt.spoken, utt.voice, utt.engine_settings())
    sr = backend.sample_rate
    x = trim_silence(x, sr, max_silence)
    check_render_length(x, sr, utt.spoken, utt.engine)
    x = apply_warp(x, sr, utt.warp)
    y = resample(x, sr, sample_rate)
    peak = float(np.abs(y).max())
    if peak > 0.98:  # some engines (piper) reach full scale: scale down rather than clip
        y = y * (0.98 / peak)
    pcm = np.round(np.clip(y, -1.0, 32767 / 32768) * 32768).astype("<i2")
    # Thousands of clips: no fsync each (a killed run leaves a temporary file the next run deletes).
    with (
        atomic_path(path, durable=False) as tmp,
        sf.SoundFile(tmp, "w", samplerate=sample_rate, channels=1, subtype="PCM_16", format="WAV") as f,
    ):
        f.write(pcm)
    return len(pcm) / sample_rate


def _synthesize_job(job: tuple[Utterance, str, int, float]) -> tuple[str, float | None, str | None]:
    utt, path, sample_rate, max_silence = job
    try:
        return utt.id, synthesize(utt, Path(path), sample_rate, max_silence), None
    except Exception as e:  # one bad utterance never kills the run
        return utt.id, None, f"{type(e).__name__}: {e}"


def existing_duration(path: Path, sample_rate: int) -> float | None:
    """Duration of an already written wav if it is what this recipe writes, else None (cheap: header)."""
    try:
        info = sf.info(str(path))
    except Exception:
        return None
    if info.samplerate != sample_rate or info.channels != 1 or info.subtype != "PCM_16" or info.frames <= 0:
        return None
    return info.frames / sample_rate


class Progress:
    """A tqdm bar on a terminal; elsewhere (a log file of a background run) a log line a minute with
    the clips done, the hours of audio, the rate and the time left."""

    def __init__(self, total: int, enabled: bool, every_s: float = 60.0) -> None:
        self.total, self.done, self.audio_s = total, 0, 0.0
        self.enabled = enabled and total > 0
        self.every_s = every_s
        self.t0 = self.last = time.monotonic()
        self.bar = None
        if self.enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc="synthesizing", unit="utt", file=sys.stderr, mininterval=1.0)

    def update(self, audio_s: float) -> None:
        self.done += 1
        self.audio_s += audio_s
        if self.bar is not None:
            self.bar.update(1)
            return
        now = time.monotonic()
        if self.enabled and (now - self.last >= self.every_s or self.done == self.total):
            self.last = now
            log.info("%s", self.line(now - self.t0))

    def line(self, elapsed: float) -> str:
        rate = self.done / max(elapsed, 1e-9)
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        return (
            f"synthesized {self.done}/{self.total} ({100 * self.done / self.total:.1f} %), "
            f"{self.audio_s / 3600:.2f} h of audio in {format_seconds(elapsed)} ({rate * 3600:.0f} utt/h), "
            f"ETA {format_seconds(left)}"
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def format_seconds(s: float) -> str:
    if s == float("inf"):
        return "?"
    h, rest = divmod(int(s), 3600)
    return f"{h}h{rest // 60:02d}m" if h else f"{rest // 60}m{rest % 60:02d}s"


# Engines that keep per-voice state in a worker (Festival loads a voice): their clips are rendered
# voice by voice, last. The others in plan order, engines mixed, evaluation splits first: a long run
# stopped half way leaves every engine, voice and split partly rendered (not some whole, others
# missing), and the mix of fast and slow engines stays the same throughout, so the ETA holds.
VOICE_GROUPED_ENGINES = frozenset({"festival", "piper"})


def render_order(todo: list[tuple[Utterance, Path]]) -> list[tuple[Utterance, Path]]:
    position = {id(t): i for i, t in enumerate(todo)}

    def key(t: tuple[Utterance, Path]) -> tuple:
        u = t[0]
        if u.engine in VOICE_GROUPED_ENGINES:
            return (1, u.engine, u.voice, 0, 0, u.id)
        return (0, "", "", int(u.split == "train"), position[id(t)], "")

    return sorted(todo, key=key)


def run_synthesis(
    todo: list[tuple[Utterance, Path]], cfg: CorpusConfig, jobs: int, progress: bool
) -> tuple[dict[str, float], dict[str, str]]:
    """Synthesize ``todo`` with ``jobs`` processes; returns (id -> duration, id -> error)."""
    todo = render_order(todo)
    work = [(u, str(p), cfg.sample_rate, cfg.max_silence) for u, p in todo]
    durations: dict[str, float] = {}
    errors: dict[str, str] = {}
    bar = Progress(len(work), progress)

    def collect(results: Iterable[tuple[str, float | None, str | None]]) -> None:
        for uid, dur, err in results:
            if err is None:
                durations[uid] = dur
            else:
                errors[uid] = err
                log.warning("utterance %s failed: %s", uid, err)
            bar.update(dur or 0.0)

    try:
        if jobs <= 1 or len(work) < 8:
            collect(map(_synthesize_job, work))
        else:
            with multiprocessing.Pool(jobs) as pool:
                collect(pool.imap_unordered(_synthesize_job, work, chunksize=8))
    finally:
        bar.close()
    return durations, errors
