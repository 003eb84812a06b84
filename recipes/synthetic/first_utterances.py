"""The training manifest that ``prepare.py --num-train N`` writes, taken from a corpus rendered larger.

    python recipes/synthetic/first_utterances.py data/synthetic-multi --num-train 4500 \\
        -o data/synthetic-multi/train.first4500.jsonl

prepare.py plans the corpus sentence by sentence from the seed (voice_plan.py): training sentence J gets
the same voices, settings and warps whatever ``num_train`` is, and its utterances the ids
``train-JJJJJ[rR]-HASH`` (R counts the ``train_repeats`` readings of a sentence). A corpus rendered with
``--num-train M`` therefore holds every utterance of the same config rendered with N < M: the first N
(sentence J, reading R is utterance J * train_repeats + R), as long as N is a whole number of sentences
(a multiple of ``train_repeats``; a sentence cut short draws its voices differently). Clips that failed or
that the quality gate dropped are missing from both alike. ``recipes/synthetic/rebuild_default_model.sh``
renders each preset once, at the largest size a stage needs, and takes each stage's share with this.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from asr.data.manifest import read_manifest_rows, rebase_rows, write_manifest
from asr.errors import ManifestError

TRAIN_ID = re.compile(r"train-(?P<sentence>\d+)(?:r(?P<reading>\d+))?-[0-9a-f]+")


def first_utterances(corpus: Path, num_train: int) -> list[dict]:
    """The rows of ``corpus``/train.jsonl that a render of the same config with ``num_train`` would list."""
    corpus = Path(corpus)
    config = json.loads((corpus / "corpus_info.json").read_text(encoding="utf-8"))["config"]
    rendered, repeats = int(config["num_train"]), int(config.get("train_repeats", 1))
    if num_train < 1 or num_train > rendered:
        raise ValueError(f"{corpus} was rendered with num_train {rendered}: cannot take {num_train} of it")
    if num_train % repeats:
        raise ValueError(
            f"num_train {num_train} is not a multiple of train_repeats {repeats}: its last sentence's "
            "voices are drawn differently, so no larger render holds that corpus"
        )
    kept = []
    for row in read_manifest_rows(corpus / "train.jsonl"):
        m = TRAIN_ID.fullmatch(str(row.get("id", "")))
        if m is None:
            raise ValueError(f"{corpus}/train.jsonl: {row.get('id')!r} is not a prepare.py training id")
        if int(m["sentence"]) * repeats + int(m["reading"] or 0) < num_train:
            kept.append(row)
    return kept


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="a prepare.py folder (train.jsonl, corpus_info.json)")
    parser.add_argument("--num-train", type=int, required=True, help="the smaller render's num_train")
    parser.add_argument("-o", "--out", required=True, type=Path, help="the manifest to write")
    args = parser.parse_args(argv)
    try:
        rows = first_utterances(args.corpus, args.num_train)
    except (ManifestError, ValueError, OSError, KeyError) as e:
        print(f"first_utterances.py: error: {e}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_manifest(args.out, rebase_rows(rows, args.corpus, args.out.parent))
    hours = sum(float(r["duration"]) for r in rows) / 3600
    print(f"-> {args.out}: {len(rows)} utterances, {hours:.2f} h (the first {args.num_train} planned)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
