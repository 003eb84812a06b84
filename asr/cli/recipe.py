"""The recipes' ``prepare.py`` command line, built once: ``--config``, ``-v``, the download and prepare
subcommands and the main that runs them (expected errors: one line, exit status 2).

It is not an ``asr`` subcommand (:data:`asr.cli.COMMANDS` does not list it): each recipe's script
calls it. The library part it runs (reading ``[corpus]``, preparing splits) is
:mod:`asr.datasets.recipe`, which logs; only this module prints.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from asr.cli.options import add_set_argument, set_overrides
from asr.datasets.download import Resource, fetch
from asr.datasets.recipe import Results, read_corpus_config

__all__ = [
    "add_download_arguments",
    "add_prepare_arguments",
    "add_prepare_command",
    "CorpusParser",
    "corpus_parser",
    "download_command",
    "main_wrapper",
    "print_results",
    "recipe_main",
    "recipe_parser",
]


def print_results(results: Results) -> None:
    for split, result in results.items():
        print(result.summary() if result else f"{split}: up to date")


def recipe_parser(description: str) -> tuple[argparse.ArgumentParser, Any]:
    """A parser with ``--config``, ``-v`` and a required subcommand; returns (parser, subparsers)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", help="the recipe's config.toml (its [corpus] table is read)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    return parser, sub


def add_download_arguments(parser: argparse.ArgumentParser) -> None:
    """--mirror / --retries / --remove-archive / --no-progress for a recipe's download command."""
    parser.add_argument("--mirror", help="base URL replacing the published one (the file name is appended)")
    parser.add_argument("--retries", type=int, default=5, help="extra attempts after a failure (default 5)")
    parser.add_argument("--remove-archive", action="store_true", help="delete each archive once extracted")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_prepare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1), help="parallel processes")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--force", action="store_true", help="prepare again even if up to date")


def add_prepare_command(
    sub: Any,
    prepare: Callable[..., Results],
    config_cls: type,
    help: str,
    corpus_dir: str | None,
    out: str,
    *,
    corpus_flag: str = "--corpus-dir",
    corpus_help: str = "the extracted corpus folder",
    passthrough: Sequence[str] = (),
) -> argparse.ArgumentParser:
    """The ``prepare`` subcommand: reads ``[corpus]`` as ``config_cls``, calls ``prepare(corpus_dir, out,
    cfg, jobs=, progress=, force=, **passthrough options)`` and prints each split's summary. The
    returned parser takes the recipe's own extra options (name those ``prepare`` takes in
    ``passthrough``)."""

    def run(args: argparse.Namespace) -> int:
        from asr.config import with_overrides

        cfg = read_corpus_config(config_cls, args.config)
        cfg = with_overrides(cfg, "corpus", set_overrides(args).get("corpus", {}))
        extra = {name: getattr(args, name) for name in passthrough}
        corpus = getattr(args, corpus_flag.lstrip("-").replace("-", "_"))
        options = {"jobs": args.jobs, "progress": not args.no_progress, "force": args.force}
        print_results(prepare(corpus, args.out, cfg, **options, **extra))
        return 0

    p = sub.add_parser("prepare", help=help)
    if corpus_dir is None:
        p.add_argument(corpus_flag, required=True, help=corpus_help)
    else:
        p.add_argument(corpus_flag, default=corpus_dir, help=corpus_help)
    p.add_argument("--out", default=out, help="manifests (and converted audio) go here")
    add_prepare_arguments(p)
    add_set_argument(p, ("corpus",))
    p.set_defaults(func=run)
    return p


def download_command(
    sub: Any,
    resources: Callable[[argparse.Namespace], list[Resource]],
    help: str,
    dir: str,
    corpus: str,
    name: str,
) -> argparse.ArgumentParser:
    """The ``download`` subcommand: fetch ``resources(args)`` into ``--dir`` (the corpus unpacks into
    ``DIR/<corpus>``); the returned parser takes the recipe's own extra options."""

    def run(args: argparse.Namespace) -> int:
        fetch(
            resources(args), Path(args.dir) / "download", Path(args.dir), mirror=args.mirror,
            remove_archive=args.remove_archive, retries=args.retries, progress=not args.no_progress,
        )  # fmt: skip
        print(f"{name} is in {Path(args.dir) / corpus}")
        return 0

    p = sub.add_parser("download", help=help)
    p.add_argument("--dir", default=dir, help=f"archives go to DIR/download, the corpus to DIR/{corpus}")
    add_download_arguments(p)
    p.set_defaults(func=run)
    return p


class CorpusParser(NamedTuple):
    """What :func:`corpus_parser` builds: the parser, its subparsers (for more commands) and the two
    subcommands' parsers (for the recipe's own options)."""

    parser: argparse.ArgumentParser
    sub: Any
    download: argparse.ArgumentParser
    prepare: argparse.ArgumentParser


def corpus_parser(
    description: str,
    *,
    name: str,
    data_dir: str,
    corpus: str,
    resources: Callable[[argparse.Namespace], list[Resource]],
    download_help: str,
    prepare: Callable[..., Results],
    config_cls: type,
    prepare_help: str = "write manifests",
    **prepare_options: Any,
) -> CorpusParser:
    """The parser of a recipe whose corpus is downloaded: ``download`` fetches ``resources(args)`` into
    ``--dir data_dir`` (the archives unpack to ``data_dir/corpus``, named ``name`` when done), and
    ``prepare`` reads ``--corpus-dir data_dir/corpus`` into ``--out data_dir`` (``prepare_options``: those
    of :func:`add_prepare_command`)."""
    parser, sub = recipe_parser(description)
    download = download_command(sub, resources, download_help, data_dir, corpus, name)
    prepare_parser = add_prepare_command(
        sub, prepare, config_cls, prepare_help, f"{data_dir}/{corpus}", data_dir, **prepare_options
    )
    return CorpusParser(parser, sub, download, prepare_parser)


def main_wrapper(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Every recipe's main: parse, set up logging (``-v``/``--verbose`` or ``--log-level``), run
    ``args.func(args)``; an expected error prints one line (no traceback) and exits 2."""
    from asr.errors import AsrError

    args = parser.parse_args(argv)
    level = getattr(args, "log_level", None) or ("DEBUG" if getattr(args, "verbose", False) else "INFO")
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args) or 0
    except (AsrError, FileNotFoundError, ValueError) as e:
        where = " ".join(x for x in (Path(sys.argv[0]).name, getattr(args, "command", None)) if x)
        print(f"{where}: error: {e}", file=sys.stderr)
        return 2


def recipe_main(build_parser: Callable[[], argparse.ArgumentParser]) -> Callable[..., int]:
    """A recipe's ``main(argv=None)``: :func:`main_wrapper` on a fresh ``build_parser()``."""

    def main(argv: Sequence[str] | None = None) -> int:
        return main_wrapper(build_parser(), argv)

    return main
