"""Safe archive extraction (``.tar``, ``.tar.gz``, ``.tgz``, ``.tar.bz2``, ``.zip``) and the free-space
checks. Every member is checked before anything is written: absolute paths, ``..``, a path that passes
through a link (one earlier in the archive or one already on disk), links leaving the target or pointing
at other links, device files are all refused (:class:`UnsafeArchiveError`); tar members are then written
only through tarfile's ``data`` filter (a Python without it refuses to extract); the unpacked size must
fit the free space (:class:`DiskSpaceError`)."""

from __future__ import annotations

import os
import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from asr.errors import DiskSpaceError, UnsafeArchiveError

__all__ = ["DiskSpaceError", "UnsafeArchiveError", "disk_free_gb", "extract", "is_archive", "require_space"]

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


def require_space(folder: Path, need: int, what: str) -> None:
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
            require_space(root, sum(i.file_size for i in infos), f"extracting {archive.name}")
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
        require_space(root, sum(m.size for m in members if m.isfile()), f"extracting {archive.name}")
        tar.extractall(root, members=members, filter=data_filter)  # noqa: S202 - members checked above
    return sorted(tops)


# --- download + extract with markers --------------------------------------------------------------


def disk_free_gb(path: str | os.PathLike) -> float:
    """Free space at ``path`` (or its nearest existing parent), in GB."""
    p = Path(path).resolve()
    while not p.exists():
        p = p.parent
    return shutil.disk_usage(p).free / 1e9
