"""The emissions benchmarks/decode.py decodes: a trained model's output, and generated peaky CTC emissions.

Also `padded`, the batching every decoder under test gets its input from.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from asr.text import Vocabulary

# Groups of characters a weak acoustic model confuses (generated emissions only).
CONFUSABLE = ["aeiou", "bp", "dt", "gkc", "mn", "fvh", "sz", "lr", "wv", "ijy", "xs", "qk"]


@dataclass
class EmissionSet:
    name: str
    description: str
    emissions: list[torch.Tensor]  # (T, V) log-probs each
    references: list[str]
    frame_shift_s: float

    @property
    def frames(self) -> int:
        return sum(e.shape[0] for e in self.emissions)


# --- emissions ------------------------------------------------------------------------------------


def generated_emissions(
    texts: Sequence[str],
    vocab: Vocabulary,
    min_frames: int,
    seed: int,
    p_sub: float = 0.12,
    p_del: float = 0.03,
) -> tuple[list[torch.Tensor], list[str]]:
    """Peaky CTC log-probs spelling `texts` (cycled until `min_frames`), with confusions.

    Each character gets 1-2 frames, blanks 0-3 frames between characters (1 at least between repeats)
    and 2-7 at the ends. Per frame, logits are N(0, 1) noise plus a margin of 5-13 on the frame's token
    (blank frames 8-16). With probability `p_sub` a letter's frame is won by a confusable letter with
    the true one 0.3-3 behind it; with `p_del` a letter is swallowed by a blank, the letter 1-4 behind.
    """
    rng = np.random.default_rng(seed)
    confusable: dict[str, list[str]] = {}
    for group in CONFUSABLE:
        for c in group:
            confusable.setdefault(c, [])
            confusable[c].extend(x for x in group if x != c and x not in confusable[c])
    index = {t: i for i, t in enumerate(vocab.tokens)}
    letters = [t for t in vocab.tokens[1:] if t != vocab.word_separator]
    emissions, references = [], []
    frames_total = 0
    k = 0
    while frames_total < min_frames:
        text = texts[k % len(texts)]
        k += 1
        plan: list[tuple[int, int | None, float]] = []  # (winner, runner-up, its gap to the winner)

        plan.extend([(0, None, 0.0)] * int(rng.integers(2, 8)))
        previous = None
        for ch in text:
            token = index[ch]
            if token == previous:
                plan.extend([(0, None, 0.0)] * 1)
            r = rng.random()
            if ch != " " and r < p_del:
                plan.append((0, token, rng.uniform(1, 4)))
            elif ch != " " and r < p_del + p_sub:
                pool = confusable.get(ch) or [c for c in letters if c != ch]
                plan.append((index[pool[int(rng.integers(len(pool)))]], token, rng.uniform(0.3, 3)))
            else:
                for _ in range(1 + int(rng.random() < 0.3)):
                    plan.append((token, None, 0.0))
            plan.extend([(0, None, 0.0)] * int(rng.integers(0, 4)))
            previous = token
        plan.extend([(0, None, 0.0)] * int(rng.integers(2, 8)))
        logits = rng.normal(0.0, 1.0, (len(plan), len(vocab))).astype(np.float32)
        for t, (winner, runner_up, gap) in enumerate(plan):
            logits[t, winner] += rng.uniform(8, 16) if winner == 0 else rng.uniform(5, 13)
            if runner_up is not None:
                logits[t, runner_up] = logits[t, winner] - gap
        emissions.append(torch.log_softmax(torch.from_numpy(logits), dim=-1))
        references.append(text)
        frames_total += len(plan)
    return emissions, references


def model_emission_set(model: Path, manifest: Path, cache_dir: Path) -> EmissionSet:
    """Run the model over the manifest once (cached on disk by model and manifest timestamps)."""
    from asr import load_model
    from asr.data.manifest import read_manifest
    from asr.lm import model_emissions

    stamp = f"{model.stat().st_mtime_ns}-{manifest.stat().st_mtime_ns}"
    cache = cache_dir / f"emissions-{model.stem}-{manifest.stem}.pt"
    recognizer = load_model(model)
    if cache.is_file():
        saved = torch.load(cache, weights_only=True)
        if saved.get("stamp") == stamp and saved.get("model") == str(model):
            emissions, references = saved["emissions"], saved["references"]
            print(f"(model emissions from the cache {cache})")
        else:
            saved = None
    else:
        saved = None
    if saved is None:
        t0 = time.perf_counter()
        emissions, references, skipped = model_emissions(recognizer, read_manifest(manifest))
        print(
            f"(computed model emissions in {time.perf_counter() - t0:.1f} s; {skipped} utterances unreadable)"
        )
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {"stamp": stamp, "model": str(model), "emissions": emissions, "references": references}, cache
        )
    return EmissionSet(
        "model",
        f"model {model} on {manifest} ({len(emissions)} utterances)",
        emissions,
        references,
        recognizer.frame_shift_s,
    )


def padded(emissions: Sequence[torch.Tensor], batch_size: int, end_frame: torch.Tensor | None = None) -> list:
    batches = []
    for start in range(0, len(emissions), batch_size):
        chunk = list(emissions[start : start + batch_size])
        if end_frame is not None:
            chunk = [torch.cat([e, end_frame]) for e in chunk]
        lengths = torch.tensor([e.shape[0] for e in chunk])
        batches.append((torch.nn.utils.rnn.pad_sequence(chunk, batch_first=True).contiguous(), lengths))
    return batches


# --- what the decode benchmarks share ----------------------------------------------------------


def ensure_lm(args: argparse.Namespace) -> tuple[Path, Path]:
    """The LM and its word list: given, or a 3-gram built from the corpus's training text (cached)."""
    if args.lm:
        lm = Path(args.lm)
        words = Path(args.lexicon) if args.lexicon else lm.with_suffix(".words.txt")
        if not words.is_file():
            sys.exit(f"{words}: no word list for {lm}; pass --lexicon (one word per line)")
        return lm, words
    from asr.lm import LMToolsMissing, build_lm

    text = Path(args.data) / "train_text.txt"
    if not text.is_file():
        sys.exit(f"{text}: no LM training text; run recipes/synthetic/run.sh --stop-stage 1, or pass --lm")
    lm = Path(args.cache_dir) / f"lm{args.order}.bin"
    words = lm.with_suffix(".words.txt")
    if not (lm.is_file() and words.is_file() and lm.stat().st_mtime > text.stat().st_mtime):
        try:
            result = build_lm(text, lm, args.order)
        except LMToolsMissing as e:
            sys.exit(str(e))
        print(f"(built {result.summary()})")
    return lm, words


def package_version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "missing"
