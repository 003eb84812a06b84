"""Transcript writers: txt, json, srt, vtt, tsv."""

from __future__ import annotations

import json

import pytest

from asr.decoding import Word
from asr.formats import FORMATS, format_transcript, transcript_to_dict
from asr.transcription import Segment, Transcript


def _transcript() -> Transcript:
    w1 = (Word("hello", 0.5, 0.9, 0.91), Word("world", 1.0, 1.4, 0.8))
    w2 = (Word("again", 3723.25, 3723.75, 0.5),)
    segments = (Segment("hello world", 0.4, 1.5, w1), Segment("again", 3723.1, 3724.0, w2))
    return Transcript("hello world again", segments, w1 + w2, 3725.0)


def test_txt_and_json():
    t = _transcript()
    assert format_transcript(t, "txt") == "hello world again\n"
    data = json.loads(format_transcript(t, "json", source="a.wav"))
    assert data["file"] == "a.wav" and data["text"] == "hello world again" and data["duration"] == 3725.0
    assert data["segments"][1] == {
        "start": 3723.1,
        "end": 3724.0,
        "text": "again",
        "words": [{"word": "again", "start": 3723.25, "end": 3723.75, "confidence": 0.5}],
    }
    assert [w["word"] for w in data["words"]] == ["hello", "world", "again"]
    assert data == transcript_to_dict(t, "a.wav") and data["duration_s"] == data["duration"]


def test_one_schema_with_or_without_word_times():
    """The server's JSON (no file, word_times optional) is the CLI's schema, less what was not asked for."""
    t = _transcript()
    full = transcript_to_dict(t)
    assert "file" not in full and list(full) == ["text", "duration_s", "duration", "segments", "words"]
    bare = transcript_to_dict(t, word_times=False)
    assert list(bare) == ["text", "duration_s", "duration", "segments"]
    assert bare["segments"] == [{k: v for k, v in s.items() if k != "words"} for s in full["segments"]]


def test_srt():
    assert format_transcript(_transcript(), "srt") == (
        "1\n00:00:00,400 --> 00:00:01,500\nhello world\n\n2\n01:02:03,100 --> 01:02:04,000\nagain\n"
    )


def test_vtt():
    assert format_transcript(_transcript(), "vtt") == (
        "WEBVTT\n\n00:00:00.400 --> 00:00:01.500\nhello world\n\n01:02:03.100 --> 01:02:04.000\nagain\n"
    )


def test_tsv_in_milliseconds():
    assert (
        format_transcript(_transcript(), "tsv")
        == "start\tend\ttext\n400\t1500\thello world\n3723100\t3724000\tagain\n"
    )


def test_long_segments_split_into_cues_at_words():
    words = tuple(Word(f"w{i}", 0.5 * i, 0.5 * i + 0.4, 1.0) for i in range(40))  # 20 s of words
    seg = Segment(" ".join(w.text for w in words), 0.0, 20.0, words)
    srt = format_transcript(Transcript(seg.text, (seg,), words, 20.0), "tsv", max_cue_s=5.0)
    rows = [r.split("\t") for r in srt.strip().split("\n")[1:]]
    assert len(rows) == 4
    assert " ".join(r[2] for r in rows) == seg.text  # no word lost or repeated
    assert rows[0][0] == "0" and rows[-1][1] == "20000"
    for start, end, _ in rows:
        assert 0 < int(end) - int(start) <= 5000


def test_empty_transcript_and_unknown_format():
    empty = Transcript("", (), (), 2.0)
    assert format_transcript(empty, "txt") == "\n"
    assert format_transcript(empty, "srt") == ""
    assert format_transcript(empty, "vtt") == "WEBVTT\n"
    assert json.loads(format_transcript(empty, "json"))["segments"] == []
    with pytest.raises(ValueError, match="unknown output format"):
        format_transcript(empty, "docx")
    assert set(FORMATS) == {"txt", "json", "srt", "vtt", "tsv"}
