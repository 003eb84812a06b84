"""Manifests ↔ lhotse, on a small CutSet (lhotse is an optional extra: skipped when missing)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

lhotse = pytest.importorskip("lhotse")

from asr.cli import main  # noqa: E402
from asr.data.manifest import read_manifest  # noqa: E402


def _wav(path: Path, seconds: float, rate: int = 16000, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    audio = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    data = np.stack([audio] * channels, axis=1) if channels > 1 else audio
    sf.write(path, data, rate, subtype="PCM_16")
    return audio


@pytest.fixture
def cutset(tmp_path):
    """Three cuts: a whole file, a segment of a longer file, and a stereo file."""
    from lhotse import CutSet, Recording, RecordingSet, SupervisionSegment, SupervisionSet

    _wav(tmp_path / "a.wav", 1.0)
    long_audio = _wav(tmp_path / "long.wav", 3.0)
    _wav(tmp_path / "stereo.wav", 1.5, channels=2)
    recs = RecordingSet.from_recordings(
        Recording.from_file(tmp_path / name, recording_id=rid)
        for name, rid in (("a.wav", "rec-a"), ("long.wav", "rec-long"), ("stereo.wav", "rec-st"))
    )
    sups = SupervisionSet.from_segments(
        [
            SupervisionSegment("utt-a", "rec-a", 0.0, 1.0, text="Hello World!", speaker="s1"),
            SupervisionSegment("utt-long", "rec-long", 1.0, 1.5, text="the 2nd part", speaker="s2"),
            SupervisionSegment("utt-st", "rec-st", 0.0, 1.5, channel=0, text="stereo", speaker="s3"),
            SupervisionSegment("utt-empty", "rec-long", 2.6, 0.3, text="", speaker="s2"),
        ]
    )
    cuts = CutSet.from_manifests(recordings=recs, supervisions=sups).trim_to_supervisions(
        keep_overlapping=False
    )
    path = tmp_path / "cuts.jsonl.gz"
    cuts.to_file(path)
    return path, long_audio


def test_from_lhotse_cli(tmp_path, cutset, capsys):
    path, long_audio = cutset
    out = tmp_path / "m" / "train.jsonl"
    assert main(["data", "from-lhotse", str(path), "-o", str(out)]) == 0
    assert "3 utterances, 1 cuts skipped" in capsys.readouterr().out
    rows = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(rows) == {"utt-a", "utt-long", "utt-st"}
    # a whole mono file is referenced in place
    assert rows["utt-a"] == {
        "id": "utt-a",
        "audio": "../a.wav",
        "duration": 1.0,
        "text": "hello world",
        "speaker": "s1",
    }
    # a segment is cut out into train_audio/ (exact samples), the text normalized
    seg = rows["utt-long"]
    assert (
        seg["audio"] == "train_audio/utt-long.wav"
        and seg["duration"] == 1.5
        and seg["text"] == "the second part"
    )
    audio, rate = sf.read(out.parent / seg["audio"], dtype="float32")
    assert rate == 16000 and np.allclose(audio, long_audio[16000:40000], atol=1e-3)
    assert sf.info(str(out.parent / rows["utt-st"]["audio"])).channels == 1
    assert [u.id for u in read_manifest(out)] == ["utt-a", "utt-long", "utt-st"]


def test_from_lhotse_recordings_plus_supervisions(tmp_path):
    from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet

    _wav(tmp_path / "a.wav", 1.0)
    RecordingSet.from_recordings([Recording.from_file(tmp_path / "a.wav", recording_id="r")]).to_file(
        tmp_path / "recs.jsonl.gz"
    )
    SupervisionSet.from_segments([SupervisionSegment("u", "r", 0.0, 1.0, text="ok then")]).to_file(
        tmp_path / "sups.jsonl.gz"
    )
    out = tmp_path / "x.jsonl"
    argv = [
        "data",
        "from-lhotse",
        str(tmp_path / "recs.jsonl.gz"),
        "--supervisions",
        str(tmp_path / "sups.jsonl.gz"),
    ]
    assert main([*argv, "-o", str(out), "--no-normalize"]) == 0
    assert [u.text for u in read_manifest(out)] == ["ok then"]
    # a RecordingSet alone is a clear error, not a traceback
    assert main(["data", "from-lhotse", str(tmp_path / "recs.jsonl.gz"), "-o", str(out)]) == 2


def test_to_lhotse_round_trip(tmp_path):
    (tmp_path / "wav").mkdir()
    _wav(tmp_path / "wav" / "1.wav", 1.0)
    _wav(tmp_path / "wav" / "talk.wav", 4.0)
    rows = [
        {"id": "u1", "audio": "wav/1.wav", "duration": 1.0, "text": "one", "speaker": "a"},
        {
            "id": "t1",
            "audio": "wav/talk.wav",
            "duration": 1.5,
            "text": "first",
            "speaker": "b",
            "offset": 0.5,
        },
        {
            "id": "t2",
            "audio": "wav/talk.wav",
            "duration": 1.0,
            "text": "second",
            "speaker": "b",
            "offset": 2.5,
        },
    ]
    manifest = tmp_path / "dev.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "lhotse"
    assert main(["data", "to-lhotse", str(manifest), "-o", str(out)]) == 0
    recs = lhotse.load_manifest(out / "dev_recordings.jsonl.gz")
    assert sorted(r.id for r in recs) == ["talk", "u1"]  # the shared talk is one recording
    sups = {s.id: s for s in lhotse.load_manifest(out / "dev_supervisions.jsonl.gz")}
    assert (sups["t2"].recording_id, sups["t2"].start, sups["t2"].duration) == ("talk", 2.5, 1.0)
    cuts = lhotse.load_manifest(out / "dev_cuts.jsonl.gz")
    assert len(cuts) == 3
    assert Path(recs["u1"].sources[0].source).is_absolute()
    # and back: the same utterances, texts and durations
    back = tmp_path / "back.jsonl"
    assert main(["data", "from-lhotse", str(out / "dev_cuts.jsonl.gz"), "-o", str(back)]) == 0
    got = sorted((u.text, u.duration, u.speaker) for u in read_manifest(back))
    assert got == [("first", 1.5, "b"), ("one", 1.0, "a"), ("second", 1.0, "b")]
