"""DecoderConfig: every beam-search default in one place, frozen, loadable from TOML/JSON tables."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asr.errors import ConfigError

__all__ = [
    "CONFIDENCE_MODES",
    "DEFAULT_CONFIDENCE",
    "PATH_FIELDS",
    "RESULT_KEYS",
    "ConfigError",
    "DecoderConfig",
]

# Keys `asr lm tune` writes beside the settings (its results); a decoder config file may carry them.
RESULT_KEYS = frozenset({"dev_wer", "dev_cer", "utterances", "skipped", "grid"})

# The fields that name files: relative to a decoder config file's folder (`from_file`); in a model
# folder's decoder.json they must name files inside it (asr.loading.decoder_settings), and `asr export`
# copies them into the export.
PATH_FIELDS = ("lm", "lexicon", "spelling_lm")


# Word confidences (asr/decoding/confidence.py): "fast" is the default; "full" and "local" are the
# slower measures, kept for comparison (benchmarks/README.md, "Word confidences").
CONFIDENCE_MODES = ("fast", "full", "local", "none")
DEFAULT_CONFIDENCE = "fast"


@dataclass(frozen=True)
class DecoderConfig:
    """Settings of :class:`~asr.decoding.BeamSearchDecoder`.

    Scores are natural-log (the units of the model's log-probabilities), so `lm_weight` means what
    pyctcdecode's ``alpha`` means. flashlight/torchaudio's ``lm_weight`` multiplies log10 probabilities:
    theirs = ours × ln(10) ≈ ours × 2.303.

    Search
      beam_size         hypotheses kept per frame.
      beam_size_token   at most this many tokens (the most likely) are tried per frame; None: all.
                        (6 suits character vocabularies; raise it for large subword vocabularies.)
      beam_threshold    hypotheses scoring more than this below the frame's best are dropped.
      token_min_logp    tokens whose log-probability at a frame is below this are not tried there
                        (the frame's most likely token always is). -inf disables.
      blank_skip_threshold
                        a run of consecutive frames in which one token has probability >= this is
                        searched as one frame (the paths through such a run barely differ). 1.0 disables.
      log_add           merge hypotheses that reach the same state by adding their probabilities
                        (log-sum-exp: CTC's sum over alignments) instead of keeping the best one.
      nbest             hypotheses returned per utterance (distinct texts, best first).
    Language model and vocabulary
      lm                KenLM word n-gram, ``.arpa`` or binary; None: no LM.
      lexicon           word list or lexicon file (first column = word); None: lexicon-free search
                        (any character sequence; with an LM, words it does not know get `unk_score`).
      lm_weight         weight of the LM log-probability; 0 disables the LM.
      word_score        added per word (with a lexicon, or with an LM in lexicon-free search).
      unk_score         added per word outside the vocabulary: with a lexicon, per piece of a word
                        spelled from pieces of lexicon words (each also gets the LM's <unk> score);
                        lexicon-free with an LM, per word the LM does not know. -inf: lexicon words
                        (and hotwords) only.
      hotwords          (phrase, bonus) pairs: bonus added when the word or phrase is recognised.
    Open vocabulary (off unless `spelling_lm` is set; asr/decoding/open_vocab.py)
      spelling_lm       KenLM character n-gram over words spelled letter by letter (``asr lm build
                        --letters``). Set, it turns open vocabulary on: each word of the greedy (acoustic)
                        spelling that the lexicon lacks is offered as ``<unk>`` in place of the best
                        hypothesis' words over its frames, scored as the search scores words plus this
                        spelling LM, and kept where it scores higher. Needs a lexicon. None: off.
      open_vocab_unk_score
                        added per word so spelled (lower: fewer words spelled); None: 12, where the shipped
                        model's dev WER moved least (recipes/synthetic/README.md).
    Output and execution
      confidence        word confidences (asr/decoding/confidence.py): "fast" (the default: agreement
                        of the search's final hypotheses x the word's posterior against its one-change
                        readings; costs a fraction of the search), "none" (NaN, nothing computed), or
                        the slower measures, opt-in: "full" (readings scored with the LM, and the
                        vocabulary's one-edit neighbours of each word: 3-6x the search's time) and
                        "local" (readings scored with the LM: 2-4x). benchmarks/README.md compares them.
      frame_shift_s     seconds per model output frame (word times).
      num_workers       processes for large batches (1: decode in this process).
      min_batch_per_worker
                        a batch is split over processes only if each gets at least this many utterances.
    """

    beam_size: int = 32
    beam_size_token: int | None = 6
    beam_threshold: float = 15.0
    token_min_logp: float = -8.0
    blank_skip_threshold: float = 0.99
    log_add: bool = True
    nbest: int = 1
    lm: str | None = None
    lexicon: str | None = None
    lm_weight: float = 0.5
    word_score: float = 0.0
    unk_score: float = -8.0
    hotwords: tuple[tuple[str, float], ...] = ()
    spelling_lm: str | None = None
    open_vocab_unk_score: float | None = None
    confidence: str = DEFAULT_CONFIDENCE
    frame_shift_s: float = 0.03
    num_workers: int = 1
    min_batch_per_worker: int = 4

    def __post_init__(self) -> None:
        # Normalise the containers so that equal settings compare (and pickle) equal.
        object.__setattr__(self, "hotwords", _hotword_pairs(self.hotwords))
        for name in PATH_FIELDS:
            value = getattr(self, name)
            if value is not None:
                if not isinstance(value, str | os.PathLike):
                    raise ValueError(f"DecoderConfig.{name} must be a path or None, got {value!r}")
                object.__setattr__(self, name, os.fspath(value))
        problems = []
        if not isinstance(self.beam_size, int) or self.beam_size < 1:
            problems.append(f"beam_size must be an integer >= 1, got {self.beam_size!r}")
        if self.beam_size_token is not None and (
            not isinstance(self.beam_size_token, int) or self.beam_size_token < 1
        ):
            problems.append(f"beam_size_token must be None or an integer >= 1, got {self.beam_size_token!r}")
        if self.confidence not in CONFIDENCE_MODES:
            problems.append(
                f"confidence must be one of {', '.join(CONFIDENCE_MODES)}, got {self.confidence!r}"
            )
        if not isinstance(self.nbest, int) or self.nbest < 1:
            problems.append(f"nbest must be an integer >= 1, got {self.nbest!r}")
        if not isinstance(self.num_workers, int) or self.num_workers < 1:
            problems.append(f"num_workers must be an integer >= 1, got {self.num_workers!r}")
        if not isinstance(self.min_batch_per_worker, int) or self.min_batch_per_worker < 1:
            problems.append(
                f"min_batch_per_worker must be an integer >= 1, got {self.min_batch_per_worker!r}"
            )
        for name in ("beam_threshold", "lm_weight", "word_score", "frame_shift_s", "blank_skip_threshold"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
                problems.append(f"{name} must be a finite number, got {value!r}")
        value = self.open_vocab_unk_score
        if value is not None and (
            not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value)
        ):
            problems.append(f"open_vocab_unk_score must be None or a finite number, got {value!r}")
        for name in ("token_min_logp", "unk_score"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
                problems.append(f"{name} must be a number (-inf allowed), got {value!r}")
        if not problems:
            if self.beam_threshold <= 0:
                problems.append(f"beam_threshold must be > 0, got {self.beam_threshold}")
            if self.frame_shift_s <= 0:
                problems.append(f"frame_shift_s must be > 0, got {self.frame_shift_s}")
            if not 0 < self.blank_skip_threshold <= 1:
                problems.append(f"blank_skip_threshold must lie in (0, 1], got {self.blank_skip_threshold}")
            if self.token_min_logp > 0:
                problems.append(f"token_min_logp must be <= 0 (a log-probability), got {self.token_min_logp}")
        if problems:
            raise ValueError("invalid DecoderConfig: " + "; ".join(problems))

    def replace(self, **changes: Any) -> DecoderConfig:
        """A copy with `changes` applied (unknown names are a ValueError)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"unknown DecoderConfig field(s) {unknown}; known: {sorted(self.to_dict())}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["hotwords"] = dict(self.hotwords)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DecoderConfig:
        """Inverse of :meth:`to_dict`; also accepts `asr lm tune` output (its result keys, RESULT_KEYS,
        are skipped). Any other key is a ConfigError: a misspelt setting must not be silently ignored."""
        if not isinstance(d, Mapping):
            raise ConfigError(f"decoder config: expected a mapping, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(k) for k in d if k not in known and k not in RESULT_KEYS)
        if unknown:
            listed = ", ".join(map(repr, unknown))
            raise ConfigError(f"decoder config: unknown key(s) {listed}; known: {', '.join(sorted(known))}")
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> DecoderConfig:
        """Read a JSON file written by :meth:`to_dict` or `asr lm tune`."""
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: no such decoder config file") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{path}: not a JSON decoder config ({e})") from None
        # A relative lm/lexicon/spelling_lm path is relative to the config file when it exists there (a
        # model folder carries its decoder.json, LMs and word list together), else to the working directory.
        for key in PATH_FIELDS:
            value = d.get(key) if isinstance(d, dict) else None
            if isinstance(value, str) and value and not Path(value).is_absolute():
                beside = Path(path).parent / value
                if beside.exists():
                    d[key] = str(beside)
        try:
            return cls.from_dict(d)
        except ValueError as e:
            raise ConfigError(f"{path}: {e}") from None


def _hotword_pairs(hotwords: Mapping[str, float] | Iterable[Any] | None) -> tuple[tuple[str, float], ...]:
    """{"phrase": bonus} or [(phrase, bonus)] → sorted tuple of (single-spaced phrase, float bonus)."""
    if hotwords is None:
        return ()
    if isinstance(hotwords, str):
        raise ValueError("hotwords must be a mapping {phrase: bonus}, not a string")
    items = hotwords.items() if isinstance(hotwords, Mapping) else hotwords
    merged: dict[str, float] = {}
    for item in items:
        try:
            phrase, bonus = item
        except (TypeError, ValueError):
            raise ValueError(f"hotwords: expected (phrase, bonus) pairs, got {item!r}") from None
        if not isinstance(phrase, str) or not phrase.split():
            raise ValueError(f"hotwords: a phrase must be a non-empty string, got {phrase!r}")
        if isinstance(bonus, bool) or not isinstance(bonus, int | float) or not math.isfinite(bonus):
            raise ValueError(f"hotwords: the bonus of {phrase!r} must be a finite number, got {bonus!r}")
        merged[" ".join(phrase.split())] = float(bonus)
    return tuple(sorted(merged.items()))
