"""recipes/common/show_results.py, the end of every recipe run (lib.sh's transcribe_first and finish),
without a model: a stand-in command plays `asr transcribe --format json`. tests/test_recipe_run.py runs it
for real at the end of the synthetic recipe."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from recipe_helpers import ROOT

sys.path.insert(0, str(ROOT / "recipes" / "common"))
import show_results  # noqa: E402


def _manifest(tmp_path: Path, n: int) -> Path:
    rows = [{"id": f"u{i}", "audio": f"wav/u{i}.wav", "text": f"reference {i}"} for i in range(n)]
    path = tmp_path / "test.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_each_reference_is_shown_beside_its_transcript(tmp_path, capsys):
    """The stand-in transcribes every file but the second (a failure: said so, not skipped silently)."""
    fake = tmp_path / "fake_asr.py"
    fake.write_text(
        "import json, sys\n"
        "for i, path in enumerate(a for a in sys.argv[1:] if a.endswith('.wav')):\n"
        "    if i != 1:\n"
        "        print(json.dumps({'file': path, 'text': f'hypothesis {i}'}))\n"
        "sys.exit(1)\n"
    )
    manifest = _manifest(tmp_path, 5)
    code = show_results.main(["transcripts", "--manifest", str(manifest), "--count", "3", "--",
                              sys.executable, str(fake), "transcribe"])  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert code == 1  # the command's status
    assert lines == [
        str(tmp_path / "wav/u0.wav"), "  reference:  reference 0", "  transcript: hypothesis 0",
        str(tmp_path / "wav/u1.wav"), "  reference:  reference 1",
        "  transcript: (not transcribed: see the error above)",
        str(tmp_path / "wav/u2.wav"), "  reference:  reference 2", "  transcript: hypothesis 2",
    ]  # fmt: skip


def test_the_summary_has_every_decoding_scored_and_the_next_command(tmp_path, capsys):
    for suffix, wer, cer in [("", 0.667, 0.213), ("-beam-lm", 0.327, 0.147)]:  # no beam without LM
        figures = {"utterances": 500, "audio_hours": 0.62, "wer": wer, "cer": cer}
        (tmp_path / f"summary-test{suffix}.json").write_text(json.dumps(figures))
    show_results.main(["summary", "--exp", str(tmp_path), "--test", "test", "--seconds", "916",
                       "--model", "exp/synthetic/best.pt", "--decoder-config", "exp/d.json",
                       "--asr", ".venv/bin/asr"])  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:6] == [
        "== done in 15 min 16 s ==",
        "test split: 500 utterances, 37.2 min of audio",
        "                         WER     CER",
        "  greedy               66.7%   21.3%",
        "  beam search + LM     32.7%   14.7%",
    ]
    assert lines[6] == "model:    exp/synthetic/best.pt (decoder settings: exp/d.json)"
    assert lines[-1] == (
        "  .venv/bin/asr transcribe your-audio.wav --model exp/synthetic/best.pt --decoder-config exp/d.json"
    )


def test_a_summary_before_any_scores_says_where_they_come_from(tmp_path, capsys):
    show_results.main(["summary", "--exp", str(tmp_path), "--test", "test-clean", "--seconds", "42",
                       "--model", "m.pt"])  # fmt: skip
    out = capsys.readouterr().out
    assert "== done in 42 s ==" in out and "no scores for the test-clean split yet" in out
    assert (
        "reports:" not in out
        and out.splitlines()[-1] == "  .venv/bin/asr transcribe your-audio.wav --model m.pt"
    )
