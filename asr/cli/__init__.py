"""The `asr` command: one entry point, one module per subcommand.

Each command module (``asr.cli.transcribe`` …) has ``add_parser(subparsers)``, which registers its
arguments and its run function, and imports its heavy dependencies (torch, training, serving) only
when it runs, so ``asr transcribe`` loads no training code. Arguments shared by several commands are
defined once in :mod:`asr.cli.options`. This package is the only user of argparse and the only code in
asr that prints.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

__all__ = ["build_parser", "main"]

# the subcommand modules, in the order `asr --help` lists them (asr.cli.recipe is not one: it is the
# shared command line of the recipes' prepare.py scripts)
COMMANDS = ("train", "evaluate", "transcribe", "export", "average", "serve", "lm", "data", "config")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="asr", description="BiLSTM-CTC speech recognition")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(sub)
    return parser


def _expected_errors() -> tuple[type[BaseException], ...]:
    """Errors reported as one line and exit status 2 (anything else is a bug: a traceback)."""
    from asr.errors import (
        AudioError,
        CheckpointError,
        ConfigError,
        ManifestError,
        MissingDependency,
        TrainingError,
    )

    return (
        AudioError,
        CheckpointError,
        ConfigError,
        FileNotFoundError,
        ManifestError,
        MissingDependency,
        TrainingError,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    from asr.torch_compat import optional_torch

    torch = optional_torch()  # None: only ONNX exports and the decoder run (asr[onnx])
    if torch is not None:
        torch.set_flush_denormal(True)  # padded batches drive LSTM states into slow denormals (see train())
    try:
        return args.func(args)
    except _expected_errors() as e:
        print(f"asr {args.command}: error: {e}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] not in ("torch", "torchaudio"):
            raise
        from asr.torch_compat import TORCH_INSTALL_HINT

        print(
            f"asr {args.command}: error: this command needs torch, which is not installed here: "
            f"{TORCH_INSTALL_HINT}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print(f"asr {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
