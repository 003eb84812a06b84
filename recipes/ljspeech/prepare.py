"""LJ Speech 1.1 (keithito.com): download and prepare manifests.

    python recipes/ljspeech/prepare.py download --dir data/ljspeech [--mirror BASE_URL]
    python recipes/ljspeech/prepare.py --config recipes/ljspeech/config.toml prepare \
        --corpus-dir data/ljspeech/LJSpeech-1.1 --out data/ljspeech [--jobs 2]

The archive unpacks to ``LJSpeech-1.1/metadata.csv`` (``id|transcription|normalized transcription``,
pipe-separated, no quoting) and ``LJSpeech-1.1/wavs/<id>.wav`` (22.05 kHz mono 16-bit; the loader
resamples to 16 kHz). The normalized column (numbers and abbreviations spelled out) is used, the raw
one where it is empty. LJ Speech has no official ASR split: dev and test are whole source chapters (the
``LJ0NN`` prefix of the id, ``[corpus] dev_chapters``/``test_chapters``), so no passage is shared.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from asr.datasets.download import Resource, add_download_arguments, fetch
from asr.datasets.prepare import Item, fingerprint, run_splits, write_text_corpus
from asr.datasets.recipe import add_prepare_arguments, corpus_table, main_wrapper, recipe_parser

log = logging.getLogger("asr.recipes.ljspeech")

RECIPE_VERSION = 1
RESOURCES = [
    Resource(
        name="LJSpeech-1.1.tar.bz2",
        url="https://data.keithito.com/data/speech/LJSpeech-1.1.tar.bz2",
        sha256="be1a30453f28eb8dd26af4101ae40cbf2c50413b1bb21936cbcdc6fae3de8aa5",
        size=2_748_572_632,
    )
]
DEFAULTS = {"dev_chapters": ["LJ001"], "test_chapters": ["LJ002"], "min_duration": 0.5, "max_duration": 15.0}


def read_metadata(corpus: Path) -> list[Item]:
    """Items of ``metadata.csv`` (speaker ``LJ``)."""
    path = corpus / "metadata.csv"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: missing; is {corpus} the extracted LJSpeech-1.1/ folder? (run stage 0)"
        )
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) < 2:
            log.warning("%s:%d: expected id|text|normalized text, skipped: %r", path, number, line)
            continue
        text = fields[2] if len(fields) > 2 and fields[2].strip() else fields[1]
        items.append(Item(id=fields[0], audio=corpus / "wavs" / f"{fields[0]}.wav", text=text, speaker="LJ"))
    return items


def cmd_download(args) -> int:  # noqa: ANN001
    fetch(
        RESOURCES, Path(args.dir) / "download", Path(args.dir), mirror=args.mirror,
        remove_archive=args.remove_archive, retries=args.retries, progress=not args.no_progress,
    )  # fmt: skip
    print(f"LJ Speech is in {Path(args.dir) / 'LJSpeech-1.1'}")
    return 0


def cmd_prepare(args) -> int:  # noqa: ANN001
    cfg = corpus_table(args.config, DEFAULTS)
    corpus, out = Path(args.corpus_dir), Path(args.out)
    key = fingerprint(RECIPE_VERSION, cfg, str(corpus.resolve())) + ("-forced" if args.force else "")
    dev, test = tuple(cfg["dev_chapters"]), tuple(cfg["test_chapters"])
    if set(dev) & set(test):
        raise ValueError(f"[corpus] dev_chapters and test_chapters overlap: {sorted(set(dev) & set(test))}")

    def part(split: str) -> list[Item]:
        items = read_metadata(corpus)
        chapter = {"dev": dev, "test": test}
        if split == "train":
            return [i for i in items if not i.id.startswith(dev + test)]
        return [i for i in items if i.id.startswith(chapter[split])]

    results = run_splits(
        {s: (lambda s=s: part(s)) for s in ("train", "dev", "test")},
        out, key, jobs=args.jobs, progress=not args.no_progress,
        min_duration=cfg["min_duration"], max_duration=cfg["max_duration"],
    )  # fmt: skip
    if results["train"] is not None:
        write_text_corpus(results["train"].rows, out / "train_text.txt")
    for split, result in results.items():
        print(result.summary() if result else f"{split}: up to date")
    return 0


def build_parser():  # noqa: ANN201
    parser, sub = recipe_parser("LJ Speech recipe: download and prepare manifests")
    p = sub.add_parser("download", help="download and extract LJSpeech-1.1.tar.bz2 (2.6 GB)")
    p.add_argument("--dir", default="data/ljspeech")
    add_download_arguments(p)
    p.set_defaults(func=cmd_download)
    p = sub.add_parser("prepare", help="write manifests")
    p.add_argument("--corpus-dir", default="data/ljspeech/LJSpeech-1.1")
    p.add_argument("--out", default="data/ljspeech")
    add_prepare_arguments(p)
    p.set_defaults(func=cmd_prepare)
    return parser


if __name__ == "__main__":
    sys.exit(main_wrapper(build_parser()))
