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

import logging
import re
import sys
from pathlib import Path

from asr.datasets.download import Resource, add_download_arguments, fetch
from asr.datasets.prepare import Item, fingerprint, run_splits, write_text_corpus
from asr.datasets.recipe import add_prepare_arguments, corpus_table, main_wrapper, recipe_parser

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
DEFAULTS = {
    "train_dir": "data",
    "dev_dir": "legacy/dev",
    "test_dir": "legacy/test",
    "unk": "remove",
    "min_duration": 0.5,
    "max_duration": 30.0,
}
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
        t0, t1 = float(start), float(end)
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


def cmd_download(args) -> int:  # noqa: ANN001
    fetch(
        RESOURCES, Path(args.dir) / "download", Path(args.dir), mirror=args.mirror,
        remove_archive=args.remove_archive, retries=args.retries, progress=not args.no_progress,
    )  # fmt: skip
    print(f"TED-LIUM 3 is in {Path(args.dir) / 'TEDLIUM_release-3'}")
    return 0


def cmd_prepare(args) -> int:  # noqa: ANN001
    cfg = corpus_table(args.config, DEFAULTS)
    if cfg["unk"] not in ("remove", "skip"):
        raise ValueError(f'[corpus] unk = {cfg["unk"]!r}: expected "remove" or "skip"')
    corpus, out = Path(args.corpus_dir), Path(args.out)
    key = fingerprint(RECIPE_VERSION, cfg, str(corpus.resolve())) + ("-forced" if args.force else "")
    folders = {"train": cfg["train_dir"], "dev": cfg["dev_dir"], "test": cfg["test_dir"]}
    results = run_splits(
        {s: (lambda s=s: list_split(corpus, folders[s], out, s, cfg["unk"])) for s in folders},
        out, key, jobs=args.jobs, progress=not args.no_progress,
        min_duration=cfg["min_duration"], max_duration=cfg["max_duration"],
    )  # fmt: skip
    if results["train"] is not None:
        write_text_corpus(results["train"].rows, out / "train_text.txt")
    for split, result in results.items():
        print(result.summary() if result else f"{split}: up to date")
    return 0


def build_parser():  # noqa: ANN201
    parser, sub = recipe_parser("TED-LIUM 3 recipe: download, cut stm segments into utterances")
    p = sub.add_parser("download", help="download and extract TEDLIUM_release-3.tgz (~51 GB)")
    p.add_argument("--dir", default="data/tedlium3")
    add_download_arguments(p)
    p.set_defaults(func=cmd_download)
    p = sub.add_parser("prepare", help="cut segments and write manifests")
    p.add_argument("--corpus-dir", default="data/tedlium3/TEDLIUM_release-3")
    p.add_argument("--out", default="data/tedlium3")
    add_prepare_arguments(p)
    p.set_defaults(func=cmd_prepare)
    return parser


if __name__ == "__main__":
    sys.exit(main_wrapper(build_parser()))
