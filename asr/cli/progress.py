"""`asr transcribe`'s view of a run: a progress bar on a terminal and, with --verbose, each segment as it
is decoded. The library reports (:class:`asr.transcription.Progress`); this module draws.

The bar (tqdm, on stderr) says files done, audio done of the run's estimated length, speed as a multiple
of real time and the time left:

    transcribe  42%|████████▍           | 3/10 files, 25:12/1:00:00 audio, 13.2x real time, 02:38 left

Segment lines are whisper's: ``[00:01.000 --> 00:04.200] text`` (hours shown once a time reaches one),
on stderr too: stdout carries the transcripts, which must stay what --format says.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, TextIO

from tqdm import tqdm

if TYPE_CHECKING:
    from asr.transcription import Progress

__all__ = ["TranscribeView", "clock", "duration"]

# the bar: tqdm's percentage and bar, then our status in the `desc` field (tqdm's own rate and ETA would
# count audio seconds per second and smooth them differently from the speed shown beside them)
_BAR_FORMAT = "transcribe {percentage:3.0f}%|{bar:20}| {desc}"
# how often the bar may be redrawn (seconds): many short files report many times a second
_MIN_INTERVAL_S = 0.2
# the size assumed for a terminal that reports none (0 x 0: some pseudo-terminals), where tqdm would
# draw nothing at all
_FALLBACK_SIZE = (100, 24)


def clock(seconds: float) -> str:
    """A segment time as whisper writes it: MM:SS.mmm, or HH:MM:SS.mmm from one hour on."""
    ms = max(0, round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    head = f"{hours:02d}:" if hours else ""
    return f"{head}{minutes:02d}:{secs:02d}.{ms:03d}"


def duration(seconds: float) -> str:
    """A length of audio or time: M:SS, or H:MM:SS from one hour on."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _sized(stream: TextIO) -> bool:
    """Whether the terminal `stream` writes to says how many columns and rows it has."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return size.columns > 0 and size.lines > 0


class TranscribeView:
    """The callback given to `transcribe_many(on_progress=...)`, and the writer of the transcripts.

    bar: draw the progress bar on `stream` (the caller decides: a terminal, and no --quiet).
    segments: write each decoded segment with its times to `stream` (--verbose); `names` puts the
    recording's name on a line of its own before its first segment (several inputs).
    """

    def __init__(self, stream: TextIO, *, bar: bool, segments: bool, names: bool) -> None:
        self.stream = stream
        self.segments = segments
        self.names = names
        self.last_name: str | None = None
        self.started = time.monotonic()
        self.bar: tqdm | None = None
        if bar:
            sized = _sized(stream)
            self.bar = tqdm(
                file=stream,
                desc="starting",
                total=1.0,
                bar_format=_BAR_FORMAT,
                leave=False,  # the bar goes when the run ends: the transcripts are what stays
                dynamic_ncols=sized,  # follows the terminal's width as it is resized
                ncols=None if sized else _FALLBACK_SIZE[0],
                nrows=None if sized else _FALLBACK_SIZE[1],
                mininterval=_MIN_INTERVAL_S,
                miniters=0,  # redraw on time alone (updates come in audio seconds, not items)
            )
            self.bar.refresh()

    def __call__(self, progress: Progress) -> None:
        for name, segment in progress.segments if self.segments else ():
            if self.names and name != self.last_name:
                self._write(name)
                self.last_name = name
            self._write(f"[{clock(segment.start_s)} --> {clock(segment.end_s)}] {segment.text}")
        if self.bar is not None:
            self._update_bar(progress)

    def _update_bar(self, progress: Progress) -> None:
        bar = self.bar
        assert bar is not None
        done = progress.seconds_done
        total = max(progress.seconds_total or 0.0, done)
        elapsed = time.monotonic() - self.started
        speed = done / elapsed if elapsed > 0 else 0.0
        parts = [
            f"{progress.files_done}/{progress.files_total} files",
            f"{duration(done)}/{duration(total) if total else '?'} audio",
        ]
        if speed > 0:
            parts.append(f"{speed:.1f}x real time")
            if total:
                parts.append(f"{duration((total - done) / speed)} left")
        bar.set_description_str(", ".join(parts), refresh=False)
        # tqdm's percentage is n/total: both in audio seconds (total=1 until a length is known)
        bar.total = total or 1.0
        bar.update(done - bar.n)  # redraws at most every _MIN_INTERVAL_S

    def _write(self, line: str) -> None:
        """One line on `stream`, above the bar (tqdm clears the bar and draws it again below)."""
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def error(self, line: str) -> None:
        """A message on `stream` (stderr) above the bar."""
        self._write(line)

    def write_output(self, text: str, out: TextIO) -> None:
        """Transcript text on `out` (stdout): the bar is cleared around it when `out` is a terminal
        too, so the two do not end up on one line."""
        if self.bar is not None:
            with tqdm.external_write_mode(file=out):
                out.write(text)
                out.flush()
        else:
            out.write(text)
            out.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
