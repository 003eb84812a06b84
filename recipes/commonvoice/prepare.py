"""Mozilla Common Voice (English): unpack a release you downloaded, and prepare manifests.

Common Voice's terms need a click on https://commonvoice.mozilla.org/datasets (or
https://datacollective.mozillafoundation.org), so this recipe never downloads it: download the English
tarball yourself, then

    python recipes/commonvoice/prepare.py download --archive ~/Downloads/cv-corpus-17.0-2024-03-15-en.tar.gz \
        --dir data/commonvoice           # safe extraction; or extract it yourself
    python recipes/commonvoice/prepare.py --config recipes/commonvoice/config.toml prepare \
        --cv-dir data/commonvoice/cv-corpus-17.0-2024-03-15/en --out data/commonvoice [--jobs 4]

A release's language folder holds ``train.tsv``, ``dev.tsv``, ``test.tsv`` (tab-separated with a header:
``client_id path sentence up_votes down_votes age gender accents ...``), ``clips/<path>`` (48 kHz mp3) and,
in newer releases, ``clip_durations.tsv`` (``clip<TAB>duration[ms]``). Durations come from that file when
present; otherwise from each mp3's header. Either way every clip is decoded once at prepare time
(``[corpus] verify_audio``, on by default, in parallel with ``--jobs``), so a clip that does not decode is
skipped and listed in ``<split>.report.json`` now instead of failing a batch in training. The mp3 files
are used in place (the loader decodes mp3 with libsndfile); ``speaker`` is the ``client_id``.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from asr.cli import recipe as recipe_cli
from asr.datasets import recipe
from asr.datasets.download import extract
from asr.datasets.prepare import Item

log = logging.getLogger("asr.recipes.commonvoice")

RECIPE_VERSION = 2  # 2: clips decoded at prepare time


@dataclass(frozen=True)
class CommonVoiceConfig:
    """The ``[corpus]`` table."""

    splits: tuple[str, ...] = ("train", "dev", "test")
    min_duration: float = 0.5
    max_duration: float = 20.0
    verify_audio: bool = True  # decode every clip once: corrupt ones are reported by prepare, not training


HOW_TO_DOWNLOAD = (
    "Common Voice needs you to accept its terms: download the English release from "
    "https://commonvoice.mozilla.org/datasets, then pass the tarball with --archive (or extract it and "
    "pass the language folder, e.g. cv-corpus-17.0-2024-03-15/en, to prepare --cv-dir)."
)

csv.field_size_limit(1 << 24)


def read_durations(cv_dir: Path) -> dict[str, float]:
    """``clip file name -> seconds`` from ``clip_durations.tsv`` (empty when the release lacks it)."""
    path = cv_dir / "clip_durations.tsv"
    if not path.is_file():
        return {}
    out = {}
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) >= 2 and row[1].strip().isdigit():
                out[row[0]] = int(row[1]) / 1000
    return out


def read_split(cv_dir: Path, split: str, durations: dict[str, float], verify: bool = True) -> list[Item]:
    path = cv_dir / f"{split}.tsv"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: missing; --cv-dir must be a release's language folder. {HOW_TO_DOWNLOAD}"
        )
    items = []
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        missing = {"path", "sentence"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: no column(s) {sorted(missing)} in the header {reader.fieldnames}")
        for row in reader:
            clip = row["path"]
            items.append(
                Item(
                    id=Path(clip).stem,
                    audio=cv_dir / "clips" / clip,
                    text=row.get("sentence") or "",
                    speaker=row.get("client_id") or None,
                    duration=durations.get(clip),
                    verify=verify,
                )
            )
    return items


def cmd_download(args: argparse.Namespace) -> int:
    if not args.archive:
        print(HOW_TO_DOWNLOAD, file=sys.stderr)
        return 2
    archive = Path(args.archive)
    if not archive.is_file():
        raise FileNotFoundError(f"{archive}: no such file. {HOW_TO_DOWNLOAD}")
    marker = Path(args.dir) / f".{archive.name}.done"
    if marker.exists():
        print(f"{archive.name}: extracted already ({marker})")
        return 0
    tops = extract(archive, args.dir)
    marker.write_text(str(archive) + "\n")
    langs = sorted(p for top in tops for p in (Path(args.dir) / top).glob("*/train.tsv"))
    print("extracted; language folders:", ", ".join(str(p.parent) for p in langs) or "(none found)")
    return 0


def splits(cv_dir: Path, out: Path, cfg: CommonVoiceConfig) -> recipe.Listings:
    """``[corpus] splits``, each from its ``<split>.tsv``; durations from ``clip_durations.tsv`` if any."""
    if not cv_dir.is_dir():
        raise FileNotFoundError(f"{cv_dir}: no such folder. {HOW_TO_DOWNLOAD}")
    durations = read_durations(cv_dir)
    if not durations:
        log.info("no clip_durations.tsv: reading each mp3 header (slower)")
    return {s: (lambda s=s: read_split(cv_dir, s, durations, cfg.verify_audio)) for s in cfg.splits}


def tsv_listing(cv_dir: Path) -> tuple[list[tuple[str, int]]]:
    """The ``.tsv`` files and their sizes: a new release in the same folder prepares again."""
    return (sorted((p.name, p.stat().st_size) for p in cv_dir.glob("*.tsv")),)


prepare_commonvoice = recipe.corpus_preparer(
    CommonVoiceConfig, RECIPE_VERSION, splits, key=tsv_listing,
    doc="Write ``out_dir``'s manifests from a release's language folder (None: a split up to date).",
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser, sub = recipe_cli.recipe_parser(
        "Common Voice (English) recipe: unpack a downloaded release, prepare manifests"
    )
    p = sub.add_parser(
        "download", help="safely extract a release tarball you downloaded (terms need a click)"
    )
    p.add_argument("--archive", help="the cv-corpus-*-en.tar.gz you downloaded")
    p.add_argument("--dir", default="data/commonvoice")
    p.set_defaults(func=cmd_download)
    recipe_cli.add_prepare_command(
        sub, prepare_commonvoice, CommonVoiceConfig, "write manifests from train/dev/test.tsv", None,
        "data/commonvoice", corpus_flag="--cv-dir",
        corpus_help="a release's language folder (holds train.tsv and clips/)",
    )  # fmt: skip
    return parser


main = recipe_cli.recipe_main(build_parser)


if __name__ == "__main__":
    sys.exit(main())
