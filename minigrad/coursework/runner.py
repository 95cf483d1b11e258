"""Run the task tests of a project tree in a fresh Python and read back what each test did."""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from minigrad.coursework.emit import tree_environment


@dataclass
class TestRun:
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


def run_task_tests(tree: Path, task_ids: list, timeout: float = 600, collect_only: bool = False) -> TestRun:
    """pytest on `tree`'s tests of `task_ids` (all of them, visible and hidden, if present)."""
    selection = " or ".join("task" + t.replace(".", "_") for t in task_ids)
    run = TestRun()
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.jsonl"
        command = [sys.executable, "-m", "pytest", "tests", "-q", "--tb=short", "-p", "no:cacheprovider",
                   "-m", selection, f"--task-report={report}"] + (["--collect-only"] if collect_only else [])
        try:
            result = subprocess.run(command, cwd=tree, env=tree_environment(tree), capture_output=True,
                                    text=True, timeout=timeout)
            if result.returncode not in (0, 1, 5):  # 1: tests failed, 5: none collected
                run.problem = f"pytest exited with code {result.returncode}:\n{tail(result.stdout + result.stderr)}"
        except subprocess.TimeoutExpired:
            run.problem = f"the tests were stopped after {timeout:.0f} s (an endless loop?)"
        for line in (report.read_text().splitlines() if report.exists() else []):
            record = json.loads(line)
            if "collected" in record:
                run.collected[record["collected"]] = record["tasks"]
            elif "test" in record:
                run.outcomes[record["test"]] = (record["outcome"], record["output"])
            else:
                run.collection_errors[record["collection_error"]] = record["output"]
    return run


def tail(text: str, limit: int = 4000) -> str:
    """The end of a long text, where a traceback says what went wrong."""
    return text if len(text) <= limit else "…" + text[-limit:]
