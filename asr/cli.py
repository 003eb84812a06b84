"""The `asr` command: one entry point, subcommands named like the Python keywords."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".webm", ".aac", ".wma", ".sph"}


def _expand_inputs(inputs: list[str]) -> list[Path]:
    """Files as given; directories searched recursively for audio files."""
    paths: list[Path] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            paths.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES))
        else:
            paths.append(path)
    return paths


def cmd_train(args: argparse.Namespace) -> int:
    from asr.train.config import load_run_config
    from asr.train.loop import train

    run = load_run_config(args.config, args.set)
    best = train(run, resume=args.resume)
    print(f"best checkpoint: {best}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import torch

    from asr.checkpoint import load_model
    from asr.data.manifest import read_manifest
    from asr.evaluate import evaluate
    from asr.lm import decoder_from_args

    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(args.model, device=args.device)
    items = read_manifest(args.manifest)
    decoder = decoder_from_args(args, model.vocab, model.frame_shift_s)
    result = evaluate(model, items, decoder=decoder)
    name = args.name or Path(args.manifest).stem
    out_dir = Path(args.output_dir) if args.output_dir else Path(args.model).parent
    result.write_reports(out_dir, name)
    summary = result.summary()
    print(
        f"{name}: WER {100 * summary['wer']:.2f}%  CER {100 * summary['cer']:.2f}%  "
        f"({summary['utterances']} utterances, {summary['skipped']} skipped; "
        f"reports in {out_dir}/*-{name}.*)"
    )
    return 0


def cmd_transcribe(args: argparse.Namespace) -> int:
    import torch

    from asr.audio import AudioError
    from asr.checkpoint import load_model
    from asr.lm import decoder_from_args
    from asr.transcribe import transcribe

    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(args.model, device=args.device)
    decoder = decoder_from_args(args, model.vocab, model.frame_shift_s)
    failures = 0
    for path in _expand_inputs(args.inputs):
        try:
            result = transcribe(model, path, decoder=decoder)
        except AudioError as e:
            print(f"error: {e}", file=sys.stderr)
            failures += 1
            continue
        if args.format == "json":
            words = [
                {
                    "word": w.text,
                    "start": round(w.start_s, 3),
                    "end": round(w.end_s, 3),
                    "confidence": round(w.confidence, 3),
                }
                for w in result.words
            ]
            print(json.dumps({"file": str(path), "text": result.text, "words": words}))
        else:
            print(
                f"{path}\t{result.text}"
                if len(args.inputs) > 1 or Path(args.inputs[0]).is_dir()
                else result.text
            )
    return 1 if failures else 0


def build_parser() -> argparse.ArgumentParser:
    from asr.lm import add_decoder_arguments, add_lm_commands

    parser = argparse.ArgumentParser(prog="asr", description="BiLSTM-CTC speech recognition")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model from a TOML config")
    p.add_argument("--config", required=True, help="recipe config, e.g. recipes/synthetic/config.toml")
    p.add_argument("--set", nargs="*", default=[], metavar="SECTION.KEY=VALUE", help="override config values")
    p.add_argument("--resume", action="store_true", help="continue from OUT_DIR/last.pt if present")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="WER/CER of a model on a manifest")
    p.add_argument("--model", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--output-dir", help="where recogs/errs/summary files go (default: beside the model)")
    p.add_argument("--name", help="report name (default: the manifest's file name)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    add_decoder_arguments(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("transcribe", help="transcribe audio files or folders")
    p.add_argument("inputs", nargs="+", help="audio files or directories")
    p.add_argument("--model", required=True)
    p.add_argument("--format", choices=["txt", "json"], default="txt")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    add_decoder_arguments(p)
    p.set_defaults(func=cmd_transcribe)

    add_lm_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    from asr.audio import AudioError
    from asr.checkpoint import CheckpointError
    from asr.config import ConfigError

    expected: tuple[type[BaseException], ...] = (AudioError, CheckpointError, ConfigError, FileNotFoundError)
    try:
        from asr.data.manifest import ManifestError
        from asr.train.loop import TrainingError

        expected += (ManifestError, TrainingError)
    except ImportError:  # pragma: no cover - a decode-only install
        pass
    try:
        return args.func(args)
    except expected as e:
        print(f"asr {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"asr {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
