"""The `asr` command: one entry point, subcommands named like the Python keywords."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

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


def _load_model_arg(args: argparse.Namespace) -> tuple[Any, bool]:
    """Load --model (the default model when absent) on --device; returns (model, whether it is the
    default). The resolved path is written back to args.model: the decoder options look beside it for
    the model's decoder.json."""
    from asr.checkpoint import load_model
    from asr.default_model import resolve_model

    path, is_default = resolve_model(args.model)
    args.model = str(path)
    return load_model(path, device=args.device), is_default


def cmd_train(args: argparse.Namespace) -> int:
    import os

    from asr.train.config import load_run_config
    from asr.train.loop import train

    rank = int(os.environ.get("RANK", "0"))  # under torchrun only rank 0 logs progress and prints
    if rank > 0:
        logging.getLogger().setLevel(logging.WARNING)
    run = load_run_config(args.config, args.set)
    best = train(run, resume=args.resume or args.resume_force, resume_force=args.resume_force)
    if rank == 0:
        out_dir = Path(run.train.out_dir)
        print(f"best checkpoint: {best}")
        print(f"curves: {out_dir / 'curves.png'}; metrics: {out_dir / 'metrics.csv'}")
        print(f"report (skipped utterances, history): {out_dir / 'train_report.json'}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import torch

    from asr.data.manifest import read_manifest
    from asr.evaluate import evaluate_decoders
    from asr.lm import decoder_from_args

    if args.threads:
        torch.set_num_threads(args.threads)
    items = read_manifest(args.manifest)
    model, is_default = _load_model_arg(args)
    decoder = decoder_from_args(args, model.vocab, model.frame_shift_s)
    name = args.name or Path(args.manifest).stem
    decoders = {name: decoder}
    if decoder is not None and args.also_greedy:
        decoders[f"{name}-greedy"] = None
    results = evaluate_decoders(model, items, decoders, progress=sys.stderr.isatty())
    if args.output_dir:
        out_dir = Path(args.output_dir)
    else:  # beside the model, but never inside the shipped model's folder
        out_dir = Path("exp") / "default-model" if is_default else Path(args.model).parent
    for report, result in results.items():
        summary = result.write_reports(out_dir, report)
        kind = "greedy" if decoders[report] is None else "beam"
        print(
            f"{report} ({kind}): WER {100 * summary['wer']:.2f}%  CER {100 * summary['cer']:.2f}%  "
            f"(S {summary['substitutions']} D {summary['deletions']} I {summary['insertions']} "
            f"of {summary['reference_words']} words; {summary['utterances']} utterances, "
            f"{summary['skipped']} skipped; reports in {out_dir}/*-{report}.*)"
        )
        for spk, fig in summary.get("per_speaker", {}).items():
            print(
                f"  speaker {spk}: WER {100 * fig['wer']:.2f}%  CER {100 * fig['cer']:.2f}%  ({fig['utterances']})"
            )
    skipped = next(iter(results.values())).skipped
    if skipped:
        print(
            f"asr evaluate: {len(skipped)} unreadable utterances skipped (first: {next(iter(skipped))}; "
            f"all listed in {out_dir}/summary-{name}.json)",
            file=sys.stderr,
        )
    return 1 if skipped else 0


def _expand_transcribe_inputs(inputs: list[str]) -> tuple[list[Path], list[str]]:
    """Files, folders (searched for audio) and glob patterns → paths, plus patterns that matched nothing."""
    import glob

    paths: list[Path] = []
    unmatched: list[str] = []
    for raw in inputs:
        if not Path(raw).exists() and glob.has_magic(raw):
            matches = sorted(glob.glob(raw, recursive=True))
            if not matches:
                unmatched.append(raw)
            paths.extend(_expand_inputs(matches))
        else:
            paths.extend(_expand_inputs([raw]))
    return paths, unmatched


def cmd_transcribe(args: argparse.Namespace) -> int:
    import torch

    from asr.audio import AudioError
    from asr.formats import format_transcript
    from asr.lm import decoder_from_args
    from asr.transcription import transcribe_many

    paths, unmatched = _expand_transcribe_inputs(args.inputs)
    for pattern in unmatched:
        print(f"asr transcribe: error: {pattern}: no files match", file=sys.stderr)
    several = len(paths) > 1 or any(Path(raw).is_dir() or raw in unmatched for raw in args.inputs)
    if several and args.format in ("srt", "vtt", "tsv") and not args.output_dir:
        print(
            f"asr transcribe: error: --format {args.format} with several inputs needs --output-dir "
            "(one file per input)",
            file=sys.stderr,
        )
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    model, _ = _load_model_arg(args)
    decoder = decoder_from_args(args, model.vocab, model.frame_shift_s)
    out_dir = Path(args.output_dir) if args.output_dir else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    failures = len(unmatched)
    results = transcribe_many(
        model,
        paths,
        decoder=decoder,
        vad=args.vad,
        max_segment_s=args.max_segment_s,
        batch_seconds=args.batch_seconds,
        progress=sys.stderr.isatty(),
    )
    for path, result in results:
        if isinstance(result, AudioError):
            print(f"asr transcribe: error: {result}", file=sys.stderr)
            failures += 1
            continue
        text = format_transcript(result, args.format, source=str(path))
        if out_dir is not None:
            stem = Path(path).stem
            name, n = stem, 1
            while name in used:
                n += 1
                name = f"{stem}_{n}"
            used.add(name)
            (out_dir / f"{name}.{args.format}").write_text(text, encoding="utf-8")
        elif args.format == "txt" and several:
            sys.stdout.write(f"{path}\t{text}")
        else:
            sys.stdout.write(text)
        sys.stdout.flush()
    if failures:
        print(f"asr transcribe: {failures} of {len(paths) + len(unmatched)} inputs failed", file=sys.stderr)
    return 1 if failures else 0


def cmd_export(args: argparse.Namespace) -> int:
    import json

    from asr.export import export_model

    model = Path(args.model)
    if args.format == "checkpoint":
        from asr.checkpoint import slim_checkpoint

        if args.quantize:
            print("asr export: error: --quantize applies to onnx/torchscript; use --half", file=sys.stderr)
            return 2
        out = Path(args.output or model.with_name(f"{model.stem}-slim{'-fp16' if args.half else ''}.pt"))
        slim_checkpoint(model, out, half=args.half)
        print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): weights and configs, no optimizer state")
        return 0
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


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    import torch

    from asr.lm import decoder_from_args
    from asr.serve import ServeConfig, create_app
    from asr.serve.app import API_KEY_ENV, is_loopback, uvicorn_options

    try:
        import uvicorn
    except ImportError:
        print("asr serve: error: needs the serve extra: pip install 'asr[serve]'", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    api_key = args.api_key or os.environ.get(API_KEY_ENV) or None
    config = ServeConfig(
        max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
        max_audio_seconds=args.max_audio_seconds,
        workers=args.workers,
        max_queue=args.max_queue,
        request_timeout_s=args.timeout,
        torch_threads=args.threads,
        vad=args.vad,
        upload_timeout_s=args.upload_timeout,
        api_key=api_key,
    )
    if api_key is None and not is_loopback(args.host):
        print(
            f"asr serve: warning: listening on {args.host} without an API key: anyone who can reach this "
            f"port can use the service (set {API_KEY_ENV} or --api-key; see README, Security)",
            file=sys.stderr,
        )
    model, _ = _load_model_arg(args)
    decoder = decoder_from_args(args, model.vocab, model.frame_shift_s)
    app = create_app(model, config, decoder, model_path=args.model, device=args.device)
    print(f"serving {args.model} on http://{args.host}:{args.port}/  (API docs: /docs)", file=sys.stderr)
    uvicorn.run(app, **uvicorn_options(config, args.host, args.port))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from asr.datasets.commands import add_data_commands
    from asr.lm import add_decoder_arguments, add_lm_commands

    parser = argparse.ArgumentParser(prog="asr", description="BiLSTM-CTC speech recognition")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model from a TOML config")
    p.add_argument("--config", required=True, help="recipe config, e.g. recipes/synthetic/config.toml")
    p.add_argument("--set", nargs="*", default=[], metavar="SECTION.KEY=VALUE", help="override config values")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from OUT_DIR/last.pt if present (refused if its batching settings or manifests changed)",
    )
    p.add_argument(
        "--resume-force",
        action="store_true",
        help="--resume even though train.max_duration/num_buckets/grad_accum/seed or a manifest changed "
        "(the current epoch restarts at its first batch)",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="WER/CER of a model on a manifest")
    p.add_argument(
        "--model",
        help="checkpoint, export directory or model folder (default: $ASR_MODEL, else the shipped "
        "data/models/synthetic-en)",
    )
    p.add_argument("--manifest", required=True)
    p.add_argument("--output-dir", help="where recogs/errs/summary files go (default: beside the model)")
    p.add_argument("--name", help="report name (default: the manifest's file name)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    p.add_argument(
        "--also-greedy",
        action="store_true",
        help="with beam options: also score greedy decoding in the same run (reports NAME-greedy)",
    )
    add_decoder_arguments(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("transcribe", help="transcribe audio files or folders")
    p.add_argument("inputs", nargs="+", help="audio files, directories or glob patterns ('rec/*.mp3')")
    p.add_argument(
        "--model",
        help="checkpoint, export directory or model folder (default: $ASR_MODEL, else the shipped "
        "data/models/synthetic-en)",
    )
    p.add_argument(
        "--format",
        choices=["txt", "json", "srt", "vtt", "tsv"],
        default="txt",
        help="txt, json (segments, words, times, confidences), srt/vtt subtitles, tsv (start/end in ms)",
    )
    p.add_argument("--output-dir", help="write one NAME.FORMAT file per input here instead of to stdout")
    p.add_argument(
        "--vad",
        choices=["auto", "silero", "energy", "none"],
        default="auto",
        help="how audio is cut at pauses: silero-vad, energy, or auto (silero when installed); "
        "none: fixed pieces",
    )
    p.add_argument("--max-segment-s", type=float, default=20.0, help="longest piece decoded at once (s)")
    p.add_argument("--batch-seconds", type=float, default=120.0, help="audio seconds per model batch")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    add_decoder_arguments(p)
    p.set_defaults(func=cmd_transcribe)

    p = sub.add_parser(
        "export", help="export a checkpoint to ONNX or TorchScript (optionally int8), or a slim checkpoint"
    )
    p.add_argument("--model", required=True, help="checkpoint to export")
    p.add_argument(
        "--format",
        choices=["onnx", "torchscript", "checkpoint"],
        default="onnx",
        help="checkpoint: a slim .pt for sharing (no optimizer state; with --half, float16 weights)",
    )
    p.add_argument("--half", action="store_true", help="checkpoint format: store weights as float16")
    p.add_argument("--quantize", choices=["int8"], help="dynamic int8 weights for the LSTM and linear layers")
    p.add_argument("-o", "--output", help="output directory (default: beside the model, MODEL-FORMAT[-int8])")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("serve", help="HTTP API and upload/record page for a model (checkpoint or export)")
    p.add_argument(
        "--model",
        help="checkpoint, export directory or model folder (default: $ASR_MODEL, else the shipped "
        "data/models/synthetic-en)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: all interfaces)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (each with its own model): transcriptions at once",
    )
    p.add_argument("--max-queue", type=int, default=8, help="requests waiting beyond those; more get 503")
    p.add_argument("--max-upload-mb", type=float, default=25.0, help="largest accepted upload (MiB)")
    p.add_argument("--max-audio-seconds", type=float, default=600.0, help="longest accepted audio")
    p.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds (after the upload) before a request gets 504; its worker is killed and replaced",
    )
    p.add_argument(
        "--upload-timeout", type=float, default=60.0, help="seconds an upload may take before it gets 408"
    )
    p.add_argument(
        "--api-key",
        help="require this key on every request (Authorization: Bearer KEY); default: $ASR_API_KEY. "
        "Prefer the environment variable: command lines are visible to other users",
    )
    p.add_argument(
        "--vad",
        choices=["auto", "silero", "energy", "none"],
        default="auto",
        help="how audio is cut at pauses (as for transcribe); energy is cheapest per request",
    )
    add_decoder_arguments(p)
    p.set_defaults(func=cmd_serve)

    add_lm_commands(sub)
    add_data_commands(sub)
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
    import torch

    torch.set_flush_denormal(True)  # padded batches drive LSTM states into slow denormals (see train())
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
