"""Elementwise ops: one scalar function applied at every point of the broadcast shape.

Most are a NumPy ufunc each, declared in one line by `elementwise`: the ufunc is the op's
reference implementation and what `np.<ufunc>(tracer)` traces to, its result dtype is
NumPy's own promotion for the argument dtypes, and the line names the op's cost per
element (for the numba backend's choice of running a loop on all cores).
"""
import functools

import numpy as np

from irtoy.errors import ShapeError
from irtoy.ops.normalize import refuse_options
from irtoy.ops.registry import bind, composite, declare
from irtoy.ops.spec import Spec


def broadcast_shapes(*shapes):
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ShapeError("shapes " + " and ".join(map(str, shapes)) + " do not broadcast") from None


@functools.lru_cache(maxsize=None)
def _result_dtype(ufunc, dtypes):
    """The dtype NumPy's own function gives for these argument dtypes (exact promotion); a
    ShapeError where NumPy has no loop for them (bitwise ops of floats, say)."""
    with np.errstate(all="ignore"):
        try:
            results = ufunc(*[np.ones((), d) for d in dtypes])
        except TypeError:
            raise ShapeError(f"numpy.{ufunc.__name__} does not take arguments of dtype "
                             + " and ".join(np.dtype(d).name for d in dtypes)) from None
    return (results[0] if ufunc.nout > 1 else results).dtype


def ufunc_rule(ufunc):
    def infer(specs):
        shape = broadcast_shapes(*[s.shape for s in specs])
        return Spec(shape, _result_dtype(ufunc, tuple(s.dtype for s in specs)))
    return infer


def elementwise(name, ufunc, cost=1, differentiable=True, commutative=False):
    """Declare the elementwise op `name`, computed by NumPy's `ufunc`; return its public function."""
    if ufunc.nin == 1:
        def function(x):
            return bind(name, x)
    else:
        def function(x, y):
            return bind(name, x, y)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"numpy.{ufunc.__name__}, traced as the elementwise op `{name}`."
    declare(name, "elementwise", ufunc_rule(ufunc), ufunc, ufunc.nin, numpy=(ufunc,), cost=cost,
            differentiable=differentiable, commutative=commutative, doc=f"numpy.{ufunc.__name__}")(function)
    return function


add = elementwise("add", np.add, commutative=True)
subtract = elementwise("subtract", np.subtract)
multiply = elementwise("multiply", np.multiply, commutative=True)
divide = elementwise("divide", np.divide, cost=5)
power = elementwise("power", np.power, cost=13)
maximum = elementwise("maximum", np.maximum, commutative=True)
minimum = elementwise("minimum", np.minimum, commutative=True)
negative = elementwise("negative", np.negative)
exp = elementwise("exp", np.exp, cost=9)
log = elementwise("log", np.log, cost=9)
sin = elementwise("sin", np.sin, cost=9)
cos = elementwise("cos", np.cos, cost=9)
tan = elementwise("tan", np.tan, cost=9)
tanh = elementwise("tanh", np.tanh, cost=9)
sqrt = elementwise("sqrt", np.sqrt, cost=5)
arctan2 = elementwise("arctan2", np.arctan2, cost=13)
hypot = elementwise("hypot", np.hypot, cost=9)
abs = elementwise("abs", np.absolute)
sign = elementwise("sign", np.sign)
log1p = elementwise("log1p", np.log1p, cost=9)
expm1 = elementwise("expm1", np.expm1, cost=9)
log2 = elementwise("log2", np.log2, cost=9)
log10 = elementwise("log10", np.log10, cost=9)
exp2 = elementwise("exp2", np.exp2, cost=9)
sinh = elementwise("sinh", np.sinh, cost=9)
cosh = elementwise("cosh", np.cosh, cost=9)
arcsin = elementwise("arcsin", np.arcsin, cost=9)
arccos = elementwise("arccos", np.arccos, cost=9)
arctan = elementwise("arctan", np.arctan, cost=9)
arcsinh = elementwise("arcsinh", np.arcsinh, cost=9)
arccosh = elementwise("arccosh", np.arccosh, cost=9)
arctanh = elementwise("arctanh", np.arctanh, cost=9)
cbrt = elementwise("cbrt", np.cbrt, cost=9)
logaddexp = elementwise("logaddexp", np.logaddexp, cost=13, commutative=True)
logaddexp2 = elementwise("logaddexp2", np.logaddexp2, cost=13, commutative=True)
copysign = elementwise("copysign", np.copysign)
floor = elementwise("floor", np.floor)
ceil = elementwise("ceil", np.ceil)
rint = elementwise("rint", np.rint)
trunc = elementwise("trunc", np.trunc)
floor_divide = elementwise("floor_divide", np.floor_divide, cost=5)
remainder = elementwise("remainder", np.remainder, cost=5)
fmod = elementwise("fmod", np.fmod, cost=5)
signbit = elementwise("signbit", np.signbit, differentiable=False)
bitwise_and = elementwise("bitwise_and", np.bitwise_and, differentiable=False, commutative=True)
bitwise_or = elementwise("bitwise_or", np.bitwise_or, differentiable=False, commutative=True)
bitwise_xor = elementwise("bitwise_xor", np.bitwise_xor, differentiable=False, commutative=True)
invert = elementwise("invert", np.invert, differentiable=False)
left_shift = elementwise("left_shift", np.left_shift, differentiable=False)
right_shift = elementwise("right_shift", np.right_shift, differentiable=False)
greater = elementwise("greater", np.greater, differentiable=False)
greater_equal = elementwise("greater_equal", np.greater_equal, differentiable=False)
less = elementwise("less", np.less, differentiable=False)
less_equal = elementwise("less_equal", np.less_equal, differentiable=False)
equal = elementwise("equal", np.equal, differentiable=False, commutative=True)
not_equal = elementwise("not_equal", np.not_equal, differentiable=False, commutative=True)


def where_rule(specs):
    c, x, y = specs
    shape = broadcast_shapes(c.shape, x.shape, y.shape)
    return Spec(shape, np.result_type(x.dtype, y.dtype))


@declare("where", "elementwise", where_rule, np.where, 3, numpy=(np.where,), doc="numpy.where(cond, x, y)")
def where(condition, x=None, y=None):
    """numpy.where(condition, x, y) with broadcasting (the one-argument form has no static shape)."""
    if x is None or y is None:
        raise ShapeError("numpy.where(condition) alone gives data-dependent shapes; "
                         "give both x and y: np.where(condition, x, y)")
    return bind("where", condition, x, y)


def cast_rule(specs, dtype):
    return Spec(specs[0].shape, np.dtype(dtype))


def _cast(x, dtype):
    return np.asarray(x).astype(dtype)


@declare("cast", "elementwise", cast_rule, _cast, 1, methods=("astype",), doc="x.astype(dtype)")
def cast(x, dtype, order="K", casting="unsafe", subok=True, copy=True):
    """x.astype(dtype)."""
    try:
        dtype = np.dtype(dtype)
    except TypeError as e:
        raise ShapeError(f"{dtype!r} is not a dtype: {e}") from None
    return bind("cast", x, dtype=dtype.name)


# -- compositions ----------------------------------------------------------------------------
#
# Each computes what NumPy computes, in NumPy's result dtype (`_numpy_dtype`): where NumPy's
# own code is a formula (sinc, round, deg2rad), the same formula in the same dtype, so the
# results agree to the last bit on the interpreter.

def _dtype_of(value):
    return value.dtype if hasattr(value, "dtype") else np.result_type(value)


def _numpy_dtype(ufunc, *args):
    """The dtype of NumPy's `ufunc(*args)`: Python numbers weak, as NumPy takes them; a
    ShapeError naming the ufunc where NumPy takes no such arguments."""
    if all(hasattr(a, "dtype") for a in args):
        return _result_dtype(ufunc, tuple(np.dtype(a.dtype) for a in args))
    samples = [np.ones((), a.dtype) if hasattr(a, "dtype") else a for a in args]
    with np.errstate(all="ignore"):
        try:
            results = ufunc(*samples)
            return np.asarray(results[0] if ufunc.nout > 1 else results).dtype
        except TypeError:
            raise ShapeError(f"numpy.{ufunc.__name__} does not take arguments of dtype "
                             + " and ".join(_dtype_of(a).name for a in args)) from None


def _as(value, dtype):
    """`value` in `dtype`: arrays and traced values cast, Python numbers left weak."""
    if isinstance(value, (bool, int, float)) or _dtype_of(value) == dtype:
        return value
    return cast(value, dtype)


def _integer_bound(bound, dtype):
    """A Python int bound of clip within an integer dtype's range (NumPy's clip takes any)."""
    if isinstance(bound, int) and not isinstance(bound, bool) and np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        return min(max(bound, int(info.min)), int(info.max))
    return bound


@composite("clip", numpy=(np.clip,), methods=("clip",))
def clip(a, a_min=np._NoValue, a_max=np._NoValue, out=None, *, min=np._NoValue, max=np._NoValue, **kwargs):
    """numpy.clip and x.clip: maximum with the lower bound, then minimum with the upper one (as
    NumPy, so a lower bound above the upper gives the upper). Either may be None or left out;
    `min=`/`max=` are NumPy 2.1's names for them."""
    refuse_options("clip", out=out, **kwargs)
    lower, upper = _bound(a_min, min, "lower", "a_min", "min"), _bound(a_max, max, "upper", "a_max", "max")
    dtype = _dtype_of(a)
    if lower is not None:
        a = maximum(a, _integer_bound(lower, dtype))
    if upper is not None:
        a = minimum(a, _integer_bound(upper, dtype))
    return a


def _bound(positional, keyword, which, positional_name, keyword_name):
    """One bound of clip, given by either of its two names (None: no bound)."""
    given = [v for v in (positional, keyword) if v is not np._NoValue and v is not None]
    if len(given) == 2:
        raise ShapeError(f"the {which} bound is given twice, as {positional_name} and as {keyword_name}")
    return given[0] if given else None


@composite("positive", numpy=(np.positive,))
def positive(x):
    """numpy.positive: the value itself (booleans refused, as NumPy refuses them)."""
    _numpy_dtype(np.positive, x)
    return x


@composite("square", numpy=(np.square,))
def square(x):
    """numpy.square: x * x, in NumPy's dtype (booleans square to int8)."""
    x = _as(x, _numpy_dtype(np.square, x))
    return multiply(x, x)


@composite("reciprocal", numpy=(np.reciprocal,))
def reciprocal(x):
    """numpy.reciprocal: 1 / x. NumPy computes 1.0 / x for integers and truncates it to the
    dtype: 1 and -1 are their own reciprocal, others give 0, and 0 gives what the machine's
    conversion of inf makes (read from NumPy itself)."""
    dtype = _numpy_dtype(np.reciprocal, x)
    x = _as(x, dtype)
    if dtype.kind == "f":
        return divide(1, x)
    with np.errstate(all="ignore"):
        at_zero = np.reciprocal(np.zeros((), dtype))
    unit = equal(x, 1) if dtype.kind == "u" else equal(abs(x), 1)
    return where(equal(x, 0), at_zero, where(unit, x, dtype.type(0)))


def _angle_conversion(ufunc, numerator, denominator):
    def convert(x):
        """x times numerator / denominator, the constant rounded in the result's dtype as
        NumPy's own code rounds it (float16 computes in float32, as NumPy's does)."""
        dtype = _numpy_dtype(ufunc, x)
        working = np.dtype(np.float32) if dtype == np.float16 else dtype
        result = multiply(_as(x, working), working.type(numerator) / working.type(denominator))
        return _as(result, dtype)
    return convert


deg2rad = composite("deg2rad", numpy=(np.deg2rad, np.radians))(_angle_conversion(np.deg2rad, np.pi, 180))
rad2deg = composite("rad2deg", numpy=(np.rad2deg, np.degrees))(_angle_conversion(np.rad2deg, 180, np.pi))


@composite("sinc", numpy=(np.sinc,))
def sinc(x):
    """numpy.sinc: sin(y) / y for y = pi x, as NumPy writes it (y taken as eps where it is 0,
    so no 0 / 0). There the value 1 is written 1 - y^2 / 6, the series' first terms, so that
    the first and second derivatives at 0 are the true ones (0 and -pi^2 / 3), not those of a
    constant."""
    y = multiply(np.pi, x)
    at_zero = equal(y, 0)
    safe = where(at_zero, np.finfo(_dtype_of(y)).eps, y)
    return where(at_zero, 1 - y * y / 6, divide(sin(safe), safe))


@composite("isnan", numpy=(np.isnan,))
def isnan(x):
    """numpy.isnan: x != x (never true for integers)."""
    _numpy_dtype(np.isnan, x)
    return not_equal(x, x)


@composite("isinf", numpy=(np.isinf,))
def isinf(x):
    """numpy.isinf: |x| == inf (never true for integers)."""
    _numpy_dtype(np.isinf, x)
    return equal(abs(x), np.inf) if _dtype_of(x).kind == "f" else not_equal(x, x)


@composite("isfinite", numpy=(np.isfinite,))
def isfinite(x):
    """numpy.isfinite: |x| < inf, false for nan (always true for integers)."""
    _numpy_dtype(np.isfinite, x)
    return less(abs(x), np.inf) if _dtype_of(x).kind == "f" else equal(x, x)


@composite("nan_to_num", numpy=(np.nan_to_num,))
def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """numpy.nan_to_num: nan, inf and -inf replaced (by default with 0 and the dtype's largest
    and smallest numbers), in x's dtype; integers unchanged."""
    dtype = _dtype_of(x)
    if dtype.kind != "f":
        return x
    info = np.finfo(dtype)
    posinf, neginf = (info.max if posinf is None else posinf), (info.min if neginf is None else neginf)

    def value(v):
        return cast(v, dtype) if hasattr(v, "_builder") else np.asarray(v).astype(dtype)
    result = where(equal(x, -np.inf), value(neginf), x)
    result = where(equal(x, np.inf), value(posinf), result)
    return where(isnan(x), value(nan), result)


def _truth(x):
    return x if _dtype_of(x) == np.bool_ else not_equal(x, 0)


@composite("logical_and", numpy=(np.logical_and,))
def logical_and(x, y):
    """numpy.logical_and: both nonzero."""
    return bitwise_and(_truth(x), _truth(y))


@composite("logical_or", numpy=(np.logical_or,))
def logical_or(x, y):
    """numpy.logical_or: either nonzero."""
    return bitwise_or(_truth(x), _truth(y))


@composite("logical_xor", numpy=(np.logical_xor,))
def logical_xor(x, y):
    """numpy.logical_xor: exactly one nonzero."""
    return bitwise_xor(_truth(x), _truth(y))


@composite("logical_not", numpy=(np.logical_not,))
def logical_not(x):
    """numpy.logical_not: x == 0."""
    return equal(x, 0) if _dtype_of(x) != np.bool_ else invert(x)


@composite("heaviside", numpy=(np.heaviside,))
def heaviside(x1, x2):
    """numpy.heaviside: 0 below 0, 1 above, x2 at 0, nan at nan."""
    dtype = _numpy_dtype(np.heaviside, x1, x2)
    x1, x2 = _as(x1, dtype), _as(x2, dtype)
    step = where(less(x1, 0), dtype.type(0), dtype.type(1))
    return where(isnan(x1), x1, where(equal(x1, 0), x2, step))


def _nan_ignoring(ufunc, pick):
    def fn(x1, x2):
        """The larger (fmax) or smaller (fmin) of x1 and x2; a nan only where both are nan."""
        if _numpy_dtype(ufunc, x1, x2).kind != "f":
            return pick(x1, x2)
        return where(isnan(x2), x1, where(isnan(x1), x2, pick(x1, x2)))
    return fn


fmax = composite("fmax", numpy=(np.fmax,))(_nan_ignoring(np.fmax, maximum))
fmin = composite("fmin", numpy=(np.fmin,))(_nan_ignoring(np.fmin, minimum))


@composite("float_power", numpy=(np.float_power,))
def float_power(x1, x2):
    """numpy.float_power: power in float64 (or wider)."""
    dtype = _numpy_dtype(np.float_power, x1, x2)
    return power(_as(x1, dtype), _as(x2, dtype))


@composite("round", numpy=(np.round, np.around), methods=("round",))
def round(a, decimals=0, out=None):
    """numpy.round: half to even at `decimals` digits, as NumPy computes it: rint of a times
    10**decimals, divided back (for decimals < 0: divided, then multiplied), in a's dtype;
    integers at decimals >= 0 are unchanged, at decimals < 0 rounded through float64. A result
    out of the integer dtype's range is the machine's float-to-int conversion in NumPy (127 to
    tens in int8 is -126 on x86, other things elsewhere); here it wraps around, through a
    64-bit integer, the same on every machine and backend."""
    refuse_options("round", out=out)
    dtype = _dtype_of(a)
    if dtype.kind in "iu" and decimals >= 0:
        return a
    if dtype == np.bool_:
        if decimals != 0:
            raise ShapeError(f"numpy.round of booleans takes decimals=0 only, not {decimals}")
        return rint(a)
    if decimals == 0:
        return rint(a)
    with np.errstate(over="ignore"):       # inf beyond float64's range, as in NumPy
        power_of_ten = np.float64(10.0) ** (decimals if decimals > 0 else -decimals)
    scale = (np.dtype(np.float64) if dtype.kind in "iu" else dtype).type(power_of_ten)
    if decimals > 0:
        return divide(rint(multiply(a, scale)), scale)
    rounded = multiply(rint(divide(a, scale)), scale)
    if dtype.kind in "iu":
        rounded = cast(rounded, np.int64 if dtype.kind == "i" else np.uint64)
    return _as(rounded, dtype)


@composite("fix", numpy=(np.fix,))
def fix(x, out=None):
    """numpy.fix: rounds towards zero, as trunc."""
    refuse_options("fix", out=out)
    return trunc(x)


@composite("divmod", numpy=(np.divmod,))
def divmod_(x, y):
    """numpy.divmod and Python's divmod(): (x // y, x % y)."""
    return floor_divide(x, y), remainder(x, y)


@composite("modf", numpy=(np.modf,))
def modf(x):
    """numpy.modf: (fractional part, integral part), both with x's sign; an infinity's
    fractional part is 0."""
    dtype = _numpy_dtype(np.modf, x)
    x = _as(x, dtype)
    fraction = where(isinf(x), copysign(dtype.type(0), x), fmod(x, dtype.type(1)))
    return fraction, trunc(x)
