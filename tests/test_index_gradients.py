"""The gradient of x[index] for every index kind, against np.add.at, on both sides of the size
where SliceGradient switches to summing rows with reduceat (more than REDUCEAT_ABOVE_RUNS distinct
rows), and whatever layout the gradient already collected for x has (a transposed one is not a
view of its reshape)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad as mg
from minigrad.gradients import REDUCEAT_ABOVE_RUNS, SliceGradient

SWITCH = REDUCEAT_ABOVE_RUNS
ROWS = [1, 3, 10, SWITCH, SWITCH + 1, SWITCH + 6, 2 * SWITCH + 2]  # either side of the switch


@st.composite
def indexed(draw):
    """(shape, index) for an index of any kind into an array of that shape."""
    n = draw(st.sampled_from(ROWS))
    shape = (n,) + tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    kind = draw(st.sampled_from(["int", "slice", "ints", "ints_2d", "zero_d", "mask", "rows_cols",
                                 "slice_ints", "none_ellipsis", "ints_none"]))
    rows = st.integers(-n, n - 1)
    if kind == "int":
        return shape, draw(rows)
    if kind == "slice":
        start, stop = sorted(draw(st.lists(st.integers(-n, n), min_size=2, max_size=2)))
        return shape, slice(start, stop, draw(st.integers(1, 3)))
    if kind == "ints":  # repeats, and -1 beside n-1: the same row twice
        picked = draw(st.lists(rows, max_size=3 * n))
        if picked and draw(st.booleans()):
            picked += [n - 1, -1]
        return shape, np.array(picked, dtype=draw(st.sampled_from([np.int64, np.int32])))
    if kind == "ints_2d":
        return shape, np.array(draw(st.lists(rows, min_size=4, max_size=4))).reshape(2, 2)
    if kind == "zero_d":
        return shape, np.array(draw(rows))
    if kind == "mask":
        return shape, np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    if kind == "none_ellipsis":
        return shape, draw(st.sampled_from([None, Ellipsis, (Ellipsis, None), (None, slice(1, None))]))
    if kind == "ints_none":
        return shape, (None, np.array(draw(st.lists(rows, max_size=5)), dtype=np.int64))
    if len(shape) < 2:
        return shape, np.array(draw(st.lists(rows, max_size=5)), dtype=np.int64)
    m = shape[1]
    cols = np.array(draw(st.lists(st.integers(-m, m - 1), min_size=3, max_size=3)))
    if kind == "rows_cols":
        return shape, (np.array(draw(st.lists(rows, min_size=3, max_size=3))), cols)
    return shape, (slice(None), cols)


def expected(shape, index, g):
    want = np.zeros(shape)
    np.add.at(want, index, g)
    return want


@settings(max_examples=300, deadline=None)
@given(indexed(), st.integers(0, 2**32 - 1))
def test_slice_gradient_adds_like_np_add_at_into_any_layout(case, seed):
    shape, index = case
    g = np.random.default_rng(seed).standard_normal(np.zeros(shape)[index].shape)
    for buffer in (np.zeros(shape), np.zeros(shape[::-1]).T):  # C order, and a transposed layout
        got = SliceGradient(shape, index, g).add_to(buffer)
        assert got is buffer  # added in place, never into a temporary
        np.testing.assert_allclose(got, expected(shape, index, g), atol=1e-12)
    np.testing.assert_allclose(SliceGradient(shape, index, g).dense(), expected(shape, index, g), atol=1e-12)


@settings(max_examples=150, deadline=None)
@given(indexed(), st.integers(0, 2**32 - 1), st.booleans())
def test_getitem_gradient_beside_a_transposed_consumer(case, seed, index_first):
    """x read by x[index] and by a permute (whose gradient arrives transposed), in either order."""
    shape, index = case
    rng = np.random.default_rng(seed)
    x = mg.Tensor(rng.standard_normal(shape), requires_grad=True)
    weight = rng.standard_normal(x.data[index].shape)
    picked = (x[index] * weight).sum()
    reversed_axes = x.permute(*reversed(range(x.ndim))).sum()
    (picked + reversed_axes if index_first else reversed_axes + picked).backward()
    np.testing.assert_allclose(x.grad, expected(shape, index, weight) + 1, atol=1e-12)


@pytest.mark.parametrize("rows", [10, 70])
def test_negative_row_and_its_positive_alias_are_one_row(rows):
    x = mg.Tensor(np.ones((rows, 2)), requires_grad=True)
    x[np.r_[np.arange(rows), -1]].sum().backward()
    np.testing.assert_array_equal(x.grad[-1], [2, 2])
    np.testing.assert_array_equal(x.grad[:-1], np.ones((rows - 1, 2)))


def test_the_issues_transposed_gather_case_in_both_orders():
    for swap in (False, True):
        x = mg.Tensor(np.arange(4.0).reshape(1, 1, 2, 2), requires_grad=True)
        a = x[np.array(0)].sum()
        b = (x.permute(-1, 0, 1, 2) * np.ones((2, 1, 1, 2))).sum()
        (b + a if swap else a + b).backward()
        np.testing.assert_array_equal(x.grad, np.full((1, 1, 2, 2), 2.0))


def test_an_empty_gather_sends_no_gradient():
    x = mg.Tensor(np.ones((3, 2)), requires_grad=True)
    (x[np.array([], dtype=np.int64)].sum() + x.sum()).backward()
    np.testing.assert_array_equal(x.grad, np.ones((3, 2)))
