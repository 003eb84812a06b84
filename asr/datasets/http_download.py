"""HTTP download of one file: resumable through ``dest + ".part"`` (an HTTP ``Range`` request), transient
failures (connection cut, timeout, 5xx, 429) retried with exponential backoff, a permanent one (404,
403, ...) failing at once with the URL, and the finished file checked against its published size and
checksum (sha256 or md5; a mismatch deletes the part file and raises :class:`ChecksumError`)."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

from asr.errors import ChecksumError, DownloadError

__all__ = ["ChecksumError", "DownloadError", "download", "file_digest"]

log = logging.getLogger("asr.datasets.download")

_CHUNK = 1 << 20
_USER_AGENT = "asr-recipes/0.1 (+https://github.com/; python urllib)"
# Server answers worth another try: timeouts, throttling, server errors.
_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


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
