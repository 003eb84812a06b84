"""Word confidences: how well they predict right words (AUROC, ECE) and what they cost, per mode.

    taskset -c 1 nice -n 5 .venv/bin/python benchmarks/confidence.py [--data data/synthetic-full]

Two emission sets, as benchmarks/decode.py makes them: (a) the shipped model's output on DATA/test.jsonl,
(b) generated peaky emissions of the same sentences (>= 20,000 frames, seed 0). Decoders: the shipped
`decoder.json` (beam search, its 3-gram LM and word list) and greedy, with `confidence` "full" (the
default), "local" and "none". A hypothesis word is right when jiwer's alignment puts it in an `equal`
chunk; AUROC is the probability that a right word gets a higher confidence than a wrong one (ties half),
ECE the expected calibration error over 10 equal-width bins. Time: decoding one utterance at a time,
best of --repeats interleaved passes, one thread, confidences included ("none": NaN, nothing computed).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jiwer
import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from asr.audio import load_audio  # noqa: E402
from asr.data.manifest import read_manifest  # noqa: E402
from asr.decoding import BeamSearchDecoder, DecoderConfig, GreedyDecoder  # noqa: E402
from asr.inference import emissions  # noqa: E402
from asr.loading import load_model  # noqa: E402
from benchmarks.decode_inputs import generated_emissions  # noqa: E402

MODEL_DIR = ROOT / "data/models/synthetic-en"
MODES = ("full", "local", "none")


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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(ROOT / "data/synthetic-full"), help="holds test.jsonl")
    p.add_argument("--limit", type=int, default=0, help="first N test utterances (0: all)")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)

    model = load_model(MODEL_DIR / "model.pt")
    items = read_manifest(Path(args.data) / "test.jsonl")
    if args.limit:
        items = items[: args.limit]
    texts = [it.text for it in items]
    model_set = [emissions(model, [load_audio(it.audio, model.sample_rate)]) for it in items]
    model_set = [lp[0, : int(n[0])].numpy() for lp, n in model_set]
    generated, generated_refs = generated_emissions(texts, model.vocab, 20000, 0)
    sets = {
        "(a) model": (model_set, texts),
        "(b) generated": ([g.numpy() for g in generated], generated_refs),
    }
    beam_config = DecoderConfig.from_file(MODEL_DIR / "decoder.json").replace(
        frame_shift_s=model.frame_shift_s
    )

    print(
        f"{len(items)} utterances; decoder.json: beam {beam_config.beam_size}, lm_weight {beam_config.lm_weight}"
    )
    print("| set | decoder | confidence | WER | words (wrong) | AUROC | ECE | decode s (best of repeats) |")
    print("|---|---|---|---|---|---|---|---|")
    for set_name, (frames, refs) in sets.items():
        for kind in ("beam + LM", "greedy"):
            decoders = {
                mode: BeamSearchDecoder(model.vocab, config=beam_config.replace(confidence=mode))
                if kind == "beam + LM"
                else GreedyDecoder(model.vocab, model.frame_shift_s, confidence=mode)
                for mode in MODES
            }
            best: dict[str, float] = {}
            results: dict[str, list] = {}
            for _ in range(args.repeats):
                for mode, decoder in decoders.items():
                    started = time.perf_counter()
                    results[mode] = [decoder.decode(e[None])[0][0] for e in frames]
                    best[mode] = min(best.get(mode, float("inf")), time.perf_counter() - started)
            texts_by_mode = {mode: [h.text for h in hyps] for mode, hyps in results.items()}
            if len({tuple(t) for t in texts_by_mode.values()}) != 1:
                raise SystemExit("the confidence mode changed the decoded texts: a bug")
            hyps = results["full"]
            wer = jiwer.wer(refs, [h.text or "-" for h in hyps])
            for mode in MODES:
                conf, right = [], []
                for h, ref in zip(results[mode], refs):
                    conf += [w.confidence for w in h.words]
                    right += right_words(ref, h.text, len(h.words))
                conf_a, right_a = np.array(conf, dtype=np.float64), np.array(right, dtype=bool)
                quality = "n/a | n/a"
                if mode != "none":
                    quality = f"{auroc(conf_a, right_a):.3f} | {ece(conf_a, right_a):.3f}"
                print(
                    f"| {set_name} | {kind} | {mode} | {100 * wer:.1f} % | {len(right_a)} ({int((~right_a).sum())}) "
                    f"| {quality} | {best[mode]:.2f} |",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
