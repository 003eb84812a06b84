"""AN4 (CMU Census database): download and prepare manifests.

    python recipes/an4/prepare.py download --dir data/an4 [--variant sphere|raw] [--mirror BASE_URL]
    python recipes/an4/prepare.py --config recipes/an4/config.toml prepare \
        --corpus-dir data/an4/an4 --out data/an4 [--jobs 2]

AN4 comes in two archives with the same listings; ``prepare`` reads either (file by file: ``.raw`` is
looked for first, then ``.sph``)::

    an4/etc/an4_{train,test}.fileids         audio paths under wav/, no suffix ("an4_clstk/fash/an251-fash-b")
    an4/etc/an4_{train,test}.transcription   "<s> RUBOUT G M E F THREE NINE </s> (an251-fash-b)"
    an4/wav/an4_clstk/<speaker>/<utt>.raw    an4_raw.bigendian.tar.gz: headerless 16 kHz 16-bit big-endian PCM
    an4/wav/an4_clstk/<speaker>/<utt>.sph    an4_sphere.tar.gz: NIST SPHERE (16 kHz 16-bit PCM, with a header)
    an4/wav/an4test_clstk/<speaker>/<utt>.{raw,sph}

``prepare_an4(corpus_dir, out_dir)`` is the same step from Python. ``prepare`` converts each file to ``<out>/wav/<split>/<speaker>/<utt>.wav`` and writes
``train.jsonl``, ``dev.jsonl`` (the last ``dev_speakers`` training speakers, held out), ``test.jsonl``
(the official test set), ``<split>.report.json`` and ``train_text.txt`` (LM text). A listing whose
audio is nowhere to be found is an error, not an empty manifest.

Neither archive has a published checksum, and none could be confirmed for this recipe: downloads are
**not verified** (the log prints the sha256 of what arrived; ``--sha256 HEX`` enforces a value you trust).
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from asr.cli import recipe as recipe_cli
from asr.datasets import recipe
from asr.datasets.download import Resource
from asr.datasets.prepare import Item, RawFormat

log = logging.getLogger("asr.recipes.an4")

RECIPE_VERSION = 2  # 2: .sph files are read too
# No checksum is published for either archive, and we could not confirm one: downloads are NOT verified
# (only complete). The sizes are approximate ("64M" on the CMU page): they feed the disk-space check only.
# "sphere" comes over https from the S3 copy NeMo's tutorials use; "raw" from CMU itself, over plain http.
VARIANTS = {
    "sphere": [
        Resource(
            name="an4_sphere.tar.gz",
            url="https://dldata-public.s3.us-east-2.amazonaws.com/an4_sphere.tar.gz",
            approx_size=64_000_000,
        )
    ],
    "raw": [
        Resource(
            name="an4_raw.bigendian.tar.gz",
            url="http://www.speech.cs.cmu.edu/databases/an4/an4_raw.bigendian.tar.gz",
            approx_size=64_000_000,
        )
    ],
}
RESOURCES = VARIANTS["sphere"]


@dataclass(frozen=True)
class AN4Config:
    """The ``[corpus]`` table."""

    dev_speakers: int = 4  # the last N training speakers (sorted) are held out as dev
    min_duration: float = 0.1
    max_duration: float = 30.0
    variant: str = "sphere"  # the archive ``download`` fetches: sphere or raw


_TRANSCRIPT = re.compile(r"^(?P<text>.*?)\s*\((?P<id>[^()\s]+)\)\s*$")
_MARKUP = re.compile(r"</?s>|<sil>|\+\+[^+]*\+\+")


def read_transcriptions(path: Path) -> dict[str, str]:
    """``utterance id -> transcript`` from an AN4 ``.transcription`` file (markup removed)."""
    out = {}
    for number, line in enumerate(path.read_text(encoding="latin-1").splitlines(), 1):
        if not line.strip():
            continue
        m = _TRANSCRIPT.match(line.strip())
        if not m:
            log.warning("%s:%d: not 'TEXT (utterance-id)', skipped: %r", path, number, line)
            continue
        out[m["id"]] = " ".join(_MARKUP.sub(" ", m["text"]).split())
    return out


def list_split(corpus: Path, official: str, out: Path, split: str) -> list[Item]:
    """Items of the official ``train``/``test`` list, converted into ``out/wav/<split>/``."""
    etc = corpus / "etc"
    fileids = etc / f"an4_{official}.fileids"
    trans = etc / f"an4_{official}.transcription"
    for path in (fileids, trans):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing; is {corpus} the extracted an4/ folder? (run stage 0)")
    texts = read_transcriptions(trans)
    wav_dir = corpus / "wav" / ("an4_clstk" if official == "train" else "an4test_clstk")
    items = []
    for line in fileids.read_text(encoding="latin-1").split():
        parts = line.strip().split("/")
        speaker, utt = parts[-2:]
        # lines are "an4_clstk/fash/an251-fash-b" (relative to wav/); tolerate "fash/an251-fash-b" too
        stem = corpus / "wav" / line.strip() if len(parts) >= 3 else wav_dir / speaker / utt
        raw, sph = stem.with_name(f"{utt}.raw"), stem.with_name(f"{utt}.sph")
        is_sphere = not raw.exists() and sph.exists()
        items.append(
            Item(
                id=utt,
                audio=sph if is_sphere else raw,
                text=texts.get(utt, ""),
                speaker=speaker,
                target=out / "wav" / split / speaker / f"{utt}.wav",
                raw=None if is_sphere else RawFormat(sample_rate=16000, endian="BIG"),
            )
        )
    return items


def splits(corpus: Path, out: Path, cfg: AN4Config) -> recipe.Listings:
    """train and dev (the last ``dev_speakers`` training speakers) from the official train list; test."""

    def train_dev() -> tuple[list[Item], list[Item]]:
        items = list_split(corpus, "train", out, "train")
        speakers = sorted({i.speaker for i in items if i.speaker})
        held = set(speakers[len(speakers) - cfg.dev_speakers :]) if cfg.dev_speakers else set()
        dev = [
            replace(i, target=out / "wav" / "dev" / str(i.speaker) / f"{i.id}.wav")
            for i in items
            if i.speaker in held
        ]
        return [i for i in items if i.speaker not in held], dev

    return {
        "train": lambda: train_dev()[0],
        "dev": lambda: train_dev()[1],
        "test": lambda: list_split(corpus, "test", out, "test"),
    }


prepare_an4 = recipe.corpus_preparer(
    AN4Config, RECIPE_VERSION, splits,
    doc="Convert the extracted ``an4/`` folder into ``out_dir``'s manifests (None: a split up to date).",
)  # fmt: skip


def _resources(args: argparse.Namespace) -> list[Resource]:
    variant = args.variant or recipe.read_corpus_config(AN4Config, args.config).variant
    if variant not in VARIANTS:
        raise ValueError(f"AN4 variant {variant!r}: expected one of {', '.join(VARIANTS)}")
    resources = VARIANTS[variant]
    if args.sha256:
        resources = [replace(r, sha256=None if args.sha256 == "none" else args.sha256) for r in resources]
    return resources


def build_parser() -> argparse.ArgumentParser:
    cli = recipe_cli.corpus_parser(
        "AN4 recipe: download and prepare manifests",
        name="AN4",
        data_dir="data/an4",
        corpus="an4",
        resources=_resources,
        download_help="download and extract an4_sphere.tar.gz (or the raw variant)",
        prepare=prepare_an4,
        config_cls=AN4Config,
        prepare_help="convert audio and write manifests",
        corpus_help="the extracted an4/ folder",
    )
    cli.download.add_argument(
        "--variant", choices=sorted(VARIANTS), help="sphere (https, default) or raw (CMU, http); or [corpus]"
    )
    cli.download.add_argument(
        "--sha256", help="verify the archive against this sha256 (none: no check, the default)"
    )
    return cli.parser


main = recipe_cli.recipe_main(build_parser)


if __name__ == "__main__":
    sys.exit(main())
