"""recipes/synthetic/rebuild_default_model.sh: its stage list, the commands each stage prints with
DRY_RUN=1, and its skip / resume bookkeeping with stand-ins for asr and prepare.py (nothing is rendered
or trained). Also recipes/synthetic/first_utterances.py, which takes a stage's share of a larger render."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = "recipes/synthetic/rebuild_default_model.sh"
COPIED = [
    SCRIPT,
    "recipes/common/lib.sh",
    "recipes/synthetic/config.multi.toml",
    "recipes/synthetic/config.full.toml",
    "recipes/synthetic/first_utterances.py",
    "recipes/synthetic/mix_manifests.py",
]
BIN = Path(sys.executable).parent

M, F = "data/synthetic-multi", "data/synthetic-full"
MULTI = "asr train --config recipes/synthetic/config.multi.toml --set"
FULL = "recipes/synthetic/config.full.toml"


def first(corpus: str, n: int) -> str:
    return f"python recipes/synthetic/first_utterances.py {corpus} --num-train {n} -o {corpus}/train.first{n}.jsonl"


def mix(stage: int, *inputs: str) -> str:
    return f"python recipes/synthetic/mix_manifests.py -o {M}/train_stage{stage}.jsonl " + " ".join(inputs)


def train(init: str, out: str, manifest: str, settings: str = "") -> str:
    sets = f" {settings}" if settings else ""
    return (
        f"{MULTI} train.init_from={init} train.out_dir={out} train.train_manifest={manifest}{sets} "
        "train.num_threads=2"
    )


def export(model: str, out: str) -> str:
    return f"asr export --model {model} --format checkpoint --half -o {out}"


# What was run (docs/model-history.md), as the script runs it: one render per preset, each stage's
# share taken from it. A change here is a change to how the shipped model is made.
EXPECTED = {
    0: ["bash recipes/synthetic/install_engines.sh"],
    1: [
        f"python recipes/synthetic/prepare.py --config {FULL} --out {F} --jobs 2",
        f"asr train --config {FULL}",
        f"asr train --config {FULL} --set train.init_from=exp/synthetic-full/best.pt "
        "train.out_dir=exp/synthetic-full-ft train.epochs=5 train.lr=1.5e-3 train.warmup_steps=50",
        export("exp/synthetic-full-ft/averaged.pt", "exp/synthetic-full-ft/model.pt"),
    ],
    2: [
        f"python recipes/synthetic/prepare.py --config recipes/synthetic/config.multi.toml --out {M} "
        "--num-train 30000 --jobs 2",
        first(M, 4500),
        train("exp/synthetic-full-ft/model.pt", "exp/synthetic-multi", f"{M}/train.first4500.jsonl"),
    ],
    3: [
        first(F, 2000),
        mix(3, f"{M}/train.first4500.jsonl", f"{F}/train.first2000.jsonl"),
        train(
            "exp/synthetic-multi/best.pt", "exp/synthetic-multi-2", f"{M}/train_stage3.jsonl",
            "train.epochs=2 train.lr=7e-4 train.warmup_steps=50",
        ),
        export("exp/synthetic-multi-2/best.pt", "exp/synthetic-multi-2/model.pt"),
    ],
    4: [
        first(M, 10000),
        first(F, 4000),
        mix(4, f"{M}/train.first10000.jsonl", f"{F}/train.first4000.jsonl"),
        train(
            "exp/synthetic-multi-2/model.pt", "exp/synthetic-multi-3", f"{M}/train_stage4.jsonl",
            "train.epochs=8 train.lr=8e-4 train.warmup_steps=150",
        ),
    ],
    5: [
        first(F, 8000),
        mix(5, f"{M}/train.first10000.jsonl", f"{F}/train.first8000.jsonl"),
        train(
            "exp/synthetic-multi-3/best.pt", "exp/synthetic-multi-4", f"{M}/train_stage5.jsonl",
            "train.epochs=2 train.lr=3e-4 train.warmup_steps=50",
        ),
    ],
    6: [
        first(M, 20000),
        first(F, 20000),
        mix(6, f"{M}/train.first20000.jsonl", f"{F}/train.first20000.jsonl"),
        train(
            "exp/synthetic-multi-4/best.pt", "exp/synthetic-multi-5", f"{M}/train_stage6.jsonl",
            "train.epochs=1 train.lr=3e-4 train.warmup_steps=50",
        ),
        export("exp/synthetic-multi-5/best.pt", "exp/synthetic-multi-5/model.pt"),
    ],
    7: [
        first(F, 30000),
        mix(
            7, f"{M}/train.jsonl", f"{F}/train.first30000.jsonl",
            f"--exclude {M}/train.first20000.jsonl --exclude {F}/train.first20000.jsonl",
        ),
        train(
            "exp/synthetic-multi-5/model.pt", "exp/synthetic-multi-7", f"{M}/train_stage7.jsonl",
            "train.epochs=1 train.lr=3e-4 train.warmup_steps=50",
        ),
        export("exp/synthetic-multi-7/best.pt", "exp/synthetic-multi-7/model.pt"),
    ],
    8: [],
    9: [
        mix(9, f"{M}/train.first20000.jsonl", f"{F}/train.first30000.jsonl"),
        train(
            "exp/synthetic-multi-7/model.pt", "exp/synthetic-multi-9", f"{M}/train_stage9.jsonl",
            "train.epochs=1 train.lr=4e-4 train.warmup_steps=100 train.checkpoint_every=250 train.average_last=3",
        ),
    ],
    10: [
        train(
            "exp/synthetic-multi-9/averaged.pt", "exp/synthetic-multi-10", f"{M}/train_stage9.jsonl",
            "train.epochs=1 train.lr=3e-4 train.warmup_steps=100 train.seed=1 train.checkpoint_every=250 "
            "train.average_last=3",
        ),
    ],
    11: [
        "make -s lm-tools",
        "python -m pip install --quiet -c constraints.txt wordfreq",
        "python recipes/synthetic/lm_text.py --out data/lm-text",
        "asr lm build --text data/lm-text/fortunes.txt data/lm-text/wordnet.txt data/lm-text/wordnet-glosses.txt "
        "data/lm-text/web.txt --vocab-list data/lm-text/wordfreq.tsv --vocab-size 100000 --order 3 "
        "--quantize-bits 8 --mix data/synthetic-multi/train_text.txt --mix-tune data/synthetic-multi/dev.jsonl "
        "data/synthetic-full/dev.jsonl -o data/models/synthetic-en/lm3.bin",
    ],
    12: [
        export("exp/synthetic-multi-10/averaged.pt", "data/models/synthetic-en/model.pt"),
        "asr lm tune --model exp/synthetic-multi-10/averaged.pt --manifest data/synthetic-multi/dev.jsonl "
        "--lm data/models/synthetic-en/lm3.bin --lm-weights 0.5,0.6,0.7,0.8,0.9 --word-scores=-2,-1,0,1 "
        "-o exp/synthetic-multi-10/decoder-tuned.json",
        "write data/models/synthetic-en/decoder.json: beam 32, lm3.bin, lm3.words.txt, lm_weight 0.5, "
        "word_score -2",
    ],
    13: [
        "python benchmarks/accuracy.py --model data/models/synthetic-en/model.pt --sets test,test_text "
        "--out exp/rebuild-default-model/accuracy"
    ],
}  # fmt: skip


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """The script and what it reads, copied into an empty tree: its outputs land there, not in the repo."""
    for rel in COPIED:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, tmp_path / rel)
    return tmp_path


def run(tree: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "ASR": "asr",
        "PYTHON": "python",
    }
    return subprocess.run(
        ["bash", SCRIPT, *args], cwd=tree, env={**environ, **env}, capture_output=True, text=True
    )


def by_stage(stdout: str) -> dict[int, list[str]]:
    """The printed commands ("+ ..."), grouped under the stage whose log line ("[hh:mm:ss] stage N: ...")
    came before them."""
    stages: dict[int, list[str]] = {}
    current = None
    for line in stdout.splitlines():
        m = re.match(r"\[\d\d:\d\d:\d\d\] stage (\d+): ", line)
        if m and int(m[1]) not in stages:
            current = int(m[1])
            stages[current] = []
        elif line.startswith("+ "):
            assert current is not None, line
            stages[current].append(line[2:])
    return stages


def test_stage_list_header_code_and_dry_run_agree(tree):
    text = (ROOT / SCRIPT).read_text()
    # the header's stage lines: the number right-aligned in columns 2-5 ("#   1 espeak-only", "#  10 again")
    header = [
        int(a or b)
        for a, b in re.findall(r"^#(?: {3}(\d)| {2}(\d\d)) ", text.split("set -euo")[0], flags=re.M)
    ]
    in_code = [int(n) for n in re.findall(r"^if in_stage (\d+); then", text, flags=re.M)]
    assert header == in_code == list(range(14))
    done = run(tree, DRY_RUN="1")
    assert done.returncode == 0, done.stderr
    assert by_stage(done.stdout) == EXPECTED


@pytest.mark.parametrize("stage", [2, 7])
def test_one_stage_prints_only_its_commands(tree, stage):
    done = run(tree, "--stage", str(stage), "--stop-stage", str(stage), DRY_RUN="1")
    assert done.returncode == 0, done.stderr
    assert by_stage(done.stdout) == {stage: EXPECTED[stage]}
    assert not (tree / "data").exists()  # a dry run makes nothing


def test_model_dir_and_jobs_options(tree):
    done = run(
        tree, "--stage", "11", "--stop-stage", "12", "--model-dir", "out/m", "--jobs", "4", DRY_RUN="1"
    )
    assert done.returncode == 0, done.stderr
    printed = "\n".join(sum(by_stage(done.stdout).values(), []))
    assert "-o out/m/lm3.bin" in printed and "-o out/m/model.pt" in printed and "data/models" not in printed
    two = run(tree, "--stage", "2", "--stop-stage", "2", "--jobs", "4", DRY_RUN="1")
    assert "--num-train 30000 --jobs 4" in two.stdout and "train.num_threads=4" in two.stdout
    assert run(tree, "--bogus", "1", DRY_RUN="1").returncode == 2


# ---- the bookkeeping, with stand-ins ---------------------------------------------------------------
FAKE_ASR = """#!/usr/bin/env bash
# asr stand-in: 'config get' is the real one; train/export record their call and write their outputs
echo "asr $*" >> "$CALLS"
case "$1" in
  config) exec "$REAL_ASR" "$@" ;;
  train)
    out=$(printf '%s\\n' "$@" | sed -n 's/^train.out_dir=//p')
    mkdir -p "$out"
    if [ -n "${FAIL_TRAIN:-}" ] && [ "$out" = "$FAIL_TRAIN" ]; then exit 3; fi
    date +%s%N > "$out/best.pt"; cp "$out/best.pt" "$out/averaged.pt" ;;
  export)
    model=$(printf '%s\n' "$@" | sed -n '/^--model$/{n;p}')
    out=$(printf '%s\n' "$@" | sed -n '/^-o$/{n;p}')
    cp "$model" "$out" ;;
esac
"""
FAKE_PY = """#!/usr/bin/env bash
# python stand-in: prepare.py (rendering) is recorded only; everything else runs for real
echo "python $*" >> "$CALLS"
[ "$1" = recipes/synthetic/prepare.py ] && exit 0
exec "$REAL_PY" "$@"
"""


def fake_corpus(folder: Path, num_train: int, repeats: int, sentences: list[int]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    config = {"num_train": num_train, "train_repeats": repeats}
    (folder / "corpus_info.json").write_text(json.dumps({"config": config}))
    rows = [
        {"id": f"train-{j:05d}{f'r{r}' if repeats > 1 else ''}-ab12", "audio": f"wav/train/{j}-{r}.wav",
         "duration": 2.0, "text": "a b"}
        for j in sentences for r in range(repeats)
    ]  # fmt: skip
    (folder / "train.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (folder / "dev.jsonl").write_text(json.dumps(rows[0]) + "\n")


def test_steps_skip_when_up_to_date_rerun_when_inputs_change_and_resume(tree):
    bin_dir = tree / "fakebin"
    bin_dir.mkdir()
    for name, body in (("asr", FAKE_ASR), ("python", FAKE_PY)):
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod((bin_dir / name).stat().st_mode | stat.S_IEXEC)
    calls = tree / "calls.log"
    env = {
        "ASR": str(bin_dir / "asr"),
        "PYTHON": str(bin_dir / "python"),
        "REAL_ASR": str(BIN / "asr"),
        "REAL_PY": sys.executable,
        "CALLS": str(calls),
    }
    fake_corpus(tree / M, 30000, 1, [0, 1, 4499, 4500, 29999])
    fake_corpus(tree / F, 50000, 2, [0, 999, 1000, 24999])
    (tree / "exp/synthetic-full-ft").mkdir(parents=True)
    (tree / "exp/synthetic-full-ft/model.pt").write_text("espeak-only")

    def stages_2_3(**extra: str) -> tuple[subprocess.CompletedProcess, list[str]]:
        calls.write_text("")
        done = run(tree, "--stage", "2", "--stop-stage", "3", **env, **extra)
        made = [c for c in calls.read_text().splitlines() if " config get " not in c]
        return done, made

    done, made = stages_2_3()
    assert done.returncode == 0, done.stdout + done.stderr
    trains = [c for c in made if c.startswith("asr train")]
    assert len(trains) == 2 and not any("--resume" in c for c in trains)
    share = [json.loads(line)["id"] for line in (tree / M / "train.first4500.jsonl").read_text().splitlines()]
    assert share == ["train-00000-ab12", "train-00001-ab12", "train-04499-ab12"]
    mixed = [json.loads(line) for line in (tree / M / "train_stage3.jsonl").read_text().splitlines()]
    assert [r["id"] for r in mixed][3:] == ["train-00000r0-ab12", "train-00000r1-ab12"] + [
        "train-00999r0-ab12",
        "train-00999r1-ab12",
    ]
    assert mixed[3]["audio"] == "../synthetic-full/wav/train/0-0.wav"  # rebased onto the mix's folder
    assert (tree / "exp/synthetic-multi-2/model.pt").is_file()

    # again: every step is up to date; only the render (prepare.py's own check) is called
    done, made = stages_2_3()
    assert done.returncode == 0, done.stderr
    assert made == [
        "python recipes/synthetic/prepare.py --config recipes/synthetic/config.multi.toml "
        "--out data/synthetic-multi --num-train 30000 --jobs 2"
    ]
    assert done.stdout.count("up to date, skipping") == 6

    # stage 2's init changes: stage 2 trains again, and so does stage 3 (its init changed with it);
    # stage 3's training fails part-way, and the next run resumes it alone
    (tree / "exp/synthetic-full-ft/model.pt").write_text("another espeak-only")
    done, made = stages_2_3(FAIL_TRAIN="exp/synthetic-multi-2")
    assert done.returncode != 0
    assert [c.split("train.out_dir=")[1].split()[0] for c in made if c.startswith("asr train")] == [
        "exp/synthetic-multi",
        "exp/synthetic-multi-2",
    ]
    done, made = stages_2_3()
    assert done.returncode == 0, done.stderr
    trains = [c for c in made if c.startswith("asr train")]
    assert len(trains) == 1 and "train.out_dir=exp/synthetic-multi-2" in trains[0]
    assert trains[0].endswith("--resume")
    assert any(c.startswith("asr export") for c in made)


def test_first_utterances_refuses_what_a_larger_render_does_not_hold(tmp_path):
    fake_corpus(tmp_path / "c", 1000, 2, [0, 1, 2])
    script = ROOT / "recipes/synthetic/first_utterances.py"

    def take(n: int) -> subprocess.CompletedProcess:
        out = tmp_path / "out" / "first.jsonl"
        return subprocess.run(
            [sys.executable, str(script), str(tmp_path / "c"), "--num-train", str(n), "-o", str(out)],
            capture_output=True,
            text=True,
        )

    done = take(4)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (tmp_path / "out" / "first.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [
        "train-00000r0-ab12",
        "train-00000r1-ab12",
        "train-00001r0-ab12",
        "train-00001r1-ab12",
    ]
    assert rows[0]["audio"] == "../c/wav/train/0-0.wav"
    odd = take(3)  # half a sentence: a render with 3 draws that sentence's voice differently
    assert odd.returncode == 2 and "not a multiple of train_repeats 2" in odd.stderr
    more = take(2000)
    assert more.returncode == 2 and "rendered with num_train 1000" in more.stderr
