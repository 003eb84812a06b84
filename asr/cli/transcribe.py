"""`asr transcribe`: audio files, folders or glob patterns → text, JSON, subtitles or TSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from asr.cli.options import add_alias, add_recognizer_arguments, load_recognizer

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".webm", ".aac", ".wma", ".sph"}
FORMATS = ["txt", "json", "srt", "vtt", "tsv"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("transcribe", help="transcribe audio files or folders")
    p.add_argument("inputs", nargs="+", help="audio files, directories or glob patterns ('rec/*.mp3')")
    add_recognizer_arguments(
        p,
        vad_help="how audio is cut at pauses: silero-vad, energy, or auto (silero when installed); "
        "none: fixed pieces",
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="txt",
        help="txt, json (segments, words, times, confidences), srt/vtt subtitles, tsv (start/end in ms)",
    )
    p.add_argument("--output-dir", help="write one NAME.FORMAT file per input here instead of to stdout")
    p.add_argument(
        "--max-segment-seconds", type=float, default=20.0, help="longest piece decoded at once (s)"
    )
    add_alias(p, "--max-segment-s", "max_segment_seconds", type=float)
    p.add_argument("--batch-seconds", type=float, default=120.0, help="audio seconds per model batch")
    p.set_defaults(func=run)


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Files as given; directories searched recursively for audio files."""
    paths: list[Path] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            paths.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES))
        else:
            paths.append(path)
    return paths


def expand_patterns(inputs: list[str]) -> tuple[list[Path], list[str]]:
    """Files, folders (searched for audio) and glob patterns → paths, plus patterns that matched nothing."""
    import glob

    paths: list[Path] = []
    unmatched: list[str] = []
    for raw in inputs:
        if not Path(raw).exists() and glob.has_magic(raw):
            matches = sorted(glob.glob(raw, recursive=True))
            if not matches:
                unmatched.append(raw)
            paths.extend(expand_inputs(matches))
        else:
            paths.extend(expand_inputs([raw]))
    return paths, unmatched


def _unique_name(stem: str, used: set[str]) -> str:
    """`stem`, or stem_2, stem_3 … when an earlier input had the same file name."""
    name, n = stem, 1
    while name in used:
        n += 1
        name = f"{stem}_{n}"
    used.add(name)
    return name


def run(args: argparse.Namespace) -> int:
    from asr.audio import AudioError
    from asr.formats import format_transcript
    from asr.transcription import transcribe_many

    paths, unmatched = expand_patterns(args.inputs)
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
    loaded, decoder = load_recognizer(args)
    out_dir = Path(args.output_dir) if args.output_dir else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    failures = len(unmatched)
    results = transcribe_many(
        loaded.model,
        paths,
        decoder=decoder,
        vad=args.vad,
        max_segment_s=args.max_segment_seconds,
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
            name = _unique_name(Path(path).stem, used)
            (out_dir / f"{name}.{args.format}").write_text(text, encoding="utf-8")
        elif args.format == "txt" and several:
            sys.stdout.write(f"{path}\t{text}")
        else:
            sys.stdout.write(text)
        sys.stdout.flush()
    if failures:
        print(f"asr transcribe: {failures} of {len(paths) + len(unmatched)} inputs failed", file=sys.stderr)
    return 1 if failures else 0
