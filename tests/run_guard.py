"""A pytest plugin that fails a run in which a collected test did not run, or two collected tests
share an id (tests/conftest.py registers it).

Both are ways for a suite to pass by not testing: a test that is skipped, or lost between the
collection and the run (xdist schedules by id, so of tests that share one only the first runs, and
the others pass silently), says nothing about the code. The house rule is that a collected test
that does not run is a failure, so a skip or an xfail counts as not run.

Under xdist the controller decides, from the ids its workers collected and every report they sent
back; a worker only runs its share. Counted per test: its teardown report closes it, and it ran
unless its setup or call was skipped (subtests' own reports are not tests). A run that already
failed, was interrupted, or only collects (``--collect-only``) is left as it is.
"""

from collections import Counter
from typing import Any

import pytest

NOT_RUN_SHOWN = 20  # how many of the tests that did not run the message names


class RunGuard:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.collected: list[str] | None = None
        self.ran = 0
        self.not_run: list[str] = []
        self._skipped: dict[tuple[str, str], str] = {}  # (worker, test id) -> why, until its teardown

    # --- what was collected --------------------------------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not self._xdist_controller():
            self.collected = [item.nodeid for item in session.items]

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        # Every worker collects the whole run (xdist refuses to go on if they differ).
        if self.collected is None:
            self.collected = list(ids)

    # --- what ran ----------------------------------------------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if type(report).__name__ == "SubtestReport":
            return
        key = (str(getattr(report, "node", "")), report.nodeid)
        if report.skipped:
            self._skipped.setdefault(key, _why_skipped(report))
        if report.when == "teardown":
            why = self._skipped.pop(key, None)
            if why is None:
                self.ran += 1
            else:
                self.not_run.append(f"{report.nodeid} ({why})")

    # --- the verdict -----------------------------------------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if hasattr(self.config, "workerinput") or self.config.option.collectonly:
            return  # a worker's share, or nothing was meant to run
        if exitstatus != pytest.ExitCode.OK or self.collected is None:
            return  # failed or interrupted already: the run says so itself
        problems = self.problems()
        if problems:
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.ensure_newline()
                reporter.write_sep("=", "run guard: this run did not run what it collected", red=True)
                for line in problems:
                    reporter.write_line(f"run guard: {line}", red=True, bold=True)
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def problems(self) -> list[str]:
        assert self.collected is not None
        found: list[str] = []
        shared = {test_id: n for test_id, n in Counter(self.collected).items() if n > 1}
        for test_id, n in sorted(shared.items()):
            found.append(
                f"{n} collected tests share the id {test_id!r}: xdist runs one of them, and a report "
                "cannot say which failed. Give each its own id (parametrize ids)."
            )
        if self.ran != len(self.collected):
            found.append(
                f"{len(self.collected)} tests collected, {self.ran} ran: every collected test must run "
                "(a skip counts as not run)."
            )
            for test in self.not_run[:NOT_RUN_SHOWN]:
                found.append(f"not run: {test}")
            if len(self.not_run) > NOT_RUN_SHOWN:
                found.append(f"… and {len(self.not_run) - NOT_RUN_SHOWN} more not run")
        return found

    def _xdist_controller(self) -> bool:
        return self.config.pluginmanager.has_plugin("dsession")


def _why_skipped(report: pytest.TestReport) -> str:
    if hasattr(report, "wasxfail"):
        return f"xfail: {report.wasxfail}" if report.wasxfail else "xfail"
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return f"skipped: {longrepr[2].removeprefix('Skipped: ')}"
    return "skipped"


def register(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("run-guard"):
        config.pluginmanager.register(RunGuard(config), "run-guard")
