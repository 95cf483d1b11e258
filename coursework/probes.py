"""Finding the probes: functions decorated `@probe("<task>", rtol=…, atol=…)` in the manifest's
probe folders, read from their source (the grader never imports them; only the child runs them)."""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from coursework.manifest import CourseworkError, Manifest

PROBE_HELPERS = Path(__file__).with_name("probe.py")


@dataclass(frozen=True)
class Probe:
    id: str          # "probes_engine:add_backward": module and function, as the child imports it
    task: str
    title: str       # the docstring's first line
    hidden: bool
    rtol: float = 1e-7
    atol: float = 1e-10


@dataclass(frozen=True)
class ProbeSet:
    probes: list       # [Probe], visible ones first
    visible: dict      # module name -> source, of the visible probe folder
    hidden: dict       # likewise, of the hidden one

    def of(self, tasks: list, hidden: bool) -> list:
        ids = {t.id for t in tasks}
        return [p for p in self.probes if p.task in ids and p.hidden == hidden]

    def modules(self, hidden: bool) -> dict:
        """What the child may import from memory: the helpers, the visible probe modules (hidden
        probes use their helpers), and the hidden ones only for the hidden run."""
        return {"coursework": "", "coursework.probe": PROBE_HELPERS.read_text(), **self.visible,
                **(self.hidden if hidden else {})}


def find_probes(manifest: Manifest) -> ProbeSet:
    """The probes of the manifest's visible and hidden probe folders."""
    probes, found = [], {}
    for folder, hidden in ((manifest.probes, False), (manifest.hidden_probes, True)):
        found[hidden] = {}
        for path in sorted((manifest.root / folder).glob("*.py")):
            if path.stem in found[False] or path.stem in found[hidden]:
                raise CourseworkError(f"{folder}/{path.name}: a probe module named {path.stem} exists already")
            found[hidden][path.stem] = path.read_text()
            probes += _module_probes(manifest, f"{folder}/{path.name}", path.stem, found[hidden][path.stem], hidden)
    return ProbeSet(probes, found[False], found[True])


def _module_probes(manifest: Manifest, file: str, module: str, source: str, hidden: bool) -> list:
    found = []
    for node in ast.parse(source, filename=file).body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            if not (isinstance(decorator, ast.Call) and getattr(decorator.func, "id", None) == "probe"):
                continue
            try:
                task = ast.literal_eval(decorator.args[0])
                options = {k.arg: ast.literal_eval(k.value) for k in decorator.keywords}
            except (ValueError, IndexError):
                raise CourseworkError(f"{file}:{node.lineno}: write @probe's task and tolerances "
                                      "as literals") from None
            if task not in manifest.tasks:
                raise CourseworkError(f"{file}:{node.lineno}: probe {node.name} names unknown task {task!r}")
            title = (ast.get_docstring(node) or node.name.replace("_", " ")).splitlines()[0]
            found.append(Probe(f"{module}:{node.name}", str(task), title, hidden, **options))
    return found
