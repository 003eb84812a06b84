"""The synthetic recipe's ``[corpus]`` table: :class:`CorpusConfig`, read with :func:`asr.config.from_table`
(an unknown key or a wrong type is a ConfigError naming the key), and the defaults it starts from."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass
from typing import Any

from synth import DEFAULT_VOICES, ENGINES, WarpConfig, check_not_reserved
from synth.kokoro import voice_names as kokoro_voice_names

from asr.config import ConfigError, from_table, load_toml

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
    hibari_voices: tuple[str, ...] = DEFAULT_VOICES["hibari"]
    accented_voices: tuple[str, ...] = DEFAULT_VOICES["accented"]
    # Kokoro's speakers are seeded blends: kokoro_voices names them ("blend-0007"), or, when empty,
    # kokoro_speakers asks for the first N (blend-0000 ...).
    kokoro_voices: tuple[str, ...] = DEFAULT_VOICES["kokoro"]
    kokoro_speakers: int = 48
    heldout_engines: tuple[str, ...] = ()
    heldout_voices: tuple[str, ...] = ()
    warp: WarpConfig = WarpConfig()  # [corpus.warp]: more speakers per voice (synth/speakers.py)
    # Whisper tiny.en re-transcribes the clips of these engines; a clip whose character error rate
    # (spaces ignored) is above gate_max_cer is dropped as a garbled rendering.
    gate_engines: tuple[str, ...] = ()
    gate_max_cer: float = 0.35

    def voices_of(self, engine: str) -> tuple[str, ...]:
        """The configured voice names of a non-espeak engine."""
        if engine == "kokoro" and not self.kokoro_voices:
            return kokoro_voice_names(self.kokoro_speakers)
        return getattr(self, f"{engine}_voices")

    def __post_init__(self) -> None:
        def bad(msg: str) -> None:
            raise ConfigError(f"[corpus] {msg}")

        for name in ("num_train", "num_dev", "num_test", "num_test_text", "kokoro_speakers"):
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
        if sorted(set(self.warp.skip_engines) - set(ENGINES)):
            bad(
                f"warp.skip_engines must name engines of {sorted(ENGINES)}, got {list(self.warp.skip_engines)}"
            )
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
            if len(getattr(self, name)) != 2:
                bad(f"{name} must be [low, high], got {list(getattr(self, name))}")
            lo, hi = getattr(self, name)
            if not lo_limit <= lo <= hi <= hi_limit:
                bad(f"{name} must be [low, high] within {lo_limit}..{hi_limit}, got {[lo, hi]}")
        if self.sample_rate < 8000:
            bad(f"sample_rate must be >= 8000, got {self.sample_rate}")
        if self.max_silence < 0:
            bad(f"max_silence must be >= 0, got {self.max_silence}")

    @classmethod
    def from_dict(cls, table: dict[str, Any], where: str = "corpus") -> CorpusConfig:
        """Build from a TOML table with :func:`asr.config.from_table` (``[corpus.warp]`` included)."""
        return from_table(cls, table, where, strict=True)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))  # tuples -> lists, warp -> a table


def load_config(path: str | os.PathLike | None) -> CorpusConfig:
    """The ``[corpus]`` table of the TOML file ``path`` (the defaults without one); other tables are
    ignored."""
    if path is None:
        return CorpusConfig()
    table = load_toml(path).get("corpus", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [corpus] must be a table")
    try:
        return CorpusConfig.from_dict(table)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
