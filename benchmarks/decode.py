"""Beam-search decoding speed and accuracy: ours vs pyctcdecode vs torchaudio's ctc_decoder, one run.

    make bench-peers-venv   # pyctcdecode 0.5 needs numpy < 2: the peers get their own venv
    nice -n 10 .venv-peers/bin/python benchmarks/decode.py [--model M] [--data data/synthetic-full]

All decoders get the same emissions, the same KenLM word 3-gram (built from the corpus's training text,
never test text), the same word list, beam size, LM weight and word score; every other setting is each
decoder's own default. Two emission sets:

  (a) model:     a trained checkpoint's output on the test manifest (skipped when there is no model);
  (b) generated: peaky CTC emissions made from the test sentences (>= --generated-frames frames), with
                 substituted / deleted characters so that the LM has something to fix.

Per decoder: frames/s (original frames; ours also pays its frame collapsing inside the timing), real-time
factor, WER and CER; then ours / the faster peer. Timings are the best of --repeats interleaved passes,
one process, --threads torch threads; wall time, or with --clock cpu this process's CPU time (for a
shared machine: every decoder here runs on one thread). torchaudio gets one extra frame per utterance
that only the word separator can fill (added outside its timing): without it the lexicon decoder cannot
finish the last word, as our models emit no trailing separator. pyctcdecode gets the word list as its
unigrams (it may still output other words, like ours with its default unk_score).

Then the same without a language model (--without-lm, on by default): pyctcdecode with no KenLM and no
unigrams, torchaudio lexicon-free with no LM, ours with neither (flashlight's ZeroLM); same beam size.

Word confidences: DecoderConfig's default ("fast") unless --confidence says otherwise; the greedy
reference row gets the same mode. The peers compute none, so ours is also timed without them ("ours,
no confidences", the same decoder with confidence "none"): the ratio of the two is what the
confidences cost. The mode is printed with the settings and with each table.

Rows that are not part of the comparison: torchaudio with our pruning flags (what they alone give),
ours with a closed vocabulary, ours over worker processes (only useful on idle cores), and ours
lexicon-free (open vocabulary scored from Python: slow, on the first utterances only).

Run it on a quiet machine (`nice -n 10` at least); every figure is from this one run.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from asr.decoding import Decoder, DecoderConfig, GreedyDecoder, build_decoder  # noqa: E402
from asr.decoding.config import CONFIDENCE_MODES  # noqa: E402
from asr.decoding.lexicon import read_lexicon  # noqa: E402
from asr.text import Vocabulary  # noqa: E402
from benchmarks.decode_inputs import (  # noqa: E402
    EmissionSet,
    ensure_lm,
    generated_emissions,
    model_emission_set,
    padded,
)
from benchmarks.decode_inputs import package_version as _version  # noqa: E402
from benchmarks.decode_peers import pyctcdecode_runner, torchaudio_runner  # noqa: E402
from benchmarks.decode_report import CLOCKS, measure, report  # noqa: E402

# The shipped default model first (what `asr transcribe` runs), then the demo's; test data likewise.
MODEL_CANDIDATES = [ROOT / "data/models/synthetic-en/model.pt", ROOT / "exp/synthetic/best.pt"]
DATA_CANDIDATES = [ROOT / "data/synthetic-full", ROOT / "data/synthetic"]

# --- decoders under test -------------------------------------------------------------------------------


def ours_runner(decoder: Decoder, data: EmissionSet, batch_size: int) -> Callable[[], list[str]]:
    batches = padded(data.emissions, batch_size)

    def run() -> list[str]:
        return [n[0].text for x, lengths in batches for n in decoder.decode(x, lengths)]

    return run


def greedy_runner(vocab: Vocabulary, data: EmissionSet, args: argparse.Namespace) -> Callable[[], list[str]]:
    decoder = GreedyDecoder(vocab, data.frame_shift_s, confidence=args.confidence)
    batch_size = args.batch_size
    batches = padded(data.emissions, batch_size)

    def run() -> list[str]:
        return [n[0].text for x, lengths in batches for n in decoder.decode(x, lengths)]

    return run


# --- the run ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    defaults = DecoderConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--model",
        default=str(_first_existing(MODEL_CANDIDATES)),
        help="checkpoint for set (a); skipped if absent (default: the shipped model, else the demo's)",
    )
    p.add_argument(
        "--data",
        default=str(_first_existing(DATA_CANDIDATES)),
        help="corpus folder: test.jsonl, train_text.txt (default: data/synthetic-full, else data/synthetic)",
    )
    p.add_argument("--manifest", help="manifest for set (a) (default: DATA/test.jsonl)")
    p.add_argument("--lm", help="KenLM file (default: a 3-gram built from DATA/train_text.txt)")
    p.add_argument("--lexicon", help="word list for --lm (default: the LM's .words.txt)")
    p.add_argument("--order", type=int, default=3)
    p.add_argument("--cache-dir", default=str(ROOT / "exp/bench"), help="built LM and cached model emissions")
    p.add_argument("--beam-size", type=int, default=defaults.beam_size)
    p.add_argument(
        "--lm-weight", type=float, default=defaults.lm_weight, help="natural-log units (pyctcdecode alpha)"
    )
    p.add_argument("--word-score", type=float, default=defaults.word_score)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--generated-frames", type=int, default=20000, help="size of set (b)")
    p.add_argument("--sets", default="model,generated", help="which emission sets to run")
    p.add_argument("--repeats", type=int, default=3, help="timed passes per decoder (best kept)")
    p.add_argument("--workers", type=int, default=2, help="extra row: ours over N processes (0/1: none)")
    p.add_argument("--open-vocab-utterances", type=int, default=30, help="extra row: ours lexicon-free")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument(
        "--clock", choices=sorted(CLOCKS), default="wall", help="wall time, or this process's CPU time"
    )
    p.add_argument(
        "--confidence",
        choices=CONFIDENCE_MODES,
        default=defaults.confidence,
        help="ours' + greedy's word confidences (default: DecoderConfig's)",
    )
    on_off = {"action": argparse.BooleanOptionalAction, "default": True}
    p.add_argument("--peer-with-our-flags", **on_off, help="extra row: torchaudio with our pruning flags")
    p.add_argument("--without-lm", **on_off, help="also compare the searches with no LM (and no lexicon)")
    p.add_argument(
        "--decoder-config", help="take lm_weight/word_score from this JSON (e.g. `asr lm tune` output)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)

    if args.decoder_config:
        tuned = DecoderConfig.from_file(args.decoder_config)
        args.lm_weight, args.word_score = tuned.lm_weight, tuned.word_score
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    logging.getLogger("pyctcdecode").setLevel(logging.ERROR)
    vocab = Vocabulary.english_characters()
    lm, words_file = ensure_lm(args)
    words = [w for w in read_lexicon(words_file) if vocab.can_encode(w) and " " not in w]
    lexicon_file = Path(args.cache_dir) / f"{lm.stem}.torchaudio-lexicon.txt"
    lexicon_file.parent.mkdir(parents=True, exist_ok=True)
    lexicon_file.write_text("".join(f"{w} {' '.join(w)} |\n" for w in words))

    sets: list[EmissionSet] = []
    wanted = args.sets.split(",")
    manifest = Path(args.manifest or Path(args.data) / "test.jsonl")
    if "model" in wanted:
        if Path(args.model).is_file() and manifest.is_file():
            sets.append(model_emission_set(Path(args.model), manifest, Path(args.cache_dir)))
        else:
            print(f"(set (a) skipped: no model at {args.model} or no manifest at {manifest})")
    if "generated" in wanted:
        if manifest.is_file():
            texts = [json.loads(line)["text"] for line in manifest.open() if line.strip()]
        else:
            sys.exit(f"{manifest}: no test sentences to generate emissions from")
        emissions, references = generated_emissions(texts, vocab, args.generated_frames, args.seed)
        sets.append(
            EmissionSet(
                "generated",
                f"peaky emissions from {manifest} sentences (seed {args.seed})",
                emissions,
                references,
                0.03,
            )
        )

    versions = {pkg: _version(pkg) for pkg in ("flashlight-text", "torchaudio", "pyctcdecode", "torch")}
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(
        f"LM {lm} ({len(words)} words), beam {args.beam_size}, lm_weight {args.lm_weight} (ln units; "
        f"torchaudio gets x ln10), word_score {args.word_score}; torch threads {args.threads}; "
        f"ours: {_levers(defaults)}; word confidences (ours, greedy): {args.confidence}"
    )
    summaries = []
    for data in sets:
        config = defaults.replace(
            beam_size=args.beam_size,
            lm_weight=args.lm_weight,
            word_score=args.word_score,
            lm=lm,
            lexicon=words_file,
            confidence=args.confidence,
        )
        runners: list[tuple[str, Callable[[], list[str]], dict]] = [
            ("greedy (reference, no LM)", greedy_runner(vocab, data, args), {})
        ]
        if versions["pyctcdecode"] != "missing":
            runners.append(
                (
                    f"pyctcdecode {versions['pyctcdecode']}",
                    pyctcdecode_runner(vocab, lm, words, data, args),
                    {"peer": True},
                )
            )
        else:
            print("(pyctcdecode not installed: pip install -e '.[bench]')")
        runners.append(
            ("torchaudio ctc_decoder", torchaudio_runner(vocab, lm, lexicon_file, data, args), {"peer": True})
        )
        if args.peer_with_our_flags:
            flags = {"beam_size_token": config.beam_size_token, "beam_threshold": config.beam_threshold}
            flags["log_add"] = config.log_add
            runners.append(
                (
                    "torchaudio + our pruning flags",
                    torchaudio_runner(vocab, lm, lexicon_file, data, args, **flags),
                    {"note": "(not a peer: what the flags alone give)"},
                )
            )
        # build_decoder gives every beam decoder the set's frame shift.
        ours = build_decoder(vocab, data.frame_shift_s, config)
        runners.append(("ours: BeamSearchDecoder", ours_runner(ours, data, args.batch_size), {"ours": True}))
        if args.confidence != "none":
            bare = build_decoder(vocab, data.frame_shift_s, config.replace(confidence="none"))
            runners.append(
                (
                    "ours, no confidences",
                    ours_runner(bare, data, args.batch_size),
                    {"note": "(confidence none: the search alone)", "bare": True},
                )
            )
        closed = build_decoder(vocab, data.frame_shift_s, config.replace(unk_score=-math.inf))
        runners.append(
            (
                "ours, closed vocabulary",
                ours_runner(closed, data, args.batch_size),
                {"note": "(unk_score=-inf: lexicon words only)"},
            )
        )
        if args.workers > 1:
            pooled = build_decoder(vocab, data.frame_shift_s, config.replace(num_workers=args.workers))
            pooled.decode(data.emissions[0][None].repeat(args.workers * config.min_batch_per_worker, 1, 1))
            runners.append(
                (
                    f"ours, {args.workers} processes",
                    ours_runner(pooled, data, 64),
                    {"note": "(pool warm; batch 64)"},
                )
            )
        rows = measure(runners, data, args.repeats, CLOCKS[args.clock])
        if args.open_vocab_utterances > 0:
            n = min(args.open_vocab_utterances, len(data.emissions))
            subset = EmissionSet(data.name, "", data.emissions[:n], data.references[:n], data.frame_shift_s)
            free = build_decoder(vocab, data.frame_shift_s, config.replace(lexicon=None))
            rows += measure(
                [
                    (
                        "ours, lexicon-free (open vocabulary)",
                        ours_runner(free, subset, args.batch_size),
                        {
                            "note": f"(first {n} utterances only)",
                            "references": subset.references,
                            "frames": subset.frames,
                        },
                    )
                ],
                subset,
                1,
                CLOCKS[args.clock],
            )
        summaries.append(report(data, rows, f" (confidence {args.confidence})"))
        if args.workers > 1:
            pooled.close()
        if args.without_lm:
            no_lm = config.replace(lm=None, lexicon=None)
            runners = [("greedy (reference)", greedy_runner(vocab, data, args), {})]
            if versions["pyctcdecode"] != "missing":
                runners.append(
                    (
                        f"pyctcdecode {versions['pyctcdecode']}, no LM",
                        pyctcdecode_runner(vocab, None, words, data, args),
                        {"peer": True},
                    )
                )
            runners.append(
                (
                    "torchaudio ctc_decoder, no LM, lexicon-free",
                    torchaudio_runner(vocab, None, None, data, args),
                    {"peer": True},
                )
            )
            ours = build_decoder(vocab, data.frame_shift_s, no_lm)
            runners.append(
                ("ours: BeamSearchDecoder, no LM", ours_runner(ours, data, args.batch_size), {"ours": True})
            )
            condition = f" (no LM, confidence {args.confidence})"
            summaries.append(
                report(data, measure(runners, data, args.repeats, CLOCKS[args.clock]), condition)
            )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"versions": versions, "sets": summaries}, indent=2, default=str)
        )
    return 0


def _first_existing(paths: list[Path]) -> Path:
    return next((p for p in paths if p.exists()), paths[0])


def _levers(config: DecoderConfig) -> str:
    return (
        f"beam_threshold {config.beam_threshold}, token_min_logp {config.token_min_logp}, "
        f"blank_skip_threshold {config.blank_skip_threshold}, beam_size_token {config.beam_size_token}"
    )


if __name__ == "__main__":
    sys.exit(main())
