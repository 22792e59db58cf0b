"""Reductions: combine the entries of an array along some axes (sum, mean, max, min, argmax).

Axes are normalised to a sorted tuple of non-negative ints (`axis=None` is every axis), so
`np.sum(x)`, `x.sum(axis=-1)` and `np.add.reduce(x, 0)` all become one kind of node.
"""
import functools

import numpy as np

from irtoy.errors import ShapeError
from irtoy.ops.elementwise import cast, sqrt
from irtoy.ops.normalize import check_axes, ndim_of, normalize_axes, refuse_options
from irtoy.ops.registry import bind, composite, declare
from irtoy.ops.spec import Spec


def reduction_rule(name, impl):
    def infer(specs, axis, keepdims):
        (x,) = specs
        check_axes(axis, len(x.shape))
        shape = tuple(1 if i in axis else d for i, d in enumerate(x.shape) if keepdims or i not in axis)
        if name in ("max", "min") and any(x.shape[i] == 0 for i in axis):
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


def _reduction(name, numpy_fns, doc):
    """Declare the reduction `name` (NumPy's `numpy_fns`) and return its public function."""
    impl = _numpy_reduction(numpy_fns[0])

    @declare(name, "reduction", reduction_rule(name, impl), impl, 1, numpy=numpy_fns, methods=(name,), doc=doc)
    def reduce(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
        refuse_options(name, out=out, initial=initial, where=where)
        result = bind(name, a, axis=normalize_axes(axis, ndim_of(a)), keepdims=bool(keepdims))
        return result if dtype is None else cast(result, dtype)
    reduce.__name__ = reduce.__qualname__ = name
    reduce.__doc__ = f"numpy.{name}(a, axis, dtype, keepdims), traced as the `{name}` reduction."
    return reduce


sum = _reduction("sum", (np.sum,), "the sum over axes")
mean = _reduction("mean", (np.mean,), "the mean over axes")
max = _reduction("max", (np.max, np.amax), "the largest entry over axes")
min = _reduction("min", (np.min, np.amin), "the smallest entry over axes")


def argmax_rule(specs, axis, keepdims):
    (x,) = specs
    if axis is None:
        shape = (1,) * len(x.shape) if keepdims else ()
    else:
        check_axes((axis,), len(x.shape))
        shape = tuple(1 if i == axis else d for i, d in enumerate(x.shape) if keepdims or i != axis)
    if 0 in x.shape:
        raise ShapeError("argmax of an empty array")
    return Spec(shape, np.dtype(np.intp))


def _argmax(x, axis, keepdims):
    return np.argmax(x, axis=axis, keepdims=keepdims)


@declare("argmax", "reduction", argmax_rule, _argmax, 1, numpy=(np.argmax,), methods=("argmax",),
         differentiable=False, doc="the index of the largest entry")
def argmax(a, axis=None, out=None, keepdims=False):
    """Index of the largest entry along `axis` (of the flattened array when axis is None)."""
    refuse_options("argmax", out=out)
    if axis is not None:
        axis = normalize_axes(axis, ndim_of(a))[0]
    return bind("argmax", a, axis=axis, keepdims=bool(keepdims))


# -- compositions ----------------------------------------------------------------------------

@composite("var", numpy=(np.var,), methods=("var",))
def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    """numpy.var: the mean squared deviation from the mean, divided by n - ddof."""
    refuse_options("var", out=out, dtype=dtype)
    centred = a - mean(a, axis, keepdims=True)
    n = int(np.prod([np.shape(a)[i] for i in normalize_axes(axis, np.ndim(a))]))
    return sum(centred * centred, axis, keepdims=keepdims) / (n - ddof)


@composite("std", numpy=(np.std,), methods=("std",))
def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    """numpy.std: the square root of var."""
    return sqrt(var(a, axis, dtype, out, ddof, keepdims))
