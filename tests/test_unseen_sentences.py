"""recipes/synthetic/studies/unseen_sentences.py: a selection set keeps only sentences no corpus holds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "recipes" / "synthetic" / "studies" / "unseen_sentences.py"


def write(path: Path, texts: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(
            json.dumps({"id": f"u{i}", "audio": f"wav/{i}.wav", "duration": 1.0, "text": t}) + "\n"
            for i, t in enumerate(texts)
        )
    )


def run(manifest: Path, corpora: list[Path], out: Path) -> subprocess.CompletedProcess:
    args = [str(manifest), *(a for corpus in corpora for a in ("--corpus", str(corpus))), "-o", str(out)]
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)


def test_keeps_only_unseen_sentences(tmp_path):
    write(tmp_path / "corpus" / "train.jsonl", ["a cat sat", "the dog ran"])
    write(tmp_path / "corpus" / "test_text.jsonl", ["a bird sang"])
    write(tmp_path / "other" / "dev.jsonl", ["fish swim"])
    write(
        tmp_path / "val" / "test.jsonl",
        ["a cat sat", "new words here", "a bird sang", "fish swim", "more new words"],
    )
    out = tmp_path / "val" / "val.jsonl"
    done = run(tmp_path / "val" / "test.jsonl", [tmp_path / "corpus", tmp_path / "other"], out)
    assert done.returncode == 0, done.stderr
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["text"] for r in kept] == ["new words here", "more new words"]
    assert kept[0]["audio"] == "wav/1.wav"  # rows unchanged: audio stays relative to the same folder
    assert "2 of 5" in done.stdout


def test_refuses_a_folder_that_is_no_corpus_and_an_output_elsewhere(tmp_path):
    write(tmp_path / "val" / "test.jsonl", ["words"])
    write(tmp_path / "corpus" / "train.jsonl", ["other words"])
    bad = run(tmp_path / "val" / "test.jsonl", [tmp_path / "nothing"], tmp_path / "val" / "v.jsonl")
    assert bad.returncode == 2 and "holds none" in bad.stderr and not (tmp_path / "val" / "v.jsonl").exists()
    moved = run(tmp_path / "val" / "test.jsonl", [tmp_path / "corpus"], tmp_path / "v.jsonl")
    assert moved.returncode == 2 and "beside the input" in moved.stderr
