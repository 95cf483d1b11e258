"""trace: the forward pass as the list of assignments a student writes by hand (a Wengert list)."""
from __future__ import annotations

from minigrad.errors import format_location
from minigrad.nn.module import Parameter
from minigrad.order import topological_order


class Trace(list):
    """The lines of a trace; `print(trace)` shows them one per line."""

    def __str__(self) -> str:
        return "\n".join(self)


def trace(*roots) -> Trace:
    """One line per tensor, inputs first: `t7 = Mul(t3, t5)   # attention/additive.py:42`.

    Named tensors appear under their names; the others are numbered t0, t1, … in order.
    """
    tensors = list(dict.fromkeys(t for root in roots for t in topological_order(root, all_inputs=True)))
    names, counter = {}, 0
    for t in tensors:
        if t.name:
            names[t] = t.name
        else:
            names[t] = f"t{counter}"
            counter += 1
    lines = []
    for t in tensors:
        if t.grad_fn is None:
            kind = "parameter" if isinstance(t, Parameter) else "leaf" if t.requires_grad else "input"
            rhs = f"{kind} {t.shape} {t.dtype}"
        else:
            rhs = f"{type(t.grad_fn).__name__}({', '.join(names[i] for i in t.grad_fn.inputs)})"
        lines.append(f"{names[t] + ' = ' + rhs:<48} # {format_location(t.created_at)}")
    width = max(len(line.split("#")[0].rstrip()) for line in lines) + 3
    return Trace(f"{line.split(' # ')[0].rstrip():<{width}}# {line.split(' # ')[1]}" for line in lines)
