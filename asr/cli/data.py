"""`asr data ...`: manifests to and from lhotse."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(subparsers: Any) -> None:
    """Register ``asr data from-lhotse`` and ``asr data to-lhotse``."""
    data = subparsers.add_parser("data", help="convert manifests (lhotse interop)")
    sub = data.add_subparsers(dest="data_command", required=True)

    p = sub.add_parser("from-lhotse", help="a lhotse CutSet (or recordings + supervisions) → a manifest")
    p.add_argument("cuts", help="cuts.jsonl.gz, or a recordings manifest with --supervisions")
    p.add_argument("-o", "--output", required=True, help="the manifest to write (.jsonl)")
    p.add_argument("--supervisions", help="supervisions manifest, when CUTS is a recordings manifest")
    p.add_argument(
        "--audio-dir", help="where cut segments are written as wav (default: OUTPUT_audio/ beside it)"
    )
    p.add_argument("--no-normalize", action="store_true", help="keep texts as they are (no normalize_text)")
    p.set_defaults(func=run_from_lhotse)

    p = sub.add_parser("to-lhotse", help="a manifest → lhotse recordings, supervisions and cuts")
    p.add_argument("manifest")
    p.add_argument("-o", "--output-dir", required=True)
    p.add_argument("--name", help="file name prefix (default: the manifest's name)")
    p.set_defaults(func=run_to_lhotse)


def _fail(command: str, error: Exception) -> int:
    print(f"asr data {command}: error: {error}", file=sys.stderr)
    return 2


def run_from_lhotse(args: argparse.Namespace) -> int:
    from asr.datasets.lhotse_interop import LhotseMissing, from_lhotse

    try:
        n, skipped = from_lhotse(
            args.cuts, args.output, supervisions=args.supervisions, audio_dir=args.audio_dir,
            normalize=not args.no_normalize,
        )  # fmt: skip
    except (LhotseMissing, ValueError, FileNotFoundError, OSError) as e:
        return _fail("from-lhotse", e)
    print(f"{args.output}: {n} utterances" + (f", {len(skipped)} cuts skipped" if skipped else ""))
    return 0


def run_to_lhotse(args: argparse.Namespace) -> int:
    from asr.datasets.lhotse_interop import LhotseMissing, to_lhotse

    try:
        paths = to_lhotse(args.manifest, args.output_dir, name=args.name)
    except (LhotseMissing, ValueError, FileNotFoundError, OSError) as e:
        return _fail("to-lhotse", e)
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0
