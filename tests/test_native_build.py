"""The native decoder is built by the package's build, so that every pip install gets the fast search:
setup.py compiles asr/decoding/native/hotword_lm.cpp against the build environment's flashlight-text.

Fast: the pins agree, the library of this install loads, and the fallback says once, at WARNING, that it
is the slower path and why. Slow: the sdist (as `python -m build` makes it) carries the sources and the
vendored headers; a wheel built from it carries the library, and installed into a fresh venv it decodes
on the native path with no warning; a wheel built without a compiler still installs and decodes, on the
fallback, saying so. No network: the wheels are built without build isolation (this venv holds setuptools
and the pinned flashlight-text) and the fresh venvs see this venv's dependencies through a .pth file.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import tomllib
import zipfile
from pathlib import Path

import pytest

import asr.decoding.native as native
from asr.decoding import DecoderConfig
from asr.decoding.hotwords import HotwordGraph
from asr.text import Vocabulary

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LIBRARY_IN_WHEEL = "asr/decoding/native/libasr_hotword_lm.so"


def _pin(requirements: list[str], name: str) -> str:
    (pin,) = [r for r in requirements if re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0] == name]
    return pin


def test_flashlight_is_pinned_alike_for_the_build_and_at_run_time():
    """The library is compiled against the build environment's flashlight-text and loads the runtime's:
    one exact version for both, one the loader accepts."""
    build = _pin(PYPROJECT["build-system"]["requires"], "flashlight-text")
    runtime = _pin(PYPROJECT["project"]["dependencies"], "flashlight-text")
    assert build == runtime
    version = build.split("==", 1)[1]
    assert build == f"flashlight-text=={version}" and version in native.FLASHLIGHT_VERSIONS


def test_this_install_built_the_native_library():
    """`pip install -e .` (make install) compiled the library in place, where the loader looks."""
    lib, why = native.load_library()
    assert lib is not None, why
    assert native.LIBRARY.parent == Path(native.__file__).resolve().parent


def _search_args():
    vocab = Vocabulary.english_characters()
    return vocab, DecoderConfig(), ["cat", "<unk>"], HotwordGraph([]), 1.0


@pytest.fixture
def fresh_log_state(monkeypatch):
    monkeypatch.setattr(native, "_state", {"lib": None, "why": "the test removed it"})
    monkeypatch.delenv("ASR_NATIVE_DECODER", raising=False)


def test_the_fallback_warns_once_that_it_is_slower_and_why(fresh_log_state, caplog):
    with caplog.at_level(logging.DEBUG, logger=native.__name__):
        assert native.lexicon_search(*_search_args()) is None
        assert native.lexicon_search(*_search_args()) is None
    records = [r for r in caplog.records if r.name == native.__name__]
    assert len(records) == 1 and records[0].levelno == logging.WARNING
    message = records[0].getMessage()
    assert "slower path" in message and "flashlight-text's KenLM" in message
    assert "the test removed it" in message


def test_asking_for_the_fallback_is_no_warning(fresh_log_state, caplog, monkeypatch):
    monkeypatch.setenv("ASR_NATIVE_DECODER", "0")
    with caplog.at_level(logging.DEBUG, logger=native.__name__):
        assert native.lexicon_search(*_search_args()) is None
    (record,) = [r for r in caplog.records if r.name == native.__name__]
    assert record.levelno == logging.INFO and "ASR_NATIVE_DECODER=0" in record.getMessage()


def test_a_missing_library_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setattr(native, "LIBRARY", tmp_path / "libasr_hotword_lm.so")
    lib, why = native._load()
    assert lib is None and "not built" in why and "C++ compiler" in why


# --- slow: sdist → wheel → fresh venv -------------------------------------------------------------

# Decodes with a lexicon and an LM in the fresh venv; prints what it used and what was logged.
DECODE = textwrap.dedent(
    """
    import json, logging, sys
    import numpy as np

    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append([record.levelname, record.getMessage()])

    logging.getLogger("asr").addHandler(Keep(logging.DEBUG))
    logging.getLogger("asr").setLevel(logging.DEBUG)
    import asr
    import asr.decoding.native as native
    from asr.decoding import BeamSearchDecoder
    from asr.text import Vocabulary

    vocab = Vocabulary.english_characters()
    frames = []
    for ch in "_c_a_t_":
        row = np.full(len(vocab), 0.01 / (len(vocab) - 1))
        row[0 if ch == "_" else vocab.tokens.index(ch)] = 0.99
        frames.append(np.log(row))
    emissions = np.asarray(frames, dtype=np.float32)[None]
    decoder = BeamSearchDecoder(vocab, lm=sys.argv[1], lexicon=["cat", "sat"], frame_shift_s=0.02)
    (nbest,) = decoder.decode(emissions)
    print(json.dumps({
        "asr": asr.__file__,
        "library": str(native.LIBRARY),
        "native": decoder._searcher.engine.native is not None,
        "text": nbest[0].text,
        "records": records,
    }))
    """
)

ARPA = """\\data\\
ngram 1=5
ngram 2=1

\\1-grams:
-1.0\t<unk>\t0
-99\t<s>\t0
-1.0\t</s>\t0
-0.5\tcat\t0
-0.7\tsat\t0

\\2-grams:
-0.1\t<s> cat

\\end\\
"""


def _run(cmd: list[str], cwd: Path, env: dict | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{cmd}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def sdist(tmp_path_factory) -> Path:
    """The sdist of a copy of this checkout (the build backend's own build_sdist, as `python -m build`
    calls it), unpacked."""
    root = tmp_path_factory.mktemp("sdist")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "asr", src / "asr", ignore=shutil.ignore_patterns("__pycache__", "*.so", "_build"))
    build_sdist = "import sys; from setuptools import build_meta as b; print(b.build_sdist(sys.argv[1]))"
    out = _run([sys.executable, "-c", build_sdist, str(root / "dist")], cwd=src)
    archive = root / "dist" / out.strip().splitlines()[-1]
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        tar.extractall(root / "unpacked", filter="data")
    (unpacked,) = (root / "unpacked").iterdir()
    assert any(n.endswith("asr/decoding/native/hotword_lm.cpp") for n in names)
    assert any(n.endswith("include/flashlight/lib/text/decoder/LexiconDecoder.h") for n in names)
    assert any(n.endswith("include/flashlight/LICENSE") for n in names)
    assert any(n.endswith("include/asr/lexicon_search.h") for n in names)
    assert not any(n.endswith(".so") for n in names)
    return unpacked


def _wheel(sdist: Path, out: Path, env: dict | None = None) -> Path:
    """A wheel built from a fresh copy of the unpacked sdist (pip builds in the tree it is given)."""
    sdist = shutil.copytree(sdist, out.parent / "sdist")
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
    _run([*pip_wheel, "-w", str(out), str(sdist)], cwd=out.parent, env=env)
    (wheel,) = out.glob("asr_blstm-*.whl")
    return wheel


def _fresh_venv_decode(wheel: Path, where: Path) -> dict:
    """Install `wheel` with pip into a new venv (its dependencies: this venv's, by a .pth file) and decode."""
    venv = where / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=where)
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel)], cwd=where)
    site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=where).strip()
    )
    ours = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (site / "zz_test_dependencies.pth").write_text("\n".join(ours) + "\n")
    (where / "lm.arpa").write_text(ARPA)
    (where / "decode.py").write_text(DECODE)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ASR_NATIVE_DECODER")}
    result = json.loads(
        _run([str(python), "decode.py", "lm.arpa"], cwd=where, env=env).strip().splitlines()[-1]
    )
    assert Path(result["asr"]).is_relative_to(venv), result  # the wheel's asr, not this checkout's
    assert result["text"] == "cat"
    return result


@pytest.mark.slow
def test_a_wheel_from_the_sdist_decodes_natively_in_a_fresh_venv(sdist, tmp_path):
    wheel = _wheel(sdist, tmp_path / "dist")
    with zipfile.ZipFile(wheel) as z:
        assert LIBRARY_IN_WHEEL in z.namelist()
    result = _fresh_venv_decode(wheel, tmp_path)
    assert result["native"], result
    assert Path(result["library"]).is_relative_to(tmp_path / "venv")
    assert not [r for r in result["records"] if r[0] in ("WARNING", "ERROR")], result["records"]


@pytest.mark.slow
def test_without_a_compiler_the_wheel_installs_and_decodes_on_the_fallback(sdist, tmp_path):
    env = {**os.environ, "CC": "false", "CXX": "false"}  # a compiler that always fails
    wheel = _wheel(sdist, tmp_path / "dist", env=env)
    with zipfile.ZipFile(wheel) as z:
        assert LIBRARY_IN_WHEEL not in z.namelist()
    result = _fresh_venv_decode(wheel, tmp_path)
    assert not result["native"], result
    warnings = [r for r in result["records"] if r[0] == "WARNING"]
    assert len(warnings) == 1 and "slower path" in warnings[0][1] and "not built" in warnings[0][1], result
