"""check: prove that the coursework is sound before students see it.

The markers are balanced and known; every task has code and visible tests; the solution passes
every task test; each task emitted alone makes exactly its own tests fail, with its own
NotImplementedError; grading the solution gives full marks and the fully stubbed tree zero.
"""
from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from minigrad.coursework.emit import emit, solution_blocks
from minigrad.coursework.grade import grade
from minigrad.coursework.manifest import Manifest
from minigrad.coursework.runner import run_task_tests


def check(manifest: Manifest, jobs: int = 2, timeout: float = 600, log=print) -> list:
    """Run every check, logging one line per finding; returns the problems (empty when sound)."""
    problems = []
    blocks = solution_blocks(manifest)
    count = sum(len(found) for found in blocks.values())
    log(f"ok   markers: {count} blocks of {len(manifest.tasks)} tasks in {len(blocks)} files")
    tasks = list(manifest.tasks.values())
    every_id = [t.id for t in tasks]
    hidden_prefix = manifest.hidden_tests.rstrip("/") + "/"
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        solution = run_task_tests(emit(manifest, scratch / "solution", [], include_hidden=True),
                                  every_id, timeout)
        for task in tasks:
            visible = [t for t, ids in solution.collected.items()
                       if task.id in ids and not t.startswith(hidden_prefix)]
            if not visible:
                problems.append(f"task {task.id} has no visible test (mark one @pytest.mark.task({task.id!r}))")
        failing = [t for t in solution.collected if solution.outcomes.get(t, ("failed",))[0] != "passed"]
        problems += [f"the solution fails {t}: {solution.outcomes.get(t, ('', solution.failure_of(t)))[1]}"
                     for t in failing]
        problems += [f"{module} does not load: {error}" for module, error in solution.collection_errors.items()]
        if not failing:
            log(f"ok   the solution passes all {len(solution.collected)} task tests")

        # Emitted one after the other: ast.parse is not thread-safe in CPython 3.11 (gh-106905).
        trees = [emit(manifest, scratch / f"task{task.id}", [task], include_hidden=True) for task in tasks]
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            runs = pool.map(lambda tree: run_task_tests(tree, every_id, timeout), trees)
            for task, run in zip(tasks, runs):
                found = _isolation_problems(task, run)
                problems += found
                if not found:
                    own = sum(task.id in ids for ids in run.collected.values())
                    log(f"ok   task {task.id} emitted alone: its {own} tests fail with its "
                        f"NotImplementedError, the other {len(run.collected) - own} pass")

        total = sum(t.points for t in tasks)
        full = grade(manifest, manifest.root, tasks)["score"]
        stubbed = grade(manifest, emit(manifest, scratch / "stubbed", tasks), tasks)["score"]
        if abs(full - total) > 1e-6:
            problems.append(f"grading the solution gives {full} of {total} points, not full marks")
        if stubbed != 0:
            problems.append(f"grading the fully stubbed tree gives {stubbed} points, not 0")
        if abs(full - total) <= 1e-6 and stubbed == 0:
            log(f"ok   grading the solution gives {full:g}/{total:g}, the fully stubbed tree 0/{total:g}")
    for problem in problems:
        log(f"FAIL {problem}")
    return problems


def _isolation_problems(task, run) -> list:
    """With only `task` stubbed: its tests fail with its NotImplementedError, all others pass."""
    problems = []
    stub = f"NotImplementedError: Task {task.id}:"
    for test, ids in run.collected.items():
        outcome, output = run.outcomes.get(test, ("failed", run.failure_of(test)))
        if task.id in ids and (outcome != "failed" or stub not in output):
            problems.append(f"task {task.id} emitted alone: {test} {outcome} without raising "
                            f"the task's NotImplementedError" + (f":\n{output}" if output else ""))
        elif task.id not in ids and outcome != "passed":
            problems.append(f"task {task.id} emitted alone breaks {test} of task(s) {', '.join(ids)}:\n{output}")
    return problems
