"""Keep the utterances of a manifest whose sentences appear in none of a corpus's manifests.

    python recipes/synthetic/studies/unseen_sentences.py data/synthetic-multi-val99/test.jsonl \
        --corpus data/synthetic-multi -o data/synthetic-multi-val99/val.jsonl

A corpus rendered with another ``--seed`` draws its sentences from the same pool, so some of them were
trained on; this filter makes a selection set of unseen sentences (the LM text may still hold them: its
greedy figures are the clean ones). Audio paths stay as they are, so write the output beside the input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from asr.data.manifest import read_manifest, read_manifest_rows, write_manifest
from asr.errors import ManifestError

CORPUS_SPLITS = ("train", "dev", "test", "test_text")


def corpus_manifests(corpus: Path) -> list[Path]:
    """The corpus's split manifests that exist."""
    return [path for split in CORPUS_SPLITS if (path := corpus / f"{split}.jsonl").is_file()]


def seen_sentences(manifests: list[Path]) -> set[str]:
    """Every transcript in these manifests."""
    return {utt.text for path in manifests for utt in read_manifest(path)}


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
    try:
        for corpus in map(Path, args.corpus):
            manifests = corpus_manifests(corpus)
            if not manifests:
                print(f"error: {corpus} holds none of {', '.join(CORPUS_SPLITS)}.jsonl", file=sys.stderr)
                return 2
            seen |= seen_sentences(manifests)
        rows = read_manifest_rows(manifest)  # every field (engine, settings, warp) is written back unchanged
    except ManifestError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    keep = [row for row in rows if row["text"] not in seen]
    write_manifest(out, keep)
    print(f"{len(keep)} of {len(rows)} utterances have sentences in none of the corpora -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
