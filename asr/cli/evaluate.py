"""`asr evaluate`: WER/CER of a model on a manifest, with per-utterance reports."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from asr.cli.options import add_recognizer_arguments, load_recognizer


def add_parser(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="WER/CER of a model on a manifest")
    add_recognizer_arguments(p)
    p.add_argument("--manifest", required=True)
    p.add_argument("--output-dir", help="where recogs/errs/summary files go (default: beside the model)")
    p.add_argument("--name", help="report name (default: the manifest's file name)")
    p.add_argument(
        "--also-greedy",
        action="store_true",
        help="when decoding with beam search: also score greedy decoding in the same run "
        "(reports NAME-greedy)",
    )
    p.set_defaults(func=run)


def _print_summary(report: str, kind: str, summary: dict[str, Any], out_dir: Path) -> None:
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


def _inodes(folder: Path) -> dict[str, int]:
    """Files in `folder` by inode: a report replaced by an atomic write has a new one."""
    if not folder.is_dir():
        return {}
    return {p.name: p.stat().st_ino for p in folder.iterdir() if p.is_file()}


def run(args: argparse.Namespace) -> int:
    from asr.data.manifest import read_manifest
    from asr.evaluate import evaluate_decoders

    items = read_manifest(args.manifest)
    model, decoder = load_recognizer(args)
    name = args.name or Path(args.manifest).stem
    decoders: dict[str, Any] = {name: decoder}
    kinds = {name: "greedy" if model.decoder_config is None else "beam"}
    if kinds[name] == "beam" and args.also_greedy:
        decoders[f"{name}-greedy"] = "greedy"
        kinds[f"{name}-greedy"] = "greedy"
    results = evaluate_decoders(model, items, decoders, progress=sys.stderr.isatty())
    out_dir = Path(args.output_dir) if args.output_dir else _default_output_dir(model.path)
    before = _inodes(out_dir)
    for report, result in results.items():
        try:
            summary = result.write_reports(out_dir, report)
        except OSError as e:  # a full disk: each report is written whole or not at all
            kept = sorted(name for name, inode in _inodes(out_dir).items() if before.get(name) != inode)
            print(
                f"asr evaluate: error: cannot write the reports in {out_dir} ({e.strerror or e}); "
                f"kept: {', '.join(kept) if kept else 'none written by this run'}",
                file=sys.stderr,
            )
            return 1
        _print_summary(report, kinds[report], summary, out_dir)
    skipped = next(iter(results.values())).skipped
    if skipped:
        print(
            f"asr evaluate: {len(skipped)} unreadable utterances skipped (first: {next(iter(skipped))}; "
            f"all listed in {out_dir}/summary-{name}.json)",
            file=sys.stderr,
        )
    return 1 if skipped else 0


def _default_output_dir(model_path: Path) -> Path:
    """Beside the model, but never inside a shipped model's folder (data/models/NAME, by name, path or
    default): that is the project's data, read-only once installed; its reports go to exp/NAME."""
    from asr.loading import shipped_model_dir

    folder = model_path.parent
    if folder.resolve().is_relative_to(shipped_model_dir().parent.resolve()):
        return Path("exp") / folder.name
    return folder
