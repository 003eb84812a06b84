"""What word confidences cost ours' beam search: the same decoder with and without them, one run.

    taskset -c 1 nice -n 5 .venv-peers/bin/python benchmarks/decode_confidence_cost.py \\
        --model data/models/synthetic-en/model.pt --data data/synthetic-full

Same inputs and settings as benchmarks/decode.py's "ours: BeamSearchDecoder" row (model emissions of
DATA/test.jsonl, cached there; its KenLM 3-gram from DATA/train_text.txt; beam 32, lm_weight 0.5,
word_score 0 unless --decoder-config), one process, one thread, best of --repeats interleaved passes.
"Without" replaces asr.decoding.words.word_confidences by a constant for the timing only (written before
`DecoderConfig.confidence` existed; benchmarks/confidence.py times its modes); both passes must give
identical texts, or the script stops.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asr.decoding.words as words_module  # noqa: E402
from asr.decoding import DecoderConfig, build_decoder  # noqa: E402
from asr.text import Vocabulary  # noqa: E402
from benchmarks.decode_inputs import (  # noqa: E402
    ensure_lm,  # noqa: E402
    model_emission_set,
    padded,
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "data/models/synthetic-en/model.pt"))
    p.add_argument("--data", default=str(ROOT / "data/synthetic-full"))
    p.add_argument("--lm", help="KenLM file (default: decode.py's 3-gram from DATA/train_text.txt)")
    p.add_argument("--lexicon", help="word list for --lm (default: the LM's .words.txt)")
    p.add_argument("--order", type=int, default=3)
    p.add_argument("--cache-dir", default=str(ROOT / "exp/bench"))
    p.add_argument("--decoder-config", help="take lm_weight/word_score from this JSON")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)

    torch.set_num_threads(1)
    lm, lexicon = ensure_lm(args)
    data = model_emission_set(Path(args.model), Path(args.data) / "test.jsonl", Path(args.cache_dir))
    config = DecoderConfig()
    if args.decoder_config:
        tuned = DecoderConfig.from_file(args.decoder_config)
        config = config.replace(lm_weight=tuned.lm_weight, word_score=tuned.word_score)
    config = config.replace(lm=lm, lexicon=lexicon)
    decoder = build_decoder(Vocabulary.english_characters(), data.frame_shift_s, config)
    batches = padded(data.emissions, args.batch_size)

    def run() -> list[str]:
        return [n[0].text for x, lengths in batches for n in decoder.decode(x, lengths)]

    real = words_module.word_confidences

    def constant(path, row_lp, row_log_probs, swappable, emitted, spans, *rest) -> list[float]:
        return [1.0] * len(spans)

    variants = {"with confidences": real, "without (constant)": constant}
    best = dict.fromkeys(variants, float("inf"))
    texts: dict[str, list[str]] = {}
    run()  # warm-up: the LM is loaded again from Python for the confidences on first use
    try:
        for _ in range(args.repeats):
            for name, function in variants.items():
                words_module.word_confidences = function
                started = time.perf_counter()
                texts[name] = run()
                best[name] = min(best[name], time.perf_counter() - started)
    finally:
        words_module.word_confidences = real
    if texts["with confidences"] != texts["without (constant)"]:
        sys.exit("the texts differ with and without confidences: the comparison is not like for like")
    print(
        f"{data.description}; {data.frames} frames; lm_weight {config.lm_weight}, word_score {config.word_score}"
    )
    for name, seconds in best.items():
        print(f"{name:20s} {seconds:7.3f} s  {data.frames / seconds:>9,.0f} frames/s")
    with_c, without = best["with confidences"], best["without (constant)"]
    print(
        f"confidences: {100 * (with_c - without) / with_c:.0f} % of the decoding time ({with_c / without:.2f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
