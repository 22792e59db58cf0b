"""Indexing with integer arrays (x[idx], x[np.arange(n), y], np.take, np.take_along_axis,
x.at[...]), sorting, and what is refused (boolean masks of traced values, item assignment),
against NumPy, finite differences and numba; indices outside their axis raise the same
IrtoyError on both backends."""
import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import irtoy
from irtoy.ops.indexing import IndexOutOfRangeError
from numpy_checks import assert_same_array, check_gradient, check_like_numpy
from op_cases import FLOATS, array

pytestmark = pytest.mark.usefixtures("numba_kernel_cache")


@st.composite
def advanced_index_case(draw):
    """x[index] for an index mixing integer arrays (traced arguments or constants, negative
    entries and repeats included), ints, slices, None and an Ellipsis, in any order."""
    x = draw(array(draw(st.sampled_from(FLOATS)), draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))))
    count = draw(st.integers(1, x.ndim))
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=count, min_dims=0, max_dims=2, max_side=3))
    arrayed = sorted(draw(st.lists(st.integers(0, x.ndim - 1), min_size=count, max_size=count, unique=True)))
    entries, traced = [], []
    for axis, dim in enumerate(x.shape):
        if axis in arrayed:
            dtype = draw(st.sampled_from([np.int64, np.int32, np.uint8]))
            low = 0 if dtype == np.uint8 else -dim
            index = draw(hnp.arrays(dtype, shapes.input_shapes[arrayed.index(axis)],
                                    elements=st.integers(low, dim - 1)))
            if draw(st.booleans()):
                traced.append(index)
                entries.append(("arg", len(traced) - 1))
            else:
                entries.append(("const", index))
        else:
            entries.append(("basic", draw(st.sampled_from([slice(None), slice(None, None, -1), slice(1, None),
                                                            draw(st.integers(-dim, dim - 1))]))))
        if draw(st.integers(0, 4)) == 0:
            entries.append(("basic", None))
    if draw(st.booleans()):     # the trailing full slices as an Ellipsis
        while entries and entries[-1] == ("basic", slice(None)):
            entries.pop()
        entries.append(("basic", Ellipsis))

    def fn(x, *args):
        return x[tuple(args[v] if kind == "arg" else v for kind, v in entries)]
    return (fn, x, *traced)


@given(advanced_index_case())
def test_advanced_indexing_matches_numpy_and_finite_differences(case):
    check_like_numpy(*case)


@settings(max_examples=2, derandomize=True, deadline=None)
@given(advanced_index_case())
def test_advanced_indexing_on_numba_matches_the_interpreter(case):
    check_like_numpy(*case, numba=True)


def test_advanced_axes_go_where_numpy_puts_them():
    x = np.arange(120.0).reshape(2, 3, 4, 5)
    i, j = np.array([[0, 1]]), np.array([2, 0])
    for fn in [lambda x, i, j: x[:, i, j], lambda x, i, j: x[i, :, j], lambda x, i, j: x[:, i, :, j],
               lambda x, i, j: x[1, :, j], lambda x, i, j: x[:, 1, j], lambda x, i, j: x[None, :, i, j],
               lambda x, i, j: x[i, None, j], lambda x, i, j: x[..., i, 1:4]]:
        check_like_numpy(fn, x, i, j)


def test_gradient_of_repeated_indices_adds_up():
    x = np.array([1.0, 2.0, 3.0])
    check_like_numpy(lambda x, i: x[i] ** 2, x, np.array([0, 2, 0, 0, -1]))
    grad = irtoy.trace(lambda x, i: x[i].sum(), x, np.array([0, 2, 0, 0, -1])).grad(wrt=(0,))
    np.testing.assert_array_equal(grad.compile("numpy")(x, np.array([0, 2, 0, 0, -1]))[0], [3.0, 0.0, 2.0])


def test_picking_one_entry_per_row_and_lists_as_indices():
    x = np.random.default_rng(0).normal(size=(5, 3))
    y = np.array([2, 0, 1, 1, 2])
    check_like_numpy(lambda x, y: x[np.arange(5), y], x, y)
    check_like_numpy(lambda x: x[[0, 4, 4], [-1, 0, 1]], x)
    check_like_numpy(lambda x: x[[[1], [3]], 1:], x)


@st.composite
def take_case(draw):
    x = draw(array(draw(st.sampled_from(FLOATS)), draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))))
    axis = draw(st.sampled_from([None] + list(range(-x.ndim, x.ndim))))
    dim = x.size if axis is None else x.shape[axis]
    i = draw(hnp.arrays(np.int64, draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3)),
                        elements=st.integers(-dim, dim - 1)))
    return (lambda x, i: np.take(x, i, axis=axis)), x, i


@given(take_case())
def test_take_matches_numpy_and_finite_differences(case):
    check_like_numpy(*case)


@st.composite
def along_axis_case(draw):
    """np.take_along_axis by drawn indices and by the argsort (np.sort), on any axis."""
    x = draw(array(draw(st.sampled_from(FLOATS)), draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)),
                   ).filter(lambda a: np.all(np.diff(np.sort(a, axis=None)) > 1e-3)))   # sort is smooth: no ties
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    shape = list(x.shape)
    shape[axis] = draw(st.integers(1, 4))
    shape = [d if k == axis % x.ndim or draw(st.booleans()) else 1 for k, d in enumerate(shape)]
    i = draw(hnp.arrays(np.int64, tuple(shape), elements=st.integers(-x.shape[axis], x.shape[axis] - 1)))
    return (lambda x, i: (np.take_along_axis(x, i, axis), np.sort(x, axis), np.argsort(x, axis))), x, i


@given(along_axis_case())
def test_take_along_axis_and_sort_match_numpy_and_finite_differences(case):
    check_like_numpy(*case)


def test_take_and_sort_on_numba_match_the_interpreter():
    x = np.random.default_rng(1).normal(size=(4, 5))
    i = np.array([[3, -1], [0, 0]])

    def fn(x, i):
        return (np.take(x, i, axis=1), np.take(x, i), np.sort(x, axis=0), x.argsort(axis=None),
                np.take_along_axis(x, np.argsort(-x), axis=-1)[:, :2].sum(axis=1))
    check_like_numpy(fn, x, i, numba=True)


def test_sort_flattens_for_axis_none_and_argsort_is_stable():
    x = np.array([[3.0, 1.0, 3.0], [1.0, 2.0, 1.0]])
    check_like_numpy(lambda x: (np.sort(x, axis=None), np.argsort(x, axis=None, kind="stable"), x.argsort()), x,
                     grad=False)
    out = irtoy.trace(lambda x: np.argsort(x, kind="mergesort"), x).compile("numpy")(x)
    np.testing.assert_array_equal(out, np.argsort(x, kind="stable"))


@pytest.mark.parametrize("fn, message", [
    (lambda x: np.argsort(x, kind="quicksort"), r"numpy\.argsort: the option\(s\) kind"),
    (lambda x: np.sort(x, order="f"), r"numpy\.sort: the option\(s\) order"),
    (lambda x: np.take(x, [0], mode="clip"), r"numpy\.take: the option\(s\) mode"),
    (lambda x: np.take(x, [0], mode="wrap"), r"numpy\.take: the option\(s\) mode"),
], ids=["argsort-quicksort", "sort-order", "take-clip", "take-wrap"])
def test_options_that_change_the_result_are_refused(fn, message):
    with pytest.raises(irtoy.TraceError, match=message + r".*\n  at \S*test_numpy_indexing\.py:"):
        irtoy.trace(fn, np.ones((2, 3)))


# -- functional updates ------------------------------------------------------------------------

def _add_at(x, index, values):
    out = x.copy()
    np.add.at(out, index, values)
    return out


def test_at_add_and_scatter_add_add_up_repeated_indices():
    x = np.arange(12.0).reshape(3, 4)
    v = np.random.default_rng(2).normal(size=(4, 2))
    i = np.array([2, 0, 2, -1])

    def fn(x, v, i):
        return x.at[i, 1:3].add(v), x.at[:, 1].add(v[:3, 0]), irtoy.ops.scatter_add(x, (i, 1), 2.0)
    got = irtoy.trace(fn, x, v, i).compile("numpy")(x, v, i)
    expected = (_add_at(x, (i, slice(1, 3)), v), _add_at(x, (slice(None), 1), v[:3, 0]), _add_at(x, (i, 1), 2.0))
    for g, e in zip(got, expected, strict=True):
        assert_same_array(g, e)
    check_gradient(lambda x, v, i: irtoy.ops.scatter_add(x, (i, slice(1, 3)), v) ** 2, x, v, i)


@pytest.mark.parametrize("index", [(slice(None), [2, 0, 2]), (slice(None), [[1], [1]], [0, 3]),
                                   (1, slice(None), [3, 3]), (None, [1, 0], slice(1, None), -1)],
                         ids=["middle", "middle-broadcast", "separated", "new-axis"])
def test_at_add_puts_values_where_numpy_indexing_reads(index):
    x = np.arange(24.0).reshape(2, 3, 4)
    v = np.random.default_rng(3).normal(size=x[index].shape)
    got = irtoy.trace(lambda x, v: x.at[index].add(v), x, v).compile("numpy")(x, v)
    without_new_axes = tuple(e for e in index if e is not None)      # np.add.at takes no None
    assert_same_array(got, _add_at(x, without_new_axes, v.reshape(x[without_new_axes].shape)))


def test_at_set_writes_constant_positions():
    x = np.arange(12.0).reshape(3, 4)
    v = np.array([10.0, 20.0])

    def fn(x, v):
        return x.at[[2, 0], 1].set(v), x.at[1:, ::2].set(-1.0)
    expected = [x.copy(), x.copy()]
    expected[0][[2, 0], 1] = v
    expected[1][1:, ::2] = -1.0
    got = irtoy.trace(fn, x, v).compile("numpy")(x, v)
    for g, e in zip(got, expected, strict=True):
        assert_same_array(g, e)
    w = np.arange(12.0).reshape(3, 4)
    dx, dv = irtoy.trace(lambda x, v: (fn(x, v)[0] * w).sum(), x, v).grad(wrt=(0, 1)).compile("numpy")(x, v)
    assert_same_array(dx, np.where(np.isin(np.arange(12), [9, 1]).reshape(3, 4), 0.0, w))
    assert_same_array(dv, w[[2, 0], 1])


def test_at_set_refuses_indices_that_may_repeat():
    x = np.ones(4)
    with pytest.raises(irtoy.TraceError, match=r"set.*traced ones may repeat.*\.add\(values - x\[index\]\)"):
        irtoy.trace(lambda x, i: x.at[i].set(0.0), x, np.array([1, 2]))
    with pytest.raises(irtoy.TraceError, match=r"repeats a position"):
        irtoy.trace(lambda x: x.at[[1, 1]].set(0.0), x)


def test_item_assignment_names_the_functional_form():
    def assign(x, i):
        x[i] = 0.0
        return x
    with pytest.raises(irtoy.TraceError, match=r"x\.at\[index\]\.set\(value\).*scatter_add(?s:.*)x\[i\] = 0\.0"):
        irtoy.trace(assign, np.ones(3), np.array([1]))


# -- indices outside their axis --------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_an_index_outside_its_axis_raises_naming_op_index_and_size(backend):
    x, v, i = np.ones((3, 4)), np.ones((2, 4)), np.array([0, 1])
    gather = irtoy.trace(lambda x, i: np.exp(x[:, i]) * 2, x, i).compile(backend)
    add = irtoy.trace(lambda x, i, v: x.at[i].add(v * 2), x, i, v).compile(backend)
    np.testing.assert_array_equal(add(x, np.array([-3, 2]), v)[0], [3.0] * 4)     # -3 is row 0
    with pytest.raises(IndexOutOfRangeError, match=r"gather: index 7 is out of bounds for axis 1 of size 4"):
        gather(x, np.array([1, 7]))
    with pytest.raises(irtoy.IrtoyError, match=r"gather: index -5 is out of bounds for axis 1 of size 4"):
        gather(x, np.array([-5, 0]))
    with pytest.raises(IndexError, match=r"scatter_add: index 3 is out of bounds for axis 0 of size 3"):
        add(x, np.array([0, 3]), v)
    if backend == "numba":      # the driver names the node and the user's line
        with pytest.raises(IndexOutOfRangeError, match=r"in %\d+ f64\[3,4\] = scatter_add.*\n  at \S*test_numpy"):
            add(x, np.array([0, 3]), v)


def test_a_constant_index_outside_its_axis_is_refused_when_traced():
    with pytest.raises(irtoy.ShapeError, match=r"index 3 is out of bounds for axis 0 of size 3.*\n  at \S*test_numpy"):
        irtoy.trace(lambda x: x[[0, 3]], np.ones(3))


# -- boolean masks ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [
    lambda x: x[x > 0], lambda x: np.nonzero(x), lambda x: x.nonzero(), lambda x: np.argwhere(x),
    lambda x: np.flatnonzero(x), lambda x: np.extract(x > 0, x), lambda x: np.compress(x[0] > 0, x, axis=1),
], ids=["mask", "nonzero", "method-nonzero", "argwhere", "flatnonzero", "extract", "compress"])
def test_shapes_that_depend_on_values_are_refused_pointing_at_where(fn):
    with pytest.raises(irtoy.TraceError, match=r"depends on .*values.*np\.where(?s:.*)test_numpy_indexing\.py:"):
        irtoy.trace(fn, np.ones((2, 3)))


def test_constant_masks_are_their_constant_positions():
    x = np.arange(12.0).reshape(3, 4)
    mask = x % 3 == 0
    rows = np.array([True, False, True])
    check_like_numpy(lambda x: (x[mask], x[rows, 1:], np.compress(rows, x, axis=0), np.extract(mask, x)), x)


def test_sorting_in_place_is_refused_pointing_at_np_sort():
    """ndarray.sort() sorts in place and returns None: a traced array cannot change, and
    returning a sorted copy would leave the caller's x unsorted without a word."""
    def sort_in_place(x):
        x.sort()
        return x
    expected = r"x.sort\(\) sorts x in place.*x = np.sort\(x\) instead\n  at .*test_numpy_indexing"
    with pytest.raises(irtoy.TraceError, match=expected):
        irtoy.trace(sort_in_place, np.array([3.0, 1.0, 2.0]))
