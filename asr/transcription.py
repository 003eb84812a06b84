"""Audio in, transcript out: the user-facing join of audio loading, VAD, model and decoder.

Long recordings are read in blocks (`asr.audio.read_blocks`: never whole, for files soundfile can read), cut at pauses by a
voice-activity detector into segments of bounded length, decoded in batches (segments of several files
share batches) and stitched back together with times from the start of each recording. Memory therefore
depends on the block, segment and batch sizes, not on the length of the audio.

A run reports how far it is through `on_progress` (a :class:`Progress` after each decoded batch and
each finished file, with the segments just decoded); it prints nothing itself: `asr transcribe` draws
the progress bar and the --verbose segment lines from these reports.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from asr.audio import BLOCK_SECONDS, AudioError, read_blocks
from asr.decoding import Hypothesis, Word
from asr.inference import emissions, eval_mode, resolve_decoder
from asr.torch_compat import inference_context, to_numpy
from asr.vad import Vad, get_vad, segment_stream
from asr.word_times import extend_word_ends, snap_to_sound

if TYPE_CHECKING:
    from asr.recognizer import Recognizer

__all__ = ["Progress", "Segment", "Transcript", "transcribe", "transcribe_many"]

log = logging.getLogger(__name__)

AudioInput = str | os.PathLike | bytes | np.ndarray
_BLOCK_SECONDS = BLOCK_SECONDS  # how much of a recording is read at a time


@dataclass(frozen=True)
class Segment:
    """A stretch of speech between pauses; times in seconds from the start of the recording."""

    text: str
    start_s: float
    end_s: float
    words: tuple[Word, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Transcript:
    text: str
    segments: tuple[Segment, ...] = field(default_factory=tuple)
    words: tuple[Word, ...] = field(default_factory=tuple)
    duration_s: float = 0.0


@dataclass(frozen=True)
class Progress:
    """How far a :func:`transcribe_many` run is, as passed to its `on_progress` callback.

    `seconds_done` counts finished recordings whole and, of the others, the audio up to the end of
    their last decoded segment. `segments` are those decoded since the previous report, in order
    within each recording, each with the name of its recording (its path, "<array>" or "<bytes>").
    """

    files_done: int
    files_total: int
    files_opened: int  # recordings started (their length, when the header gives it, is in seconds_known)
    seconds_done: float
    seconds_known: float
    segments: tuple[tuple[str, Segment], ...] = ()

    @property
    def seconds_total(self) -> float | None:
        """The audio length of the whole run: the lengths known so far, and each recording not yet
        opened counted at their mean (exact once every recording is opened); None before any is."""
        if self.files_opened == 0:
            return None
        unopened = max(0, self.files_total - self.files_opened)
        return self.seconds_known + unopened * self.seconds_known / self.files_opened


ProgressCallback = Callable[[Progress], None]


def transcribe(
    model: Recognizer,
    audio: AudioInput,
    decoder: Any = None,
    sample_rate: int | None = None,
    *,
    vad: str | Vad | None = "auto",
    max_segment_s: float = 20.0,
    batch_seconds: float = 120.0,
    on_progress: ProgressCallback | None = None,
) -> Transcript:
    """Transcribe one recording.

    `audio` is a path, encoded file bytes, or a sample array (then give `sample_rate`; any rate, mono
    or multi-channel). `vad`: 'auto' (silero-vad when installed, else energy), 'silero', 'energy', a
    detector object, or None/'none' to decode everything in pieces cut at the quietest points.
    Segments are at most `max_segment_s` long; `on_progress` is called as in :func:`transcribe_many`.
    `decoder`: None decodes as the model does by default (its decoder_config: beam search + LM for the
    shipped model); "greedy", a DecoderConfig or a decoder (`asr.inference.resolve_decoder`).
    Raises AudioError for unreadable audio; silence gives an empty transcript.
    """
    (_, result), *_ = transcribe_many(
        model,
        [(audio, sample_rate)],
        decoder=decoder,
        vad=vad,
        max_segment_s=max_segment_s,
        batch_seconds=batch_seconds,
        on_progress=on_progress,
    )
    if isinstance(result, Exception):
        raise result
    return result


def transcribe_many(
    model: Recognizer,
    sources: Iterable[AudioInput | tuple[AudioInput, int | None]],
    decoder: Any = None,
    *,
    vad: str | Vad | None = "auto",
    max_segment_s: float = 20.0,
    batch_seconds: float = 120.0,
    on_progress: ProgressCallback | None = None,
) -> Iterator[tuple[AudioInput, Transcript | AudioError]]:
    """Transcribe several recordings, in order, yielding (source, Transcript or AudioError) as each
    completes. Segments of consecutive recordings share batches, so many short files decode together.
    A source may be given as (array, sample_rate).

    `on_progress(Progress)` is called at the start, when a recording's length becomes known, after
    each decoded batch (with its segments) and as recordings finish; an exception it raises ends the run.
    """
    runner = _Runner(model, decoder, _make_vad(vad), max_segment_s, batch_seconds, on_progress)
    with inference_context():
        yield from runner.run(sources)


def _make_vad(vad: str | Vad | None) -> Vad | None:
    if vad is None or vad == "none":
        return None
    if isinstance(vad, str):
        return get_vad(vad)
    return vad


class _NoVad:
    """All audio is speech; long stretches are still cut at their quietest points."""

    name = "none"

    def speech_regions(self, wave: np.ndarray, sample_rate: int) -> list[tuple[int, int]]:
        # Digital silence (below -80 dBFS throughout) holds no speech: nothing to decode.
        return [(0, len(wave))] if len(wave) and float(np.abs(wave).max()) > 1e-4 else []


@dataclass
class _Job:
    source: AudioInput
    name: str
    index: int  # position in the run: orders the segments of a batch for the progress report
    pending: int = 0  # segments waiting in the batch
    done_reading: bool = False
    samples: int = 0
    duration_s: float | None = None  # from the header, before the audio is read
    decoded_to: int = 0  # sample where the last decoded segment ends
    segments: list[Segment] = field(default_factory=list)
    error: AudioError | None = None


class _Runner:
    def __init__(
        self,
        model: Recognizer,
        decoder: Any,
        vad: Vad | None,
        max_segment_s: float,
        batch_seconds: float,
        on_progress: ProgressCallback | None,
    ) -> None:
        if max_segment_s <= 0 or batch_seconds <= 0:
            raise ValueError("max_segment_s and batch_seconds must be positive")
        self.model = model
        self.decoder = resolve_decoder(model, decoder)
        self.vad = vad or _NoVad()
        self.rate = model.sample_rate
        self.max_segment_s = max_segment_s
        self.batch_samples = int(max(batch_seconds, max_segment_s) * self.rate)
        self.on_progress = on_progress
        self.batch: list[tuple[_Job, int, np.ndarray]] = []
        # for the progress reports: the run's size, and what the recordings already handed back add up to
        self.files_total = 0
        self.files_done = 0
        self.seconds_finished = 0.0
        self.jobs: list[_Job] = []  # started, not yet handed back (in input order)

    def run(self, sources: Iterable[Any]) -> Iterator[tuple[AudioInput, Transcript | AudioError]]:
        with eval_mode(self.model):
            yield from self._run(list(sources))

    def _run(self, sources: list[Any]) -> Iterator[tuple[AudioInput, Transcript | AudioError]]:
        jobs = self.jobs
        self.files_total = len(sources)
        self._report()
        for index, item in enumerate(sources):
            audio, rate = item if isinstance(item, tuple) else (item, None)
            _check_input(audio, rate)
            job = _Job(audio, _name(audio), index)
            jobs.append(job)
            try:
                blocks = self._blocks(job, audio, rate)
                for start, samples in segment_stream(blocks, self.rate, self.vad, self.max_segment_s):
                    batched = sum(len(s) for _, _, s in self.batch)
                    if self.batch and batched + len(samples) > self.batch_samples:
                        self._decode_batch()
                    self.batch.append((job, start, samples))
                    job.pending += 1
            except Exception as e:  # noqa: BLE001 - a bad file is reported and skipped, never ends the run
                self._fail(job, e)
                self.batch = [b for b in self.batch if b[0] is not job]
                job.pending = 0
            job.done_reading = True
            yield from self._finished()
        if self.batch:
            self._decode_batch()
        yield from self._finished()

    @staticmethod
    def _fail(job: _Job, error: Exception) -> None:
        """Mark `job` failed: an AudioError as it is; anything else (a bug, or a file that trips one) as
        an AudioError naming the file, with the traceback logged at DEBUG and kept as its cause."""
        if job.error is not None:
            return
        if isinstance(error, AudioError):
            job.error = error
            return
        log.debug("%s: unexpected error while transcribing", job.name, exc_info=error)
        wrapped = AudioError(
            f"{job.name}: cannot be transcribed (unexpected {type(error).__name__}: {error}); "
            "skipped (`asr --verbose transcribe` logs the traceback)"
        )
        wrapped.__cause__ = error
        job.error = wrapped

    def _blocks(self, job: _Job, audio: Any, rate: int | None) -> Iterator[np.ndarray]:
        def add_duration(seconds: float) -> None:
            job.duration_s = seconds
            self._report()

        blocks = read_blocks(
            audio,
            self.rate,
            source_rate=rate,
            block_seconds=_BLOCK_SECONDS,
            name=job.name,
            on_duration=add_duration,
        )
        for block in blocks:
            job.samples += len(block)
            yield block

    def _decode_batch(self) -> None:
        batch = sorted(self.batch, key=lambda b: -len(b[2]))
        self.batch = []
        try:
            self._decode(batch)
        except Exception as e:  # noqa: BLE001 - isolate the segment that fails; the others go on
            if len(batch) == 1:
                job = batch[0][0]
                job.pending -= 1
                self._fail(job, e)
                return
            for item in batch:
                self.batch = [item]
                self._decode_batch()

    def _decode(self, batch: list[tuple[_Job, int, np.ndarray]]) -> None:
        log_probs, out_lengths = emissions(self.model, [s for _, _, s in batch])
        nbests = self.decoder.decode(log_probs, out_lengths)
        blank = np.exp(to_numpy(log_probs[..., self.model.vocab.blank_id], np.float32))
        out_lengths = to_numpy(out_lengths).tolist()
        found: list[tuple[_Job, Segment | None]] = []  # applied once the whole batch is done
        for (job, start, samples), nbest, pb, n in zip(batch, nbests, blank, out_lengths):
            hyp: Hypothesis = nbest[0]
            offset = start / self.rate
            words = extend_word_ends(hyp.words, pb[:n], self.model.frame_shift_s)
            words = snap_to_sound(words, samples, self.rate)
            span = len(samples) / self.rate  # the last frame may reach past the samples: clamp
            words = tuple(
                Word(w.text, offset + min(w.start_s, span), offset + min(w.end_s, span), w.confidence)
                for w in words
            )
            segment = None
            if hyp.text:
                # The segment spans its words (edges on the sound), not the VAD's padded region.
                start, end = (words[0].start_s, words[-1].end_s) if words else (offset, offset + span)
                segment = Segment(hyp.text, start, end, words)
            found.append((job, segment))
        for (job, start, samples), (_, segment) in zip(batch, found):
            job.pending -= 1
            job.decoded_to = max(job.decoded_to, start + len(samples))
            if segment is not None:
                job.segments.append(segment)
        if self.on_progress is not None:
            new = sorted((s for s in found if s[1] is not None), key=lambda s: (s[0].index, s[1].start_s))
            self._report(tuple((job.name, segment) for job, segment in new))

    def _finished(self) -> Iterator[tuple[AudioInput, Transcript | AudioError]]:
        """Yield jobs from the front of the queue whose every segment is decoded (keeps input order)."""
        jobs = self.jobs
        while jobs and jobs[0].done_reading and jobs[0].pending == 0:
            job = jobs.pop(0)
            self.files_done += 1
            self.seconds_finished += job.samples / self.rate
            self._report()
            if job.error is not None:
                yield job.source, job.error
                continue
            segments = tuple(sorted(job.segments, key=lambda s: s.start_s))
            words = tuple(w for s in segments for w in s.words)
            text = " ".join(s.text for s in segments)
            yield job.source, Transcript(text, segments, words, job.samples / self.rate)

    def _report(self, segments: tuple[tuple[str, Segment], ...] = ()) -> None:
        """Call on_progress with where the run stands (a recording read and decoded whole but waiting
        behind an earlier one counts as done audio, not yet as a done file)."""
        if self.on_progress is None:
            return
        done = known = self.seconds_finished
        for job in self.jobs:
            whole = job.samples / self.rate
            done += whole if job.done_reading and job.pending == 0 else job.decoded_to / self.rate
            known += max(whole, job.duration_s or 0.0)
        self.on_progress(
            Progress(
                files_done=self.files_done,
                files_total=self.files_total,
                files_opened=self.files_done + len(self.jobs),
                seconds_done=done,
                seconds_known=known,
                segments=segments,
            )
        )


def _check_input(audio: Any, rate: int | None) -> None:
    """A caller's mistake (not a bad file) raises at once."""
    if isinstance(audio, (str, os.PathLike)) and rate is not None:
        raise ValueError("a sample rate applies only to numpy arrays; files carry their own rate")
    if isinstance(audio, np.ndarray) and rate is None:
        raise ValueError("transcribe: a numpy array needs sample_rate= (its sample rate in Hz)")


def _name(audio: Any) -> str:
    if isinstance(audio, (str, os.PathLike)):
        return os.fspath(audio)
    return "<array>" if isinstance(audio, np.ndarray) else "<bytes>"
