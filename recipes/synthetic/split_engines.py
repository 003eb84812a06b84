"""Leave-one-engine-out splits of a multi-engine synthetic corpus.

    python recipes/synthetic/split_engines.py --corpus data/synthetic-multi --hold mbrola,festival \
        --out data/synthetic-multi/loeo-diphone
    python recipes/synthetic/split_engines.py --corpus data/synthetic-voices --fold accented \
        --out data/synthetic-voices/loeo-accented

Writes ``train.jsonl`` and ``dev.jsonl`` without any utterance of the held-out engines (or voices,
``--hold-voices engine:voice,...``), and ``test.jsonl`` with every utterance of those from the corpus's
unseen-sentence splits (dev and test_text): a model trained on the first two has never heard the
held-out voices nor these sentences. Engines that share recorded speakers must be held out together:
``mbrola`` (MBROLA through espeak-ng) and ``festival`` (Festival's MBROLA voices) render the same four
MBROLA databases. ``--fold NAME`` holds out one of the named folds of ``FOLDS`` (studies/loeo.sh).
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

# The leave-out folds of studies/loeo.sh: engines, and voices ("engine:voice", the manifests' speaker),
# held out of training together.
ACCENTED_HELD_OUT = (
    "accented:mb-de2-en", "accented:mb-de5-en", "accented:mb-fr4-en", "accented:mb-hu1-en",
    "accented:mb-ro1-en", "accented:mb-sw1-en",
)  # fmt: skip
FOLDS: dict[str, dict[str, tuple[str, ...]]] = {
    "diphone": {"engines": ("mbrola", "festival")},
    "pico": {"engines": ("pico",)},
    "rhvoice": {"engines": ("rhvoice",)},
    "piper": {"engines": ("piper",)},
    # Every neural engine at once: a model that never heard a neural voice.
    "neural": {"engines": ("kokoro", "hibari", "piper")},
    # Six of the twelve accented voices: three languages training never heard (Hungarian, Romanian,
    # Swedish) and three new speakers of languages it did (German, French); three female, three male.
    "accented": {"voices": ACCENTED_HELD_OUT},
}


def split_by_engine(
    corpus: Path, hold: Sequence[str], out: Path, max_train: int = 0, hold_voices: Sequence[str] = ()
) -> dict[str, dict]:
    """Write the three manifests; returns split -> {"utterances", "engines", "speakers"} counts.

    ``hold`` names engines, ``hold_voices`` speakers ("engine:voice"), held out of train and dev.
    ``max_train`` > 0 keeps only the first that many training utterances (a cheaper study)."""
    held, held_voices = set(hold), set(hold_voices)
    if not held and not held_voices:
        raise ValueError("nothing to hold out: name engines or voices")
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
    speakers = {r["speaker"] for rs in rows.values() for r in rs}
    if held_voices - speakers:
        raise ValueError(f"{corpus} has no utterances of voices {sorted(held_voices - speakers)}")
    keep = lambda r: r.get("engine", "espeak") not in held and r["speaker"] not in held_voices  # noqa: E731
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
    held_out = sorted(held) + sorted(held_voices)
    (out / "split.json").write_text(json.dumps({"held_out": held_out, **report}, indent=1) + "\n")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", required=True, type=Path, help="a prepared multi-engine corpus folder")
    parser.add_argument("--hold", default="", help="comma-separated engines to leave out of training")
    parser.add_argument(
        "--hold-voices", default="", help="comma-separated voices (engine:voice) to leave out of training"
    )
    parser.add_argument("--fold", choices=sorted(FOLDS), help="a named fold instead of --hold/--hold-voices")
    parser.add_argument("--out", required=True, type=Path, help="folder for train/dev/test.jsonl")
    parser.add_argument("--max-train", type=int, default=0, help="keep the first N training utterances")
    args = parser.parse_args(argv)
    hold = [e for e in args.hold.split(",") if e]
    voices = [v for v in args.hold_voices.split(",") if v]
    if args.fold:
        if hold or voices:
            parser.error("--fold replaces --hold and --hold-voices")
        hold, voices = list(FOLDS[args.fold].get("engines", ())), list(FOLDS[args.fold].get("voices", ()))
    try:
        report = split_by_engine(args.corpus, hold, args.out, args.max_train, voices)
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
