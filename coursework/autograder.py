"""autograder: the zip Gradescope takes — `setup.sh`, `run_autograder` and the grader's source.

The source is the emitted project with *every* task stubbed (a submission runs in the same
container), the `coursework` package, the probes, and the reference's answers to them (not the
reference code). setup.sh makes the unprivileged user that runs student code and leaves the
source and results folders readable by root alone.
"""
from __future__ import annotations

import configparser
import shlex
import shutil
import tempfile
import zipfile
from pathlib import Path

from coursework.emit import emit, project_files
from coursework.grade import REFERENCE, reference_answers, save_reference
from coursework.manifest import Manifest
from coursework.probes import find_probes
from coursework.sandbox import Limits, isolation

STUDENT_USER = "coursework-student"

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image. Choose the Ubuntu 24.04
# base image: minigrad needs Python 3.11 or newer. To try the zip elsewhere, set AUTOGRADER_ROOT
# (default /autograder) and AUTOGRADER_PYTHON (a Python with numpy that {user} can run): then
# nothing is installed, and only the user and the permissions are made.
set -euo pipefail
root="${{AUTOGRADER_ROOT:-/autograder}}"
if [ -z "${{AUTOGRADER_PYTHON:-}}" ]; then
    apt-get update
    apt-get install -y python3 python3-venv
    python3 -m venv "$root/venv"
    "$root/venv/bin/pip" install {requirements}
fi
# Student code runs as this user: it can run the venv's Python, but read neither the grader's
# source (probes, reference answers) nor the results.
id -u {user} >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin {user}
chmod 700 "$root/source"
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this, as root, for every submission. The probes get 420 s in all, each one 60 s,
# so the results are written within Gradescope's default 10-minute limit.
set -euo pipefail
root="${{AUTOGRADER_ROOT:-/autograder}}"
python="${{AUTOGRADER_PYTHON:-$root/venv/bin/python}}"
mkdir -p "$root/results"
chmod 700 "$root/source" "$root/results"
cd "$root/source"
exec "$python" -m coursework grade --prepared --project . --submission "$root/submission" \\
    --tasks {tasks} --user {user} --python "$python" --timeout 420 --out "$root/results/results.json"
"""


def requirements(root: Path) -> list:
    """What the library needs to import: setup.cfg's install_requires."""
    config = configparser.ConfigParser()
    config.read(root / "setup.cfg")
    return [line.strip() for line in config["options"]["install_requires"].splitlines() if line.strip()]


def build_autograder(manifest: Manifest, out, tasks: list) -> Path:
    """Write the Gradescope zip for `tasks` to `out`."""
    out = Path(out).resolve()
    scripts = {
        "setup.sh": SETUP.format(requirements=" ".join(shlex.quote(r) for r in requirements(manifest.root)),
                                 user=STUDENT_USER),
        "run_autograder": RUN.format(tasks=" ".join(t.id for t in tasks), user=STUDENT_USER),
    }
    probe_set = find_probes(manifest)
    with tempfile.TemporaryDirectory() as scratch:
        tree = emit(manifest, Path(scratch) / "source", list(manifest.tasks.values()))
        for folder in ("coursework", manifest.probes, manifest.hidden_probes):
            shutil.copytree(manifest.root / folder, tree / folder, ignore=shutil.ignore_patterns("__pycache__"))
        trusted = isolation(trusted=True)  # the reference is the instructor's own code
        save_reference(reference_answers(manifest, probe_set, trusted, Limits()), tree / REFERENCE)
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in scripts.items():
                entry = zipfile.ZipInfo(name)
                entry.external_attr = 0o755 << 16  # executable once Gradescope unpacks it
                archive.writestr(entry, text)
            for file in project_files(tree):
                archive.write(tree / file, file)
    return out
