"""LibriSpeech, LJ Speech, Common Voice and TED-LIUM 3: prepare on fixture trees laid out like the corpora."""

from __future__ import annotations

import gzip
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from recipe_helpers import ROOT, load_recipe, read_jsonl, run_sh, run_sh_env


def _tone(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * (180 + 40 * seed) * t)).astype(np.float32)


def _run(module, argv: list[str]) -> int:
    return module.main([*argv, "--no-progress"])


# --- LibriSpeech ----------------------------------------------------------------------------------

LIBRI = {  # split -> {utterance id: transcript}
    "dev-clean": {"1272-128104-0000": "MISTER QUILTER IS THE APOSTLE OF THE MIDDLE CLASSES",
                  "1272-128104-0001": "NOR IS MISTER QUILTER'S MANNER LESS INTERESTING"},
    "train-clean-100": {"103-1240-0000": "CHAPTER ONE MISSUS RACHEL LYNDE IS SURPRISED",
                        "103-1241-0000": "CHAPTER TWO MATTHEW CUTHBERT IS SURPRISED",
                        "19-198-0001": "ALL ABOUT THE HOUSE"},
}  # fmt: skip


def make_librispeech(root: Path) -> Path:
    corpus = root / "LibriSpeech"
    seed = 0
    for split, utts in LIBRI.items():
        chapters: dict[tuple[str, str], list[str]] = {}
        for utt, text in utts.items():
            spk, chap, _ = utt.split("-")
            chapters.setdefault((spk, chap), []).append(f"{utt} {text}")
            folder = corpus / split / spk / chap
            folder.mkdir(parents=True, exist_ok=True)
            seed += 1
            sf.write(folder / f"{utt}.flac", _tone(1.0 + 0.25 * seed, 16000, seed), 16000, subtype="PCM_16")
        for (spk, chap), lines in chapters.items():
            (corpus / split / spk / chap / f"{spk}-{chap}.trans.txt").write_text("\n".join(lines) + "\n")
    (corpus / "SPEAKERS.TXT").write_text(";ID |SEX| SUBSET |MINUTES| NAME\n")
    # a listed utterance whose flac is missing
    with (corpus / "train-clean-100/19/198/19-198.trans.txt").open("a") as f:
        f.write("19-198-0002 THIS ONE HAS NO AUDIO\n")
    return corpus


def test_librispeech_prepare(tmp_path):
    ls = load_recipe("librispeech")
    corpus = make_librispeech(tmp_path / "src")
    out = tmp_path / "data"
    config = tmp_path / "c.toml"
    config.write_text(
        '[corpus]\nsplits = ["dev-clean", "train-clean-100"]\ntrain_splits = ["train-clean-100"]\n'
    )
    argv = ["--config", str(config), "prepare", "--corpus-dir", str(corpus), "--out", str(out), "--jobs", "2"]
    assert _run(ls, argv) == 0
    assert read_jsonl(out / "dev-clean.jsonl") == [
        {"id": "1272-128104-0000", "audio": "../src/LibriSpeech/dev-clean/1272/128104/1272-128104-0000.flac",
         "duration": 1.25, "text": "mister quilter is the apostle of the middle classes", "speaker": "1272"},
        {"id": "1272-128104-0001", "audio": "../src/LibriSpeech/dev-clean/1272/128104/1272-128104-0001.flac",
         "duration": 1.5, "text": "nor is mister quilter's manner less interesting", "speaker": "1272"},
    ]  # fmt: skip
    train = read_jsonl(out / "train.jsonl")
    assert [r["id"] for r in train] == ["103-1240-0000", "103-1241-0000", "19-198-0001"]
    assert train == read_jsonl(out / "train-clean-100.jsonl")
    report = json.loads((out / "train-clean-100.report.json").read_text())
    assert report["skipped_by_reason"] == {"missing audio": 1}
    assert (out / "train_text.txt").read_text().splitlines()[2] == "all about the house"
    # the manifest reads back through the project's reader, audio paths resolved
    from asr.data.manifest import read_manifest

    assert read_manifest(out / "dev-clean.jsonl")[0].audio.resolve().is_file()


def test_librispeech_resources_and_lm_files(tmp_path):
    ls = load_recipe("librispeech")
    assert set(ls.SPLITS) == {
        "dev-clean", "dev-other", "test-clean", "test-other", "train-clean-100", "train-clean-360", "train-other-500",
    }  # fmt: skip
    res = ls.split_resource("dev-clean")
    assert res.url == "https://www.openslr.org/resources/12/dev-clean.tar.gz" and len(res.sha256) == 64
    assert (
        res.url_for("https://us.openslr.org/resources/12/")
        == "https://us.openslr.org/resources/12/dev-clean.tar.gz"
    )
    with pytest.raises(ValueError, match="unknown LibriSpeech split"):
        ls.split_resource("train-clean-5")
    arpa_gz = tmp_path / "3-gram.arpa.gz"
    with gzip.open(arpa_gz, "wt") as f:
        f.write("\\data\\\nngram 1=3\n\n\\1-grams:\n-1.0\t<s>\n-1.0\tHELLO\t-0.5\n-1.0\t</s>\n\n\\end\\\n")
    ls.lowercase_file(arpa_gz, tmp_path / "lm.arpa")
    assert "-1.0\thello\t-0.5" in (tmp_path / "lm.arpa").read_text()
    (tmp_path / "lexicon.txt").write_text("A\tAH0\nABBOT\tAE1 B AH0 T\n")
    ls.lowercase_file(tmp_path / "lexicon.txt", tmp_path / "words.txt", first_column=True)
    assert (tmp_path / "words.txt").read_text() == "a\nabbot\n"


# --- LJ Speech ------------------------------------------------------------------------------------


def test_ljspeech_prepare(tmp_path):
    lj = load_recipe("ljspeech")
    corpus = tmp_path / "LJSpeech-1.1"
    (corpus / "wavs").mkdir(parents=True)
    meta = [
        "LJ001-0001|Printing, in the only sense with which we are at present concerned|"
        "Printing, in the only sense with which we are at present concerned",
        "LJ002-0001|In 1829 the jail was built|In eighteen twenty-nine the jail was built",
        "LJ003-0001|Dr. Smith said so|",
        "LJ003-0002|No audio for this one|No audio for this one",
        "LJ003-0003|\u201cQuoted\u201d words|\u201cQuoted\u201d words",
    ]
    (corpus / "metadata.csv").write_text("\n".join(meta) + "\n", encoding="utf-8")
    for i, utt in enumerate(["LJ001-0001", "LJ002-0001", "LJ003-0001", "LJ003-0003"]):
        sf.write(corpus / "wavs" / f"{utt}.wav", _tone(1.0, 22050, i), 22050, subtype="PCM_16")
    out = tmp_path / "data"
    assert _run(lj, ["prepare", "--corpus-dir", str(corpus), "--out", str(out), "--jobs", "1"]) == 0
    assert read_jsonl(out / "dev.jsonl") == [
        {"id": "LJ001-0001", "audio": "../LJSpeech-1.1/wavs/LJ001-0001.wav", "duration": 1.0,
         "text": "printing in the only sense with which we are at present concerned", "speaker": "LJ"}
    ]  # fmt: skip
    test = read_jsonl(out / "test.jsonl")
    assert [(r["id"], r["text"]) for r in test] == [
        ("LJ002-0001", "in eighteen twenty nine the jail was built")
    ]
    train = read_jsonl(out / "train.jsonl")
    assert [(r["id"], r["text"]) for r in train] == [
        ("LJ003-0001", "doctor smith said so"),  # no normalized column: normalize_text reads the title
        ("LJ003-0003", "quoted words"),
    ]
    assert json.loads((out / "train.report.json").read_text())["skipped_items"] == {
        "LJ003-0002": f"missing audio: {corpus / 'wavs' / 'LJ003-0002.wav'}"
    }


# --- Common Voice ---------------------------------------------------------------------------------

CV_HEADER = "client_id\tpath\tsentence_id\tsentence\tsentence_domain\tup_votes\tdown_votes\tage\tgender\taccents\tvariant\tlocale\tsegment"


def _cv_row(client: str, clip: str, sentence: str) -> str:
    return (
        f"{client}\t{clip}\tsid\t{sentence}\t\t2\t0\ttwenties\tmale_masculine\tUnited States English\t\ten\t"
    )


def make_commonvoice(root: Path, with_durations: bool) -> Path:
    cv = root / "cv-corpus-17.0-2024-03-15" / "en"
    (cv / "clips").mkdir(parents=True)
    splits = {
        "train": [("aa11", "common_voice_en_1.mp3", 'He said "hello" to 2 friends.'),
                  ("bb22", "common_voice_en_2.mp3", "Caf\u00e9 au lait, s'il vous pla\u00eet"),
                  ("bb22", "common_voice_en_3.mp3", "   "),
                  ("cc33", "common_voice_en_4.mp3", "This clip is corrupt")],
        "dev": [("dd44", "common_voice_en_5.mp3", "It's a dev sentence")],
        "test": [("ee55", "common_voice_en_6.mp3", "A test sentence")],
    }  # fmt: skip
    durations = ["clip\tduration[ms]"]
    for i, (split, rows) in enumerate(splits.items()):
        (cv / f"{split}.tsv").write_text("\n".join([CV_HEADER, *(_cv_row(*r) for r in rows)]) + "\n")
        for j, (_, clip, _) in enumerate(rows):
            if clip == "common_voice_en_4.mp3":
                (cv / "clips" / clip).write_bytes(b"ID3 this is not an mp3 at all" * 10)
                continue
            sf.write(cv / "clips" / clip, _tone(1.0 + 0.5 * j, 48000, i + j), 48000, format="MP3")
            durations.append(f"{clip}\t{1000 + 500 * j + 24}")
    if with_durations:
        (cv / "clip_durations.tsv").write_text("\n".join(durations) + "\n")
    (cv / "validated.tsv").write_text(CV_HEADER + "\n")
    return cv


@pytest.mark.parametrize("with_durations", [True, False])
def test_commonvoice_prepare(tmp_path, with_durations):
    cv_mod = load_recipe("commonvoice")
    cv = make_commonvoice(tmp_path, with_durations)
    out = tmp_path / "data"
    assert _run(cv_mod, ["prepare", "--cv-dir", str(cv), "--out", str(out), "--jobs", "1"]) == 0
    train = read_jsonl(out / "train.jsonl")
    assert [(r["id"], r["text"], r["speaker"]) for r in train] == [
        ("common_voice_en_1", "he said hello to two friends", "aa11"),
        ("common_voice_en_2", "cafe au lait s'il vous plait", "bb22"),
    ]
    assert train[0]["audio"] == "../cv-corpus-17.0-2024-03-15/en/clips/common_voice_en_1.mp3"
    if with_durations:  # taken from clip_durations.tsv, no mp3 opened
        assert [r["duration"] for r in train] == [1.024, 1.524]
    else:  # from the mp3 header (encoder padding makes it a little longer)
        assert train[0]["duration"] == pytest.approx(1.0, abs=0.1)
        assert train[1]["duration"] == pytest.approx(1.5, abs=0.1)
    skipped = json.loads((out / "train.report.json").read_text())["skipped_items"]
    assert skipped["common_voice_en_3"].startswith("empty text")
    # found at prepare time even when clip_durations.tsv lists it (no header read needed for a duration)
    assert skipped["common_voice_en_4"].startswith("unreadable audio")
    assert [r["text"] for r in read_jsonl(out / "dev.jsonl")] == ["it's a dev sentence"]
    assert [r["id"] for r in read_jsonl(out / "test.jsonl")] == ["common_voice_en_6"]


def test_commonvoice_prepare_finds_corrupt_and_truncated_clips(tmp_path):
    """Clips listed in clip_durations.tsv are still decoded: a corrupt one and one that stops early
    (decodes to far less than listed) are reported by prepare, not left for training to find."""
    cv_mod = load_recipe("commonvoice")
    cv = make_commonvoice(tmp_path, with_durations=True)
    clip = cv / "clips" / "common_voice_en_2.mp3"
    sf.write(clip, _tone(6.0, 48000), 48000, format="MP3")
    clip.write_bytes(clip.read_bytes()[:3000])  # cut a 6 s mp3 after a few frames
    durations = (
        (cv / "clip_durations.tsv")
        .read_text()
        .replace("common_voice_en_2.mp3\t1524", "common_voice_en_2.mp3\t6000")
    )
    # the corrupt clip is listed too: no header is read for its duration, only decoding finds it
    (cv / "clip_durations.tsv").write_text(durations + "common_voice_en_4.mp3\t2000\n")
    out = tmp_path / "data"
    assert _run(cv_mod, ["prepare", "--cv-dir", str(cv), "--out", str(out), "--jobs", "2"]) == 0
    assert [r["id"] for r in read_jsonl(out / "train.jsonl")] == ["common_voice_en_1"]
    skipped = json.loads((out / "train.report.json").read_text())["skipped_items"]
    assert (
        skipped["common_voice_en_2"].startswith("unreadable audio")
        and "truncated" in skipped["common_voice_en_2"]
    )
    assert skipped["common_voice_en_4"].startswith("unreadable audio")


def test_commonvoice_download_extracts_a_given_archive(tmp_path, capsys):
    cv_mod = load_recipe("commonvoice")
    cv = make_commonvoice(tmp_path / "src", with_durations=True)
    archive = tmp_path / "cv-corpus-17.0-2024-03-15-en.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(cv.parent, arcname="cv-corpus-17.0-2024-03-15")
    argv = ["download", "--archive", str(archive), "--dir", str(tmp_path / "data")]
    assert cv_mod.main(argv) == 0
    assert (tmp_path / "data/cv-corpus-17.0-2024-03-15/en/train.tsv").is_file()
    assert cv_mod.main(["download"]) == 2
    assert "commonvoice.mozilla.org" in capsys.readouterr().err


# --- TED-LIUM 3 -----------------------------------------------------------------------------------


def make_tedlium(root: Path) -> Path:
    corpus = root / "TEDLIUM_release-3"
    talks = {
        "data": ("AlGore_2009", [
            (0.0, 1.5, "ignore_time_segment_in_scoring"),
            (1.5, 3.0, "and it 's truly great to be here"),
            (3.0, 4.2, "we 've got <unk> problems"),
            (4.2, 5.5, "<unk>"),
            (5.5, 6.0, "{COUGH} thank you"),
        ]),
        "legacy/dev": ("DanBarber_2010", [(0.5, 2.0, "i do n't know"), (2.0, 3.5, "so that 's it")]),
        "legacy/test": ("JaneMcGonigal_2010", [(0.25, 1.75, "i 'm jane")]),
    }  # fmt: skip
    for folder, (talk, segments) in talks.items():
        base = corpus / folder
        (base / "sph").mkdir(parents=True)
        (base / "stm").mkdir(parents=True)
        audio = np.concatenate([_tone(0.5, 16000, i) for i in range(14)])  # 7 s
        sf.write(base / "sph" / f"{talk}.sph", audio, 16000, format="NIST", subtype="PCM_16")
        lines = [f"{talk} 1 {talk} {a:.2f} {b:.2f} <o,f0,male> {text}" for a, b, text in segments]
        (base / "stm" / f"{talk}.stm").write_text("\n".join(lines) + "\n")
    return corpus


def test_tedlium_clean_transcript():
    td = load_recipe("tedlium3")
    assert td.clean_transcript("and it 's truly great") == "and it's truly great"
    assert td.clean_transcript("ignore_time_segment_in_scoring") is None
    assert td.clean_transcript("we 've got <unk> problems") == "we've got problems"
    assert td.clean_transcript("we 've got <unk> problems", unk="skip") is None
    assert td.clean_transcript("{NOISE} hello(2) [laughter]") == "hello"


def test_tedlium_prepare_cuts_segments(tmp_path):
    td = load_recipe("tedlium3")
    corpus = make_tedlium(tmp_path / "src")
    out = tmp_path / "data"
    assert _run(td, ["prepare", "--corpus-dir", str(corpus), "--out", str(out), "--jobs", "2"]) == 0
    train = read_jsonl(out / "train.jsonl")
    assert train == [
        {"id": "AlGore_2009-0000150-0000300", "audio": "wav/train/AlGore_2009/AlGore_2009-0000150-0000300.flac",
         "duration": 1.5, "text": "and it's truly great to be here", "speaker": "AlGore_2009"},
        {"id": "AlGore_2009-0000300-0000420", "audio": "wav/train/AlGore_2009/AlGore_2009-0000300-0000420.flac",
         "duration": 1.2, "text": "we've got problems", "speaker": "AlGore_2009"},
        {"id": "AlGore_2009-0000550-0000600", "audio": "wav/train/AlGore_2009/AlGore_2009-0000550-0000600.flac",
         "duration": 0.5, "text": "thank you", "speaker": "AlGore_2009"},
    ]  # fmt: skip
    # the cut is the right piece of the talk
    talk, _ = sf.read(str(corpus / "data/sph/AlGore_2009.sph"))
    piece, rate = sf.read(str(out / train[0]["audio"]))
    assert rate == 16000 and np.allclose(piece, talk[24000:48000], atol=1e-4)
    assert [r["text"] for r in read_jsonl(out / "dev.jsonl")] == ["i don't know", "so that's it"]
    test = read_jsonl(out / "test.jsonl")
    assert test[0]["text"] == "i'm jane" and test[0]["duration"] == 1.5
    # re-run with --force keeps the cut files (not re-cut) and writes identical manifests
    before = (out / "train.jsonl").read_bytes()
    mtime = (out / train[0]["audio"]).stat().st_mtime_ns
    assert _run(td, ["prepare", "--corpus-dir", str(corpus), "--out", str(out), "--force"]) == 0
    assert (out / "train.jsonl").read_bytes() == before
    assert (out / train[0]["audio"]).stat().st_mtime_ns == mtime


def test_recipe_configs_load_for_asr_train():
    """Every recipe config maps onto the training config (recipe tables are allowed and ignored)."""
    from asr.train.config import load_run_config

    for name in ("an4", "librispeech", "commonvoice", "ljspeech", "tedlium3"):
        run = load_run_config(ROOT / "recipes" / name / "config.toml")
        assert run.train.out_dir == f"exp/{name}"
        assert Path(run.train.train_manifest).parent == Path(f"data/{name}")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["librispeech", "ljspeech", "tedlium3", "commonvoice"])
def test_run_sh_download_and_prepare_stages(tmp_path, name):
    """run.sh stages 0-1 on each fixture tree (corpus given, so no download): manifests appear."""
    import subprocess

    data = tmp_path / "data"
    corpus_table = ""
    if name == "librispeech":
        args = ["--corpus-dir", str(make_librispeech(tmp_path / "src"))]
        corpus_table = (
            '[corpus]\nsplits = ["dev-clean", "train-clean-100"]\ntrain_splits = ["train-clean-100"]\n'
        )
        expect = ["dev-clean.jsonl", "train-clean-100.jsonl", "train.jsonl"]
    elif name == "ljspeech":
        corpus = tmp_path / "LJSpeech-1.1"
        (corpus / "wavs").mkdir(parents=True)
        (corpus / "metadata.csv").write_text(
            "LJ001-0001|Hi there|Hi there\nLJ002-0001|Yo|\nLJ003-0001|Bye|Bye\n"
        )
        for utt in ("LJ001-0001", "LJ002-0001", "LJ003-0001"):
            sf.write(corpus / "wavs" / f"{utt}.wav", _tone(1.0, 22050), 22050, subtype="PCM_16")
        args = ["--corpus-dir", str(corpus)]
        expect = ["train.jsonl", "dev.jsonl", "test.jsonl"]
    elif name == "tedlium3":
        args = ["--corpus-dir", str(make_tedlium(tmp_path / "src"))]
        expect = ["train.jsonl", "dev.jsonl", "test.jsonl"]
    else:
        cv = make_commonvoice(tmp_path / "src", with_durations=True)
        archive = tmp_path / "cv-en.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(cv.parent, arcname=cv.parent.name)
        args = ["--archive", str(archive)]
        expect = ["train.jsonl", "dev.jsonl", "test.jsonl"]
    config = tmp_path / "c.toml"
    config.write_text(
        corpus_table + f'[train]\ntrain_manifest = "{data}/train.jsonl"\ndev_manifest = "{data}/dev.jsonl"\n'
        f'out_dir = "{tmp_path}/exp"\n'
    )
    out = subprocess.run(
        run_sh(name, config, "--stop-stage", "1", *args),
        env=run_sh_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    for manifest in expect:
        assert read_jsonl(data / manifest), manifest
