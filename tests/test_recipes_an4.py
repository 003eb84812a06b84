"""AN4 recipe: prepare on fixture trees laid out like an4_raw.bigendian.tar.gz and an4_sphere.tar.gz;
run.sh end to end."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from recipe_helpers import ROOT, load_recipe, read_jsonl, run_sh, run_sh_env, write_tiny_recipe_config

an4 = load_recipe("an4")

TRAIN = {  # speaker -> [(utterance id, transcript line text)]
    "fash": [("an251-fash-b", "<s> YES </s>"), ("an253-fash-b", "<s> RUBOUT G M E F THREE NINE </s>")],
    "fbbh": [("cen1-fbbh-b", "<s> ENTER SIX TWO FOUR </s>"), ("cen2-fbbh-b", "<s> NO </s>")],
    "mblw": [("an76-mblw-b", "<s> ERASE C Q Q F SEVEN </s>"), ("an77-mblw-b", "<s> STOP </s>")],
}
TEST = {"fcaw": [("an406-fcaw-b", "<s> YES </s>"), ("an407-fcaw-b", "<s> ENTER FOUR FIVE </s>")]}


def _raw(path: Path, seconds: float, seed: int, sphere: bool = False) -> None:
    """Headerless big-endian 16-bit PCM at 16 kHz, like AN4's .raw files (or NIST SPHERE, like its .sph)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    audio = 0.3 * np.sin(2 * np.pi * (200 + 50 * seed) * t) + 0.05 * rng.standard_normal(t.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    if sphere:
        sf.write(
            path.with_suffix(".sph"), (audio * 20000).astype(np.int16), 16000, format="NIST", subtype="PCM_16"
        )
        return
    path.write_bytes((audio * 20000).astype(">i2").tobytes())


def make_an4_tree(root: Path, *, broken: bool = False, sphere: bool = False) -> Path:
    """An ``an4/`` folder with etc/ listings and wav/*.raw (or, like an4_sphere.tar.gz, *.sph) files."""
    corpus = root / "an4"
    etc = corpus / "etc"
    etc.mkdir(parents=True)
    seed = 0
    for official, table, wav in (("train", TRAIN, "an4_clstk"), ("test", TEST, "an4test_clstk")):
        fileids, trans = [], []
        for speaker, utts in table.items():
            for utt, text in utts:
                seed += 1
                # the real lists name the folder too; the second test speaker omits it (older copies)
                fileids.append(f"{wav}/{speaker}/{utt}" if speaker != "fbbh" else f"{speaker}/{utt}")
                trans.append(f"{text} ({utt})")
                _raw(corpus / "wav" / wav / speaker / f"{utt}.raw", 1.5 + 0.1 * seed, seed, sphere)
        if broken and official == "train":
            fileids.append("an4_clstk/fash/an78-fash-b")  # listed, no audio file
            trans.append("<s> GO </s> (an78-fash-b)")
            fileids.append("an4_clstk/fash/an79-fash-b")  # audio, but an empty transcript
            trans.append("<s> </s> (an79-fash-b)")
            _raw(corpus / "wav" / wav / "fash" / "an79-fash-b.raw", 1.0, 99)
            fileids.append("an4_clstk/fash/an80-fash-b")  # zero-byte audio file
            trans.append("<s> GO </s> (an80-fash-b)")
            (corpus / "wav" / wav / "fash" / "an80-fash-b.raw").write_bytes(b"")
        (etc / f"an4_{official}.fileids").write_text("\n".join(fileids) + "\n")
        (etc / f"an4_{official}.transcription").write_text("\n".join(trans) + "\n")
    return corpus


def test_read_transcriptions(tmp_path):
    path = tmp_path / "t.transcription"
    path.write_text(
        "<s> RUBOUT G M E F THREE NINE </s> (an253-fash-b)\nnot a line\n<s> NO </s> (cen2-fbbh-b)\n"
    )
    assert an4.read_transcriptions(path) == {"an253-fash-b": "RUBOUT G M E F THREE NINE", "cen2-fbbh-b": "NO"}


def test_prepare_writes_manifests_line_by_line(tmp_path):
    corpus = make_an4_tree(tmp_path / "src", broken=True)
    out = tmp_path / "data"
    config = tmp_path / "c.toml"
    config.write_text("[corpus]\ndev_speakers = 1\n")
    argv = ["--config", str(config), "prepare", "--corpus-dir", str(corpus), "--out", str(out)]
    assert an4.main([*argv, "--jobs", "1", "--no-progress"]) == 0

    train, dev, test = (read_jsonl(out / f"{s}.jsonl") for s in ("train", "dev", "test"))
    assert [r["id"] for r in train] == ["an251-fash-b", "an253-fash-b", "cen1-fbbh-b", "cen2-fbbh-b"]
    assert [r["id"] for r in dev] == ["an76-mblw-b", "an77-mblw-b"]  # the last speaker, held out
    assert [r["id"] for r in test] == ["an406-fcaw-b", "an407-fcaw-b"]
    row = train[1]
    assert row["text"] == "rubout g m e f three nine" and row["speaker"] == "fash"
    assert row["audio"] == "wav/train/fash/an253-fash-b.wav"
    assert abs(row["duration"] - 1.7) < 1e-3
    info = sf.info(str(out / row["audio"]))
    assert (info.samplerate, info.channels, info.format) == (16000, 1, "WAV")
    # the big-endian samples were read as such: the converted signal is the sine we wrote, not noise
    audio, _ = sf.read(str(out / row["audio"]))
    assert 0.2 < np.abs(audio).max() < 0.45
    assert dev[0]["text"] == "erase c q q f seven"

    report = json.loads((out / "train.report.json").read_text())
    assert report["skipped"] == 3  # the three broken items, each with its reason
    reasons = report["skipped_items"]
    assert reasons["an78-fash-b"].startswith("missing audio")
    assert reasons["an79-fash-b"].startswith("empty text")
    assert reasons["an80-fash-b"].startswith("unreadable audio")
    assert (out / "train_text.txt").read_text().splitlines()[0] == "yes"

    # idempotent: a second run is skipped by its marker and leaves identical files
    before = (out / "train.jsonl").read_bytes()
    assert an4.main([*argv, "--jobs", "2", "--no-progress"]) == 0
    assert (out / "train.jsonl").read_bytes() == before
    # and a forced re-run in parallel writes the same bytes
    assert an4.main([*argv, "--jobs", "2", "--no-progress", "--force"]) == 0
    assert (out / "train.jsonl").read_bytes() == before


def test_prepare_missing_corpus_is_a_clear_error(tmp_path, capsys):
    argv = ["prepare", "--corpus-dir", str(tmp_path / "nope"), "--out", str(tmp_path / "o"), "--no-progress"]
    assert an4.main(argv) == 2
    assert "an4_train.fileids: missing" in capsys.readouterr().err


def test_download_sources_are_https_or_plainly_unverified():
    """The default archive comes over https; no checksum is pinned, and the recipe says so."""
    assert an4.VARIANTS["sphere"] == an4.RESOURCES and an4.RESOURCES[0].url.startswith("https://")
    assert all(
        r.sha256 is None and r.md5 is None and r.expected_bytes for rs in an4.VARIANTS.values() for r in rs
    )
    readme = (ROOT / "recipes/an4/README.md").read_text()
    assert "**unverified.**" in readme and "--sha256" in readme


def test_prepare_reads_the_sphere_variant(tmp_path):
    """an4_sphere.tar.gz has the same listings with NIST SPHERE .sph files: read them, convert to wav."""
    corpus = make_an4_tree(tmp_path / "src", sphere=True)
    assert sorted(p.suffix for p in (corpus / "wav").rglob("*.*")) == [".sph"] * 8
    out = tmp_path / "data"
    config = tmp_path / "c.toml"
    config.write_text("[corpus]\ndev_speakers = 1\n")
    argv = [
        "--config",
        str(config),
        "prepare",
        "--corpus-dir",
        str(corpus),
        "--out",
        str(out),
        "--no-progress",
    ]
    assert an4.main([*argv, "--jobs", "1"]) == 0
    train = read_jsonl(out / "train.jsonl")
    assert [r["id"] for r in train] == ["an251-fash-b", "an253-fash-b", "cen1-fbbh-b", "cen2-fbbh-b"]
    assert [r["id"] for r in read_jsonl(out / "test.jsonl")] == ["an406-fcaw-b", "an407-fcaw-b"]
    row = train[1]
    assert row["audio"] == "wav/train/fash/an253-fash-b.wav" and abs(row["duration"] - 1.7) < 1e-3
    audio, rate = sf.read(str(out / row["audio"]))
    assert rate == 16000 and 0.2 < np.abs(audio).max() < 0.45  # the signal, not a misread header
    assert json.loads((out / "train.report.json").read_text())["skipped"] == 0


def test_prepare_with_no_audio_at_all_fails_loudly(tmp_path, capsys):
    """Listings but no wav/ folder (an unknown layout, an unfinished extraction): an error, no manifest."""
    import shutil

    corpus = make_an4_tree(tmp_path / "src")
    shutil.rmtree(corpus / "wav")
    out = tmp_path / "data"
    argv = ["prepare", "--corpus-dir", str(corpus), "--out", str(out), "--no-progress", "--jobs", "1"]
    assert an4.main(argv) == 2
    err = capsys.readouterr().err
    assert "train: none of the 4 listed utterances is usable" in err and "missing audio" in err
    assert not (out / "train.jsonl").exists() and not (out / ".train.done").exists()
    assert json.loads((out / "train.report.json").read_text())["skipped_by_reason"] == {"missing audio": 4}


@pytest.mark.slow
def test_run_sh_end_to_end_on_fixture(tmp_path):
    """prepare → train one short epoch → evaluate → transcribe, on the AN4 fixture tree; re-run skips."""
    corpus = make_an4_tree(tmp_path / "src")
    data, exp = tmp_path / "data", tmp_path / "exp"
    tables = "[corpus]\ndev_speakers = 1\n[lm]\norder = 2\n"
    config = write_tiny_recipe_config(
        tmp_path / "tiny.toml", tables, data, exp, max_duration=20.0, warmup_steps=2, num_threads=1
    )
    env = run_sh_env(OMP_NUM_THREADS="1")
    cmd = run_sh("an4", config, "--corpus-dir", str(corpus))
    # Stage 2 (KenLM LM + tuning) is left out to keep this CI-sized; the synthetic recipe's test covers it.
    for c in ([*cmd, "--stop-stage", "1"], [*cmd, "--stage", "3"]):
        out = subprocess.run(c, env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stdout + out.stderr
    assert "transcript:" in out.stdout and "WER" in out.stdout
    summary = json.loads((exp / "summary-test.json").read_text())
    assert summary["utterances"] == 2
    assert len(read_jsonl(data / "train.jsonl")) == 4
    # re-running finds everything up to date
    again = subprocess.run([*cmd, "--stop-stage", "1"], env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "skipping the download" in again.stdout and "train: up to date" in again.stdout
    again = subprocess.run(
        [*cmd, "--stage", "3", "--stop-stage", "3"], env=env, capture_output=True, text=True
    )
    assert again.returncode == 0 and "skipping training" in again.stdout, again.stdout + again.stderr


def test_download_stage_from_a_local_mirror(tmp_path):
    """Stage 0 as a user runs it, against a mirror on 127.0.0.1 serving an archive of the fixture tree."""
    import functools
    import tarfile
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    site = tmp_path / "site"
    site.mkdir()
    for variant, name in (("raw", "an4_raw.bigendian.tar.gz"), ("sphere", "an4_sphere.tar.gz")):
        make_an4_tree(tmp_path / variant, sphere=variant == "sphere")
        with tarfile.open(site / name, "w:gz") as tar:
            tar.add(tmp_path / variant / "an4", arcname="an4")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    try:
        mirror = f"http://127.0.0.1:{httpd.server_address[1]}/"
        argv = ["download", "--dir", str(tmp_path / "data"), "--mirror", mirror, "--no-progress"]
        assert an4.main(argv) == 0
        assert (tmp_path / "data/an4/etc/an4_train.transcription").is_file()
        assert (tmp_path / "data/download/.an4_sphere.tar.gz.done").is_file()  # the https variant by default
        assert list((tmp_path / "data/an4/wav").rglob("*.sph"))
        raw = [
            "download",
            "--dir",
            str(tmp_path / "r"),
            "--mirror",
            mirror,
            "--no-progress",
            "--variant",
            "raw",
        ]
        assert an4.main(raw) == 0
        assert (tmp_path / "r/download/.an4_raw.bigendian.tar.gz.done").is_file()
        # a checksum the user pins is enforced
        pinned = [
            "download",
            "--dir",
            str(tmp_path / "p"),
            "--mirror",
            mirror,
            "--no-progress",
            "--sha256",
            "0" * 64,
        ]
        assert an4.main(pinned) == 2
        # a wrong mirror is a clear error (404), not a traceback
        argv = ["download", "--dir", str(tmp_path / "d2"), "--mirror", mirror + "nope", "--no-progress"]
        assert an4.main(argv) == 2
    finally:
        httpd.shutdown()
        httpd.server_close()
