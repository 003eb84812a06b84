"""Lexicons, word lists and KenLM files: the words a beam search may output and the LM that scores them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["arpa_unigrams", "is_arpa", "kenlm_module", "lm_vocabulary", "read_lexicon"]

_KENLM_HINT = (
    "scoring with a KenLM model from Python needs the kenlm module (ufal-kenlm): pip install asr-blstm"
)


def kenlm_module() -> Any:
    """The ``kenlm`` Python module (scoring from Python: hotwords, lexicon-free search, confidences)."""
    try:
        import kenlm
    except ImportError as e:  # pragma: no cover - depends on the installation
        raise ImportError(_KENLM_HINT) from e
    return kenlm


def read_lexicon(path: str | os.PathLike) -> list[str]:
    """Words of a word list (one per line) or a lexicon file (``word spelling...``: first column kept).

    Blank lines and lines starting with ``#`` are skipped; duplicates are dropped, order kept.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such lexicon file (a word list, one word per line)")
    words: dict[str, None] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if fields and not fields[0].startswith("#"):
                words[fields[0]] = None
    return list(words)


def arpa_unigrams(path: str | os.PathLike) -> list[str]:
    """The words of an ARPA file's 1-gram section, without <s>, </s> and <unk>."""
    words = []
    in_unigrams = False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not in_unigrams:
                in_unigrams = line.startswith("\\1-grams:")
                continue
            if line.startswith("\\"):
                break
            fields = line.split()
            if len(fields) >= 2 and fields[1] not in ("<s>", "</s>", "<unk>"):
                words.append(fields[1])
    return words


def lm_vocabulary(lm_path: str | os.PathLike) -> list[str] | None:
    """The LM's words when they can be known: an ARPA's unigrams, or the ``<stem>.words.txt`` that
    `asr lm build` writes beside a binary. None for a binary LM without that file."""
    lm_path = Path(lm_path)
    if is_arpa(lm_path):
        return arpa_unigrams(lm_path)
    words_file = lm_path.with_suffix(".words.txt")
    return read_lexicon(words_file) if words_file.is_file() else None


def is_arpa(path: Path) -> bool:
    """Whether `path` is an ARPA text file (else a KenLM binary)."""
    with path.open("rb") as f:
        head = f.read(64).lstrip()
    return head.startswith(b"\\data\\")
