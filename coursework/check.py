"""check: prove that the coursework is sound before students see it.

The markers are balanced and known; every task has code and visible tests; the solution passes
every task test; each task emitted alone makes exactly its own tests fail, with its own
NotImplementedError, and shows none of its solution lines anywhere in the student's copy; each
task's tests pass on a fully stubbed tree once that task's code is back (the autograder's tree);
grading the solution gives full marks and the fully stubbed tree zero.
"""
from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from coursework.emit import emit, project_files, solution_blocks
from coursework.grade import grade
from coursework.manifest import Manifest
from coursework.markers import find_blocks
from coursework.runner import run_task_tests

SHORTEST_TELLING_LINE = 24  # characters: shorter solution lines ("return ga, gb") give nothing away


def check(manifest: Manifest, jobs: int = 2, timeout: float = 600, log=print) -> list:
    """Run every check, logging one line per finding; returns the problems (empty when sound)."""
    problems = []
    blocks = solution_blocks(manifest)
    count = sum(len(found) for found in blocks.values())
    log(f"ok   markers: {count} blocks of {len(manifest.tasks)} tasks in {len(blocks)} files")
    tasks = list(manifest.tasks.values())
    hidden_prefix = manifest.hidden_tests + "/"
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        solution = run_task_tests(emit(manifest, scratch / "solution", [], include_hidden=True), tasks, timeout)
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

        # Trees are emitted one after the other: ast.parse is not thread-safe in CPython 3.11 (gh-106905).
        alone = [emit(manifest, scratch / f"alone{task.id}", [task], include_hidden=True) for task in tasks]
        stubbed = emit(manifest, scratch / "stubbed", tasks, include_hidden=True)
        restored = [emit(manifest, scratch / f"restored{task.id}", [t for t in tasks if t is not task],
                         include_hidden=True) for task in tasks]
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            alone_runs = list(pool.map(lambda tree: run_task_tests(tree, tasks, timeout), alone))
            restored_runs = list(pool.map(lambda pair: run_task_tests(pair[0], [pair[1]], timeout),
                                          zip(restored, tasks)))
        generic = "\n".join((stubbed / file).read_text() for file in manifest.files)
        for task, tree, run, restored_run in zip(tasks, alone, alone_runs, restored_runs):
            found = _isolation_problems(task, run) + _leaks(manifest, task, blocks, tree, generic)
            found += [f"task {task.id} restored alone on the fully stubbed tree fails {test}:\n{output}"
                      for test, (outcome, output) in restored_run.outcomes.items() if outcome != "passed"]
            if not restored_run.outcomes:
                found.append(f"task {task.id} restored alone on the fully stubbed tree ran no test: "
                             f"{restored_run.problem or restored_run.collection_errors}")
            problems += found
            if not found:
                own = sum(task.id in ids for ids in run.collected.values())
                log(f"ok   task {task.id}: emitted alone, its {own} tests fail with its NotImplementedError, "
                    f"the other {len(run.collected) - own} pass, none of its lines leak; restored alone "
                    f"on the stubbed tree, its tests pass")

        total = sum(t.points for t in tasks)
        full = grade(manifest, manifest.root, tasks)["score"]
        zero = grade(manifest, emit(manifest, scratch / "student", tasks), tasks)["score"]
        if abs(full - total) > 1e-6:
            problems.append(f"grading the solution gives {full} of {total} points, not full marks")
        if zero != 0:
            problems.append(f"grading the fully stubbed tree gives {zero} points, not 0")
        if abs(full - total) <= 1e-6 and zero == 0:
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


def _leaks(manifest: Manifest, task, blocks: dict, tree: Path, generic: str) -> list:
    """Lines of `task`'s solution that still stand somewhere in the student's copy `tree`, outside
    the reference code kept for the other tasks.

    A line tells only if it computes something, is long enough to be specific, and does not
    stand anywhere in the fully stubbed code anyway (`generic`: `if b_in.requires_grad else None`
    is a pattern every op repeats, not a solution).
    """
    lines = {line.strip() for file, found in blocks.items() for block in found if block.task == task.id
             for line in (manifest.root / file).read_text().splitlines()[block.begin:block.end - 1]}
    telling = {line for line in lines if len(line) >= SHORTEST_TELLING_LINE and not line.startswith("#")
               and any(operator in line for operator in "+-*/@") and line not in generic}
    problems = []
    for file in project_files(tree, skip={manifest.hidden_tests}):
        try:
            text = (tree / file).read_text()
        except UnicodeDecodeError:
            continue  # pictures and archives
        if file in manifest.files:  # other tasks' reference code is kept on purpose
            kept = find_blocks(tree, file)
            text = "\n".join(line for number, line in enumerate(text.splitlines(), start=1)
                              if not any(b.begin <= number <= b.end for b in kept))
        for line in sorted(telling):
            if line in text:
                problems.append(f"task {task.id}'s solution line {line!r} stands in the student's {file}")
    return problems
