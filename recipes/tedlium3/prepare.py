"""TED-LIUM 3 (OpenSLR SLR51): download, then cut the talks into utterances with their stm segments.

    python recipes/tedlium3/prepare.py download --dir data/tedlium3 [--mirror BASE_URL]
    python recipes/tedlium3/prepare.py --config recipes/tedlium3/config.toml prepare \
        --corpus-dir data/tedlium3/TEDLIUM_release-3 --out data/tedlium3 [--jobs 4]

The archive unpacks to ``TEDLIUM_release-3/`` with ``data/{sph,stm}/<talk>.{sph,stm}`` (all 2351 training
talks, 452 h) and ``legacy/{train,dev,test}/{sph,stm}/`` (the release-2 split, whose dev and test sets
are the standard ones). ``[corpus] splits`` maps each split to its folder; the default trains on
``data/`` and evaluates on ``legacy/dev`` and ``legacy/test``, as Kaldi's s5_r3 recipe does.

An stm line is ``talk channel speaker start end <label> transcript``. Segments marked
``ignore_time_segment_in_scoring`` are dropped; ``<unk>`` is removed (``[corpus] unk = "remove"``) or the
whole segment dropped (``"skip"``); detached contractions are re-attached (``it 's`` → ``it's``, ``do n't`` → ``don't``); noise
marks (``{COUGH}``, ``[laughter]``) and alternate-pronunciation tags (``(2)``) are removed. Each kept
segment is cut from the 16 kHz sph file into ``<out>/wav/<split>/<talk>/<id>.flac``, so training reads
seconds of audio, not a whole talk, per utterance.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from asr.cli import recipe as recipe_cli
from asr.datasets import recipe
from asr.datasets.download import Resource
from asr.datasets.prepare import Item

log = logging.getLogger("asr.recipes.tedlium3")

RECIPE_VERSION = 1
RESOURCES = [
    Resource(
        name="TEDLIUM_release-3.tgz",
        url="https://www.openslr.org/resources/51/TEDLIUM_release-3.tgz",
        # as verified by torchaudio.datasets.TEDLIUM (release3); ~51 GB
        sha256="ad1e454d14d1ad550bc2564c462d87c7a7ec83d4dc2b9210f22ab4973b9eccdb",
        approx_size=51_000_000_000,  # "51G" on https://www.openslr.org/51/: the disk-space check only
    )
]


@dataclass(frozen=True)
class TedliumConfig:
    """The ``[corpus]`` table: each split's folder under the corpus, and what ``<unk>`` does."""

    train_dir: str = "data"
    dev_dir: str = "legacy/dev"
    test_dir: str = "legacy/test"
    unk: str = "remove"  # "remove" the word, or "skip" the segment
    min_duration: float = 0.5
    max_duration: float = 30.0

    def __post_init__(self) -> None:
        if self.unk not in ("remove", "skip"):
            raise ValueError(f'[corpus] unk = {self.unk!r}: expected "remove" or "skip"')


_NOISE = re.compile(r"\{[^}]*\}|\[[^\]]*\]|\(\d+\)")
# TED-LIUM splits contractions treebank-style: "it 's", "do n't".
_DETACHED = re.compile(r" (?='[a-zA-Z]|n't\b)")
IGNORE = "ignore_time_segment_in_scoring"


def clean_transcript(text: str, unk: str = "remove") -> str | None:
    """TED-LIUM stm text → plain words; None when the segment is to be dropped."""
    words = text.split()
    if not words or IGNORE in words:
        return None
    if "<unk>" in words and unk == "skip":
        return None
    text = " ".join(w for w in words if w != "<unk>")
    text = _NOISE.sub(" ", text)
    return _DETACHED.sub("", " " + " ".join(text.split())).strip()


def read_stm(path: Path, sph_dir: Path, out: Path, split: str, unk: str) -> tuple[list[Item], int]:
    """(items, segments dropped by the stm rules) of one talk."""
    items, dropped = [], 0
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip() or line.startswith(";;"):
            continue
        fields = line.split(maxsplit=6)
        if len(fields) < 5:
            log.warning("%s:%d: not an stm line, skipped: %r", path, number, line)
            continue
        talk, _channel, speaker, start, end = fields[:5]
        rest = fields[5:]
        if rest and rest[0].startswith("<") and rest[0].endswith(">"):
            rest = rest[1:]
        text = clean_transcript(" ".join(rest), unk)
        if text is None:
            dropped += 1
            continue
        try:
            t0, t1 = float(start), float(end)
        except ValueError:  # one bad line is skipped, never the end of the run
            log.warning("%s:%d: start/end are not numbers, skipped: %r", path, number, line)
            continue
        utt = f"{talk}-{round(t0 * 100):07d}-{round(t1 * 100):07d}"
        items.append(
            Item(
                id=utt,
                audio=sph_dir / f"{talk}.sph",
                text=text,
                speaker=speaker,
                target=out / "wav" / split / talk / f"{utt}.flac",
                start=t0,
                end=t1,
            )
        )
    return items, dropped


def list_split(corpus: Path, folder: str, out: Path, split: str, unk: str) -> list[Item]:
    base = corpus / folder
    stm_dir, sph_dir = base / "stm", base / "sph"
    if not stm_dir.is_dir():
        raise FileNotFoundError(f"{stm_dir}: missing; is {corpus} the extracted TEDLIUM_release-3/ folder?")
    items, dropped = [], 0
    for stm in sorted(stm_dir.glob("*.stm")):
        talk_items, talk_dropped = read_stm(stm, sph_dir, out, split, unk)
        items.extend(talk_items)
        dropped += talk_dropped
    log.info("%s: %d segments from %s (%d dropped: ignore_time_segment_in_scoring / <unk>)",
             split, len(items), base, dropped)  # fmt: skip
    return items


def splits(corpus: Path, out: Path, cfg: TedliumConfig) -> recipe.Listings:
    """Each split's talks, from the folder ``[corpus]`` names for it."""
    folders = {"train": cfg.train_dir, "dev": cfg.dev_dir, "test": cfg.test_dir}
    return {s: (lambda s=s: list_split(corpus, folders[s], out, s, cfg.unk)) for s in folders}


prepare_tedlium3 = recipe.corpus_preparer(
    TedliumConfig, RECIPE_VERSION, splits,
    doc="Cut the talks of ``TEDLIUM_release-3/`` into ``out_dir``'s utterances (None: a split up to date).",
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    return recipe_cli.corpus_parser(
        "TED-LIUM 3 recipe: download, cut stm segments into utterances",
        name="TED-LIUM 3",
        data_dir="data/tedlium3",
        corpus="TEDLIUM_release-3",
        resources=lambda args: RESOURCES,
        download_help="download and extract TEDLIUM_release-3.tgz (~51 GB)",
        prepare=prepare_tedlium3,
        config_cls=TedliumConfig,
        prepare_help="cut segments and write manifests",
    ).parser


main = recipe_cli.recipe_main(build_parser)


if __name__ == "__main__":
    sys.exit(main())
