"""NumPy's elementwise functions written as compositions of ops (np.clip, np.round, np.sinc,
np.fmax, np.divmod, ...) against NumPy, finite differences and numba; and the rules of the
elementwise ops where NumPy's differ from C's and Python's (integer division by 0, shifts by
the width, NaN in maximum and fmax, logaddexp of large numbers), on both backends."""
import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import irtoy
from numpy_checks import assert_same_array, check_like_numpy, check_value
from op_cases import FLOATS, INTEGERS, away_from_jumps, away_from_whole, array

pytestmark = pytest.mark.usefixtures("numba_kernel_cache")

WIDE_INTEGERS = [d for d in INTEGERS if d.itemsize > 1]     # 8-bit ones go to float16, which numba lacks


def _rounding_smooth(decimals):
    return lambda x: away_from_whole(np.asarray(x, np.float64) * 10.0 ** decimals, 0.5)


def _nowhere_tied(x, y):
    return np.abs(np.asarray(x, np.float64) - y) > 1e-3


# name: (function, number of arguments, dtypes, lo, hi, where it is smooth)
UNARY = {
    "square": (np.square, FLOATS + INTEGERS, -3, 3, None),
    "reciprocal": (np.reciprocal, FLOATS + INTEGERS, -3, 3, lambda x: np.abs(x) > 0.1),
    "positive": (np.positive, FLOATS + INTEGERS, -3, 3, None),
    "deg2rad": (np.deg2rad, FLOATS + WIDE_INTEGERS, -400, 400, None),
    "radians": (np.radians, FLOATS, -400, 400, None),
    "rad2deg": (np.rad2deg, FLOATS + WIDE_INTEGERS, -7, 7, None),
    "degrees": (np.degrees, FLOATS, -7, 7, None),
    "sinc": (np.sinc, FLOATS + WIDE_INTEGERS, -3, 3, None),
    "nan_to_num": (np.nan_to_num, FLOATS + INTEGERS, -3, 3, None),
    "fix": (np.fix, FLOATS + INTEGERS, -3, 3, away_from_whole),
    "round": (np.round, FLOATS + INTEGERS, -3, 3, lambda x: away_from_whole(x, 0.5)),
    "round[1]": (lambda x: np.round(x, 1), FLOATS + INTEGERS, -3, 3, _rounding_smooth(1)),
    "around[-1]": (lambda x: np.around(x, decimals=-1), FLOATS + INTEGERS, -30, 30, _rounding_smooth(-1)),
    "x.round(2)": (lambda x: x.round(2), FLOATS, -3, 3, _rounding_smooth(2)),
    "isnan": (np.isnan, FLOATS + INTEGERS, -3, 3, None),
    "isinf": (np.isinf, FLOATS + INTEGERS, -3, 3, None),
    "isfinite": (np.isfinite, FLOATS + INTEGERS, -3, 3, None),
    "logical_not": (np.logical_not, FLOATS + INTEGERS, -2, 2, None),
    "clip[-1,1]": (lambda x: np.clip(x, -1, 1), FLOATS + INTEGERS, -3, 3, lambda x: np.abs(np.abs(x) - 1) > 1e-3),
    "clip[None,1]": (lambda x: np.clip(x, None, 1), FLOATS + INTEGERS, -3, 3, lambda x: np.abs(x - 1) > 1e-3),
    "clip[min=]": (lambda x: np.clip(x, min=0.5), FLOATS + INTEGERS, -3, 3, lambda x: np.abs(x - 0.5) > 1e-3),
    "x.clip(max=)": (lambda x: x.clip(max=2), FLOATS + INTEGERS, -3, 3, lambda x: np.abs(x - 2) > 1e-3),
    "clip[int8 range]": (lambda x: np.clip(x, -1000, 2), INTEGERS, -3, 3, None),
    "float_power[3]": (lambda x: np.float_power(x, 3), FLOATS + INTEGERS, -3, 3, None),
}
BINARY = {
    "clip[x, lo, hi]": (lambda x, lo: np.clip(x, lo, lo + 1), FLOATS + INTEGERS, -3, 3,
                        lambda x, lo: (np.abs(x - lo) > 1e-3) & (np.abs(x - lo - 1) > 1e-3)),
    "x.clip(lo)": (lambda x, lo: x.clip(lo), FLOATS + INTEGERS, -3, 3, _nowhere_tied),
    "fmax": (np.fmax, FLOATS + INTEGERS, -3, 3, _nowhere_tied),
    "fmin": (np.fmin, FLOATS + INTEGERS, -3, 3, _nowhere_tied),
    "heaviside": (np.heaviside, FLOATS + WIDE_INTEGERS, -2, 2, lambda x, h: np.abs(x) > 1e-3),
    "float_power": (np.float_power, FLOATS, 0.5, 2, None),
    "logical_and": (np.logical_and, FLOATS + INTEGERS, -1, 1, None),
    "logical_or": (np.logical_or, FLOATS + INTEGERS, -1, 1, None),
    "logical_xor": (np.logical_xor, FLOATS + INTEGERS, -1, 1, None),
    "divmod": (divmod, FLOATS + INTEGERS, -5, 5, away_from_jumps),
    "np.divmod": (np.divmod, FLOATS + INTEGERS, -5, 5, away_from_jumps),
    "mod": (np.mod, FLOATS + INTEGERS, -5, 5, away_from_jumps),
    "x % y": (lambda x, y: x % y, FLOATS + INTEGERS, -5, 5, away_from_jumps),
    "x // y": (lambda x, y: x // y, FLOATS + INTEGERS, -5, 5, away_from_jumps),
    "modf": (lambda x, y: np.modf(x * y), FLOATS + WIDE_INTEGERS, -3, 3, lambda x, y: away_from_whole(x * y)),
    "3 % y, 7 // y": (lambda x, y: (3 % y, 7 // y, x), FLOATS + INTEGERS, -5, 5, away_from_jumps),
}


def _same_kind(x_dtype, dtypes):
    """The other argument's dtypes: integers with integers of one signedness, floats with any
    (NumPy has no integer dtype for int64 next to uint64)."""
    if x_dtype.kind == "f":
        return dtypes
    return [d for d in dtypes if d.kind == x_dtype.kind or d.kind == "f"]


@st.composite
def composition_case(draw, table=None):
    """(fn, args, smooth) for a drawn function of UNARY or BINARY, on drawn shapes and dtypes."""
    name = draw(st.sampled_from(sorted(UNARY) + sorted(BINARY)) if table is None else st.sampled_from(table))
    fn, dtypes, lo, hi, smooth_at = UNARY[name] if name in UNARY else BINARY[name]
    nargs = 1 if name in UNARY else 2
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=nargs, min_dims=0, max_dims=3, max_side=4)).input_shapes
    first = draw(st.sampled_from(dtypes))
    kinds = [first] + [draw(st.sampled_from(_same_kind(first, dtypes))) for _ in shapes[1:]]
    args = tuple(draw(array(d, s, lo, hi)) for d, s in zip(kinds, shapes))
    with np.errstate(all="ignore"):
        smooth = smooth_at is None or bool(np.all(smooth_at(*args)))
    return fn, args, smooth


@given(composition_case())
def test_compositions_match_numpy_and_finite_differences(case):
    fn, args, smooth = case
    check_like_numpy(fn, *args, grad=smooth)


@settings(max_examples=2, derandomize=True, deadline=None)
@given(composition_case())
def test_compositions_on_numba_match_the_interpreter(case):
    fn, args, smooth = case
    check_like_numpy(fn, *args, grad=smooth, numba=True)


# -- special values, one numba compile for many functions -------------------------------------

SPECIAL = np.array([-np.inf, -2.5, -1.0, -0.5, -0.0, 0.0, 0.5, 1.5, 2.5, 1000.0, np.inf, np.nan])


def special_values(x, y):
    """Functions whose NaN, infinity and signed-zero rules NumPy spells out."""
    return [np.maximum(x, y), np.minimum(x, y), np.fmax(x, y), np.fmin(x, y), np.isnan(x), np.isinf(x),
            np.isfinite(x), np.nan_to_num(x), np.nan_to_num(x, nan=-1.0, posinf=7.0, neginf=-5.0), np.heaviside(x, 0.5),
            np.heaviside(x, y), np.logaddexp(x, y), np.logaddexp2(x, y), np.signbit(x), np.copysign(1.0, x),
            np.copysign(y, x), x // y, x % y, np.fmod(x, y), np.floor(x), np.ceil(x), np.rint(x), np.trunc(x),
            np.round(x, 1), np.sinc(x), np.clip(x, -1.0, y), np.logical_and(x, y), np.logical_not(x),
            np.reciprocal(x), np.cbrt(x), np.expm1(x), np.log1p(x), *np.modf(x), np.sign(x), abs(x), -x]


@pytest.mark.parametrize("dtype", FLOATS)
def test_nan_infinity_and_signed_zero_follow_numpy_on_both_backends(dtype):
    x = SPECIAL.astype(dtype)[:, None]
    y = SPECIAL.astype(dtype)[None, :]
    traced = irtoy.trace(special_values, x, y)
    with np.errstate(all="ignore"):
        expected = special_values(x, y)
        on_interpreter = traced.compile("numpy")(x, y)
        on_numba = traced.compile("numba", debug=False)(x, y)
    for i, (e, a, b) in enumerate(zip(expected, on_interpreter, on_numba, strict=True)):
        np.testing.assert_array_equal(a, e, err_msg=f"interpreter, result {i}")
        np.testing.assert_array_equal(np.signbit(a), np.signbit(e), err_msg=f"interpreter sign, result {i}")
        assert_same_array(b, e)
        exact = i not in (11, 12, 24, 29, 30, 31)       # transcendental: within the tolerance only
        if exact:
            np.testing.assert_array_equal(b, e, err_msg=f"numba, result {i}")
            np.testing.assert_array_equal(np.signbit(b), np.signbit(e), err_msg=f"numba sign, result {i}")


# -- integers: every width, NumPy's rules -------------------------------------------------------

def integer_functions(x, y):
    return [x // y, x % y, np.fmod(x, y), *np.divmod(x, y), np.reciprocal(x), x & y, x | y, x ^ y, ~x,
            x << y, x >> y, np.left_shift(x, 3), np.right_shift(x, 1), np.clip(x, -1000, 3),
            np.round(np.clip(x, -100, 100), -1), np.floor(x), np.trunc(x), np.square(x), np.signbit(x)]


def integer_arguments(dtype):
    """Values around 0 and the dtype's ends, against divisors and shifts that include 0, -1
    and the dtype's width and more."""
    info = np.iinfo(dtype)
    values = [info.min, info.min + 1, -7, -2, -1, 0, 1, 2, 7, 100, info.max]
    x = np.array([v for v in values if info.min <= v <= info.max], dtype)[:, None]
    shifts = [0, 1, 3, -1, -3, 8 * x.itemsize - 1, 8 * x.itemsize, 8 * x.itemsize + 1, info.max, 2, -7]
    y = np.array([v for v in shifts if info.min <= v <= info.max], dtype)[None, :]
    return x, y


def test_integer_division_shifts_and_rounding_follow_numpy_for_every_width():
    """One trace for all eight widths, so numba compiles once: floor division and remainder
    by 0 (0 in NumPy), the most negative number by -1 (it wraps), shifts by the width or more
    and by negative amounts (0 or -1), the reciprocal of 0 (the machine's conversion of inf)."""
    arguments = [a for d in INTEGERS for a in integer_arguments(d)]

    def every_width(*xy):
        return [r for x, y in zip(xy[::2], xy[1::2]) for r in integer_functions(x, y)]
    with np.errstate(all="ignore"):
        expected = every_width(*arguments)
        traced = irtoy.trace(every_width, *arguments)
        on_interpreter = traced.compile("numpy")(*arguments)
        on_numba = traced.compile("numba", debug=False)(*arguments)
    for i, (e, a, b) in enumerate(zip(expected, on_interpreter, on_numba, strict=True)):
        assert_same_array(a, e)
        assert_same_array(b, e)


# -- gradients ----------------------------------------------------------------------------------

def value_and_gradients(fn, *args, backend="numpy"):
    traced = irtoy.trace(lambda *xs: np.sum(fn(*xs)), *args)
    return traced.value_and_grad(wrt=tuple(range(len(args)))).compile(backend)(*args)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_logaddexp_is_stable_at_large_and_infinite_arguments(backend):
    x = np.array([1000.0, 1000.0, -1000.0, 1000.0, np.inf, -np.inf, np.inf, 0.0])
    y = np.array([1000.0, 0.0, -1000.0, 1001.0, np.inf, -np.inf, 0.0, -np.inf])
    weights = np.arange(1.0, 9.0)
    for fn, share_of_smaller in [(np.logaddexp, 1 / (1 + np.e)), (np.logaddexp2, 1 / 3)]:
        value, (dx, dy) = value_and_gradients(lambda x, y: fn(x, y) * weights, x, y, backend=backend)
        with np.errstate(all="ignore"):
            np.testing.assert_allclose(value, np.sum(fn(x, y) * weights), rtol=1e-15)
        # ties share equally (infinite ones too); the larger by far takes all
        np.testing.assert_allclose(dx / weights, [0.5, 1.0, 0.5, share_of_smaller, 0.5, 0.5, 1.0, 1.0], rtol=1e-12)
        np.testing.assert_allclose((dx + dy) / weights, np.ones(8), rtol=1e-12)


def test_logaddexp_gradients_match_finite_differences_far_apart():
    x, y = np.array([1000.0, -3.0, 20.0]), np.array([999.5, 40.0, 20.25])
    check_like_numpy(np.logaddexp, x, y)
    check_like_numpy(np.logaddexp2, x, y)


def test_second_derivatives_of_logaddexp_at_large_ties_are_p_times_one_minus_p():
    dx = irtoy.grad(lambda x, y: np.sum(np.logaddexp(x, y)))
    second = irtoy.grad(lambda x, y: np.sum(dx(x, y)), wrt=(0, 1))
    x = np.array([1000.0, -1000.0, 3.0])
    dxx, dxy = second(x, np.array([1000.0, -1000.0, 3.0 + np.log(3.0)]))
    np.testing.assert_allclose(dxx, [0.25, 0.25, 0.1875], rtol=1e-12)
    np.testing.assert_allclose(dxy, [-0.25, -0.25, -0.1875], rtol=1e-12)


def test_second_derivatives_of_powers_at_zero_are_finite_and_right():
    """x ** 0 is 1 (all derivatives 0, at x = 0 too); 0 ** y is 0 for y > 0 (flat in y), and
    d/dx x ** y at x = 0 is y x ** (y - 1), whose derivative in y there is 0 for y > 1."""
    def second(fn, i, j, *args):
        first = irtoy.grad(lambda *xs: np.sum(fn(*xs)), wrt=i)
        return irtoy.grad(lambda *xs: np.sum(first(*xs)), wrt=j)(*args)
    x0, y2 = np.array([0.0, 0.0, 2.0]), np.array([0.0, 2.0, 3.0])
    np.testing.assert_array_equal(second(lambda x: x ** 0.0, 0, 0, x0), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(second(lambda x, y: x ** y, 0, 0, x0, y2), [0.0, 2.0, 12.0])
    np.testing.assert_array_equal(second(lambda y: 0.0 ** y, 0, 0, np.array([0.5, 2.0])), [0.0, 0.0])
    np.testing.assert_allclose(second(lambda x, y: x ** y, 1, 1, x0, y2), [0.0, 0.0, 8.0 * np.log(2.0) ** 2])
    np.testing.assert_allclose(second(lambda x, y: x ** y, 0, 1, x0, y2), [0.0, 0.0, 4 + 12 * np.log(2.0)])


def test_integer_round_to_tens_wraps_around_on_both_backends():
    x = np.array([127, 125, -128, 15, 25, -15, -25], np.int8)
    fn = lambda x: np.round(x, -1)
    expected = np.array([-126, 120, 126, 20, 20, -20, -20], np.int8)
    traced = irtoy.trace(fn, x)
    assert_same_array(traced.compile("numpy")(x), expected)
    assert_same_array(traced.compile("numba", debug=False)(x), expected)


def test_piecewise_constant_functions_have_zero_gradient_and_remainder_its_own():
    x, y = np.array([2.7, -2.7, 0.2, -5.5]), np.array([1.5, 1.5, -0.5, 2.0])
    rounding = lambda x: np.floor(x) + np.ceil(x) + np.rint(x) + np.trunc(x) + np.round(x, 1) + np.sign(x) + np.fix(x)
    np.testing.assert_array_equal(irtoy.grad(lambda x: np.sum(rounding(x)))(x), np.zeros(4))
    dx, dy = irtoy.grad(lambda x, y: np.sum(x % y), wrt=(0, 1))(x, y)
    np.testing.assert_array_equal(dx, np.ones(4))
    np.testing.assert_array_equal(dy, -np.floor(x / y))
    dx, dy = irtoy.grad(lambda x, y: np.sum(np.fmod(x, y)), wrt=(0, 1))(x, y)
    np.testing.assert_array_equal(dx, np.ones(4))
    np.testing.assert_array_equal(dy, -np.trunc(x / y))


def test_sinc_has_gradient_zero_and_no_nan_at_zero():
    x = np.array([0.0, 0.5, -1.5])
    grad = irtoy.grad(lambda x: np.sum(np.sinc(x)))
    second = irtoy.grad(lambda x: np.sum(grad(x)))
    assert grad(x)[0] == 0.0
    np.testing.assert_allclose(second(x)[0], -np.pi ** 2 / 3, rtol=1e-6)


# -- what is refused -----------------------------------------------------------------------------

def test_clip_refuses_a_bound_given_twice_naming_it_and_the_line():
    with pytest.raises(irtoy.ShapeError, match=r"clip\(.*\): the lower bound is given twice, as a_min and as min\n"
                                               r"  at \S*test_numpy_elementwise.py"):
        irtoy.trace(lambda x: np.clip(x, 0.0, 1.0, min=0.5), np.ones(3))


@pytest.mark.parametrize("fn, message", [
    (lambda x: np.floor(x, where=x > 0), r"numpy.floor: the option\(s\) where cannot be traced"),
    (lambda x: np.positive(x > 0), r"numpy.positive does not take arguments of dtype bool"),
    (lambda x: np.invert(x), r"numpy.invert does not take arguments of dtype float64"),
    (lambda x: np.round(x > 0, 1), r"numpy.round of booleans takes decimals=0 only"),
    (lambda x: np.floor(x.astype(np.complex64)), r"complex64 is not supported: traced arrays hold real numbers"),
])
def test_what_numpy_refuses_or_irtoy_cannot_trace_is_an_irtoy_error_naming_it(fn, message):
    with pytest.raises(irtoy.IrtoyError, match=message):
        irtoy.trace(fn, np.ones(3))


def test_a_ufuncs_dtype_keyword_casts_its_arguments_as_numpy_does():
    x, i = np.array([0.5, 1.5, -2.0], np.float32), np.array([3, -4, 5])
    fn = lambda x, i: (np.add(x, 1, dtype=np.float64), np.exp(x, dtype=np.float64), np.divmod(i, 2, dtype=np.float64),
                       np.add(x, i, dtype=np.int32, casting="unsafe"))
    check_value(fn, x, i)
    with pytest.raises(irtoy.TraceError, match=r"numpy.add: cannot cast an argument of dtype float32 to dtype=int32 "
                                               r"with casting='same_kind'\n  at \S*test_numpy_elementwise.py"):
        irtoy.trace(lambda x: np.add(x, x, dtype=np.int32), x)
    with pytest.raises(irtoy.TraceError, match=r"numpy.greater has no loop that computes in dtype=float64"):
        irtoy.trace(lambda x: np.greater(x, x, dtype=np.float64), x)


@pytest.mark.parametrize("dtype", [np.float16, np.int8, np.uint8, np.bool_])
def test_results_in_float16_are_numpys_to_the_bit(dtype):
    """8-bit integers and booleans compute in float16 in NumPy: the compositions do too (the
    angle conversions in float32, as NumPy's own code), on the interpreter."""
    x = np.array([0, 1, 3, 100, 0, 1, 1, 0]).astype(dtype)
    if dtype == np.float16:
        x = np.array([0.0, -0.5, 1.25, 100.0, np.inf, 33.3, -7.1, np.nan], dtype)
    fn = lambda x: (np.deg2rad(x), np.rad2deg(x), np.sinc(x), *np.modf(x), np.heaviside(x, np.float16(0.5)),
                    np.round(x), np.reciprocal(x), np.square(x))
    with np.errstate(all="ignore"):
        expected = fn(x)
        got = irtoy.trace(fn, x).compile("numpy")(x)
    for e, g in zip(expected, got, strict=True):
        assert g.dtype == e.dtype
        np.testing.assert_array_equal(g, e)


def smooth_compositions(x, y):
    return [np.sinc(x), np.deg2rad(x), np.rad2deg(y), np.square(x), np.reciprocal(y), np.fmax(x, y), np.fmin(x, y),
            np.clip(x, -1.0, y), np.heaviside(x, y), np.float_power(np.abs(y), 1.5), np.nan_to_num(x), x % y,
            np.fmod(x, y), *np.divmod(y, x), np.logaddexp(x, y), np.logaddexp2(y, x), *np.modf(x), np.round(x, 1),
            np.copysign(x, y), np.arcsinh(x) * np.cbrt(y), np.log1p(np.abs(x)) + np.expm1(y)]


@pytest.mark.parametrize("dtype", FLOATS)
def test_values_and_gradients_of_many_functions_in_one_numba_kernel_match_the_interpreter(dtype):
    """Away from every kink and jump, so finite differences check the gradient too."""
    x = np.array([[-2.3, -0.7, 0.42, 1.6]], dtype)
    y = np.array([[0.9], [-1.3], [2.2]], dtype)
    check_like_numpy(smooth_compositions, x, y, grad=True, numba=True)
