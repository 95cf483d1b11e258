"""check: prove that the coursework is sound before students see it.

The markers are balanced and known; every task has code, visible tests and probes; the solution
passes every visible task test; each task emitted alone makes exactly its own tests fail, with its
own NotImplementedError, and shows none of its solution lines anywhere in the student's copy; with
it alone stubbed, exactly its own probes are judged wrong; restored alone on a fully stubbed tree
(the autograder's), its probes are judged right; grading the solution gives full marks and the
fully stubbed tree zero; and the student version's docs build with `mkdocs build --strict`, every
relative link of its Markdown files resolving.
"""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from coursework.emit import emit, project_files, solution_blocks
from coursework.grade import child_tree, grade, reference_answers
from coursework.judge import judge
from coursework.manifest import Manifest
from coursework.markers import find_blocks
from coursework.probes import find_probes
from coursework.runner import run_task_tests
from coursework.sandbox import Limits, isolation, run_probes

SHORTEST_TELLING_LINE = 24  # characters: shorter solution lines ("return ga, gb") give nothing away
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def check(manifest: Manifest, jobs: int = 2, timeout: float = 600, log=print) -> list:
    """Run every check, logging one line per finding; returns the problems (empty when sound)."""
    problems = []
    blocks = solution_blocks(manifest)
    count = sum(len(found) for found in blocks.values())
    log(f"ok   markers: {count} blocks of {len(manifest.tasks)} tasks in {len(blocks)} files")
    tasks = list(manifest.tasks.values())
    probe_set = find_probes(manifest)
    trusted, limits = isolation(trusted=True), Limits()
    reference = reference_answers(manifest, probe_set, trusted, limits)
    problems += [f"task {task.id} has no visible probe in {manifest.probes}" for task in tasks
                 if not probe_set.of([task], hidden=False)]
    log(f"ok   the reference answers all {len(probe_set.probes)} probes")

    def wrong_probes(tree: Path) -> set:
        """The probes whose answers on `tree`'s packages differ from the reference's."""
        with child_tree(manifest, tree, trusted) as packages:
            answers, _ = run_probes(packages, probe_set.modules(hidden=True), [p.id for p in probe_set.probes],
                                    trusted, limits, time.monotonic() + limits.total_seconds)
        return {p.id for p in probe_set.probes if judge(p, reference[p.id], answers[p.id])}

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        solution = run_task_tests(emit(manifest, scratch / "solution", []), tasks, timeout)
        for task in tasks:
            if not any(task.id in ids for ids in solution.collected.values()):
                problems.append(f"task {task.id} has no visible test (mark one @pytest.mark.task({task.id!r}))")
        failing = [t for t in solution.collected if solution.outcomes.get(t, ("failed",))[0] != "passed"]
        problems += [f"the solution fails {t}: {solution.outcomes.get(t, ('', solution.failure_of(t)))[1]}"
                     for t in failing]
        problems += [f"{module} does not load: {error}" for module, error in solution.collection_errors.items()]
        if not failing:
            log(f"ok   the solution passes all {len(solution.collected)} visible task tests")

        # Trees are emitted one after the other: ast.parse is not thread-safe in CPython 3.11 (gh-106905).
        alone = [emit(manifest, scratch / f"alone{task.id}", [task]) for task in tasks]
        stubbed = emit(manifest, scratch / "stubbed", tasks)
        restored = [emit(manifest, scratch / f"restored{task.id}", [t for t in tasks if t is not task], verify=False)
                    for task in tasks]
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            alone_runs = list(pool.map(lambda tree: run_task_tests(tree, tasks, timeout), alone))
            alone_wrong = list(pool.map(wrong_probes, alone))
            restored_wrong = list(pool.map(wrong_probes, restored))
        generic = "\n".join((stubbed / file).read_text() for file in manifest.files)
        for task, tree, run, wrong, wrong_restored in zip(tasks, alone, alone_runs, alone_wrong, restored_wrong):
            own = {p.id for p in probe_set.of([task], False) + probe_set.of([task], True)}
            found = _isolation_problems(task, run) + _leaks(manifest, task, blocks, tree, generic)
            found += [f"task {task.id} emitted alone: its probe {p} is still judged right (it cannot tell a stub)"
                      for p in sorted(own - wrong)]
            found += [f"task {task.id} emitted alone: the probe {p} of another task is judged wrong"
                      for p in sorted(wrong - own)]
            found += [f"task {task.id} restored alone on the fully stubbed tree: its probe {p} is judged wrong"
                      for p in sorted(wrong_restored & own)]
            problems += found
            if not found:
                tests = sum(task.id in ids for ids in run.collected.values())
                log(f"ok   task {task.id}: emitted alone, its {tests} tests fail with its NotImplementedError and "
                    f"its {len(own)} probes are judged wrong, everything else passes, none of its lines leak; "
                    f"restored alone on the stubbed tree, its probes are judged right")

        total = sum(t.points for t in tasks)
        full = grade(manifest, manifest.root, tasks, reference=reference, trusted=True)["score"]
        zero = grade(manifest, stubbed, tasks, reference=reference, trusted=True)["score"]
        if full != total:
            problems.append(f"grading the solution gives {full} of {total} points, not full marks")
        if zero != 0:
            problems.append(f"grading the fully stubbed tree gives {zero} points, not 0")
        if full == total and zero == 0:
            log(f"ok   grading the solution gives {full:g}/{total:g}, the fully stubbed tree 0/{total:g}")
        docs = _docs_problems(stubbed, scratch / "site")
        problems += docs
        if not docs:
            log("ok   the student version's docs build with mkdocs --strict and all their links resolve")
    for problem in problems:
        log(f"FAIL {problem}")
    return problems


def _docs_problems(tree: Path, site: Path) -> list:
    """`mkdocs build --strict` of the student version, and its Markdown's relative links."""
    problems = []
    for file in project_files(tree):
        if not file.endswith(".md"):
            continue
        for target in LINK.findall((tree / file).read_text()):
            path = target.split("#", 1)[0]
            if path and "://" not in path and not path.startswith("mailto:") \
                    and not ((tree / file).parent / path).exists():
                problems.append(f"the student version's {file} links {target}, which it does not have")
    try:
        built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                               cwd=tree, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return problems + ["mkdocs build --strict of the student version did not finish in 300 s"]
    if built.returncode != 0:
        problems.append(f"mkdocs build --strict fails on the student version (pip install mkdocs?):\n"
                        f"{(built.stdout + built.stderr).strip()[-3000:]}")
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
    stand anywhere in the fully stubbed code anyway (`generic`: Add's line
    `sum_to_shape(g, a_shape) if needs_a else None,` is Sub's too, outside any block: the op
    contract's pattern, not a solution).
    """
    lines = {line.strip() for file, found in blocks.items() for block in found if block.task == task.id
             for line in (manifest.root / file).read_text().splitlines()[block.begin:block.end - 1]}
    telling = {line for line in lines if len(line) >= SHORTEST_TELLING_LINE and not line.startswith("#")
               and any(operator in line for operator in "+-*/@") and line not in generic}
    problems = []
    for file in project_files(tree):
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
