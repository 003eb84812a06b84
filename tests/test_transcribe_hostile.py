"""`asr transcribe` / `asr evaluate` / corpus preparation against bad files among good ones: one bad file
is reported and skipped whatever it raises, outputs are written whole and named by a stated rule, and a
full disk is one line that says what was kept."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from tiny_model import letters_recognizer, save_model

import asr.transcription
from asr.transcription import transcribe_many

RATE = 16000


def tone_bursts(seconds: float, seed: int, level: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    audio = np.zeros_like(t)
    for start in np.arange(0.3, seconds - 0.8, 1.1):
        mask = (t >= start) & (t < start + 0.6)
        audio[mask] = level * np.sin(2 * np.pi * rng.uniform(150, 900) * t[mask])
    return (audio + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="module")
def model():
    return letters_recognizer()


@pytest.fixture(scope="module")
def model_path(model, tmp_path_factory):
    return save_model(model, tmp_path_factory.mktemp("model") / "m.pt")


def write_wavs(folder: Path, names: list[str], **kw) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, name in enumerate(names):
        sf.write(folder / name, tone_bursts(2.0, i, **kw), RATE)
        paths.append(folder / name)
    return paths


@pytest.fixture
def cli(capsys):
    """`asr transcribe ...` in this process: (exit status, stdout, stderr)."""
    from asr.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["transcribe", *args, "--threads", "1", "--vad", "energy"])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_an_unexpected_error_in_one_file_is_one_bad_file(cli, model_path, tmp_path, monkeypatch):
    a, b, c = write_wavs(tmp_path / "in", ["a.wav", "b.wav", "c.wav"])
    real = asr.transcription.read_blocks

    def read_blocks(source, *args, **kwargs):
        if Path(source) == b:
            raise RuntimeError("a bug that only this file trips")
        return real(source, *args, **kwargs)

    monkeypatch.setattr(asr.transcription, "read_blocks", read_blocks)
    out_dir = tmp_path / "out"
    code, _, err = cli(str(a), str(b), str(c), "--model", str(model_path), "--output-dir", str(out_dir))
    assert code == 1 and "Traceback" not in err, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["a.txt", "c.txt"]
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and str(b) in errors[0] and "RuntimeError" in errors[0], err
    assert "1 of 3 inputs failed" in err


def test_a_failing_batch_fails_only_the_file_that_trips_it(model, tmp_path):
    """A model that fails on one file's audio (here: anything louder than 0.9) costs that file only,
    though its segments share batches with the others'."""
    quiet = write_wavs(tmp_path / "q", ["q0.wav", "q1.wav", "q2.wav"])
    loud = write_wavs(tmp_path / "l", ["loud.wav"], level=0.98)[0]

    class Fragile:
        def __init__(self, inner):
            self._inner = inner

        def __getattr__(self, name):
            return getattr(self._inner, name)

        def __call__(self, waves, lengths):
            if float(waves.abs().max()) > 0.9:
                raise RuntimeError("numerical trouble")
            return self._inner(waves, lengths)

    alone = {p: r.text for p, r in transcribe_many(model, quiet, vad="energy")}
    results = dict(transcribe_many(Fragile(model), [quiet[0], loud, quiet[1], quiet[2]], vad="energy"))
    assert isinstance(results[loud], Exception) and "RuntimeError" in str(results[loud])
    assert {p: results[p].text for p in quiet} == alone


def test_names_with_newlines_or_tabs_stay_on_their_line(cli, model_path, tmp_path):
    paths = write_wavs(tmp_path, ["two\nlines.wav", "a\ttab.wav", "back\\slash.wav"])
    code, out, err = cli(*map(str, paths), "--model", str(model_path))
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 3 and all(line.count("\t") == 1 for line in lines), lines
    assert [line.split("\t")[0].rsplit("/", 1)[-1] for line in lines] == [
        "two\\nlines.wav",
        "a\\ttab.wav",
        "back\\\\slash.wav",
    ]


def test_outputs_follow_one_rule_and_are_never_replaced_silently(cli, model_path, tmp_path):
    write_wavs(tmp_path / "rec" / "day1", ["x.wav"])
    write_wavs(tmp_path / "rec" / "day2", ["x.wav", "y.wav"])
    out_dir = tmp_path / "out"
    rec = tmp_path / "rec"
    # one stem, two files given: refused before anything is transcribed, both named
    code, _, err = cli(str(rec / "day1" / "x.wav"), str(rec / "day2" / "x.wav"), "--model", str(model_path),
                       "--output-dir", str(out_dir))  # fmt: skip
    assert code == 2 and "share an output" in err and "day1/x.wav" in err and "day2/x.wav" in err, err
    assert not out_dir.exists() or not any(out_dir.iterdir())
    # their folder given: outputs keep the path below it
    code, _, err = cli(str(rec), "--model", str(model_path), "--output-dir", str(out_dir))
    assert code == 0, err
    written = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*.txt"))
    assert written == ["day1/x.txt", "day2/x.txt", "day2/y.txt"]
    # an output that exists is not replaced without --overwrite
    (out_dir / "day2" / "y.txt").write_text("mine\n")
    code, _, err = cli(str(rec), "--model", str(model_path), "--output-dir", str(out_dir))
    assert code == 2 and "already exist" in err and "--overwrite" in err, err
    assert (out_dir / "day2" / "y.txt").read_text() == "mine\n"
    code, _, err = cli(str(rec), "--model", str(model_path), "--output-dir", str(out_dir), "--overwrite")
    assert code == 0 and (out_dir / "day2" / "y.txt").read_text() != "mine\n", err


def test_folders_devices_and_pipes_among_inputs_are_named(cli, model_path, tmp_path):
    (good,) = write_wavs(tmp_path, ["good.wav"])
    folder = tmp_path / "x.wav"
    folder.mkdir()
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    code, out, err = cli(str(good), str(folder), "/dev/zero", str(fifo), "--model", str(model_path))
    assert code == 1 and "Traceback" not in err, err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 3, err
    assert "x.wav: is a folder with no audio files" in errors[0]
    assert "/dev/zero: is a character device" in errors[1]
    assert "pipe.wav: is a named pipe" in errors[2]
    assert out.startswith(f"{good}\t") and "3 of 4 inputs failed" in err


def run_on_a_tiny_disk(cmd: list[str], out_dir: Path, copy: Path) -> subprocess.CompletedProcess:
    """`cmd` with `out_dir` on a real 8 KiB tmpfs (two pages) in a private mount namespace; what it left
    there is copied to `copy` (with hidden temporary files, if any)."""
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is needed to mount a small file system")
    out_dir.mkdir()
    copy.mkdir()
    script = (
        f'mount -t tmpfs -o size=8k tmpfs "{out_dir}" || exit 99; "$@"; code=$?; '
        f'cp -a "{out_dir}/." "{copy}/"; exit $code'
    )
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, "sh", *cmd], capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_a_full_disk_is_one_line_that_names_what_was_kept(model_path, tmp_path):
    """Two transcripts fit on the disk, the third does not."""
    paths = write_wavs(tmp_path / "in", ["a.wav", "b.wav", "c.wav", "d.wav"])
    out_dir, copy = tmp_path / "out", tmp_path / "copy"
    cmd = [sys.executable, "-m", "asr.cli", "transcribe", *map(str, paths), "--model", str(model_path),
           "--output-dir", str(out_dir), "--format", "json", "--vad", "energy", "--threads", "1"]  # fmt: skip
    proc = run_on_a_tiny_disk(cmd, out_dir, copy)
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "No space left on device" in errors[0], proc.stderr
    assert "kept the 2 transcript(s)" in errors[0] and "a.json, b.json" in errors[0], errors[0]
    kept = sorted(p.name for p in copy.iterdir())
    assert kept == ["a.json", "b.json"], kept  # no empty c.json, no temporary file left behind
    assert all(json.loads((copy / name).read_text())["file"].endswith(name[0] + ".wav") for name in kept)


@pytest.mark.slow
def test_evaluate_on_a_full_disk_names_the_reports_kept(model_path, tmp_path):
    paths = write_wavs(tmp_path / "in", [f"{i}.wav" for i in range(40)])
    manifest = tmp_path / "test.jsonl"
    text = "a fairly long reference sentence so that the reports take more than one page of the disk"
    manifest.write_text("".join(json.dumps({"id": f"utt-{p.stem}", "audio": str(p), "duration": 2.0,
                                            "text": text}) + "\n" for p in paths))  # fmt: skip
    out_dir, copy = tmp_path / "out", tmp_path / "copy"
    cmd = [sys.executable, "-m", "asr.cli", "evaluate", "--model", str(model_path), "--manifest", str(manifest),
           "--output-dir", str(out_dir), "--greedy", "--threads", "1"]  # fmt: skip
    proc = run_on_a_tiny_disk(cmd, out_dir, copy)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "No space left on device" in errors[0], proc.stderr
    kept = sorted(p.name for p in copy.iterdir())
    assert (
        kept
        and all(p.stat().st_size > 0 for p in copy.iterdir())
        and not any(n.startswith(".") for n in kept)
    )
    assert f"kept: {', '.join(kept)}" in errors[0], (errors[0], kept)


def test_evaluate_skips_and_lists_an_item_that_raises_anything(model_path, tmp_path, monkeypatch, capsys):
    import asr.inference
    from asr.cli import main

    paths = write_wavs(tmp_path, ["a.wav", "b.wav", "c.wav"])
    manifest = tmp_path / "test.jsonl"
    rows = [{"id": f"u{i}", "audio": p.name, "duration": 2.0, "text": "a b"} for i, p in enumerate(paths)]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    real = asr.inference.read_item

    def read_item(item, rate):
        if item.id == "u1":
            raise TypeError("a bug that only this file trips")
        return real(item, rate)

    monkeypatch.setattr(asr.inference, "read_item", read_item)
    out = tmp_path / "reports"
    code = main(["evaluate", "--model", str(model_path), "--manifest", str(manifest), "--output-dir", str(out),
                 "--greedy", "--threads", "1"])  # fmt: skip
    assert code == 1 and "1 unreadable utterances skipped" in capsys.readouterr().err
    summary = json.loads((out / "summary-test.json").read_text())
    assert summary["utterances"] == 2 and "TypeError" in summary["skipped_items"]["u1"]


def test_prepare_skips_and_reports_an_item_that_raises_anything(tmp_path, monkeypatch):
    from asr.datasets import prepare

    paths = write_wavs(tmp_path / "corpus", ["a.wav", "b.wav", "c.wav"])
    items = [prepare.Item(id=f"u{i}", audio=p, text="hello there", verify=True) for i, p in enumerate(paths)]
    real = prepare.decode_check

    def decode_check(path, *args):
        if path.name == "b.wav":
            raise ValueError("a bug that only this file trips")
        return real(path, *args)

    monkeypatch.setattr(prepare, "decode_check", decode_check)
    result = prepare.prepare_split(items, tmp_path / "out", "train", progress=False)
    assert [r["id"] for r in result.rows] == ["u0", "u2"]
    report = json.loads((tmp_path / "out" / "train.report.json").read_text())
    assert "ValueError" in report["skipped_items"]["u1"]


def test_a_malformed_stm_line_is_skipped_not_the_end_of_tedliums_listing(tmp_path):
    from recipe_helpers import load_recipe

    tedlium = load_recipe("tedlium3")
    stm = tmp_path / "talk.stm"
    stm.write_text(
        "talk 1 spk 0.50 2.00 <o,f0,male> hello there\n"
        "talk 1 spk zero 3.00 <o,f0,male> a broken line\n"
        "talk 1 spk 3.00 4.50 <o,f0,male> good bye\n"
    )
    items, _ = tedlium.read_stm(stm, tmp_path, tmp_path / "out", "train", "<unk>")
    assert [i.text for i in items] == ["hello there", "good bye"]
