"""The export directory's manifest, ``asr_export.json``: its name, format version and checks."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from asr.errors import ExportError

__all__ = ["EXPORT_FORMAT_VERSION", "MANIFEST_NAME", "read_export_manifest"]

MANIFEST_NAME = "asr_export.json"
EXPORT_FORMAT_VERSION = 1


def read_export_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The checked manifest of export directory `path`; ExportError says what is wrong and what to do."""
    path = Path(path)
    manifest_path = path / MANIFEST_NAME
    if not manifest_path.is_file():
        raise ExportError(f"{path}: no {MANIFEST_NAME}; export a model with `asr export --model M -o {path}`")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ExportError(f"{manifest_path}: unreadable export manifest ({e}); re-export the model") from e
    if not isinstance(manifest, dict) or manifest.get("format") != "asr-export":
        raise ExportError(f"{manifest_path}: not an asr export manifest")
    if manifest.get("format_version") != EXPORT_FORMAT_VERSION:
        raise ExportError(
            f"{manifest_path}: export format_version {manifest.get('format_version')} is not supported "
            f"(supports {EXPORT_FORMAT_VERSION}); re-export the model with this asr"
        )
    return manifest
