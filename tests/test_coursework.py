"""The coursework tools: markers, emit, grading by probes and a judge (Gradescope's results.json),
the attacks a hostile submission can try on the grader, the autograder zip, check.

As root (CI), student code runs as an unprivileged user, which needs a Python it can read: the
`child_python` fixture builds a virtual environment with numpy from the system's python3, as the
zip's setup.sh does on Gradescope.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from coursework import CourseworkError, Limits, build_autograder, check, emit, grade, load_manifest
from coursework.child import BOOTSTRAP
from coursework.grade import reference_answers
from coursework.markers import find_blocks
from coursework.probes import find_probes
from coursework.results import shares
from coursework.sandbox import isolation

PROJECT = Path(__file__).resolve().parents[1]
ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="only a grader running as root can keep files from student "
                                                 "code (docs/coursework.md says what is contained without root)")


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
    assert not (out / "tests" / "probes").exists() and not (out / "coursework").exists()
    assert not (out / "tests" / "test_coursework.py").exists() and (out / "docs" / "debugging.md").exists()
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


def test_the_student_copy_skips_the_reference_tests(manifest, tmp_path):
    """Tests marked `reference` (what the reference does beyond the tasks) run here and are skipped
    in an emitted copy, which has no coursework/ folder; the others run there too."""
    out = emit(manifest, tmp_path / "student", [])
    command = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "tests/test_fast.py", "-k", "empty"]
    emitted = subprocess.run(command, cwd=out, env={**os.environ, "PYTHONPATH": str(out)}, capture_output=True, text=True)
    here = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True)
    assert emitted.returncode == 0 and here.returncode == 0, emitted.stdout + here.stdout
    assert "2 passed, 6 skipped" in emitted.stdout and "beyond what the tasks ask" in emitted.stdout, emitted.stdout
    assert "8 passed" in here.stdout and "skipped" not in here.stdout, here.stdout


# --- grade -----------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def child_python():
    """A Python the child's user can run: this one, or as root a venv outside /root (pyenv lives there)."""
    if not ROOT:
        return sys.executable
    system = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")
    if system is None:
        pytest.skip("no system python3 to build the unprivileged user's venv from")
    folder = Path(tempfile.mkdtemp(prefix="coursework-venv-"))
    os.chmod(folder, 0o755)
    try:
        subprocess.run([system, "-m", "venv", str(folder / "venv")], check=True, capture_output=True)
        subprocess.run([str(folder / "venv/bin/pip"), "install", "-q", "numpy>=1.24", "graphviz>=0.20"],
                       check=True, capture_output=True)
    except subprocess.CalledProcessError as error:
        pytest.skip(f"cannot build a venv for the unprivileged user: {error.stderr.decode()[-500:]}")
    yield str(folder / "venv/bin/python")
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def reference(manifest, child_python):
    return reference_answers(manifest, find_probes(manifest), isolation(child_python, trusted=True), Limits())


@pytest.fixture(scope="module")
def student(manifest, tmp_path_factory):
    """The student version with every task stubbed."""
    return emit(manifest, tmp_path_factory.mktemp("student") / "tree", list(manifest.tasks.values()))


def grade_untrusted(manifest, submission, tasks, child_python, reference, **options):
    return grade(manifest, submission, manifest.select(tasks), python=child_python, reference=reference,
                 log=lambda line: None, **options)


def task_tests(results, task):
    return [t for t in results["tests"] if t["number"].startswith(task + ".")]


def test_grading_the_solution_gives_full_marks_in_gradescopes_format(manifest, tmp_path, child_python):
    """The reference is judged right everywhere (its answers computed here, not passed in)."""
    out = tmp_path / "results" / "results.json"
    results = grade(manifest, PROJECT, manifest.select(["1.1", "2"]), out, python=child_python, log=lambda l: None)
    assert json.loads(out.read_text()) == results
    assert results["score"] == 11.0 and isinstance(results["execution_time"], int) and results["output"]
    for test in results["tests"]:
        assert set(test) == {"name", "number", "score", "max_score", "status", "output", "visibility", "tags"}
        assert test["status"] == "passed" and test["score"] == test["max_score"] and test["output"] == ""
    hidden = [t for t in results["tests"] if t["visibility"] == "after_due_date"]
    assert {t["number"].rsplit(".", 1)[0] for t in hidden} == {"1.1", "2.1", "2.2", "2.3"}
    assert "Task 1.1 Add and Mul backward: 3/3 visible checks passed" in results["output"]


def test_the_points_of_a_task_are_split_in_hundredths_that_add_up():
    assert shares(2, 3) == [0.67, 0.67, 0.66] and shares(3, 7) == [0.43] * 6 + [0.42]
    assert round(sum(shares(15, 13)), 9) == 15


def test_the_stubbed_tree_scores_zero_and_one_restored_task_exactly_its_points(
        manifest, tmp_path, student, child_python, reference):
    zero = grade_untrusted(manifest, student, [], child_python, reference)
    assert zero["score"] == 0 and {t["status"] for t in zero["tests"]} == {"failed"}
    assert all("raised NotImplementedError: Task" in t["output"] for t in zero["tests"])
    submission = tmp_path / "submission"
    shutil.copytree(student, submission)
    shutil.copy(PROJECT / "minigrad/optim.py", submission / "minigrad/optim.py")  # task 2.3 only
    restored = grade_untrusted(manifest, submission, [], child_python, reference)
    assert restored["score"] == 3.0
    assert {t["number"].rsplit(".", 1)[0] for t in restored["tests"] if t["status"] == "passed"} == {"2.3"}
    assert sum(t["max_score"] for t in restored["tests"]) == pytest.approx(35, abs=1e-9)


def test_a_wrong_mul_loses_exactly_the_mul_probes(manifest, tmp_path, child_python, reference):
    source = (PROJECT / "minigrad/ops/elementwise.py").read_text()
    wrong = source.replace("sum_to_shape(g * b, a.shape)", "sum_to_shape(g * a, a.shape)")
    assert wrong != source
    write(tmp_path / "submission/minigrad/ops/elementwise.py", wrong)
    results = grade_untrusted(manifest, tmp_path / "submission", ["1.1"], child_python, reference)
    failed = [t for t in results["tests"] if t["status"] == "failed"]
    assert {t["name"].split(": ", 1)[1] for t in failed} == {
        "Mul's backward multiplies by the other input",
        "Add and Mul sum a broadcast input back to its shape (through sum_to_shape)"}
    assert all("values differ from the reference" in t["output"] for t in failed)
    assert 0 < results["score"] < 2


def test_a_module_that_fails_to_load_costs_only_the_tasks_that_use_it(manifest, tmp_path, child_python, reference):
    submission = tmp_path / "submission"
    write(submission / "attention/additive.py", (PROJECT / "attention/additive.py").read_text()
          + "\nraise RuntimeError('half-finished')\n")
    write(submission / "attention/cells.py", (PROJECT / "attention/cells.py").read_text())
    results = grade_untrusted(manifest, submission, ["3.1", "3.3"], child_python, reference)
    assert all(t["status"] == "passed" for t in task_tests(results, "3.1"))
    assert all(t["status"] == "failed" and "half-finished" in t["output"] for t in task_tests(results, "3.3"))
    assert "attention/cells.py" not in results["output"]


def test_files_uploaded_alone_or_beside_a_build_copy_are_found(manifest, tmp_path, child_python, reference):
    write(tmp_path / "alone/elementwise.py", (PROJECT / "minigrad/ops/elementwise.py").read_text())
    assert grade_untrusted(manifest, tmp_path / "alone", ["1.1"], child_python, reference)["score"] == 2.0
    project = tmp_path / "nested" / "myproject"
    write(project / "minigrad/ops/elementwise.py", (PROJECT / "minigrad/ops/elementwise.py").read_text())
    write(project / "build/lib/minigrad/ops/elementwise.py", "raise RuntimeError('stale copy')\n")
    results = grade_untrusted(manifest, tmp_path / "nested", ["1.1", "1.2"], child_python, reference)
    assert results["score"] == 2.0 and "minigrad/ops/linalg.py is not in the submission" in results["output"]


def test_submitted_tests_and_probes_are_ignored(manifest, tmp_path, student, child_python, reference):
    submission = tmp_path / "submission"
    shutil.copytree(student, submission)
    write(submission / "tests/probes/probes_engine.py", "raise SystemExit\n")
    write(submission / "tests/conftest.py", "")
    write(submission / "coursework/judge.py", "def judge(*a): return ''\n")
    assert grade_untrusted(manifest, submission, ["1"], child_python, reference)["score"] == 0


def test_answers_are_read_only_in_their_format():
    """The grader decodes JSON of a few kinds; anything else, pickle included, is no answer."""
    import base64
    import pickle
    from coursework.answers import Malformed, parse_line
    array = {"ndarray": {"dtype": "float64", "shape": [2], "data": base64.b64encode(b"\0" * 16).decode()}}
    good = parse_line(json.dumps({"answer": "m:f", "value": {"dict": {"a": array, "b": {"list": [1, "x", True]}}}}))
    assert good["result"].value["b"] == [1, "x", True] and good["result"].value["a"].shape == (2,)
    bad = [pickle.dumps({"answer": "m:f"}),
           b'{"answer": "m:f", "value": {"ndarray": {"dtype": "object", "shape": [1], "data": ""}}}',
           json.dumps({"answer": "m:f", "value": {"ndarray": {**array["ndarray"], "shape": [3]}}}).encode(),
           json.dumps({"answer": "m:f", "value": {"ndarray": {**array["ndarray"], "shape": [1 << 23]}}}).encode(),
           json.dumps({"answer": "m:f", "value": {"code": "import os"}}).encode(),
           json.dumps({"answer": "m:f", "value": 1, "error": {"type": "E", "message": ""}}).encode()]
    for line in bad:
        with pytest.raises(Malformed):
            parse_line(line)


def test_the_judge_says_what_differs_and_never_the_reference_values():
    import numpy as np
    from coursework.answers import Answer
    from coursework.judge import judge
    from coursework.probes import Probe
    probe = Probe("m:f", "1.1", "f", False)
    expected = Answer(value={"g": np.array([1.0, 2.0, 123.456])})
    assert judge(probe, expected, Answer(value={"g": np.array([1.0, 2.0, 123.456 + 1e-12])})) == ""
    message = judge(probe, expected, Answer(value={"g": np.array([1.0, 2.5, 123.456])}))
    assert "['g']: 1 of 3 values differ" in message and "index (1,)" in message and "123.4" not in message
    assert "expected shape (3,), got (2,)" in judge(probe, expected, Answer(value={"g": np.zeros(2)}))
    assert judge(probe, expected, Answer(error=("NotImplementedError", "Task 1.1: x"))) == \
        "raised NotImplementedError: Task 1.1: x"
    assert judge(probe, Answer(error=("ValueError", "bad")), Answer(error=("ValueError", "other"))) == ""


def test_the_installed_library_does_not_carry_the_coursework_tools():
    import configparser
    import setuptools
    config = configparser.ConfigParser()
    config.read(PROJECT / "setup.cfg")
    include = config["options.packages.find"]["include"].split()
    found = setuptools.find_packages(str(PROJECT), include=include)
    assert "minigrad" in found and "attention" in found and not any(p.startswith("coursework") for p in found)


# --- attacks: a hostile submission gains nothing ------------------------------------------------
def forged_submission(manifest, student, tmp_path, code: str, file="minigrad/ops/elementwise.py") -> Path:
    """The student version's `file` (task 1.1 stubbed) with `code` appended: it runs when minigrad loads."""
    submission = tmp_path / "submission"
    write(submission / file, (student / file).read_text() + textwrap.dedent(code))
    return submission


def graded_zero(manifest, submission, child_python, reference, tasks=("1.1",), out=None, **options):
    results = grade_untrusted(manifest, submission, list(tasks), child_python, reference, out=out, **options)
    assert results["score"] == 0, results
    return results


def full_marks_json() -> str:
    return json.dumps({"score": 35.0, "tests": [{"score": 35.0, "max_score": 35.0, "name": "forged"}]})


def test_patching_pytest_reports_at_import_gains_nothing(manifest, student, tmp_path, child_python, reference):
    code = '''
        try:
            import _pytest.reports, _pytest.runner
            _pytest.reports.TestReport.outcome = "passed"
            _pytest.reports.BaseReport.passed = property(lambda self: True)
            _pytest.reports.BaseReport.failed = property(lambda self: False)
        except Exception:
            pass
    '''
    graded_zero(manifest, forged_submission(manifest, student, tmp_path, code), child_python, reference)


def test_wrapping_the_report_writer_found_through_gc_gains_nothing(manifest, student, tmp_path, child_python,
                                                                   reference):
    """The forger finds every writer and encoder alive in its process and turns each error into 'passed'."""
    code = '''
        import gc, io, json
        def _forge(write):
            def forged(text, *rest):
                try:
                    record = json.loads(text)
                    if "error" in record:
                        record = {"answer": record["answer"], "value": True}
                        text = json.dumps(record) + "\\n"
                except Exception:
                    pass
                return write(text, *rest)
            return forged
        for _thing in gc.get_objects():
            if isinstance(_thing, io.TextIOWrapper) and _thing.writable():
                try:
                    _thing.write = _forge(_thing.write)
                except Exception:
                    pass
            if isinstance(_thing, dict) and "encode" in _thing and "main" in _thing:
                _thing["encode"] = lambda value, depth=0: True
    '''
    graded_zero(manifest, forged_submission(manifest, student, tmp_path, code), child_python, reference)


def test_reading_the_report_path_from_proc_environ_and_rewriting_it_at_exit_gains_nothing(
        manifest, student, tmp_path, child_python, reference):
    out = tmp_path / "results" / "results.json"
    code = f'''
        import atexit, os
        _paths = [{str(out)!r}]
        with open("/proc/self/environ", "rb") as _environ:
            _paths += [v.split(b"=", 1)[1].decode() for v in _environ.read().split(b"\\0") if b"/" in v]
        def _rewrite():
            for path in _paths:
                try:
                    with open(path, "w") as handle:
                        handle.write({full_marks_json()!r})
                except OSError:
                    pass
        _rewrite()
        atexit.register(_rewrite)
    '''
    graded_zero(manifest, forged_submission(manifest, student, tmp_path, code), child_python, reference, out=out)
    assert json.loads(out.read_text())["score"] == 0


def test_a_daemon_that_rewrites_results_after_the_grader_exits_is_killed(manifest, student, tmp_path,
                                                                         child_python, reference):
    out = tmp_path / "results" / "results.json"
    pids = Path(tempfile.mkdtemp(prefix="coursework-daemon-"))
    os.chmod(pids, 0o777)
    code = f'''
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                with open({str(pids)!r} + "/" + str(os.getpid()), "w"):
                    pass
                for _ in range(40):
                    time.sleep(0.25)
                    try:
                        with open({str(out)!r}, "w") as handle:
                            handle.write({full_marks_json()!r})
                    except OSError:
                        pass
            os._exit(0)
    '''
    try:
        graded_zero(manifest, forged_submission(manifest, student, tmp_path, code), child_python, reference, out=out)
        daemons = [int(p.name) for p in pids.iterdir()]
        assert daemons, "the daemon never started"
        time.sleep(1.5)
        assert json.loads(out.read_text())["score"] == 0
        for pid in daemons:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        shutil.rmtree(pids, ignore_errors=True)


@pytest.mark.parametrize("target", ["reference", "passwd", "folder"])
def test_a_symlinked_submission_file_is_refused(manifest, tmp_path, child_python, reference, target):
    submission = tmp_path / "submission"
    if target == "folder":
        (submission / "minigrad").parent.mkdir(parents=True)
        (submission / "minigrad").symlink_to(PROJECT / "minigrad")
    else:
        (submission / "minigrad/ops").mkdir(parents=True)
        (submission / "minigrad/ops/elementwise.py").symlink_to(
            PROJECT / "minigrad/ops/elementwise.py" if target == "reference" else "/etc/passwd")
    results = graded_zero(manifest, submission, child_python, reference)
    assert "refused minigrad/ops/elementwise.py:" in results["output"]
    assert "root:" not in json.dumps(results)


def test_a_hard_link_and_an_oversized_file_are_refused(manifest, tmp_path, child_python, reference):
    outside = tmp_path / "outside.py"
    outside.write_text((PROJECT / "minigrad/ops/elementwise.py").read_text())
    (tmp_path / "submission/minigrad/ops").mkdir(parents=True)
    os.link(outside, tmp_path / "submission/minigrad/ops/elementwise.py")
    write(tmp_path / "submission/minigrad/ops/linalg.py", "#" * (2 << 20))
    results = graded_zero(manifest, tmp_path / "submission", child_python, reference, tasks=("1.1", "1.2"))
    assert "refused minigrad/ops/elementwise.py: it has 2 hard links" in results["output"]
    assert "refused minigrad/ops/linalg.py: 2097152 bytes" in results["output"]


@needs_root
def test_student_code_cannot_read_the_hidden_probes(manifest, student, tmp_path, child_python, reference):
    """It looks for them on disk and in its own memory, and puts what it finds in its visible output."""
    code = f'''
        import gc, glob, sys
        _found = []
        _paths = glob.glob({str(PROJECT)!r} + "/tests/hidden/*.py") + glob.glob("/autograder/source/tests/hidden/*")
        for _path in _paths:
            try:
                _found.append(open(_path).read())
            except OSError as error:
                _found.append(type(error).__name__)
        _found += [str(getattr(f, "sources", "")) for f in sys.meta_path]
        raise RuntimeError("found: " + " ".join(_found)[:1500])
    '''
    results = graded_zero(manifest, forged_submission(manifest, student, tmp_path, code), child_python, reference,
                          tasks=("1",))
    visible = " ".join(t["output"] for t in results["tests"] if t["visibility"] == "visible")
    assert "found:" in visible and "probes_hidden" not in visible and "keep_float32" not in visible


def test_os_exit_at_import_costs_only_the_submitters_points(manifest, student, tmp_path, child_python, reference):
    code = "import os\nos._exit(3)\n"
    results = graded_zero(manifest, forged_submission(manifest, student, tmp_path, code), child_python, reference)
    assert all("the probe process ended (exit code 3)" in t["output"] for t in results["tests"])


def test_an_endless_loop_fails_its_own_probes_and_the_others_still_score(manifest, tmp_path, child_python, reference):
    source = (PROJECT / "minigrad/ops/elementwise.py").read_text()
    looping = source.replace("        a, b = self.saved\n        needs_a, needs_b = self.needs_input_grad\n",
                             "        a, b = self.saved\n        needs_a, needs_b = self.needs_input_grad\n        while True:\n"
                             "            pass\n", 1)
    assert looping != source
    write(tmp_path / "submission/minigrad/ops/elementwise.py", looping)
    started = time.monotonic()
    results = grade_untrusted(manifest, tmp_path / "submission", ["1.1"], child_python, reference,
                              limits=Limits(probe_seconds=2))
    assert time.monotonic() - started < 60
    failed = [t for t in results["tests"] if t["status"] == "failed"]
    assert failed and all("ran longer than 2 s" in t["output"] for t in failed)
    assert [t["name"].split(": ", 1)[1] for t in results["tests"] if t["status"] == "passed"] == [
        "Add's backward passes the gradient to both inputs"]


def test_a_fork_bomb_is_bounded_and_leaves_no_process(manifest, student, tmp_path, child_python, reference):
    code = '''
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
    '''
    started = time.monotonic()
    results = graded_zero(manifest, forged_submission(manifest, student, tmp_path, code), child_python, reference,
                          limits=Limits(probe_seconds=3, total_seconds=30))
    assert time.monotonic() - started < 90
    assert all("longer than 3 s" in t["output"] or "not run" in t["output"] for t in results["tests"])
    marker = BOOTSTRAP.encode()
    left = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            left += [entry] if marker in Path(f"/proc/{entry}/cmdline").read_bytes() else []
        except OSError:
            pass
    assert not left


def test_writing_into_the_results_folder_gains_nothing(manifest, student, tmp_path, child_python, reference):
    out = tmp_path / "results" / "results.json"
    out.parent.mkdir()
    code = f'''
        import os
        for _name in ("results.json", "forged.json"):
            try:
                with open(os.path.join({str(out.parent)!r}, _name), "w") as handle:
                    handle.write({full_marks_json()!r})
            except OSError:
                pass
    '''
    graded_zero(manifest, forged_submission(manifest, student, tmp_path, code), child_python, reference, out=out)
    assert json.loads(out.read_text())["score"] == 0
    if ROOT:
        assert not (out.parent / "forged.json").exists()


@needs_root
def test_importing_the_reference_from_the_instructors_checkout_gains_nothing(
        manifest, student, tmp_path, child_python, reference):
    """The forger finds the checkout through importlib.metadata (or knows its path) and runs the
    reference's elementwise.py in place of its own."""
    code = f'''
        import importlib.metadata, json
        _roots = [{str(PROJECT)!r}]
        for _name in ("minigrad", "attention"):
            try:
                _url = importlib.metadata.distribution(_name).read_text("direct_url.json")
                _roots.append(json.loads(_url)["url"][7:])
            except Exception:
                pass
        for _root in _roots:
            try:
                _source = open(_root + "/minigrad/ops/elementwise.py").read()
            except OSError:
                continue
            exec(compile(_source, __file__, "exec"), globals())
            break
    '''
    graded_zero(manifest, forged_submission(manifest, student, tmp_path, code), child_python, reference)


# --- the autograder zip ------------------------------------------------------------------------------
@needs_root
def test_the_autograder_zip_grades_as_gradescope_runs_it(manifest, tmp_path, student, child_python):
    """Unpack the zip, run its setup.sh (which makes the unprivileged user) and run_autograder as root:
    the solution gets full marks, the stubs zero, and the submission cannot read the source."""
    archive = build_autograder(manifest, tmp_path / "autograder.zip", manifest.select(["1"]))
    root = Path(tempfile.mkdtemp(prefix="coursework-autograder-"))
    try:
        os.chmod(root, 0o755)
        with zipfile.ZipFile(archive) as unzipped:
            names = set(unzipped.namelist())
            assert {"setup.sh", "run_autograder", "coursework/grade.py", "tests/hidden/probes_hidden.py",
                    "reference-answers.json"} <= names
            assert not any(n.startswith("tests/test_") and "coursework" in n for n in names)
            assert unzipped.getinfo("run_autograder").external_attr >> 16 & 0o111
            unzipped.extractall(root / "source")
        assert "sum_to_shape(g * b, a.shape)" not in (root / "source/minigrad/ops/elementwise.py").read_text()
        environment = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": child_python}
        setup = subprocess.run(["bash", str(root / "source/setup.sh")], env=environment, capture_output=True, text=True)
        assert setup.returncode == 0, setup.stderr
        assert subprocess.run(["id", "-u", "coursework-student"], capture_output=True).returncode == 0
        for submission, expected in ((PROJECT, 15.0), (student, 0.0)):
            shutil.rmtree(root / "submission", ignore_errors=True)
            shutil.rmtree(root / "results", ignore_errors=True)
            shutil.copytree(submission / "minigrad", root / "submission/minigrad",
                            ignore=shutil.ignore_patterns("__pycache__"))
            (root / "results").mkdir()
            run = subprocess.run(["bash", str(root / "source/run_autograder")], env=environment,
                                 capture_output=True, text=True)
            assert run.returncode == 0, run.stderr
            results = json.loads((root / "results/results.json").read_text())
            assert results["score"] == expected and len(results["tests"]) == 24
        snoop = f'''
            import os
            _seen = []
            for _path in ({str(root / "source")!r}, {str(root / "results")!r}):
                try:
                    _seen.append(str(os.listdir(_path)))
                except OSError as error:
                    _seen.append(type(error).__name__)
            raise RuntimeError("seen: " + " ".join(_seen))
        '''
        shutil.rmtree(root / "submission")
        write(root / "submission/minigrad/ops/elementwise.py",
              (student / "minigrad/ops/elementwise.py").read_text() + textwrap.dedent(snoop))
        run = subprocess.run(["bash", str(root / "source/run_autograder")], env=environment,
                             capture_output=True, text=True)
        outputs = [t["output"] for t in json.loads((root / "results/results.json").read_text())["tests"]]
        # Empty (a mount namespace covers them) or PermissionError (only root may enter them).
        assert any("seen: " in o for o in outputs)
        assert not any(name in o for o in outputs for name in ("reference-answers", "probes", "results.json"))
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --- check -------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_check_proves_the_coursework_sound(manifest):
    """Every task alone fails exactly its own tests; the solution scores full marks, the stubs zero."""
    lines = []
    assert check(manifest, log=lines.append) == [], "\n".join(lines)
    assert sum(line.startswith("ok   task ") for line in lines) == len(manifest.tasks)


def test_the_command_line_lists_tasks_and_reports_mistakes_without_a_traceback(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "coursework", *args], cwd=PROJECT, capture_output=True, text=True)
    listing = run("tasks")
    assert listing.returncode == 0 and "1.1      2 pts  Add and Mul backward" in listing.stdout
    wrong = run("emit", "--tasks", "7", "--out", str(tmp_path / "student"))
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert wrong.stderr.startswith("coursework: no task or assignment '7'")
