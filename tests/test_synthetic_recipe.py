"""recipes/synthetic/prepare.py: text extraction and filtering, voices and splits, and a tiny corpus."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from collections import Counter
from pathlib import Path

import pytest
import soundfile as sf

from asr.text import Vocabulary, normalize_text

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "recipes" / "synthetic" / "prepare.py"


def _load_prepare():
    spec = importlib.util.spec_from_file_location("synthetic_prepare", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses need the module registered
    spec.loader.exec_module(module)
    return module


P = _load_prepare()
VOCAB = Vocabulary.english_characters()


def _cfg(**kw):
    return dataclasses.replace(P.CorpusConfig(), **kw)


# --- text -----------------------------------------------------------------------------------------


def test_split_sentences_keeps_abbreviations_and_initials():
    text = 'Mr. Smith met J. R. R. Tolkien.  "Really?" he asked! It was 3 p.m. Yes.\nNo more.'
    assert P.split_sentences(text) == [
        "Mr. Smith met J. R. R. Tolkien.",
        '"Really?" he asked!',
        "It was 3 p.m.",
        "Yes.",
        "No more.",
    ]
    assert P.split_sentences("   ") == []


def test_fortune_records_drop_attributions_labels_and_emoticons():
    text = (
        "A black cat crossing your path signifies that the animal is going somewhere.\n"
        "\t\t-- Groucho Marx\n"
        "%\n"
        "Assume a virtue, if you have it not.  -William Shakespeare\n"
        "%\n"
        "Q: Why did the chicken cross the road?\n"
        "A: To get to the other side :-)\n"
        "%\n"
    )
    records = list(P.fortune_records(text))
    assert records == [
        "A black cat crossing your path signifies that the animal is going somewhere.",
        "Assume a virtue, if you have it not.",
        "Why did the chicken cross the road?\nTo get to the other side ",
    ]


def test_fortune_sentences_skip_index_links_folders_and_art(tmp_path):
    (tmp_path / "wisdom").write_text(
        "The early bird gets the worm, but the second mouse gets the cheese.\n%\n"
        "  ____\n |    |\n |____|  <-- a box\n%\n"
    )
    (tmp_path / "wisdom.dat").write_bytes(b"\x00\x01binary index")
    os.symlink(tmp_path / "wisdom", tmp_path / "wisdom.u8")
    (tmp_path / "off").mkdir()
    (tmp_path / "off" / "rude").write_text("Something nobody should read aloud here.\n%\n")
    got = list(P.fortune_sentences(tmp_path))
    assert got == [("wisdom", "The early bird gets the worm, but the second mouse gets the cheese.")]


def test_wordnet_examples_come_from_quoted_gloss_text(tmp_path):
    for pos in ("noun", "verb", "adj", "adv"):
        (tmp_path / f"data.{pos}").write_text('  1 This software and database is provided "AS IS"\n')
    with open(tmp_path / "data.verb", "a") as f:
        f.write(
            "00001740 29 v 04 breathe 0 take_a_breath 0 | draw air into, and expel out of, the lungs; "
            '"I can breathe better when the air is clean"; "The patient is respiring"  \n'
        )
    got = [s for _, s in P.wordnet_sentences(tmp_path)]
    assert got == ["I can breathe better when the air is clean", "The patient is respiring"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("The dog sat on the mat by the door.", None),
        ("Run ls -l /usr/bin | grep foo now.", "code_or_markup"),
        ("The NASA budget was cut again this year.", "acronym"),
        ("THE END IS NEAR FOR ALL OF US.", None),  # shouting, not an acronym
        ("Too short.", "length"),
        (
            "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen x",
            "length",
        ),
        ("He studied antidisestablishmentarianism at the university.", "long_word"),
        ("Take the b train to the end of the line.", "single_letter"),
        ("The shop on Elm St. sells bread near the town.", "abbreviation"),  # no name after: "st"
        ("The shhh sound came from the back of the room.", "abbreviation"),
    ],
)
def test_reject_reason(raw, reason):
    cfg = _cfg(min_words=4, max_words=16)
    assert P.reject_reason(raw, normalize_text(raw), cfg, VOCAB.can_encode) == reason


def test_collect_sentences_dedupes_excludes_and_drops_rare_words():
    raw = {
        "fortunes": [
            ("f", "The cat sat on the mat."),
            ("f", "The cat sat on the mat!"),  # a duplicate once normalized
            ("f", "A hat sat on the cat."),
            ("f", "Zyxwv quorp sat on the mat."),  # two words seen once: rare
            ("f", "The birch canoe slid on the smooth planks."),  # Harvard list 1
            ("f", "We saw that the birch canoe slid on the smooth planks today."),  # contains it
        ],
        "wordnet": [("data.noun", "the mat with a hat"), ("data.noun", "the cat sat on the mat")],
    }
    excluded = P.Excluder([normalize_text("The birch canoe slid on the smooth planks.")])
    cfg = _cfg(min_words=4, max_rare_words=1, rare_word_min_count=2)
    kept, report = P.collect_sentences(cfg, normalize_text, VOCAB.can_encode, excluded, raw_sources=raw)
    assert [s.text for s in kept] == ["the cat sat on the mat", "a hat sat on the cat", "the mat with a hat"]
    assert [s.source for s in kept] == ["fortunes", "fortunes", "wordnet"]
    assert report["fortunes"]["rejected"] == {"duplicate": 1, "excluded": 2, "rare_words": 1}
    assert report["wordnet"]["rejected"] == {"duplicate": 1}
    assert report["fortunes"]["usable_sentences"] == 2 and report["wordnet"]["usable_sentences"] == 1
    assert all(VOCAB.can_encode(s.text) for s in kept)


def test_speakable_text_keeps_commas_and_question_marks_only_when_safe():
    raw = "Well, what do you want?"
    assert P.speakable_text(raw, normalize_text(raw), normalize_text) == "well, what do you want?"
    raw = "It cost 1,000 dollars"  # splitting at the comma would change the words
    assert P.speakable_text(raw, normalize_text(raw), normalize_text) == "it cost one thousand dollars."


def test_read_r_strings_finds_charsxp_records(tmp_path):
    def charsxp(s: bytes) -> bytes:
        return b"\x00\x04\x00\x09" + struct.pack(">i", len(s)) + s

    body = b"X\n\x00\x00\x00\x03" + b"\x00\x00\x00\x10\x00\x00\x00\x02"
    body += charsxp(b"The birch canoe slid on the smooth planks.") + charsxp(
        b"Glue the sheet to the dark blue."
    )
    blob = struct.pack(">I", len(body)) + zlib.compress(body)
    path = tmp_path / "Rdata.rdb"
    path.write_bytes(blob + blob)
    strings = P.read_r_strings(path)
    assert strings.count("The birch canoe slid on the smooth planks.") == 2
    assert "Glue the sheet to the dark blue." in strings
    excluded = P.load_excluded([str(path)], normalize_text)
    assert "glue the sheet to the dark blue" in excluded


def test_real_sources_give_thousands_of_sentences():
    cfg = P.CorpusConfig()
    if not (Path(cfg.fortunes_dir).is_dir() and Path(cfg.wordnet_dir, "data.noun").is_file()):
        pytest.skip("Debian packages fortunes/wordnet-base are not installed")
    kept, report = P.collect_sentences(cfg, normalize_text, VOCAB.can_encode)
    assert report["fortunes"]["usable_sentences"] > 10_000
    assert report["wordnet"]["usable_sentences"] > 25_000
    assert len({s.text for s in kept}) == len(kept)
    for s in kept[:: max(1, len(kept) // 500)]:
        words = s.text.split()
        assert VOCAB.can_encode(s.text) and cfg.min_words <= len(words) <= cfg.max_words


# --- config, voices, plan -------------------------------------------------------------------------


def test_config_rejects_unknown_keys_and_wrong_types(tmp_path):
    assert P.CorpusConfig.from_dict(
        {"num_train": 5, "rate": [120, 150], "exclude_text_file": "x.txt"}
    ) == _cfg(num_train=5, rate=(120, 150), exclude_text_file=("x.txt",))
    with pytest.raises(ValueError, match="unknown keys"):
        P.CorpusConfig.from_dict({"num_trian": 5})
    with pytest.raises(ValueError, match="wrong type"):
        P.CorpusConfig.from_dict({"num_train": "5"})
    with pytest.raises(ValueError, match="pitch"):
        P.CorpusConfig.from_dict({"pitch": [50, 200]})
    toml = tmp_path / "c.toml"
    toml.write_text("[corpus]\nnum_dev = 7\ntest_heldout_pairs = 3\n[train]\nlr = 1.0\n")
    assert P.load_config(toml) == _cfg(num_dev=7, test_heldout_pairs=3.0)


@pytest.mark.parametrize("amount", [0.15, 0.5, 5, 1])
def test_heldout_pairs_leave_every_accent_and_variant_in_training(amount):
    accents, variants = P.DEFAULT_ACCENTS, P.DEFAULT_VARIANTS
    held = P.heldout_pairs(accents, variants, amount, seed=3)
    n = len(accents) * len(variants)
    assert len(held) == (round(amount * n) if amount < 1 else int(amount))
    train = {(a, v) for a in accents for v in variants} - set(held)
    assert {a for a, _ in train} == set(accents) and {v for _, v in train} == set(variants)
    assert held == P.heldout_pairs(accents, variants, amount, seed=3)
    per_accent = Counter(a for a, _ in held)
    if len(held) <= len(accents):  # spread over distinct accents and variants
        assert len(per_accent) == len(held) == len({v for _, v in held})
    else:  # every accent in test, evenly
        assert len(per_accent) == len(accents) and max(per_accent.values()) - min(per_accent.values()) <= 1


def test_heldout_pairs_too_many_is_a_clear_error():
    with pytest.raises(ValueError, match="test_heldout_pairs"):
        P.heldout_pairs(["en-us", "en-gb"], ["m1", "m2"], 3, seed=0)


def _sentences(n):
    return [
        P.Sentence(f"sentence number {normalize_text(str(i))} is here", "x.", "fortunes") for i in range(n)
    ]


def test_plan_splits_share_no_sentence_and_test_voices_are_unseen():
    cfg = _cfg(num_train=50, num_dev=10, num_test=10, train_repeats=2)
    plan, pool, held = P.plan_corpus(_sentences(100), cfg, "tag")
    texts = {split: {u.text for u in utts} for split, utts in plan.items()}
    assert [len(plan[s]) for s in P.SPLITS] == [50, 10, 10, 0]
    assert len(texts["train"]) == 25 and len(texts["dev"]) == 10 and len(texts["test"]) == 10
    assert not texts["train"] & texts["dev"] and not texts["train"] & texts["test"]
    assert not texts["dev"] & texts["test"]
    assert not {s.text for s in pool} & (texts["dev"] | texts["test"])
    held_speakers = {f"{a}+{v}" for a, v in held}
    assert {u.speaker for u in plan["test"]} <= held_speakers
    assert not {u.speaker for u in plan["train"] + plan["dev"]} & held_speakers
    by_sentence = {}
    for u in plan["train"]:
        by_sentence.setdefault(u.text, []).append(u.speaker)
    assert all(len(v) == 2 and len(set(v)) == 2 for v in by_sentence.values())  # two distinct voices
    ids = [u.id for utts in plan.values() for u in utts]
    assert len(set(ids)) == len(ids)
    for u in plan["train"]:
        assert cfg.rate[0] <= u.rate <= cfg.rate[1] and cfg.pitch[0] <= u.pitch <= cfg.pitch[1]


def test_plan_holds_out_whole_accents_and_variants_and_reads_unseen_text_with_training_voices():
    cfg = _cfg(
        num_train=60,
        num_dev=5,
        num_test=20,
        num_test_text=8,
        test_heldout_pairs=0,
        heldout_accents=("en-gb-scotland",),
        heldout_variants=("f2", "klatt"),
    )
    plan, pool, held = P.plan_corpus(_sentences(120), cfg, "tag")
    assert [len(plan[s]) for s in P.SPLITS] == [60, 5, 20, 8]
    seen = plan["train"] + plan["dev"] + plan["test_text"]
    assert not {u.accent for u in seen} & {"en-gb-scotland"}
    assert not {u.variant for u in seen} & {"f2", "klatt"}
    assert all(u.accent == "en-gb-scotland" or u.variant in ("f2", "klatt") for u in plan["test"])
    assert {f"{a}+{v}" for a, v in held} >= {u.speaker for u in plan["test"]}
    texts = {split: {u.text for u in utts} for split, utts in plan.items()}
    assert not texts["test_text"] & (texts["train"] | texts["dev"] | texts["test"])
    assert not texts["test_text"] & {s.text for s in pool}  # nor in the LM text
    # test_text voices are training voices; a held-out variant outside `variants` is an error
    assert {u.speaker for u in plan["test_text"]} <= {u.speaker for u in plan["train"]} | {
        f"{a}+{v}" for a in cfg.accents for v in cfg.variants if (a, v) not in set(held)
    }
    with pytest.raises(ValueError, match="heldout_variants"):
        _cfg(heldout_variants=("nosuchvariant",))
    with pytest.raises(ValueError, match="at least one"):
        _cfg(heldout_accents=tuple(P.DEFAULT_ACCENTS))


def test_plan_is_deterministic_and_stable_when_train_grows():
    sentences = _sentences(80)
    a, _, _ = P.plan_corpus(sentences, _cfg(num_train=20, num_dev=5, num_test=5), "tag")
    b, _, _ = P.plan_corpus(list(reversed(sentences)), _cfg(num_train=20, num_dev=5, num_test=5), "tag")
    c, _, _ = P.plan_corpus(sentences, _cfg(num_train=40, num_dev=5, num_test=5), "tag")
    d, _, _ = P.plan_corpus(sentences, _cfg(num_train=20, num_dev=5, num_test=5, seed=9), "tag")
    assert a == b
    assert a["test"] == c["test"] and a["dev"] == c["dev"] and a["train"] == c["train"][:20]
    assert a["test"] != d["test"]
    with pytest.raises(ValueError, match="distinct sentences"):
        P.plan_corpus(sentences, _cfg(num_train=100, num_dev=5, num_test=5), "tag")


def test_trim_silence_keeps_a_margin():
    import numpy as np

    x = np.zeros(22050 * 2, dtype=np.float32)
    x[1000:20000] = 0.5
    y = P.trim_silence(x, 22050, 0.15)
    margin = int(round(0.15 * 22050))
    assert len(y) == 19000 + margin + min(1000, margin)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
def test_every_variant_changes_the_voice_even_for_en_gb(tmp_path):
    voices = P.resolve_voices(["en-gb", "en-us"], ["m1", "f2"])
    assert voices == {"en-gb": "gmw/en", "en-us": "gmw/en-US"}
    with pytest.raises(ValueError, match="no variants"):
        P.resolve_voices(["en-gb"], ["nosuchvariant"])
    with pytest.raises(ValueError, match="accents"):
        P.resolve_voices(["xx-nowhere"], ["m1"])
    digests = set()
    for variant in ("m1", "f2"):
        utt = P.Utterance(
            "u", "train", "hello there", "hello there.", "en-gb", variant, 170, 50, f"gmw/en+{variant}"
        )
        path = tmp_path / f"{variant}.wav"
        duration = P.synthesize(utt, path, 16000, 0.15)
        info = sf.info(str(path))
        assert (info.samplerate, info.subtype) == (16000, "PCM_16") and info.frames == round(duration * 16000)
        digests.add(hashlib.md5(path.read_bytes()).hexdigest())
    assert len(digests) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f2.wav", "m1.wav"]  # no temp files left


# --- end to end -----------------------------------------------------------------------------------

TINY_TOML = """
[corpus]
seed = 7
num_train = 12
num_dev = 3
num_test = 3
accents = ["en-us", "en-gb", "en-gb-scotland"]
variants = ["m1", "f2", "klatt", "m3"]
test_heldout_pairs = 3
rate = [150, 190]
"""

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or not Path(P.CorpusConfig().fortunes_dir).is_dir(),
    reason="needs the Debian packages espeak-ng, fortunes and wordnet-base",
)


def _run(config: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(SCRIPT), "--config", str(config), "--out", str(out), "--no-progress", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc


def _snapshot(out: Path) -> dict[str, int]:
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in sorted(out.rglob("*")) if p.is_file()}


def _manifests(out: Path) -> dict[str, list[dict]]:
    return {s: [json.loads(x) for x in (out / f"{s}.jsonl").read_text().splitlines()] for s in P.SPLITS}


@needs_espeak
def test_tiny_corpus_end_to_end(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_TOML)
    out = tmp_path / "corpus"
    _run(config, out, "--jobs", "2")

    m = _manifests(out)
    assert [len(m[s]) for s in P.SPLITS] == [12, 3, 3, 0]
    for split, rows in m.items():
        for row in rows:
            assert set(row) == {"id", "audio", "duration", "text", "speaker", "engine", "rate", "pitch"}
            assert row["audio"] == f"wav/{split}/{row['id']}.wav"
            info = sf.info(str(out / row["audio"]))
            assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
            assert abs(info.frames / 16000 - row["duration"]) < 0.001
            assert 0.5 < row["duration"] < 15
            assert VOCAB.can_encode(row["text"]) and row["text"] == normalize_text(row["text"])
            assert 150 <= row["rate"] <= 190 and 30 <= row["pitch"] <= 70
    texts = {s: {r["text"] for r in rows} for s, rows in m.items()}
    assert not texts["train"] & texts["dev"] and not texts["train"] & texts["test"]
    assert not texts["dev"] & texts["test"]
    train_speakers = {r["speaker"] for r in m["train"] + m["dev"]}
    assert not {r["speaker"] for r in m["test"]} & train_speakers

    info = json.loads((out / "corpus_info.json").read_text())
    assert {r["speaker"] for r in m["test"]} <= set(info["heldout_pairs"])
    assert info["splits"]["train"]["utterances"] == 12
    assert info["sources"]["fortunes"]["usable_sentences"] > 0
    lm_text = (out / "train_text.txt").read_text().splitlines()
    assert texts["train"] <= set(lm_text) and not set(lm_text) & (texts["dev"] | texts["test"])

    # A re-run with nothing to do touches nothing.
    before = _snapshot(out)
    _run(config, out, "--jobs", "2")
    assert _snapshot(out) == before

    # Same seed, one job, another folder: the same corpus, byte for byte.
    out2 = tmp_path / "corpus2"
    _run(config, out2, "--jobs", "1")
    for name in ("train.jsonl", "dev.jsonl", "test.jsonl", "train_text.txt", "corpus_info.json"):
        assert (out / name).read_text() == (out2 / name).read_text(), name
    digest = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in (out / "wav").rglob("*.wav")}
    digest2 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in (out2 / "wav").rglob("*.wav")}
    assert digest == digest2

    # Only the evaluation splits (how a shipped model is scored): the same utterances, no training audio.
    out3 = tmp_path / "corpus3"
    _run(config, out3, "--jobs", "2", "--splits", "dev,test")
    assert sorted(p.name for p in out3.glob("*.jsonl")) == ["dev.jsonl", "test.jsonl"]
    assert not (out3 / "wav" / "train").exists()
    for name in ("dev.jsonl", "test.jsonl", "train_text.txt"):
        assert (out / name).read_text() == (out3 / name).read_text(), name
    before3 = _snapshot(out3)
    _run(config, out3, "--jobs", "2", "--splits", "dev,test")  # up to date: touches nothing
    assert _snapshot(out3) == before3

    # A deleted wav is regenerated, and only it.
    victim = out / m["train"][4]["audio"]
    victim.unlink()
    _run(config, out, "--jobs", "2")
    after = _snapshot(out)
    assert victim.is_file()
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {str(victim.relative_to(out))}
    assert hashlib.md5(victim.read_bytes()).hexdigest() == digest[victim.name]

    # Another seed (a CLI override) replaces the corpus and leaves no stale file behind.
    _run(config, out, "--seed", "8", "--num-train", "6")
    m8 = _manifests(out)
    assert len(m8["train"]) == 6
    listed = {r["audio"] for rows in m8.values() for r in rows}
    on_disk = {str(p.relative_to(out)) for p in (out / "wav").rglob("*") if p.is_file()}
    assert listed == on_disk


@needs_espeak
def test_bad_config_is_a_clear_error(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[corpus]\nnum_trian = 3\n")
    cmd = [sys.executable, str(SCRIPT), "--config", str(config), "--out", str(tmp_path / "o")]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2
    assert "unknown keys ['num_trian']" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "config",
    sorted((ROOT / "recipes" / "synthetic").glob("config*.toml"))
    + sorted((ROOT / "recipes" / "synthetic" / "studies").glob("*.toml")),
    ids=lambda p: p.name,
)
def test_every_shipped_config_is_valid_for_prepare_and_train(config):
    from asr.train.config import load_run_config

    corpus = P.load_config(config)
    run = load_run_config(config)
    assert not run.train.missing_paths(), config  # a recipe names its manifests and output folder
    assert not set(corpus.heldout_accents) - set(corpus.accents)
