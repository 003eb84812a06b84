"""What 1,000 hotwords cost the lexicon beam search: the target is at most 1.3x the time of none, so that
a long hotword list can be used freely.

    taskset -c 0 nice -n 5 .venv/bin/python benchmarks/hotwords.py [--utterances 100] [--repeats 3]

The shipped model (data/models/synthetic-en) on the first --utterances of data/synthetic-full/test.jsonl;
emissions are computed once beforehand (not timed). Each row builds a BeamSearchDecoder from the model's
decoder.json (KenLM 3-gram + its word list) and decodes every utterance, one thread, one process:
building is inside the timing. Rows: no hotwords (flashlight's native KenLM); 1,000 hotwords (600 words
of the LM word list, 200 made-up words, 200 two-word phrases of LM words, bonus 2 each) with the native
hotword LM (asr.decoding.native, compiled by the package's install) and with the Python LM (ASR_NATIVE_DECODER=0).
Times are the best of --repeats interleaved passes (and the median of the per-pass ratios). Also printed: whether the native and Python rows
give the same texts, and how many texts the hotwords change.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import string
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from asr.decoding import BeamSearchDecoder, DecoderConfig  # noqa: E402
from asr.decoding.lexicon import read_lexicon  # noqa: E402
from asr.decoding.native import load_library  # noqa: E402

TARGET_RATIO = 1.3
MODEL_DIR = ROOT / "data" / "models" / "synthetic-en"


def make_hotwords(words: list[str], seed: int = 0) -> dict[str, float]:
    """600 LM words, 200 made-up words, 200 two-word phrases of LM words; bonus 2 each."""
    rng = random.Random(seed)
    pool = [w for w in words if w.isalpha()]
    chosen = rng.sample(pool, 600)
    known = set(words)
    made_up: set[str] = set()
    while len(made_up) < 200:
        word = "".join(rng.choices(string.ascii_lowercase, k=rng.randint(5, 9)))
        if word not in known:
            made_up.add(word)
    phrases: set[str] = set()
    while len(phrases) < 200:
        phrases.add(f"{rng.choice(pool)} {rng.choice(pool)}")
    hotwords = dict.fromkeys(chosen, 2.0)
    hotwords.update(dict.fromkeys(sorted(made_up), 2.0))
    hotwords.update(dict.fromkeys(sorted(phrases), 2.0))
    assert len(hotwords) == 1000, len(hotwords)
    return hotwords


def emissions_of(utterances: int, data: Path) -> tuple[list[torch.Tensor], object]:
    import asr
    from asr.data.manifest import read_manifest
    from asr.lm import model_emissions

    model = asr.load_model(MODEL_DIR / "model.pt")
    items = read_manifest(data)[:utterances]
    emissions, _, skipped = model_emissions(model, items)
    if skipped:
        raise SystemExit(f"{skipped} utterances of {data} could not be read")
    return emissions, model.vocab


def run(vocab, config: DecoderConfig, emissions: list[torch.Tensor], native: bool) -> tuple[float, list[str]]:
    os.environ["ASR_NATIVE_DECODER"] = "1" if native else "0"
    t0 = time.perf_counter()
    decoder = BeamSearchDecoder(vocab, config=config)
    texts = [decoder.decode(e[None])[0][0].text for e in emissions]
    return time.perf_counter() - t0, texts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--utterances", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "synthetic-full" / "test.jsonl")
    args = parser.parse_args()
    torch.set_num_threads(1)
    lib, why = load_library()
    if lib is None:
        raise SystemExit(f"the native hotword LM is not available: {why}")

    emissions, vocab = emissions_of(args.utterances, args.data)
    base = DecoderConfig.from_file(MODEL_DIR / "decoder.json").replace(num_workers=1)
    hotwords = make_hotwords(read_lexicon(base.lexicon))
    boosted = base.replace(hotwords=hotwords)
    rows = {
        "no hotwords": (base, True),
        "1,000 hotwords, native LM": (boosted, True),
        "1,000 hotwords, Python LM": (boosted, False),
    }
    best = dict.fromkeys(rows, float("inf"))
    texts: dict[str, list[str]] = {}
    pass_ratios = []  # native / none within each pass: less exposed to load that comes and goes
    for _ in range(args.repeats):
        seconds_of = {}
        for name, (config, native) in rows.items():
            seconds_of[name], texts[name] = run(vocab, config, emissions, native)
            best[name] = min(best[name], seconds_of[name])
        pass_ratios.append(seconds_of["1,000 hotwords, native LM"] / seconds_of["no hotwords"])

    frames = sum(e.shape[0] for e in emissions)
    print(f"{len(emissions)} utterances ({frames} frames) of {args.data}, model {MODEL_DIR}, 1 thread")
    print(f"best of {args.repeats}; building the decoder included\n")
    none = best["no hotwords"]
    for name, seconds in best.items():
        print(f"  {name:28s} {seconds:7.3f} s  {seconds / none:5.2f}x")
    native_texts, python_texts = texts["1,000 hotwords, native LM"], texts["1,000 hotwords, Python LM"]
    same = sum(a == b for a, b in zip(native_texts, python_texts))
    changed = sum(a != b for a, b in zip(native_texts, texts["no hotwords"]))
    print(f"\nnative vs Python LM: {same}/{len(emissions)} texts the same")
    print(f"hotwords change {changed}/{len(emissions)} texts")
    ratio = best["1,000 hotwords, native LM"] / none
    verdict = "meets" if ratio <= TARGET_RATIO else "misses"
    print(f"ratio native / none: {ratio:.2f}x ({verdict} the target <= {TARGET_RATIO}x)")
    print(
        f"per pass: {' '.join(f'{r:.2f}' for r in pass_ratios)} (median {statistics.median(pass_ratios):.2f}x)"
    )


if __name__ == "__main__":
    main()
