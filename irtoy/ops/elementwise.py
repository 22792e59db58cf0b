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
    """The dtype NumPy's own function gives for these argument dtypes (exact promotion)."""
    with np.errstate(all="ignore"):
        return ufunc(*[np.ones((), d) for d in dtypes]).dtype


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

@composite("clip", numpy=(np.clip,), methods=("clip",))
def clip(a, a_min=None, a_max=None, out=None, **kwargs):
    """numpy.clip: maximum with a_min, then minimum with a_max (either may be None)."""
    refuse_options("clip", out=out, **kwargs)
    if a_min is not None:
        a = maximum(a, a_min)
    return a if a_max is None else minimum(a, a_max)


@composite("positive", numpy=(np.positive,))
def positive(x):
    """numpy.positive: the value itself."""
    return x


@composite("square", numpy=(np.square,))
def square(x):
    """numpy.square: x * x."""
    return multiply(x, x)


@composite("reciprocal", numpy=(np.reciprocal,))
def reciprocal(x):
    """numpy.reciprocal: 1 / x."""
    return divide(1, x)
