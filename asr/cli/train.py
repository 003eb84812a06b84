"""`asr train`: train a model from a recipe's TOML config (also under torchrun).

Ctrl-C or SIGTERM stops the run after the update under way, with last.pt written (a second one stops at
once), and `--stop-after` ends a piece of a long run on time; either way `--resume` continues it exactly,
and the exit status is 75 (EX_TEMPFAIL: not finished, run again) so that a script does not go on to use
an unfinished model.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from asr.cli.options import override_item


def add_parser(sub: Any) -> None:
    p = sub.add_parser("train", help="train a model from a TOML config")
    p.add_argument("--config", required=True, help="recipe config, e.g. recipes/synthetic/config.toml")
    p.add_argument(
        "--set",
        nargs="+",
        action="extend",
        default=[],
        type=override_item,
        metavar="SECTION.KEY=VALUE",
        help="set fields of [features], [model], [train] (repeatable, or several after one --set)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from OUT_DIR/last.pt if present (refused if its batching settings or manifests changed)",
    )
    p.add_argument(
        "--resume-force",
        action="store_true",
        help="--resume even though train.max_duration/num_buckets/grad_accum/seed or a manifest changed "
        "(the current epoch restarts at its first batch)",
    )
    p.add_argument(
        "--stop-after",
        type=duration_seconds,
        metavar="TIME",
        help="stop this long after starting (90s, 45m, 1.5h), after a whole update with last.pt written; "
        "--resume continues it exactly (exit status 75)",
    )
    p.set_defaults(func=run)


STOPPED_EXIT = 75  # EX_TEMPFAIL from sysexits.h: not done yet, run again


def duration_seconds(text: str) -> float:
    """'90s', '45m', '1.5h' or plain seconds, as seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([smh]?)\s*", text)
    seconds = float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[2]] if match else 0.0
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a time such as 90s, 45m or 1.5h, got {text!r}")
    return seconds


@contextlib.contextmanager
def _stop_on_signals(requested: threading.Event, announce: bool) -> Iterator[None]:
    """The first SIGINT/SIGTERM asks the run to stop at its next update (saying so when `announce`); a
    second one stops it at once."""

    def ask(signum: int, frame: Any) -> None:
        if requested.is_set():
            raise KeyboardInterrupt
        requested.set()
        if announce:
            print(
                f"asr train: {signal.Signals(signum).name}: stopping after this update and writing last.pt "
                "(again to stop at once)",
                file=sys.stderr,
            )

    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = {s: signal.signal(s, ask) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def run(args: argparse.Namespace) -> int:
    from asr.train.config import load_run_config
    from asr.train.loop import StopRule, TrainingStopped, train

    rank = int(os.environ.get("RANK", "0"))  # under torchrun only rank 0 logs progress and prints
    if rank > 0:
        logging.getLogger().setLevel(logging.WARNING)
    run_config = load_run_config(args.config, args.set)
    stop = StopRule(after_s=args.stop_after)
    try:
        with _stop_on_signals(stop.requested, announce=rank == 0):
            best = train(
                run_config, args.resume or args.resume_force, resume_force=args.resume_force, stop=stop
            )
    except TrainingStopped as e:
        if rank == 0:
            print(f"{e}: add --resume to continue", file=sys.stderr)
        return STOPPED_EXIT
    if rank == 0:
        out_dir = Path(run_config.train.out_dir)
        print(f"best checkpoint: {best}")
        print(f"curves: {out_dir / 'curves.png'}; metrics: {out_dir / 'metrics.csv'}")
        print(f"report (skipped utterances, history): {out_dir / 'train_report.json'}")
    return 0
