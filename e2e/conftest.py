"""Fixtures for system tests: process teardown, and the logs of a failed test's processes.

The helpers that start the processes live in `testing.processes`.
"""

import pytest

from testing.processes import ProcessGroup


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
