"""Word and character error rates (jiwer) and aligned error reports.

Corpus-level rates: errors summed over all utterances divided by reference units summed, returned as
fractions (0.25, not 25). Whitespace runs count as one space; CER counts spaces between words as
characters. An empty reference is allowed: every hypothesis unit then counts as an insertion.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import jiwer

__all__ = ["ErrorStats", "align", "cer", "error_stats", "wer"]

Unit = Literal["word", "char"]


@dataclass(frozen=True)
class ErrorStats:
    """Edit-distance counts over a corpus, in one unit (words or characters, as they were counted in).

    ``ref_units`` counts the reference's units; ``rate`` is the error rate in that unit: the WER of
    word stats, the CER of character stats.
    """

    substitutions: int
    deletions: int
    insertions: int
    hits: int
    ref_units: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        """Errors per reference unit (WER for word stats, CER for character stats).

        With no reference units at all it is 0.0 when nothing was inserted and ``inf`` otherwise.
        """
        if self.ref_units == 0:
            return 0.0 if self.errors == 0 else math.inf
        return self.errors / self.ref_units

    def __add__(self, other: ErrorStats) -> ErrorStats:
        if not isinstance(other, ErrorStats):
            return NotImplemented
        return ErrorStats(
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
            self.hits + other.hits,
            self.ref_units + other.ref_units,
        )


def wer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus word error rate, as a fraction."""
    return error_stats(references, hypotheses, unit="word").rate


def cer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus character error rate, as a fraction (spaces between words count as characters)."""
    return error_stats(references, hypotheses, unit="char").rate


def error_stats(references: Sequence[str], hypotheses: Sequence[str], unit: Unit = "word") -> ErrorStats:
    """Substitution/deletion/insertion/hit counts of ``hypotheses`` against ``references``, counted in
    `unit` (words, or characters with the spaces between words)."""
    refs, hyps = _check_pairs(references, hypotheses, unit)
    # jiwer < 4 rejects empty references, so those pairs are counted here: all insertions.
    pairs = [(r, h) for r, h in zip(refs, hyps, strict=True) if r]
    insertions = sum(len(_units(h, unit)) for r, h in zip(refs, hyps, strict=True) if not r)
    stats = ErrorStats(0, 0, insertions, 0, 0)
    if pairs:
        out = _process([r for r, _ in pairs], [h for _, h in pairs], unit)
        stats = stats + ErrorStats(
            out.substitutions,
            out.deletions,
            out.insertions,
            out.hits,
            out.hits + out.substitutions + out.deletions,
        )
    return stats


def align(ref: str, hyp: str, unit: Unit = "word") -> str:
    """Two aligned lines, ``REF: ...`` over ``HYP: ...``; errors upper-cased and gaps shown as ``*``.

    Example: ``REF: the CAT sat ***`` / ``HYP: the BAT sat DOWN``.
    """
    (ref,), (hyp,) = _check_pairs([ref], [hyp], unit)
    ref_units, hyp_units = _units(ref, unit), _units(hyp, unit)
    if not ref_units:
        cols = [(None, h) for h in hyp_units]
    elif not hyp_units:
        cols = [(r, None) for r in ref_units]
    else:
        cols = []
        for chunk in _process([ref], [hyp], unit).alignments[0]:
            r = ref_units[chunk.ref_start_idx : chunk.ref_end_idx]
            h = hyp_units[chunk.hyp_start_idx : chunk.hyp_end_idx]
            if chunk.type == "insert":
                cols += [(None, x) for x in h]
            elif chunk.type == "delete":
                cols += [(x, None) for x in r]
            else:  # "equal" or "substitute": same length on both sides
                cols += list(zip(r, h, strict=True))

    ref_line, hyp_line = [], []
    for r, h in cols:
        if unit == "char":
            # A visible space marker keeps character columns readable.
            r = None if r is None else r.replace(" ", "_")
            h = None if h is None else h.replace(" ", "_")
        if r != h:  # an error (a gap is None): upper-case it, a gap becomes stars
            r = "*" * len(h) if r is None else r.upper()
            h = "*" * len(r) if h is None else h.upper()
        width = max(len(r), len(h))
        ref_line.append(r.ljust(width))
        hyp_line.append(h.ljust(width))
    sep = "" if unit == "char" else " "
    return f"REF: {sep.join(ref_line)}\nHYP: {sep.join(hyp_line)}".replace(" \n", "\n").rstrip()


def _check_pairs(
    references: Sequence[str], hypotheses: Sequence[str], unit: str
) -> tuple[list[str], list[str]]:
    if unit not in ("word", "char"):
        raise ValueError(f"unit must be 'word' or 'char', got {unit!r}")
    if isinstance(references, str) or isinstance(hypotheses, str):
        raise ValueError("references and hypotheses must be sequences of strings, not single strings")
    if len(references) != len(hypotheses):
        raise ValueError(
            f"got {len(references)} references but {len(hypotheses)} hypotheses; they must pair up one to one"
        )
    for what, seq in (("reference", references), ("hypothesis", hypotheses)):
        for i, s in enumerate(seq):
            if not isinstance(s, str):
                raise ValueError(f"{what} {i} is {type(s).__name__}, not str")
    # Collapse whitespace once here so that words, characters and emptiness agree everywhere below.
    return [" ".join(r.split()) for r in references], [" ".join(h.split()) for h in hypotheses]


def _units(text: str, unit: str) -> list[str]:
    return text.split() if unit == "word" else list(text)


def _process(refs: list[str], hyps: list[str], unit: str) -> jiwer.WordOutput | jiwer.CharacterOutput:
    if unit == "word":
        return jiwer.process_words(refs, hyps)
    return jiwer.process_characters(refs, hyps)
