"""Run probes in a contained child process and read back their answers as data.

The grader never imports the submission. It starts `supervisor.py`, which starts the child (new
session, resource limits, the grader's folders hidden, an unprivileged user when the grader is
root) and kills every process of it at the end. The child answers on a pipe; a probe that runs too
long, or a child that dies, costs that probe, and a fresh child runs the ones after it.
"""
from __future__ import annotations

import json
import os
import pwd
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from coursework import child as child_module
from coursework.answers import Answer, Malformed, parse_line
from coursework.manifest import CourseworkError

SUPERVISOR = Path(__file__).with_name("supervisor.py")
LONGEST_LINE = 16 << 20  # bytes of one answer line


@dataclass(frozen=True)
class Limits:
    probe_seconds: float = 60      # one probe longer than this fails as an endless loop
    total_seconds: float = 420     # all probes of a grading, within Gradescope's default 10 minutes
    memory: int = 2 << 30          # bytes of address space (RLIMIT_AS)
    processes: int = 32            # processes and threads the child may add (RLIMIT_NPROC)
    file_size: int = 16 << 20      # bytes of any file the child writes (RLIMIT_FSIZE)
    answer_bytes: int = 64 << 20   # bytes of answers read from one child


@dataclass(frozen=True)
class Isolation:
    """Who the child runs as, with which Python, and what it must not see."""
    python: str
    uid: int | None = None   # None: the grader's own user (not root): nothing is kept from the child
    gid: int | None = None
    hide: tuple = ()         # folders covered by an empty mount in the child, when the machine allows

    @property
    def user(self) -> str:
        return pwd.getpwuid(self.uid).pw_name if self.uid is not None else pwd.getpwuid(os.getuid()).pw_name


def isolation(python=None, user=None, hide=(), trusted: bool = False) -> Isolation:
    """The child's isolation: as root, user `user` (default nobody), whose Python must run numpy.
    `trusted` code (the reference, the instructor's emitted trees) runs as the grader's own user."""
    python = str(python or sys.executable)
    if trusted:
        return Isolation(python)
    if os.geteuid() != 0:
        if user is not None:
            raise CourseworkError(f"grade: --user {user} needs the grader to run as root")
        return Isolation(python, hide=tuple(hide))
    try:
        entry = pwd.getpwnam(user or "nobody")
    except KeyError:
        raise CourseworkError(f"grade: there is no user {user!r} to run the submission as "
                              "(the autograder's setup.sh creates one)") from None
    if entry.pw_uid == 0:
        raise CourseworkError(f"grade: the user {entry.pw_name} is root; the submission needs an unprivileged user")
    chosen = Isolation(python, entry.pw_uid, entry.pw_gid, tuple(hide))
    check = subprocess.run([python, "-I", "-c", "import numpy"], capture_output=True, text=True,
                           preexec_fn=_drop_to(chosen), cwd="/", timeout=120)
    if check.returncode != 0:
        why = check.stderr.strip().splitlines()[-1] if check.stderr.strip() else f"exit code {check.returncode}"
        raise CourseworkError(f"grade: user {entry.pw_name} cannot run {python} with numpy ({why}); "
                              "pass --python with a Python that user can read and run "
                              "(the autograder's setup.sh builds /autograder/venv)")
    return chosen


def _drop_to(chosen: Isolation):
    def run():
        os.setgroups([])
        os.setgid(chosen.gid)
        os.setuid(chosen.uid)
    return run


def environment(home: str) -> dict:
    """The child's whole environment: nothing of the grader's (no paths, no tokens, no report names)."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


class _Lines:
    """Whole lines from a pipe read without blocking; `overflow` once a line or the total is too long."""

    def __init__(self, fd: int, budget: int):
        self.fd, self.budget, self.buffer, self.closed, self.overflow = fd, budget, b"", False, False

    def read(self) -> list:
        chunk = os.read(self.fd, 1 << 20)
        if not chunk:
            self.closed = True
        self.budget -= len(chunk)
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        if self.budget < 0 or len(self.buffer) > LONGEST_LINE:
            self.overflow = True
        return lines


def run_probes(tree: Path, modules: dict, probes: list, chosen: Isolation, limits: Limits,
               deadline: float) -> tuple:
    """Run `probes` ("module:function" ids, in order) on the packages of `tree`, a folder the child
    may read. `modules` are the sources the child may import from memory (the probe modules and
    coursework.probe). Returns ({id: Answer}, notes for the instructor)."""
    answers, notes, remaining = {}, set(), list(probes)
    while remaining:
        if time.monotonic() >= deadline:
            for probe_id in remaining:
                answers[probe_id] = Answer(failure=f"not run: the probes' {limits.total_seconds:g} s were used up")
            break
        before = len(remaining)
        reason, hidden = _one_child(tree, modules, remaining, chosen, limits, deadline, answers)
        if not hidden:
            notes.add("this machine allows no mount namespace: the grader's folders were not hidden from "
                      "the child (only file permissions protect them)")
        if len(remaining) == before:  # it died before its first probe: so would the next one
            for probe_id in remaining:
                answers[probe_id] = Answer(failure=reason)
            break
    return answers, sorted(notes)


def _one_child(tree, modules, remaining, chosen, limits, deadline, answers) -> tuple:
    """One child for `remaining`, consumed as probes finish. Returns (why it ended, whether the
    grader's folders were hidden from it)."""
    home = tempfile.mkdtemp(prefix="coursework-home-")
    read_end, write_end = os.pipe()
    try:
        if chosen.uid is not None:
            os.chown(home, chosen.uid, chosen.gid)
        needed = [Path(tree).resolve(), Path(home).resolve(), Path(chosen.python).absolute(),
                  Path(chosen.python).resolve()]
        hide = [folder for folder in chosen.hide  # never a folder the child needs to work in
                if not any(path == Path(folder) or Path(folder) in path.parents for path in needed)]
        spec = {"argv": [chosen.python, "-I", "-c", child_module.BOOTSTRAP], "cwd": home,
                "env": environment(home), "uid": chosen.uid, "gid": chosen.gid, "hide": hide,
                "answer_fd": write_end, "seconds": max(1.0, deadline - time.monotonic()) + 5,
                "limits": {"memory": limits.memory, "cpu": int(limits.total_seconds) + 10,
                           "file_size": limits.file_size, "processes": limits.processes},
                "payload": json.dumps({"runner": Path(child_module.__file__).read_text(), "modules": modules,
                                       "tree": str(tree), "probes": list(remaining), "answer_fd": write_end})}
        supervisor = subprocess.Popen([sys.executable, "-I", str(SUPERVISOR)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, pass_fds=(write_end,))
        os.close(write_end)
        write_end = None
        supervisor.stdin.write((json.dumps(spec) + "\n").encode())
        supervisor.stdin.flush()
        try:
            started, hidden, exited = _collect(read_end, supervisor, remaining, limits, deadline, answers)
        finally:
            supervisor.stdin.close()  # the supervisor now kills every process of the child
            supervisor.stdin = None
            final = _final(supervisor)
        status = final["status"] if final["status"] is not None else exited
        output = final["output"].strip()
        shown = f"; its output ended with:\n{output[-1500:]}" if output else ""
        ended = f"the probe process ended ({_describe(status)})"
        if remaining and remaining[0] in started:
            answers[remaining.pop(0)] = Answer(failure=f"{ended} during this probe{shown}")
        return f"{ended} before its first probe{shown}", hidden
    finally:
        if write_end is not None:
            os.close(write_end)
        os.close(read_end)
        shutil.rmtree(home, ignore_errors=True)


def _collect(read_end, supervisor, remaining, limits, deadline, answers) -> tuple:
    """Read the child's answers until it ends, or the running probe's or the total time is up."""
    answer_lines = _Lines(read_end, limits.answer_bytes)
    control = _Lines(supervisor.stdout.fileno(), 1 << 20)
    started, hidden, exited = set(), True, None
    probe_deadline = time.monotonic() + limits.probe_seconds
    while remaining and not answer_lines.closed:
        wait = min(probe_deadline, deadline) - time.monotonic()
        if wait <= 0:
            if remaining[0] in started or probe_deadline <= deadline:
                what = "ran" if remaining[0] in started else "did not start in"
                answers[remaining.pop(0)] = Answer(
                    failure=f"the probe {what} longer than {limits.probe_seconds:g} s (an endless loop?)")
            break
        ready, _, _ = select.select([read_end, control.fd], [], [], wait)
        if control.fd in ready:
            for line in control.read():
                message = json.loads(line)
                hidden = message.get("hidden", hidden)
                exited = message.get("exited", exited)
            if exited is not None:  # the runner is gone: take what is still in the pipe, then stop
                probe_deadline = min(probe_deadline, time.monotonic() + 0.5)
            if control.closed:
                break
        if read_end not in ready:
            continue
        for line in answer_lines.read():
            try:
                record = parse_line(line)
            except Malformed as error:
                if remaining and remaining[0] in started:
                    answers[remaining.pop(0)] = Answer(failure=f"the probe's answer is malformed: {error}")
                    probe_deadline = time.monotonic() + limits.probe_seconds
                continue
            if "start" in record and remaining and record["start"] == remaining[0]:
                started.add(remaining[0])
                probe_deadline = time.monotonic() + limits.probe_seconds
            elif "answer" in record and remaining and record["answer"] == remaining[0] and remaining[0] in started:
                answers[remaining.pop(0)] = record["result"]
                probe_deadline = time.monotonic() + limits.probe_seconds
        if answer_lines.overflow:
            if remaining and remaining[0] in started:
                answers[remaining.pop(0)] = Answer(failure="the probe answered more data than the grader reads")
            break
    return started, hidden, exited


def _final(supervisor) -> dict:
    """The supervisor's last line, printed once every process of the child is dead."""
    out, _ = supervisor.communicate(timeout=120)
    lines = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    final = [line for line in lines if "status" in line]
    if supervisor.returncode != 0 or not final:
        raise CourseworkError(f"grade: the supervisor failed ({supervisor.returncode}): {lines}")
    return final[-1]


def _describe(status) -> str:
    if status is None:
        return "killed by the grader"
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    if status == 97:
        return "the grader's folders could not be hidden"
    return f"exit code {status}"
