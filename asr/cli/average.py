"""`asr average`: one model whose weights are the weighted mean of several checkpoints of the same model.

Two uses: the last checkpoints of a run (what `train.average_last` does at its end, for runs that did
not), and interpolating a fine-tuned model with the model it started from (0.5 x each kept a fine-tune
from forgetting the voices it had learnt first: recipes/synthetic/README.md, "Pilots on half the
render"). The result is a slim checkpoint (no optimizer state) with the first model's configs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("average", help="average (or interpolate) the weights of checkpoints of one model")
    p.add_argument(
        "models", nargs="+", metavar="MODEL", help="checkpoint files, or model folders holding model.pt"
    )
    p.add_argument(
        "--weights",
        nargs="+",
        type=float,
        metavar="W",
        help="one weight per model, normalised to sum to 1 (default: equal), e.g. --weights 0.5 0.5",
    )
    p.add_argument("-o", "--output", required=True, help="the averaged checkpoint to write (.pt)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from asr.checkpoint import average_checkpoints, save_checkpoint
    from asr.loading import CHECKPOINT_FILE

    paths = [Path(m) / CHECKPOINT_FILE if Path(m).is_dir() else Path(m) for m in args.models]
    output = Path(args.output)
    try:
        if len(paths) < 2:
            raise ValueError("give two or more models")
        if any(output.resolve() == p.resolve() for p in paths):
            raise ValueError(f"{output} is one of the models: write the average to a new file")
        averaged = average_checkpoints(paths, args.weights, like=0)
    except ValueError as e:  # the command line's fault (a CheckpointError, the files', goes up)
        print(f"asr average: error: {e}", file=sys.stderr)
        return 2
    save_checkpoint(averaged, output)
    weights = args.weights or [1.0] * len(paths)
    terms = " + ".join(f"{w / sum(weights):.3g} x {p}" for w, p in zip(weights, paths))
    print(f"wrote {output}: {terms}")
    return 0
