"""Written forms that are read aloud as other words: times, dates, years, money, units, titles.

:func:`expand_spoken_forms` is the first step of :func:`asr.text.normalize_text` (the one normaliser for
training transcripts, references and LM text) and runs on the original text, because case and dots
decide: "Dr. Smith" is "doctor smith", "Dr." elsewhere may be "drive" and is left alone. What is left
(plain numbers, ordinals, decimals) :func:`asr.text.normalize_text` spells out afterwards. Each rule
expands a form only where its reading is unambiguous, and says so in its comment.
"""

from __future__ import annotations

import re
from functools import lru_cache

from num2words import num2words

__all__ = ["expand_spoken_forms"]

_MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december",
)  # fmt: skip
_MONTH_ABBREVIATIONS = {m[:3]: m for m in _MONTHS} | {"sept": "september"}
# A month: a capitalised full name, or an abbreviation with its dot ("Mar." but not "march" or "may",
# which are also verbs: "5 may go" is no date).
_MONTH = (
    r"(?:(?:January|February|March|April|May|June|July|August|September|October|November|December)\b"
    r"|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.)"
)

# Titles before a capitalised name: "Dr. Smith" -> "doctor smith". Without a following name the same
# letters may be another word ("Elm Dr." is a drive, "St." a street), so those stay as written.
_TITLES = {
    "Mr": "mister", "Mrs": "missus", "Ms": "miz", "Dr": "doctor", "Prof": "professor", "St": "saint",
    "Mt": "mount", "Ft": "fort", "Capt": "captain", "Lt": "lieutenant", "Sgt": "sergeant",
    "Gen": "general", "Col": "colonel", "Gov": "governor", "Sen": "senator", "Rev": "reverend",
    "Pres": "president", "Supt": "superintendent",
}  # fmt: skip
# Dr and St are titles without their dot too (British usage); the others need it ("Gen X"). Mr, Mrs
# and Ms have no other reading, so they need no name after them ("Mr. and Mrs. Jones").
_TITLE = re.compile(r"\b(?:(Dr|St)\.?|(" + "|".join(_TITLES) + r")\.)(?= +[A-Z])|\b(Mrs|Mr|Ms)\b\.?")
# Abbreviations with one reading wherever they stand (the dot is required: "etc" alone is left).
_ABBREVIATIONS = {
    "etc.": "et cetera", "e.g.": "for example", "i.e.": "that is", "vs.": "versus", "approx.": "approximately",
    "dept.": "department", "govt.": "government", "inc.": "incorporated", "ltd.": "limited",
    "corp.": "corporation", "ave.": "avenue", "blvd.": "boulevard", "jr.": "junior", "sr.": "senior",
}  # fmt: skip
_ABBREVIATION = re.compile(
    r"(?<![\w.])(" + "|".join(re.escape(a) for a in _ABBREVIATIONS) + r")(?![\w])", re.IGNORECASE
)
# "No. 5" and "#5" are "number five".
_NUMBER_SIGN = re.compile(r"(?:\b[Nn]o\.|#) ?(?=[0-9])")

_NUM = r"[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+"
_SCALES = ("thousand", "million", "billion", "trillion")
_CURRENCIES = {"$": ("dollar", "dollars"), "£": ("pound", "pounds"), "€": ("euro", "euros")}
_MONEY = re.compile(rf"([$£€]) ?({_NUM})(?:\.([0-9]+))?(?: ?({'|'.join(_SCALES)}|[mbk]n?)\b)?", re.IGNORECASE)
_CENTS = re.compile(r"\b([0-9]{1,2}) ?¢")
_SCALE_ABBREVIATIONS = {"k": "thousand", "m": "million", "mn": "million", "b": "billion", "bn": "billion"}

# Times: "10:30" "ten thirty", "10:05" "ten oh five", "10:00" "ten o'clock", "7 p.m." "seven p m".
_TIME = re.compile(r"\b([01]?[0-9]|2[0-4]):([0-5][0-9])\b(?!:[0-9])(?: ?([AaPp])\.? ?[Mm]\b\.?)?")
_HOUR_AMPM = re.compile(r"\b(1[0-2]|[1-9]) ?([AaPp])\.?[Mm]\b\.?")

# Dates: "January 5", "Jan. 5th, 1999", "5 January", "the 5th of January", "2024-01-15".
_MONTH_DAY = re.compile(rf"({_MONTH}) ?([0-9]{{1,2}})(?:st|nd|rd|th)?\b(?!:)(?:,? ([0-9]{{4}})\b)?")
_DAY_MONTH = re.compile(rf"\b(the )?([0-9]{{1,2}})(?:st|nd|rd|th)? (of )?({_MONTH})(?:,? ([0-9]{{4}})\b)?")
_ISO_DATE = re.compile(r"\b([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])\b")
# Years are read in pairs ("nineteen ninety nine") only where the context says year: after a month or
# one of these words, before an era, or as a decade ("1990s", "'60s"); "1500 people" stays a cardinal.
_YEAR_BEFORE = r"(?:in|since|by|from|until|till|of|circa|year|before|after|during|around|early|late|mid|c\.)"
_YEAR = re.compile(rf"(?i:\b{_YEAR_BEFORE}) (1[1-9][0-9]{{2}}|20[0-9]{{2}})\b(?![,.][0-9])")
_YEAR_ERA = re.compile(r"\b([0-9]{1,4}) ?(B\.?C\.?E?|A\.?D\.?|C\.?E\.?)(?![A-Za-z])")
_DECADE = re.compile(r"(?:\b|')(1[1-9][0-9]0|20[0-9]0|[0-9]0)'?s\b")

# Units after a number: "5 kg" "five kilograms".
_UNITS = {
    "kg": "kilograms", "g": "grams", "mg": "milligrams", "km": "kilometers", "m": "meters", "cm": "centimeters",
    "mm": "millimeters", "lb": "pounds", "lbs": "pounds", "oz": "ounces", "mph": "miles per hour",
    "km/h": "kilometers per hour", "kph": "kilometers per hour", "ft": "feet", "mi": "miles", "ml": "milliliters",
    "hrs": "hours", "hr": "hours", "min": "minutes", "sec": "seconds", "kb": "kilobytes", "mb": "megabytes",
    "gb": "gigabytes", "tb": "terabytes", "ghz": "gigahertz", "mhz": "megahertz", "khz": "kilohertz",
}  # fmt: skip
_UNIT = re.compile(
    r"\b([0-9]+(?:\.[0-9]+)?) ?("
    + "|".join(sorted(map(re.escape, _UNITS), key=len, reverse=True))
    + r")\b\.?",
    re.IGNORECASE,
)
_DEGREES = re.compile(r"([0-9]) ?° ?([CF])?\b")


def expand_spoken_forms(text: str) -> str:
    """``text`` with times, dates, years, money, units and titles written out as spoken words; every
    other character as it was (the caller lower-cases and spells the remaining numbers)."""
    text = _TITLE.sub(lambda m: _TITLES[m.group(1) or m.group(2) or m.group(3)], text)
    if "." in text:
        text = _ABBREVIATION.sub(lambda m: f" {_ABBREVIATIONS[m.group(1).lower()]} ", text)
    if not any(c.isdigit() for c in text):
        return text
    text = _NUMBER_SIGN.sub(" number ", text)
    text = _MONEY.sub(_money, text)
    text = _CENTS.sub(lambda m: f" {_cardinal(m.group(1))} {'cent' if m.group(1) == '1' else 'cents'} ", text)
    text = _TIME.sub(_time, text)
    text = _HOUR_AMPM.sub(lambda m: f" {_cardinal(m.group(1))} {m.group(2).lower()} m ", text)
    text = _ISO_DATE.sub(
        lambda m: f" {_MONTHS[int(m.group(2)) - 1]} {_ordinal(m.group(3))} {_year(m.group(1))} ", text
    )
    text = _MONTH_DAY.sub(_month_day, text)
    text = _DAY_MONTH.sub(_day_month, text)
    text = _YEAR.sub(lambda m: m.group(0)[: m.start(1) - m.start(0)] + _year(m.group(1)), text)
    text = _YEAR_ERA.sub(lambda m: f" {_year(m.group(1))} {_era(m.group(2))} ", text)
    text = _DECADE.sub(
        lambda m: f" {_plural(_year(m.group(1)) if len(m.group(1)) == 4 else _cardinal(m.group(1)))} ", text
    )
    text = _DEGREES.sub(
        lambda m: f"{m.group(1)} degrees {({'C': 'celsius', 'F': 'fahrenheit'}).get(m.group(2) or '', '')} ",
        text,
    )
    return _UNIT.sub(lambda m: f" {m.group(1)} {_unit(m.group(1), m.group(2))} ", text)


@lru_cache(maxsize=4096)
def _cardinal(digits: str) -> str:
    return num2words(int(digits.replace(",", "")), lang="en")


@lru_cache(maxsize=1024)
def _ordinal(digits: str) -> str:
    return num2words(int(digits), lang="en", to="ordinal")


@lru_cache(maxsize=1024)
def _year(digits: str) -> str:
    return num2words(int(digits), lang="en", to="year")


def _plural(words: str) -> str:
    """ "nineteen ninety" -> "nineteen nineties", "sixty" -> "sixties", "nineteen hundred" -> "...hundreds"."""
    head, _, last = words.rpartition(" ")
    last = last[:-1] + "ies" if last.endswith("y") else last + ("es" if last.endswith(("x", "s")) else "s")
    return f"{head} {last}".strip()


def _era(era: str) -> str:
    letters = era.replace(".", "").upper()
    return {"BC": "b c", "BCE": "b c e", "AD": "a d", "CE": "c e"}[letters]


def _money(m: re.Match) -> str:
    singular, plural = _CURRENCIES[m.group(1)]
    whole, fraction, scale = m.group(2).replace(",", ""), m.group(3), (m.group(4) or "").lower()
    scale = _SCALE_ABBREVIATIONS.get(scale, scale)
    if scale:  # "$1.5 million": "one point five million dollars"
        amount = _cardinal(whole) + (f" point {' '.join(_cardinal(d) for d in fraction)}" if fraction else "")
        return f" {amount} {scale} {plural} "
    unit = singular if whole == "1" and not (fraction or "").strip("0") else plural
    spoken = f" {_cardinal(whole)} {unit} "
    if fraction and len(fraction) == 2 and fraction != "00":  # "$5.50": five dollars and fifty cents
        cents = _cardinal(fraction.lstrip("0"))
        cent_word = "cent" if fraction == "01" else "cents"
        spoken = f" {cents} {cent_word} " if whole == "0" else f"{spoken}and {cents} {cent_word} "
    elif fraction and fraction.strip("0"):
        spoken = f" {_cardinal(whole)} point {' '.join(_cardinal(d) for d in fraction)} {plural} "
    return spoken


def _time(m: re.Match) -> str:
    hour, minute, ampm = m.group(1), m.group(2), m.group(3)
    spoken = _cardinal(hour)
    if minute == "00":
        spoken += "" if ampm else " o'clock"
    elif minute[0] == "0":
        spoken += f" oh {_cardinal(minute[1])}"
    else:
        spoken += f" {_cardinal(minute)}"
    return f" {spoken} {ampm.lower() + ' m' if ampm else ''} "


def _month_name(written: str) -> str:
    written = written.rstrip(".").lower()
    return _MONTH_ABBREVIATIONS.get(written, written)


def _month_day(m: re.Match) -> str:
    day = int(m.group(2))
    if not 1 <= day <= 31:
        return m.group(0)
    year = f" {_year(m.group(3))}" if m.group(3) else ""
    return f" {_month_name(m.group(1))} {_ordinal(m.group(2))}{year} "


def _day_month(m: re.Match) -> str:
    day = int(m.group(2))
    if not 1 <= day <= 31:
        return m.group(0)
    year = f" {_year(m.group(5))}" if m.group(5) else ""
    return f" the {_ordinal(m.group(2))} of {_month_name(m.group(4))}{year} "


def _unit(number: str, unit: str) -> str:
    spoken = _UNITS[unit.lower()]
    if number == "1":  # "1 kg": one kilogram
        spoken = {"feet": "foot", "miles per hour": "mile per hour"}.get(spoken, spoken.removesuffix("s"))
    return spoken
