"""Transcript writers: plain text, JSON, SubRip (srt), WebVTT (vtt) and tab-separated (tsv).

``format_transcript(transcript, "srt")`` returns the file's text. Subtitle cues follow the segments,
split at word boundaries so that no cue is longer than ``max_cue_s`` seconds or ``max_cue_chars``
characters (when the segment has word times). ``transcript_to_dict`` is the one JSON schema of a
transcript: ``asr transcribe --format json`` writes it and ``asr serve`` answers with it.
"""

from __future__ import annotations

import json
import math
from typing import Any

from asr.decoding import Word

__all__ = ["FORMATS", "format_transcript", "transcript_to_dict"]

FORMATS = ("txt", "json", "srt", "vtt", "tsv")


def format_transcript(
    transcript: Any, fmt: str, source: str | None = None, max_cue_s: float = 7.0, max_cue_chars: int = 84
) -> str:
    """The transcript as the text of a `fmt` file (one of FORMATS), ending with a newline."""
    _check(fmt)
    if fmt == "txt":
        return transcript.text + "\n"
    if fmt == "json":
        return json.dumps(transcript_to_dict(transcript, source), ensure_ascii=False) + "\n"
    cues = _cues(transcript, max_cue_s, max_cue_chars)
    if fmt == "tsv":
        rows = ["start\tend\ttext"]
        rows += [f"{round(1000 * s)}\t{round(1000 * e)}\t{t}" for s, e, t in cues]
        return "\n".join(rows) + "\n"
    if fmt == "srt":
        blocks = [
            f"{i}\n{_timestamp(s, ',')} --> {_timestamp(e, ',')}\n{t}\n"
            for i, (s, e, t) in enumerate(cues, 1)
        ]
        return "\n".join(blocks)
    blocks = ["WEBVTT\n"] + [f"{_timestamp(s, '.')} --> {_timestamp(e, '.')}\n{t}\n" for s, e, t in cues]
    return "\n".join(blocks)


def transcript_to_dict(transcript: Any, source: str | None = None, word_times: bool = True) -> dict[str, Any]:
    """The JSON object of a transcript, the same for the CLI's json files and the server's answers.

    Keys, in order (times in seconds, rounded to the millisecond; confidences to 3 decimals)::

        file        the input's name (only when `source` is given: the CLI, one object per file)
        text        the whole transcript
        duration_s  the audio's length
        duration    the same value (the name CLI json files had before the schema was shared)
        segments    [{start, end, text, words}], cut at pauses; `words` only with `word_times`
        words       [{word, start, end, confidence}] over the whole file; only with `word_times`

    The server adds ``decoder`` ("greedy" or "beam") and ``processing_s`` to its answer.
    """
    out: dict[str, Any] = {} if source is None else {"file": source}
    out["text"] = transcript.text
    out["duration_s"] = out["duration"] = round(transcript.duration_s, 3)
    segments = []
    for s in transcript.segments:
        segment: dict[str, Any] = {"start": round(s.start_s, 3), "end": round(s.end_s, 3), "text": s.text}
        if word_times:
            segment["words"] = [_word(w) for w in s.words]
        segments.append(segment)
    out["segments"] = segments
    if word_times:
        out["words"] = [_word(w) for w in transcript.words]
    return out


def _word(w: Word) -> dict[str, Any]:
    return {
        "word": w.text,
        "start": round(w.start_s, 3),
        "end": round(w.end_s, 3),
        "confidence": round(w.confidence, 3) if math.isfinite(w.confidence) else None,
    }


def _check(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown output format {fmt!r}; use one of {', '.join(FORMATS)}")


def _timestamp(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _cues(transcript: Any, max_s: float, max_chars: int) -> list[tuple[float, float, str]]:
    cues: list[tuple[float, float, str]] = []
    for seg in transcript.segments:
        if not seg.words or (seg.end_s - seg.start_s <= max_s and len(seg.text) <= max_chars):
            cues.append((seg.start_s, seg.end_s, seg.text))
            continue
        groups: list[list[Word]] = [[]]
        for w in seg.words:
            group = groups[-1]
            text = " ".join(x.text for x in [*group, w])
            if group and (w.end_s - group[0].start_s > max_s or len(text) > max_chars):
                groups.append([])
            groups[-1].append(w)
        for i, group in enumerate(groups):
            start = seg.start_s if i == 0 else group[0].start_s
            end = seg.end_s if i == len(groups) - 1 else group[-1].end_s
            cues.append((start, end, " ".join(w.text for w in group)))
    return cues
