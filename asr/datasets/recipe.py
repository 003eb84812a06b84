"""What the recipes' ``prepare.py`` scripts share as a library: the ``[corpus]`` table as a frozen
dataclass, and preparing a corpus's splits (:func:`corpus_preparer` builds a recipe's
``prepare_<corpus>(corpus_dir, out_dir)`` from its split listings). It logs; the recipes' command line
(argparse, printing) is :mod:`asr.cli.recipe`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from asr.config import ConfigError, from_table, load_toml
from asr.datasets.prepare import Item, PrepareResult, fingerprint, run_splits, write_text_corpus

__all__ = ["Listings", "Results", "corpus_preparer", "prepare_corpus", "read_corpus_config"]

log = logging.getLogger("asr.datasets.recipe")
C = TypeVar("C")

Listings = dict[str, Callable[[], list[Item]]]
"""split name -> a function listing its items (called only when the split is prepared)."""
Results = dict[str, PrepareResult | None]
"""split name -> what preparing it did (None: it was up to date)."""


def read_corpus_config(cls: type[C], config: str | os.PathLike | None) -> C:
    """The config's ``[corpus]`` table as dataclass ``cls`` (its defaults without a config file).

    Read with :func:`asr.config.from_table` (strict: TOML values only, no strings parsed); an unknown key
    or a wrong type is a :class:`ConfigError` that names the file and the key.
    """
    table = dict(load_toml(config).get("corpus", {})) if config else {}
    try:
        return from_table(cls, table, "corpus", strict=True)
    except ConfigError as e:
        raise ConfigError(f"{config}: {e}") from None


def prepare_corpus(
    listings: Listings,
    out_dir: str | os.PathLike,
    cfg: Any,
    key_parts: Sequence[object],
    *,
    jobs: int = 1,
    progress: bool = True,
    force: bool = False,
    text_split: str | None = "train",
) -> Results:
    """Prepare every split of ``listings`` whose inputs changed (None for those up to date).

    ``cfg`` is the corpus dataclass (its ``min_duration``/``max_duration`` bound the utterances); it and
    ``key_parts`` (recipe version, corpus folder, ...) make the key that says a split is up to date.
    ``--force`` changes the key. ``text_split``'s transcripts become ``train_text.txt`` (LM text).
    """
    out = Path(out_dir)
    key = fingerprint(key_parts[0], dataclasses.asdict(cfg), *key_parts[1:]) + ("-forced" if force else "")
    results = run_splits(
        listings, out, key, jobs=jobs, progress=progress,
        min_duration=cfg.min_duration, max_duration=cfg.max_duration,
    )  # fmt: skip
    if text_split and results.get(text_split) is not None:
        write_text_corpus(results[text_split].rows, out / "train_text.txt")
    return results


def corpus_preparer(
    config_cls: type[C],
    version: int,
    splits: Callable[[Path, Path, C], Listings],
    *,
    key: Callable[[Path], Sequence[object]] | None = None,
    doc: str | None = None,
) -> Callable[..., Results]:
    """The ``prepare_<corpus>(corpus_dir, out_dir, cfg=None, **options)`` every corpus recipe has.

    ``cfg`` defaults to ``config_cls()``; ``splits(corpus, out, cfg)`` gives the split listings (it may
    check the corpus folder first); the up-to-date key is ``version``, the resolved corpus folder and
    ``key(corpus)`` when given (e.g. the listing files' sizes). ``doc`` is the function's docstring.
    """

    def prepare(
        corpus_dir: str | os.PathLike, out_dir: str | os.PathLike, cfg: C | None = None, **options: Any
    ) -> Results:
        """Prepare ``out_dir``'s manifests from ``corpus_dir`` (None: a split up to date); ``options``
        are :func:`prepare_corpus`'s ``jobs``, ``progress`` and ``force``."""
        cfg = cfg if cfg is not None else config_cls()
        corpus, out = Path(corpus_dir), Path(out_dir)
        listings = splits(corpus, out, cfg)
        extra = tuple(key(corpus)) if key else ()
        return prepare_corpus(listings, out, cfg, (version, str(corpus.resolve()), *extra), **options)

    if doc:
        prepare.__doc__ = doc
    return prepare
