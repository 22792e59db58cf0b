"""The NumPy functions a traced function may call, mapped onto irtoy ops.

NumPy hands a Tracer to `__array_ufunc__` (np.exp, np.maximum, ...) or `__array_function__`
(np.sum, np.reshape, ...); these tables say which irtoy op, or which short composition of
ops, each one means. A NumPy function missing here raises a TraceError naming it.
"""
import numpy as np

from irtoy import ops
from irtoy.errors import TraceError, located
from irtoy.tracing import user_src

UFUNCS = {
    np.add: ops.add, np.subtract: ops.subtract, np.multiply: ops.multiply,
    np.divide: ops.divide, np.power: ops.power, np.maximum: ops.maximum, np.minimum: ops.minimum,
    np.negative: ops.negative, np.exp: ops.exp, np.log: ops.log, np.sin: ops.sin, np.cos: ops.cos,
    np.tan: ops.tan, np.tanh: ops.tanh, np.sqrt: ops.sqrt, np.absolute: ops.abs, np.sign: ops.sign,
    np.greater: ops.greater, np.greater_equal: ops.greater_equal, np.less: ops.less,
    np.less_equal: ops.less_equal, np.equal: ops.equal, np.not_equal: ops.not_equal,
    np.matmul: ops.matmul,
    np.positive: lambda x: x,
    np.square: lambda x: ops.multiply(x, x),
    np.reciprocal: lambda x: ops.divide(1, x),
}

REDUCE_METHODS = {np.add: ops.sum, np.maximum: ops.max, np.minimum: ops.min}


def apply_ufunc(ufunc, method, inputs, kwargs):
    name = f"numpy.{ufunc.__name__}" + (f".{method}" if method != "__call__" else "")
    if kwargs.get("out") is not None:
        raise TraceError(f"{name}: out= cannot be traced (traced values are never written in place)"
                         f"{located(user_src())}")
    if method == "__call__" and ufunc in UFUNCS:
        _refuse(ufunc.__name__, **kwargs)
        return UFUNCS[ufunc](*inputs)
    if method == "reduce" and ufunc in REDUCE_METHODS:
        options = {k: v for k, v in kwargs.items() if k not in ("axis", "keepdims")}
        _refuse(f"{ufunc.__name__}.reduce", **options)
        return REDUCE_METHODS[ufunc](inputs[0], kwargs.get("axis", 0), kwargs.get("keepdims", False))
    raise TraceError(f"{name} has no irtoy op, so it cannot be traced{located(user_src())}")


def _reduction(op):
    def fn(a, axis=None, dtype=None, out=None, keepdims=False, **unsupported):
        _refuse(op.__name__, out=out, **unsupported)
        result = op(a, axis, keepdims)
        return result if dtype is None else ops.cast(result, dtype)
    return fn


def _not_c(order):
    """An `order` option to refuse: anything but NumPy's default, C order."""
    return None if order == "C" else order


def _refuse(name, **options):
    given = [k for k, v in options.items() if v is not None and v is not np._NoValue]
    if given:
        raise TraceError(f"numpy.{name}: the option(s) {', '.join(given)} cannot be traced{located(user_src())}")


@ops.checked_arguments('var')
def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    _refuse("var", out=out, dtype=dtype)
    centred = a - ops.mean(a, axis, keepdims=True)
    n = int(np.prod([np.shape(a)[i] for i in ops.normalize_axes(axis, np.ndim(a))]))
    return ops.sum(centred * centred, axis, keepdims) / (n - ddof)


@ops.checked_arguments('stack')
def stack(arrays, axis=0):
    arrays = list(arrays)
    axis = ops.normalize_axes(axis, np.ndim(arrays[0]) + 1)[0]
    return ops.concatenate([ops.expand_dims(a, axis) for a in arrays], axis)


def dot(a, b):
    if np.ndim(a) > 2 or np.ndim(b) > 2:
        raise TraceError(f"numpy.dot of arrays with more than 2 dimensions: use np.matmul{located(user_src())}")
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return ops.multiply(a, b)
    return ops.matmul(a, b)


def clip(a, a_min=None, a_max=None, **kwargs):
    _refuse("clip", **kwargs)
    if a_min is not None:
        a = ops.maximum(a, a_min)
    return a if a_max is None else ops.minimum(a, a_max)


def _full_like(fill):
    def fn(a, *args, dtype=None, **kwargs):
        _refuse("full_like" if fill is None else f"{'zeros' if fill == 0 else 'ones'}_like", **kwargs)
        value = args[0] if fill is None else fill
        dtype = dtype or np.result_type(a)
        return ops.broadcast_to(np.asarray(value, dtype), np.shape(a))
    return fn


FUNCTIONS = {
    np.sum: _reduction(ops.sum), np.mean: _reduction(ops.mean),
    np.max: _reduction(ops.max), np.min: _reduction(ops.min),
    np.amax: _reduction(ops.max), np.amin: _reduction(ops.min),
    np.argmax: lambda a, axis=None, out=None, keepdims=False: _refuse("argmax", out=out) or ops.argmax(a, axis, keepdims),
    np.var: var,
    np.std: lambda a, axis=None, dtype=None, out=None, ddof=0, keepdims=False:
        ops.sqrt(var(a, axis, dtype, out, ddof, keepdims)),
    np.matmul: lambda a, b: ops.matmul(a, b),
    np.dot: dot,
    np.where: lambda cond, x, y: ops.where(cond, x, y),
    np.reshape: lambda a, shape=None, order="C", newshape=None, **kw:
        _refuse("reshape", order=_not_c(order), **kw) or ops.reshape(a, shape if newshape is None else newshape),
    np.transpose: lambda a, axes=None: ops.transpose(a, axes),
    np.broadcast_to: lambda a, shape, subok=False: ops.broadcast_to(a, shape),
    np.expand_dims: lambda a, axis: ops.expand_dims(a, axis),
    np.squeeze: lambda a, axis=None: ops.squeeze(a, axis),
    np.concatenate: lambda arrays, axis=0, **kw: _refuse("concatenate", **kw) or ops.concatenate(arrays, axis),
    np.stack: stack,
    np.ravel: lambda a, order="C": _refuse("ravel", order=_not_c(order)) or ops.reshape(a, (-1,)),
    np.clip: clip,
    np.shape: lambda a: a.shape,
    np.ndim: lambda a: a.ndim,
    np.size: lambda a, axis=None: a.size if axis is None else a.shape[axis],
    np.result_type: lambda *args: np.result_type(*[getattr(a, "dtype", a) for a in args]),
    np.zeros_like: _full_like(0), np.ones_like: _full_like(1), np.full_like: _full_like(None),
    np.swapaxes: ops.checked_arguments("transpose")(lambda a, i, j: ops.transpose(a, _swapped(np.ndim(a), i, j))),
}


def _swapped(ndim, i, j):
    i, j = (ops.normalize_axes(k, ndim)[0] for k in (i, j))
    axes = list(range(ndim))
    axes[i], axes[j] = axes[j], axes[i]
    return tuple(axes)


def apply_function(func, args, kwargs):
    impl = FUNCTIONS.get(func)
    if impl is None:
        name = f"{func.__module__}.{func.__name__}".replace("numpy.lib._", "numpy.")
        raise TraceError(f"{name} has no irtoy op, so it cannot be traced; "
                         f"write it with the ops irtoy has (see irtoy.ops){located(user_src())}")
    return impl(*args, **kwargs)
