"""Word confidences: how well they predict right words (AUROC, ECE) and what they cost, per mode.

    taskset -c 1 nice -n 5 .venv/bin/python benchmarks/confidence.py [--data data/synthetic-full] [--clock cpu]

The two emission sets of benchmarks/decode.py: (a) the shipped model's output on DATA/test.jsonl (the same
cache, exp/bench), (b) generated peaky emissions of the same sentences (>= 20,000 frames, seed 0).
Decoders, by --settings: "decode", benchmarks/decode.py's beam search (DecoderConfig's defaults with the
3-gram LM it builds from DATA/train_text.txt and its word list); "shipped", the shipped model's
`decoder.json` (its 3-gram LM, word list, lm_weight and word_score); and greedy decoding. Each with every
`confidence` mode: "fast" (the default), "full" and "local" (the slower measures), "none" (NaN: nothing
computed, the cost baseline).

A hypothesis word is right when jiwer's alignment puts it in an `equal` chunk; AUROC is the probability
that a right word gets a higher confidence than a wrong one (ties half), ECE the expected calibration
error over 10 equal-width bins. Time: the whole set in batches of --batch-size (16, as decode.py), best
of --repeats interleaved passes, one thread; wall time, or with --clock cpu this process's CPU time (for a
shared machine). "cost" is each mode's time over that of "none" for the same decoder.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jiwer
import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from asr.decoding import BeamSearchDecoder, Decoder, DecoderConfig, GreedyDecoder  # noqa: E402
from asr.decoding.config import CONFIDENCE_MODES  # noqa: E402
from asr.text import Vocabulary  # noqa: E402
from benchmarks.decode_inputs import (  # noqa: E402
    ensure_lm,
    generated_emissions,
    model_emission_set,
    padded,
)

MODEL_DIR = ROOT / "data/models/synthetic-en"
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def auroc(confidence: np.ndarray, right: np.ndarray) -> float:
    """P(conf of a right word > conf of a wrong one), ties counted half (Mann-Whitney U)."""
    values, inverse, counts = np.unique(confidence, return_inverse=True, return_counts=True)
    ranks = np.cumsum(counts) - (counts - 1) / 2.0  # average rank of each distinct value
    rank = ranks[inverse]
    pos, neg = int(right.sum()), int((~right).sum())
    return float((rank[right].sum() - pos * (pos + 1) / 2) / (pos * neg))


def ece(confidence: np.ndarray, right: np.ndarray, bins: int = 10) -> float:
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += abs(confidence[inside].mean() - right[inside].mean()) * inside.sum()
    return total / len(confidence)


def right_words(reference: str, hypothesis: str, n_words: int) -> list[bool]:
    ok = [False] * n_words
    if n_words:
        for chunk in jiwer.process_words(reference, hypothesis).alignments[0]:
            if chunk.type == "equal":
                ok[chunk.hyp_start_idx : chunk.hyp_end_idx] = [True] * (
                    chunk.hyp_end_idx - chunk.hyp_start_idx
                )
    return ok


def beam_configs(args: argparse.Namespace) -> dict[str, DecoderConfig]:
    configs = {}
    for name in args.settings.split(","):
        if name == "shipped":
            configs["beam + LM (shipped decoder.json)"] = DecoderConfig.from_file(MODEL_DIR / "decoder.json")
        elif name == "decode":
            lm, words = ensure_lm(
                argparse.Namespace(lm=None, lexicon=None, data=args.data, cache_dir=args.cache_dir, order=3)
            )
            configs["beam + LM (decode.py's)"] = DecoderConfig(lm=str(lm), lexicon=str(words))
        else:
            sys.exit(f"--settings: unknown {name!r} (shipped, decode)")
    return configs


def make_decoder(vocab: Vocabulary, config: DecoderConfig | None, mode: str, shift: float) -> Decoder:
    """Beam search with `config` (greedy decoding for None), confidences `mode`."""
    if config is None:
        return GreedyDecoder(vocab, shift, confidence=mode)
    return BeamSearchDecoder(vocab, config=config.replace(confidence=mode, frame_shift_s=shift))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(ROOT / "data/synthetic-full"), help="holds test.jsonl")
    p.add_argument("--cache-dir", default=str(ROOT / "exp/bench"), help="decode.py's LM and emissions")
    p.add_argument("--settings", default="decode,shipped", help="beam decoders: decode, shipped")
    p.add_argument("--modes", default=",".join(CONFIDENCE_MODES), help="confidence modes (none: baseline)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--clock", choices=sorted(CLOCKS), default="wall")
    p.add_argument("--json", help="also write the rows here")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    clock = CLOCKS[args.clock]
    modes = [m for m in args.modes.split(",") if m != "none"] + ["none"]

    manifest = Path(args.data) / "test.jsonl"
    model_set = model_emission_set(MODEL_DIR / "model.pt", manifest, Path(args.cache_dir))
    texts = [json.loads(line)["text"] for line in manifest.open() if line.strip()]
    vocab = Vocabulary.english_characters()
    generated, generated_refs = generated_emissions(texts, vocab, 20000, 0)
    sets = {
        "(a) model": (model_set.emissions, model_set.references, model_set.frame_shift_s),
        "(b) generated": (generated, generated_refs, 0.03),
    }
    configs = beam_configs(args)
    print(f"{len(texts)} utterances; confidence modes {', '.join(modes)}; batches of {args.batch_size}")
    for name, config in configs.items():
        print(
            f"{name}: beam {config.beam_size}, lm_weight {config.lm_weight}, word_score {config.word_score}"
        )
    print("| set | decoder | confidence | WER | words (wrong) | AUROC | ECE | decode s | cost vs none |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    for set_name, (emissions, refs, shift) in sets.items():
        batches = padded(emissions, args.batch_size)
        kinds: dict[str, DecoderConfig | None] = {**configs, "greedy": None}
        for kind, config in kinds.items():
            decoders = {mode: make_decoder(vocab, config, mode, shift) for mode in modes}
            for decoder in decoders.values():  # warm-up: the LM is loaded again from Python for "full"
                decoder.decode(*batches[0])
            best: dict[str, float] = {}
            results: dict[str, list] = {}
            for _ in range(args.repeats):
                for mode, decoder in decoders.items():
                    started = clock()
                    results[mode] = [n[0] for x, lengths in batches for n in decoder.decode(x, lengths)]
                    best[mode] = min(best.get(mode, float("inf")), clock() - started)
            if len({tuple(h.text for h in hyps) for hyps in results.values()}) != 1:
                raise SystemExit("the confidence mode changed the decoded texts: a bug")
            hyps = results["none"]
            wer = jiwer.wer(refs, [h.text or "-" for h in hyps])
            right = np.array(
                [ok for h, ref in zip(hyps, refs) for ok in right_words(ref, h.text, len(h.words))],
                dtype=bool,
            )
            for mode in modes:
                conf = np.array([w.confidence for h in results[mode] for w in h.words], dtype=np.float64)
                row = {
                    "set": set_name,
                    "decoder": kind,
                    "confidence": mode,
                    "wer": wer,
                    "words": len(right),
                    "wrong": int((~right).sum()),
                    "seconds": best[mode],
                    "cost": best[mode] / best["none"],
                }
                quality = "n/a | n/a"
                if mode != "none":
                    row.update(auroc=auroc(conf, right), ece=ece(conf, right))
                    quality = f"{row['auroc']:.3f} | {row['ece']:.3f}"
                rows.append(row)
                print(
                    f"| {set_name} | {kind} | {mode} | {100 * wer:.1f} % | {len(right)} ({row['wrong']}) "
                    f"| {quality} | {best[mode]:.3f} | {row['cost']:.2f}x |",
                    flush=True,
                )
    if args.json:
        Path(args.json).write_text(json.dumps({"clock": args.clock, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
