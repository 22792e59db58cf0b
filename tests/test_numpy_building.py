"""NumPy's functions that build and rearrange arrays (np.array of traced values, repeat, tile,
triangles and diagonals, stacking and splitting, pad, roll, flips and rotations, axis moves)
against NumPy, finite differences and numba."""
import threading

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import irtoy
from numpy_checks import check_like_numpy, check_value
from op_cases import FLOATS, NUMERIC, SHAPES, array

pytestmark = pytest.mark.usefixtures("numba_kernel_cache")

def floats(shapes=SHAPES):
    return st.sampled_from(FLOATS).flatmap(lambda dtype: shapes.flatmap(lambda shape: array(dtype, shape)))


def some_axis(draw, ndim):
    return draw(st.integers(-ndim, ndim - 1))


# -- np.array and np.asarray of traced values ---------------------------------------------------

@st.composite
def nested_case(draw):
    x = draw(floats(hnp.array_shapes(min_dims=1, max_dims=2, max_side=3)))
    dtype = draw(st.sampled_from([None, np.float64]))      # float32 would spoil finite differences
    ndmin = draw(st.integers(0, 4))
    number = draw(st.sampled_from([2, 2.5, np.float32(1.5)]))
    return (lambda x: (np.array([x, x * 2, np.ones(x.shape, x.dtype)], dtype=dtype),
                       np.array((x.sum(), number), ndmin=ndmin),
                       np.asarray([[x[(0,) * x.ndim], number]], dtype=dtype), np.asarray(x), np.asanyarray(x[0], dtype),
                       np.array(x[0]))), x


@given(nested_case())
def test_array_of_traced_values_and_numbers_matches_numpy_and_finite_differences(case):
    check_like_numpy(*case)


def test_array_converts_to_the_dtype_asked_for():
    check_value(lambda x: (np.array([x[2], 1], dtype=np.int8), np.asarray([[x, x]], np.float32)), np.arange(3.0))


def test_ragged_nestings_are_refused_naming_the_function():
    with pytest.raises(irtoy.ShapeError, match=r"array\(.*cannot make one array"):
        irtoy.trace(lambda x: np.array([x, x[:1]]), np.ones(2))


def test_numpy_array_is_numpys_own_outside_traces():
    own = np.array, np.asarray, np.asanyarray, np.full
    irtoy.trace(lambda x: np.array([x, 1.0]), np.ones(()))
    assert (np.array, np.asarray, np.asanyarray, np.full) == own
    assert np.array.__module__ == "numpy" and np.array(3).dtype == np.int64


def test_other_threads_get_numpys_own_array_while_a_trace_runs():
    inside, done, seen = threading.Event(), threading.Event(), {}

    def slow(x):
        seen["tracer"] = x
        inside.set()
        done.wait(10)
        return np.asarray([x, x])

    tracing = threading.Thread(target=lambda: seen.setdefault("traced", irtoy.trace(slow, np.ones(2))))
    tracing.start()
    inside.wait(10)
    try:
        assert np.array([[1, 2]]).shape == (1, 2)
        with pytest.raises(irtoy.TraceError, match="conversion to a NumPy array needs a concrete value"):
            np.asarray([seen["tracer"]])        # this thread traces nothing: NumPy's own asarray
    finally:
        done.set()
        tracing.join()
    assert seen["traced"].compile()(np.arange(2.0)).tolist() == [[0, 1], [0, 1]]


# -- arrays from shapes, fill values and ranges ----------------------------------------------------

def test_arrays_from_shapes_are_constants_and_full_takes_a_traced_fill_value():
    def fn(x):
        return (np.zeros(x.shape) + x, np.ones((2,) + x.shape, np.float32) * x, np.eye(3, 4, 1) * x[0, 0],
                np.identity(3) + x[0, 1], np.arange(4) * x[1, 0], np.full(x.shape, x[0, 0]),
                np.full((2, 3), x[1]), np.full_like(x, x[0, 2]), np.zeros_like(x, np.int32),
                np.ones_like(x), np.full_like(x, 7, dtype=np.float32), np.empty(x.shape).shape)
    check_like_numpy(fn, np.arange(6.0).reshape(2, 3) - 2)


def test_full_converts_a_traced_fill_value_to_the_dtype_asked_for():
    check_value(lambda x: (np.full((2, 3), x, dtype=np.float32), np.full_like(x, x[0], np.int32)), np.arange(3.0))


def test_empty_like_gives_the_shape_and_dtype_of_numpy():
    x = np.ones((2, 3), np.float32)
    out = irtoy.trace(lambda x: np.empty_like(x, dtype=np.int16), x).compile()(x)
    assert out.shape == (2, 3) and out.dtype == np.int16


@st.composite
def linspace_case(draw):
    start, stop = draw(floats(st.just((2,)))), draw(floats(st.sampled_from([(), (2,)])))
    num, endpoint, axis = draw(st.integers(0, 5)), draw(st.booleans()), draw(st.sampled_from([0, -1, 1]))
    return (lambda a, b: (np.linspace(a, b, num, endpoint, axis=axis),
                          *np.linspace(b, 3.0, max(num, 2), retstep=True),
                          np.linspace(0, b, 3))), start, stop


@given(linspace_case())
def test_linspace_with_traced_ends_matches_numpy_and_finite_differences(case):
    check_like_numpy(*case)


def test_linspace_converts_to_the_dtype_asked_for():
    check_value(lambda x: (np.linspace(0, x, 3, dtype=np.float32), np.linspace(x, 2 * x, 4, False, axis=-1)),
                np.arange(3.0))


def test_fill_is_refused_pointing_at_full_like():
    with pytest.raises(irtoy.TraceError, match=r"fill.*immutable.*np.full_like\(x, value\) instead\n  at .*test_numpy_building"):
        irtoy.trace(lambda x: x.fill(0.0), np.ones(2))


def test_copy_is_the_value_itself():
    check_like_numpy(lambda x: (np.copy(x), x.copy() * 2), np.arange(3.0))


# -- triangles and diagonals ------------------------------------------------------------------------

@st.composite
def triangle_case(draw):
    x = draw(floats(hnp.array_shapes(min_dims=1, max_dims=4, max_side=4)))
    k = draw(st.integers(-4, 4))
    vector = draw(floats(hnp.array_shapes(min_dims=1, max_dims=1, max_side=4)))
    matrix = draw(floats(hnp.array_shapes(min_dims=2, max_dims=2, max_side=4)))
    return (lambda x, v, m: (np.tril(x, k), np.triu(x, k=k), np.diag(v, k), np.diag(m, k), np.diagflat(m, k),
                             np.diag(v))), x, vector, matrix


@given(triangle_case())
def test_triangles_and_diagonals_match_numpy_and_finite_differences(case):
    check_like_numpy(*case)


# -- repeating, reversing, rolling ------------------------------------------------------------------

@st.composite
def repeat_case(draw):
    x = draw(floats())
    reps = tuple(draw(st.lists(st.integers(0, 3), max_size=4)))
    if x.ndim == 0:
        return (lambda x: (np.repeat(x, 3), x.repeat(2), np.tile(x, reps))), x
    axis = some_axis(draw, x.ndim)
    counts = draw(st.lists(st.integers(0, 3), min_size=x.shape[axis], max_size=x.shape[axis]))
    return (lambda x: (np.repeat(x, 2), x.repeat(counts, axis=axis), np.repeat(x, [2], axis), np.tile(x, reps),
                       np.tile(x, 2))), x


@given(repeat_case())
def test_repeat_and_tile_match_numpy_and_finite_differences(case):
    check_like_numpy(*case)


@st.composite
def flip_case(draw):
    x = draw(floats(hnp.array_shapes(min_dims=2, max_dims=4, max_side=4)))
    axis = some_axis(draw, x.ndim)
    axes = tuple(draw(st.lists(st.integers(-x.ndim, x.ndim - 1), min_size=2, max_size=2,
                               unique_by=lambda a: a % x.ndim)))
    k = draw(st.integers(-5, 5))
    shifts = draw(st.lists(st.integers(-7, 7), min_size=1, max_size=3))
    roll_axes = draw(st.lists(st.integers(-x.ndim, x.ndim - 1), min_size=len(shifts), max_size=len(shifts)))
    return (lambda x: (np.flip(x), np.flip(x, axis), np.flip(x, axes), np.fliplr(x), np.flipud(x), np.rot90(x),
                       np.rot90(x, k, axes), np.roll(x, shifts[0]), np.roll(x, shifts[0], axis),
                       np.roll(x, tuple(shifts), tuple(roll_axes)), np.roll(x, shifts[0], tuple(roll_axes)))), x


@given(flip_case())
def test_flips_rotations_and_rolls_match_numpy_and_finite_differences(case):
    check_like_numpy(*case)


def test_flip_and_roll_of_zero_and_one_dimensional_arrays():
    check_like_numpy(lambda x, y: (np.flip(x), np.roll(x, 3), np.flipud(y), np.roll(y, -1), np.flip(y, 0)),
                     np.array(2.0), np.arange(4.0))


# -- axes ----------------------------------------------------------------------------------------

@st.composite
def axes_case(draw):
    x = draw(floats(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=3)))
    ndim = x.ndim
    a, b = some_axis(draw, ndim), some_axis(draw, ndim)
    count = draw(st.integers(1, ndim))
    source = draw(st.lists(st.integers(-ndim, ndim - 1), min_size=count, max_size=count, unique_by=lambda k: k % ndim))
    destination = draw(st.lists(st.integers(-ndim, ndim - 1), min_size=count, max_size=count,
                                unique_by=lambda k: k % ndim))
    start = draw(st.integers(-ndim, ndim))
    added = draw(st.integers(1, 2))
    new = tuple(draw(st.lists(st.integers(-ndim - added, ndim + added - 1), min_size=added, max_size=added,
                              unique_by=lambda k: k % (ndim + added))))
    return (lambda x: (np.swapaxes(x, axis1=a, axis2=b), x.swapaxes(a, b), np.moveaxis(x, source, destination),
                       np.moveaxis(x, a, b), np.rollaxis(x, a, start), np.expand_dims(x, new),
                       np.squeeze(np.expand_dims(x, new)), np.squeeze(np.expand_dims(x, new), new), np.ravel(x),
                       *np.broadcast_arrays(x, np.ones((2,) + x.shape), 1.0))), x


@given(axes_case())
def test_axis_moves_match_numpy_and_finite_differences(case):
    check_like_numpy(*case)


@given(floats(hnp.array_shapes(min_dims=0, max_dims=3, max_side=3)))
def test_atleast_nd_match_numpy(x):
    check_like_numpy(lambda x: (np.atleast_1d(x), np.atleast_2d(x), np.atleast_3d(x), *np.atleast_2d(x, x[None])), x)


# -- joining and splitting ---------------------------------------------------------------------------

@st.composite
def stacking_case(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=3))
    dtype = draw(st.sampled_from(FLOATS))
    x, y = draw(array(dtype, shape)), draw(array(draw(st.sampled_from(NUMERIC)), shape))
    stacks = [np.vstack, np.hstack, np.dstack] + ([np.column_stack] if len(shape) in (1, 2) else [])
    return (lambda x, y: tuple(stack((x, y)) for stack in stacks) + (np.append(x, y), np.append(x, y, 0)
                                                                     if x.ndim else np.append(x, 1.0))), x, y


@given(stacking_case())
def test_stacks_and_append_match_numpy_and_finite_differences(case):
    check_like_numpy(*case)


@st.composite
def split_case(draw):
    x = draw(floats(hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=4)))
    axis = some_axis(draw, x.ndim)
    sections = draw(st.integers(1, 5))
    indices = sorted(draw(st.lists(st.integers(-5, 6), max_size=3)))
    divisor = draw(st.sampled_from([d for d in range(1, 5) if x.shape[axis] % d == 0]))
    return (lambda x: (*np.array_split(x, sections, axis), *np.array_split(x, indices, axis=axis),
                       *np.split(x, divisor, axis), *np.split(x, indices, axis),
                       *np.hsplit(x, indices), *np.vsplit(x, [1]), *np.dsplit(x, indices),
                       *np.hsplit(x[0, 0], indices))), x


@given(split_case())
def test_splits_match_numpy_and_finite_differences(case):
    check_like_numpy(*case)


def test_split_into_unequal_sections_is_refused_naming_it():
    with pytest.raises(irtoy.ShapeError, match=r"split\(f64\[5\], 2\).*does not split into 2 equal sections"):
        irtoy.trace(lambda x: np.split(x, 2), np.ones(5))


# -- pad ------------------------------------------------------------------------------------------

@st.composite
def pad_case(draw):
    x = draw(floats(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)))
    mode = draw(st.sampled_from(["constant", "edge", "reflect", "symmetric", "wrap"]))
    widths = st.integers(0, 7)
    pad_width = draw(st.one_of(widths, st.tuples(widths), st.tuples(widths, widths),
                               st.lists(st.tuples(widths, widths), min_size=x.ndim, max_size=x.ndim).map(tuple),
                               st.tuples(st.tuples(widths, widths))))
    options = {}
    if mode == "constant" and draw(st.booleans()):
        value = st.floats(-3, 3)
        options["constant_values"] = draw(st.one_of(value, st.tuples(value, value),
                                                    st.lists(st.tuples(value, value), min_size=x.ndim,
                                                             max_size=x.ndim).map(tuple)))
    return (lambda x: np.pad(x, pad_width, mode, **options)), x


@given(pad_case())
def test_pad_in_every_traced_mode_matches_numpy_and_finite_differences(case):
    check_like_numpy(*case)


def test_pad_takes_a_traced_constant():
    check_like_numpy(lambda x, c: np.pad(x, ((1, 0), (2, 1)), constant_values=c), np.ones((2, 2)), np.array(3.0))


def test_pad_modes_that_cannot_be_traced_are_refused_naming_the_traced_ones():
    with pytest.raises(irtoy.TraceError, match=r"pad\(.*mode 'median' cannot be traced; the traced modes are.*\n  at "):
        irtoy.trace(lambda x: np.pad(x, 1, mode="median"), np.ones(3))


# -- numba ----------------------------------------------------------------------------------------

@settings(max_examples=2, derandomize=True, deadline=None)
@given(floats(hnp.array_shapes(min_dims=2, max_dims=2, min_side=2, max_side=4)))
def test_building_on_numba_matches_the_interpreter(x):
    check_like_numpy(lambda x: (np.array([x[0], x[1] * 2]), np.repeat(x, [1, 2] + [0] * (x.shape[0] - 2), 0),
                                np.tril(x, -1) + np.pad(x, (1, 2), "reflect")[1:-2, 1:-2], np.diag(x[0], 1),
                                np.roll(x, 1, 1), np.linspace(x[0], x[1], 3)),
                     x, numba=True)


def test_a_numpy_function_given_a_list_of_traced_values_says_to_stack_them():
    """np.mean([a, b]) never reaches irtoy (NumPy dispatches on arrays, not on lists of them):
    the error says how to write it so that it does."""
    with pytest.raises(irtoy.TraceError, match=r"list or tuple holding traced values.*np.stack them"):
        irtoy.trace(lambda x: np.mean([x, x * 2]), np.arange(3.0))
    check_like_numpy(lambda x: np.mean(np.stack([x, x * 2])), np.arange(3.0))
