"""Build an offline synthetic English speech corpus with espeak-ng and other text-to-speech engines.

    python recipes/synthetic/prepare.py --config recipes/synthetic/config.toml --out data/synthetic \
        [--jobs 2] [--seed N] [--num-train N] [--num-dev N] [--num-test N] [--splits dev,test]
        [--no-progress]

Text comes from freely licensed English installed by Debian packages (fortune cookies, WordNet example
sentences); speech from espeak-ng's native English accents combined with its voice variants, each
utterance at a random rate and pitch, and, with ``engines = [...]``, from MBROLA, Festival, SVOX Pico,
RHVoice and Piper voices (the ``synth/`` package; README "Engines beyond espeak-ng"). The test split is
spoken only by voices that never occur in train or dev; no sentence is shared between splits.

Only the ``[corpus]`` table of the TOML file is read; every key is optional, an unknown key is an error.
The defaults (see ``CorpusConfig``)::

    [corpus]
    seed = 1234
    num_train = 6000             # utterances per split
    num_dev = 300
    num_test = 300
    train_repeats = 1            # > 1: a train sentence may be spoken by up to this many voices
    min_words = 4                # sentence length window, in normalized words
    max_words = 16
    max_word_length = 15         # drop sentences with a longer word (junk, URLs, chemistry)
    max_rare_words = 1           # drop sentences with more words seen < rare_word_min_count times
    rare_word_min_count = 2      #   in all the collected text
    sources = ["fortunes", "wordnet"]
    fortunes_dir = "/usr/share/games/fortunes"
    wordnet_dir = "/usr/share/wordnet"
    exclude_text_file = []       # sentences never to use (e.g. the Harvard lists): text files, one
                                 # sentence a line, or an R lazy-load DB such as stringr's Rdata.rdb
    lm_text = "pool"             # train_text.txt: "pool" = every usable sentence not in dev/test,
                                 # "spoken" = only the sentences of train.jsonl
    accents = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp",
               "en-gb-x-gbcwmd", "en-029", "en-us-nyc"]
    variants = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
                "klatt", "klatt2", "klatt3", "klatt4", "Storm", "Annie", "Andy", "Michael",
                "steph", "linda", "john", "travis"]
    test_heldout_pairs = 0.15    # (accent, variant) pairs kept for test only: a fraction (< 1) or a count
    heldout_accents = []         # accents never in train/dev: test voices use them (with any variant)
    heldout_variants = []        # variants never in train/dev: test voices use them (with any accent)
    num_test_text = 0            # "test_text" split: unseen sentences read by *training* voices
    rate = [130, 200]            # espeak-ng -s, words per minute, drawn uniformly per utterance
    pitch = [30, 70]             # espeak-ng -p, 0..99, drawn uniformly per utterance
    sample_rate = 16000
    max_silence = 0.15           # seconds of leading/trailing silence kept

Output (under ``--out``): ``wav/<split>/<id>.wav`` (16-bit mono), ``train.jsonl``, ``dev.jsonl``,
``test.jsonl``, ``test_text.jsonl`` (empty unless ``num_test_text``) (``{"id", "audio", "duration", "text", "speaker", "rate", "pitch"}``, audio relative to the
manifest's folder), ``train_text.txt`` (LM text), ``corpus_info.json`` and a ``.done`` marker.

Every choice (sentence, voice, rate, pitch) is made up front from the seed, so a run is deterministic
whatever the number of jobs. An utterance id ends in a hash of everything that shapes its audio, so a
re-run keeps the wav files that are still right, regenerates the missing or stale ones and deletes
the ones no longer planned; a complete corpus with an unchanged config is recognised from the ``.done``
marker without reading any text source.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import math
import multiprocessing
import os
import re
import struct
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the recipe's own synth/ package
from synth import (  # noqa: E402
    DEFAULT_VOICES,
    ENGINES,
    SpeakerWarp,
    WarpConfig,
    apply_warp,
    check_not_reserved,
    get_backend,
    resolve_voices,
)

log = logging.getLogger("asr.recipes.synthetic")

# Bump when the text selection or the audio processing changes in a way a config hash cannot see.
RECIPE_VERSION = 1
SPLITS = ("train", "dev", "test", "test_text")

DEFAULT_ACCENTS = (
    "en-us",
    "en-gb",
    "en-gb-scotland",
    "en-gb-x-gbclan",
    "en-gb-x-rp",
    "en-gb-x-gbcwmd",
    "en-029",
    "en-us-nyc",
)
# Checked by ear-free means (duration, level, clipping, distinct output): "klatt6" renders exactly like
# "klatt", and "whisper", "croak", the robots and "Demonic" are left out as unlike speech.
DEFAULT_VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7",
    "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4",
    "Storm", "Annie", "Andy", "Michael", "steph", "linda", "john", "travis",
)  # fmt: skip

# Where each source's text and licence come from (Debian package, copyright file, licence in brief).
SOURCES: dict[str, dict[str, str]] = {
    "fortunes": {
        "packages": "fortunes, fortunes-min, fortune-anarchism",
        "licence": (
            "fortunes, fortunes-min: BSD-3-Clause (fortune-mod, University of California; "
            "/usr/share/doc/fortunes/copyright); fortune-anarchism: public domain "
            "(BLAG Fortune Assortment Project; /usr/share/doc/fortune-anarchism/copyright)"
        ),
    },
    "wordnet": {
        "packages": "wordnet-base",
        "licence": (
            "WordNet 3.0 licence (Princeton University; permissive, BSD-like, keep the copyright notice; "
            "/usr/share/doc/wordnet-base/copyright)"
        ),
    },
}


# --- config ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CorpusConfig:
    """The ``[corpus]`` table. Defaults build the demo corpus (6600 utterances, about 5-6 hours)."""

    seed: int = 1234
    num_train: int = 6000
    num_dev: int = 300
    num_test: int = 300
    train_repeats: int = 1
    min_words: int = 4
    max_words: int = 16
    max_word_length: int = 15
    max_rare_words: int = 1
    rare_word_min_count: int = 2
    sources: tuple[str, ...] = ("fortunes", "wordnet")
    fortunes_dir: str = "/usr/share/games/fortunes"
    wordnet_dir: str = "/usr/share/wordnet"
    exclude_text_file: tuple[str, ...] = ()
    lm_text: str = "pool"
    accents: tuple[str, ...] = DEFAULT_ACCENTS
    variants: tuple[str, ...] = DEFAULT_VARIANTS
    test_heldout_pairs: float = 0.15
    heldout_accents: tuple[str, ...] = ()
    heldout_variants: tuple[str, ...] = ()
    num_test_text: int = 0
    rate: tuple[int, int] = (130, 200)
    pitch: tuple[int, int] = (30, 70)
    sample_rate: int = 16000
    max_silence: float = 0.15
    # Engines beyond espeak-ng (synth/): which, their voices, each engine's share of the utterances of
    # train/dev/test_text, and engines / voices ("engine:voice") held out of training for test.
    engines: tuple[str, ...] = ("espeak",)
    engine_weights: tuple[float, ...] = ()  # one per engine; empty: equal shares
    mbrola_voices: tuple[str, ...] = DEFAULT_VOICES["mbrola"]
    festival_voices: tuple[str, ...] = DEFAULT_VOICES["festival"]
    pico_voices: tuple[str, ...] = DEFAULT_VOICES["pico"]
    rhvoice_voices: tuple[str, ...] = DEFAULT_VOICES["rhvoice"]
    piper_voices: tuple[str, ...] = DEFAULT_VOICES["piper"]
    heldout_engines: tuple[str, ...] = ()
    heldout_voices: tuple[str, ...] = ()
    warp: WarpConfig = WarpConfig()  # [corpus.warp]: more speakers per voice (synth/speakers.py)
    # Whisper tiny.en re-transcribes the clips of these engines; a clip whose character error rate
    # (spaces ignored) is above gate_max_cer is dropped as a garbled rendering.
    gate_engines: tuple[str, ...] = ()
    gate_max_cer: float = 0.35

    def voices_of(self, engine: str) -> tuple[str, ...]:
        """The configured voice names of a non-espeak engine."""
        return getattr(self, f"{engine}_voices")

    def __post_init__(self) -> None:
        def bad(msg: str) -> None:
            raise ValueError(f"[corpus] {msg}")

        for name in ("num_train", "num_dev", "num_test", "num_test_text"):
            if getattr(self, name) < 0:
                bad(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.train_repeats < 1:
            bad(f"train_repeats must be >= 1, got {self.train_repeats}")
        if not 1 <= self.min_words <= self.max_words:
            bad(f"need 1 <= min_words <= max_words, got {self.min_words}, {self.max_words}")
        unknown = sorted(set(self.sources) - set(SOURCES))
        if unknown or not self.sources:
            bad(f"sources must be a non-empty list of {sorted(SOURCES)}, got {list(self.sources)}")
        if self.lm_text not in ("pool", "spoken"):
            bad(f"lm_text must be 'pool' or 'spoken', got {self.lm_text!r}")
        if not self.accents or not self.variants:
            bad("accents and variants must not be empty")
        for name, values in (("accents", self.accents), ("variants", self.variants)):
            odd = [v for v in values if not re.fullmatch(r"[A-Za-z0-9_-]+", v)]
            if odd or len(set(values)) != len(values):
                bad(f"{name} must be unique espeak-ng names ([A-Za-z0-9_-]), got {list(values)}")
        if any(v.startswith("mb-") or v.startswith("mb/") for v in self.accents):
            bad('mbrola voices (mb-*) are the mbrola engine\'s: add "mbrola" to engines and mbrola_voices')
        unknown_engines = sorted(set(self.engines) - set(ENGINES))
        if unknown_engines or not self.engines or len(set(self.engines)) != len(self.engines):
            bad(f"engines must be unique names of {sorted(ENGINES)}, got {list(self.engines)}")
        if self.engine_weights and (
            len(self.engine_weights) != len(self.engines) or min(self.engine_weights) < 0
        ):
            bad(f"engine_weights needs one weight >= 0 per engine {list(self.engines)}")
        for engine in ENGINES:
            if engine == "espeak":
                continue
            voices = self.voices_of(engine)
            if len(set(voices)) != len(voices) or (engine in self.engines and not voices):
                bad(f"{engine}_voices must be unique and not empty, got {list(voices)}")
            for voice in voices:
                check_not_reserved(engine, voice)
        for name in ("heldout_engines", "gate_engines"):
            stray = sorted(set(getattr(self, name)) - set(self.engines))
            if stray:
                bad(f"{name} {stray} are not in engines {list(self.engines)}")
        if "espeak" in self.heldout_engines:
            bad("hold espeak-ng voices out with heldout_accents / heldout_variants / test_heldout_pairs")
        if not set(self.engines) - set(self.heldout_engines):
            bad("heldout_engines must leave at least one engine for training")
        for ev in self.heldout_voices:
            engine, _, voice = ev.partition(":")
            if engine not in self.engines or engine == "espeak" or voice not in self.voices_of(engine):
                bad(
                    f"heldout_voices entries are 'engine:voice' of a configured non-espeak engine, got {ev!r}"
                )
        if not 0 <= self.gate_max_cer <= 1:
            bad(f"gate_max_cer must be in [0, 1], got {self.gate_max_cer}")
        for name, pool in (("heldout_accents", self.accents), ("heldout_variants", self.variants)):
            stray = sorted(set(getattr(self, name)) - set(pool))
            if stray:
                bad(f"{name} {stray} are not in {name.split('_')[1]} {list(pool)}")
        if set(self.heldout_accents) == set(self.accents) or set(self.heldout_variants) == set(self.variants):
            bad("heldout_accents / heldout_variants must leave at least one accent and variant for training")
        if self.test_heldout_pairs < 0:
            bad(f"test_heldout_pairs must be >= 0, got {self.test_heldout_pairs}")
        for name, lo_limit, hi_limit in (("rate", 80, 450), ("pitch", 0, 99)):
            lo, hi = getattr(self, name)
            if not lo_limit <= lo <= hi <= hi_limit:
                bad(f"{name} must be [low, high] within {lo_limit}..{hi_limit}, got {[lo, hi]}")
        if self.sample_rate < 8000:
            bad(f"sample_rate must be >= 8000, got {self.sample_rate}")
        if self.max_silence < 0:
            bad(f"max_silence must be >= 0, got {self.max_silence}")

    @classmethod
    def from_dict(cls, table: dict[str, Any], where: str = "[corpus]") -> CorpusConfig:
        """Build from a TOML table; unknown keys and wrongly typed values raise ValueError."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(table) - set(fields))
        if unknown:
            raise ValueError(f"{where}: unknown keys {unknown}; known keys: {sorted(fields)}")
        kwargs: dict[str, Any] = {}
        for name, value in table.items():
            if name == "warp":
                if not isinstance(value, dict):
                    raise ValueError(f"{where}: warp must be a table ([corpus.warp])")
                kwargs[name] = WarpConfig.from_dict(value)
                continue
            default = getattr(cls, name) if name not in ("exclude_text_file",) else ()
            kwargs[name] = _coerce(name, value, default, where)
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))  # tuples -> lists, warp -> a table


def _coerce(name: str, value: Any, default: Any, where: str) -> Any:
    def fail() -> None:
        raise ValueError(f"{where}: {name} = {value!r} has the wrong type (default is {default!r})")

    if isinstance(default, bool):
        if not isinstance(value, bool):
            fail()
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            fail()
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail()
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            fail()
        return value
    if isinstance(default, tuple):
        if name == "exclude_text_file" and isinstance(value, str):
            return (value,) if value else ()
        if not isinstance(value, list):
            fail()
        if name in ("rate", "pitch"):
            if len(value) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                fail()
        elif name == "engine_weights":
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                fail()
            return tuple(float(v) for v in value)
        elif not all(isinstance(v, str) for v in value):
            fail()
        return tuple(value)
    fail()


def load_config(path: str | os.PathLike | None) -> CorpusConfig:
    if path is None:
        return CorpusConfig()
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ValueError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: not valid TOML ({e})") from None
    table = data.get("corpus", {})
    if not isinstance(table, dict):
        raise ValueError(f"{path}: [corpus] must be a table")
    return CorpusConfig.from_dict(table, where=f"{path} [corpus]")


# --- text: extraction and filtering ---------------------------------------------------------------

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


# --- voices and the plan --------------------------------------------------------------------------


def heldout_pairs(
    accents: Sequence[str], variants: Sequence[str], amount: float, seed: int
) -> list[tuple[str, str]]:
    """Deterministic (accent, variant) pairs reserved for test.

    ``amount`` < 1 is a fraction of all pairs, otherwise a count. Every accent and every variant keeps at
    least one pair in training; the pairs are spread as evenly as possible over accents, then variants,
    so that test covers as many of both as it can.
    """
    pairs = [(a, v) for a in accents for v in variants]
    k = round(amount * len(pairs)) if amount < 1 else int(amount)
    if amount > 0 and k == 0:
        k = 1
    rng = np.random.default_rng([seed, 7])
    rank = {pairs[i]: r for r, i in enumerate(rng.permutation(len(pairs)))}
    train_acc = Counter(a for a, _ in pairs)
    train_var = Counter(v for _, v in pairs)
    held_acc: Counter = Counter()
    held_var: Counter = Counter()
    held: list[tuple[str, str]] = []
    while len(held) < k:
        candidates = [
            (a, v) for a, v in pairs if (a, v) not in held and train_acc[a] > 1 and train_var[v] > 1
        ]
        if not candidates:
            break
        # Spread over accents first, then variants; the seeded rank breaks ties.
        a, v = min(candidates, key=lambda p: (held_acc[p[0]], held_var[p[1]], rank[p]))
        held.append((a, v))
        train_acc[a] -= 1
        train_var[v] -= 1
        held_acc[a] += 1
        held_var[v] += 1
    if len(held) < k:
        raise ValueError(
            f"test_heldout_pairs asks for {k} of {len(pairs)} (accent, variant) pairs, but only {len(held)} "
            "can be held out while every accent and variant keeps a training pair: lower it"
        )
    return sorted(held)


def heldout_voices(cfg: CorpusConfig) -> list[tuple[str, str]]:
    """Every (accent, variant) pair test may use and train/dev may not.

    The union of ``test_heldout_pairs`` (unseen *combinations* of seen accents and variants) and every
    pair that involves a held-out accent or variant (voices whose accent or variant training never saw).
    """
    held_acc, held_var = set(cfg.heldout_accents), set(cfg.heldout_variants)
    unseen = [(a, v) for a in cfg.accents for v in cfg.variants if a in held_acc or v in held_var]
    seen_accents = [a for a in cfg.accents if a not in held_acc]
    seen_variants = [v for v in cfg.variants if v not in held_var]
    combos = heldout_pairs(seen_accents, seen_variants, cfg.test_heldout_pairs, cfg.seed)
    return sorted(set(unseen) | set(combos))


@dataclass(frozen=True)
class Utterance:
    id: str
    split: str
    text: str
    spoken: str
    accent: str
    variant: str
    rate: int
    pitch: int
    voice: str  # the engine's voice: espeak-ng -v argument ("gmw/en+m3"), "mb-us1", "en-GB", ...
    engine: str = "espeak"
    settings: tuple[tuple[str, float], ...] = ()  # the engine's own settings (espeak: rate, pitch)
    warp: SpeakerWarp = SpeakerWarp()

    @property
    def speaker(self) -> str:
        """espeak-ng: "accent+variant" (as before engines were added); other engines: "engine:voice"."""
        if self.engine == "espeak":
            return f"{self.accent}+{self.variant}"
        return f"{self.engine}:{self.voice}"

    def engine_settings(self) -> dict[str, float]:
        if self.engine == "espeak":
            return {"rate": self.rate, "pitch": self.pitch}
        return dict(self.settings)


def _sentence_order_key(seed: int, text: str) -> bytes:
    return hashlib.blake2b(f"{seed}\0{text}".encode(), digest_size=12).digest()


def plan_corpus(
    sentences: Sequence[Sentence],
    cfg: CorpusConfig,
    synth_tag: str,
    voice_files: dict[str, str] | None = None,
) -> tuple[dict[str, list[Utterance]], list[Sentence], list[tuple[str, str]]]:
    """Decide every utterance up front: split -> utterances, the training sentence pool, held-out pairs.

    Sentences are ordered by a seeded hash of their text (adding a source keeps most assignments), then
    test takes the first ``num_test``, dev the next ``num_dev`` and train the rest. Each sentence draws its
    voice(s), rates and pitches from its own seeded generator, so changing one split's size leaves the
    other utterances alone. ``voice_files`` maps an accent to the espeak-ng voice file to use
    (see :func:`resolve_voices`); by default the accent name itself.
    """
    voice_files = voice_files or {}
    ordered = sorted(sentences, key=lambda s: _sentence_order_key(cfg.seed, s.text))
    n_train_sentences = math.ceil(cfg.num_train / cfg.train_repeats)
    need = cfg.num_test + cfg.num_dev + cfg.num_test_text + n_train_sentences
    if need > len(ordered):
        raise ValueError(
            f"the corpus needs {need} distinct sentences (num_test + num_dev + num_test_text + "
            f"num_train / train_repeats) "
            f"but only {len(ordered)} are usable: lower the counts or raise train_repeats"
        )
    test_s = ordered[: cfg.num_test]
    dev_s = ordered[cfg.num_test : cfg.num_test + cfg.num_dev]
    text_end = cfg.num_test + cfg.num_dev + cfg.num_test_text
    test_text_s = ordered[cfg.num_test + cfg.num_dev : text_end]
    pool = ordered[text_end:]
    held = heldout_voices(cfg)
    held_set = set(held)
    train_pairs = [(a, v) for a in cfg.accents for v in cfg.variants if (a, v) not in held_set]
    # Voices of the other engines: (engine, voice) for training, and for test.
    others = [e for e in cfg.engines if e != "espeak"]
    held_voices = {tuple(ev.split(":", 1)) for ev in cfg.heldout_voices}
    train_voices = {
        e: [v for v in cfg.voices_of(e) if (e, v) not in held_voices]
        for e in others
        if e not in cfg.heldout_engines
    }
    train_voices = {e: v for e, v in train_voices.items() if v}
    test_voices = {e: list(cfg.voices_of(e)) for e in cfg.heldout_engines}
    for e, v in sorted(held_voices):
        test_voices.setdefault(e, []).append(v)
    weights = dict(zip(cfg.engines, cfg.engine_weights or [1.0] * len(cfg.engines), strict=True))
    train_engines = (["espeak"] if "espeak" in cfg.engines and train_pairs else []) + list(train_voices)
    test_engines = (["espeak"] if "espeak" in cfg.engines and held else []) + list(test_voices)
    if cfg.num_test and not test_engines:
        raise ValueError(
            "num_test > 0 needs held-out voices: test_heldout_pairs, heldout_* or heldout_engines"
        )

    plan: dict[str, list[Utterance]] = {}
    for split_index, (split, split_sentences_, pairs, repeats, total) in enumerate(
        (
            ("train", pool[:n_train_sentences], train_pairs, cfg.train_repeats, cfg.num_train),
            ("dev", dev_s, train_pairs, 1, cfg.num_dev),
            ("test", test_s, held, 1, cfg.num_test),
            ("test_text", test_text_s, train_pairs, 1, cfg.num_test_text),
        )
    ):
        engines = test_engines if split == "test" else train_engines
        voices_by_engine = test_voices if split == "test" else train_voices
        share = np.array([1.0 if split == "test" else weights[e] for e in engines])
        share = share / share.sum() if share.sum() > 0 else share
        utts: list[Utterance] = []
        for j, s in enumerate(split_sentences_):
            # espeak-ng's draws come first and alone from this generator, so an espeak-only config
            # plans exactly the corpus it planned before other engines existed.
            rng = np.random.default_rng([cfg.seed, split_index, j])
            n = min(repeats, total - len(utts))
            voices = rng.choice(len(pairs), size=n, replace=n > len(pairs)) if pairs else [0] * n
            rates = rng.integers(cfg.rate[0], cfg.rate[1] + 1, size=n)
            pitches = rng.integers(cfg.pitch[0], cfg.pitch[1] + 1, size=n)
            rng_other = np.random.default_rng([cfg.seed, split_index, j, 1])
            for r in range(n):
                engine = (
                    engines[int(rng_other.choice(len(engines), p=share))] if len(engines) > 1 else engines[0]
                )
                # Warping makes more *training* speakers; evaluation splits keep the engines' own voices.
                warp = cfg.warp.draw(rng_other) if cfg.warp.prob > 0 and split == "train" else SpeakerWarp()
                suffix = f"r{r}" if repeats > 1 else ""
                if engine == "espeak":
                    accent, variant = pairs[int(voices[r])]
                    rate, pitch = int(rates[r]), int(pitches[r])
                    voice = f"{voice_files.get(accent, accent)}+{variant}"
                    parts: list[Any] = [s.text, s.spoken, voice, rate, pitch, synth_tag]
                    if not warp.identity:
                        parts.append(warp.to_dict())
                    digest = hashlib.blake2b(json.dumps(parts).encode(), digest_size=4).hexdigest()
                    uid = f"{split}-{j:05d}{suffix}-{digest}"
                    utts.append(
                        Utterance(
                            uid, split, s.text, s.spoken, accent, variant, rate, pitch, voice, warp=warp
                        )
                    )
                    continue
                names = voices_by_engine[engine]
                voice = names[int(rng_other.integers(len(names)))]
                settings = get_backend(engine).draw_settings(rng_other)
                parts = [s.text, s.spoken, engine, voice, settings, warp.to_dict(), synth_tag]
                digest = hashlib.blake2b(json.dumps(parts).encode(), digest_size=4).hexdigest()
                uid = f"{split}-{j:05d}{suffix}-{digest}"
                utts.append(
                    Utterance(
                        uid,
                        split,
                        s.text,
                        s.spoken,
                        "",
                        "",
                        0,
                        0,
                        voice,
                        engine,
                        tuple(settings.items()),
                        warp,
                    )
                )
        plan[split] = utts
    return plan, pool, held


# --- synthesis ------------------------------------------------------------------------------------


def engine_versions(engines: Sequence[str]) -> str:
    """Every engine's version (part of the corpus hash: a changed engine re-renders its clips)."""
    versions = [
        get_backend(e).version() if e == "espeak" else f"{e}: {get_backend(e).version()}" for e in engines
    ]
    return " | ".join(versions)


def trim_silence(x: np.ndarray, sr: int, keep_s: float, threshold_db: float = -60.0) -> np.ndarray:
    """Cut leading/trailing silence (below ``threshold_db`` relative to the peak) beyond ``keep_s``.

    espeak-ng starts speaking ~12 ms in and ends with ~0.3 s of digital zeros."""
    if x.size == 0:
        return x
    peak = float(np.abs(x).max())
    if peak == 0.0:
        return x[:0]
    loud = np.flatnonzero(np.abs(x) > peak * 10 ** (threshold_db / 20))
    keep = int(round(keep_s * sr))
    return x[max(0, loud[0] - keep) : min(x.size, loud[-1] + 1 + keep)]


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    if sr_in == sr_out:
        return x
    try:
        import soxr  # installed with librosa; 3x faster than torchaudio here, high quality
    except ImportError:  # pragma: no cover - soxr comes with librosa
        import torch
        import torchaudio.functional as AF

        return AF.resample(torch.from_numpy(x), sr_in, sr_out).numpy()
    return soxr.resample(x, sr_in, sr_out, quality="HQ")


def synthesize(utt: Utterance, path: Path, sample_rate: int, max_silence: float) -> float:
    """Speak ``utt`` into ``path`` (16-bit mono wav, written atomically); returns the duration (s)."""
    backend = get_backend(utt.engine)
    x = backend.synthesize(utt.spoken, utt.voice, utt.engine_settings())
    sr = backend.sample_rate
    x = trim_silence(x, sr, max_silence)
    if x.size < sr // 10:
        raise RuntimeError(f"{utt.engine} produced {x.size / sr:.2f} s of audio for {utt.spoken!r}")
    x = apply_warp(x, sr, utt.warp)
    y = resample(x, sr, sample_rate)
    peak = float(np.abs(y).max())
    if peak > 0.98:  # some engines (piper) reach full scale: scale down rather than clip
        y = y * (0.98 / peak)
    pcm = np.round(np.clip(y, -1.0, 32767 / 32768) * 32768).astype("<i2")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with sf.SoundFile(tmp, "w", samplerate=sample_rate, channels=1, subtype="PCM_16", format="WAV") as f:
            f.write(pcm)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return len(pcm) / sample_rate


def _synthesize_job(job: tuple[Utterance, str, int, float]) -> tuple[str, float | None, str | None]:
    utt, path, sample_rate, max_silence = job
    try:
        return utt.id, synthesize(utt, Path(path), sample_rate, max_silence), None
    except Exception as e:  # one bad utterance never kills the run
        return utt.id, None, f"{type(e).__name__}: {e}"


def existing_duration(path: Path, sample_rate: int) -> float | None:
    """Duration of an already written wav if it is what this recipe writes, else None (cheap: header)."""
    try:
        info = sf.info(str(path))
    except Exception:
        return None
    if info.samplerate != sample_rate or info.channels != 1 or info.subtype != "PCM_16" or info.frames <= 0:
        return None
    return info.frames / sample_rate


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc="synthesizing",
        unit="utt",
        file=sys.stderr,
        disable=not enabled or total == 0,
        mininterval=1.0,
        dynamic_ncols=True,
    )


def run_synthesis(
    todo: list[tuple[Utterance, Path]], cfg: CorpusConfig, jobs: int, progress: bool
) -> tuple[dict[str, float], dict[str, str]]:
    """Synthesize ``todo`` with ``jobs`` processes; returns (id -> duration, id -> error)."""
    # Grouped by voice, so that a worker keeps one Festival voice / Piper model loaded across a chunk.
    todo = sorted(todo, key=lambda t: (t[0].engine, t[0].voice, t[0].id))
    work = [(u, str(p), cfg.sample_rate, cfg.max_silence) for u, p in todo]
    durations: dict[str, float] = {}
    errors: dict[str, str] = {}
    with _progress(len(work), progress) as bar:

        def collect(results: Iterable[tuple[str, float | None, str | None]]) -> None:
            for uid, dur, err in results:
                if err is None:
                    durations[uid] = dur
                else:
                    errors[uid] = err
                    log.warning("utterance %s failed: %s", uid, err)
                bar.update(1)

        if jobs <= 1 or len(work) < 8:
            collect(map(_synthesize_job, work))
        else:
            with multiprocessing.Pool(jobs) as pool:
                collect(pool.imap_unordered(_synthesize_job, work, chunksize=8))
    return durations, errors


# --- output ---------------------------------------------------------------------------------------


def write_if_changed(path: Path, text: str) -> bool:
    """Atomically write ``text`` to ``path`` unless it already holds exactly that; True if written."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return True


def manifest_line(utt: Utterance, duration: float) -> str:
    row: dict[str, Any] = {
        "id": utt.id,
        "audio": f"wav/{utt.split}/{utt.id}.wav",
        "duration": round(duration, 3),
        "text": utt.text,
        "speaker": utt.speaker,
        "engine": utt.engine,
    }
    if utt.engine == "espeak":
        row.update(rate=utt.rate, pitch=utt.pitch)
    else:
        row["settings"] = dict(utt.settings)
    if not utt.warp.identity:
        row["warp"] = utt.warp.to_dict()
    return json.dumps(row)


def config_hash(cfg: CorpusConfig, espeak: str) -> str:
    blob = json.dumps(
        {"config": cfg.to_dict(), "recipe_version": RECIPE_VERSION, "espeak": espeak}, sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def is_up_to_date(out: Path, digest: str, splits: Sequence[str] = SPLITS) -> bool:
    """True when ``.done`` holds ``digest`` and every manifest and wav of ``splits`` still exists."""
    try:
        done = json.loads((out / ".done").read_text())
    except (FileNotFoundError, ValueError):
        return False
    if done.get("config_hash") != digest:
        return False
    for split in splits:
        try:
            lines = (out / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return False
        for line in lines:
            try:
                audio = json.loads(line)["audio"]
            except (ValueError, KeyError):
                return False
            if not (out / audio).is_file():
                return False
    return (out / "train_text.txt").is_file() and (out / "corpus_info.json").is_file()


def _asr_text():
    """asr.text's Vocabulary and normalize_text, from the installed package or this checkout."""
    try:
        from asr.text import Vocabulary, normalize_text
    except ModuleNotFoundError:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        from asr.text import Vocabulary, normalize_text
    return Vocabulary, normalize_text


def prepare(
    cfg: CorpusConfig,
    out: str | os.PathLike,
    jobs: int | None = None,
    progress: bool = True,
    splits: Sequence[str] = SPLITS,
) -> dict[str, Any]:
    """Build (or finish, or check) the corpus in ``out``; returns the corpus_info dict.

    ``splits`` limits the work to some splits (e.g. only the evaluation splits, to score a shipped model
    without synthesizing its training set); the plan, and so every utterance, is the same either way.
    """
    out = Path(out)
    splits = tuple(s for s in SPLITS if s in set(splits))
    jobs = jobs or os.cpu_count() or 1
    for engine in cfg.engines:  # a clear error before any work when an engine or voice is missing
        get_backend(engine).check_voices([] if engine == "espeak" else cfg.voices_of(engine))
    espeak = engine_versions(("espeak",) + tuple(e for e in cfg.engines if e != "espeak"))
    digest = config_hash(cfg, espeak)
    if splits != SPLITS:
        digest += ":" + ",".join(splits)
    if is_up_to_date(out, digest, splits):
        log.info("%s is complete and its config unchanged: nothing to do", out)
        return json.loads((out / "corpus_info.json").read_text())

    t0 = time.perf_counter()
    voice_files = resolve_voices(cfg.accents, cfg.variants)
    Vocabulary, normalize_text = _asr_text()

    vocab = Vocabulary.english_characters()
    excluded = load_excluded(cfg.exclude_text_file, normalize_text)
    sentences, source_report = collect_sentences(cfg, normalize_text, vocab.can_encode, excluded)
    log.info("%d usable sentences in %.1f s", len(sentences), time.perf_counter() - t0)

    synth_tag = json.dumps([RECIPE_VERSION, espeak, cfg.sample_rate, cfg.max_silence])
    plan, pool, held = plan_corpus(sentences, cfg, synth_tag, voice_files)

    out.mkdir(parents=True, exist_ok=True)
    todo: list[tuple[Utterance, Path]] = []
    durations: dict[str, float] = {}
    removed = 0
    for split in splits:
        folder = out / "wav" / split
        folder.mkdir(parents=True, exist_ok=True)
        wanted = {f"{u.id}.wav" for u in plan[split]}
        for path in folder.iterdir():  # stale utterances from another config, killed runs' temp files
            if path.name not in wanted and not path.is_dir():
                path.unlink()
                removed += 1
        for u in plan[split]:
            path = folder / f"{u.id}.wav"
            dur = existing_duration(path, cfg.sample_rate) if path.exists() else None
            if dur is None:
                todo.append((u, path))
            else:
                durations[u.id] = dur
    if removed:
        log.info("removed %d files not in the current plan", removed)
    log.info(
        "%d utterances planned, %d already present, %d to synthesize with %d jobs",
        sum(map(len, plan.values())),
        len(durations),
        len(todo),
        jobs,
    )

    t1 = time.perf_counter()
    new, errors = run_synthesis(todo, cfg, jobs, progress)
    elapsed = time.perf_counter() - t1
    durations.update(new)
    gated: dict[str, dict[str, Any]] = {}
    if cfg.gate_engines:
        from quality_gate import gate_corpus

        candidates = [(u, out / "wav" / u.split / f"{u.id}.wav") for split in splits for u in plan[split]]
        candidates = [(u, p) for u, p in candidates if u.engine in cfg.gate_engines and u.id in durations]
        gated = gate_corpus(candidates, out / "gate.jsonl", cfg.gate_max_cer, jobs=jobs, progress=progress)
        for uid in gated:
            durations.pop(uid, None)
    if todo:
        log.info(
            "synthesized %d utterances in %.1f s (%.1f utt/s, %d jobs)",
            len(new),
            elapsed,
            len(new) / max(elapsed, 1e-9),
            jobs,
        )

    info: dict[str, Any] = {"splits": {}, "sources": source_report}
    for split in splits:
        lines = [manifest_line(u, durations[u.id]) for u in plan[split] if u.id in durations]
        write_if_changed(out / f"{split}.jsonl", "".join(line + "\n" for line in lines))
        done = [u for u in plan[split] if u.id in durations]
        info["splits"][split] = {
            "utterances": len(done),
            "failed": sorted(u.id for u in plan[split] if u.id not in durations and u.id not in gated),
            "gated": sorted(u.id for u in plan[split] if u.id in gated),
            "hours": round(sum(durations[u.id] for u in done) / 3600, 3),
            "sentences": len({u.text for u in done}),
            "speakers": dict(sorted(Counter(u.speaker for u in done).items())),
            "engines": {
                e: {
                    "utterances": sum(1 for u in done if u.engine == e),
                    "hours": round(sum(durations[u.id] for u in done if u.engine == e) / 3600, 3),
                }
                for e in sorted({u.engine for u in done})
            },
        }
    spoken = {u.text for u in plan["train"]}
    lm_sentences = pool if cfg.lm_text == "pool" else [s for s in pool if s.text in spoken]
    write_if_changed(out / "train_text.txt", "".join(s.text + "\n" for s in lm_sentences))
    info.update(
        {
            "train_text_sentences": len(lm_sentences),
            "usable_sentences": len(sentences),
            "heldout_pairs": [f"{a}+{v}" for a, v in held],
            "espeak_ng": espeak.split(" | ")[0],
            "engine_versions": espeak,
            "licences": {e: get_backend(e).licence for e in cfg.engines},
            "gated": gated,
            "sample_rate": cfg.sample_rate,
            "config": cfg.to_dict(),
        }
    )
    write_if_changed(out / "corpus_info.json", json.dumps(info, indent=1) + "\n")
    if errors:
        log.warning(
            "%d utterances failed and are left out of the manifests (a re-run retries them)", len(errors)
        )
        (out / ".done").unlink(missing_ok=True)
    else:
        write_if_changed(out / ".done", json.dumps({"config_hash": digest}) + "\n")
    return info


def summary(info: dict[str, Any]) -> str:
    rows = [
        f"{split:9s} {s['utterances']:6d} utt {s['hours']:7.2f} h {len(s['speakers']):4d} voices"
        + (f"  ({len(s['failed'])} failed)" if s["failed"] else "")
        for split, s in info["splits"].items()
    ]
    rows += [
        f"source {name}: {r['usable_sentences']} usable sentences" for name, r in info["sources"].items()
    ]
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="TOML file; only its [corpus] table is read")
    parser.add_argument("--out", required=True, help="output folder, e.g. data/synthetic")
    parser.add_argument("--jobs", type=int, default=None, help="parallel processes (default: CPU count)")
    parser.add_argument("--seed", type=int, help="override [corpus] seed")
    parser.add_argument("--num-train", type=int, help="override [corpus] num_train")
    parser.add_argument("--num-dev", type=int, help="override [corpus] num_dev")
    parser.add_argument("--num-test", type=int, help="override [corpus] num_test")
    parser.add_argument(
        "--splits",
        default=",".join(SPLITS),
        help=f"comma-separated splits to synthesize (default: all of {','.join(SPLITS)})",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    try:
        cfg = load_config(args.config)
        overrides = {
            k: v
            for k, v in (
                ("seed", args.seed),
                ("num_train", args.num_train),
                ("num_dev", args.num_dev),
                ("num_test", args.num_test),
            )
            if v is not None
        }
        if overrides:
            cfg = dataclasses.replace(cfg, **overrides)
        if args.jobs is not None and args.jobs < 1:
            raise ValueError(f"--jobs must be >= 1, got {args.jobs}")
        splits = [x.strip() for x in args.splits.split(",") if x.strip()]
        unknown = sorted(set(splits) - set(SPLITS))
        if unknown or not splits:
            raise ValueError(f"--splits must name some of {', '.join(SPLITS)}, got {args.splits!r}")
        info = prepare(cfg, args.out, jobs=args.jobs, progress=not args.no_progress, splits=splits)
    except ValueError as e:
        print(f"prepare.py: error: {e}", file=sys.stderr)
        return 2
    print(summary(info))
    failed = sum(len(s["failed"]) for s in info["splits"].values())
    planned = failed + sum(s["utterances"] for s in info["splits"].values())
    if failed:  # a few failures leave a usable corpus; many mean something is broken
        print(f"{failed} of {planned} utterances failed (see the log); re-run to retry them", file=sys.stderr)
    return 1 if failed > 0.01 * planned else 0


if __name__ == "__main__":
    sys.exit(main())
