"""CI fails when a test is skipped (tests/skip_guard.py): run pytest on a small suite that skips."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SUITE = {
    "test_a.py": """
import pytest

def test_ok():
    pass

def test_skipped():
    pytest.skip("needs the frobnicator package")

@pytest.mark.skipif(True, reason="no widget installed")
def test_skipif():
    pass

@pytest.mark.xfail(reason="known bug", strict=True)
def test_xfail():
    assert False
""",
    "test_mod.py": """
import pytest

pytest.importorskip("no_such_module_for_asr_tests")

def test_never_runs():
    pass
""",
}


def _pytest(folder: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "ASR_FAIL_ON_SKIP", "ASR_ALLOW_SKIP")}
    clean["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), clean.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "skip_guard", "-q", "-p", "no:cacheprovider", str(folder)],
        cwd=folder, env={**clean, **env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture
def suite(tmp_path):
    for name, text in SUITE.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_skips_pass_outside_ci(suite):
    out = _pytest(suite)
    assert out.returncode == 0, out.stdout
    assert "3 skipped" in out.stdout and "SKIPPED-AS-FAILED" not in out.stdout


@pytest.mark.parametrize("env", [{"ASR_FAIL_ON_SKIP": "1"}, {"CI": "true"}], ids=["ASR_FAIL_ON_SKIP", "CI"])
def test_skips_fail_the_run_in_ci_and_are_listed(suite, env):
    out = _pytest(suite, **env)
    assert out.returncode == 1, out.stdout
    listed = [line for line in out.stdout.splitlines() if line.startswith("SKIPPED-AS-FAILED")]
    assert len(listed) == 3, out.stdout
    assert any("test_a.py::test_skipped: needs the frobnicator package" in line for line in listed)
    assert any("test_a.py::test_skipif: no widget installed" in line for line in listed)
    assert any("test_mod.py" in line and "no_such_module_for_asr_tests" in line for line in listed)
    # a skip in the call fails, one in setup (skipif) errors; the module skip keeps its count; xfail is no skip
    assert "1 failed, 1 passed, 1 skipped, 1 xfailed, 1 error" in out.stdout


def test_an_explicit_opt_out_allows_a_skip(suite):
    out = _pytest(suite, ASR_FAIL_ON_SKIP="1", ASR_ALLOW_SKIP="test_a.py::test_skip,test_mod.py")
    assert out.returncode == 0, out.stdout
    assert "SKIPPED-AS-FAILED" not in out.stdout


def test_ci_script_turns_the_guard_on():
    script = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "ASR_FAIL_ON_SKIP=1" in script
