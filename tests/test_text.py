"""asr.text: transcript normalization and the Vocabulary."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asr.text import Vocabulary, normalize_text

ENGLISH = Vocabulary.english_characters()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # case, punctuation, whitespace
        ("Hello, World!", "hello world"),
        ("  multiple   spaces\tand\nnewlines  ", "multiple spaces and newlines"),
        ("", ""),
        ("   ", ""),
        ("?!...", ""),
        ("well-known e-mail", "well known e mail"),
        ('a/b (c) [d] {e} "f"', "a b c d e f"),
        # numbers
        ("42", "forty two"),
        ("I have 21 apples", "i have twenty one apples"),
        ("0", "zero"),
        ("100", "one hundred"),
        ("1,000 people", "one thousand people"),
        ("1,234,567", "one million two hundred and thirty four thousand five hundred and sixty seven"),
        ("3.5", "three point five"),
        ("pi is 3.14", "pi is three point one four"),
        ("0.05", "zero point zero five"),
        ("3rd", "third"),
        ("the 1st and 2nd", "the first and second"),
        ("21st century", "twenty first century"),
        ("11th 12th 13th", "eleventh twelfth thirteenth"),
        ("in 1999", "in nineteen ninety nine"),  # a year after "in": read in pairs
        ("1999 people", "one thousand nine hundred and ninety nine people"),
        ("agent 007", "agent zero zero seven"),
        ("mp3", "mp three"),
        ("1, 2, 3", "one two three"),
        ("it costs 5.", "it costs five"),
        ("10:30", "ten thirty"),
        ("1234567890123456", "one two three four five six seven eight nine zero one two three four five six"),
        # symbols
        ("rock & roll", "rock and roll"),
        ("AT&T", "at and t"),
        ("50%", "fifty percent"),
        ("100 % sure", "one hundred percent sure"),
        # unicode
        ("Café naïve façade", "cafe naive facade"),
        ("Ångström Über São Paulo", "angstrom uber sao paulo"),
        ("Straße", "strasse"),
        ("Æsop's œuvre", "aesop's oeuvre"),
        ("İstanbul", "istanbul"),
        ("東京 tokyo", "tokyo"),
        ("ﬁne", "fine"),  # ligature: NFKD compatibility mapping
        ("x²", "x two"),
        # apostrophes
        ("don’t", "don't"),
        ("it‘s", "it's"),
        ("Iʼm", "i'm"),
        ("don't stop", "don't stop"),
        ("'hello'", "hello"),
        ("‘hello’", "hello"),
        ("the dogs' bones", "the dogs bones"),
        ("'tis", "tis"),
        ("rock 'n' roll", "rock n roll"),
        ("O'Brien's", "o'brien's"),
        ("' ' ''", ""),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # ordinals
        ("3rd", "third"),
        ("the 22nd time", "the twenty second time"),
        ("1,000th", "one thousandth"),
        # times
        ("10:30", "ten thirty"),
        ("at 10:05 a.m.", "at ten oh five a m"),
        ("10:00", "ten o'clock"),
        ("10:00 PM", "ten p m"),
        ("7 pm", "seven p m"),
        ("John 3:16", "john three sixteen"),
        # dates and years
        ("Jan. 5th, 1999", "january fifth nineteen ninety nine"),
        ("on March 3", "on march third"),
        ("5 January 2024", "the fifth of january twenty twenty four"),
        ("the 3rd of May", "the third of may"),
        ("on 2024-01-15", "on january fifteenth twenty twenty four"),
        ("since 2005", "since two thousand and five"),
        ("the 1990s", "the nineteen nineties"),
        ("in the '60s", "in the sixties"),
        ("500 BC", "five hundred b c"),
        ("5 may go", "five may go"),  # "may" the verb, not the month
        ("1500 people", "one thousand five hundred people"),  # no year without context
        # money
        ("$5", "five dollars"),
        ("$1", "one dollar"),
        ("$1.00", "one dollar"),
        ("$5.50", "five dollars and fifty cents"),
        ("$0.99", "ninety nine cents"),
        ("$1,000", "one thousand dollars"),
        ("$1.5 million", "one point five million dollars"),
        ("$3bn", "three billion dollars"),
        ("£3", "three pounds"),
        ("€20", "twenty euros"),
        ("50¢", "fifty cents"),
        # units and signs
        ("5 kg", "five kilograms"),
        ("1 ft", "one foot"),
        ("100 km/h", "one hundred kilometers per hour"),
        ("30°F", "thirty degrees fahrenheit"),
        ("No. 5", "number five"),
        ("#1 fan", "number one fan"),
        # abbreviations, where one reading is certain
        ("Dr. Smith", "doctor smith"),
        ("Dr Who", "doctor who"),
        ("Elm Dr.", "elm dr"),  # a drive, or a doctor: left as written
        ("St. Louis", "saint louis"),
        ("Mr. and Mrs. Jones", "mister and missus jones"),
        ("Prof. Plum", "professor plum"),
        ("Gen X", "gen x"),  # "Gen" needs its dot to be a general
        ("apples, pears, etc.", "apples pears et cetera"),
        ("e.g. this", "for example this"),
        ("cats vs. dogs", "cats versus dogs"),
        ("John Smith Jr.", "john smith junior"),
    ],
)
def test_normalize_text_spoken_forms(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_normalize_text_output_is_encodable_and_idempotent(raw: str) -> None:
    out = normalize_text(raw)
    assert ENGLISH.can_encode(out)
    assert out == out.strip() and "  " not in out
    assert "'" not in (out[:1] + out[-1:]) and " '" not in out and "' " not in out
    assert normalize_text(out) == out


# --- Vocabulary ------------------------------------------------------------------------------------------


def test_english_characters() -> None:
    v = Vocabulary.english_characters()
    assert len(v) == 29
    assert v.tokens[:3] == ("<blank>", " ", "a") and v.tokens[-2:] == ("z", "'")
    assert v.blank_id == 0 and v.tokens[v.blank_id] == Vocabulary.BLANK
    assert v.separator_id == 1 and v.word_separator == " "
    assert v == Vocabulary.english_characters()
    assert "word_separator=' '" in repr(v)


def test_encode_decode_round_trip() -> None:
    text = "don't panic"
    ids = ENGLISH.encode(text)
    assert ids[:3] == [5, 16, 15]  # d o n
    assert ids[5] == ENGLISH.separator_id
    assert ENGLISH.decode(ids) == text
    assert ENGLISH.encode("") == [] and ENGLISH.decode([]) == ""


def test_decode_skips_blanks_without_collapsing() -> None:
    a, b = ENGLISH.encode("ab")
    assert ENGLISH.decode([0, a, a, 0, 0, b, 0]) == "aab"
    assert ENGLISH.decode(np.array([a, 0, b], dtype=np.int64)) == "ab"  # numpy integers work too


def test_decode_rejects_unknown_ids() -> None:
    with pytest.raises(ValueError, match="29"):
        ENGLISH.decode([2, 29])
    with pytest.raises(ValueError, match="-1"):
        ENGLISH.decode([-1])


def test_encode_names_bad_characters() -> None:
    assert not ENGLISH.can_encode("Hello!")
    assert ENGLISH.can_encode("hello")
    with pytest.raises(ValueError, match=r"\['!', 'H'\].*normalize") as e:
        ENGLISH.encode("Hello!")
    assert "'Hello!'" in str(e.value)  # names the text too


def test_dict_round_trip() -> None:
    v = Vocabulary(["<blank>", "|", "a", "b"], word_separator="|")
    d = v.to_dict()
    assert d == {"tokens": ["<blank>", "|", "a", "b"], "word_separator": "|"}
    assert json.loads(json.dumps(d)) == d
    assert Vocabulary.from_dict(d) == v
    assert Vocabulary.from_dict({"tokens": ["<blank>", " ", "x"]}) == Vocabulary(["<blank>", " ", "x"])


def test_file_round_trip(tmp_path: Path) -> None:
    v = Vocabulary(["<blank>", " ", "é", "ß", "'"])
    path = tmp_path / "vocab.json"
    v.to_file(path)
    assert "é" in path.read_text(encoding="utf-8")
    assert Vocabulary.from_file(path) == v
    ENGLISH.to_file(path)
    assert Vocabulary.from_file(path) == ENGLISH


def test_from_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.json.*not a vocabulary"):
        Vocabulary.from_file(bad)
    bad.write_text('{"tokens": ["a", "<blank>", " "]}', encoding="utf-8")
    with pytest.raises(ValueError, match="bad.json.*tokens\\[0\\]"):
        Vocabulary.from_file(bad)
    with pytest.raises(FileNotFoundError):
        Vocabulary.from_file(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("d", "message"),
    [
        (["<blank>", " "], "mapping"),
        ({}, "missing 'tokens'"),
        ({"tokens": "<blank> ab"}, "list of strings"),
        ({"tokens": ["<blank>", " ", 3]}, "list of strings"),
        ({"tokens": ["<blank>", " "], "word_separator": 1}, "word_separator"),
        ({"tokens": ["<blank>", " "], "blank": 0}, "unknown keys"),
        ({"tokens": ["<blank>", "a"]}, "word_separator ' '"),
    ],
)
def test_from_dict_validates(d: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Vocabulary.from_dict(d)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("tokens", "separator", "message"),
    [
        ([], " ", "tokens\\[0\\]"),
        ([" ", "<blank>"], " ", "tokens\\[0\\]"),
        (["<blank>", " ", "a", "a"], " ", "unique.*'a'"),
        (["<blank>", " ", ""], " ", "non-empty"),
        (["<blank>", "a"], " ", "not one of the tokens"),
        (["<blank>", " "], "<blank>", "cannot be the blank"),
        ("<blank> ab", " ", "not one string"),
    ],
)
def test_constructor_validates(tokens: list[str], separator: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Vocabulary(tokens, separator)


def test_immutable_hashable_picklable() -> None:
    v = Vocabulary.english_characters()
    with pytest.raises(AttributeError):
        v.tokens = ("<blank>",)  # type: ignore[misc]
    with pytest.raises(AttributeError):
        v._tokens = ()  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(v)) == v
    assert copy.deepcopy(v) == v
    assert len({v, Vocabulary.english_characters()}) == 1
    assert v != Vocabulary(["<blank>", " ", "a"]) and v != "not a vocabulary"
