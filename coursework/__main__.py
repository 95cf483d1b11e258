"""python -m coursework {tasks,emit,grade,autograder,check}: the instructor's commands (run from the checkout)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from coursework import CourseworkError, Limits, build_autograder, check, emit, grade, load_manifest
from coursework.manifest import MANIFEST


def default_project() -> Path:
    """The checkout this package runs from, if it has a manifest; else the working directory."""
    checkout = Path(__file__).resolve().parents[1]
    return checkout if (checkout / MANIFEST).is_file() else Path.cwd()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursework", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--project", type=Path, default=None,
                        help="the project holding coursework.toml (default: this checkout)")
    selection = argparse.ArgumentParser(add_help=False, parents=[common])
    selection.add_argument("--tasks", nargs="+", metavar="ID",
                           help="task ids (1.2) or assignment ids (1); default: every task")
    commands.add_parser("tasks", parents=[common], help="list the assignments and tasks")
    emitting = commands.add_parser("emit", parents=[selection], help="write the student version")
    emitting.add_argument("--out", type=Path, required=True)
    grading = commands.add_parser("grade", parents=[selection], help="grade a submission into results.json")
    grading.add_argument("--submission", type=Path, required=True)
    grading.add_argument("--out", type=Path, default=Path("results.json"))
    grading.add_argument("--prepared", action="store_true",
                         help="the project is an autograder tree already (as run_autograder uses it)")
    grading.add_argument("--timeout", type=float, default=Limits.total_seconds,
                         help=f"seconds for all the probes (default {Limits.total_seconds:g})")
    grading.add_argument("--probe-timeout", type=float, default=Limits.probe_seconds,
                         help=f"seconds for one probe (default {Limits.probe_seconds:g})")
    grading.add_argument("--memory", type=int, default=Limits.memory >> 20,
                         help=f"MiB of address space for the student's process (default {Limits.memory >> 20})")
    grading.add_argument("--python", help="the Python that runs the student's code (default: this one); "
                                          "as root, the unprivileged user must be able to run it")
    grading.add_argument("--user", help="as root: the unprivileged user that runs the student's code (default nobody)")
    zipping = commands.add_parser("autograder", parents=[selection], help="build Gradescope's autograder zip")
    zipping.add_argument("--out", type=Path, default=Path("autograder.zip"))
    checking = commands.add_parser("check", parents=[common], help="prove the markers, tests and grading are sound")
    checking.add_argument("--jobs", type=int, default=2, help="tasks checked at once (default 2)")
    args = parser.parse_args(argv)
    try:
        manifest = load_manifest(args.project or default_project())
        if args.command == "tasks":
            for assignment, title in manifest.assignments.items():
                print(f"Assignment {assignment}: {title}")
                for task in manifest.tasks.values():
                    if task.assignment == assignment:
                        print(f"  {task.id:5} {task.points:>4g} pts  {task.title}  ({', '.join(task.files)})")
            return 0
        if args.command == "check":
            return 1 if check(manifest, jobs=args.jobs) else 0
        tasks = manifest.select(args.tasks)
        if args.command == "emit":
            out = emit(manifest, args.out, tasks)
            print(f"wrote the student version to {out} with tasks {', '.join(t.id for t in tasks)} stubbed")
        elif args.command == "grade":
            limits = Limits(probe_seconds=args.probe_timeout, total_seconds=args.timeout, memory=args.memory << 20)
            results = grade(manifest, args.submission, tasks, args.out, args.prepared, limits, args.python, args.user)
            total = sum(t.points for t in tasks)
            print(f"{results['output']}\nscore {results['score']:g} / {total:g}; wrote {args.out}")
        else:
            out = build_autograder(manifest, args.out, tasks)
            print(f"wrote {out}: upload it as the assignment's autograder on Gradescope")
    except CourseworkError as error:
        print(f"coursework: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
