"""Downloads against a local HTTP server on 127.0.0.1: success, resume after a cut, checksum, 404, extraction."""

from __future__ import annotations

import hashlib
import io
import logging
import random
import sys
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from asr.datasets.download import (
    ChecksumError,
    DownloadError,
    Resource,
    UnsafeArchiveError,
    download,
    extract,
    fetch,
)


def _tarball(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


PAYLOAD = random.Random(0).randbytes(60_000)  # incompressible: the archive stays ~60 kB
ARCHIVE = _tarball({"corpus/a.txt": b"hello\n", "corpus/sub/b.txt": PAYLOAD})
SHA256 = hashlib.sha256(ARCHIVE).hexdigest()
MD5 = hashlib.md5(ARCHIVE).hexdigest()


class _Server:
    """Serves ``files``; ``cut[name] = n`` makes the next response for ``name`` stop after n bytes."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.cut: dict[str, int] = {}
        self.fail_5xx: dict[str, int] = {}
        self.no_range = False  # ignore Range headers, like servers that cannot resume
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                name = self.path.lstrip("/").split("/")[-1]
                rng = self.headers.get("Range")
                server.requests.append((self.path, rng))
                if server.fail_5xx.get(name, 0) > 0:
                    server.fail_5xx[name] -= 1
                    self.send_error(503, "busy")
                    return
                if name not in server.files:
                    self.send_error(404, "Not Found")
                    return
                data = server.files[name]
                start = 0
                if rng and not server.no_range:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if name in server.cut:
                    body = body[: server.cut.pop(name)]
                    self.wfile.write(body)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server()
    s.files["corpus.tar.gz"] = ARCHIVE
    yield s
    s.close()


def test_download_success_and_verified(server, tmp_path):
    dest = download(f"{server.base}/corpus.tar.gz", tmp_path / "c.tar.gz", sha256=SHA256, progress=False)
    assert dest.read_bytes() == ARCHIVE
    assert not (tmp_path / "c.tar.gz.part").exists()
    # present and verified: no second request
    n = len(server.requests)
    download(f"{server.base}/corpus.tar.gz", dest, md5=MD5, size=len(ARCHIVE), progress=False)
    assert len(server.requests) == n


def test_resume_after_cut_connection(server, tmp_path, caplog):
    server.cut["corpus.tar.gz"] = 20_000
    caplog.set_level(logging.WARNING)
    dest = download(
        f"{server.base}/corpus.tar.gz", tmp_path / "c.tar.gz", sha256=SHA256, backoff=0.01, progress=False
    )
    assert dest.read_bytes() == ARCHIVE
    # the second request asked only for the missing bytes
    assert server.requests[-1][1] == "bytes=20000-"
    assert "resuming at byte 20000" in caplog.text


def test_resume_from_part_left_by_an_earlier_run(server, tmp_path):
    dest = tmp_path / "c.tar.gz"
    (tmp_path / "c.tar.gz.part").write_bytes(ARCHIVE[:1000])
    download(f"{server.base}/corpus.tar.gz", dest, sha256=SHA256, progress=False)
    assert dest.read_bytes() == ARCHIVE
    assert server.requests == [("/corpus.tar.gz", "bytes=1000-")]


def test_server_without_range_support_starts_over(server, tmp_path):
    server.no_range = True
    (tmp_path / "c.tar.gz.part").write_bytes(b"garbage that is not the start of the file")
    download(f"{server.base}/corpus.tar.gz", tmp_path / "c.tar.gz", sha256=SHA256, progress=False)
    assert (tmp_path / "c.tar.gz").read_bytes() == ARCHIVE


def test_complete_part_file_is_verified_not_refetched(server, tmp_path):
    (tmp_path / "c.tar.gz.part").write_bytes(ARCHIVE)
    download(f"{server.base}/corpus.tar.gz", tmp_path / "c.tar.gz", sha256=SHA256, progress=False)
    assert (tmp_path / "c.tar.gz").read_bytes() == ARCHIVE
    assert server.requests[-1][1] == f"bytes={len(ARCHIVE)}-"  # answered 416: nothing left to fetch


def test_retries_transient_server_errors(server, tmp_path):
    server.fail_5xx["corpus.tar.gz"] = 2
    download(
        f"{server.base}/corpus.tar.gz", tmp_path / "c.tar.gz", sha256=SHA256, backoff=0.01, progress=False
    )
    assert len(server.requests) == 3


def test_gives_up_after_retries_keeping_the_part(server, tmp_path):
    server.fail_5xx["corpus.tar.gz"] = 10
    with pytest.raises(DownloadError, match="after 3 attempts"):
        download(f"{server.base}/corpus.tar.gz", tmp_path / "c", retries=2, backoff=0.01, progress=False)


def test_checksum_mismatch_deletes_part_and_says_so(server, tmp_path):
    with pytest.raises(ChecksumError) as e:
        download(f"{server.base}/corpus.tar.gz", tmp_path / "c.tar.gz", sha256="0" * 64, progress=False)
    assert "sha256" in str(e.value) and "deleted" in str(e.value) and "--mirror" in str(e.value)
    assert not (tmp_path / "c.tar.gz.part").exists() and not (tmp_path / "c.tar.gz").exists()


def test_size_mismatch_is_a_checksum_error(server, tmp_path):
    with pytest.raises(ChecksumError, match="size"):
        download(f"{server.base}/corpus.tar.gz", tmp_path / "c", size=len(ARCHIVE) + 5, progress=False)


def test_404_fails_at_once_with_the_url(server, tmp_path):
    with pytest.raises(DownloadError) as e:
        download(f"{server.base}/missing.tar.gz", tmp_path / "m", backoff=0.01, progress=False)
    assert "404" in str(e.value) and "/missing.tar.gz" in str(e.value)
    assert len(server.requests) == 1  # no retries for a permanent error
    assert not (tmp_path / "m").exists()


def test_fetch_extracts_once_with_marker_and_mirror(server, tmp_path):
    res = Resource("corpus.tar.gz", "http://unreachable.invalid/x/corpus.tar.gz", sha256=SHA256)
    fetch([res], tmp_path / "dl", tmp_path / "out", mirror=server.base + "/", progress=False)
    assert (tmp_path / "out/corpus/sub/b.txt").read_bytes() == PAYLOAD
    assert (tmp_path / "dl/.corpus.tar.gz.done").exists()
    n = len(server.requests)
    fetch([res], tmp_path / "dl", tmp_path / "out", mirror=server.base, progress=False)
    assert len(server.requests) == n  # the marker makes a re-run instant
    # the corpus deleted but the archive kept: re-extracted without a download
    import shutil

    shutil.rmtree(tmp_path / "out/corpus")
    fetch([res], tmp_path / "dl", tmp_path / "out", mirror=server.base, progress=False)
    assert (tmp_path / "out/corpus/a.txt").exists() and len(server.requests) == n


def test_fetch_remove_archive(server, tmp_path):
    res = Resource("corpus.tar.gz", f"{server.base}/corpus.tar.gz", md5=MD5)
    fetch([res], tmp_path, remove_archive=True, progress=False)
    assert (tmp_path / "corpus/a.txt").exists() and not (tmp_path / "corpus.tar.gz").exists()


# --- safe extraction ------------------------------------------------------------------------------


def _evil_tar(path: Path, member: tarfile.TarInfo, data: bytes = b"") -> Path:
    with tarfile.open(path, "w") as tar:
        ok = tarfile.TarInfo("fine.txt")
        ok.size = 2
        tar.addfile(ok, io.BytesIO(b"ok"))
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    return path


@pytest.mark.parametrize("name", ["../escape.txt", "/abs/escape.txt", "a/../../escape.txt"])
def test_extract_refuses_path_escapes(tmp_path, name):
    archive = _evil_tar(tmp_path / "evil.tar", tarfile.TarInfo(name), b"bad")
    with pytest.raises(UnsafeArchiveError, match="outside"):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()
    assert not (tmp_path / "out" / "fine.txt").exists()  # nothing written before the check


def test_extract_refuses_links_out(tmp_path):
    link = tarfile.TarInfo("corpus/link")
    link.type = tarfile.SYMTYPE
    link.linkname = "../../etc/passwd"
    with pytest.raises(UnsafeArchiveError, match="points outside"):
        extract(_evil_tar(tmp_path / "l.tar", link), tmp_path / "out")


def test_extract_refuses_zip_escape(tmp_path):
    archive = tmp_path / "e.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../escape.txt", "bad")
    with pytest.raises(UnsafeArchiveError):
        extract(archive, tmp_path / "out")


def test_extract_zip_and_tar(tmp_path):
    archive = tmp_path / "ok.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("top/x.txt", "x")
    assert extract(archive, tmp_path / "out") == ["top"]
    (tmp_path / "c.tar.gz").write_bytes(ARCHIVE)
    assert extract(tmp_path / "c.tar.gz", tmp_path / "out2") == ["corpus"]


# --- links, the extraction filter, disk space -----------------------------------------------------


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def _tar_of(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w") as tar:
        for info, data in members:
            if info.isfile():
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


def _written(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def test_extract_refuses_the_symlink_chain_with_nothing_written(tmp_path):
    """``a -> .``, ``a/b -> ..``, ``a/b/x``: each link alone stays inside, together x lands outside."""
    outside = tmp_path / "box"
    dest = outside / "out"
    dest.mkdir(parents=True)
    archive = _tar_of(
        tmp_path / "chain.tar",
        [
            (tarfile.TarInfo("fine.txt"), b"ok"),
            (_link("a", "."), b""),
            (_link("a/b", ".."), b""),
            (tarfile.TarInfo("a/b/x"), b"escaped"),
        ],
    )
    with pytest.raises(UnsafeArchiveError, match="passes through the link 'a'"):
        extract(archive, dest)
    assert _written(outside) == ["out"]  # not even fine.txt, and no x beside out/


def test_extract_refuses_a_path_through_a_symlink_already_on_disk(tmp_path):
    dest, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    dest.mkdir()
    elsewhere.mkdir()
    (dest / "corpus").symlink_to(elsewhere)
    archive = _tar_of(tmp_path / "t.tar", [(tarfile.TarInfo("corpus/x.txt"), b"x")])
    with pytest.raises(UnsafeArchiveError, match="passes through the link 'corpus'"):
        extract(archive, dest)
    assert _written(elsewhere) == []


@pytest.mark.parametrize(
    "members",
    [
        [("l1", "."), ("l2", "l1/..")],  # resolves inside lexically, outside through l1
        [("d/l1", ".."), ("d/l2", "l1/../..")],
    ],
    ids=["link-through-link", "nested"],
)
def test_extract_refuses_links_that_go_through_other_links(tmp_path, members):
    archive = _tar_of(tmp_path / "t.tar", [(_link(n, t), b"") for n, t in members])
    with pytest.raises(UnsafeArchiveError, match="goes through the link"):
        extract(archive, tmp_path / "out")
    assert _written(tmp_path / "out") == []


def test_extract_hardlink_out_and_inner_links_ok(tmp_path):
    archive = _tar_of(tmp_path / "h.tar", [(_link("h", "../x", tarfile.LNKTYPE), b"")])
    with pytest.raises(UnsafeArchiveError, match="points outside"):
        extract(archive, tmp_path / "out")
    fine = _tar_of(
        tmp_path / "ok.tar",
        [
            (tarfile.TarInfo("c/a.txt"), b"a"),
            (_link("c/b.txt", "a.txt"), b""),
            (_link("c/h", "c/a.txt", tarfile.LNKTYPE), b""),
        ],
    )
    assert extract(fine, tmp_path / "out2") == ["c"]
    assert (tmp_path / "out2/c/b.txt").read_text() == "a" and (tmp_path / "out2/c/h").read_text() == "a"


def test_extract_never_runs_without_the_data_filter(tmp_path, monkeypatch):
    monkeypatch.delattr(tarfile, "data_filter")
    (tmp_path / "c.tar.gz").write_bytes(ARCHIVE)
    with pytest.raises(UnsafeArchiveError, match="no extraction filter"):
        extract(tmp_path / "c.tar.gz", tmp_path / "out")
    assert _written(tmp_path / "out") == []


def test_extract_checks_the_unpacked_size_against_free_space(tmp_path, monkeypatch):
    import asr.datasets.archives
    import asr.datasets.download as dl

    monkeypatch.setattr(
        asr.datasets.archives, "disk_free_gb", lambda path: 50_000 / 1e9
    )  # 50 kB free, 60 kB inside
    (tmp_path / "c.tar.gz").write_bytes(ARCHIVE)
    with pytest.raises(dl.DiskSpaceError, match=r"extracting c.tar.gz needs 0.00 GB"):
        extract(tmp_path / "c.tar.gz", tmp_path / "out")
    assert _written(tmp_path / "out") == []


def test_fetch_refuses_a_download_that_cannot_fit(server, tmp_path, monkeypatch):
    import asr.datasets.archives
    import asr.datasets.download as dl

    monkeypatch.setattr(asr.datasets.archives, "disk_free_gb", lambda path: 1.0)
    res = Resource("corpus.tar.gz", f"{server.base}/corpus.tar.gz", approx_size=3_000_000_000)
    with pytest.raises(dl.DiskSpaceError, match=r"downloading corpus.tar.gz \(about 3.00 GB\) needs"):
        fetch([res], tmp_path, progress=False)
    assert server.requests == []  # refused before the first byte


def test_every_recipe_archive_has_a_size_for_the_disk_check():
    import importlib.util

    root = Path(__file__).resolve().parents[1]
    resources = []
    for name in ("an4", "librispeech", "ljspeech", "tedlium3"):
        spec = importlib.util.spec_from_file_location(
            f"recipe_{name}_sizes", root / "recipes" / name / "prepare.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses resolve their annotations through sys.modules
        spec.loader.exec_module(module)
        resources += list(getattr(module, "RESOURCES", []))
        resources += [r for rs in getattr(module, "VARIANTS", {}).values() for r in rs]
        if name == "librispeech":
            resources += [module.split_resource(s) for s in module.SPLITS]
            resources += [module.lm_resource(f) for f in module.LM_FILES]
    assert len(resources) >= 4 + 7 + 7
    unknown = [r.name for r in resources if not r.expected_bytes]
    assert unknown == []
