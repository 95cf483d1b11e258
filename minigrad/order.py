"""The order of the graph: every tensor after the tensors it was computed from.

Backward visits this order reversed, so each tensor's gradient is complete before it is passed
further down. Nothing here recurses: a chain of a million ops takes the same loop as three.
"""
from __future__ import annotations


def topological_order(root, all_inputs: bool = False) -> list:
    """Every tensor that requires grad and reaches `root`, inputs before the ops that use them.

    With `all_inputs`, constants and data that do not require grad are included too (for
    drawing and tracing the forward pass).

    Iterative depth-first search: a tensor is appended once all its inputs are, which is
    the post-order a recursive version would give, without Python's recursion limit.
    """
    # BEGIN SOLUTION 1.6
    order = []
    visited = set()
    stack = [(root, False)]
    while stack:
        tensor, inputs_done = stack.pop()
        if inputs_done:
            order.append(tensor)
            continue
        if tensor in visited:
            continue
        visited.add(tensor)
        stack.append((tensor, True))
        fn = tensor.grad_fn
        if fn is not None:
            for tensor_input in reversed(fn.inputs):  # reversed: the first input is visited first
                if (all_inputs or tensor_input.requires_grad) and tensor_input not in visited:
                    stack.append((tensor_input, False))
    return order
    # END SOLUTION
