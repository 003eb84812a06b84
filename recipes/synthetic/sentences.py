"""Text for the synthetic corpus: sentences extracted from the installed fortune files and WordNet glosses,
filtered for what a text-to-speech engine reads as written, deduplicated and checked against exclude lists."""

from __future__ import annotations

import logging
import os
import re
import struct
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus_config import SOURCES, CorpusConfig

log = logging.getLogger("asr.recipes.synthetic")

# Full stops after these do not end a sentence.
_ABBREVIATIONS = frozenset((
    "mr", "mrs", "ms", "dr", "st", "jr", "sr", "prof", "rev", "gen", "col", "capt", "lt", "sgt", "gov",
    "sen", "rep", "hon", "mt", "ft", "vs", "etc", "e.g", "i.e", "cf", "no", "vol", "approx", "dept",
    "govt", "inc", "ltd", "co", "corp", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
    "oct", "nov", "dec",
))  # fmt: skip
# Normalized words that espeak-ng reads differently from how they are written (or not as a word).
_SPOKEN_DIFFERENTLY = frozenset((
    "mr", "mrs", "ms", "dr", "st", "jr", "sr", "mt", "ft", "vs", "etc", "ie", "eg", "cf", "viz",
    "approx", "dept", "govt", "inc", "ltd", "oz", "lb", "lbs", "pp", "ibid", "esp", "nd", "rd", "th",
))  # fmt: skip
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]*[A-Z0-9])")
_CODE_CHARS = re.compile(r"[<>{}\[\]|\\_=@#^~*+/]")
_ACRONYM = re.compile(r"\b[A-Z]{2,}s?\b")
_ATTRIBUTION = re.compile(r"^\s*(--|\u2014|\u2015|~)\s*\S")
_INLINE_ATTRIBUTION = re.compile(r"\s{2,}(--?|\u2014)\s*[A-Z][^.!?]*$")  # "...it not.  -William Shakespeare"
_SPEAKER_LABEL = re.compile(
    r"^\s*[A-Z][A-Za-z.'-]*(?: [A-Z][A-Za-z.'-]*){0,3}:\s+"
)  # "Q: ", "Craig Sanders: "
_EMOTICON = re.compile(r"(?<!\w)[:;]-?[()DPp](?!\w)")
_WORDNET_EXAMPLE = re.compile(r'"([^"]+)"')
_VOWEL = re.compile(r"[aeiouy]")
_SINGLE_LETTER_WORDS = frozenset({"a", "i"})


def split_sentences(text: str) -> list[str]:
    """Split running text into sentences at . ! ? followed by a capital, digit or opening quote."""
    text = " ".join(text.split())
    if not text:
        return []
    pieces = _SENTENCE_END.split(text)
    out: list[str] = []
    for piece in pieces:
        if out:
            last_word = out[-1].rsplit(" ", 1)[-1].rstrip(".").lower().lstrip("\"'(")
            if last_word in _ABBREVIATIONS or re.fullmatch(r"[a-z]", last_word):
                out[-1] = f"{out[-1]} {piece}"  # "Mr. Smith", "J. R. R. Tolkien"
                continue
        out.append(piece)
    return [s.strip() for s in out if s.strip()]


def fortune_records(text: str) -> Iterator[str]:
    """The records of a fortune file (separated by lines holding only '%'), attributions dropped."""
    record: list[str] = []
    for line in text.splitlines():
        if line.strip() == "%":
            if record:
                yield _join_record(record)
            record = []
        else:
            record.append(line)
    if record:
        yield _join_record(record)


def _join_record(lines: list[str]) -> str:
    kept = []
    for line in lines:
        if _ATTRIBUTION.match(line):
            break  # "-- Author, Title" and anything after it
        line = _SPEAKER_LABEL.sub("", _INLINE_ATTRIBUTION.sub("", line))
        kept.append(_EMOTICON.sub("", line))
    return "\n".join(kept)


def _prose_paragraphs(record: str) -> Iterator[str]:
    """Paragraphs of a record that look like prose (not ASCII art, tables or code)."""
    for paragraph in re.split(r"\n\s*\n", record):
        lines = [ln for ln in paragraph.splitlines() if ln.strip()]
        if not lines:
            continue
        body = " ".join(ln.strip() for ln in lines)
        letters = sum(c.isalpha() or c.isspace() for c in body)
        if letters < 0.85 * len(body):
            continue
        yield body


def fortune_sentences(fortunes_dir: str | os.PathLike) -> Iterator[tuple[str, str]]:
    """(file name, raw sentence) from every fortune file: skips *.dat indexes, *.u8 links and folders
    (the offensive set lives in off/)."""
    root = Path(fortunes_dir)
    if not root.is_dir():
        raise ValueError(f"fortunes_dir {root} is not a folder: install the Debian package 'fortunes'")
    for path in sorted(root.iterdir()):
        if (
            not path.is_file()
            or path.is_symlink()
            or path.suffix in (".dat", ".u8")
            or path.name.startswith(".")
        ):
            continue
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        for record in fortune_records(text):
            for paragraph in _prose_paragraphs(record):
                for sentence in split_sentences(paragraph):
                    yield path.name, sentence


def wordnet_sentences(wordnet_dir: str | os.PathLike) -> Iterator[tuple[str, str]]:
    """(file name, example) for the quoted example sentences in WordNet's data.* glosses."""
    root = Path(wordnet_dir)
    files = [root / f"data.{pos}" for pos in ("noun", "verb", "adj", "adv")]
    if not all(f.is_file() for f in files):
        raise ValueError(f"wordnet_dir {root} lacks data.noun/verb/adj/adv: install 'wordnet-base'")
    for path in files:
        with path.open(encoding="latin-1") as f:
            for line in f:
                if line.startswith("  "):  # licence header
                    continue
                _, sep, gloss = line.partition(" | ")
                if not sep:
                    continue
                for example in _WORDNET_EXAMPLE.findall(gloss):
                    for sentence in split_sentences(example):
                        yield path.name, sentence


def speakable_text(raw: str, normalized: str, normalize: Callable[[str], str]) -> str:
    """What espeak-ng is given: the normalized words, with the sentence's commas and final ? or !
    kept for prosody whenever that leaves the words exactly as in the transcript."""
    chunks = [normalize(c) for c in re.split(r"[,;:]", raw)]
    chunks = [c for c in chunks if c]
    spoken = ", ".join(chunks) if " ".join(chunks) == normalized else normalized
    end = raw.rstrip(" \"')]")[-1:]
    return spoken + (end if end in "?!" else ".")


@dataclass
class SourceStats:
    raw: int = 0
    rejected: Counter = field(default_factory=Counter)
    kept: int = 0


def reject_reason(
    raw: str, normalized: str, cfg: CorpusConfig, can_encode: Callable[[str], bool]
) -> str | None:
    """Why a sentence is unusable (a short tag), or None. Rare-word filtering happens later."""
    if _CODE_CHARS.search(raw):
        return "code_or_markup"
    letters = [c for c in raw if c.isalpha()]
    upper = sum(c.isupper() for c in letters)
    if letters and upper < 0.6 * len(letters) and _ACRONYM.search(raw):
        return "acronym"  # espeak spells these; the transcript would not
    if not normalized or not can_encode(normalized):
        return "not_encodable"
    words = normalized.split()
    if not cfg.min_words <= len(words) <= cfg.max_words:
        return "length"
    for w in words:
        if len(w.replace("'", "")) > cfg.max_word_length:
            return "long_word"
        if len(w) == 1 and w not in _SINGLE_LETTER_WORDS:
            return "single_letter"
        if w in _SPOKEN_DIFFERENTLY or not _VOWEL.search(w):
            return "abbreviation"
    return None


@dataclass
class Sentence:
    text: str  # normalized transcript
    spoken: str  # what espeak-ng reads
    source: str


def _word_ngrams(words: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


class Excluder:
    """Matches sentences against a reserved list: equal, or sharing a 6-word run with a listed one."""

    N = 6

    def __init__(self, sentences: Iterable[str]) -> None:
        self.exact = {s for s in sentences if s}
        self.grams: set[tuple[str, ...]] = set()
        for s in self.exact:
            self.grams |= _word_ngrams(s.split(), self.N)

    def __len__(self) -> int:
        return len(self.exact)

    def __contains__(self, sentence: str) -> bool:
        if sentence in self.exact:
            return True
        return bool(self.grams) and not self.grams.isdisjoint(_word_ngrams(sentence.split(), self.N))


def read_r_strings(path: str | os.PathLike) -> list[str]:
    """Every character string stored in an R lazy-load database (``Rdata.rdb``), e.g. the Harvard
    sentences in r-cran-stringr's ``data/Rdata.rdb``. Chunks are 4-byte length + zlib; strings are
    XDR CHARSXP records (flags with type 9, a 4-byte length, the bytes)."""
    data = Path(path).read_bytes()
    pos, blobs = 0, []
    while pos + 4 < len(data):
        d = zlib.decompressobj()
        try:
            blobs.append(d.decompress(data[pos + 4 :]))
        except zlib.error as e:
            raise ValueError(f"{path}: not an R lazy-load database with zlib chunks ({e})") from None
        pos = len(data) - len(d.unused_data)
    out = []
    for blob in blobs:
        for m in re.finditer(rb"\x00[\x00-\x0f][\x00-\xff]\x09", blob):
            (n,) = struct.unpack(">i", blob[m.end() : m.end() + 4])
            s = blob[m.end() + 4 : m.end() + 4 + n]
            if 0 < n == len(s) and all(32 <= b < 127 for b in s):
                out.append(s.decode("ascii"))
    return out


def load_excluded(paths: Sequence[str], normalize: Callable[[str], str]) -> Excluder:
    sentences: list[str] = []
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise ValueError(f"exclude_text_file {path} does not exist")
        if path.suffix == ".rdb":
            texts = [t for t in read_r_strings(path) if len(t.split()) >= 3]
        else:
            texts = path.read_text(encoding="utf-8", errors="replace").splitlines()
        normalized = [normalize(t) for t in texts]
        log.info("exclude list %s: %d sentences", path, sum(bool(t) for t in normalized))
        sentences += normalized
    return Excluder(sentences)


def collect_sentences(
    cfg: CorpusConfig,
    normalize: Callable[[str], str],
    can_encode: Callable[[str], bool],
    excluded: Excluder | None = None,
    raw_sources: dict[str, Iterable[tuple[str, str]]] | None = None,
) -> tuple[list[Sentence], dict[str, dict[str, Any]]]:
    """Usable unique sentences from the configured sources, and per-source statistics.

    ``raw_sources`` (name -> (file, raw sentence) pairs) replaces reading the installed files (tests).
    """
    if raw_sources is None:
        readers = {
            "fortunes": lambda: fortune_sentences(cfg.fortunes_dir),
            "wordnet": lambda: wordnet_sentences(cfg.wordnet_dir),
        }
        raw_sources = {name: readers[name]() for name in cfg.sources}
    excluded = excluded or Excluder(())
    stats = {name: SourceStats() for name in raw_sources}
    candidates: list[Sentence] = []
    seen: set[str] = set()
    for name, pairs in raw_sources.items():
        st = stats[name]
        for _file, raw in pairs:
            st.raw += 1
            normalized = normalize(raw)
            reason = reject_reason(raw, normalized, cfg, can_encode)
            if reason is None and normalized in excluded:
                reason = "excluded"
            if reason is None and normalized in seen:
                reason = "duplicate"
            if reason:
                st.rejected[reason] += 1
                continue
            seen.add(normalized)
            candidates.append(Sentence(normalized, speakable_text(raw, normalized, normalize), name))
    counts = Counter(w for s in candidates for w in s.text.split())
    kept = []
    for s in candidates:
        rare = sum(counts[w] < cfg.rare_word_min_count for w in s.text.split())
        if rare > cfg.max_rare_words:
            stats[s.source].rejected["rare_words"] += 1
            continue
        stats[s.source].kept += 1
        kept.append(s)
    report = {
        name: {
            "packages": SOURCES.get(name, {}).get("packages", ""),
            "licence": SOURCES.get(name, {}).get("licence", ""),
            "raw_sentences": st.raw,
            "usable_sentences": st.kept,
            "rejected": dict(sorted(st.rejected.items())),
        }
        for name, st in stats.items()
    }
    for name, r in report.items():
        log.info(
            "source %s: %d raw sentences, %d usable, rejected %s",
            name,
            r["raw_sentences"],
            r["usable_sentences"],
            r["rejected"],
        )
    return kept, report
