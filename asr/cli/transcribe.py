"""`asr transcribe`: audio files, folders or glob patterns → text, JSON, subtitles or TSV.

Transcripts go to stdout (or --output-dir); on stderr, a progress bar when stderr is a terminal (not with
--quiet), and with --verbose each segment with its times as it is decoded (`asr.cli.progress`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from asr.cli.inputs import expand, one_line, output_conflicts, output_path, tsv_field
from asr.cli.options import add_alias, add_recognizer_arguments, load_recognizer

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
    p.add_argument(
        "--output-dir",
        help="write one NAME.FORMAT file per input here instead of to stdout (files found in a folder "
        "keep their path below it); two inputs with one output name are refused",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace outputs that already exist in --output-dir"
    )
    p.add_argument(
        "--max-segment-seconds", type=float, default=20.0, help="longest piece decoded at once (s)"
    )
    add_alias(p, "--max-segment-s", "max_segment_seconds", type=float)
    p.add_argument("--batch-seconds", type=float, default=120.0, help="audio seconds per model batch")
    shown = p.add_mutually_exclusive_group()
    # dest differs from the global `asr --verbose` (debug logging), which a subcommand's own default
    # would otherwise overwrite
    shown.add_argument(
        "--verbose",
        dest="print_segments",
        action="store_true",
        help="print each segment on stderr as it is decoded: [00:01.000 --> 00:04.200] text "
        "(debug logging is `asr --verbose transcribe`)",
    )
    shown.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar and no informational messages: errors and warnings only "
        "(the bar shows only when stderr is a terminal anyway)",
    )
    p.set_defaults(func=run)


def _error(message: str) -> None:
    print(f"asr transcribe: error: {one_line(message)}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    root = logging.getLogger()
    level = root.level
    if args.quiet:
        root.setLevel(max(level, logging.WARNING))
    try:
        return _run(args)
    finally:
        root.setLevel(level)  # as it was for a caller that runs main() in its own process (tests)


def _run(args: argparse.Namespace) -> int:
    from asr.cli.progress import TranscribeView
    from asr.formats import format_transcript
    from asr.transcription import transcribe_many

    inputs, problems = expand(args.inputs)
    for problem in problems:
        _error(problem)
    several = len(inputs) > 1 or any(Path(raw).is_dir() for raw in args.inputs) or bool(problems)
    if several and args.format in ("srt", "vtt", "tsv") and not args.output_dir:
        _error(f"--format {args.format} with several inputs needs --output-dir (one file per input)")
        return 2
    out_dir = Path(args.output_dir) if args.output_dir else None
    if out_dir is not None:
        conflict = output_conflicts(inputs, out_dir, args.format, args.overwrite)
        if conflict is not None:
            _error(conflict)
            return 2
    model, decoder = load_recognizer(args)
    view = TranscribeView(
        sys.stderr, bar=sys.stderr.isatty() and not args.quiet, segments=args.print_segments, names=several
    )
    results = transcribe_many(
        model,
        [item.path for item in inputs],
        decoder=decoder,
        vad=args.vad,
        max_segment_s=args.max_segment_seconds,
        batch_seconds=args.batch_seconds,
        on_progress=view,
    )
    failures = len(problems)
    written: list[Path] = []
    try:
        for position, (item, (path, result)) in enumerate(zip(inputs, results)):
            if isinstance(result, Exception):
                view.error(f"asr transcribe: error: {one_line(str(result))}")
                failures += 1
                continue
            text = format_transcript(result, args.format, source=str(path))
            if out_dir is not None:
                target = output_path(out_dir, item, args.format)
                problem = _write(target, text, written, out_dir, len(inputs) - position - 1)
                if problem is not None:
                    view.error(f"asr transcribe: error: {one_line(problem)}")
                    return 1
            elif args.format == "txt" and several:
                view.write_output(f"{tsv_field(str(path))}\t{text}", sys.stdout)
            else:
                view.write_output(text, sys.stdout)
    finally:
        view.close()  # the bar is gone before the last lines below
    if failures:
        total = len(inputs) + len(problems)
        print(f"asr transcribe: {failures} of {total} inputs failed", file=sys.stderr)
    return 1 if failures else 0


def _write(target: Path, text: str, written: list[Path], out_dir: Path, after: int) -> str | None:
    """Write one output whole or not at all (a temporary file renamed over it); on failure (a full
    disk) return the message that says what was kept, and the run stops: `after` inputs were still
    to come."""
    from asr.fileio import atomic_write

    try:
        with atomic_write(target) as f:
            f.write(text)
    except OSError as e:
        names = ", ".join(one_line(str(p.relative_to(out_dir))) for p in written[-3:])
        kept = (
            f"kept the {len(written)} transcript(s) written before it in {out_dir} "
            f"({'..., ' if len(written) > 3 else ''}{names})"
            if written
            else "no transcript was written"
        )
        return (
            f"cannot write {target} ({e.strerror or e}); stopped: {kept}; not written: this one and "
            f"the {after} input(s) after it"
        )
    written.append(target)
    return None
