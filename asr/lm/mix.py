"""Linear interpolation of ARPA n-gram LMs into one ARPA (a static mixture, as SRILM's ``-mix-lm``).

:func:`mix_arpa` writes the LM whose n-grams are the union of the components' n-grams, each with the
mixture probability ``sum_i weight_i * p_i(w | h)`` (each ``p_i`` with its own backoff), and backoff
weights recomputed so that every context's distribution sums to one. An n-gram that no component lists
backs off in the mixture as in any ARPA: that is the one approximation of a static mixture (the exact
mixture of two backoff LMs is not a backoff LM); :func:`mixture_word_probs` gives the exact mixture to
compare with.

The components should share a vocabulary (``asr lm build --mix`` builds them with one). A word that a
component lacks gets an equal share of that component's ``<unk>`` probability, so that each component is
a distribution over the union's words.

:func:`estimate_weights` picks the weights that minimise the exact mixture's perplexity on tuning text
(EM on the per-word probabilities).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from asr.errors import LMBuildError
from asr.fileio import atomic_write

__all__ = ["Arpa", "estimate_weights", "mix_arpa", "mixture_word_probs", "read_arpa"]

log = logging.getLogger(__name__)

_SPECIAL = ("<s>", "</s>", "<unk>")


@dataclass
class Arpa:
    """An ARPA LM in memory: per order, n-gram → log10 probability, and context → log10 backoff."""

    probs: list[dict[tuple[str, ...], float]]
    backoffs: list[dict[tuple[str, ...], float]]
    # log10 probability of a word outside this LM's vocabulary (set by mix_arpa; default: <unk>'s)
    oov_logprob: float = field(default=-math.inf)
    # <unk>'s log10 probability as read (before _share_unk splits it)
    unk_logprob: float = field(default=-math.inf)

    @property
    def order(self) -> int:
        return len(self.probs)

    def words(self) -> set[str]:
        return {ngram[0] for ngram in self.probs[0]}

    def logprob(self, ngram: tuple[str, ...]) -> float:
        """log10 p(last word | the others), backing off as ARPA does (the context cut to the order)."""
        ngram = ngram[-self.order :]
        total = 0.0
        while True:
            hit = self.probs[len(ngram) - 1].get(ngram)
            if hit is not None:
                return total + hit
            if len(ngram) == 1:
                return total + self.oov_logprob
            total += self.backoffs[len(ngram) - 2].get(ngram[:-1], 0.0)
            ngram = ngram[1:]


def read_arpa(path: str | os.PathLike) -> Arpa:
    """Read an ARPA file (e.g. lmplz's ``--arpa`` output)."""
    probs: list[dict[tuple[str, ...], float]] = []
    backoffs: list[dict[tuple[str, ...], float]] = []
    current: dict[tuple[str, ...], float] | None = None
    current_bo: dict[tuple[str, ...], float] = {}
    n = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("\\"):
                if line.startswith("\\end\\"):
                    break
                if line.rstrip().endswith("-grams:"):
                    n = int(line[1 : line.index("-")])
                    current, current_bo = {}, {}
                    probs.append(current)
                    backoffs.append(current_bo)
                continue
            if current is None or not line.strip():
                continue
            fields = line.split("\t")
            ngram = tuple(fields[1].split())
            if len(ngram) != n:
                raise LMBuildError(f"{path}: {n}-gram section holds {line.strip()!r}")
            current[ngram] = float(fields[0])
            if len(fields) > 2 and fields[2].strip():
                current_bo[ngram] = float(fields[2])
    if not probs or ("<unk>",) not in probs[0]:
        raise LMBuildError(f"{path}: not an ARPA file with <unk> (no \\1-grams: section or no <unk>)")
    unk = probs[0][("<unk>",)]
    return Arpa(probs, backoffs[:-1], oov_logprob=unk, unk_logprob=unk)


def _share_unk(components: Sequence[Arpa]) -> None:
    """Give each component's words missing from the union's vocabulary an equal share of its <unk>."""
    vocabulary = set().union(*(lm.words() for lm in components)) - set(_SPECIAL)
    for arpa in components:
        missing = len(vocabulary - arpa.words())
        share = arpa.unk_logprob - math.log10(missing + 1)
        arpa.oov_logprob = arpa.probs[0][("<unk>",)] = share


def _mix(logprobs: Iterable[float], weights: Sequence[float]) -> float:
    total = sum(w * 10.0**lp for w, lp in zip(weights, logprobs, strict=True))
    return math.log10(total) if total > 0 else -99.0


def mix_arpa(
    components: Sequence[str | os.PathLike | Arpa], weights: Sequence[float], output: str | os.PathLike
) -> dict[int, int]:
    """Write the weighted linear mixture of ARPA `components` to the ARPA `output`; its n-gram counts.

    `weights` (one per component) must be positive and sum to one.
    """
    if len(components) != len(weights) or not components:
        raise ValueError("mix_arpa: one weight per component, at least one component")
    if any(w <= 0 for w in weights) or abs(sum(weights) - 1) > 1e-6:
        raise ValueError(f"mix_arpa: weights must be positive and sum to 1, got {list(weights)}")
    lms = [c if isinstance(c, Arpa) else read_arpa(c) for c in components]
    order = max(lm.order for lm in lms)
    _share_unk(lms)
    mixed = Arpa([{} for _ in range(order)], [{} for _ in range(order - 1)])
    for n in range(1, order + 1):
        keys = set().union(*(lm.probs[n - 1] for lm in lms if lm.order >= n))
        table = mixed.probs[n - 1]
        for ngram in keys:
            if ngram == ("<s>",):
                table[ngram] = next(lm.probs[0][ngram] for lm in lms if ngram in lm.probs[0])
            else:
                table[ngram] = _mix((lm.logprob(ngram) for lm in lms), weights)
        if n > 1:
            _set_backoffs(mixed, n)
        log.info("mixture: %d %d-grams", len(table), n)
    counts = {n + 1: len(t) for n, t in enumerate(mixed.probs)}
    _write_arpa(mixed, Path(output))
    return counts


def _set_backoffs(mixed: Arpa, n: int) -> None:
    """Backoff weights of the (n-1)-gram contexts, from the finished n-grams and lower orders."""
    seen: dict[tuple[str, ...], float] = {}
    lower: dict[tuple[str, ...], float] = {}
    for ngram, lp in mixed.probs[n - 1].items():
        context = ngram[:-1]
        seen[context] = seen.get(context, 0.0) + 10.0**lp
        lower[context] = lower.get(context, 0.0) + 10.0 ** mixed.logprob(ngram[1:])
    table = mixed.backoffs[n - 2]
    for context, mass in seen.items():
        left, left_lower = 1.0 - mass, 1.0 - lower[context]
        if left <= 1e-12 or left_lower <= 1e-12:
            table[context] = -99.0 if left <= 1e-12 else 0.0
        else:
            table[context] = math.log10(left / left_lower)


def _write_arpa(arpa: Arpa, output: Path) -> None:
    with atomic_write(output) as f:
        f.write("\\data\\\n")
        for n, table in enumerate(arpa.probs, 1):
            f.write(f"ngram {n}={len(table)}\n")
        for n, table in enumerate(arpa.probs, 1):
            f.write(f"\n\\{n}-grams:\n")
            backoffs = arpa.backoffs[n - 1] if n < arpa.order else {}
            for ngram in sorted(table):
                bo = backoffs.get(ngram)
                tail = f"\t{bo:.7g}" if bo is not None else ""
                f.write(f"{table[ngram]:.7g}\t{' '.join(ngram)}{tail}\n")
        f.write("\n\\end\\\n")


def _sentence_ngrams(sentence: str, order: int) -> list[tuple[str, ...]]:
    words = ["<s>", *sentence.split(), "</s>"]
    return [tuple(words[max(0, i - order + 1) : i + 1]) for i in range(1, len(words))]


def mixture_word_probs(
    components: Sequence[Arpa], weights: Sequence[float], sentences: Iterable[str]
) -> list[float]:
    """The exact mixture's probability of each word (and sentence end) of `sentences`."""
    _share_unk(components)
    order = max(lm.order for lm in components)
    out = []
    for sentence in sentences:
        for ngram in _sentence_ngrams(sentence, order):
            out.append(sum(w * 10.0 ** lm.logprob(ngram) for w, lm in zip(weights, components, strict=True)))
    return out


def estimate_weights(
    components: Sequence[Arpa], sentences: Iterable[str], iterations: int = 100
) -> list[float]:
    """Mixture weights that minimise the exact mixture's perplexity on `sentences` (EM)."""
    _share_unk(components)
    order = max(lm.order for lm in components)
    rows = [
        [10.0 ** lm.logprob(ngram) for lm in components]
        for sentence in sentences
        for ngram in _sentence_ngrams(sentence, order)
    ]
    if not rows:
        raise ValueError("estimate_weights: no tuning text")
    weights = [1.0 / len(components)] * len(components)
    for _ in range(iterations):
        totals = [0.0] * len(components)
        for row in rows:
            mixed = sum(w * p for w, p in zip(weights, row, strict=True))
            for i, (w, p) in enumerate(zip(weights, row, strict=True)):
                totals[i] += w * p / mixed
        weights = [t / len(rows) for t in totals]
    return weights
