"""Build an offline synthetic English speech corpus with espeak-ng and other text-to-speech engines.

    python recipes/synthetic/prepare.py --config recipes/synthetic/config.toml --out data/synthetic \
        [--jobs 2] [--seed N] [--num-train N] [--num-dev N] [--num-test N] [--splits dev,test]
        [--engines kokoro,accented | --manifests-only] [--freeze-text] [--no-progress]

Text comes from freely licensed English installed by Debian packages (fortune cookies, WordNet example
sentences); speech from espeak-ng's native English accents combined with its voice variants, each
utterance at a random rate and pitch, and, with ``engines = [...]``, from MBROLA, Festival, SVOX Pico,
RHVoice, Piper, Kokoro, hibari and accented MBROLA voices (the ``synth/`` package; README "Engines
beyond espeak-ng", "Voices closer to people"). The test split is
spoken only by voices that never occur in train or dev; no sentence is shared between splits.

Only the ``[corpus]`` table of the TOML file is read; every key is optional, an unknown key is an error.
The defaults (see ``CorpusConfig``)::

    [corpus]
    seed = 1234
    num_train = 6000             # utterances per split
    num_dev = 300
    num_test = 300
    train_repeats = 1            # > 1: a train sentence may be spoken by up to this many voices
    min_words = 4                # sentence length window, in normalized words
    max_words = 16
    max_word_length = 15         # drop sentences with a longer word (junk, URLs, chemistry)
    max_rare_words = 1           # drop sentences with more words seen < rare_word_min_count times
    rare_word_min_count = 2      #   in all the collected text
    sources = ["fortunes", "wordnet"]
    fortunes_dir = "/usr/share/games/fortunes"
    wordnet_dir = "/usr/share/wordnet"
    exclude_text_file = []       # sentences never to use (e.g. the Harvard lists): text files, one
                                 # sentence a line, or an R lazy-load DB such as stringr's Rdata.rdb
    lm_text = "pool"             # train_text.txt: "pool" = every usable sentence not in dev/test,
                                 # "spoken" = only the sentences of train.jsonl
    accents = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp",
               "en-gb-x-gbcwmd", "en-029", "en-us-nyc"]
    variants = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
                "klatt", "klatt2", "klatt3", "klatt4", "Storm", "Annie", "Andy", "Michael",
                "steph", "linda", "john", "travis"]
    test_heldout_pairs = 0.15    # (accent, variant) pairs kept for test only: a fraction (< 1) or a count
    heldout_accents = []         # accents never in train/dev: test voices use them (with any variant)
    heldout_variants = []        # variants never in train/dev: test voices use them (with any accent)
    num_test_text = 0            # "test_text" split: unseen sentences read by *training* voices
    rate = [130, 200]            # espeak-ng -s, words per minute, drawn uniformly per utterance
    pitch = [30, 70]             # espeak-ng -p, 0..99, drawn uniformly per utterance
    sample_rate = 16000
    max_silence = 0.15           # seconds of leading/trailing silence kept

Output (under ``--out``): ``wav/<split>/<id>.wav`` (16-bit mono), ``train.jsonl``, ``dev.jsonl``,
``test.jsonl``, ``test_text.jsonl`` (empty unless ``num_test_text``) (``{"id", "audio", "duration", "text", "speaker", "rate", "pitch"}``, audio relative to the
manifest's folder), ``train_text.txt`` (LM text), ``corpus_info.json`` and a ``.done`` marker.

Every choice (sentence, voice, rate, pitch) is made up front from the seed, so a run is deterministic
whatever the number of jobs. An utterance id ends in a hash of everything that shapes its audio, so a
re-run keeps the wav files that are still right, regenerates the missing or stale ones and deletes
the ones no longer planned; a complete corpus with an unchanged config is recognised from the ``.done``
marker without reading any text source.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE))  # the recipe's own modules and synth/ package
try:
    import asr  # noqa: F401
except ModuleNotFoundError:  # run from a checkout without the package installed
    sys.path.insert(0, str(_HERE.parents[1]))

# The recipe's modules, one job each; their names are re-exported here for the tests and callers.
from corpus_build import config_hash, is_up_to_date, manifest_line, prepare, summary, write_if_changed  # noqa: E402
from corpus_config import (  # noqa: E402
    DEFAULT_ACCENTS,
    DEFAULT_VARIANTS,
    RECIPE_VERSION,
    SOURCES,
    SPLITS,
    CorpusConfig,
    load_config,
)
from render import engine_versions, existing_duration, resample, run_synthesis, synthesize, trim_silence  # noqa: E402
from sentences import (  # noqa: E402
    Excluder,
    Sentence,
    collect_sentences,
    fortune_records,
    fortune_sentences,
    load_excluded,
    read_r_strings,
    reject_reason,
    speakable_text,
    split_sentences,
    wordnet_sentences,
)
from synth import resolve_voices  # noqa: E402
from voice_plan import Utterance, heldout_pairs, heldout_voices, plan_corpus  # noqa: E402

from asr.cli.recipe import recipe_main  # noqa: E402

__all__ = [
    "DEFAULT_ACCENTS", "DEFAULT_VARIANTS", "RECIPE_VERSION", "SOURCES", "SPLITS", "CorpusConfig", "Excluder",
    "Sentence", "Utterance", "collect_sentences", "config_hash", "engine_versions", "existing_duration",
    "fortune_records", "fortune_sentences", "heldout_pairs", "heldout_voices", "is_up_to_date",
    "load_config", "load_excluded", "main", "manifest_line", "plan_corpus", "prepare", "prepare_synthetic",
    "read_r_strings", "reject_reason", "resample", "resolve_voices", "run_synthesis", "speakable_text",
    "split_sentences", "summary", "synthesize", "trim_silence", "wordnet_sentences", "write_if_changed",
]  # fmt: skip

prepare_synthetic = prepare  # the prepare_<corpus>(cfg, out_dir, ...) name every recipe has


def cmd_prepare(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    overrides = {
        k: v
        for k, v in (
            ("seed", args.seed),
            ("num_train", args.num_train),
            ("num_dev", args.num_dev),
            ("num_test", args.num_test),
        )
        if v is not None
    }
    if overrides:
        cfg = dataclasses.replace(cfg, **overrides)
    if args.jobs is not None and args.jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {args.jobs}")
    splits = [x.strip() for x in args.splits.split(",") if x.strip()]
    unknown = sorted(set(splits) - set(SPLITS))
    if unknown or not splits:
        raise ValueError(f"--splits must name some of {', '.join(SPLITS)}, got {args.splits!r}")
    engines = [x.strip() for x in args.engines.split(",") if x.strip()] if args.engines else None
    if engines and args.manifests_only:
        raise ValueError("--manifests-only renders no engine's clips: leave out --engines")
    info = prepare(
        cfg,
        args.out,
        jobs=args.jobs,
        progress=not args.no_progress,
        splits=splits,
        engines=engines,
        freeze_text=args.freeze_text,
        manifests_only=args.manifests_only,
    )
    print(summary(info))
    failed = sum(len(s["failed"]) for s in info["splits"].values())
    planned = failed + sum(s["utterances"] for s in info["splits"].values())
    if failed:  # a few failures leave a usable corpus; many mean something is broken
        print(f"{failed} of {planned} utterances failed (see the log); re-run to retry them", file=sys.stderr)
    return 1 if failed > 0.01 * planned else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="TOML file; only its [corpus] table is read")
    parser.add_argument("--out", required=True, help="output folder, e.g. data/synthetic")
    parser.add_argument("--jobs", type=int, default=None, help="parallel processes (default: CPU count)")
    parser.add_argument("--seed", type=int, help="override [corpus] seed")
    parser.add_argument("--num-train", type=int, help="override [corpus] num_train")
    parser.add_argument("--num-dev", type=int, help="override [corpus] num_dev")
    parser.add_argument("--num-test", type=int, help="override [corpus] num_test")
    parser.add_argument(
        "--splits",
        default=",".join(SPLITS),
        help=f"comma-separated splits to synthesize (default: all of {','.join(SPLITS)})",
    )
    parser.add_argument(
        "--engines",
        help="comma-separated engines to synthesize (default: all of the config's); same plan, and the "
        "other engines' clips already in --out stay",
    )
    parser.add_argument(
        "--freeze-text",
        action="store_true",
        help="save the usable sentences in OUT/sentences.jsonl; while it exists, every run plans from it "
        "(a long render resumes unchanged whatever the text normalization does meanwhile)",
    )
    parser.add_argument(
        "--manifests-only",
        action="store_true",
        help="render nothing and delete nothing: write the manifests of the clips already in --out (to "
        "train on a render that is still going or was stopped; a run without it renders the rest)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.set_defaults(func=cmd_prepare)
    return parser


main = recipe_main(build_parser)


if __name__ == "__main__":
    sys.exit(main())
