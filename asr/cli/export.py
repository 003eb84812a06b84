"""`asr export`: a checkpoint → ONNX or TorchScript (optionally int8), or a slim checkpoint."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from asr.cli.options import add_model_argument


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "export", help="export a checkpoint to ONNX or TorchScript (optionally int8), or a slim checkpoint"
    )
    add_model_argument(p, required=True, help="checkpoint to export")
    p.add_argument(
        "--format",
        choices=["onnx", "torchscript", "checkpoint"],
        default="onnx",
        help="checkpoint: a slim .pt for sharing (no optimizer state; with --half, float16 weights)",
    )
    p.add_argument("--half", action="store_true", help="checkpoint format: store weights as float16")
    p.add_argument("--quantize", choices=["int8"], help="dynamic int8 weights for the LSTM and linear layers")
    p.add_argument("-o", "--output", help="output directory (default: beside the model, MODEL-FORMAT[-int8])")
    p.set_defaults(func=run)


def _slim(model: Path, output: str | None, half: bool) -> int:
    from asr.checkpoint import slim_checkpoint

    out = Path(output or model.with_name(f"{model.stem}-slim{'-fp16' if half else ''}.pt"))
    slim_checkpoint(model, out, half=half)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): weights and configs, no optimizer state")
    return 0


def run(args: argparse.Namespace) -> int:
    from asr.export import export_model

    model = Path(args.model)
    if args.format == "checkpoint":
        if args.quantize:
            print("asr export: error: --quantize applies to onnx/torchscript; use --half", file=sys.stderr)
            return 2
        return _slim(model, args.output, args.half)
    if args.half:
        print("asr export: error: --half applies to --format checkpoint", file=sys.stderr)
        return 2
    suffix = f"-{args.quantize}" if args.quantize else ""
    out = args.output or str(model.with_name(f"{model.stem}-{args.format}{suffix}"))
    manifest = export_model(args.model, out, format=args.format, quantize=args.quantize)
    check = json.loads(manifest.read_text())["self_check"]["max_abs_diff_vs_eager"]
    print(f"exported to {manifest.parent}/ (max |log-prob diff| vs the checkpoint, self-check: {check:.2e})")
    print(f"use it: asr transcribe --model {manifest.parent} a.wav | asr serve --model {manifest.parent}")
    return 0
