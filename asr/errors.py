"""Every error asr raises on purpose, in one place, under one base class.

Catch :class:`AsrError` to handle anything the library reports with a message meant for a user; the
subclasses keep the builtin bases they always had (``ValueError``, ``RuntimeError`` …), so existing
``except ValueError`` code still works. Modules re-export the ones they raise (``asr.audio.AudioError``
is this ``AudioError``), so callers may import from either place.
"""

from __future__ import annotations

__all__ = [
    "AsrError",
    "AudioError",
    "AudioTooLong",
    "CheckpointError",
    "ChecksumError",
    "ConfigError",
    "DiskSpaceError",
    "DownloadError",
    "ExportError",
    "LMBuildError",
    "LMToolsMissing",
    "ManifestError",
    "MissingDependency",
    "PrepareError",
    "TrainingError",
    "UnsafeArchiveError",
]


class AsrError(Exception):
    """Base of every error asr raises on purpose; the message says what went wrong and what to do."""


class ConfigError(AsrError, ValueError):
    """A config file or override is invalid; the message says where and why."""


class AudioError(AsrError):
    """Audio that cannot be used; the message names the source, the problem and what to do."""


class AudioTooLong(AudioError):
    """Audio longer than the ``max_seconds`` asked for (found from the header, or while decoding)."""

    def __init__(self, message: str, seconds: float | None = None) -> None:
        super().__init__(message)
        self.seconds = seconds


class ManifestError(AsrError, ValueError):
    """A manifest is missing or has a malformed line; the message gives the file and line number."""


class CheckpointError(AsrError):
    """A checkpoint is missing, unreadable, not ours, or from an unknown format version."""


class ExportError(CheckpointError):
    """An export that cannot be written or an export directory that cannot be loaded."""


class TrainingError(AsrError, RuntimeError):
    """Training cannot go on (e.g. the loss keeps diverging); the message says what to change."""


class LMToolsMissing(AsrError, FileNotFoundError):
    """lmplz or build_binary is not installed; the message says how to get them."""


class LMBuildError(AsrError, RuntimeError):
    """lmplz or build_binary failed; the message holds the end of its output."""


class MissingDependency(AsrError, ImportError):
    """An optional package a feature needs is not installed; the message names the extra to install."""


class PrepareError(AsrError, ValueError):
    """A split cannot be prepared (e.g. none of its listed audio was found or readable)."""


class DownloadError(AsrError, RuntimeError):
    """A download failed for good; the message names the URL and what to try."""


class ChecksumError(DownloadError):
    """The downloaded bytes do not match the published checksum or size (the part file is deleted)."""


class DiskSpaceError(DownloadError):
    """Not enough free disk space for a download or an extraction (checked before any byte is written)."""


class UnsafeArchiveError(AsrError, RuntimeError):
    """An archive member would be written outside the extraction folder, through a link, or is a device."""
