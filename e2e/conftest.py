"""Fixtures for system tests: a temp directory for logs and data, and process teardown.

Logs of every process a failed test started are printed with its report.
"""

import os
import shutil

import pytest

from e2e.support import ProcessGroup

IS_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_binaries(*names: str) -> None:
    """Skip (fail under CI) a test whose programs are not installed."""
    absent = [name for name in names if shutil.which(name) is None]
    if absent:
        reason = f"needs {', '.join(absent)} installed"
        if IS_CI:
            pytest.fail(f"CI requires this test to run: {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        for value in getattr(item, "funcargs", {}).values():
            # The `processes` fixture, or a stack object that carries its group.
            group = value if isinstance(value, ProcessGroup) else None
            group = group or getattr(value, "process_group", None)
            if isinstance(group, ProcessGroup):
                report.sections.append(("process logs", group.logs()))
    return report


@pytest.fixture
def processes():
    """Processes the test starts; all stopped at teardown, their logs shown on failure."""
    group = ProcessGroup()
    yield group
    group.stop_all()
