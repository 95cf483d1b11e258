"""Shared fixtures, and the coursework's test markers.

Tests marked `torch` compare with PyTorch and are skipped without it. Tests marked
`task("1.2")` grade a coursework task of coursework.toml; `pytest -m task1_2` selects them.
Tests marked `reference` check what the reference solutions do beyond what the tasks ask (a
student's correct answer need not do it): they are skipped in the student copy, which is the
checkout without the instructor's `coursework/` folder.
When `python -m coursework check` runs them, it names a report file in the environment
variable MINIGRAD_TASK_REPORT, and `--task-timeout S` fails a task test that runs longer than S
seconds. This file imports no minigrad at load time, so a student's broken package still shows
as failed tests.
"""
import json
import os
import shutil
import signal
import tomllib
from pathlib import Path

import numpy as np
import pytest

try:
    import torch  # noqa: F401  (the reference oracle, never imported by minigrad itself)
    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False

MANIFEST = Path(__file__).resolve().parents[1] / "coursework.toml"
STUDENT_COPY = not (MANIFEST.parent / "coursework").is_dir()  # coursework.toml's `exclude` leaves it out
TASK_IDS = [str(task["id"]) for task in tomllib.loads(MANIFEST.read_text()).get("task", [])] \
    if MANIFEST.is_file() else []


@pytest.fixture(params=[pytest.param("dot", marks=pytest.mark.system_dot), "graphviz-pure"])
def renderer(request, monkeypatch):
    """A test that takes this runs once per renderer, forced through MINIGRAD_RENDERER (also in
    subprocesses): Graphviz's own `dot`, where it is on PATH, and the pip-installed graphviz-pure."""
    if request.param == "dot" and shutil.which("dot") is None:
        pytest.skip("Graphviz's `dot` is not on PATH (.ci/run installs it and runs -m system_dot)")
    monkeypatch.setenv("MINIGRAD_RENDERER", request.param)
    return request.param


def task_marker(task_id: str) -> str:
    return "task" + task_id.replace(".", "_")


def pytest_addoption(parser):
    parser.addoption("--task-timeout", type=int, default=0, metavar="S",
                     help="fail a coursework task test that runs longer than S seconds (0: no limit)")


def pytest_configure(config):
    config.addinivalue_line("markers", "task(id): the test grades coursework task `id` (coursework.toml)")
    for task_id in TASK_IDS:
        config.addinivalue_line("markers", f"{task_marker(task_id)}: the tests of coursework task {task_id}")
    report = os.environ.pop("MINIGRAD_TASK_REPORT", None)  # gone before any student code loads
    if report:
        config.pluginmanager.register(TaskReport(report), "task-report")


@pytest.hookimpl(tryfirst=True)  # before -m deselects, so `-m task1_2` sees the markers added here
def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="PyTorch is not installed (pip install torch==2.13.0)")
    skip_reference = pytest.mark.skip(reason="checks the reference solutions beyond what the tasks ask")
    for item in items:
        if "torch" in item.keywords and not HAVE_TORCH:
            item.add_marker(skip)
        if "reference" in item.keywords and STUDENT_COPY:
            item.add_marker(skip_reference)
        for mark in item.iter_markers("task"):
            task_id = str(mark.args[0])
            if task_id not in TASK_IDS:
                raise pytest.UsageError(f"{item.nodeid}: unknown coursework task {task_id!r} "
                                        f"(coursework.toml has {', '.join(TASK_IDS)})")
            item.add_marker(task_marker(task_id))
            item.user_properties.append(("task", task_id))


class TaskReport:
    """Writes one JSON line per collected task test, per finished task test and per collection error,
    as they happen, so a run that is killed still leaves what it did."""

    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8")
        self.phases = {}

    def write(self, record: dict) -> None:
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()

    def pytest_collectreport(self, report):
        if report.failed:
            self.write({"collection_error": report.nodeid, "output": report.longreprtext})

    def pytest_collection_finish(self, session):
        for item in session.items:
            tasks = [value for key, value in item.user_properties if key == "task"]
            if tasks:
                self.write({"collected": item.nodeid, "tasks": tasks})

    def pytest_runtest_logreport(self, report):
        tasks = [value for key, value in report.user_properties if key == "task"]
        if not tasks:
            return
        self.phases.setdefault(report.nodeid, []).append(report)
        if report.when != "teardown":
            return
        phases = self.phases.pop(report.nodeid)
        failed = [r for r in phases if r.failed]
        skipped = [r for r in phases if r.skipped]
        outcome = "failed" if failed else "skipped" if skipped else "passed"
        shown = failed or skipped
        self.write({"test": report.nodeid, "tasks": tasks, "outcome": outcome,
                    "output": shown[0].longreprtext if shown else ""})

    def pytest_unconfigure(self, config):
        self.write({"finished": True})  # what is appended later (an atexit hook) is not read
        self.file.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Fail a task test that loops forever, so the tests after it still run and score."""
    seconds = item.config.getoption("--task-timeout")
    if not seconds or item.get_closest_marker("task") is None:
        yield
        return

    def stop(signum, frame):
        raise TimeoutError(f"the test ran longer than {seconds} s (an endless loop?)")
    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(autouse=True)
def _seeded_initialisers():
    """Every test starts from the same initialiser stream, so a statistical check cannot flake."""
    import minigrad
    minigrad.manual_seed(0)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
