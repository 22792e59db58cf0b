"""Which irtoy op a NumPy function, ufunc or array method means on a traced value.

NumPy hands a traced value to `__array_ufunc__` (np.exp, np.maximum, ...) or
`__array_function__` (np.sum, np.reshape, ...). The tables here answer both: each op's
record names the NumPy callables and array methods that trace to its public function, and
the records of compositions (irtoy.ops.COMPOSITES: np.var, np.stack, ...) do the same for
functions written with ops. A NumPy function missing from both raises a TraceError naming it.
"""
import numpy as np

from irtoy import ops
from irtoy.errors import TraceError, located
from irtoy.ops.normalize import refuse_options
from irtoy.source import user_src


# NumPy's questions about the type, answered without recording anything
QUESTIONS = {
    np.shape: lambda a: a.shape,
    np.ndim: lambda a: a.ndim,
    np.size: lambda a, axis=None: a.size if axis is None else a.shape[axis],
    np.result_type: lambda *args: np.result_type(*[getattr(a, "dtype", a) for a in args]),
}

# ufunc.reduce: np.add.reduce(x, axis=0) and the like
REDUCE_METHODS = {np.add: ops.sum, np.maximum: ops.max, np.minimum: ops.min, np.multiply: ops.prod}
# ufunc.accumulate: np.add.accumulate(x, axis=0) and np.multiply.accumulate are cumsum and cumprod
ACCUMULATE_METHODS = {np.add: ops.cumsum, np.multiply: ops.cumprod}


# -- the tables derived from the registry ---------------------------------------------------------

RECORDS = [*ops.REGISTRY.values(), *ops.COMPOSITES.values()]   # ops and compositions of ops
FUNCTIONS = {**{f: r.function for r in RECORDS for f in r.numpy}, **QUESTIONS}


def array_methods():
    """{method name: function of (array, *args)} for the traced values' array methods."""
    return {m: r.function for r in RECORDS for m in r.methods}


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
    if method == "accumulate" and ufunc in ACCUMULATE_METHODS:
        refuse_options(f"{ufunc.__name__}.accumulate", **{k: v for k, v in kwargs.items() if k not in ("axis", "dtype")})
        return ACCUMULATE_METHODS[ufunc](inputs[0], kwargs.get("axis", 0), dtype=kwargs.get("dtype"))
    raise TraceError(f"{name} has no irtoy op, so it cannot be traced{located(user_src())}")


def apply_function(func, args, kwargs):
    """What the NumPy function `func(*args, **kwargs)` means on traced values."""
    impl = FUNCTIONS.get(func)
    if impl is None:
        name = f"{func.__module__}.{func.__name__}".replace("numpy.lib._", "numpy.")
        raise TraceError(f"{name} has no irtoy op, so it cannot be traced; "
                         f"write it with the ops irtoy has (see irtoy.ops){located(user_src())}")
    return impl(*args, **kwargs)
