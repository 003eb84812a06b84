"""Small helpers the recipes' ``prepare.py`` scripts share: the ``[corpus]`` table and the command line."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asr.config import ConfigError, load_toml

__all__ = ["corpus_table", "main_wrapper", "recipe_parser"]


def corpus_table(config: str | os.PathLike | None, defaults: dict[str, Any]) -> dict[str, Any]:
    """The config's ``[corpus]`` table over ``defaults``; an unknown key or a wrong type is an error."""
    table = dict(load_toml(config).get("corpus", {})) if config else {}
    unknown = sorted(set(table) - set(defaults))
    if unknown:
        raise ConfigError(f"{config}: [corpus]: unknown key(s) {unknown}; known: {sorted(defaults)}")
    merged = dict(defaults)
    for key, value in table.items():
        default = defaults[key]
        if default is not None and not isinstance(value, type(default)):
            if isinstance(default, float) and isinstance(value, int):
                value = float(value)
            else:
                raise ConfigError(f"{config}: [corpus] {key} = {value!r}: expected {type(default).__name__}")
        merged[key] = value
    return merged


def recipe_parser(description: str) -> tuple[argparse.ArgumentParser, Any]:
    """A parser with ``--config``, ``-v`` and a required subcommand; returns (parser, subparsers)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", help="the recipe's config.toml (its [corpus] table is read)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    return parser, sub


def add_prepare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1), help="parallel processes")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--force", action="store_true", help="prepare again even if up to date")


def main_wrapper(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    """Parse, set up logging, run ``args.func(args)``; expected errors print one line, exit 2."""
    from asr.audio import AudioError
    from asr.datasets.download import DownloadError, UnsafeArchiveError

    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args) or 0
    except (ConfigError, DownloadError, UnsafeArchiveError, AudioError, FileNotFoundError, ValueError) as e:
        print(f"{Path(sys.argv[0]).name} {args.command}: error: {e}", file=sys.stderr)
        return 2
