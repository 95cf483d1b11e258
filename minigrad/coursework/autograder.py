"""autograder: the zip Gradescope takes — `setup.sh`, `run_autograder` and the grading tree.

The tree is the emitted project with the hidden tests and with *every* task stubbed, not only
the graded ones: a submission runs in the same container, so it could read anything shipped
there. `check` proves that each task's tests pass on such a tree once that task's code is back.
"""
from __future__ import annotations

import configparser
import shlex
import tempfile
import zipfile
from pathlib import Path

from minigrad.coursework.emit import emit, project_files
from minigrad.coursework.manifest import Manifest

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image. Choose the Ubuntu 24.04
# base image: minigrad needs Python 3.11 or newer.
set -euo pipefail
apt-get install -y python3 python3-venv graphviz
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install {requirements}
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission. AUTOGRADER_ROOT and AUTOGRADER_PYTHON let an
# instructor try the zip on their own machine (see docs/coursework.md). The tests get 420 s in
# all, each one 60 s, so results are written within Gradescope's default 10-minute limit.
set -euo pipefail
root="${{AUTOGRADER_ROOT:-/autograder}}"
python="${{AUTOGRADER_PYTHON:-$root/venv/bin/python}}"
cd "$root/source"
exec "$python" -m minigrad.coursework grade --prepared --project . --submission "$root/submission" \\
    --tasks {tasks} --timeout 420 --out "$root/results/results.json"
"""


def requirements(root: Path) -> list:
    """What the tests need: setup.cfg's install_requires and its `test` extra."""
    config = configparser.ConfigParser()
    config.read(root / "setup.cfg")
    listed = config["options"]["install_requires"] + config["options.extras_require"]["test"]
    return [line.strip() for line in listed.splitlines() if line.strip()]


def build_autograder(manifest: Manifest, out, tasks: list) -> Path:
    """Write the Gradescope zip for `tasks` to `out`."""
    out = Path(out).resolve()
    scripts = {
        "setup.sh": SETUP.format(requirements=" ".join(shlex.quote(r) for r in requirements(manifest.root))),
        "run_autograder": RUN.format(tasks=" ".join(t.id for t in tasks)),
    }
    with tempfile.TemporaryDirectory() as scratch:
        tree = emit(manifest, Path(scratch) / "source", list(manifest.tasks.values()), include_hidden=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in scripts.items():
                entry = zipfile.ZipInfo(name)
                entry.external_attr = 0o755 << 16  # executable once Gradescope unpacks it
                archive.writestr(entry, text)
            for file in project_files(tree):
                archive.write(tree / file, file)
    return out
