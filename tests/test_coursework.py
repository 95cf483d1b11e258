"""The coursework tools: markers, emit, grade (Gradescope's results.json), the autograder zip, check."""
import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from minigrad.coursework import CourseworkError, build_autograder, check, emit, grade, load_manifest
from minigrad.coursework.markers import find_blocks
from minigrad.coursework.runner import TestRun

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def manifest():
    return load_manifest(PROJECT)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


# --- markers ------------------------------------------------------------------------------------
GOOD = '''
    def f(x):
        """Docstring."""
        y = 2
        # BEGIN SOLUTION 1.1
        return x * y
        # END SOLUTION
'''


def test_a_block_is_found_with_its_task_lines_and_indent(tmp_path):
    write(tmp_path / "m.py", GOOD)
    (block,) = find_blocks(tmp_path, "m.py")
    assert (block.task, block.begin, block.end, block.indent) == ("1.1", 5, 7, "    ")


@pytest.mark.parametrize("source, message", [
    ("def f():\n    # BEGIN SOLUTION 1.1\n    return 1\n", r"m.py:2: BEGIN SOLUTION 1.1 is never ended"),
    ("def f():\n    return 1\n    # END SOLUTION\n", r"m.py:3: END SOLUTION without a BEGIN SOLUTION"),
    ("def f():\n    # BEGIN SOLUTION 1.1\n    # BEGIN SOLUTION 1.2\n    return 1\n    # END SOLUTION\n",
     r"m.py:3: BEGIN SOLUTION inside the block opened at line 2"),
    ("def f():\n    # BEGIN SOLUTION 1.1\n    return 1\n  # END SOLUTION\n", r"m.py:4: END SOLUTION is not indented"),
    ("def f():\n    # BEGIN SOLUTION 1.1\n    # only a comment\n    # END SOLUTION\n    return 1\n",
     r"m.py:2: the block of task 1.1 holds no code"),
    ("# BEGIN SOLUTION 1.1\nX = 1\n# END SOLUTION\n", r"m.py:1: the block of task 1.1 is not inside a function"),
    ('def f():\n    # BEGIN SOLUTION 1.1\n    """Doc."""\n    return 1\n    # END SOLUTION\n',
     r"must start after the docstring of f\(\)"),
    ("def f():\n    # BEGIN SOLUTION: 1.1\n    return 1\n", r"m.py:2: malformed marker"),
])
def test_broken_markers_are_refused_with_file_and_line(tmp_path, source, message):
    write(tmp_path / "m.py", source)
    with pytest.raises(CourseworkError, match=message):
        find_blocks(tmp_path, "m.py")


def toy_project(root: Path, block_task="1.1", manifest_files='["toy/core.py"]') -> Path:
    """A tiny project with one task, to try the manifest's checks on."""
    write(root / "coursework.toml", f'''
        [[assignment]]
        id = "1"
        title = "Toy"
        [[task]]
        id = "1.1"
        title = "Double"
        points = 1
        files = {manifest_files}
    ''')
    write(root / "toy" / "__init__.py", "from toy.core import double\n")
    write(root / "toy" / "core.py", GOOD.replace("1.1", block_task).replace("def f", "def double"))
    write(root / "toy" / "other.py", "VALUE = 1\n")
    return root


def test_a_block_of_an_unknown_task_is_refused(tmp_path):
    manifest = load_manifest(toy_project(tmp_path / "p", block_task="9.9"))
    with pytest.raises(CourseworkError, match=r"toy/core.py:5: unknown task '9.9'"):
        emit(manifest, tmp_path / "out", [])


def test_a_task_file_without_its_block_is_refused(tmp_path):
    manifest = load_manifest(toy_project(tmp_path / "p", manifest_files='["toy/core.py", "toy/other.py"]'))
    with pytest.raises(CourseworkError, match=r"task 1.1 lists toy/other.py, which has no block of it"):
        emit(manifest, tmp_path / "out", [])


def test_a_stub_that_breaks_the_import_is_caught_by_emit(tmp_path):
    """A block in code that runs at import would leave students a package that cannot load."""
    root = toy_project(tmp_path / "p")
    write(root / "toy" / "__init__.py", "from toy.core import double\nTWO = double(1)\n")
    manifest = load_manifest(root)
    with pytest.raises(CourseworkError, match=r"(?s)do not import.*NotImplementedError: Task 1.1: Double"):
        emit(manifest, tmp_path / "out", list(manifest.tasks.values()))


def test_select_takes_task_and_assignment_ids(manifest):
    assert [t.id for t in manifest.select(["2", "1.2"])] == ["1.2", "2.1", "2.2", "2.3"]
    with pytest.raises(CourseworkError, match="no task or assignment '7'"):
        manifest.select(["7"])


# --- emit ------------------------------------------------------------------------------------------
def test_emit_stubs_the_chosen_tasks_and_keeps_the_rest(manifest, tmp_path):
    out = emit(manifest, tmp_path / "student", manifest.select(["1.1"]))
    elementwise = (out / "minigrad/ops/elementwise.py").read_text()
    assert elementwise.count('raise NotImplementedError("Task 1.1: Add and Mul backward")') == 2
    assert "BEGIN SOLUTION 1.1" not in elementwise and "sum_to_shape(g * b, a.shape)" not in elementwise
    assert "BEGIN SOLUTION 1.3" in elementwise and "return (g * c,)" in elementwise  # task 1.3 kept
    assert '"""c = a · b (elementwise).' in elementwise  # docstrings stay
    assert not (out / "tests" / "hidden").exists() and (out / "tests" / "test_tasks_engine.py").exists()
    assert not (out / ".git").exists() and not (out / ".ci").exists() and (out / ".gitignore").exists()


def test_emit_refuses_a_folder_that_is_in_use(manifest, tmp_path):
    write(tmp_path / "used" / "x.txt", "mine")
    with pytest.raises(CourseworkError, match="exists and is not empty"):
        emit(manifest, tmp_path / "used", [])
    with pytest.raises(CourseworkError, match="lies inside the project"):
        emit(manifest, PROJECT / "runs" / "student", [])


def test_the_emitted_tasks_tests_fail_with_the_stub_and_pytest_m_selects_them(manifest, tmp_path):
    out = emit(manifest, tmp_path / "student", manifest.select(["1.4"]))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "task1_4"],
                            cwd=out, env={**os.environ, "PYTHONPATH": str(out)}, capture_output=True, text=True)
    assert result.returncode == 1
    assert "NotImplementedError: Task 1.4: Sum and Max backward" in result.stdout
    assert " passed" not in result.stdout.splitlines()[-1]


# --- grade -----------------------------------------------------------------------------------------
def test_grading_the_solution_gives_full_marks_in_gradescopes_format(manifest, tmp_path):
    results = grade(manifest, PROJECT, manifest.select(["1.1"]), tmp_path / "results.json")
    assert json.loads((tmp_path / "results.json").read_text()) == results
    assert results["score"] == pytest.approx(2.0)
    assert {"score", "execution_time", "output", "tests"} <= set(results)
    tests = results["tests"]
    assert len(tests) == 10 and {t["status"] for t in tests} == {"passed"}
    assert all({"name", "number", "score", "max_score", "status", "output", "visibility"} <= set(t) for t in tests)
    assert [t["number"] for t in tests] == [f"1.1.{k}" for k in range(1, 11)]
    assert sum(t["max_score"] for t in tests) == pytest.approx(2.0)
    hidden = [t for t in tests if t["visibility"] == "after_due_date"]
    assert len(hidden) == 1 and "keep_float32" in hidden[0]["name"]
    assert "Task 1.1 Add and Mul backward: 9/9 visible tests passed" in results["output"]


def test_a_wrong_mul_loses_exactly_the_mul_tests(manifest, tmp_path):
    submission = tmp_path / "submission"
    source = (PROJECT / "minigrad/ops/elementwise.py").read_text()
    wrong = source.replace("sum_to_shape(g * b, a.shape)", "sum_to_shape(g * a, a.shape)")
    assert wrong != source
    write(submission / "minigrad/ops/elementwise.py", wrong)
    results = grade(manifest, submission, manifest.select(["1.1"]))
    failed = {t["name"].split(": ", 1)[1] for t in results["tests"] if t["status"] == "failed"}
    assert failed and all("mul" in name for name in failed)
    assert any("GradcheckError" in t["output"] for t in results["tests"] if t["status"] == "failed")
    assert 0 < results["score"] < 2


def test_a_submission_that_does_not_import_scores_zero_per_test_with_the_error(manifest, tmp_path):
    submission = tmp_path / "submission"
    write(submission / "elementwise.py", "def broken(:\n")  # uploaded alone: found by its name
    results = grade(manifest, submission, manifest.select(["1.1", "1.2"]))
    assert results["score"] == 0 and len(results["tests"]) == 20
    assert all(t["status"] == "failed" and "SyntaxError" in t["output"] for t in results["tests"])
    assert "The submitted code does not load" in results["output"]
    assert "minigrad/ops/linalg.py is not in the submission" in results["output"]


def test_a_module_that_fails_to_load_costs_only_the_tasks_that_use_it(manifest, tmp_path):
    """A broken attention/additive.py fails the attention tasks, not the cells in attention/cells.py."""
    submission = tmp_path / "submission"
    write(submission / "attention/additive.py", (PROJECT / "attention/additive.py").read_text()
          + "\nraise RuntimeError('half-finished')\n")
    write(submission / "attention/cells.py", (PROJECT / "attention/cells.py").read_text())
    results = grade(manifest, submission, manifest.select(["3.1", "3.3"]))
    by_task = {task: [t for t in results["tests"] if t["number"].startswith(task + ".")] for task in ("3.1", "3.3")}
    assert all(t["status"] == "passed" for t in by_task["3.1"])
    assert all(t["status"] == "failed" and "half-finished" in t["output"] for t in by_task["3.3"])


def test_a_submission_cannot_replace_the_tests(manifest, tmp_path):
    """Only the graded tasks' files are taken: a submitted test file that passes everything is ignored."""
    student = emit(manifest, tmp_path / "student", manifest.select(["1.1"]))
    write(student / "tests" / "test_tasks_engine.py", "def test_nothing():\n    pass\n")
    write(student / "tests" / "conftest.py", "")
    results = grade(manifest, student, manifest.select(["1.1"]))
    assert results["score"] == 0 and len(results["tests"]) == 10
    assert all("NotImplementedError: Task 1.1" in t["output"] for t in results["tests"])


def test_an_endless_loop_fails_its_own_tests_and_the_others_still_score(manifest, tmp_path):
    submission = tmp_path / "submission"
    source = (PROJECT / "minigrad/ops/elementwise.py").read_text()
    looping = source.replace("        a, b = self.saved\n        a_in, b_in = self.inputs\n",
                             "        a, b = self.saved\n        a_in, b_in = self.inputs\n        while True:\n"
                             "            pass\n", 1)
    assert looping != source
    write(submission / "minigrad/ops/elementwise.py", looping)
    results = grade(manifest, submission, manifest.select(["1.1"]), test_seconds=2)
    failed = [t for t in results["tests"] if t["status"] == "failed"]
    assert failed and all("TimeoutError: the test ran longer than 2 s" in t["output"] for t in failed)
    add_only = [t for t in results["tests"] if "test_add_backward" in t["name"] or t["name"].endswith("[Add]")]
    assert len(add_only) == 4 and all(t["status"] == "passed" for t in add_only)


def test_a_forged_report_does_not_score(manifest, tmp_path):
    """Student code that finds the report and appends 'passed' for every collected test, when the
    test process ends, gains nothing."""
    submission = tmp_path / "submission"
    forger = textwrap.dedent('''
        import atexit, json, os, sys
        _paths = [a.split("=", 1)[1] for a in sys.argv if a.startswith("--task-report=")]
        _paths += [os.environ.get("MINIGRAD_TASK_REPORT", "")]
        def _forge():
            for path in filter(None, _paths):
                with open(path) as report:
                    tests = [json.loads(line)["collected"] for line in report if '"collected"' in line]
                with open(path, "a") as report:
                    for test in tests:
                        report.write(json.dumps({"test": test, "tasks": ["1.1"], "outcome": "passed",
                                                 "output": ""}) + "\\n")
        atexit.register(_forge)
    ''')
    student = emit(manifest, tmp_path / "student", manifest.select(["1.1"]))
    write(submission / "minigrad/ops/elementwise.py", (student / "minigrad/ops/elementwise.py").read_text() + forger)
    results = grade(manifest, submission, manifest.select(["1.1"]))
    assert results["score"] == 0


def test_the_report_counts_a_test_once_and_nothing_after_pytest_finished():
    """The guards a forger meets even with the report's path in hand."""
    def line(**record):
        return json.dumps(record)
    run = TestRun()
    run.read([line(collected="t::a", tasks=["1.1"]), line(collected="t::b", tasks=["1.1"]),
              line(test="t::a", tasks=["1.1"], outcome="passed", output=""),  # written early by a forger
              line(test="t::a", tasks=["1.1"], outcome="failed", output="NotImplementedError"),
              line(test="t::b", tasks=["1.1"], outcome="failed", output="NotImplementedError"),
              line(finished=True),
              line(test="t::b", tasks=["1.1"], outcome="passed", output="")])  # an atexit hook
    assert run.outcomes["t::a"][0] == "failed" and "reported twice" in run.outcomes["t::a"][1]
    assert run.outcomes["t::b"] == ("failed", "NotImplementedError")


def test_files_uploaded_inside_a_folder_with_a_build_copy_are_found(manifest, tmp_path):
    """`pip install .` leaves build/lib/… copies; the project's own file is the one graded."""
    submission = tmp_path / "submission" / "myproject"
    write(submission / "minigrad/ops/elementwise.py", (PROJECT / "minigrad/ops/elementwise.py").read_text())
    write(submission / "build/lib/minigrad/ops/elementwise.py", "raise RuntimeError('stale copy')\n")
    results = grade(manifest, tmp_path / "submission", manifest.select(["1.1"]))
    assert results["score"] == pytest.approx(2.0)


# --- the autograder zip ------------------------------------------------------------------------------
def test_the_autograder_zip_grades_a_submission_as_gradescope_runs_it(manifest, tmp_path):
    """Unpack the zip as Gradescope does, run its run_autograder on the solution: full marks."""
    archive = build_autograder(manifest, tmp_path / "autograder.zip", manifest.select(["1.1"]))
    root = tmp_path / "autograder"
    with zipfile.ZipFile(archive) as unzipped:
        names = unzipped.namelist()
        assert {"setup.sh", "run_autograder", "coursework.toml", "tests/hidden/test_hidden_tasks.py"} <= set(names)
        assert unzipped.getinfo("run_autograder").external_attr >> 16 & 0o111
        unzipped.extractall(root / "source")
    assert "sum_to_shape(g * b, a.shape)" not in (root / "source/minigrad/ops/elementwise.py").read_text()
    setup = (root / "source" / "setup.sh").read_text()
    assert "apt-get install -y python3 python3-venv graphviz" in setup and "numpy>=1.24" in setup
    shutil.copytree(PROJECT / "minigrad", root / "submission" / "minigrad", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "results").mkdir()
    result = subprocess.run(["bash", str(root / "source" / "run_autograder")], capture_output=True, text=True,
                            env={**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable})
    assert result.returncode == 0, result.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == pytest.approx(2.0) and len(results["tests"]) == 10


# --- check -------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_check_proves_the_coursework_sound(manifest):
    """Every task alone fails exactly its own tests; the solution scores full marks, the stubs zero."""
    lines = []
    assert check(manifest, log=lines.append) == [], "\n".join(lines)
    assert sum(line.startswith("ok   task ") for line in lines) == len(manifest.tasks)


def test_the_command_line_lists_tasks_and_reports_mistakes_without_a_traceback(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "minigrad.coursework", *args], capture_output=True, text=True)
    listing = run("tasks")
    assert listing.returncode == 0 and "1.1      2 pts  Add and Mul backward" in listing.stdout
    wrong = run("emit", "--tasks", "7", "--out", str(tmp_path / "student"))
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert wrong.stderr.startswith("coursework: no task or assignment '7'")
