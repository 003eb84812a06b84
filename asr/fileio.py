"""Atomic file writing: the one helper every writer of a file that must never be torn uses.

A kill (or a full disk) at any moment leaves either the old file or the new one, never half of one:
the bytes go to a temporary file in the target's folder, are flushed and fsynced, and are renamed over
the target; the folder is fsynced so the rename survives a power cut. On failure the temporary file is
removed and the target is untouched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_path", "atomic_write", "fsync_dir"]


def fsync_dir(folder: str | os.PathLike) -> None:
    """Make a rename in `folder` durable (no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, *, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on a clean exit it replaces `target`.

    For writers that need a path rather than a file object (external tools such as KenLM's
    ``build_binary``, ``torch.save``, ``soundfile.write``). The temporary name keeps the target's
    suffix, so tools that pick a format from it still do. The new file gets ordinary permissions
    (0666 less the umask), not mkstemp's 0600.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if durable and tmp.is_file():
            with tmp.open("rb+") as f:
                os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
        if durable:
            fsync_dir(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_write(
    target: str | os.PathLike, mode: str = "w", *, encoding: str | None = "utf-8", durable: bool = True
) -> Iterator[IO[Any]]:
    """Open a temporary file for writing (`mode` "w" or "wb"); on a clean exit it replaces `target`.

    >>> with atomic_write("out/manifest.jsonl") as f:  # doctest: +SKIP
    ...     f.write(line)
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', not {mode!r}")
    with atomic_path(target, durable=durable) as tmp:
        kwargs = {"encoding": encoding} if mode == "w" else {}
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
