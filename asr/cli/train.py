"""`asr train`: train a model from a recipe's TOML config (also under torchrun)."""

from __future__ import annotations

import argparse
import logging
import os
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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from asr.train.config import load_run_config
    from asr.train.loop import train

    rank = int(os.environ.get("RANK", "0"))  # under torchrun only rank 0 logs progress and prints
    if rank > 0:
        logging.getLogger().setLevel(logging.WARNING)
    run_config = load_run_config(args.config, args.set)
    best = train(run_config, resume=args.resume or args.resume_force, resume_force=args.resume_force)
    if rank == 0:
        out_dir = Path(run_config.train.out_dir)
        print(f"best checkpoint: {best}")
        print(f"curves: {out_dir / 'curves.png'}; metrics: {out_dir / 'metrics.csv'}")
        print(f"report (skipped utterances, history): {out_dir / 'train_report.json'}")
    return 0
