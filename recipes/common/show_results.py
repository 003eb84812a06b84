"""The end of a recipe run (recipes/common/lib.sh's `transcribe_first` and `finish`): what a user sees last.

show_results.py transcripts --manifest M [--count N] -- ASR_TRANSCRIBE_COMMAND...
    runs the command on the first N audio files of manifest M (JSON output) and prints each
    reference beside its transcript
show_results.py summary --exp DIR --test NAME --seconds S --model PATH [--decoder-config FILE] --asr ASR
    greedy, beam and beam + LM WER/CER of test split NAME (stage 4's DIR/summary-NAME*.json), the
    time the run took, where the model and the reports are, and the command to try on one's own audio
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

# stage 4's reports of one test split (recipes/common/lib.sh evaluate_sets): file suffix → row label
DECODINGS = [("", "greedy"), ("-beam", "beam search"), ("-beam-lm", "beam search + LM")]


def first_rows(manifest: Path, count: int) -> list[tuple[str, str]]:
    """(audio path as the manifest's folder resolves it, reference text) of the first `count` rows."""
    rows = []
    with manifest.open(encoding="utf-8") as f:
        for line in f:
            if len(rows) == count:
                break
            if line.strip():
                row = json.loads(line)
                audio = Path(row["audio"])
                rows.append((str(audio if audio.is_absolute() else manifest.parent / audio), row["text"]))
    return rows


def transcripts(manifest: Path, count: int, command: list[str]) -> int:
    rows = first_rows(manifest, count)
    if not rows:
        print(f"{manifest}: no utterances to transcribe")
        return 1
    out = subprocess.run(
        [*command, "--format", "json", *(audio for audio, _ in rows)],
        stdout=subprocess.PIPE,
        text=True,
    )  # stderr passes through: a file that fails says why there
    texts = {}
    for line in out.stdout.splitlines():
        if line.strip():
            result = json.loads(line)
            texts[result["file"]] = result["text"]
    for audio, reference in rows:
        print(audio)
        print(f"  reference:  {reference}")
        print(f"  transcript: {texts.get(audio, '(not transcribed: see the error above)')}")
    return out.returncode


def _took(seconds: int) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def summary(args: argparse.Namespace) -> int:
    exp = Path(args.exp)
    reports = []
    for suffix, label in DECODINGS:
        path = exp / f"summary-{args.test}{suffix}.json"
        if path.is_file():
            reports.append((label, json.loads(path.read_text(encoding="utf-8"))))
    print()
    print(f"== done in {_took(args.seconds)} ==")
    if reports:
        first = reports[0][1]
        hours = first["audio_hours"]
        audio = f"{hours:.1f} h" if hours >= 1 else f"{60 * hours:.1f} min"
        print(f"{args.test} split: {first['utterances']} utterances, {audio} of audio")
        print(f"  {'':<18}{'WER':>8}{'CER':>8}")
        for label, figures in reports:
            print(f"  {label:<18}{100 * figures['wer']:>7.1f}%{100 * figures['cer']:>7.1f}%")
    else:
        print(f"no scores for the {args.test} split yet: stage 4 writes them")
    decoding = f" (decoder settings: {args.decoder_config})" if args.decoder_config else ""
    print(f"model:    {args.model}{decoding}")
    if reports:
        print(
            f"reports:  {exp}/summary-{args.test}*.json (scores), recogs-{args.test}*.txt (every "
            f"transcript), errs-{args.test}*.txt (aligned errors)"
        )
    command = [args.asr, "transcribe", "your-audio.wav", "--model", args.model]
    if args.decoder_config:
        command += ["--decoder-config", args.decoder_config]
    print("try it on your own audio (any common format and sample rate; --verbose shows each segment):")
    print(f"  {shlex.join(command)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="what", required=True)
    t = sub.add_parser("transcripts")
    t.add_argument("--manifest", type=Path, required=True)
    t.add_argument("--count", type=int, default=3)
    t.add_argument("command", nargs=argparse.REMAINDER, help="-- then the asr transcribe command")
    s = sub.add_parser("summary")
    s.add_argument("--exp", required=True)
    s.add_argument("--test", required=True)
    s.add_argument("--seconds", type=int, required=True)
    s.add_argument("--model", required=True)
    s.add_argument("--decoder-config")
    s.add_argument("--asr", default=".venv/bin/asr")
    args = parser.parse_args(argv)
    if args.what == "transcripts":
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        return transcripts(args.manifest, args.count, command)
    return summary(args)


if __name__ == "__main__":
    sys.exit(main())
