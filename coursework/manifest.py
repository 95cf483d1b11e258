"""The manifest (coursework.toml at the project's root): assignments, tasks, points and files."""
from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

MANIFEST = "coursework.toml"


class CourseworkError(Exception):
    """Something an instructor must fix: the manifest, the markers, or a command's arguments."""


@dataclass(frozen=True)
class Task:
    id: str          # "2.3": assignment 2, task 3
    title: str
    points: float
    files: tuple     # the project files holding its solution blocks, relative to the root

    @property
    def assignment(self) -> str:
        return self.id.split(".")[0]

    @property
    def marker(self) -> str:
        """The pytest marker that selects its tests: `pytest -m task2_3`."""
        return "task" + self.id.replace(".", "_")

    def stub(self) -> str:
        """The line that replaces the task's blocks (a JSON string is a valid Python literal)."""
        return f"raise NotImplementedError({json.dumps(f'Task {self.id}: {self.title}', ensure_ascii=False)})"


@dataclass(frozen=True)
class Manifest:
    root: Path
    assignments: dict   # id -> title
    tasks: dict         # id -> Task, in the manifest's order
    probes: str         # the folder of the visible probes (relative to the root); never emitted
    hidden_probes: str  # the folder of the hidden probes; never emitted, never readable by student code
    excluded: tuple     # files and folders never emitted: the instructor's tools, or they show solution code

    @property
    def files(self) -> list:
        """Every file that holds solution blocks: what a submission may replace."""
        return sorted({f for task in self.tasks.values() for f in task.files})

    def select(self, ids=None) -> list:
        """The tasks named by `ids` (task ids like "1.2", or assignment ids like "1"); all by default."""
        if not ids:
            return list(self.tasks.values())
        chosen = []
        for wanted in ids:
            matches = [t for t in self.tasks.values() if wanted in (t.id, t.assignment)]
            if not matches:
                raise CourseworkError(f"no task or assignment {wanted!r} in {MANIFEST}; "
                                      f"tasks: {', '.join(self.tasks)}")
            chosen += [t for t in matches if t not in chosen]
        return sorted(chosen, key=lambda t: list(self.tasks).index(t.id))


def load_manifest(root) -> Manifest:
    """Read and validate `root/coursework.toml`."""
    root = Path(root).resolve()
    path = root / MANIFEST
    if not path.is_file():
        raise CourseworkError(f"{path} not found: run this from a minigrad checkout (or pass --project)")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise CourseworkError(f"{path}: {error}") from error
    assignments = {str(a["id"]): a["title"] for a in data.get("assignment", [])}
    tasks = {}
    for entry in data.get("task", []):
        missing = {"id", "title", "points", "files"} - set(entry)
        if missing:
            raise CourseworkError(f"{path}: task {entry.get('id', '?')} lacks {sorted(missing)}")
        task = Task(str(entry["id"]), entry["title"], entry["points"], tuple(entry["files"]))
        if task.id in tasks:
            raise CourseworkError(f"{path}: task {task.id} is listed twice")
        if task.assignment not in assignments:
            raise CourseworkError(f"{path}: task {task.id} belongs to no [[assignment]] "
                                  f"with id {task.assignment!r}")
        for file in task.files:
            if not (root / file).is_file():
                raise CourseworkError(f"{path}: task {task.id} names {file}, which does not exist")
        tasks[task.id] = task
    if not tasks:
        raise CourseworkError(f"{path} lists no [[task]]")
    # Paths as project_files writes them ("tests/hidden/" would not match).
    probes = str(data.get("probes", "tests/probes")).strip("/")
    hidden = str(data.get("hidden_probes", "tests/hidden")).strip("/")
    excluded = tuple(str(entry).strip("/") for entry in data.get("exclude", []))
    return Manifest(root, assignments, tasks, probes, hidden, excluded)
