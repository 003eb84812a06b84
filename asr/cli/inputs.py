"""What `asr transcribe` reads and where its outputs go: inputs expanded, outputs named, names shown.

The rule for ``--output-dir``: an input's output is named after the input with the format's suffix
(``talk.wav`` → ``talk.txt``); files found in a folder that was given keep their path below that folder
(``rec/day1/talk.wav`` → ``OUT/day1/talk.txt``). Two inputs that would write the same output are refused
before anything is transcribed, and so is an output that already exists unless ``--overwrite`` is given:
nothing is renamed behind the user's back and nothing is replaced silently.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "AUDIO_SUFFIXES",
    "Input",
    "expand",
    "one_line",
    "output_conflicts",
    "output_path",
    "tsv_field",
]

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".webm", ".aac", ".wma", ".sph"}
_SHOWN = 3  # conflicting or existing outputs named in a message; the rest are counted


@dataclass(frozen=True)
class Input:
    """A file to transcribe and its output's name below --output-dir (without the format's suffix)."""

    path: Path
    name: Path


def _in_folder(folder: Path) -> list[Input]:
    found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and not p.is_dir())
    return [Input(p, p.relative_to(folder).with_suffix("")) for p in found]


def expand(raw_inputs: list[str]) -> tuple[list[Input], list[str]]:
    """Files as given, folders searched recursively for audio files, glob patterns expanded; plus one
    message for each argument that gave nothing (a pattern matching nothing, a folder without audio).
    A file reached twice is transcribed once."""
    inputs: list[Input] = []
    problems: list[str] = []
    for raw in raw_inputs:
        path = Path(raw)
        if not path.exists() and glob.has_magic(raw):
            matches = sorted(glob.glob(raw, recursive=True))
            if not matches:
                problems.append(f"{one_line(raw)}: no files match")
            for match in map(Path, matches):
                inputs.extend(_in_folder(match) if match.is_dir() else [Input(match, Path(match.stem))])
        elif path.is_dir():
            found = _in_folder(path)
            if not found:
                kinds = ", ".join(sorted(AUDIO_SUFFIXES))
                problems.append(
                    f"{one_line(raw)}: is a folder with no audio files in it (looked for {kinds})"
                )
            inputs.extend(found)
        else:
            inputs.append(Input(path, Path(path.stem)))
    seen: set[str] = set()
    unique = []
    for item in inputs:
        key = os.path.realpath(item.path)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique, problems


def output_path(out_dir: Path, item: Input, fmt: str) -> Path:
    return out_dir / item.name.parent / f"{item.name.name}.{fmt}"


def output_conflicts(inputs: list[Input], out_dir: Path, fmt: str, overwrite: bool) -> str | None:
    """Why the outputs cannot be written as planned (two inputs, one output; an output that exists and
    `overwrite` is off), or None."""
    owners: dict[str, Input] = {}
    clashes: list[str] = []
    for item in inputs:
        target = output_path(out_dir, item, fmt)
        key = os.path.normcase(str(target)).casefold()  # case-insensitive file systems clash too
        if key in owners:
            clashes.append(
                f"{one_line(str(owners[key].path))} and {one_line(str(item.path))} -> {one_line(str(target))}"
            )
        else:
            owners[key] = item
    if clashes:
        more = f" (and {len(clashes) - _SHOWN} more)" if len(clashes) > _SHOWN else ""
        return (
            f"inputs would share an output: {'; '.join(clashes[:_SHOWN])}{more}. Give their common folder "
            "instead (outputs keep the path below it), or transcribe them into separate --output-dir folders"
        )
    if not overwrite:
        existing = [t for t in (output_path(out_dir, i, fmt) for i in inputs) if t.exists() or t.is_symlink()]
        if existing:
            shown = ", ".join(one_line(str(t)) for t in existing[:_SHOWN])
            more = f" and {len(existing) - _SHOWN} more" if len(existing) > _SHOWN else ""
            return (
                f"{shown}{more} already exist{'s' if len(existing) == 1 else ''}: pass --overwrite to "
                "replace them, or choose another --output-dir"
            )
    return None


def one_line(text: str) -> str:
    """`text` with control characters escaped (a file name with a newline stays on its line)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def tsv_field(text: str) -> str:
    """`text` for one field of a tab-separated line: backslash, tab, newline and other control
    characters escaped as in Python (\\\\, \\t, \\n, \\x01), so every line splits into its fields."""
    return one_line(text.replace("\\", "\\\\"))
