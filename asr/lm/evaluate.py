"""How well a word n-gram predicts held-out text: perplexity and out-of-vocabulary rate.

The perplexity is over the in-vocabulary words and the sentence ends (an OOV word has no probability
of its own, only ``<unk>``'s; SRILM's convention), so LMs with different vocabularies are compared on
both numbers together: a bigger vocabulary turns OOV words into predicted ones, often rare and costly.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Perplexity", "perplexity", "read_lines"]


@dataclass(frozen=True)
class Perplexity:
    sentences: int
    words: int
    oov: int
    perplexity: float

    @property
    def oov_rate(self) -> float:
        return self.oov / self.words if self.words else 0.0


def read_lines(path: str | os.PathLike) -> list[str]:
    """Non-empty lines of a text file, or the texts of a JSONL manifest (``.jsonl``), normalized."""
    path = Path(path)
    if path.suffix == ".jsonl":
        import json

        from asr.text import normalize_text

        with path.open(encoding="utf-8") as f:
            return [normalize_text(json.loads(line)["text"]) for line in f if line.strip()]
    with path.open(encoding="utf-8") as f:
        return [" ".join(line.split()) for line in f if line.strip()]


def perplexity(
    lm: str | os.PathLike | object, sentences: Iterable[str], lexicon: Iterable[str] | None = None
) -> Perplexity:
    """Perplexity of `lm` (a path or a loaded ``kenlm.Model``) on `sentences` (normalized, one each).

    A word is OOV when the LM does not know it, or, with `lexicon`, when the lexicon lacks it (the
    decoder can only output lexicon words); OOV words are left out of the perplexity, not their
    sentence's other words.
    """
    import kenlm

    model = lm if isinstance(lm, kenlm.Model) else kenlm.Model(os.fspath(lm))
    known = set(lexicon) if lexicon is not None else None
    log10_sum, scored, words, oov, n = 0.0, 0, 0, 0, 0
    for sentence in sentences:
        tokens = sentence.split()
        if not tokens:
            continue
        n += 1
        words += len(tokens)
        scores = list(model.full_scores(sentence, bos=True, eos=True))
        for i, (log10_p, _, is_oov) in enumerate(scores):
            if i < len(tokens) and (is_oov or (known is not None and tokens[i] not in known)):
                oov += 1
                continue
            log10_sum += log10_p
            scored += 1
    ppl = math.pow(10.0, -log10_sum / scored) if scored else float("nan")
    return Perplexity(n, words, oov, ppl)
