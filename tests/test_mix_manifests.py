"""recipes/synthetic/mix_manifests.py: one training manifest from several corpora, paths rebased."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from asr.data.manifest import read_manifest

SCRIPT = Path(__file__).resolve().parents[1] / "recipes" / "synthetic" / "mix_manifests.py"


def write(path: Path, ids: list[str], engine: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {"id": i, "audio": f"wav/{i}.wav", "duration": 1800.0, "text": f"words {i}", "engine": engine}
        for i in ids
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def run(*args: Path | str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, cwd=cwd
    )


def test_mix_rebases_paths_keeps_fields_and_excludes_listed_clips(tmp_path):
    write(tmp_path / "multi" / "train.jsonl", ["m1", "m2", "m3"], "piper")
    write(tmp_path / "espeak" / "train.jsonl", ["e1", "e2"], "espeak")
    write(tmp_path / "multi" / "seen.jsonl", ["m2"], "piper")  # the clips an earlier stage heard
    out = tmp_path / "multi" / "mixes" / "stage.jsonl"
    done = run(
        "-o", out, tmp_path / "multi" / "train.jsonl", tmp_path / "espeak" / "train.jsonl",
        "--exclude", tmp_path / "multi" / "seen.jsonl",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    utts = read_manifest(out)
    assert [u.id for u in utts] == ["m1", "m3", "e1", "e2"]
    assert utts[0].audio.resolve() == (tmp_path / "multi" / "wav" / "m1.wav").resolve()
    assert utts[2].audio.resolve() == (tmp_path / "espeak" / "wav" / "e1.wav").resolve()
    engines = [json.loads(line)["engine"] for line in out.read_text().splitlines()]
    assert engines == ["piper", "piper", "espeak", "espeak"]
    assert "2 utterances (1 excluded), 1.00 h" in done.stdout
    assert "4 utterances, 2.00 h" in done.stdout


def test_mix_refuses_shared_ids_shared_clips_and_overwriting_an_input(tmp_path):
    write(tmp_path / "a" / "train.jsonl", ["x1", "x2"], "espeak")
    write(tmp_path / "b" / "train.jsonl", ["x2"], "espeak")
    same_id = run(
        "-o", tmp_path / "mix.jsonl", tmp_path / "a" / "train.jsonl", tmp_path / "b" / "train.jsonl"
    )
    assert same_id.returncode == 2 and "'x2' is in both" in same_id.stderr
    assert not (tmp_path / "mix.jsonl").exists()
    twice = run("-o", tmp_path / "mix.jsonl", tmp_path / "a" / "train.jsonl", tmp_path / "a" / "train.jsonl")
    assert twice.returncode == 2 and "is in both" in twice.stderr
    onto = run("-o", tmp_path / "a" / "train.jsonl", tmp_path / "a" / "train.jsonl")
    assert onto.returncode == 2 and "is one of the inputs" in onto.stderr
    everything = run(
        "-o",
        tmp_path / "m.jsonl",
        tmp_path / "b" / "train.jsonl",
        "--exclude",
        tmp_path / "b" / "train.jsonl",
    )
    assert everything.returncode == 2 and "every utterance was excluded" in everything.stderr


def test_mix_with_relative_paths_from_another_folder(tmp_path):
    write(tmp_path / "multi" / "train.jsonl", ["m1", "m2"], "pico")
    write(tmp_path / "multi" / "seen.jsonl", ["m1"], "pico")
    done = run(
        "-o", "mix/stage.jsonl", "multi/train.jsonl", "--exclude", "multi/seen.jsonl", cwd=tmp_path
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    utts = read_manifest(tmp_path / "mix" / "stage.jsonl")
    assert [u.id for u in utts] == ["m2"]
    assert utts[0].audio.resolve() == (tmp_path / "multi" / "wav" / "m2.wav").resolve()
    assert json.loads((tmp_path / "mix" / "stage.jsonl").read_text())["audio"] == "../multi/wav/m2.wav"
