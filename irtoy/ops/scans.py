"""Scans: running sums and products along one axis (numpy.cumsum, numpy.cumprod).

A scan keeps the shape of its argument: entry i along the axis combines entries 0..i. With
`axis=None` NumPy scans the flattened array, so the public functions flatten first and the
node always has one axis (`axis`, a non-negative int).
"""
import functools

import numpy as np

from irtoy.ops.elementwise import cast
from irtoy.ops.movement import reshape
from irtoy.ops.normalize import check_axes, ndim_of, normalize_axes, refuse_options
from irtoy.ops.registry import bind, declare
from irtoy.ops.spec import Spec


@functools.lru_cache(maxsize=None)
def _result_dtype(impl, dtype):
    return impl(np.ones((1,), dtype), axis=0).dtype


def scan_rule(impl):
    def infer(specs, axis):
        (x,) = specs
        check_axes((axis,), len(x.shape))
        return Spec(x.shape, _result_dtype(impl, x.dtype))
    return infer


def _scan(name, fn, doc):
    """Declare the scan `name` (NumPy's `fn`, its reference code) and return its public function."""
    def impl(x, axis):
        return fn(x, axis=axis)

    @declare(name, "scan", scan_rule(impl), impl, 1, numpy=(fn,), methods=(name,), doc=doc)
    def scan(a, axis=None, dtype=None, out=None):
        refuse_options(name, out=out)
        if dtype is not None:       # NumPy converts the entries first; integers then wrap around as NumPy's do
            a = cast(a, dtype)
        if axis is None:
            a, axis = reshape(a, (-1,)), 0
        result = bind(name, a, axis=normalize_axes(axis, ndim_of(a))[0])
        return result if dtype is None or result.dtype == np.dtype(dtype) else cast(result, dtype)
    scan.__name__ = scan.__qualname__ = name
    scan.__doc__ = f"numpy.{name}(a, axis, dtype): {doc}, traced as the `{name}` scan."
    return scan


cumsum = _scan("cumsum", np.cumsum, "the running sum along an axis")
cumprod = _scan("cumprod", np.cumprod, "the running product along an axis")
