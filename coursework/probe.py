"""What a probe author needs: the `probe` decorator and graph helpers that walk without task 1.6.

A probe calls the student's code on fixed inputs and returns plain data: numbers, strings,
booleans, numpy arrays, and lists or str-keyed dicts of them. It never decides pass or fail;
the judge compares its answer with the reference's. The child process that runs the probes
imports this module too (sent to it as source), so it needs only the standard library.
"""
from __future__ import annotations


def probe(task: str, rtol: float = 1e-7, atol: float = 1e-10):
    """Mark a function `name(rng)` as a probe of `task`; arrays are judged with `rtol`/`atol`.

    `rng` is a numpy Generator seeded from the probe's name, so the reference and the student's
    code see the same inputs. The grader reads these arguments from the source, so write them
    as literals.
    """
    def mark(function):
        function.probe_task = task
        return function
    return mark


def graph(root) -> dict:
    """The graph that made `root`, walked through `grad_fn.inputs` (not the student's topological
    order): {"functions": sorted Function class names, "tensors": ids of every tensor reached}."""
    tensors, functions, stack = set(), set(), [root]
    while stack:
        tensor = stack.pop()
        if id(tensor) in tensors:
            continue
        tensors.add(id(tensor))
        if getattr(tensor, "grad_fn", None) is not None:
            functions.add(type(tensor.grad_fn).__name__)
            stack.extend(getattr(tensor.grad_fn, "inputs", ()))
    return {"functions": sorted(functions), "tensors": tensors}


def functions_used(root) -> list:
    return graph(root)["functions"]


def reaches(root, *tensors) -> list:
    """For each of `tensors`, whether it is part of the graph that made `root`."""
    reached = graph(root)["tensors"]
    return [id(t) in reached for t in tensors]
