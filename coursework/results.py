"""Gradescope's results.json: one test per probe, each task's points split over its probes in
hundredths that add up to exactly the task's points."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def shares(points: float, count: int) -> list:
    """`points` split into `count` shares of whole hundredths, the larger ones first, summing to `points`."""
    hundredths = round(points * 100)
    base, extra = divmod(hundredths, count)
    return [(base + (k < extra)) / 100 for k in range(count)]


def build_results(tasks: list, probes_of: dict, verdicts: dict, notes: list, seconds: float) -> dict:
    """`probes_of`: task id -> its probes (visible first); `verdicts`: probe id -> '' or why it failed."""
    tests, summary = [], []
    for task in tasks:
        probes = probes_of[task.id]
        passed_visible = visible = 0
        for number, (probe, share) in enumerate(zip(probes, shares(task.points, len(probes))), start=1):
            why = verdicts[probe.id]
            visible += not probe.hidden
            passed_visible += not probe.hidden and not why
            tests.append({
                "name": f"Task {task.id} ({task.title}): {probe.title}",
                "number": f"{task.id}.{number}",
                "score": 0.0 if why else share,
                "max_score": share,
                "status": "failed" if why else "passed",
                "output": why,
                "visibility": "after_due_date" if probe.hidden else "visible",
                "tags": [f"task {task.id}", f"assignment {task.assignment}"],
            })
        summary.append(f"Task {task.id} {task.title}: {passed_visible}/{visible} visible checks passed")
    lines = [f"Graded tasks {', '.join(t.id for t in tasks)}; hidden checks are shown after the due date."]
    score = round(sum(t["score"] for t in tests), 2)
    return {"score": score, "execution_time": round(seconds), "output": "\n".join(lines + summary + notes),
            "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}


def write_atomically(results: dict, out) -> None:
    """Write `out` whole or not at all: a temporary file in its folder, renamed over it."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=".results-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(results, file, indent=2, ensure_ascii=False)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
