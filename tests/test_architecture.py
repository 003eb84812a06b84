"""The layer rules of docs/architecture.md, checked on the source: no import cycles, who may import whom,
and no file over 400 lines.

The graph holds every import in a module, function-level ones included (a lazy import is still a
dependency); only imports under ``if TYPE_CHECKING:`` are left out, since they never run.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "asr"
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every module named by an import statement under `tree`, relative imports resolved."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for target in _imports(tree, name, path.name == "__init__.py"):
            if target in files and target != name:
                graph[name].add(target)
        graph.setdefault(name, set())
    return dict(graph)


GRAPH = _graph()


def _in(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), plus self-loops."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def connect(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def test_the_graph_sees_the_package():
    # guards the checks below against passing on an empty or mis-resolved graph
    assert len(GRAPH) > 30
    assert "asr.decoding.factory" in GRAPH["asr.decoding"]  # a package-relative import
    assert "asr.decoding" in GRAPH["asr.recognizer"]  # a function-level import counts


def test_no_import_cycles():
    assert _cycles(GRAPH) == []


# (importer prefix, forbidden prefixes, why)
RULES = [
    (("asr.errors", "asr.fileio"), ("asr",), "leaves: import nothing of asr"),
    (
        ("asr.text", "asr.spoken_forms", "asr.metrics", "asr.config"),
        ("asr",),
        "leaves: only asr.errors / asr.fileio (and asr.text its spoken-forms step)",
    ),
    (
        ("asr.decoding",),
        ("asr",),
        "the decoder needs only asr.text (+ numpy, flashlight-text, kenlm): apps that decode get no model",
    ),
    (
        ("asr.runtime",),
        ("asr.checkpoint", "asr.export", "asr.train", "asr.data", "asr.lm", "asr.serve", "asr.cli"),
        "loading an exported model never touches checkpoints or export code",
    ),
    (
        (
            "asr.audio",
            "asr.features",
            "asr.model",
            "asr.vad",
            "asr.recognizer",
            "asr.checkpoint",
            "asr.inference",
            "asr.transcription",
            "asr.formats",
            "asr.evaluate",
        ),
        (
            "asr.train",
            "asr.data.augment",
            "asr.data.sampler",
            "asr.lm",
            "asr.serve",
            "asr.cli",
            "asr.datasets",
        ),
        "inference pulls in no training, LM-building, serving or CLI code",
    ),
    (
        ("asr.serve",),
        ("asr.train", "asr.cli", "asr.lm", "asr.datasets"),
        "the server runs models, not training",
    ),
    (("asr.train", "asr.data"), ("asr.serve", "asr.cli", "asr.lm"), "training does not reach up"),
    (("asr.lm", "asr.datasets", "asr.export"), ("asr.serve", "asr.cli", "asr.train"), "tools below the CLI"),
]
# (importer prefix, target prefix) pairs that the rules above would refuse but are meant
ALLOWED = [
    (("asr.text", "asr.metrics", "asr.config", "asr.decoding"), ("asr.errors", "asr.fileio")),
    (("asr.decoding",), ("asr.text",)),
    (("asr.text",), ("asr.spoken_forms",)),
]


def _allowed(importer: str, target: str) -> bool:
    return any(_in(importer, *importers) and _in(target, *targets) for importers, targets in ALLOWED)


@pytest.mark.parametrize("importers, forbidden, why", RULES, ids=[r[0][0] for r in RULES])
def test_layer_rules(importers, forbidden, why):
    broken = [
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if _in(module, *importers)
        for target in sorted(targets)
        if _in(target, *forbidden) and not _in(target, *importers) and not _allowed(module, target)
    ]
    assert broken == [], why


def test_nothing_imports_the_cli_but_main():
    importers = sorted(
        m for m, ts in GRAPH.items() if not _in(m, "asr.cli") and any(_in(t, "asr.cli") for t in ts)
    )
    assert importers == ["asr.__main__"]


def test_no_source_file_over_the_limit():
    long = {}
    for folder in ("asr", "recipes", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                long[str(path.relative_to(ROOT))] = lines
    assert long == {}, f"files over {MAX_LINES} lines: split them by job"
