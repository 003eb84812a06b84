"""LibriSpeech (OpenSLR SLR12) and its official LM resources (SLR11): download, prepare, LM files.

    python recipes/librispeech/prepare.py --config recipes/librispeech/config.toml download --dir data/librispeech
    python recipes/librispeech/prepare.py --config recipes/librispeech/config.toml prepare \
        --corpus-dir data/librispeech/LibriSpeech --out data/librispeech [--jobs 4]
    python recipes/librispeech/prepare.py --config recipes/librispeech/config.toml lm --dir data/librispeech

The archives unpack to ``LibriSpeech/<split>/<speaker>/<chapter>/<speaker>-<chapter>-<n>.flac`` with one
``<speaker>-<chapter>.trans.txt`` per chapter (``<utterance id> UPPER CASE TEXT`` lines). ``prepare``
writes ``<split>.jsonl`` for each split in ``[corpus] splits`` plus ``train.jsonl``, the union of
``[corpus] train_splits``, and ``train_text.txt``. ``lm`` fetches the official ARPA model and word list
from SLR11 and writes lower-cased copies the decoder reads: ``lm/<name>.arpa`` and ``lm/<name>.words.txt``
(picked up as the lexicon by ``--lm``), plus the official pronunciation lexicon.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asr.cli import recipe as recipe_cli
from asr.config import load_toml
from asr.data.manifest import read_manifest_rows
from asr.datasets import recipe
from asr.datasets.download import Resource, fetch
from asr.datasets.prepare import Item, PrepareResult, write_text_corpus
from asr.fileio import atomic_write

log = logging.getLogger("asr.recipes.librispeech")

RECIPE_VERSION = 1
BASE = "https://www.openslr.org/resources/12/"
LM_BASE = "https://www.openslr.org/resources/11/"
# sha256 of each archive (as verified by torchaudio.datasets.LIBRISPEECH) and its size in bytes where
# we know it (OpenSLR publishes md5s on https://www.openslr.org/12/; dev-clean's is
# 42e2234ba48799c1f50f24a7926300a1).
SPLITS = {
    "dev-clean": "76f87d090650617fca0cac8f88b9416e0ebf80350acb97b343a85fa903728ab3",
    "dev-other": "12661c48e8c3fe1de2c1caa4c3e135193bfb1811584f11f569dd12645aa84365",
    "test-clean": "39fde525e59672dc6d1551919b1478f724438a95aa55f874b576be21967e6c23",
    "test-other": "d09c181bba5cf717b3dee7d4d592af11a3ee3a09e08ae025c5506f6ebe961c29",
    "train-clean-100": "d4ddd1d5a6ab303066f14971d768ee43278a5f2a0aa43dc716b0e64ecbbbf6e2",
    "train-clean-360": "146a56496217e96c14334a160df97fffedd6e0a04e66b9c5af0d40be3c792ecf",
    "train-other-500": "ddb22f27f96ec163645d53215559df6aa36515f26e01dd70798188350adcb6d2",
}
SIZES = {"dev-clean": 337_926_286}
# Approximate archive sizes (rounded, as the OpenSLR pages list them): for the disk-space check only.
APPROX_SIZES = {
    "dev-clean": 337_926_286, "dev-other": 314_000_000, "test-clean": 346_000_000, "test-other": 328_000_000,
    "train-clean-100": 6_300_000_000, "train-clean-360": 23_000_000_000, "train-other-500": 30_000_000_000,
}  # fmt: skip
# SLR11: no checksums we could confirm; downloads are checked for completeness only.
LM_FILES = (
    "3-gram.arpa.gz",
    "3-gram.pruned.1e-7.arpa.gz",
    "3-gram.pruned.3e-7.arpa.gz",
    "4-gram.arpa.gz",
    "librispeech-vocab.txt",
    "librispeech-lexicon.txt",
    "librispeech-lm-norm.txt.gz",
)


@dataclass(frozen=True)
class LibriSpeechConfig:
    """The ``[corpus]`` table: the splits to fetch and prepare, and those whose union is train.jsonl."""

    splits: tuple[str, ...] = tuple(SPLITS)
    train_splits: tuple[str, ...] = ("train-clean-100", "train-clean-360", "train-other-500")
    min_duration: float = 0.5
    max_duration: float = 35.0


LM_DEFAULTS = {"arpa": "3-gram.pruned.1e-7.arpa.gz"}
LM_APPROX_SIZES = {  # rounded, as https://www.openslr.org/11/ lists them: for the disk-space check only
    "3-gram.arpa.gz": 759_000_000, "3-gram.pruned.1e-7.arpa.gz": 34_000_000,
    "3-gram.pruned.3e-7.arpa.gz": 13_000_000, "4-gram.arpa.gz": 1_300_000_000,
    "librispeech-vocab.txt": 1_700_000, "librispeech-lexicon.txt": 5_300_000,
    "librispeech-lm-norm.txt.gz": 1_400_000_000,
}  # fmt: skip


def split_resource(split: str) -> Resource:
    if split not in SPLITS:
        raise ValueError(f"unknown LibriSpeech split {split!r}; known: {', '.join(SPLITS)}")
    return Resource(
        f"{split}.tar.gz", BASE + f"{split}.tar.gz", sha256=SPLITS[split], size=SIZES.get(split),
        approx_size=APPROX_SIZES[split],
    )  # fmt: skip


def lm_resource(name: str) -> Resource:
    """One SLR11 file (no checksum we could confirm: checked for completeness only)."""
    return Resource(name, LM_BASE + name, extract=False, approx_size=LM_APPROX_SIZES[name])


def list_split(corpus: Path, split: str) -> list[Item]:
    """Every utterance of ``corpus/<split>`` listed in a ``*.trans.txt`` file."""
    folder = corpus / split
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder}: missing; run stage 0 (download) or pass --corpus-dir LibriSpeech/"
        )
    items = []
    for trans in sorted(folder.glob("*/*/*.trans.txt")):
        for line in trans.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            utt, _, text = line.strip().partition(" ")
            items.append(
                Item(id=utt, audio=trans.parent / f"{utt}.flac", text=text, speaker=utt.split("-")[0])
            )
    return items


def prepare_librispeech(
    corpus_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    cfg: LibriSpeechConfig | None = None,
    splits: list[str] | None = None,
    **options: Any,
) -> dict[str, PrepareResult | None]:
    """Write ``<split>.jsonl`` for ``splits`` (default ``[corpus] splits``) and train.jsonl, the union of
    the ``train_splits`` among them, with ``train_text.txt`` (None: a split up to date)."""
    cfg = cfg or LibriSpeechConfig()
    corpus, out = Path(corpus_dir), Path(out_dir)
    splits = list(splits or cfg.splits)
    listings = {s: (lambda s=s: list_split(corpus, s)) for s in splits}
    key = (RECIPE_VERSION, str(corpus.resolve()))
    results = recipe.prepare_corpus(listings, out, cfg, key, **options, text_split=None)
    train = [s for s in cfg.train_splits if s in splits]
    if train and (any(results[s] is not None for s in train) or not (out / "train.jsonl").exists()):
        from asr.data.manifest import write_manifest

        rows = []
        for s in train:
            rows.extend(read_manifest_rows(out / f"{s}.jsonl"))
        write_manifest(out / "train.jsonl", rows)
        write_text_corpus(rows, out / "train_text.txt")
        log.info("train.jsonl: %d utterances from %s", len(rows), ", ".join(train))
    return results


def lowercase_file(src: Path, dst: Path, first_column: bool = False) -> None:
    """Copy ``src`` (plain or .gz) to ``dst`` lower-cased (only the first column with ``first_column``)."""
    opener = gzip.open if src.suffix == ".gz" else open
    with opener(src, "rt", encoding="utf-8") as fin, atomic_write(dst, durable=False) as fout:
        for line in fin:
            if first_column:
                word = line.split(maxsplit=1)[0] if line.strip() else ""
                if word:
                    fout.write(word.lower() + "\n")
            else:
                fout.write(line.lower())


def cmd_lm(args: argparse.Namespace) -> int:
    lm_cfg = {**LM_DEFAULTS, **(load_toml(args.config).get("lm", {}) if args.config else {})}
    arpa_gz = lm_cfg["arpa"]
    if arpa_gz not in LM_FILES:
        raise ValueError(f"[lm] arpa = {arpa_gz!r}: expected one of {', '.join(LM_FILES[:4])}")
    wanted = [arpa_gz, "librispeech-vocab.txt", "librispeech-lexicon.txt"]
    lm_dir = Path(args.dir) / "lm"
    fetch(
        [lm_resource(name) for name in wanted], lm_dir, mirror=args.mirror,
        retries=args.retries, progress=not args.no_progress,
    )  # fmt: skip
    stem = arpa_gz.removesuffix(".arpa.gz")
    arpa, words = lm_dir / f"{stem}.arpa", lm_dir / f"{stem}.words.txt"
    if not arpa.exists():
        log.info("lower-casing %s into %s", arpa_gz, arpa)
        lowercase_file(lm_dir / arpa_gz, arpa)
    if not words.exists():
        lowercase_file(lm_dir / "librispeech-vocab.txt", words, first_column=True)
    print(f"LM: {arpa}\nwords (lexicon for the decoder): {words}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    def resources(args: argparse.Namespace) -> list[Resource]:
        splits = args.splits or recipe.read_corpus_config(LibriSpeechConfig, args.config).splits
        return [split_resource(s) for s in splits]

    cli = recipe_cli.corpus_parser(
        "LibriSpeech recipe: download, prepare manifests, official LM",
        name="LibriSpeech",
        data_dir="data/librispeech",
        corpus="LibriSpeech",
        resources=resources,
        download_help="download and extract the splits (default: [corpus] splits)",
        prepare=prepare_librispeech,
        config_cls=LibriSpeechConfig,
        passthrough=("splits",),
    )
    for p in (cli.download, cli.prepare):
        p.add_argument("--splits", nargs="+", choices=list(SPLITS))
    p = cli.sub.add_parser("lm", help="official ARPA LM + word list from OpenSLR SLR11, lower-cased")
    p.add_argument("--dir", default="data/librispeech", help="files go to DIR/lm")
    recipe_cli.add_download_arguments(p)
    p.set_defaults(func=cmd_lm)
    return cli.parser


main = recipe_cli.recipe_main(build_parser)


if __name__ == "__main__":
    sys.exit(main())
