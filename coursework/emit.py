"""emit: the student's copy of the project, with the chosen tasks' solution blocks replaced by stubs."""
from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

from coursework.manifest import CourseworkError, Manifest
from coursework.markers import find_blocks, stub_blocks

SKIPPED_NAMES = {"__pycache__", "build", "dist", "runs", "node_modules"}


def project_files(root: Path, skip=()) -> list:
    """The project's files relative to `root`: no git data, dot-folders, caches, builds, nor the
    files and folders in `skip`."""
    files = []
    for folder, dirs, names in os.walk(root):
        relative = Path(folder).relative_to(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_NAMES
                         and not d.endswith(".egg-info") and (relative / d).as_posix() not in skip)
        files += [(relative / n).as_posix() for n in sorted(names)
                  if n != ".git" and not n.endswith((".pyc", ".log"))  # .git is a file in a worktree
                  and (relative / n).as_posix() not in skip]
    return files


def solution_blocks(manifest: Manifest) -> dict:
    """Every solution block of the project's code (tests are not scanned), checked against the manifest:
    each block's task is known and lists the block's file, and each task has a block in each of its files.
    """
    blocks = {}
    for file in project_files(manifest.root, skip={"tests"}):
        if file.endswith(".py"):
            found = find_blocks(manifest.root, file)
            if found:
                blocks[file] = found
    seen = set()
    for file, found in blocks.items():
        for block in found:
            task = manifest.tasks.get(block.task)
            if task is None:
                raise CourseworkError(f"{block.where()}: unknown task {block.task!r} "
                                      f"(the manifest has {', '.join(manifest.tasks)})")
            if file not in task.files:
                raise CourseworkError(f"{block.where()}: task {task.id}'s files in the manifest "
                                      f"do not include {file}")
            seen.add((task.id, file))
    for task in manifest.tasks.values():
        for file in task.files:
            if (task.id, file) not in seen:
                raise CourseworkError(f"task {task.id} lists {file}, which has no block of it")
    return blocks


def emit(manifest: Manifest, out, tasks: list, verify: bool = True) -> Path:
    """Copy the project to `out` with `tasks` stubbed, without the probes and the `exclude` list.
    With `verify`, checks that every emitted Python file parses and the task modules import.
    """
    out = Path(out).resolve()
    if out.exists() and any(out.iterdir()):
        raise CourseworkError(f"emit: {out} exists and is not empty")
    if manifest.root == out or manifest.root in out.parents:
        raise CourseworkError(f"emit: {out} lies inside the project {manifest.root}")
    blocks = solution_blocks(manifest)
    stubs = {task.id: task.stub() for task in tasks}
    skip = set(manifest.excluded) | {manifest.probes, manifest.hidden_probes}
    for file in project_files(manifest.root, skip=skip):
        target = out / file
        target.parent.mkdir(parents=True, exist_ok=True)
        if file in blocks:
            target.write_text(stub_blocks((manifest.root / file).read_text(), blocks[file], stubs))
        else:
            shutil.copy2(manifest.root / file, target)
    if verify:
        check_importable(out, modules(manifest))
    return out


def modules(manifest: Manifest) -> list:
    """The modules the tasks live in, by import name: what must still import after stubbing."""
    return [file.removesuffix(".py").replace("/", ".") for file in manifest.files]


def check_importable(tree: Path, names: list) -> None:
    """Every Python file of `tree` parses, and `names` import from `tree` (not from elsewhere)."""
    for file in project_files(tree):
        if file.endswith(".py"):
            try:
                ast.parse((tree / file).read_text(), filename=file)
            except SyntaxError as error:
                raise CourseworkError(f"{file} does not parse: SyntaxError: {error}") from error
    probe = "; ".join(f"import {n}; assert {n}.__file__.startswith({str(tree)!r}), {n}.__file__"
                      for n in names)
    try:
        result = subprocess.run([sys.executable, "-c", probe], cwd=tree, env=tree_environment(tree),
                                capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise CourseworkError(f"importing {', '.join(names)} from {tree} did not finish in 120 s "
                              "(an endless loop at import?)") from None
    if result.returncode != 0:
        raise CourseworkError(f"{', '.join(names)} do not import from {tree}:\n{result.stderr.strip()}")


def tree_environment(tree: Path) -> dict:
    """The environment that makes Python import the packages of `tree` first."""
    return {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
