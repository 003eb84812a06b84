"""Transcript normalization and the output vocabulary (blank, word separator, characters)."""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from num2words import num2words

from asr.spoken_forms import expand_spoken_forms

__all__ = ["Vocabulary", "normalize_text"]

# --- normalization --------------------------------------------------------------------------------

# Applied after lower-casing. Apostrophe look-alikes become ASCII apostrophes; letters that NFKD does not
# decompose into an ASCII base letter get their usual transliteration instead of vanishing.
_TRANSLATE = str.maketrans(
    {
        "\u2019": "'",  # right single quotation mark (the usual "curly apostrophe")
        "\u2018": "'",  # left single quotation mark
        "\u02bc": "'",  # modifier letter apostrophe
        "\u2032": "'",  # prime
        "\u00b4": "'",  # acute accent used as an apostrophe
        "`": "'",
        "ß": "ss",
        "æ": "ae",
        "œ": "oe",
        "ø": "o",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "ł": "l",
        "ı": "i",
    }
)

_THOUSANDS = re.compile(r"(?<![0-9,])[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])")
_ORDINAL = re.compile(r"([0-9]+)(?:st|nd|rd|th)\b")
_DECIMAL = re.compile(r"([0-9]+)\.([0-9]+)")
_INTEGER = re.compile(r"[0-9]+")
_NOT_ALLOWED = re.compile(r"[^a-z' ]+")
# An apostrophe survives only between two letters ("don't"); quotes and plural possessives lose it.
_STRAY_APOSTROPHE = re.compile(r"(?<![a-z])'|'(?![a-z])")

_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# Longer digit strings are IDs or phone numbers, read digit by digit, not "four trillion ...".
_MAX_CARDINAL_DIGITS = 12


def normalize_text(text: str) -> str:
    """Normalize a transcript to lower-case ASCII letters, apostrophes inside words and single spaces.

    First the forms read aloud as other words (:func:`asr.spoken_forms.expand_spoken_forms`): times
    ("10:30" -> "ten thirty"), dates ("Jan. 5th" -> "january fifth"), years in context ("in 1999" ->
    "in nineteen ninety nine"), money ("$5.50" -> "five dollars and fifty cents"), units, titles before a
    name ("Dr. Smith" -> "doctor smith"). Then accents are stripped, the other numbers spelled out ("42"
    -> "forty two", "3rd" -> "third", "3.5" -> "three point five", "1,000" -> "one thousand"), "&" ->
    "and", "%" -> "percent"; every other character becomes a word boundary.
    """
    text = expand_spoken_forms(text).lower()
    if not text.isascii():
        text = text.translate(_TRANSLATE)
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = text.replace("&", " and ").replace("%", " percent ")
    if any(c in text for c in "0123456789"):
        text = _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)
        text = _ORDINAL.sub(lambda m: f" {_ordinal_words(m.group(1))} ", text)
        text = _DECIMAL.sub(
            lambda m: f" {_cardinal_words(m.group(1))} point {_digit_words(m.group(2))} ", text
        )
        text = _INTEGER.sub(lambda m: f" {_cardinal_words(m.group(0))} ", text)
    text = _NOT_ALLOWED.sub(" ", text)
    text = _STRAY_APOSTROPHE.sub(" ", text)
    return " ".join(text.split())


def _digit_words(digits: str) -> str:
    return " ".join(_DIGIT_WORDS[int(d)] for d in digits)


@lru_cache(maxsize=4096)
def _cardinal_words(digits: str) -> str:
    if len(digits) > _MAX_CARDINAL_DIGITS or (len(digits) > 1 and digits[0] == "0"):
        return _digit_words(digits)  # "007" is read "zero zero seven"
    return num2words(int(digits), lang="en")


@lru_cache(maxsize=1024)
def _ordinal_words(digits: str) -> str:
    if len(digits) > _MAX_CARDINAL_DIGITS:
        return _digit_words(digits)
    return num2words(int(digits), lang="en", to="ordinal")


# --- vocabulary -----------------------------------------------------------------------------------


class Vocabulary:
    """The model's output symbols: the CTC blank at index 0, a word separator and characters.

    Immutable after construction. ``encode``/``decode`` work character by character; CTC collapsing of
    repeats is the decoder's job, not this class's.
    """

    BLANK = "<blank>"
    __slots__ = ("_ids", "_separator", "_tokens")

    def __init__(self, tokens: Sequence[str], word_separator: str = " ") -> None:
        if isinstance(tokens, str):
            raise ValueError("Vocabulary: tokens must be a sequence of strings, not one string")
        tokens = tuple(tokens)
        bad = [t for t in tokens if not isinstance(t, str) or not t]
        if bad:
            raise ValueError(f"Vocabulary: every token must be a non-empty string, got {bad!r}")
        if not tokens or tokens[0] != self.BLANK:
            first = tokens[0] if tokens else None
            raise ValueError(f"Vocabulary: tokens[0] must be {self.BLANK!r} (the CTC blank), got {first!r}")
        duplicates = sorted({t for t in tokens if tokens.count(t) > 1})
        if duplicates:
            raise ValueError(f"Vocabulary: tokens must be unique; repeated: {duplicates!r}")
        if word_separator not in tokens:
            raise ValueError(f"Vocabulary: word_separator {word_separator!r} is not one of the tokens")
        if word_separator == self.BLANK:
            raise ValueError("Vocabulary: word_separator cannot be the blank")
        object.__setattr__(self, "_tokens", tokens)
        object.__setattr__(self, "_separator", word_separator)
        object.__setattr__(self, "_ids", {t: i for i, t in enumerate(tokens)})

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Vocabulary is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle (DataLoader workers, deepcopy) through the constructor: __setattr__ is blocked.
        return (type(self), (self._tokens, self._separator))

    @classmethod
    def english_characters(cls) -> Vocabulary:
        """Blank, space, a-z and the apostrophe: 29 tokens, matching :func:`normalize_text` output."""
        letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
        return cls([cls.BLANK, " ", *letters, "'"])

    @property
    def tokens(self) -> tuple[str, ...]:
        return self._tokens

    @property
    def blank_id(self) -> int:
        return 0

    @property
    def word_separator(self) -> str:
        return self._separator

    @property
    def separator_id(self) -> int:
        return self._ids[self._separator]

    def __len__(self) -> int:
        return len(self._tokens)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self._tokens == other._tokens and self._separator == other._separator

    def __hash__(self) -> int:
        return hash((self._tokens, self._separator))

    def __repr__(self) -> str:
        return f"Vocabulary({list(self._tokens)!r}, word_separator={self._separator!r})"

    def can_encode(self, text: str) -> bool:
        """Whether every character of ``text`` is a token."""
        return all(c in self._ids for c in text)

    def encode(self, text: str) -> list[int]:
        """Token ids of the characters of ``text``; ValueError names any character not in the vocabulary."""
        ids = self._ids
        try:
            return [ids[c] for c in text]
        except KeyError:
            missing = sorted({c for c in text if c not in ids})
            raise ValueError(
                f"cannot encode {text!r}: characters {missing!r} are not in the vocabulary "
                "(normalize the text first, e.g. with asr.text.normalize_text)"
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        """The string of the tokens ``ids``, blanks skipped (repeats are not collapsed)."""
        tokens = self._tokens
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(tokens):
                raise ValueError(f"cannot decode id {i}: the vocabulary has ids 0..{len(tokens) - 1}")
            if i != 0:
                out.append(tokens[i])
        return "".join(out)

    def to_dict(self) -> dict[str, Any]:
        return {"tokens": list(self._tokens), "word_separator": self._separator}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Vocabulary:
        """Inverse of :meth:`to_dict`; ValueError says what is wrong with ``d``."""
        if not isinstance(d, Mapping):
            raise ValueError(f"vocabulary: expected a mapping with 'tokens', got {type(d).__name__}")
        unknown = sorted(set(d) - {"tokens", "word_separator"})
        if unknown:
            raise ValueError(f"vocabulary: unknown keys {unknown!r}; expected 'tokens' and 'word_separator'")
        if "tokens" not in d:
            raise ValueError("vocabulary: missing 'tokens' (a list of strings starting with '<blank>')")
        tokens = d["tokens"]
        if not isinstance(tokens, (list, tuple)) or not all(isinstance(t, str) for t in tokens):
            raise ValueError(f"vocabulary: 'tokens' must be a list of strings, got {tokens!r}")
        separator = d.get("word_separator", " ")
        if not isinstance(separator, str):
            raise ValueError(f"vocabulary: 'word_separator' must be a string, got {separator!r}")
        return cls(tokens, separator)

    def to_file(self, path: str | os.PathLike) -> None:
        """Write the vocabulary as JSON (UTF-8)."""
        text = json.dumps(self.to_dict(), ensure_ascii=False, indent=1)
        Path(path).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> Vocabulary:
        """Read a vocabulary written by :meth:`to_file`."""
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{path}: not a vocabulary JSON file ({e})") from None
        try:
            return cls.from_dict(d)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
