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

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from asr.cli import recipe as recipe_cli
from asr.datasets import recipe
from asr.datasets.download import Resource
from asr.datasets.prepare import Item

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


@dataclass(frozen=True)
class LJSpeechConfig:
    """The ``[corpus]`` table: dev and test are whole chapters (id prefixes)."""

    dev_chapters: tuple[str, ...] = ("LJ001",)
    test_chapters: tuple[str, ...] = ("LJ002",)
    min_duration: float = 0.5
    max_duration: float = 15.0

    def __post_init__(self) -> None:
        overlap = sorted(set(self.dev_chapters) & set(self.test_chapters))
        if overlap:
            raise ValueError(f"[corpus] dev_chapters and test_chapters overlap: {overlap}")


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


def splits(corpus: Path, out: Path, cfg: LJSpeechConfig) -> recipe.Listings:
    """dev and test: whole chapters; train: the rest."""
    dev, test = cfg.dev_chapters, cfg.test_chapters

    def part(split: str) -> list[Item]:
        items = read_metadata(corpus)
        chapter = {"dev": dev, "test": test}
        if split == "train":
            return [i for i in items if not i.id.startswith(dev + test)]
        return [i for i in items if i.id.startswith(chapter[split])]

    return {s: (lambda s=s: part(s)) for s in ("train", "dev", "test")}


prepare_ljspeech = recipe.corpus_preparer(
    LJSpeechConfig, RECIPE_VERSION, splits,
    doc="Write ``out_dir``'s manifests from the extracted ``LJSpeech-1.1/`` (None: a split up to date).",
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    return recipe_cli.corpus_parser(
        "LJ Speech recipe: download and prepare manifests",
        name="LJ Speech",
        data_dir="data/ljspeech",
        corpus="LJSpeech-1.1",
        resources=lambda args: RESOURCES,
        download_help="download and extract LJSpeech-1.1.tar.bz2 (2.6 GB)",
        prepare=prepare_ljspeech,
        config_cls=LJSpeechConfig,
    ).parser


main = recipe_cli.recipe_main(build_parser)


if __name__ == "__main__":
    sys.exit(main())
