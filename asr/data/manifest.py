"""JSON-lines manifests: {"id", "audio", "duration", "text"} (+ optional "speaker", "offset")."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from asr.errors import ManifestError
from asr.fileio import atomic_write


@dataclass(frozen=True)
class Utterance:
    id: str
    audio: Path
    duration: float
    text: str
    speaker: str | None = None
    offset: float = 0.0


def read_manifest(path: str | os.PathLike) -> list[Utterance]:
    """Parse a manifest; relative audio paths resolve against the manifest's folder."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    base = path.parent
    items = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                audio = Path(row["audio"])
                items.append(
                    Utterance(
                        id=str(row["id"]),
                        audio=audio if audio.is_absolute() else base / audio,
                        duration=float(row["duration"]),
                        text=str(row["text"]),
                        speaker=row.get("speaker"),
                        offset=float(row.get("offset", 0.0)),
                    )
                )
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
                raise ManifestError(
                    f"{path}:{number}: bad manifest line ({type(e).__name__}: {e}); expected JSON with "
                    '"id", "audio", "duration", "text"'
                ) from e
    return items


def read_manifest_rows(path: str | os.PathLike) -> list[dict]:
    """Every line of a manifest as its raw dict, all fields kept (engine, settings, …), paths as written.

    For tools that rewrite manifests; training and evaluation use :func:`read_manifest`."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    rows = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ManifestError(f"{path}:{number}: bad manifest line (not JSON: {e})") from e
            if not isinstance(row, dict):
                raise ManifestError(f"{path}:{number}: bad manifest line (a JSON object expected)")
            rows.append(row)
    return rows


def rebase_rows(rows: Iterable[dict], source: str | os.PathLike, dest: str | os.PathLike) -> list[dict]:
    """Rows read from a manifest in folder ``source``, their relative audio paths made relative to ``dest``.

    Manifests resolve audio against their own folder, so a row moved to another folder needs this."""
    source, dest = Path(source), Path(dest)
    result = []
    for row in rows:
        audio = Path(row["audio"])
        if not audio.is_absolute():
            audio = Path(os.path.relpath(source / audio, dest))
        result.append({**row, "audio": str(audio)})
    return result


def write_manifest(path: str | os.PathLike, rows: list[dict]) -> None:
    """Write rows as JSON lines, atomically."""
    with atomic_write(path) as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
