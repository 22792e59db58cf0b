"""Reductions: combine the entries of an array along some axes (sum, prod, mean, max, min,
argmax, argmin), and the NumPy functions written with them (var, std, all, any, ptp, average,
count_nonzero, the nan* forms).

Axes are normalised to a sorted tuple of non-negative ints (`axis=None` is every axis), so
`np.sum(x)`, `x.sum(axis=-1)` and `np.add.reduce(x, 0)` all become one kind of node.
NumPy's `dtype=` converts the entries before they are combined (so np.sum(x, dtype=np.int8)
wraps around as NumPy's does), `where=` leaves entries out and `initial=` joins one more
value; all three are written with elementwise ops around the one reduction node.
"""
import builtins
import functools
import math

import numpy as np

from irtoy.errors import ShapeError, TraceError
from irtoy.ops.elementwise import (add, cast, divide, equal, maximum, minimum, multiply, not_equal, sqrt, subtract,
                                   where as select)
from irtoy.ops.indexing import sort
from irtoy.ops.movement import broadcast_to, reshape, stack, transpose
from irtoy.ops.normalize import check_axes, ndim_of, normalize_axes, refuse_options, shape_of
from irtoy.ops.registry import REGISTRY, bind, composite, declare
from irtoy.ops.scans import cumprod, cumsum
from irtoy.ops.spec import Spec


def reduction_rule(name, impl):
    def infer(specs, axis, keepdims):
        (x,) = specs
        check_axes(axis, len(x.shape))
        shape = tuple(1 if i in axis else d for i, d in enumerate(x.shape) if keepdims or i not in axis)
        if name in ("max", "min") and builtins.any(x.shape[i] == 0 for i in axis):
            raise ShapeError(f"cannot take {name} over an empty axis")
        return Spec(shape, _result_dtype(impl, x.dtype))
    return infer


@functools.lru_cache(maxsize=None)
def _result_dtype(impl, dtype):
    return impl(np.ones((1,), dtype), axis=(0,), keepdims=False).dtype


def _numpy_reduction(fn):
    def impl(x, axis, keepdims):
        return fn(x, axis=axis, keepdims=keepdims)
    return impl


def _declare_reduction(name, numpy_fns, doc):
    """Declare the reduction `name` (NumPy's `numpy_fns`, the first its reference code); the
    decorated function, with NumPy's signature, becomes its public function."""
    impl = _numpy_reduction(numpy_fns[0])
    return declare(name, "reduction", reduction_rule(name, impl), impl, 1, numpy=numpy_fns, methods=(name,), doc=doc)


def _given(option):
    """None for an option left at NumPy's default (None, np._NoValue, where=True)."""
    return None if option is None or option is np._NoValue or option is True else option


# what a left-out entry counts as (where=), and how `initial=` joins the result
_IDENTITY = {"sum": 0, "prod": 1}
_JOIN = {"sum": add, "prod": multiply, "max": maximum, "min": minimum}


def _reduce(name, a, axis, keepdims, dtype=None, initial=None, where=None):
    """The reduction `name` with NumPy's options: the entries converted to `dtype` first, those
    where `where` is False left out (counted as the identity, or as `initial`), `initial`
    joined to the result, which has `dtype`."""
    initial, where = _given(initial), _given(where)
    axes = normalize_axes(axis, ndim_of(a))
    if dtype is not None:
        a = cast(a, dtype)
    if where is not None:
        where = where if hasattr(where, "shape") else np.asarray(where)
        if name == "mean":
            return _masked_mean(a, axes, keepdims, where)
        fill = _IDENTITY.get(name, initial)
        if fill is None:
            raise ShapeError(f"{name} has no identity, so where= needs initial= (the value of an empty selection)")
        a = select(where, a, fill)
    if initial is not None and name not in _IDENTITY and builtins.any(shape_of(a)[i] == 0 for i in axes):
        shape = tuple(1 if i in axes else d for i, d in enumerate(shape_of(a)) if keepdims or i not in axes)
        result = broadcast_to(np.asarray(initial, a.dtype), shape)        # max or min of nothing: initial
    else:
        result = bind(name, a, axis=axes, keepdims=bool(keepdims))
    if initial is not None:
        joined = _JOIN[name](result, initial)
        result = joined if joined.dtype == result.dtype else cast(joined, result.dtype)
    return result if dtype is None or result.dtype == np.dtype(dtype) else cast(result, dtype)


def _masked_mean(a, axes, keepdims, where):
    """numpy.mean(a, where=mask): the sum of the chosen entries over their number."""
    total = _reduce("sum", a, axes, keepdims, where=where)
    count = sum(cast(broadcast_to(where, shape_of(a)), np.int64), axes, keepdims=keepdims)
    mean_dtype = _result_dtype(REGISTRY["mean"].impl, np.dtype(a.dtype))
    return divide(cast(total, mean_dtype), cast(count, mean_dtype))


@_declare_reduction("sum", (np.sum,), "the sum over axes")
def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """numpy.sum, traced as the `sum` reduction."""
    refuse_options("sum", out=out)
    return _reduce("sum", a, axis, keepdims, dtype, initial, where)


@_declare_reduction("prod", (np.prod,), "the product over axes")
def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """numpy.prod, traced as the `prod` reduction."""
    refuse_options("prod", out=out)
    return _reduce("prod", a, axis, keepdims, dtype, initial, where)


@_declare_reduction("mean", (np.mean,), "the mean over axes")
def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    """numpy.mean, traced as the `mean` reduction."""
    refuse_options("mean", out=out)
    return _reduce("mean", a, axis, keepdims, dtype, where=where)


@_declare_reduction("max", (np.max, np.amax), "the largest entry over axes")
def max(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """numpy.max (and numpy.amax), traced as the `max` reduction."""
    refuse_options("max", out=out)
    return _reduce("max", a, axis, keepdims, initial=initial, where=where)


@_declare_reduction("min", (np.min, np.amin), "the smallest entry over axes")
def min(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """numpy.min (and numpy.amin), traced as the `min` reduction."""
    refuse_options("min", out=out)
    return _reduce("min", a, axis, keepdims, initial=initial, where=where)


_mean = mean    # var's and std's argument `mean` hides the function


def arg_rule(name):
    def infer(specs, axis, keepdims):
        (x,) = specs
        if axis is None:
            shape = (1,) * len(x.shape) if keepdims else ()
        else:
            check_axes((axis,), len(x.shape))
            shape = tuple(1 if i == axis else d for i, d in enumerate(x.shape) if keepdims or i != axis)
        if 0 in x.shape:
            raise ShapeError(f"{name} of an empty array")
        return Spec(shape, np.dtype(np.intp))
    return infer


def _arg_reduction(name, fn, which):
    """Declare the reduction `name` (argmax, argmin: NumPy's `fn`), the index of the `which`
    entry; return its public function."""
    def impl(x, axis, keepdims):
        return fn(x, axis=axis, keepdims=keepdims)

    @declare(name, "reduction", arg_rule(name), impl, 1, numpy=(fn,), methods=(name,), differentiable=False,
             doc=f"the index of the {which} entry")
    def arg(a, axis=None, out=None, *, keepdims=False):
        refuse_options(name, out=out)
        if axis is not None:
            axis = normalize_axes(axis, ndim_of(a))[0]
        return bind(name, a, axis=axis, keepdims=bool(keepdims))
    arg.__name__ = arg.__qualname__ = name
    arg.__doc__ = f"numpy.{name}: the index of the {which} entry along `axis` (of the flattened array when None)."
    return arg


argmax = _arg_reduction("argmax", np.argmax, "largest")
argmin = _arg_reduction("argmin", np.argmin, "smallest")


# -- compositions ----------------------------------------------------------------------------

def _reduced_count(a, axis):
    """How many entries of `a` each result of a reduction over `axis` combines."""
    return math.prod(shape_of(a)[i] for i in normalize_axes(axis, ndim_of(a)))


@composite("var", numpy=(np.var,), methods=("var",))
def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, mean=None, correction=None):
    """numpy.var: the mean squared deviation from the mean, divided by n - ddof (never below 0,
    as NumPy divides)."""
    refuse_options("var", out=out, where=_given(where), mean=mean, correction=correction)
    if dtype is not None:
        a = cast(a, dtype)
    centred = a - _mean(a, axis, keepdims=True)
    return sum(centred * centred, axis, keepdims=keepdims) / builtins.max(_reduced_count(a, axis) - ddof, 0)


@composite("std", numpy=(np.std,), methods=("std",))
def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, mean=None, correction=None):
    """numpy.std: the square root of var. Where the variance is 0 (one entry, equal entries)
    the gradient is taken as 0: the square root's derivative there is infinite, so its
    operand is replaced by 1 where the variance is 0 (0 * inf would give NaN)."""
    v = var(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean, correction=correction)
    flat = equal(v, 0)
    return select(flat, 0, sqrt(select(flat, 1, v)))


@composite("all", numpy=(np.all,), methods=("all",))
def all(a, axis=None, out=None, keepdims=False, *, where=None):
    """numpy.all: no entry is zero (counted, so an empty selection is True)."""
    refuse_options("all", out=out)
    return equal(sum(equal(a, 0), axis, keepdims=keepdims, where=where), 0)


@composite("any", numpy=(np.any,), methods=("any",))
def any(a, axis=None, out=None, keepdims=False, *, where=None):
    """numpy.any: some entry is not zero (NaN is not zero)."""
    refuse_options("any", out=out)
    return not_equal(sum(not_equal(a, 0), axis, keepdims=keepdims, where=where), 0)


@composite("count_nonzero", numpy=(np.count_nonzero,))
def count_nonzero(a, axis=None, *, keepdims=False):
    """numpy.count_nonzero: how many entries are not zero."""
    return sum(not_equal(a, 0), axis, keepdims=keepdims)


@composite("ptp", numpy=(np.ptp,))
def ptp(a, axis=None, out=None, keepdims=False):
    """numpy.ptp: the largest entry minus the smallest."""
    refuse_options("ptp", out=out)
    return subtract(max(a, axis, keepdims=keepdims), min(a, axis, keepdims=keepdims))


@composite("average", numpy=(np.average,))
def average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    """numpy.average: the mean, or the weighted mean sum(a * w) / sum(w); with `returned`, also
    the sum of the weights (the number of entries when unweighted), shaped as the average."""
    if weights is None:
        result = mean(a, axis, keepdims=keepdims)
        scale = np.asarray(_reduced_count(a, axis), result.dtype)
    else:
        w_shape, a_shape = shape_of(weights), shape_of(a)
        if w_shape != a_shape:
            if axis is None or not np.isscalar(axis) or len(w_shape) != 1:
                raise ShapeError(f"weights of shape {w_shape} differ from a's {a_shape}: give axis= (an int) "
                                 "and 1-d weights along it")
            axis = normalize_axes(axis, len(a_shape))[0]
            if w_shape[0] != a_shape[axis]:
                raise ShapeError(f"{w_shape[0]} weights for axis {axis} of length {a_shape[axis]}")
            weights = broadcast_to(_along(weights, axis, len(a_shape)), a_shape)
        dtypes = (np.result_type(a), np.result_type(weights))
        dtype = np.result_type(*dtypes, "f8") if dtypes[0].kind in "biu" else np.result_type(*dtypes)
        scale = sum(weights, axis, dtype=dtype, keepdims=keepdims)
        result = divide(sum(multiply(cast(a, dtype), cast(weights, dtype)), axis, keepdims=keepdims), scale)
    if returned:
        return result, broadcast_to(scale, shape_of(result))
    return result


def _along(v, axis, ndim):
    """The 1-d `v` shaped to lie along `axis` of an `ndim`-d array."""
    return reshape(v, tuple(-1 if i == axis else 1 for i in range(ndim)))


def _not_nan(a):
    """True where `a` is not NaN (everywhere for integers and booleans)."""
    return equal(a, a) if np.result_type(a).kind == "f" else None


@composite("nansum", numpy=(np.nansum,))
def nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """numpy.nansum: the sum with NaNs counted as zero."""
    refuse_options("nansum", out=out)
    return sum(_nan_to(a, 0), axis, dtype, keepdims=keepdims, initial=initial, where=where)


def _nan_to(a, value):
    kept = _not_nan(a)
    return a if kept is None else select(kept, a, value)


@composite("nanprod", numpy=(np.nanprod,))
def nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """numpy.nanprod: the product with NaNs counted as one."""
    refuse_options("nanprod", out=out)
    return prod(_nan_to(a, 1), axis, dtype, keepdims=keepdims, initial=initial, where=where)


@composite("nancumsum", numpy=(np.nancumsum,))
def nancumsum(a, axis=None, dtype=None, out=None):
    """numpy.nancumsum: the running sum with NaNs counted as zero."""
    refuse_options("nancumsum", out=out)
    return cumsum(_nan_to(a, 0), axis, dtype)


@composite("nancumprod", numpy=(np.nancumprod,))
def nancumprod(a, axis=None, dtype=None, out=None):
    """numpy.nancumprod: the running product with NaNs counted as one."""
    refuse_options("nancumprod", out=out)
    return cumprod(_nan_to(a, 1), axis, dtype)


@composite("nanmean", numpy=(np.nanmean,))
def nanmean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    """numpy.nanmean: the mean of the entries that are not NaN (NaN where there are none)."""
    refuse_options("nanmean", out=out, where=_given(where))
    kept = _not_nan(a)
    return mean(a, axis, dtype, keepdims=keepdims, where=kept)


def _nan_extreme(name, reduce, fill):
    """Declare numpy.nanmax or numpy.nanmin: `reduce` with NaNs replaced by `fill` (which
    never wins), and NaN where every entry was NaN."""
    @composite(name, numpy=(getattr(np, name),),
               doc=f"numpy.{name}: the {name[3:]} of the entries that are not NaN (NaN where there are none)")
    def extreme(a, axis=None, out=None, keepdims=False, initial=None, where=None):
        refuse_options(name, out=out)
        kept = _not_nan(a)
        if kept is None:
            return reduce(a, axis, keepdims=keepdims, initial=initial, where=where)
        result = reduce(select(kept, a, fill), axis, keepdims=keepdims, initial=initial, where=where)
        none_kept = equal(sum(kept, axis, keepdims=keepdims, where=where), 0)
        return result if _given(initial) is not None else select(none_kept, np.nan, result)
    extreme.__name__ = extreme.__qualname__ = name
    return extreme


nanmax = _nan_extreme("nanmax", max, -np.inf)
nanmin = _nan_extreme("nanmin", min, np.inf)


# -- order statistics: sorted entries picked by position -------------------------------------

def _sorted_rows(a, axis, dtype):
    """`a` in `dtype`, its axes `axis` moved last, flattened into one and sorted along it."""
    ndim = ndim_of(a)
    axes = normalize_axes(axis, ndim)
    rest = tuple(k for k in range(ndim) if k not in axes)
    shape = shape_of(a)
    rows = reshape(transpose(cast(a, dtype), rest + axes), tuple(shape[k] for k in rest) + (_reduced_count(a, axis),))
    if shape_of(rows)[-1] == 0:
        raise ShapeError("cannot take an order statistic over no entries")
    return sort(rows, -1), axes


def _at(rows, k):
    return rows[..., k]


def _shaped_as_reduced(result, a, axes, keepdims, lead=()):
    """`result`, of shape lead + the kept axes, with length-1 axes where `axes` were (keepdims)."""
    if not keepdims:
        return result
    return reshape(result, tuple(lead) + tuple(1 if k in axes else d for k, d in enumerate(shape_of(a))))


def _nan_where_any_nan(rows, result):
    """NaN wherever a row holds a NaN (sorted last), as NumPy's median and quantile give."""
    last = _at(rows, -1)
    return select(equal(last, last), result, np.nan) if np.dtype(rows.dtype).kind == "f" else result


@composite("median", numpy=(np.median,))
def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """numpy.median: the middle entry of the sorted entries, or the mean of the two middle ones."""
    refuse_options("median", out=out)
    rows, axes = _sorted_rows(a, axis, np.median(np.zeros(1, a.dtype)).dtype)
    n = shape_of(rows)[-1]
    middle = _at(rows, n // 2)
    if n % 2 == 0:
        middle = divide(add(_at(rows, n // 2 - 1), middle), 2)
    return _shaped_as_reduced(_nan_where_any_nan(rows, middle), a, axes, keepdims)


@composite("quantile", numpy=(np.quantile,))
def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *, weights=None,
             interpolation=None):
    """numpy.quantile (method 'linear'): between the sorted entries around q * (n - 1), weighted
    by how far q lies from each, for each of the (constant) quantiles q."""
    refuse_options("quantile", out=out, weights=weights, interpolation=interpolation,
                   method=None if method == "linear" else method)
    return _quantiles(a, _constant_quantiles(q, 1), axis, keepdims, np.quantile(np.zeros(1, a.dtype), q).dtype)


@composite("percentile", numpy=(np.percentile,))
def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *, weights=None,
               interpolation=None):
    """numpy.percentile: quantile at q / 100."""
    refuse_options("percentile", out=out, weights=weights, interpolation=interpolation,
                   method=None if method == "linear" else method)
    return _quantiles(a, _constant_quantiles(q, 100) / 100, axis, keepdims,
                      np.percentile(np.zeros(1, a.dtype), q).dtype)


def _constant_quantiles(q, whole):
    """q as an array of numbers in [0, whole]; refused when traced (q chooses which sorted
    entries are read)."""
    if hasattr(q, "shape") and not isinstance(q, (np.ndarray, np.generic)):
        raise TraceError("the quantiles q must be constants (they choose which sorted entries are read)")
    q = np.asarray(q, np.float64)
    if np.any((q < 0) | (q > whole)):
        raise ShapeError(f"quantiles must be numbers in [0, {whole}], not {q.tolist()}")
    return q


def _quantiles(a, q, axis, keepdims, dtype):
    """The quantiles `q` (fractions) of `a` over `axis`, in `dtype`, shaped q.shape + the rest."""
    rows, axes = _sorted_rows(a, axis, dtype)
    n = shape_of(rows)[-1]
    picked = []
    for fraction in q.reshape(-1).tolist():
        position = fraction * (n - 1)
        below = builtins.min(int(np.floor(position)), n - 1)
        low, high = _at(rows, below), _at(rows, builtins.min(below + 1, n - 1))
        t = position - below        # NumPy's two forms of the interpolation, each exact at its end
        value = low + (high - low) * t if t < 0.5 else high - (high - low) * (1 - t)
        picked.append(_nan_where_any_nan(rows, value))
    result = picked[0] if q.ndim == 0 else reshape(stack(picked), q.shape + shape_of(picked[0]))
    return _shaped_as_reduced(result, a, axes, keepdims, q.shape)
