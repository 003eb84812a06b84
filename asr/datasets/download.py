"""Resumable, verified downloads and safe archive extraction for the public-corpus recipes.

* :func:`download` fetches one URL into ``dest`` through ``dest + ".part"``: an interrupted transfer
  resumes with an HTTP ``Range`` request, transient failures (connection cut, timeout, 5xx, 429) are
  retried with exponential backoff, a permanent one (404, 403, ...) fails at once with the URL in the
  message. The finished file is checked against the published size and checksum (sha256 or md5); a
  mismatch deletes the part file and raises :class:`ChecksumError`.
* :func:`extract` unpacks ``.tar``/``.tar.gz``/``.tgz``/``.tar.bz2``/``.zip``. Every member is checked
  before anything is written: absolute paths, ``..``, a path that passes through a link (one earlier in
  the archive or one already on disk), links leaving the target or pointing at other links, device files
  are all refused (:class:`UnsafeArchiveError`); tar members are then written only through tarfile's
  ``data`` filter (a Python without it refuses to extract); the unpacked size must fit the free space.
* :func:`fetch` does both for a list of :class:`Resource` s with a ``.done`` marker per resource, so a
  second run costs nothing; ``mirror`` replaces the base URL (everything before the file name). Each
  resource's size (exact, or approximate) is checked against the free disk space before downloading.

The HTTP transfer lives in :mod:`asr.datasets.http_download`, extraction and the free-space checks in
:mod:`asr.datasets.archives`; their public names are importable from here too.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from asr.datasets import archives
from asr.datasets.archives import disk_free_gb, extract, is_archive
from asr.datasets.http_download import download, file_digest
from asr.errors import ChecksumError, DiskSpaceError, DownloadError, UnsafeArchiveError

__all__ = [
    "ChecksumError",
    "DiskSpaceError",
    "DownloadError",
    "Resource",
    "UnsafeArchiveError",
    "disk_free_gb",
    "download",
    "extract",
    "fetch",
    "file_digest",
    "is_archive",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resource:
    """One published file: where it lives, how to check it and whether to unpack it."""

    name: str  # file name, also the last path component of the URL
    url: str  # the published URL
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None  # bytes, exact (verified) when published
    extract: bool = True  # unpack after download (archives only)
    approx_size: int | None = None  # bytes, approximate: only for the disk-space check, never verified

    @property
    def expected_bytes(self) -> int | None:
        """The exact size when known, else the approximate one (None: unknown)."""
        return self.size if self.size is not None else self.approx_size

    def url_for(self, mirror: str | None = None) -> str:
        """The URL to fetch: ``mirror`` (a base URL) + the file name, or the published URL."""
        if not mirror:
            return self.url
        return mirror.rstrip("/") + "/" + self.name


def fetch(
    resources: Iterable[Resource],
    download_dir: str | os.PathLike,
    extract_dir: str | os.PathLike | None = None,
    *,
    mirror: str | None = None,
    remove_archive: bool = False,
    retries: int = 5,
    backoff: float = 2.0,
    progress: bool = True,
) -> list[Path]:
    """Download (and unpack into ``extract_dir``, default ``download_dir``) each resource once.

    A ``.<name>.done`` marker in ``download_dir`` records a finished resource (and the top-level folders
    its archive created), so a re-run returns at once unless those folders were deleted. Returns the downloaded file paths (an archive removed after extraction still counts).
    """
    download_dir = Path(download_dir)
    extract_to = Path(extract_dir) if extract_dir is not None else download_dir
    download_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for res in resources:
        path = download_dir / res.name
        marker = download_dir / f".{res.name}.done"
        paths.append(path)
        if marker.exists():
            lines = marker.read_text().splitlines()
            missing = [t for t in lines[1:] if t and not (extract_to / t).exists()]
            if not missing:
                log.info("%s: done already (%s), skipping", res.name, marker)
                continue
            log.warning("%s: %s is gone from %s; fetching again", res.name, ", ".join(missing), extract_to)
            marker.unlink()
        _check_space_for(res, path, extract_to)
        if not (res.sha256 or res.md5):
            log.warning(
                "%s: no published checksum known: the download is NOT verified (only its size, if known)",
                res.name,
            )
        url = res.url_for(mirror)
        log.info("fetching %s", url)
        download(
            url, path, sha256=res.sha256, md5=res.md5, size=res.size,
            retries=retries, backoff=backoff, progress=progress,
        )  # fmt: skip
        if not (res.sha256 or res.md5):
            log.info("%s: sha256 %s (compare it with a trusted copy)", res.name, file_digest(path))
        tops: list[str] = []
        if res.extract and is_archive(path):
            log.info("extracting %s into %s", path, extract_to)
            tops = extract(path, extract_to)
            if remove_archive:
                path.unlink()
        # the marker lists what the archive created, so a deleted corpus is noticed on the next run
        marker.write_text("\n".join([url, *tops]) + "\n")
    return paths


def _check_space_for(res: Resource, path: Path, extract_to: Path) -> None:
    """Refuse a download that cannot fit; warn when download + extraction may not (or size is unknown)."""
    expected = res.expected_bytes
    if expected is None:
        log.warning("%s: size unknown, so free disk space is not checked before downloading", res.name)
        return
    have = 0
    for candidate in (path, path.with_name(path.name + ".part")):
        if candidate.exists():
            have = max(have, candidate.stat().st_size)
    left = max(0, expected - have) if not path.exists() else 0
    kind = "" if res.size is not None else "about "
    archives.require_space(
        path.parent, int(left * 1.02), f"downloading {res.name} ({kind}{expected / 1e9:.2f} GB)"
    )
    if res.extract and is_archive(res.name):
        free = archives.disk_free_gb(extract_to) * 1e9
        if free < left + expected:  # the unpacked size is checked exactly before extracting
            log.warning(
                "%s: download + extraction need about %.1f GB but %s has %.1f GB free",
                res.name, (left + expected) / 1e9, extract_to, free / 1e9,
            )  # fmt: skip
