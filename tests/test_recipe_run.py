"""The synthetic recipe's stages chain end to end (tiny corpus, one short epoch), and the run ends as
`make demo` does: test files transcribed with the tuned beam search + LM beside their references, then
a summary of the scores, the time taken, where things are and the command to try next."""

import json
import re
import shlex
import subprocess

import pytest
from recipe_helpers import read_jsonl, run_sh, run_sh_env, write_tiny_recipe_config

pytestmark = pytest.mark.slow


def test_run_sh_end_to_end(tmp_path):
    data, exp = tmp_path / "data", tmp_path / "exp"
    tables = "[corpus]\nnum_train = 40\nnum_dev = 6\nnum_test = 6\n"
    config = write_tiny_recipe_config(
        tmp_path / "tiny.toml", tables, data, exp, max_duration=60.0, warmup_steps=2
    )
    env = run_sh_env()
    cmd = run_sh("synthetic", config)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    summary = json.loads((exp / "summary-test.json").read_text())
    assert summary["utterances"] == 6
    _check_the_end(out.stdout, data, exp, env["ASR"])
    # a second run finds everything up to date and skips training, and ends the same way
    again = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "up to date" in again.stdout
    _check_the_end(again.stdout, data, exp, env["ASR"])


def _check_the_end(stdout: str, data, exp, asr: str) -> None:
    """Stage 5 and the summary: what a user reads last."""
    lines = stdout[stdout.index("stage 5:") :].splitlines()
    # the first three test files, with the weights stage 4 tuned for the LM
    assert f"--decoder-config {exp}/decoder-tuned.json" in lines[0]
    rows = read_jsonl(data / "test.jsonl")[:3]
    shown = lines[1:10]
    assert shown[0::3] == [str(data / r["audio"]) for r in rows]
    assert shown[1::3] == [f"  reference:  {r['text']}" for r in rows]
    assert all(line.startswith("  transcript: ") for line in shown[2::3])
    assert "not transcribed" not in stdout

    end = stdout[stdout.index("== done in") :].splitlines()
    assert re.fullmatch(r"== done in (\d+ min \d\d s|\d+ s) ==", end[0])
    assert end[1] == "test split: 6 utterances, " + end[1].split(", ")[1]
    scores = {}
    for label, suffix in [("greedy", ""), ("beam search", "-beam"), ("beam search + LM", "-beam-lm")]:
        figures = json.loads((exp / f"summary-test{suffix}.json").read_text())
        scores[label] = (f"{100 * figures['wer']:.1f}%", f"{100 * figures['cer']:.1f}%")
    table = {line[:20].strip(): tuple(line[20:].split()) for line in end[3:6]}
    assert table == scores
    assert end[6] == f"model:    {exp}/best.pt (decoder settings: {exp}/decoder-tuned.json)"
    assert end[7].startswith(f"reports:  {exp}/summary-test*.json")
    assert end[8].startswith("try it on your own audio")
    next_command = shlex.split(end[9])
    assert next_command == [asr, "transcribe", "your-audio.wav", "--model", f"{exp}/best.pt",
                            "--decoder-config", f"{exp}/decoder-tuned.json"]  # fmt: skip
    assert len(end) == 10  # the command is the last line
