"""Every `pip install` hint in the code and the docs names our distribution.

`asr` on the public package index is an unrelated project (it also imports as `asr`), so a hint that
says `pip install 'asr[serve]'`, or one that names a dependency alone (`pip install silero-vad`), sends a
user elsewhere or to half an install. A hint names `asr-blstm` (pyproject's [project] name), with extras
that pyproject defines, or this checkout (`pip install -e ".[synth]"`, for recipes and benchmarks that run
from one). Hints are read from Python string constants (messages, docstrings) and comments, and from the
lines of the docs; a hint ends at a backtick, a bracket of the prose, a quote that closes the string, a
`#` comment, or a token glued to the one before ("'asr-blstm[serve]'."). A mention of the command with no
requirement (`pip install -v`) is no hint. Shell scripts and the Makefile run pip (their own pins), they
do not tell users what to install: not read.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
NAME = PYPROJECT["project"]["name"]
EXTRAS = set(PYPROJECT["project"]["optional-dependencies"])

# Where hints live: the package, the recipes and benchmarks, the docs and READMEs.
SOURCES = ["asr", "recipes", "benchmarks", "docs", "README.md", "data/models/README.md"]
SUFFIXES = {".py", ".md", ".toml", ".txt", ".html", ".rst"}
# pip options that take a value (the value is not a requirement)
VALUED = {
    "-c", "--constraint", "-r", "--requirement", "-i", "--index-url", "--extra-index-url", "-f",
    "--find-links", "-t", "--target", "--prefix", "--root", "--no-binary", "--only-binary",
    "--upgrade-strategy", "--config-settings", "-C",
}  # fmt: skip
TOKEN = re.compile(r"""(?:"[^"\n]*"|'[^'\n]*'|[^\s"'`()\[\],;]+(?:\[[^\]\s]*\])?)""")
HINT = re.compile(r"\bpip3? install\b")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def hint_requirements(text: str) -> list[str]:
    """The requirements of the `pip install` hint that starts `text` (right after "pip install")."""
    requirements, pos, expect_value = [], 0, False
    while True:
        space = re.match(r"[ \t]+", text[pos:])
        if space is None:  # end of text, or a token glued to the last one: the hint is over
            break
        pos += space.end()
        token = TOKEN.match(text, pos)
        if token is None:
            break
        pos = token.end()
        word = token.group()
        if word.startswith("#"):
            break
        if expect_value:
            expect_value = False
        elif word.startswith("-"):
            flag = word.split("=", 1)[0]
            expect_value = flag in VALUED and "=" not in word
        else:
            requirements.append(word.strip("'\""))
    return requirements


def requirement_problem(requirement: str) -> str | None:
    """Why a hint's requirement does not name our distribution (None when it does)."""
    m = re.fullmatch(
        r"(?P<name>\.|\./|[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[(?P<extras>[^\]]*)\])?(?P<spec>.*)", requirement
    )
    if m is None:
        return f"cannot read {requirement!r}"
    name = m.group("name")
    if name not in (".", "./") and _normalise(name) != _normalise(NAME):
        return f"names {name!r}, not {NAME!r}"
    unknown = {e.strip() for e in (m.group("extras") or "").split(",") if e.strip()} - EXTRAS
    if unknown:
        return f"names extras pyproject does not define: {sorted(unknown)}"
    return None


def _texts(path: Path) -> list[tuple[int, str]]:
    """(line, text) pieces of a file where hints can be: a Python file's string constants, else lines."""
    source = path.read_text(encoding="utf-8")
    if path.suffix != ".py":
        return list(enumerate(source.splitlines(), 1))
    pieces = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            pieces.append((node.lineno, node.value))
    # a hint split across implicitly concatenated literals is one constant; comments are lines
    pieces += [(i, line) for i, line in enumerate(source.splitlines(), 1) if "#" in line]
    return pieces


def collect_hints() -> list[tuple[str, str]]:
    """(where, hint text) for every `pip install` in the sources that names a requirement."""
    files = []
    for entry in SOURCES:
        path = ROOT / entry
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and p.suffix in SUFFIXES and "__pycache__" not in p.parts
            )
    hints = []
    for path in files:
        if path.suffix != ".py" and path.stat().st_size > 2_000_000:
            continue  # data, not docs
        for line, text in _texts(path):
            for m in HINT.finditer(text):
                if hint_requirements(text[m.end() :]):
                    hints.append((f"{path.relative_to(ROOT)}:{line}", text[m.end() :]))
    return hints


HINTS = collect_hints()


def test_the_scan_finds_the_hints():
    """Not an empty pass: the serve extra's hint, the README's and a recipe's are all found."""
    where = {w.split(":")[0] for w, _ in HINTS}
    assert {"asr/cli/serve.py", "README.md", "recipes/synthetic/synth/piper.py"} <= where
    assert len(HINTS) >= 20


@pytest.mark.parametrize(("where", "text"), HINTS, ids=[w for w, _ in HINTS])
def test_every_pip_install_hint_names_our_distribution(where, text):
    requirements = hint_requirements(text)
    shown = text.split("\n", 1)[0][:100]
    problems = [p for r in requirements if (p := requirement_problem(r))]
    assert not problems, f"{where}: `pip install{shown}`: {'; '.join(problems)}"


@pytest.mark.parametrize(
    ("hint", "requirements"),
    [
        (" 'asr-blstm[serve]'.", ["asr-blstm[serve]"]),
        (' -e ".[synth]" (faster-whisper, ', [".[synth]"]),
        (' --quiet -c constraints.txt -e ".[test]"', [".[test]"]),
        (' "asr-blstm[onnx,serve]"    # elsewhere', ["asr-blstm[onnx,serve]"]),
        (" asr-blstm[onnx,serve]`", ["asr-blstm[onnx,serve]"]),
        (" silero-vad)", ["silero-vad"]),
        (" --force-reinstall asr-blstm", ["asr-blstm"]),
        ("`, editable or from a wheel", []),
        (" -v`) and everything works", []),
    ],
)
def test_hints_are_read_as_a_user_would(hint, requirements):
    assert hint_requirements(hint) == requirements


@pytest.mark.parametrize(
    ("requirement", "ok"),
    [
        ("asr-blstm", True),
        ("ASR_BLSTM[vad]", True),
        ("asr-blstm[onnx,serve]>=0.1", True),
        (".[synth]", True),
        ("asr", False),
        ("asr[serve]", False),
        ("silero-vad", False),
        ("asr-blstm[nosuchextra]", False),
    ],
)
def test_what_counts_as_our_distribution(requirement, ok):
    assert (requirement_problem(requirement) is None) == ok


def test_the_extras_refer_to_our_name():
    """Extras that take other extras (`all`, `train`, ...) name the distribution itself."""
    for extra, requirements in PYPROJECT["project"]["optional-dependencies"].items():
        for requirement in requirements:
            name = re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]
            assert _normalise(name) not in {"asr"}, f"extra {extra!r}: {requirement!r} is the unrelated asr"
