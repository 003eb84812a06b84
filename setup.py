"""Builds the native lexicon + LM search (asr/decoding/native) as part of the package; metadata is in
pyproject.toml.

``hotword_lm.cpp`` is compiled against the flashlight-text wheel of the build environment (a build
requirement, pinned to the version of the runtime dependency: the C++ ABI must match the one loaded at
run time) into ``asr/decoding/native/libasr_hotword_lm.so``, a plain shared library that
``asr/decoding/native/__init__.py`` loads with ctypes. An editable install (``pip install -e .``) builds it
in place, beside that ``__init__.py``; a wheel carries it.

The extension is optional: without a C++ compiler, or without flashlight-text in the build environment,
the build warns and the package installs without it; decoding then takes flashlight-text's slower path
and says so once, at WARNING (asr/decoding/native/__init__.py).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

NATIVE = "asr/decoding/native"
# The name is that of a plain shared library: the file is lib<name>.so, not a Python extension module.
LIBRARY = "asr.decoding.native.libasr_hotword_lm"


def _warn(message: str) -> None:
    print(f"WARNING: asr native decoder: {message}", file=sys.stderr)


def _flashlight_dir() -> Path | None:
    """flashlight/lib/text of the build environment's flashlight-text wheel, which holds its libraries."""
    spec = importlib.util.find_spec("flashlight.lib.text")  # imports the `flashlight` namespace only
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


class BuildNative(build_ext):
    """build_ext for the native decoder: finds flashlight-text's libraries, names the file as the loader
    expects, and skips (with a warning) what cannot be built."""

    def get_ext_filename(self, fullname: str) -> str:
        # build_ext asks with the full dotted name and with its last part (get_ext_fullpath)
        if fullname in (LIBRARY, LIBRARY.rpartition(".")[2]):
            return os.path.join(*fullname.split(".")) + ".so"
        return super().get_ext_filename(fullname)

    def build_extension(self, ext: Extension) -> None:
        if ext.name != LIBRARY:
            return super().build_extension(ext)
        if sys.platform != "linux":
            _warn(f"not built: it is built on Linux only (this is {sys.platform})")
            return None
        fl = _flashlight_dir()
        if fl is None or not (fl / "libflashlight-text.so.0").is_file():
            _warn("not built: flashlight-text is not installed in the build environment")
            return None
        ext.library_dirs = [str(fl)]
        ext.extra_link_args = [
            "-l:libflashlight-text.so.0",
            "-l:libflashlight-text-kenlm.so.0",
            # In a wheel's install the library lies in site-packages/asr/decoding/native and flashlight's
            # in site-packages/flashlight/lib/text. Elsewhere (an editable install) the loader imports
            # flashlight's Python modules first, and the dynamic linker binds to the libraries they
            # loaded (same sonames).
            "-Wl,-rpath,$ORIGIN/../../../flashlight/lib/text",
            # flashlight's kenlm library needs the libraries its wheel vendors (auditwheel's .libs).
            f"-Wl,-rpath-link,{fl.parent.parent.parent / 'flashlight_text.libs'}",
            "-Wl,--no-undefined",
        ]
        return super().build_extension(ext)


setup(
    ext_modules=[
        Extension(
            LIBRARY,
            sources=[f"{NATIVE}/hotword_lm.cpp"],
            depends=[str(p) for p in sorted(Path(NATIVE, "include").rglob("*.h"))],
            include_dirs=[f"{NATIVE}/include"],
            language="c++",
            # flashlight-text's wheels are built with the old libstdc++ string ABI.
            extra_compile_args=[
                "-std=c++17",
                "-O2",
                "-g0",
                "-fvisibility=hidden",
                "-D_GLIBCXX_USE_CXX11_ABI=0",
            ],
            # No compiler: the build warns and goes on without it (the slower decoder path).
            optional=True,
        )
    ],
    cmdclass={"build_ext": BuildNative},
)
