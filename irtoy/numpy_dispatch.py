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
        dtype, casting = kwargs.pop("dtype", None), kwargs.pop("casting", "same_kind")
        refuse_options(ufunc.__name__, **kwargs)
        if dtype is not None:
            return _in_dtype(ufunc, inputs, np.dtype(dtype), casting)
        return FUNCTIONS[ufunc](*inputs)
    if method == "reduce" and ufunc in REDUCE_METHODS:
        options = {k: v for k, v in kwargs.items() if k not in ("axis", "keepdims")}
        refuse_options(f"{ufunc.__name__}.reduce", **options)
        return REDUCE_METHODS[ufunc](inputs[0], kwargs.get("axis", 0), keepdims=kwargs.get("keepdims", False))
    if method == "accumulate" and ufunc in ACCUMULATE_METHODS:
        refuse_options(f"{ufunc.__name__}.accumulate", **{k: v for k, v in kwargs.items() if k not in ("axis", "dtype")})
        return ACCUMULATE_METHODS[ufunc](inputs[0], kwargs.get("axis", 0), dtype=kwargs.get("dtype"))
    raise TraceError(f"{name} has no irtoy op, so it cannot be traced{located(user_src())}")


def _in_dtype(ufunc, inputs, dtype, casting):
    """`ufunc(*inputs, dtype=dtype)`: the array arguments cast to `dtype` first (where `casting`
    allows it, as NumPy checks), Python numbers taken weakly, as NumPy takes them."""
    name = f"numpy.{ufunc.__name__}"
    arrays = [x for x in inputs if not isinstance(x, (bool, int, float))]
    for x in arrays:
        if not np.can_cast(x.dtype, dtype, casting):
            raise TraceError(f"{name}: cannot cast an argument of dtype {x.dtype} to dtype={dtype.name} "
                             f"with casting={casting!r}{located(user_src())}")
    cast = [x if isinstance(x, (bool, int, float)) else ops.cast(x, dtype) for x in inputs]
    results = FUNCTIONS[ufunc](*cast)
    if any(r.dtype != dtype for r in (results if isinstance(results, tuple) else (results,))):
        raise TraceError(f"{name} has no loop that computes in dtype={dtype.name}{located(user_src())}")
    return results


def apply_function(func, args, kwargs):
    """What the NumPy function `func(*args, **kwargs)` means on traced values."""
    impl = FUNCTIONS.get(func)
    if impl is None:
        name = numpy_name(func)
        raise TraceError(f"{name} has no irtoy op, so it cannot be traced; {rewrite(name)}{located(user_src())}")
    return impl(*args, **kwargs)


# -- what to write instead -------------------------------------------------------------------------

NAMESPACES = {"numpy": np, "numpy.linalg": np.linalg, "numpy.fft": np.fft, "numpy.random": np.random}

_DATA_DEPENDENT = ("its result's shape depends on the values, and traced shapes are fixed: select with "
                   "np.where(condition, x, y), or multiply by the mask, instead")
_COMPLEX = "complex numbers are not supported: traced arrays are real (bool, integer or floating point)"
_WHOLE_ARRAYS = "write the function with whole-array operations instead (np.where for its branches)"

# The rewrite to suggest for a NumPy function irtoy refuses, by name ("numpy.fft" for all of it).
REWRITES = {
    **dict.fromkeys(["numpy.nonzero", "numpy.argwhere", "numpy.flatnonzero", "numpy.extract", "numpy.compress",
                     "numpy.unique", "numpy.trim_zeros", "numpy.delete", "numpy.insert"], _DATA_DEPENDENT),
    **dict.fromkeys(["numpy.fft", "numpy.real", "numpy.imag", "numpy.angle", "numpy.iscomplex",
                     "numpy.iscomplexobj", "numpy.real_if_close"], _COMPLEX),
    **dict.fromkeys(["numpy.apply_along_axis", "numpy.apply_over_axes", "numpy.piecewise"], _WHOLE_ARRAYS),
    "numpy.searchsorted": "count the edges below each value instead: np.sum(x[..., None] >= edges, axis=-1)",
}


def numpy_name(func):
    """The name NumPy documents a function by: numpy.linalg.norm, not numpy.linalg._linalg.norm."""
    for space_name, space in NAMESPACES.items():
        if getattr(space, getattr(func, "__name__", ""), None) is func:
            return f"{space_name}.{func.__name__}"
    return f"{getattr(func, '__module__', None) or 'numpy'}.{getattr(func, '__name__', func)}"


def rewrite(name):
    """What to write instead of the refused NumPy function `name`."""
    hint = REWRITES.get(name) or REWRITES.get(name.rpartition(".")[0])
    return hint or "write it with the functions irtoy traces (`irtoy ops` lists them)"
