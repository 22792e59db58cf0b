"""NumPy's reductions and scans with their keywords (dtype, ddof, initial, where, weights,
keepdims) against NumPy, finite differences and numba; gradients at zeros and at constant
entries, where a careless rule gives NaN."""
import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import irtoy
from numpy_checks import check_like_numpy, check_value
from op_cases import FLOATS, NUMERIC, SHAPES, array, axes_of

pytestmark = pytest.mark.usefixtures("numba_kernel_cache")


def gradient(fn, x):
    return irtoy.trace(fn, x).grad().compile("numpy")(x)


# -- products and running products at zeros ---------------------------------------------------

@pytest.mark.parametrize("x, expected", [
    ([2.0, 0.0, 3.0], [0.0, 6.0, 0.0]),         # one zero: only it has a gradient
    ([2.0, 0.0, 0.0], [0.0, 0.0, 0.0]),         # two zeros: none has
    ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0]),
    ([2.0, 5.0, 3.0], [15.0, 6.0, 10.0]),
])
def test_prod_gradient_is_the_product_of_the_others_also_at_zeros(x, expected):
    np.testing.assert_array_equal(gradient(lambda x: np.prod(x), np.array(x)), expected)


@pytest.mark.parametrize("x", [[2.0, 0.0, 3.0, 4.0], [0.0, 2.0, 0.0, 3.0], [0.0, 0.0, 0.0, 0.0], [2.0, 3.0, 4.0, 0.0]])
def test_cumprod_gradient_at_zeros_matches_finite_differences(x):
    weights = np.array([1.0, 2.0, 3.0, 4.0])
    check_like_numpy(lambda x: np.cumprod(x) * weights, np.array(x))     # cumprod is a polynomial: smooth
    grad = gradient(lambda x: np.sum(np.cumprod(x) * weights), np.array(x))
    assert np.all(np.isfinite(grad))


def test_multiply_reduce_traces_to_prod():
    check_like_numpy(lambda x: (np.multiply.reduce(x, axis=1, keepdims=True), np.multiply.reduce(x)),
                     np.arange(1.0, 7.0).reshape(2, 3))


@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.int32, np.bool_])
def test_accumulate_methods_trace_to_running_sums_and_products(dtype):
    x = np.array([[3, 0, 2], [5, 7, 1]]).astype(dtype)
    check_like_numpy(lambda x: (np.add.accumulate(x), np.multiply.accumulate(x, axis=1),
                                np.add.accumulate(x, 1, np.float64)), x)


def test_prod_and_cumprod_take_dtype_as_numpy_does():
    x = np.array([[100, 3, 2], [5, 7, 11]], np.int32)
    check_value(lambda x: (np.prod(x, axis=1, dtype=np.int8), np.cumprod(x, dtype=np.int8),
                           np.cumsum(x, axis=0, dtype=np.float32), x.prod(keepdims=True), x.cumsum()), x)


# -- std and var -----------------------------------------------------------------------------

@pytest.mark.parametrize("shape, axis", [((1,), None), ((3, 1), 1), ((2, 3), None), ((2, 3), 0)])
def test_std_of_equal_entries_has_a_zero_gradient_not_nan(shape, axis):
    grad = gradient(lambda x: np.sum(np.std(x, axis=axis)), np.full(shape, 2.5))
    np.testing.assert_array_equal(grad, np.zeros(shape))


@st.composite
def var_case(draw):
    x = draw(array(draw(st.sampled_from(NUMERIC)), draw(SHAPES)))
    axis, keepdims = draw(axes_of(x.ndim)), draw(st.booleans())
    n = x.size // np.sum(x, axis).size        # the entries each result combines
    ddof = draw(st.integers(0, max(n - 1, 0)))
    dtype = draw(st.sampled_from([None, np.float32, np.float64]))
    # smooth where the variance is not 0 (integers: no gradient)
    return lambda x: (np.var(x, axis, dtype, ddof=ddof, keepdims=keepdims),
                      x.std(axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)), x


@given(var_case())
def test_var_and_std_with_ddof_and_dtype_match_numpy(case):
    fn, x = case
    check_value(fn, x)


@given(array(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=4), lo=-3, hi=3), st.integers(0, 1))
def test_var_and_std_gradients_match_finite_differences(x, ddof):
    if np.ptp(x) < 1e-2:
        x = x + np.arange(x.size).reshape(x.shape)      # away from the variance's kink at 0
    check_like_numpy(lambda x: (np.var(x, axis=-1, ddof=ddof), np.std(x, ddof=ddof)), x)


# -- reductions with NumPy's keywords ----------------------------------------------------------

@st.composite
def masked_case(draw):
    x = draw(array(draw(st.sampled_from(FLOATS)), draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))))
    x = x + np.arange(x.size).reshape(x.shape) * 0.01      # distinct entries: max and min are smooth
    mask = draw(hnp.arrays(np.bool_, x.shape[draw(st.integers(0, x.ndim)):]))
    axis, keepdims = draw(axes_of(x.ndim)), draw(st.booleans())
    initial = float(draw(st.sampled_from([-10, 10])))

    def fn(x):
        return (np.sum(x, axis, keepdims=keepdims, where=mask, initial=1.5),
                np.prod(x, axis, keepdims=keepdims, where=mask),
                np.mean(x, axis, keepdims=keepdims, where=np.ones(x.shape, bool)),
                np.max(x, axis, keepdims=keepdims, where=mask, initial=-10.0),
                np.amin(x, axis=axis, keepdims=keepdims, where=mask, initial=10.0),
                np.max(x, axis, keepdims=keepdims, initial=initial), np.amax(x, axis, None, keepdims))
    return fn, x


@given(masked_case())
def test_where_and_initial_match_numpy_and_finite_differences(case):
    check_like_numpy(*case)


def test_mean_over_a_mask_counts_only_the_chosen_entries():
    x = np.array([[1.0, 2.0, 4.0], [3.0, 5.0, 9.0]], np.float32)
    mask = np.array([True, False, True])
    check_like_numpy(lambda x: (np.mean(x, axis=1, where=mask), x.mean(where=x > 2.5), np.nanmean(x, axis=0)), x)


def test_max_of_an_empty_axis_is_initial():
    check_value(lambda x: (np.max(x, axis=1, initial=-1.0), np.min(x, 1, keepdims=True, initial=2.0),
                           np.sum(x, axis=1, initial=1.5), np.prod(x, axis=1, initial=2.0)), np.ones((3, 0)))


def test_where_without_initial_is_refused_for_max_naming_it():
    with pytest.raises(irtoy.ShapeError, match=r"max\(.*where= needs initial="):
        irtoy.trace(lambda x: np.max(x, where=x > 0), np.ones(3))


def test_out_is_refused_naming_the_function():
    with pytest.raises(irtoy.TraceError, match=r"numpy.prod: the option\(s\) out cannot be traced"):
        irtoy.trace(lambda x: np.prod(x, out=np.ones(())), np.ones(3))


@st.composite
def logical_case(draw):
    x = draw(array(draw(st.sampled_from(NUMERIC + [np.dtype(np.bool_)])), draw(SHAPES), lo=-1, hi=1))
    axis, keepdims = draw(axes_of(x.ndim)), draw(st.booleans())
    return (lambda x: (np.all(x, axis, keepdims=keepdims), np.any(x, axis=axis, keepdims=keepdims),
                       x.all(), x.any(axis), np.count_nonzero(x, axis, keepdims=keepdims)), x)


@given(logical_case())
def test_all_any_and_count_nonzero_match_numpy_on_every_dtype(case):
    check_value(*case)


def test_all_and_any_treat_nan_as_true_and_empty_selections_as_numpy_does():
    x = np.array([[np.nan, 0.0], [np.nan, 1.0]])
    check_value(lambda x: (np.all(x, axis=0), np.any(x, axis=1), np.all(x[:, :0]), np.any(x[:, :0], axis=1)), x)


@st.composite
def extreme_case(draw):
    x = draw(array(draw(st.sampled_from(NUMERIC)), draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))))
    if x.dtype.kind == "f":
        x = x + np.arange(x.size).reshape(x.shape) * 0.01      # distinct entries: smooth
    axis, keepdims = draw(axes_of(x.ndim)), draw(st.booleans())
    single = draw(st.sampled_from([None] + list(range(-x.ndim, x.ndim))))
    return (lambda x: (np.ptp(x, axis, keepdims=keepdims), np.argmin(x, single), x.argmin(axis=single, keepdims=True),
                       np.nansum(x, axis, keepdims=keepdims), np.nanmax(x, axis), np.nanmin(x, axis, keepdims=keepdims),
                       np.nanprod(x, axis), np.nancumsum(x, single), np.nancumprod(x)),
            x)


@given(extreme_case())
def test_ptp_argmin_and_nan_functions_match_numpy_and_finite_differences(case):
    check_like_numpy(*case)


def test_nan_functions_skip_nans_and_give_nan_where_all_are_nan():
    x = np.array([[np.nan, 1.0, 3.0], [np.nan, np.nan, np.nan], [2.0, np.nan, -1.0]])
    fn = lambda x: (np.nansum(x, axis=1), np.nanmean(x, axis=1), np.nanmax(x, axis=1), np.nanmin(x, axis=1),
                    np.nanprod(x, axis=0), np.nancumsum(x, axis=1), np.nancumprod(x), np.argmin(x, axis=1))
    with pytest.warns(RuntimeWarning):
        check_value(fn, x)
    grad = gradient(lambda x: sum(np.sum(np.where(r == r, r, 0.0)) for r in fn(x)[:7]), x)
    assert np.all(np.isfinite(grad))
    np.testing.assert_array_equal(grad[np.isnan(x)], 0.0)


@st.composite
def average_case(draw):
    x = draw(array(draw(st.sampled_from(NUMERIC)), draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))))
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    full_weights = draw(array(np.float64, x.shape, lo=0.5, hi=2.0))
    weights = draw(array(draw(st.sampled_from(FLOATS)), (x.shape[axis],), lo=0.5, hi=2.0))
    return (lambda x, w, v: (np.average(x), np.average(x, axis, keepdims=True), np.average(x, None, v),
                             *np.average(x, axis, w, returned=True)), x, weights, full_weights)


@given(average_case())
def test_average_with_weights_and_returned_matches_numpy_and_finite_differences(case):
    check_like_numpy(*case)


def test_average_refuses_weights_of_another_shape_without_an_axis():
    with pytest.raises(irtoy.ShapeError, match=r"average\(.*give axis="):
        irtoy.trace(lambda x: np.average(x, weights=np.ones(3)), np.ones((2, 3)))


# -- sorting and order statistics ------------------------------------------------------------------

@st.composite
def order_case(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    dtype = draw(st.sampled_from(NUMERIC))
    # distinct entries, shuffled: the sorted order is the same a finite-difference step away
    x = (np.array(draw(st.permutations(range(int(np.prod(shape)))))) * 0.5 - 2).reshape(shape)
    x = x.astype(dtype) if dtype.kind == "f" else np.floor(x).astype(dtype)
    axis, keepdims = draw(axes_of(x.ndim)), draw(st.booleans())
    single = draw(st.integers(-x.ndim, x.ndim - 1))
    q = draw(st.sampled_from([0.0, 0.25, 0.5, 1.0, [0.1, 0.9], [[0.3], [1.0]]]))
    return (lambda x: (np.sort(x), np.sort(x, single), np.sort(x, axis=None), np.median(x, axis, keepdims=keepdims),
                       np.quantile(x, q, axis, keepdims=keepdims), np.percentile(x, np.multiply(q, 100), single))), x


@given(order_case())
def test_sort_median_and_quantile_match_numpy_and_finite_differences(case):
    check_like_numpy(*case)


def test_median_and_quantile_are_nan_where_a_slice_holds_a_nan_and_sort_puts_nans_last():
    x = np.array([[3.0, np.nan, 1.0], [2.0, 5.0, 4.0]])
    check_value(lambda x: (np.median(x, axis=1), np.quantile(x, [0.2, 0.7], axis=1), np.sort(x, axis=1)), x)
    grad = gradient(lambda x: np.sum(np.median(x, 0)[::2]), x)     # the columns without a NaN
    np.testing.assert_array_equal(grad, [[0.5, 0.0, 0.5], [0.5, 0.0, 0.5]])


def test_quantiles_that_cannot_be_traced_are_refused_naming_why():
    with pytest.raises(irtoy.TraceError, match=r"numpy.quantile: the option\(s\) method cannot be traced"):
        irtoy.trace(lambda x: np.quantile(x, 0.5, method="nearest"), np.ones(3))
    with pytest.raises(irtoy.TraceError, match=r"quantile\(.*q must be constants"):
        irtoy.trace(lambda x, q: np.quantile(x, q), np.ones(3), np.array(0.5))
    with pytest.raises(irtoy.ShapeError, match=r"quantile\(.*numbers in \[0, 1\], not \[1.5\]"):
        irtoy.trace(lambda x: np.quantile(x, [1.5]), np.ones(3))


# -- numba -------------------------------------------------------------------------------------

@settings(max_examples=2, derandomize=True, deadline=None)
@given(array(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=2, max_side=4)))
def test_reductions_and_scans_on_numba_match_the_interpreter(x):
    x = x + np.arange(x.size).reshape(x.shape) * 0.01      # distinct entries: smooth
    mask = np.arange(x.shape[1]) % 2 == 0
    check_like_numpy(lambda x: (np.sum(x, 1, where=mask, initial=1.5), np.prod(x, 0), np.max(x, 1, initial=-9.0),
                                np.cumprod(x, axis=-1), np.cumsum(x), np.std(x, axis=0), np.argmin(x, 0),
                                np.all(x > 0, 1), np.any(x > 1, 0), np.count_nonzero(x > 0), np.nanmax(x, 0),
                                np.median(x, 0)),
                     x, numba=True)
