"""Which irtoy op a NumPy function, ufunc or array method means on a traced value.

NumPy hands a traced value to `__array_ufunc__` (np.exp, np.maximum, ...) or
`__array_function__` (np.sum, np.reshape, ...). The tables here answer both: each op's
record names the NumPy callables and array methods that trace to its public function, and
COMPOSITES adds the NumPy functions that are short compositions of ops (np.var, np.stack,
...). A NumPy function missing from both raises a TraceError naming it.
"""
import numpy as np

from irtoy import ops
from irtoy.errors import TraceError, located
from irtoy.ops.normalize import normalize_axes, not_c_order, refuse_options
from irtoy.source import user_src


# -- compositions of ops -------------------------------------------------------------------------

@ops.checked_arguments("var")
def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    refuse_options("var", out=out, dtype=dtype)
    centred = a - ops.mean(a, axis, keepdims=True)
    n = int(np.prod([np.shape(a)[i] for i in normalize_axes(axis, np.ndim(a))]))
    return ops.sum(centred * centred, axis, keepdims=keepdims) / (n - ddof)


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    return ops.sqrt(var(a, axis, dtype, out, ddof, keepdims))


@ops.checked_arguments("stack")
def stack(arrays, axis=0):
    arrays = list(arrays)
    axis = normalize_axes(axis, np.ndim(arrays[0]) + 1)[0]
    return ops.concatenate([ops.expand_dims(a, axis) for a in arrays], axis)


def dot(a, b):
    if np.ndim(a) > 2 or np.ndim(b) > 2:
        raise TraceError(f"numpy.dot of arrays with more than 2 dimensions: use np.matmul{located(user_src())}")
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return ops.multiply(a, b)
    return ops.matmul(a, b)


def clip(a, a_min=None, a_max=None, out=None, **kwargs):
    refuse_options("clip", out=out, **kwargs)
    if a_min is not None:
        a = ops.maximum(a, a_min)
    return a if a_max is None else ops.minimum(a, a_max)


def _full_like(fill, name):
    def like(a, *args, dtype=None, order=None, subok=None, shape=None, device=None):
        refuse_options(name, order=order if order != "K" else None, shape=shape, device=device)
        value = args[0] if fill is None else fill
        return ops.broadcast_to(np.asarray(value, dtype or np.result_type(a)), np.shape(a))
    return like


def ravel(a, order="C"):
    refuse_options("ravel", order=not_c_order(order))
    return ops.reshape(a, (-1,))


@ops.checked_arguments("transpose")
def swapaxes(a, axis1, axis2):
    ndim = np.ndim(a)
    i, j = (normalize_axes(k, ndim)[0] for k in (axis1, axis2))
    axes = list(range(ndim))
    axes[i], axes[j] = axes[j], axes[i]
    return ops.transpose(a, tuple(axes))


COMPOSITES = {
    np.var: var, np.std: std, np.stack: stack, np.dot: dot, np.clip: clip, np.ravel: ravel, np.swapaxes: swapaxes,
    np.zeros_like: _full_like(0, "zeros_like"), np.ones_like: _full_like(1, "ones_like"),
    np.full_like: _full_like(None, "full_like"),
    np.positive: lambda x: x,
    np.square: lambda x: ops.multiply(x, x),
    np.reciprocal: lambda x: ops.divide(1, x),
    # questions about the type, answered without recording anything
    np.shape: lambda a: a.shape,
    np.ndim: lambda a: a.ndim,
    np.size: lambda a, axis=None: a.size if axis is None else a.shape[axis],
    np.result_type: lambda *args: np.result_type(*[getattr(a, "dtype", a) for a in args]),
}

# array methods that are compositions too (the others come from the op records)
COMPOSITE_METHODS = {"flatten": ravel, "ravel": ravel, "dot": dot, "var": var, "std": std, "clip": clip,
                     "swapaxes": swapaxes}

# ufunc.reduce: np.add.reduce(x, axis=0) and the like
REDUCE_METHODS = {np.add: ops.sum, np.maximum: ops.max, np.minimum: ops.min}


# -- the tables derived from the registry ---------------------------------------------------------

def _from_registry():
    functions = {}
    for op in ops.REGISTRY.values():
        for numpy_callable in op.numpy:
            functions[numpy_callable] = op.function
    return functions


FUNCTIONS = {**_from_registry(), **COMPOSITES}


def array_methods():
    """{method name: function of (array, *args)} for the traced values' array methods."""
    methods = {m: op.function for op in ops.REGISTRY.values() for m in op.methods}
    return {**methods, **COMPOSITE_METHODS}


# -- NumPy's protocols -----------------------------------------------------------------------------

def apply_ufunc(ufunc, method, inputs, kwargs):
    """What `ufunc.method(*inputs, **kwargs)` means on traced values."""
    name = f"numpy.{ufunc.__name__}" + (f".{method}" if method != "__call__" else "")
    if kwargs.get("out") is not None:
        raise TraceError(f"{name}: out= cannot be traced (traced values are never written in place)"
                         f"{located(user_src())}")
    if method == "__call__" and ufunc in FUNCTIONS:
        refuse_options(ufunc.__name__, **kwargs)
        return FUNCTIONS[ufunc](*inputs)
    if method == "reduce" and ufunc in REDUCE_METHODS:
        options = {k: v for k, v in kwargs.items() if k not in ("axis", "keepdims")}
        refuse_options(f"{ufunc.__name__}.reduce", **options)
        return REDUCE_METHODS[ufunc](inputs[0], kwargs.get("axis", 0), keepdims=kwargs.get("keepdims", False))
    raise TraceError(f"{name} has no irtoy op, so it cannot be traced{located(user_src())}")


def apply_function(func, args, kwargs):
    """What the NumPy function `func(*args, **kwargs)` means on traced values."""
    impl = FUNCTIONS.get(func)
    if impl is None:
        name = f"{func.__module__}.{func.__name__}".replace("numpy.lib._", "numpy.")
        raise TraceError(f"{name} has no irtoy op, so it cannot be traced; "
                         f"write it with the ops irtoy has (see irtoy.ops){located(user_src())}")
    return impl(*args, **kwargs)
