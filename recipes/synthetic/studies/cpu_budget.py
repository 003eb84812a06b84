"""Training throughput of candidate designs on this CPU, interleaved in one process (issue 36, item 4).

    nice -n 5 .venv/bin/python recipes/synthetic/studies/cpu_budget.py --manifest data/cpu-study/train.jsonl
    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 nice -n 5 .venv/bin/python \\
        recipes/synthetic/studies/cpu_budget.py --manifest data/cpu-study/train.jsonl --only base,base-fp32,...

Every setting trains the same utterances (audio held in memory) with the training loop's own `train_step`,
duration-bucketed batches of `--max-duration` s and AdamW, one after another in rounds, so that the load
of a shared machine hits all alike. Each figure is real (unpadded) audio seconds per wall second and per
CPU-second of this process (the latter is what a budget in CPU-hours buys; with one thread the two differ
only by what other processes took); the ratio is against the first setting of the run. Settings:

  name            model (layers x width, front end)   precision  waveform augmentation
  base            5 x 320, stack 3 (the default model)  bf16*     off
  base-fp32       5 x 320, stack 3                      fp32      off
  base-aug        5 x 320, stack 3                      bf16*     config.multi.toml's
  stack4          5 x 320, stack 4                      bf16*     off
  conv4           5 x 320, conv 4x                      bf16*     off
  wide4           4 x 384, stack 4                      bf16*     off
  small           3 x 256, stack 3 (the demo model)     bf16*     off
  small4          3 x 256, stack 4                      bf16*     off

  * bf16 where `train.precision = auto` picks it (AMX CPUs); elsewhere fp32 (the run prints which).
SpecAugment is on in all (the training default; its cost is negligible).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from asr.data.augment import AugmentConfig, make_spec_augment, make_waveform_augment  # noqa: E402
from asr.data.sampler import DurationBatchSampler  # noqa: E402
from asr.features import FeatureConfig  # noqa: E402
from asr.model import ModelConfig  # noqa: E402
from asr.recognizer import SpeechRecognizer  # noqa: E402
from asr.text import Vocabulary  # noqa: E402
from asr.train.setup import autocast_dtype  # noqa: E402
from asr.train.step import StepSettings, train_step  # noqa: E402
from benchmarks.train_throughput import make_batch, manifest_utterances  # noqa: E402

# config.multi.toml's [train.augment]
MULTI_AUGMENT = AugmentConfig(
    speed_perturb=True,
    gain_prob=0.3,
    noise_prob=0.3,
    noise_snr_db=(5.0, 30.0),
    reverb_prob=0.2,
    telephone_prob=0.1,
)

SETTINGS: dict[str, tuple[dict, str, bool]] = {  # name: (ModelConfig fields, precision, waveform aug)
    "base": (dict(hidden_size=320, num_layers=5, subsampling_factor=3), "auto", False),
    "base-fp32": (dict(hidden_size=320, num_layers=5, subsampling_factor=3), "fp32", False),
    "base-aug": (dict(hidden_size=320, num_layers=5, subsampling_factor=3), "auto", True),
    "stack4": (dict(hidden_size=320, num_layers=5, subsampling_factor=4), "auto", False),
    "conv4": (dict(hidden_size=320, num_layers=5, subsampling="conv", subsampling_factor=4), "auto", False),
    "wide4": (dict(hidden_size=384, num_layers=4, subsampling_factor=4), "auto", False),
    "small": (dict(hidden_size=256, num_layers=3, subsampling_factor=3), "auto", False),
    "small4": (dict(hidden_size=256, num_layers=3, subsampling_factor=4), "auto", False),
}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--manifest", required=True, help="training utterances to time")
    parser.add_argument("--audio-seconds", type=float, default=1200.0, help="seconds of audio to load")
    parser.add_argument(
        "--only", default=",".join(SETTINGS), help="comma-separated settings; first = baseline"
    )
    parser.add_argument("--max-duration", type=float, default=120.0, help="seconds of padded audio per batch")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--round-seconds", type=float, default=12.0, help="wall seconds per setting per round"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fp32", action="store_true", help="every setting in fp32 (a CPU without AMX)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # as `asr train` does
    torch.manual_seed(0)
    device = torch.device("cpu")
    vocab = Vocabulary.english_characters()
    utts = manifest_utterances(args.manifest, args.audio_seconds, vocab)
    durations = [len(w) / 16000 for w, _ in utts]
    print(
        f"{len(utts)} utterances, {sum(durations):.0f} s; {args.threads} thread(s); batches of {args.max_duration} s"
    )

    runs = {}
    for name in args.only.split(","):
        fields, precision, aug = SETTINGS[name]
        rec = SpeechRecognizer(FeatureConfig(), ModelConfig(**fields), vocab).to(device).train()
        amp = None if args.fp32 else autocast_dtype(precision, device)
        ctc = torch.nn.CTCLoss(blank=vocab.blank_id, reduction="mean", zero_infinity=True)
        augment = MULTI_AUGMENT if aug else AugmentConfig()
        settings = StepSettings(
            ctc, device, False, amp, make_spec_augment(augment), make_waveform_augment(augment, 16000)
        )
        sampler = DurationBatchSampler(durations, args.max_duration, 10, seed=0)
        opt = torch.optim.AdamW(rec.parameters(), lr=1e-4)

        def batches(sampler=sampler):
            epoch = 0
            while True:
                sampler.set_epoch(epoch)
                yield from sampler
                epoch += 1

        runs[name] = dict(
            rec=rec, settings=settings, opt=opt, it=batches(), audio=0.0, wall=0.0, cpu=0.0, steps=0
        )
        print(
            f"  {name}: {fields}, {amp or torch.float32}, waveform augmentation {'on' if aug else 'off'}, "
            f"{rec.acoustic.num_parameters() / 1e6:.2f} M parameters"
        )

    def step(run: dict) -> float:
        batch = make_batch(utts, next(run["it"]), vocab)
        loss = train_step(run["rec"], batch, run["settings"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(run["rec"].parameters(), 5.0)
        run["opt"].step()
        run["opt"].zero_grad(set_to_none=True)
        return float(batch.lengths.sum()) / 16000

    for run in runs.values():  # warm-up, not timed
        step(run)
    for r in range(args.rounds):
        for run in runs.values():
            w0, c0 = time.perf_counter(), time.process_time()
            while time.perf_counter() - w0 < args.round_seconds:
                run["audio"] += step(run)
                run["steps"] += 1
            run["wall"] += time.perf_counter() - w0
            run["cpu"] += time.process_time() - c0
        print(f"round {r + 1}/{args.rounds} done", flush=True)

    base = next(iter(runs))
    ref = runs[base]["audio"] / runs[base]["cpu"]
    print(f"\n{'setting':<10} {'steps':>6} {'audio-s/wall-s':>15} {'audio-s/CPU-s':>14} {'vs ' + base:>10}")
    for name, run in runs.items():
        per_cpu = run["audio"] / run["cpu"]
        print(
            f"{name:<10} {run['steps']:>6} {run['audio'] / run['wall']:>15.1f} {per_cpu:>14.1f} "
            f"{per_cpu / ref:>9.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
