"""The judge: compares a probe's answer with the reference's, in the grader's process.

It says what differs (a shape, a key, an exception, the largest difference) and never the
reference's values, which would hand students the answer.
"""
from __future__ import annotations

import numpy as np

from coursework.answers import Answer
from coursework.probes import Probe


def judge(probe: Probe, reference: Answer, answer: Answer) -> str:
    """'' when `answer` matches `reference`, else why not."""
    if answer.failure is not None:
        return answer.failure
    if reference.error is not None:
        expected = reference.error[0]
        if answer.error is None:
            return f"expected the call to raise {expected}; it returned a value"
        return "" if answer.error[0] == expected else f"raised {answer.error[0]} where {expected} was expected"
    if answer.error is not None:
        kind, message = answer.error
        return f"raised {kind}: {message}" if message else f"raised {kind}"
    return _compare(reference.value, answer.value, probe, "the answer")


def _compare(expected, got, probe: Probe, where: str) -> str:
    if isinstance(expected, np.ndarray):
        return _compare_arrays(expected, got, probe, where)
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            return f"{where}: expected a dict with keys {sorted(expected)}, got {_kind(got)}"
        for key in expected:
            found = _compare(expected[key], got[key], probe, f"{where}[{key!r}]")
            if found:
                return found
        return ""
    if isinstance(expected, list):
        if not isinstance(got, list) or len(got) != len(expected):
            return f"{where}: expected a list of {len(expected)}, got {_kind(got)}"
        for index, (e, g) in enumerate(zip(expected, got)):
            found = _compare(e, g, probe, f"{where}[{index}]")
            if found:
                return found
        return ""
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        return "" if type(got) is type(expected) and got == expected else f"{where} is wrong ({_kind(got)})"
    if isinstance(expected, (int, float)):
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return f"{where}: expected a number, got {_kind(got)}"
        return "" if np.isclose(got, expected, rtol=probe.rtol, atol=probe.atol, equal_nan=True) \
            else f"{where} differs from the reference (rtol {probe.rtol:g}, atol {probe.atol:g})"
    return f"{where}: the reference's answer is of an unknown kind"


def _compare_arrays(expected: np.ndarray, got, probe: Probe, where: str) -> str:
    if isinstance(got, (int, float)) and not isinstance(got, bool) and expected.ndim == 0:
        got = np.asarray(got)
    if not isinstance(got, np.ndarray):
        return f"{where}: expected an array of shape {expected.shape}, got {_kind(got)}"
    if got.shape != expected.shape:
        return f"{where}: expected shape {expected.shape}, got {got.shape}"
    if expected.dtype.kind in "biu" and got.dtype.kind != expected.dtype.kind:
        return f"{where}: expected {expected.dtype.name} values, got {got.dtype.name}"
    if got.dtype.kind == "b" and expected.dtype.kind != "b":
        return f"{where}: expected numbers, got booleans"
    if np.allclose(got, expected, rtol=probe.rtol, atol=probe.atol, equal_nan=True):
        return ""
    wrong = ~np.isclose(got, expected, rtol=probe.rtol, atol=probe.atol, equal_nan=True)
    first = tuple(int(i) for i in np.argwhere(wrong)[0])
    with np.errstate(invalid="ignore"):
        largest = np.nanmax(np.abs(got.astype(np.float64) - expected.astype(np.float64)))
    return (f"{where}: {int(wrong.sum())} of {expected.size} values differ from the reference, the first at "
            f"index {first}; largest difference {largest:.3g} (rtol {probe.rtol:g}, atol {probe.atol:g})")


def _kind(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return f"a dict with keys {sorted(value)[:10]}"
    return f"a {type(value).__name__}"
