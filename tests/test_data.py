import json

import numpy as np
import pytest
import soundfile as sf

from asr.data.dataset import SpeechDataset, collate
from asr.data.manifest import ManifestError, read_manifest, read_manifest_rows, write_manifest
from asr.data.sampler import DurationBatchSampler
from asr.text import Vocabulary
from asr.train.config import load_run_config
from asr.train.setup import filter_trainable


def test_sampler_covers_everything_once_and_respects_budget():
    rng = np.random.default_rng(0)
    durations = rng.uniform(1, 8, size=500).tolist()
    sampler = DurationBatchSampler(durations, max_duration=60, num_buckets=10, seed=3)
    batches = list(sampler)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(500))
    for b in batches:
        assert max(durations[i] for i in b) * len(b) <= 60 or len(b) == 1
    assert batches == list(sampler)  # same epoch, same order
    sampler.set_epoch(1)
    assert list(sampler) != batches


def test_manifest_errors_name_the_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"id": "a", "audio": "a.wav", "duration": 1.0, "text": "hi"}\n{"id": "b"}\n')
    with pytest.raises(ManifestError, match=r"m.jsonl:2"):
        read_manifest(path)
    with pytest.raises(ManifestError, match="not found"):
        read_manifest(tmp_path / "missing.jsonl")


def test_raw_manifest_rows_keep_every_field_and_name_bad_lines(tmp_path):
    rows = [
        {
            "id": "a",
            "audio": "wav/a.wav",
            "duration": 1.5,
            "text": "hi",
            "engine": "pico",
            "warp": {"pitch": 1.1},
        },
        {"id": "b", "audio": "/abs/b.wav", "duration": 2.0, "text": "there"},
    ]
    path = tmp_path / "m.jsonl"
    write_manifest(path, rows)
    path.write_text(path.read_text() + "\n")  # a blank line is allowed, as in read_manifest
    assert read_manifest_rows(path) == rows  # fields and relative paths exactly as written
    path.write_text(path.read_text() + "[1, 2]\n")
    with pytest.raises(ManifestError, match=r"m.jsonl:4: .*JSON object"):
        read_manifest_rows(path)
    path.write_text('{"id": "a"}\n{oops\n')
    with pytest.raises(ManifestError, match=r"m.jsonl:2: .*not JSON"):
        read_manifest_rows(path)
    with pytest.raises(ManifestError, match="not found"):
        read_manifest_rows(tmp_path / "missing.jsonl")


def test_bad_items_are_skipped_and_reported(tmp_path):
    sf.write(tmp_path / "good.wav", 0.1 * np.sin(np.arange(16000) / 5), 16000)
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF garbage")
    sf.write(tmp_path / "short.wav", np.zeros(800), 16000)
    sf.write(tmp_path / "nan.wav", np.full(16000, np.nan), 16000, subtype="FLOAT")
    rows = [
        {"id": "good", "audio": "good.wav", "duration": 1.0, "text": "hello"},
        {"id": "corrupt", "audio": "corrupt.wav", "duration": 1.0, "text": "hello"},
        {"id": "missing", "audio": "missing.wav", "duration": 1.0, "text": "hello"},
        {"id": "nan", "audio": "nan.wav", "duration": 1.0, "text": "hello"},
        {"id": "short", "audio": "short.wav", "duration": 0.05, "text": "a much too long transcript"},
        {"id": "odd", "audio": "good.wav", "duration": 1.0, "text": "héllo wörld!"},
        {"id": "empty", "audio": "good.wav", "duration": 1.0, "text": " "},
    ]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    vocab = Vocabulary.english_characters()
    skipped: dict[str, str] = {}
    kept = filter_trainable(read_manifest(manifest), load_run_config(None), skipped)
    assert set(skipped) == {"short", "odd", "empty"}
    dataset = SpeechDataset(kept, vocab)
    batch = collate([dataset[i] for i in range(len(dataset))])
    assert batch.ids == ["good"]
    assert set(dataset.skipped) == {"corrupt", "missing", "nan"}
    assert all(dataset.skipped[k] for k in dataset.skipped)
    assert collate([None, None]) is None


def test_items_with_an_offset_read_only_their_stretch(tmp_path):
    ramp = (np.arange(3 * 16000) / 48000 - 0.5).astype(np.float32)
    sf.write(tmp_path / "long.wav", ramp, 16000, subtype="FLOAT")
    rows = [
        {"id": "mid", "audio": "long.wav", "duration": 1.0, "offset": 1.0, "text": "hi"},
        {"id": "head", "audio": "long.wav", "duration": 0.5, "text": "hi"},
        {"id": "past", "audio": "long.wav", "duration": 1.0, "offset": 9.0, "text": "hi"},
    ]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ds = SpeechDataset(read_manifest(tmp_path / "m.jsonl"), Vocabulary.english_characters())
    assert np.array_equal(ds[0].audio, ramp[16000:32000])
    assert np.array_equal(ds[1].audio, ramp[:8000])
    assert not ds[2] and "no audio at offset" in ds.skipped["past"]
