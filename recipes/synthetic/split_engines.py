"""Leave-one-engine-out splits of a multi-engine synthetic corpus.

    python recipes/synthetic/split_engines.py --corpus data/synthetic-multi --hold mbrola,festival \
        --out data/synthetic-multi/loeo-diphone

Writes ``train.jsonl`` and ``dev.jsonl`` without any utterance of the held-out engines, and ``test.jsonl``
with every utterance of those engines from the corpus's unseen-sentence splits (dev and test_text):
a model trained on the first two has never heard the held-out engines' voices nor these sentences.
Engines that share recorded speakers must be held out together: ``mbrola`` (MBROLA through espeak-ng)
and ``festival`` (Festival's MBROLA voices) render the same four MBROLA databases.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from asr.data.manifest import read_manifest_rows, rebase_rows, write_manifest

# Engines that share the speakers they were made from: leaving one out means leaving all out.
SHARED_SPEAKERS = ({"mbrola", "festival"},)


def split_by_engine(corpus: Path, hold: Sequence[str], out: Path, max_train: int = 0) -> dict[str, dict]:
    """Write the three manifests; returns split -> {"utterances", "engines", "speakers"} counts.

    ``max_train`` > 0 keeps only the first that many training utterances (a cheaper study)."""
    held = set(hold)
    for group in SHARED_SPEAKERS:
        if held & group and not group <= held:
            raise ValueError(f"engines {sorted(group)} share speakers: hold them out together")
    rows = {s: read_manifest_rows(corpus / f"{s}.jsonl") for s in ("train", "dev", "test_text")}
    engines = {r.get("engine", "espeak") for rs in rows.values() for r in rs}
    missing = held - engines
    if missing:
        raise ValueError(
            f"{corpus} has no utterances of engines {sorted(missing)} (it has {sorted(engines)})"
        )
    keep = lambda r: r.get("engine", "espeak") not in held  # noqa: E731
    splits = {
        "train": [r for r in rows["train"] if keep(r)][: max_train or None],
        "dev": [r for r in rows["dev"] if keep(r)],
        "test": [r for r in rows["dev"] + rows["test_text"] if not keep(r)],
    }
    out.mkdir(parents=True, exist_ok=True)
    report = {}
    for name, split_rows in splits.items():
        write_manifest(out / f"{name}.jsonl", rebase_rows(split_rows, corpus, out))
        report[name] = {
            "utterances": len(split_rows),
            "hours": round(sum(r["duration"] for r in split_rows) / 3600, 3),
            "engines": dict(sorted(Counter(r.get("engine", "espeak") for r in split_rows).items())),
            "speakers": len({r["speaker"] for r in split_rows}),
        }
    train_speakers = {r["speaker"] for r in splits["train"] + splits["dev"]}
    shared = train_speakers & {r["speaker"] for r in splits["test"]}
    if shared:  # cannot happen with engine-prefixed speakers; checked because it is the point
        raise ValueError(f"voices in both train and test: {sorted(shared)}")
    (out / "split.json").write_text(json.dumps({"held_out": sorted(held), **report}, indent=1) + "\n")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", required=True, type=Path, help="a prepared multi-engine corpus folder")
    parser.add_argument("--hold", required=True, help="comma-separated engines to leave out of training")
    parser.add_argument("--out", required=True, type=Path, help="folder for train/dev/test.jsonl")
    parser.add_argument("--max-train", type=int, default=0, help="keep the first N training utterances")
    args = parser.parse_args(argv)
    try:
        report = split_by_engine(
            args.corpus, [e for e in args.hold.split(",") if e], args.out, args.max_train
        )
    except (ValueError, FileNotFoundError) as e:
        print(f"split_engines.py: error: {e}", file=sys.stderr)
        return 2
    for name, r in report.items():
        print(
            f"{name:6s} {r['utterances']:6d} utt {r['hours']:6.2f} h {r['speakers']:4d} voices  {r['engines']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
