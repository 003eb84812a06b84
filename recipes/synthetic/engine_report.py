"""WER/CER per engine from `asr evaluate`'s recogs file and the manifest it scored.

    python recipes/synthetic/engine_report.py --manifest data/synthetic-multi/test_text.jsonl \
        --recogs exp/synthetic-multi/recogs-test_text.txt [--recogs ...greedy.txt] [--json out.json]

Prints one row per engine (and per voice with --voices): utterances, WER %, CER %, for each recogs file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from asr.data.manifest import read_manifest_rows


def read_recogs(path: Path) -> dict[str, tuple[str, str]]:
    """id -> (reference, hypothesis) from a recogs-NAME.txt."""
    refs: dict[str, str] = {}
    hyps: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        uid, _, rest = line.partition(":\t")
        if rest.startswith("ref="):
            refs[uid] = rest[4:]
        elif rest.startswith("hyp="):
            hyps[uid] = rest[4:]
    return {uid: (refs[uid], hyps.get(uid, "")) for uid in refs}


def by_group(manifest: Path, recogs: Path, key: str = "engine") -> dict[str, dict[str, float]]:
    """group -> {"utterances", "wer", "cer"} (percent), groups being engines or speakers."""
    from asr.metrics import error_stats

    pairs = read_recogs(recogs)
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in read_manifest_rows(manifest):
        if row["id"] in pairs:
            groups[str(row.get(key, "espeak" if key == "engine" else ""))].append(pairs[row["id"]])
    out = {}
    for group in sorted(groups):
        refs, hyps = zip(*groups[group], strict=True)
        out[group] = {
            "utterances": len(refs),
            "wer": round(100 * error_stats(refs, hyps, unit="word").rate, 2),
            "cer": round(100 * error_stats(refs, hyps, unit="char").rate, 2),
        }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", required=True, type=Path)
    parser.add_argument("--recogs", required=True, type=Path, action="append", help="repeatable")
    parser.add_argument("--voices", action="store_true", help="rows per voice (speaker) instead of engine")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    key = "speaker" if args.voices else "engine"
    tables = {str(r): by_group(args.manifest, r, key) for r in args.recogs}
    print("\t".join([key, "utts"] + [f"{Path(r).stem} WER\tCER" for r in tables]))
    for group in sorted({g for t in tables.values() for g in t}):
        cells = [tables[r].get(group) for r in tables]
        n = next(c["utterances"] for c in cells if c)
        print(
            "\t".join([group, str(n)] + [f"{c['wer']:.2f}\t{c['cer']:.2f}" if c else "-\t-" for c in cells])
        )
    if args.json:
        args.json.write_text(json.dumps(tables, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
