"""`asr.evaluate` / `asr evaluate`: scores, reports, skipped items, speakers, several decoders."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from tiny_model import letters_recognizer, save_model

from asr.data.manifest import read_manifest
from asr.decoding import GreedyDecoder
from asr.evaluate import EvalResult, evaluate, evaluate_decoders
from asr.recognizer import SpeechRecognizer

RATE = 16000


def _result() -> EvalResult:
    return EvalResult(
        ids=["a", "b", "c", "d"],
        references=["the cat sat", "open the door", "a b c d", "hello"],
        hypotheses=["the cat sat", "open a door", "a x", "hello world"],
        speakers=["s1", "s1", "s2", None],
        durations=[1.0, 1.0, 1.0, 1.0],
    )


def test_summary_counts_and_rates():
    s = _result().summary()
    # words: 3 + 3 + 4 + 1 = 11 reference words; 1 sub (b), 1 sub + 2 del (c), 1 ins (d)
    assert (s["substitutions"], s["deletions"], s["insertions"], s["reference_words"]) == (2, 2, 1, 11)
    assert s["wer"] == pytest.approx(5 / 11, abs=1e-5)
    assert 0 < s["cer"] < s["wer"]
    assert s["utterances"] == 4 and s["skipped"] == 0


def test_per_speaker_and_examples():
    r = _result()
    speakers = r.per_speaker()
    assert set(speakers) == {"s1", "s2"}  # utterances without a speaker are in no group
    assert speakers["s1"]["utterances"] == 2 and speakers["s1"]["wer"] == pytest.approx(1 / 6, abs=1e-4)
    assert speakers["s2"]["wer"] == pytest.approx(3 / 4, abs=1e-4)
    ex = r.examples(per_kind=1)
    assert ex["best"][0]["id"] == "a" and ex["worst"][0]["id"] == "d"  # d: 1 insertion on 1 word
    assert ex["median"][0]["id"] in {"b", "c"}
    assert EvalResult().examples() == {"best": [], "median": [], "worst": []}


def test_reports(tmp_path):
    r = _result()
    r.skipped["e"] = "e.wav: no such file"
    summary = r.write_reports(tmp_path, "x")
    saved = json.loads((tmp_path / "summary-x.json").read_text())
    assert saved == summary
    assert saved["skipped_items"] == {"e": "e.wav: no such file"} and "per_speaker" in saved
    recogs = (tmp_path / "recogs-x.txt").read_text().splitlines()
    assert recogs[2:4] == ["b:\tref=open the door", "b:\thyp=open a door"]
    errs = (tmp_path / "errs-x.txt").read_text()
    assert "REF: open THE door\nHYP: open A   door" in errs
    assert "skipped e: e.wav: no such file" in errs and "speaker s1:" in errs


@pytest.fixture(scope="module")
def model() -> SpeechRecognizer:
    return letters_recognizer()


@pytest.fixture
def manifest(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(5):
        audio = (0.1 * rng.standard_normal(int(RATE * (1 + i / 2)))).astype(np.float32)
        sf.write(tmp_path / f"{i}.wav", audio, RATE)
        rows.append({"id": f"u{i}", "audio": f"{i}.wav", "duration": len(audio) / RATE, "text": "Hello, World!",
                     "speaker": "AB"[i % 2]})  # fmt: skip
    rows.append({"id": "gone", "audio": "gone.wav", "duration": 1.0, "text": "x"})
    # A 1 s excerpt from 1.0 s into a longer file.
    long = (0.1 * rng.standard_normal(4 * RATE)).astype(np.float32)
    sf.write(tmp_path / "long.wav", long, RATE)
    rows.append({"id": "cut", "audio": "long.wav", "duration": 1.0, "offset": 1.0, "text": "cut"})
    path = tmp_path / "test.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_evaluate_skips_unreadable_reads_offsets_and_normalizes_references(model, manifest):
    model.train()
    result = evaluate(model, read_manifest(manifest), progress=False)
    assert model.training  # the training loop calls evaluate mid-training: mode is restored
    model.eval()
    assert sorted(result.ids) == ["cut", "u0", "u1", "u2", "u3", "u4"]
    assert list(result.skipped) == ["gone"] and "gone.wav" in result.skipped["gone"]
    assert result.references[result.ids.index("u0")] == "hello world"
    assert result.durations[result.ids.index("cut")] == pytest.approx(1.0)
    assert result.audio_seconds == pytest.approx(1.0 + 1.0 + 1.5 + 2.0 + 2.5 + 3.0)
    assert set(result.per_speaker()) == {"A", "B"}


def test_several_decoders_share_one_model_run(model, manifest, monkeypatch):
    items = read_manifest(manifest)
    calls = []
    forward = model.forward
    monkeypatch.setattr(model, "forward", lambda *a: calls.append(1) or forward(*a))
    results = evaluate_decoders(
        model,
        items,
        {"greedy": None, "other": GreedyDecoder(model.vocab, model.frame_shift_s)},
        progress=False,
    )
    runs = len(calls)
    single = evaluate(model, items, progress=False)
    assert runs == len(calls) - runs  # the two decoders cost one model run per batch, not two
    assert results["greedy"].hypotheses == results["other"].hypotheses == single.hypotheses
    assert results["greedy"].name == "greedy"
    with pytest.raises(ValueError):
        evaluate_decoders(model, items, {})


def test_cli_evaluate_reports_and_mistakes(model, manifest, tmp_path, capsys):
    from asr.cli import main

    model_path = save_model(model, tmp_path / "m.pt")
    out_dir = tmp_path / "reports"
    code = main(["evaluate", "--model", str(model_path), "--manifest", str(manifest), "--output-dir", str(out_dir),
                 "--threads", "1"])  # fmt: skip
    out = capsys.readouterr()
    assert code == 1  # one utterance could not be read: reported, and the exit status says so
    assert "test (greedy): WER" in out.out and "speaker A:" in out.out
    assert "gone" in out.err and len(out.err.strip().splitlines()) == 1
    summary = json.loads((out_dir / "summary-test.json").read_text())
    assert summary["utterances"] == 6 and summary["skipped_items"].keys() == {"gone"}

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "audio": "0.wav", "duration": 1, "text": "x"}\n{"id": "b", "audio": \n')
    assert main(["evaluate", "--model", str(model_path), "--manifest", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.jsonl:2" in err[0]

    assert main(["evaluate", "--model", str(tmp_path / "none.pt"), "--manifest", str(manifest)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "none.pt" in err[0]


def test_reports_of_a_shipped_model_go_to_exp_not_into_its_folder(manifest, tmp_path, monkeypatch, capsys):
    """data/models/NAME is the project's data (read-only once installed): by path or by name, its
    reports go to exp/NAME in the working folder."""
    from asr.cli import main
    from asr.loading import shipped_model_dir

    shipped = shipped_model_dir()
    before = sorted(p.name for p in shipped.iterdir())
    monkeypatch.chdir(tmp_path)
    for model in (str(shipped), shipped.name):
        assert (
            main(["evaluate", "--model", model, "--manifest", str(manifest), "--greedy", "--threads", "1"])
            == 1
        )
        assert "gone" in capsys.readouterr().err  # the unreadable utterance, as above
        assert (tmp_path / "exp" / shipped.name / "summary-test.json").is_file()
        (tmp_path / "exp" / shipped.name / "summary-test.json").unlink()
    assert sorted(p.name for p in shipped.iterdir()) == before
