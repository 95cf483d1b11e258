"""grade: score a student's submission on a clean tree and write Gradescope's results.json.

Only the manifest's files of the graded tasks are taken from the submission, so a student cannot
replace the tests; everything else comes from the instructor's emitted tree, hidden tests included.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

from minigrad.coursework.emit import SKIPPED_NAMES, check_importable, emit, modules, project_files
from minigrad.coursework.manifest import CourseworkError, Manifest
from minigrad.coursework.runner import TEST_SECONDS, TestRun, run_task_tests, tail


def grade(manifest: Manifest, submission, tasks: list, out=None, prepared: bool = False,
          timeout: float = 600, test_seconds: int = TEST_SECONDS) -> dict:
    """Grade `submission` (a folder: the student's project, or just their files) on `tasks`.

    The clean tree is emitted from the manifest's project, or, with `prepared`, is the
    project itself as the autograder zip ships it (already emitted, hidden tests included).
    The tests get `timeout` seconds in all and `test_seconds` each.
    Returns the results (and writes them to `out` as JSON when given).
    """
    started = time.monotonic()
    submission = Path(submission).resolve()
    if not submission.is_dir():
        raise CourseworkError(f"grade: the submission {submission} is not a folder")
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "tree"
        if prepared:
            _copy_tree(manifest.root, tree)
        else:
            emit(manifest, tree, tasks, include_hidden=True)
        expected = run_task_tests(tree, tasks, timeout, collect_only=True)
        for task in tasks:
            if not any(task.id in ids for ids in expected.collected.values()):
                raise CourseworkError(f"grade: the clean tree has no tests of task {task.id}:\n"
                                      f"{expected.problem or expected.collection_errors}")
        files = sorted({f for t in tasks for f in t.files})
        notes = [_overlay(submission, tree, file) for file in files]
        try:  # a module that does not load fails the tests that use it, and the output says why
            check_importable(tree, modules(manifest))
        except CourseworkError as error:
            notes.append(f"The submitted code does not load:\n{error}")
        run = run_task_tests(tree, tasks, timeout, test_seconds=test_seconds)
    results = _results(manifest, tasks, expected.collected, run, [n for n in notes if n])
    results["execution_time"] = round(time.monotonic() - started)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return results


def _copy_tree(source: Path, target: Path) -> None:
    for file in project_files(source):
        (target / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / file, target / file)


def _overlay(submission: Path, tree: Path, file: str) -> str:
    """Copy the submission's version of `file` onto the tree; a note when it cannot be found."""
    found = _locate(submission, file)
    if isinstance(found, str):
        return found
    shutil.copyfile(found, tree / file)
    return ""


def _locate(submission: Path, file: str):
    """The submitted copy of `file`: at its path in a submitted project, or, for files uploaded
    one by one, the only file of that name. A note (str) says why when there is none."""
    exact = submission / file
    if exact.is_file():
        return exact
    same_name = [p for p in submission.rglob(Path(file).name) if p.is_file() and not any(
        part.startswith(".") or part in SKIPPED_NAMES or part.endswith(".egg-info")
        for part in p.relative_to(submission).parts[:-1])]
    in_place = [p for p in same_name if p.as_posix().endswith("/" + file)]  # a project inside a folder
    for candidates in (in_place, same_name):
        if len(candidates) == 1:
            return candidates[0]
    if not same_name:
        return f"{file} is not in the submission, so its tasks keep the stub."
    return (f"{file}: the submission holds several files of that name "
            f"({', '.join(str(p.relative_to(submission)) for p in same_name)}); submit the project's layout.")


def _results(manifest: Manifest, tasks: list, collected: dict, run: TestRun, notes: list) -> dict:
    """Gradescope's results.json: one entry per test, a task's points shared equally by its tests."""
    tests, summary = [], []
    hidden_prefix = manifest.hidden_tests.rstrip("/") + "/"
    for task in tasks:
        ids = sorted((test for test, task_ids in collected.items() if task.id in task_ids),
                     key=lambda test: test.startswith(hidden_prefix))  # visible first, in collection order
        share = task.points / len(ids)
        visible_passed = visible = 0
        for number, test in enumerate(ids, start=1):
            outcome, output = run.outcomes.get(test, ("failed", run.failure_of(test)))
            passed = outcome == "passed"
            hidden = test.startswith(hidden_prefix)
            if not hidden:
                visible += 1
                visible_passed += passed
            tests.append({
                "name": f"Task {task.id} ({task.title}): {test.split('::', 1)[-1]}",
                "number": f"{task.id}.{number}",
                "score": share if passed else 0.0,
                "max_score": share,
                "status": "passed" if passed else "failed",
                "output": "" if passed else tail(output or outcome),
                "visibility": "after_due_date" if hidden else "visible",
                "tags": [f"task {task.id}", f"assignment {task.assignment}"],
            })
        summary.append(f"Task {task.id} {task.title}: {visible_passed}/{visible} visible tests passed")
    lines = [f"Graded tasks {', '.join(t.id for t in tasks)}; hidden tests are shown after the due date."]
    lines += summary + notes
    if run.problem:
        lines.append(run.problem)
    return {"score": round(sum(t["score"] for t in tests), 6), "output": "\n".join(lines),
            "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}

