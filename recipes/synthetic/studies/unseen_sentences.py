"""Keep the utterances of a manifest whose sentences appear in none of a corpus's manifests.

    python recipes/synthetic/studies/unseen_sentences.py data/synthetic-multi-val99/test.jsonl \
        --corpus data/synthetic-multi -o data/synthetic-multi-val99/val.jsonl

A corpus rendered with another ``--seed`` draws its sentences from the same pool, so some of them were
trained on; this filter makes a selection set of unseen sentences (the LM text may still hold them: its
greedy figures are the clean ones). Audio paths stay as they are, so write the output beside the input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from asr.fileio import atomic_write

CORPUS_SPLITS = ("train", "dev", "test", "test_text")


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def seen_sentences(corpus: Path) -> set[str]:
    """Every transcript in the corpus's split manifests that exist."""
    return {
        row["text"]
        for split in CORPUS_SPLITS
        if (corpus / f"{split}.jsonl").is_file()
        for row in _rows(corpus / f"{split}.jsonl")
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("manifest")
    parser.add_argument("--corpus", required=True, action="append", help="corpus folder (repeatable)")
    parser.add_argument("-o", "--out", required=True)
    args = parser.parse_args(argv)
    manifest, out = Path(args.manifest), Path(args.out)
    if out.resolve().parent != manifest.resolve().parent:
        print("error: write the output beside the input (audio paths are relative to it)", file=sys.stderr)
        return 2
    seen: set[str] = set()
    for corpus in map(Path, args.corpus):
        if not any((corpus / f"{s}.jsonl").is_file() for s in CORPUS_SPLITS):
            print(f"error: {corpus} holds none of {', '.join(CORPUS_SPLITS)}.jsonl", file=sys.stderr)
            return 2
        seen |= seen_sentences(corpus)
    rows = _rows(manifest)
    keep = [row for row in rows if row["text"] not in seen]
    with atomic_write(out, "w") as f:
        f.writelines(json.dumps(row) + "\n" for row in keep)
    print(f"{len(keep)} of {len(rows)} utterances have sentences in none of the corpora -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
