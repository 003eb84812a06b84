"""Resumable, verified downloads and safe archive extraction for the public-corpus recipes.

* :func:`download` fetches one URL into ``dest`` through ``dest + ".part"``: an interrupted transfer
  resumes with an HTTP ``Range`` request, transient failures (connection cut, timeout, 5xx, 429) are
  retried with exponential backoff, a permanent one (404, 403, ...) fails at once with the URL in the
  message. The finished file is checked against the published size and checksum (sha256 or md5); a
  mismatch deletes the part file and raises :class:`ChecksumError`.
* :func:`extract` unpacks ``.tar``/``.tar.gz``/``.tgz``/``.tar.bz2``/``.zip`` refusing any member that
  would land outside the target folder (absolute paths, ``..``, links pointing out, device files).
* :func:`fetch` does both for a list of :class:`Resource` s with a ``.done`` marker per resource, so a
  second run costs nothing; ``mirror`` replaces the base URL (everything before the file name).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import shutil
import socket
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

__all__ = [
    "ChecksumError",
    "DownloadError",
    "Resource",
    "UnsafeArchiveError",
    "download",
    "extract",
    "fetch",
    "file_digest",
]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_USER_AGENT = "asr-recipes/0.1 (+https://github.com/; python urllib)"
# Server answers worth another try: timeouts, throttling, server errors.
_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


class DownloadError(RuntimeError):
    """A download failed for good; the message names the URL and what to try."""


class ChecksumError(DownloadError):
    """The downloaded bytes do not match the published checksum or size (the part file is deleted)."""


class UnsafeArchiveError(RuntimeError):
    """An archive member would be written outside the extraction folder (or is a device file)."""


@dataclass(frozen=True)
class Resource:
    """One published file: where it lives, how to check it and whether to unpack it."""

    name: str  # file name, also the last path component of the URL
    url: str  # the published URL
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None  # bytes, when published
    extract: bool = True  # unpack after download (archives only)

    def url_for(self, mirror: str | None = None) -> str:
        """The URL to fetch: ``mirror`` (a base URL) + the file name, or the published URL."""
        if not mirror:
            return self.url
        return mirror.rstrip("/") + "/" + self.name


# --- checksums ------------------------------------------------------------------------------------


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _verify(path: Path, url: str, sha256: str | None, md5: str | None, size: int | None) -> None:
    """Raise ChecksumError (after deleting ``path``) when size or checksum differ from the published ones."""
    problems = []
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        problems.append(f"size {actual_size} bytes, expected {size}")
    else:
        for algorithm, expected in (("sha256", sha256), ("md5", md5)):
            if expected:
                actual = file_digest(path, algorithm)
                if actual.lower() != expected.lower():
                    problems.append(f"{algorithm} {actual}, expected {expected}")
                break  # one strong check is enough
    if problems:
        path.unlink(missing_ok=True)
        raise ChecksumError(
            f"{url}: downloaded file does not match the published checksum ({'; '.join(problems)}); "
            f"the partial file {path} was deleted. Re-run to download again, or try another mirror "
            "(--mirror URL)."
        )


# --- download -------------------------------------------------------------------------------------


def download(
    url: str,
    dest: str | os.PathLike,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    size: int | None = None,
    retries: int = 5,
    backoff: float = 2.0,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``dest`` (resuming ``dest.part``), verify it, and return ``dest``.

    A ``dest`` that already exists is verified (when a checksum is given) and kept if it matches.
    ``retries`` counts extra attempts after transient failures; the wait doubles from ``backoff``
    seconds. Raises :class:`DownloadError` (or :class:`ChecksumError`) with the URL and what to do.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        try:
            _verify(dest, url, sha256, md5, size)
        except ChecksumError:
            log.warning("%s exists but does not match its checksum: downloading it again", dest)
        else:
            log.info("%s already downloaded", dest)
            return dest
    part = dest.with_name(dest.name + ".part")
    attempt = 0
    while True:
        try:
            _transfer(url, part, timeout=timeout, progress=progress, expected_size=size)
            break
        except _PermanentError as e:
            raise DownloadError(
                f"{url}: {e}. Check the URL, or use another mirror (--mirror BASE_URL)."
            ) from None
        except (OSError, http.client.HTTPException, _TransientError) as e:
            attempt += 1
            have = part.stat().st_size if part.exists() else 0
            if attempt > retries:
                raise DownloadError(
                    f"{url}: download failed after {retries + 1} attempts ({type(e).__name__}: {e}); "
                    f"{have} bytes are kept in {part} and the next run resumes from there. "
                    "Check the connection or use another mirror (--mirror BASE_URL)."
                ) from None
            wait = backoff * 2 ** (attempt - 1)
            log.warning(
                "%s: %s: %s; retry %d/%d in %.1f s (resuming at byte %d)",
                url, type(e).__name__, e, attempt, retries, wait, have,
            )  # fmt: skip
            time.sleep(wait)
    _verify(part, url, sha256, md5, size)
    os.replace(part, dest)
    log.info("downloaded %s (%d bytes)", dest, dest.stat().st_size)
    return dest


class _PermanentError(Exception):
    pass


class _TransientError(Exception):
    pass


def _transfer(url: str, part: Path, *, timeout: float, progress: bool, expected_size: int | None) -> None:
    """One attempt: append to ``part`` from where it stops; raise on any failure."""
    have = part.stat().st_size if part.exists() else 0
    if expected_size is not None and have == expected_size:
        return  # complete already: only verification is left
    if expected_size is not None and have > expected_size:
        part.unlink()
        have = 0
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:
            # Range not satisfiable: the part file holds the whole file already (or more): verify it.
            total = _content_range_total(e.headers.get("Content-Range"))
            if total is None or total == have:
                return
            part.unlink()
            raise _TransientError(f"server rejected resuming at byte {have} (file has {total})") from None
        if e.code in _RETRY_STATUS:
            raise _TransientError(f"HTTP {e.code} {e.reason}") from None
        raise _PermanentError(f"HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        if isinstance(e.reason, (socket.timeout, ConnectionError, OSError)):
            raise _TransientError(str(e.reason)) from None
        raise _PermanentError(str(e.reason)) from None

    with response:
        status = response.status
        if have and status == 206:
            mode = "ab"
            total = _content_range_total(response.headers.get("Content-Range"))
        else:
            if have:
                log.info("%s: server does not support resuming; starting over", url)
            have, mode = 0, "wb"
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        total = total or expected_size
        from tqdm import tqdm

        with (
            open(part, mode) as out,
            tqdm(
                total=total,
                initial=have,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=part.name.removesuffix(".part"),
                disable=not progress,
                leave=False,
            ) as bar,
        ):
            while True:
                block = response.read(_CHUNK)
                if not block:
                    break
                out.write(block)
                bar.update(len(block))
            out.flush()
            os.fsync(out.fileno())
    got = part.stat().st_size
    if total is not None and got < total:
        raise _TransientError(f"connection closed after {got} of {total} bytes")


def _content_range_total(value: str | None) -> int | None:
    """The total size in ``Content-Range: bytes a-b/TOTAL`` (None when absent or ``*``)."""
    if not value or "/" not in value:
        return None
    total = value.rsplit("/", 1)[1].strip()
    return int(total) if total.isdigit() else None


# --- extraction -----------------------------------------------------------------------------------

_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".zip")


def is_archive(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(_ARCHIVE_SUFFIXES)


def _safe_target(root: Path, name: str, archive: Path) -> Path:
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (pure.parts and ":" in pure.parts[0]):
        raise UnsafeArchiveError(
            f"{archive}: member {name!r} would be written outside {root}; refusing to extract this archive "
            "(it is corrupt or malicious: delete it and download it again)"
        )
    target = (root / pure).resolve()
    if target != root and root not in target.parents:
        raise UnsafeArchiveError(f"{archive}: member {name!r} resolves outside {root}; refusing to extract")
    return target


def extract(archive: str | os.PathLike, dest: str | os.PathLike) -> list[str]:
    """Unpack ``archive`` into ``dest`` safely; returns the top-level names it created.

    Every member is checked before anything is written: no absolute paths, no ``..``, no link whose
    target leaves ``dest``, no device or FIFO files (:class:`UnsafeArchiveError` otherwise).
    """
    archive, root = Path(archive), Path(dest)
    root.mkdir(parents=True, exist_ok=True)
    root = root.resolve()
    tops: set[str] = set()
    if str(archive).lower().endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                _safe_target(root, info.filename, archive)
                tops.add(PurePosixPath(info.filename).parts[0])
            z.extractall(root)
        return sorted(tops)
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        for m in members:
            target = _safe_target(root, m.name, archive)
            if m.isdev() or m.isfifo():
                raise UnsafeArchiveError(
                    f"{archive}: member {m.name!r} is a device/FIFO; refusing to extract"
                )
            if m.issym() or m.islnk():
                link = PurePosixPath(m.linkname)
                base = target.parent if m.issym() else root
                resolved = (base / link).resolve() if not link.is_absolute() else Path(link)
                if link.is_absolute() or (resolved != root and root not in resolved.parents):
                    raise UnsafeArchiveError(
                        f"{archive}: link {m.name!r} -> {m.linkname!r} points outside {root}; refusing to extract"
                    )
            if m.name.strip("/"):
                tops.add(PurePosixPath(m.name).parts[0])
        kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(root, members=members, **kwargs)  # noqa: S202 - members checked above
    return sorted(t for t in tops if t not in (".", ""))


# --- download + extract with markers --------------------------------------------------------------


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
        if res.size and disk_free_gb(download_dir) * 1e9 < res.size * (2.1 if res.extract else 1.05):
            log.warning(
                "%s needs about %.1f GB (download%s) but %s has %.1f GB free",
                res.name, res.size * (2.1 if res.extract else 1.05) / 1e9, " + extraction" if res.extract else "",
                download_dir, disk_free_gb(download_dir),
            )  # fmt: skip
        if not (res.sha256 or res.md5):
            log.warning("%s: no published checksum known; only the size (if known) is checked", res.name)
        url = res.url_for(mirror)
        log.info("fetching %s", url)
        download(
            url, path, sha256=res.sha256, md5=res.md5, size=res.size,
            retries=retries, backoff=backoff, progress=progress,
        )  # fmt: skip
        tops: list[str] = []
        if res.extract and is_archive(path):
            log.info("extracting %s into %s", path, extract_to)
            tops = extract(path, extract_to)
            if remove_archive:
                path.unlink()
        # the marker lists what the archive created, so a deleted corpus is noticed on the next run
        marker.write_text("\n".join([url, *tops]) + "\n")
    return paths


def add_download_arguments(parser) -> None:  # noqa: ANN001 - argparse parser
    """--mirror / --retries / --remove-archive / --no-progress for a recipe's download command."""
    parser.add_argument("--mirror", help="base URL replacing the published one (the file name is appended)")
    parser.add_argument("--retries", type=int, default=5, help="extra attempts after a failure (default 5)")
    parser.add_argument("--remove-archive", action="store_true", help="delete each archive once extracted")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def disk_free_gb(path: str | os.PathLike) -> float:
    """Free space at ``path`` (or its nearest existing parent), in GB."""
    p = Path(path).resolve()
    while not p.exists():
        p = p.parent
    return shutil.disk_usage(p).free / 1e9
