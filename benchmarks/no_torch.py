"""The no-torch path against the same ONNX export run where torch is installed: speed and WER, one run.

    make no-torch-venv
    taskset -c 1 nice -n 5 .venv/bin/python benchmarks/no_torch.py [--export DIR] [--limit 100]

The shipped model exported to ONNX fp32 (made here with `asr export` unless --export is given) transcribes
the first --limit utterances of the test manifest, one at a time, greedy decoding, one onnxruntime thread
(audio decoded to 16 kHz beforehand; timing covers features + acoustic model + decoding, as
benchmarks/inference.py). Once in this interpreter (torch installed) and once in .venv-notorch (no torch,
numpy 2), alternating for --rounds rounds, each a fresh process keeping its best of --repeats passes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "data/models/synthetic-en/model.pt"
MANIFESTS = [ROOT / "data/synthetic-full/test.jsonl", ROOT / "data/synthetic/test.jsonl"]
NO_TORCH_PYTHON = ROOT / ".venv-notorch/bin/python"


def measure(export: str, manifest: str, limit: int, repeats: int) -> dict:
    """This process's figures (run as a subprocess with --worker)."""
    sys.path.insert(0, str(ROOT))
    from asr import load_model
    from asr.audio import load_audio
    from asr.data.manifest import read_manifest
    from asr.inference import emissions
    from asr.metrics import error_stats
    from asr.text import normalize_text

    items = read_manifest(manifest)[:limit]
    model = load_model(export, threads=1)
    audios = [load_audio(item.audio, model.sample_rate) for item in items]
    decoder = model.decoder()
    best, texts = float("inf"), []
    for _ in range(repeats):
        started = time.perf_counter()
        texts = []
        for audio in audios:
            log_probs, lengths = emissions(model, [audio])
            texts.append(decoder.decode(log_probs, lengths)[0][0].text)
        best = min(best, time.perf_counter() - started)
    seconds = sum(len(a) for a in audios) / model.sample_rate
    import numpy

    return {
        "torch": "torch" in sys.modules,
        "numpy": numpy.__version__,
        "x_real_time": seconds / best,
        "wer": 100 * error_stats([normalize_text(i.text) for i in items], texts).rate,
        "audio_s": seconds,
        "utterances": len(items),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--export", help="an ONNX export directory (default: export the shipped model)")
    p.add_argument("--manifest", default=str(next((m for m in MANIFESTS if m.is_file()), MANIFESTS[0])))
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(measure(args.export, args.manifest, args.limit, args.repeats)))
        return 0
    if not NO_TORCH_PYTHON.is_file():
        sys.exit(f"{NO_TORCH_PYTHON}: missing; run `make no-torch-venv`")
    with tempfile.TemporaryDirectory() as tmp:
        export = args.export
        if export is None:
            sys.path.insert(0, str(ROOT))
            from asr.export import export_model

            export = str(Path(tmp) / "onnx")
            export_model(MODEL, export, format="onnx")
        worker = [str(Path(__file__).resolve()), "--worker", "--export", export, "--manifest", args.manifest,
                  "--limit", str(args.limit), "--repeats", str(args.repeats)]  # fmt: skip
        best: dict[str, dict] = {}
        for _ in range(args.rounds):
            for name, python in (("torch installed", sys.executable), ("no torch", str(NO_TORCH_PYTHON))):
                out = subprocess.run([python, *worker], capture_output=True, text=True, check=True).stdout
                result = json.loads(out.strip().splitlines()[-1])
                if name not in best or result["x_real_time"] > best[name]["x_real_time"]:
                    best[name] = result
    first = next(iter(best.values()))
    print(
        f"ONNX fp32 export of {MODEL.parent.name}, {first['utterances']} utterances ({first['audio_s']:.1f} s), greedy"
    )
    print("| environment | torch loaded | numpy | speed (x real time) | WER % |")
    print("|---|---|---|---|---|")
    for name, r in best.items():
        print(f"| {name} | {r['torch']} | {r['numpy']} | {r['x_real_time']:.1f} | {r['wer']:.2f} |")
    ratio = best["no torch"]["x_real_time"] / best["torch installed"]["x_real_time"]
    print(f"no torch / torch installed: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
