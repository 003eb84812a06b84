"""recipes/synthetic/lm_text.py: the LM text sources, the held-out slices and the reserved sentences."""

from __future__ import annotations

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
        "raw": 6, "reserved": 4, "short": 1, "lines": 1, "words": 8, "heldout": 0, "bytes": 45,
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


def test_every_source_has_a_licence():
    for name, source in lm_text.SOURCES.items():
        assert source["licence"] and source["packages"], name
