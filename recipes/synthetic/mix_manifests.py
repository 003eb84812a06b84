"""One training manifest from several corpora's manifests, e.g. the multi-engine corpus + espeak-ng.

    python recipes/synthetic/mix_manifests.py -o data/synthetic-multi/train_stage9.jsonl \
        data/synthetic-multi/train.jsonl data/synthetic-full-4k/train.jsonl

Relative audio paths are rebased onto the output's folder (a manifest resolves audio against its own
folder), every other field is kept. ``--exclude M`` drops the clips that manifest ``M`` already lists
(the clips an earlier stage trained on, say). An utterance id or an audio file that two inputs share is
refused: the result would train on one clip twice or report two clips under one name.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from asr.data.manifest import read_manifest_rows, rebase_rows, write_manifest
from asr.errors import ManifestError


def _audio_key(manifest_dir: Path, audio: str) -> str:
    """A clip's identity: its audio file's absolute, normalised path."""
    path = Path(audio)
    return os.path.normpath(path if path.is_absolute() else Path.cwd() / manifest_dir / path)


def mix_manifests(
    inputs: Sequence[Path], out: Path, exclude: Sequence[Path] = ()
) -> list[dict[str, float | int | str]]:
    """Write ``out`` from ``inputs`` minus the clips of ``exclude``; returns one summary row per input."""
    out = Path(out)
    if any(out.resolve() == Path(p).resolve() for p in inputs):
        raise ValueError(f"{out} is one of the inputs: write the mix to a new file")
    excluded = {
        _audio_key(Path(path).parent, row["audio"]) for path in exclude for row in read_manifest_rows(path)
    }
    mixed: list[dict] = []
    ids: dict[str, Path] = {}
    clips: dict[str, Path] = {}
    summary = []
    for path in map(Path, inputs):
        rows = read_manifest_rows(path)
        kept = []
        for number, row in enumerate(rows, 1):
            if not {"id", "audio", "duration"} <= row.keys():
                raise ValueError(f"{path}: row {number} lacks one of id, audio, duration")
            clip = _audio_key(path.parent, row["audio"])
            if clip in excluded:
                continue
            if row["id"] in ids:
                raise ValueError(f"utterance id {row['id']!r} is in both {ids[row['id']]} and {path}")
            if clip in clips:
                raise ValueError(f"audio {row['audio']!r} of {path} is already listed by {clips[clip]}")
            ids[row["id"]], clips[clip] = path, path
            kept.append(row)
        mixed += rebase_rows(kept, path.parent, out.parent)
        engines = Counter(r.get("engine", "espeak") for r in kept)
        summary.append(
            {
                "manifest": str(path),
                "utterances": len(kept),
                "excluded": len(rows) - len(kept),
                "hours": sum(float(r["duration"]) for r in kept) / 3600,
                "engines": ", ".join(f"{e} {n}" for e, n in sorted(engines.items())),
            }
        )
    if not mixed:
        raise ValueError("nothing to write: every utterance was excluded")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_manifest(out, mixed)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("manifests", nargs="+", type=Path, help="input manifests, in order")
    parser.add_argument("-o", "--out", required=True, type=Path, help="the mixed manifest to write")
    parser.add_argument(
        "--exclude",
        action="append",
        type=Path,
        default=[],
        help="drop the clips this manifest lists (repeatable)",
    )
    args = parser.parse_args(argv)
    try:
        summary = mix_manifests(args.manifests, args.out, args.exclude)
    except (ManifestError, ValueError) as e:
        print(f"mix_manifests.py: error: {e}", file=sys.stderr)
        return 2
    for row in summary:
        print(
            f"{row['manifest']}: {row['utterances']} utterances ({row['excluded']} excluded), "
            f"{row['hours']:.2f} h  [{row['engines']}]"
        )
    total_utts = sum(int(r["utterances"]) for r in summary)
    total_hours = sum(float(r["hours"]) for r in summary)
    print(f"-> {args.out}: {total_utts} utterances, {total_hours:.2f} h")
    return 0


if __name__ == "__main__":
    sys.exit(main())
