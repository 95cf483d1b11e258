"""Coursework from one source: the reference package is the solution, students get it with chosen
pieces stubbed, and an autograder judges what their code computes (`python -m coursework --help`).

This package is the instructor's: it is neither installed with minigrad nor emitted to students.

    coursework.toml                  the tasks: id, title, points, files
    BEGIN/END SOLUTION comments      around a task's code, inside a function body
    @pytest.mark.task("1.2")         a visible test of the task, for students (`pytest -m task1_2`)
    @probe("1.2") in tests/probes    what the grader runs: returns data the judge compares with the
                                     reference's (tests/hidden holds the hidden probes)
"""
from coursework.autograder import build_autograder
from coursework.check import check
from coursework.emit import emit
from coursework.grade import grade
from coursework.manifest import CourseworkError, Manifest, Task, load_manifest
from coursework.sandbox import Limits

__all__ = ["build_autograder", "check", "emit", "grade", "CourseworkError", "Limits", "Manifest", "Task",
           "load_manifest"]
