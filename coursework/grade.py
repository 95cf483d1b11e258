"""grade: score a submission by judging what its code computes, and write Gradescope's results.json.

The submission's files of the graded tasks go onto a tree where every task is stubbed; a child
process runs the probes on it (visible ones first, then, in a fresh child, the hidden ones) and
answers as data; the judge here compares each answer with the reference's. Student code never
runs in this process, and results.json is written, atomically, only after every process of the
child is dead.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from coursework.answers import Answer, decode
from coursework.child import encode
from coursework.emit import emit, project_files
from coursework.judge import judge
from coursework.manifest import CourseworkError, Manifest
from coursework.probes import ProbeSet, find_probes
from coursework.results import build_results, write_atomically
from coursework.sandbox import Isolation, Limits, isolation, run_probes
from coursework.submission import take_files

REFERENCE = "reference-answers.json"  # the reference's answers, in the autograder's source


def grade(manifest: Manifest, submission, tasks: list, out=None, prepared: bool = False,
          limits: Limits = Limits(), python=None, user=None, reference: dict | None = None,
          trusted: bool = False, log=lambda line: print(line, file=sys.stderr)) -> dict:
    """Grade `submission` (a folder: the student's project, or just their files) on `tasks`.

    With `prepared`, the project is the autograder's source (an emitted tree with every task
    stubbed and the reference's answers); otherwise the answers come from running the probes on
    the project itself. `python` and `user` are the child's interpreter and, as root, its
    unprivileged user (default nobody); a `trusted` submission (the instructor's own, as `check`
    grades) runs as the grader's user. Returns the results, also written to `out` when given.
    """
    started = time.monotonic()
    submission = Path(submission).absolute()
    if not submission.is_dir():
        raise CourseworkError(f"grade: the submission {submission} is not a folder")
    if out is not None:
        Path(out).absolute().parent.mkdir(parents=True, exist_ok=True)
    probe_set = find_probes(manifest)
    probes_of = {task.id: probe_set.of([task], hidden=False) + probe_set.of([task], hidden=True) for task in tasks}
    for task, probes in probes_of.items():
        if not probes:
            raise CourseworkError(f"grade: task {task} has no probe in {manifest.probes} or {manifest.hidden_probes}")
    chosen = isolation(python, user, hide=private_folders(manifest, submission, out), trusted=trusted)
    if reference is None:
        reference = load_reference(manifest) if prepared else \
            reference_answers(manifest, probe_set, isolation(python, trusted=True), limits)
    missing = [p.id for probes in probes_of.values() for p in probes if p.id not in reference]
    if missing:
        raise CourseworkError(f"grade: the reference has no answer for {', '.join(missing)}")
    deadline = started + limits.total_seconds
    with tempfile.TemporaryDirectory() as scratch:
        source = manifest.root if prepared else emit(manifest, Path(scratch) / "stubbed",
                                                     list(manifest.tasks.values()), verify=False)
        with child_tree(manifest, source, chosen) as tree:
            notes = take_files(submission, sorted({f for t in tasks for f in t.files}), tree)
            answers = {}
            for hidden in (False, True):  # the hidden probes reach a child only after the visible answers
                ids = [p.id for p in probe_set.of(tasks, hidden)]
                found, remarks = run_probes(tree, probe_set.modules(hidden), ids, chosen, limits, deadline)
                answers.update(found)
                for remark in remarks:
                    log(f"coursework: {remark}")
    verdicts = {p.id: judge(p, reference[p.id], answers[p.id]) for probes in probes_of.values() for p in probes}
    results = build_results(tasks, probes_of, verdicts, notes, time.monotonic() - started)
    if out is not None:
        write_atomically(results, out)
    return results


def reference_answers(manifest: Manifest, probe_set: ProbeSet, chosen: Isolation, limits: Limits) -> dict:
    """Every probe's answer on the project's own (reference) code; a probe that cannot answer is a bug."""
    with child_tree(manifest, manifest.root, chosen) as tree:
        ids = [p.id for p in probe_set.probes]
        answers, _ = run_probes(tree, probe_set.modules(hidden=True), ids, chosen, limits,
                                time.monotonic() + limits.total_seconds)
    broken = [f"{probe_id}: {answer.failure}" for probe_id, answer in answers.items() if answer.failure]
    if broken:
        raise CourseworkError("the reference does not answer every probe:\n" + "\n".join(broken))
    return answers


def save_reference(answers: dict, path: Path) -> None:
    encoded = {probe_id: {"error": list(a.error)} if a.error else {"value": encode(a.value)}
               for probe_id, a in answers.items()}
    path.write_text(json.dumps(encoded))


def load_reference(manifest: Manifest) -> dict:
    path = manifest.root / REFERENCE
    if not path.is_file():
        raise CourseworkError(f"grade --prepared: {path} is missing "
                              "(build the zip with `python -m coursework autograder`)")
    return {probe_id: Answer(error=tuple(entry["error"])) if "error" in entry else Answer(value=decode(entry["value"]))
            for probe_id, entry in json.loads(path.read_text()).items()}


def packages(manifest: Manifest) -> list:
    """The top-level folders that hold the tasks' files: all the child needs of a tree."""
    return sorted({file.split("/")[0] for file in manifest.files})


@contextmanager
def child_tree(manifest: Manifest, source: Path, chosen: Isolation):
    """A fresh folder with the task packages of `source`, readable by the child and not writable."""
    folder = Path(tempfile.mkdtemp(prefix="coursework-tree-"))
    try:
        os.chmod(folder, 0o755)
        for package in packages(manifest):
            for file in project_files(source / package):
                target = folder / package / file
                target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
                shutil.copyfile(source / package / file, target)
                os.chmod(target, 0o644)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def private_folders(manifest: Manifest, submission: Path, out) -> list:
    """What the child must not see: the project (reference code, probes, answers), the results'
    folder, the raw submission, and any editable install of a project with a coursework manifest."""
    folders = {manifest.root, submission}
    if out is not None:
        folders.add(Path(out).absolute().parent)
    for distribution in importlib.metadata.distributions():
        try:
            text = distribution.read_text("direct_url.json")
            url = json.loads(text).get("url", "") if text else ""
        except (OSError, ValueError):
            continue
        if url.startswith("file://") and (Path(url[7:]) / "coursework.toml").is_file():
            folders.add(Path(url[7:]))
    return sorted(str(f.resolve()) for f in folders if f.resolve().is_dir() and f.resolve() != Path("/"))
