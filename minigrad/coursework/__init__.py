"""Coursework from one source: the reference package is the solution, students get it with chosen
pieces stubbed, and an autograder scores what they write (`python -m minigrad.coursework --help`).

    coursework.toml             the tasks: id, title, points, files
    BEGIN/END SOLUTION comments  around a task's code, inside a function body
    @pytest.mark.task("1.2")    a test of the task (`pytest -m task1_2`); tests/hidden is never emitted
"""
from minigrad.coursework.autograder import build_autograder
from minigrad.coursework.check import check
from minigrad.coursework.emit import emit
from minigrad.coursework.grade import grade
from minigrad.coursework.manifest import CourseworkError, Manifest, Task, load_manifest

__all__ = ["build_autograder", "check", "emit", "grade", "CourseworkError", "Manifest", "Task",
           "load_manifest"]
