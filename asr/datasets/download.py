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

from asr.errors import ChecksumError, DiskSpaceError, DownloadError, UnsafeArchiveError

__all__ = [
    "ChecksumError",
    "DiskSpaceError",
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


def _member_parts(root: Path, name: str, archive: Path) -> tuple[str, ...]:
    """The path components of member ``name`` (``.`` dropped); refuses absolute paths, ``..``, drives."""
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (pure.parts and ":" in pure.parts[0]):
        raise UnsafeArchiveError(
            f"{archive}: member {name!r} would be written outside {root}; refusing to extract this archive "
            "(it is corrupt or malicious: delete it and download it again)"
        )
    return tuple(part for part in pure.parts if part not in ("", "."))


class _MemberChecker:
    """Checks members in archive order, remembering the links declared so far (nothing is written).

    A member may not pass through a link: neither one declared earlier in the archive nor a symlink
    already on disk under the target. With that rule ``..`` in a link target can be resolved
    lexically, so a link is refused when its target leaves the target folder or reaches another link.
    """

    def __init__(self, root: Path, archive: Path) -> None:
        self.root, self.archive = root, archive
        self.links: set[tuple[str, ...]] = set()

    def _is_link(self, parts: tuple[str, ...]) -> bool:
        return parts in self.links or self.root.joinpath(*parts).is_symlink()

    def check_path(self, name: str) -> tuple[str, ...]:
        parts = _member_parts(self.root, name, self.archive)
        for i in range(1, len(parts) + 1):
            if self._is_link(parts[:i]):
                raise UnsafeArchiveError(
                    f"{self.archive}: member {name!r} passes through the link {'/'.join(parts[:i])!r}; "
                    "refusing to extract this archive (it is corrupt or malicious)"
                )
        return parts

    def check_link(self, name: str, parts: tuple[str, ...], linkname: str, symbolic: bool) -> None:
        link = PurePosixPath(linkname.replace("\\", "/"))
        where = f"{self.archive}: link {name!r} -> {linkname!r}"
        if link.is_absolute() or (link.parts and ":" in link.parts[0]):
            raise UnsafeArchiveError(f"{where} points outside {self.root}; refusing to extract")
        # a symlink's target is relative to its folder, a hard link's to the archive root
        current = list(parts[:-1]) if symbolic else []
        for part in link.parts:
            if part in ("", "."):
                continue
            if part == "..":
                if not current:
                    raise UnsafeArchiveError(f"{where} points outside {self.root}; refusing to extract")
                current.pop()
                continue
            current.append(part)
            if self._is_link(tuple(current)):
                raise UnsafeArchiveError(
                    f"{where} goes through the link {'/'.join(current)!r}; refusing to extract"
                )
        self.links.add(parts)


def _require_space(folder: Path, need: int, what: str) -> None:
    """Raise DiskSpaceError when ``folder`` has less than ``need`` bytes free."""
    free = disk_free_gb(folder) * 1e9
    if free < need:
        raise DiskSpaceError(
            f"{what} needs {need / 1e9:.2f} GB but {folder} has {free / 1e9:.2f} GB free; "
            "free some space or choose another folder"
        )


def extract(archive: str | os.PathLike, dest: str | os.PathLike) -> list[str]:
    """Unpack ``archive`` into ``dest`` safely; returns the top-level names it created.

    Every member is checked before anything is written: no absolute paths, no ``..``, no path through
    a link, no link whose target leaves ``dest`` or is another link, no device or FIFO files
    (:class:`UnsafeArchiveError` otherwise); the unpacked size must fit the free space
    (:class:`DiskSpaceError`). Tar members are written through tarfile's ``data`` filter, and a Python
    without that filter refuses to extract at all.
    """
    archive, root = Path(archive), Path(dest)
    root.mkdir(parents=True, exist_ok=True)
    root = root.resolve()
    checker = _MemberChecker(root, archive)
    tops: set[str] = set()
    if str(archive).lower().endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            infos = z.infolist()
            for info in infos:
                parts = checker.check_path(info.filename)
                if parts:
                    tops.add(parts[0])
            _require_space(root, sum(i.file_size for i in infos), f"extracting {archive.name}")
            z.extractall(root)
        return sorted(tops)
    data_filter = getattr(tarfile, "data_filter", None)
    if data_filter is None:
        raise UnsafeArchiveError(
            f"{archive}: this Python's tarfile has no extraction filter (Python >= 3.11.4 has one); "
            "refusing to extract without it"
        )
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        for m in members:
            parts = checker.check_path(m.name)
            if m.isdev() or m.isfifo():
                raise UnsafeArchiveError(
                    f"{archive}: member {m.name!r} is a device/FIFO; refusing to extract"
                )
            if m.issym() or m.islnk():
                checker.check_link(m.name, parts, m.linkname, symbolic=m.issym())
            if parts:
                tops.add(parts[0])
        _require_space(root, sum(m.size for m in members if m.isfile()), f"extracting {archive.name}")
        tar.extractall(root, members=members, filter=data_filter)  # noqa: S202 - members checked above
    return sorted(tops)


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
    _require_space(path.parent, int(left * 1.02), f"downloading {res.name} ({kind}{expected / 1e9:.2f} GB)")
    if res.extract and is_archive(res.name):
        free = disk_free_gb(extract_to) * 1e9
        if free < left + expected:  # the unpacked size is checked exactly before extracting
            log.warning(
                "%s: download + extraction need about %.1f GB but %s has %.1f GB free",
                res.name, (left + expected) / 1e9, extract_to, free / 1e9,
            )  # fmt: skip


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
