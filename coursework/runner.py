"""Run the visible task tests of a project tree in a fresh Python and read back what each test did.

Only `check` uses this, on trees the instructor emitted, to prove the students' tests sound. It
never grades: code under test could forge a report written from its own process, which is why
grading judges probes instead (grade.py). The report's path reaches conftest.py through an
environment variable; a test reported twice counts as failed, and nothing after pytest's own
last line counts.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from coursework.emit import tree_environment

REPORT_VARIABLE = "MINIGRAD_TASK_REPORT"  # read (and removed) by tests/conftest.py
TEST_SECONDS = 60                         # one test longer than this fails as an endless loop


@dataclass
class TestRun:
    """What one pytest run of task tests reported."""
    __test__ = False  # a name pytest would otherwise try to collect
    collected: dict = field(default_factory=dict)          # test id -> its task ids
    outcomes: dict = field(default_factory=dict)           # test id -> ("passed" | "failed" | "skipped", output)
    collection_errors: dict = field(default_factory=dict)  # module id -> error text
    problem: str = ""                                      # why the run ended early, if it did

    def failure_of(self, test: str) -> str:
        """What to show for a test that never reported: its module's collection error, or the run's end."""
        for module, error in self.collection_errors.items():
            if test.startswith(module):
                return error
        return self.problem or "the test did not run"

    def read(self, lines: list) -> None:
        """Take the report's records, up to the line conftest writes when pytest finishes."""
        for line in lines:
            record = json.loads(line)
            if "finished" in record:
                return
            if "collected" in record:
                self.collected[record["collected"]] = record["tasks"]
            elif "test" in record:
                test = record["test"]
                self.outcomes[test] = (("failed", "the test was reported twice: the report was tampered with")
                                       if test in self.outcomes else (record["outcome"], record["output"]))
            else:
                self.collection_errors[record["collection_error"]] = record["output"]


def run_task_tests(tree: Path, tasks: list, timeout: float = 600, collect_only: bool = False,
                   test_seconds: int = TEST_SECONDS) -> TestRun:
    """pytest on `tree`'s tests of `tasks` (visible and hidden, if present): `timeout` s in all,
    `test_seconds` for each test."""
    selection = " or ".join(task.marker for task in tasks)
    run = TestRun()
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.jsonl"
        command = [sys.executable, "-m", "pytest", "tests", "-q", "--tb=short", "-p", "no:cacheprovider",
                   "--continue-on-collection-errors", "-m", selection, f"--task-timeout={test_seconds}"]
        command += ["--collect-only"] if collect_only else []
        environment = {**tree_environment(tree), REPORT_VARIABLE: str(report)}
        try:
            result = subprocess.run(command, cwd=tree, env=environment, capture_output=True, text=True,
                                    timeout=timeout)
            if result.returncode not in (0, 1, 5):  # 1: tests failed, 5: none collected
                run.problem = f"pytest exited with code {result.returncode}:\n{tail(result.stdout + result.stderr)}"
        except subprocess.TimeoutExpired:
            run.problem = f"the tests were stopped after {timeout:.0f} s (an endless loop?)"
        run.read(report.read_text().splitlines() if report.exists() else [])
    return run


def tail(text: str, limit: int = 4000) -> str:
    """The end of a long text, where a traceback says what went wrong."""
    return text if len(text) <= limit else "…" + text[-limit:]
