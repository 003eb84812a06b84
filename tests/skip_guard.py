"""In CI a skipped test is a failed test: a missing system package must not silently turn tests off.

Active when ``CI=true`` or ``ASR_FAIL_ON_SKIP=1`` (``.ci/run`` sets it). A skipped test (``pytest.skip``,
``skipif``) is reported as a failure naming the reason; a module skipped at collection (``importorskip``)
makes the session exit non-zero; the summary lists them all. A skip that is legitimate on some machine
needs an explicit opt-out: ``ASR_ALLOW_SKIP`` holds comma-separated substrings of test ids that may skip
(e.g. ``ASR_ALLOW_SKIP=test_ddp.py,test_browser.py``). Deselection (``-m "not slow"``, ``-k``) is not a
skip. conftest.py imports the hooks below; ``pytest -p skip_guard`` loads them anywhere else.
"""

from __future__ import annotations

import os

import pytest

_failed_skips: list[tuple[str, str]] = []


def fail_on_skip() -> bool:
    """Whether skips count as failures in this run."""
    return os.environ.get("ASR_FAIL_ON_SKIP", "") == "1" or os.environ.get("CI", "").lower() == "true"


def _allowed(nodeid: str) -> bool:
    allowed = [a.strip() for a in os.environ.get("ASR_ALLOW_SKIP", "").split(",") if a.strip()]
    return any(a in nodeid for a in allowed)


def _reason(longrepr: object) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _to_failure(report: pytest.TestReport | pytest.CollectReport) -> None:
    reason = _reason(report.longrepr)
    _failed_skips.append((report.nodeid, reason))
    report.outcome = "failed"
    report.longrepr = (
        f"skipped, and skips fail this run (CI=true or ASR_FAIL_ON_SKIP=1): {reason}\n"
        "Install what it needs (make install), or allow it explicitly with ASR_ALLOW_SKIP=<test id part>."
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and fail_on_skip() and not _allowed(report.nodeid):
        _to_failure(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> object:
    # A module skipped at collection (importorskip) stays a skip here, so the other tests still run
    # (a collection error would stop the session); the session's exit status fails instead.
    outcome = yield
    report = outcome.get_result()
    if report.skipped and fail_on_skip() and not _allowed(report.nodeid):
        _failed_skips.append((report.nodeid, _reason(report.longrepr)))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _failed_skips and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # noqa: ANN001
    if not _failed_skips:
        return
    terminalreporter.section("skipped tests (failures in CI)", red=True)
    for nodeid, reason in _failed_skips:
        terminalreporter.line(f"SKIPPED-AS-FAILED {nodeid}: {reason}")
