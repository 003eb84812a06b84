"""`asr transcribe`: audio files, folders or glob patterns → text, JSON, subtitles or TSV."""

from __future__ import annotations

import argparse
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
    p.set_defaults(func=run)


def _error(message: str) -> None:
    print(f"asr transcribe: error: {one_line(message)}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
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
    loaded, decoder = load_recognizer(args)
    results = transcribe_many(
        loaded.model,
        [item.path for item in inputs],
        decoder=decoder,
        vad=args.vad,
        max_segment_s=args.max_segment_seconds,
        batch_seconds=args.batch_seconds,
        progress=sys.stderr.isatty(),
    )
    failures = len(problems)
    written: list[Path] = []
    for position, (item, (path, result)) in enumerate(zip(inputs, results)):
        if isinstance(result, Exception):
            _error(str(result))
            failures += 1
            continue
        text = format_transcript(result, args.format, source=str(path))
        if out_dir is not None:
            target = output_path(out_dir, item, args.format)
            if not _write(target, text, written, out_dir, len(inputs) - position - 1):
                return 1
        elif args.format == "txt" and several:
            sys.stdout.write(f"{tsv_field(str(path))}\t{text}")
        else:
            sys.stdout.write(text)
        sys.stdout.flush()
    if failures:
        total = len(inputs) + len(problems)
        print(f"asr transcribe: {failures} of {total} inputs failed", file=sys.stderr)
    return 1 if failures else 0


def _write(target: Path, text: str, written: list[Path], out_dir: Path, after: int) -> bool:
    """Write one output whole or not at all (a temporary file renamed over it); on failure (a full
    disk) say in one line what was kept, and stop: `after` inputs were still to come."""
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
        _error(
            f"cannot write {target} ({e.strerror or e}); stopped: {kept}; not written: this one and "
            f"the {after} input(s) after it"
        )
        return False
    written.append(target)
    return True
