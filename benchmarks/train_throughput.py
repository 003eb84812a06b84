"""Training throughput: this pipeline vs a plain loop, same model, same data, timed in one run.

    nice -n 10 .venv/bin/python benchmarks/train_throughput.py [--manifest data/synthetic/train.jsonl]

  (a) pipeline: DurationBatchSampler (max_duration seconds of padded audio per batch, duration buckets),
                the training loop's own `train_step` (dense oneDNN LSTM on CPU / packed on CUDA, bf16
                autocast where the loop would pick it), AdamW + clipping;
  (b) plain:    a fixed batch of 32 in random order, padded to the longest, no packing, same step, in
                fp32 as a plain PyTorch loop runs (--plain-precision same: (a)'s precision, to isolate
                what batching alone buys).

Both see the same utterances (audio held in memory, so disk reads do not count) and the same model.
The rounds alternate (a) and (b) so that background load hits both alike; each figure is audio seconds
of real (unpadded) speech per wall second over all its rounds. Without --manifest the utterances are
generated noise with LibriSpeech-like durations (uniform 2-16 s): throughput does not depend on content.
SpecAugment and waveform augmentation are off in both.
"""

from __future__ import annotations

import argparse
import random
import string
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asr.data.dataset import Batch  # noqa: E402
from asr.data.sampler import DurationBatchSampler  # noqa: E402
from asr.features import FeatureConfig  # noqa: E402
from asr.model import ModelConfig  # noqa: E402
from asr.recognizer import SpeechRecognizer  # noqa: E402
from asr.text import Vocabulary  # noqa: E402
from asr.train.setup import autocast_dtype  # noqa: E402
from asr.train.step import StepSettings, train_step  # noqa: E402


def manifest_utterances(manifest: str, seconds: float, vocab: Vocabulary) -> list[tuple[torch.Tensor, str]]:
    """About `seconds` of the manifest's utterances that `vocab` can spell, in a seeded random order."""
    from asr.audio import load_audio
    from asr.data.manifest import read_manifest

    items = read_manifest(manifest)
    random.Random(0).shuffle(items)
    out, total = [], 0.0
    for item in items:
        if total >= seconds:
            break
        if vocab.can_encode(item.text):
            out.append((torch.from_numpy(load_audio(item.audio, 16000)), item.text))
            total += item.duration
    return out


def load_utterances(args: argparse.Namespace, vocab: Vocabulary) -> list[tuple[torch.Tensor, str]]:
    if args.manifest:
        return manifest_utterances(args.manifest, args.audio_seconds, vocab)
    rng = random.Random(0)
    out, total = [], 0.0
    letters = string.ascii_lowercase
    while total < args.audio_seconds:
        seconds = rng.uniform(2, 16)
        words = [
            "".join(rng.choice(letters) for _ in range(rng.randint(2, 7))) for _ in range(int(seconds * 2.2))
        ]
        out.append((0.05 * torch.randn(int(seconds * 16000)), " ".join(words)))
        total += seconds
    return out


def make_batch(utterances: list[tuple[torch.Tensor, str]], indices: list[int], vocab: Vocabulary) -> Batch:
    chosen = [utterances[i] for i in indices]
    lengths = torch.tensor([len(w) for w, _ in chosen])
    waveforms = torch.zeros(len(chosen), int(lengths.max()))
    for row, (w, _) in enumerate(chosen):
        waveforms[row, : len(w)] = w
    tokens = [vocab.encode(t) for _, t in chosen]
    target_lengths = torch.tensor([len(t) for t in tokens])
    targets = torch.zeros(len(chosen), int(target_lengths.max()), dtype=torch.long)
    for row, t in enumerate(tokens):
        targets[row, : len(t)] = torch.tensor(t)
    return Batch(
        [str(i) for i in indices], [t for _, t in chosen], waveforms, lengths, targets, target_lengths
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--manifest", help="train on these utterances (default: generated noise)")
    parser.add_argument("--audio-seconds", type=float, default=3000.0, help="seconds of audio to load")
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--num-layers", type=int, default=3)
    parser.add_argument(
        "--max-duration",
        type=float,
        default=0.0,
        help="(a): seconds of padded audio per batch (default 0: batch-size x mean duration, the same "
        "real audio per optimizer step as (b), so both make the same number of updates per audio hour)",
    )
    parser.add_argument("--num-buckets", type=int, default=10, help="(a): duration buckets")
    parser.add_argument("--batch-size", type=int, default=32, help="(b): utterances per batch")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--round-seconds", type=float, default=30.0, help="wall seconds per method per round")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16", "fp16"],
        help="(a): as train.precision (auto: bf16 on AMX CPUs and CUDA, else fp32)",
    )
    parser.add_argument(
        "--plain-precision",
        default="fp32",
        choices=["same", "fp32", "bf16", "fp16"],
        help="(b): fp32 (a plain PyTorch loop, the default) or 'same' as (a) to isolate batching",
    )
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(
        True
    )  # as `asr train` does, for both methods (without it, (b) fp32 is 3.5x slower)
    torch.manual_seed(0)
    device = torch.device(args.device)
    vocab = Vocabulary.english_characters()
    utterances = load_utterances(args, vocab)
    durations = [len(w) / 16000 for w, _ in utterances]
    model_config = ModelConfig(hidden_size=args.hidden_size, num_layers=args.num_layers)
    recognizer = SpeechRecognizer(FeatureConfig(), model_config, vocab).to(device).train()
    optimizer = torch.optim.AdamW(recognizer.parameters(), lr=1e-4)
    ctc = torch.nn.CTCLoss(blank=vocab.blank_id, reduction="mean", zero_infinity=True)
    amp_dtype = autocast_dtype(args.precision, device)
    plain_precision = args.precision if args.plain_precision == "same" else args.plain_precision
    plain_amp_dtype = autocast_dtype(plain_precision, device)
    pack = device.type == "cuda"
    max_duration = args.max_duration or args.batch_size * sum(durations) / len(durations)
    print(
        f"{len(utterances)} utterances, {sum(durations):.0f} s of audio; model {args.num_layers} x "
        f"{args.hidden_size} ({recognizer.acoustic.num_parameters() / 1e6:.1f} M parameters); device {device}, "
        f"{args.threads} threads; (a) max_duration {max_duration:.0f} s, {amp_dtype or torch.float32}; "
        f"(b) batch {args.batch_size}, {plain_amp_dtype or torch.float32}"
    )

    sampler = DurationBatchSampler(durations, max_duration, args.num_buckets, seed=0)
    rng = random.Random(1)

    def pipeline_batches():
        epoch = 0
        while True:
            sampler.set_epoch(epoch)
            yield from sampler
            epoch += 1

    def plain_batches():
        while True:
            order = list(range(len(utterances)))
            rng.shuffle(order)
            for i in range(0, len(order), args.batch_size):
                yield order[i : i + args.batch_size]

    methods = {"(a) pipeline": pipeline_batches(), "(b) plain": plain_batches()}
    totals = {name: [0.0, 0.0, 0, 0.0] for name in methods}  # audio s, wall s, steps, padded s

    precisions = {"(a) pipeline": amp_dtype, "(b) plain": plain_amp_dtype}

    def step(indices: list[int], dtype: torch.dtype | None) -> tuple[float, float]:
        batch = make_batch(utterances, indices, vocab)
        loss = train_step(recognizer, batch, StepSettings(ctc, device, pack, dtype))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(recognizer.parameters(), 5.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(batch.lengths.sum()) / 16000, float(batch.waveforms.numel()) / 16000

    for name, batches in methods.items():  # warm up kernels (not timed)
        step(next(batches), precisions[name])
    for round_ in range(args.rounds):
        for name, batches in methods.items():
            start = time.perf_counter()
            while time.perf_counter() - start < args.round_seconds:
                audio, padded = step(next(batches), precisions[name])
                totals[name][0] += audio
                totals[name][2] += 1
                totals[name][3] += padded
            totals[name][1] += time.perf_counter() - start
            if device.type == "cuda":
                torch.cuda.synchronize()
        print(f"round {round_ + 1}/{args.rounds} done", flush=True)

    print(f"\n{'method':<14} {'steps':>6} {'audio-s/s':>10} {'padding':>8} {'audio s/step':>13}")
    speeds = {}
    for name, (audio, wall, steps, padded) in totals.items():
        speeds[name] = audio / wall
        print(
            f"{name:<14} {steps:>6} {speeds[name]:>10.1f} {100 * (1 - audio / padded):>7.1f}% "
            f"{audio / max(1, steps):>13.1f}"
        )
    ratio = speeds["(a) pipeline"] / speeds["(b) plain"]
    print(f"\nratio (a) / (b): {ratio:.2f}x  (target >= 2x on CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
