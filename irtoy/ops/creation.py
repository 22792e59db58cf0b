"""Arrays made from values: numpy.array and asarray of traced values, full, the *_like
functions, triangles and diagonals (tril, triu, diag, diagflat), linspace and copy.

Arrays made from a shape alone (np.zeros(x.shape), np.eye(3), np.arange(5)) need nothing
here: NumPy makes them and they become constants of the graph. What is here takes traced
values. A constant fill is a 0-d value broadcast to the shape, so a large array of zeros
costs nothing to record; only the shape of a traced `a` in the *_like functions is read.

NumPy hands the traced values in np.array([t, 1.0]), np.asarray(t) and np.full(shape, t) to
no protocol; while a trace runs, irtoy/tracing.py routes those calls here.
"""
import numpy as np

from irtoy.errors import ShapeError
from irtoy.ops.elementwise import add, cast, divide, multiply, where
from irtoy.ops.movement import broadcast_to, concatenate, diagonal, moveaxis, ravel, reshape, stack
from irtoy.ops.normalize import int_tuple, ndim_of, normalize_axes, refuse_options, shape_of
from irtoy.ops.registry import composite


def _traced(value):
    """Is `value` a traced value (an array-like that is not a NumPy array)?"""
    return hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, (np.ndarray, np.generic))


# -- arrays from values ----------------------------------------------------------------------

@composite("array", numpy=(np.array,))
def array(object, dtype=None, *, copy=True, order="K", subok=False, ndmin=0, like=None):
    """numpy.array of traced values, numbers and (nested) lists and tuples of them: the
    entries stacked, in the shape and dtype NumPy gives the same nesting of arrays."""
    refuse_options("array", order=None if order in ("K", "A", "C", None) else order, like=like)
    result = _stacked(object, dtype)
    shape = shape_of(result)
    return reshape(result, (1,) * (ndmin - len(shape)) + shape) if ndmin > len(shape) else result


@composite("asarray", numpy=(np.asarray, np.asanyarray))
def asarray(a, dtype=None, order=None, *, device=None, copy=None, like=None):
    """numpy.asarray (and asanyarray): a traced value as it is (in `dtype`, when given), or a
    nesting of them stacked as numpy.array stacks it."""
    refuse_options("asarray", order=None if order in ("K", "A", "C", None) else order, device=device, like=like)
    return _stacked(a, dtype)


def _stacked(value, dtype):
    """`value`, lists and tuples of traced values and numbers, as one array of NumPy's shape
    and dtype for it: NumPy itself answers for the same nesting with zeros in place of the
    traced values (so ragged nestings are refused as NumPy refuses them)."""
    try:
        expected = np.asarray(_zeros_in_place_of_traced(value), dtype)
    except (ValueError, TypeError) as e:
        raise ShapeError(f"cannot make one array of these values: {e}") from None
    result = _joined(value)
    if not _traced(result):
        result = np.asarray(result)
    if shape_of(result) != expected.shape:
        raise ShapeError(f"these values make an array of shape {expected.shape} in NumPy, not {shape_of(result)}")
    return result if result.dtype == expected.dtype else cast(result, expected.dtype)


def _zeros_in_place_of_traced(value):
    if isinstance(value, (list, tuple)):
        return [_zeros_in_place_of_traced(v) for v in value]
    return np.zeros(value.shape, value.dtype) if _traced(value) else value


def _joined(value):
    """Nested lists and tuples stacked along new leading axes (leaves as they are)."""
    if isinstance(value, (list, tuple)) and value:
        return stack([_joined(v) for v in value])
    return value


@composite("full", numpy=(np.full,))
def full(shape, fill_value, dtype=None, order="C", *, device=None, like=None):
    """numpy.full with a traced fill value (np.full of numbers is a constant NumPy makes)."""
    refuse_options("full", order=None if order in ("C", None) else order, device=device, like=like)
    value = _stacked(fill_value, dtype)
    return broadcast_to(value, int_tuple(shape, "sizes"))


def _like(name, a, fill_value, dtype, order, shape, device):
    """`fill_value` (a number or a traced value) broadcast to a's shape, in `dtype` or a's."""
    refuse_options(name, order=order if order not in ("K", "A", "C") else None, shape=shape, device=device)
    dtype = np.dtype(dtype or a.dtype)
    if _traced(fill_value):
        return broadcast_to(fill_value if fill_value.dtype == dtype else cast(fill_value, dtype), shape_of(a))
    return broadcast_to(np.asarray(fill_value, dtype), shape_of(a))


def _constant_like(name, fill):
    @composite(name, numpy=(getattr(np, name),), doc=f"numpy.{name}: an array shaped as `a`, filled with {fill}")
    def like(a, dtype=None, order="K", subok=True, shape=None, *, device=None):
        return _like(name, a, fill, dtype, order, shape, device)
    like.__name__ = like.__qualname__ = name
    return like


zeros_like = _constant_like("zeros_like", 0)
ones_like = _constant_like("ones_like", 1)
# NumPy leaves an empty array's entries unset: any value is right, and zeros are reproducible
empty_like = _constant_like("empty_like", 0)


@composite("full_like", numpy=(np.full_like,))
def full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, *, device=None):
    """numpy.full_like: an array shaped as `a`, filled with fill_value (which may be traced)."""
    return _like("full_like", a, fill_value, dtype, order, shape, device)


@composite("copy", numpy=(np.copy,), methods=("copy",))
def copy(a, order="K", subok=False):
    """numpy.copy (and x.copy()): the value itself, as traced values are never changed in place."""
    refuse_options("copy", order=None if order in ("K", "A", "C") else order)
    return a


# -- triangles and diagonals -----------------------------------------------------------------

def _triangle(name, lower):
    @composite(name, numpy=(getattr(np, name),),
               doc=f"numpy.{name}: the entries on and {'below' if lower else 'above'} the k-th diagonal, zeros elsewhere")
    def triangle(m, k=0):
        shape = shape_of(m)
        if len(shape) < 1:
            raise ShapeError(f"{name} needs an array of at least 1 dimension")
        k = int_tuple(k, "k")[0]
        rows, columns = shape[-2:] if len(shape) >= 2 else (shape[-1], shape[-1])
        kept = np.tri(rows, columns, k, dtype=bool) if lower else ~np.tri(rows, columns, k - 1, dtype=bool)
        return where(kept, m, np.zeros((), m.dtype))
    triangle.__name__ = triangle.__qualname__ = name
    return triangle


tril = _triangle("tril", True)
triu = _triangle("triu", False)


@composite("diag", numpy=(np.diag,))
def diag(v, k=0):
    """numpy.diag: the k-th diagonal of a 2-d array, or a 2-d array with the 1-d `v` on its
    k-th diagonal (v broadcast along the rows or columns, kept only where the diagonal is)."""
    k = int_tuple(k, "k")[0]
    if ndim_of(v) == 2:
        return diagonal(v, k)
    if ndim_of(v) != 1:
        raise ShapeError(f"diag needs a 1-d or 2-d array, not {ndim_of(v)}-d")
    n = shape_of(v)[0] + abs(k)
    padding = np.zeros((abs(k),), v.dtype)
    padded = concatenate([v, padding]) if k else v
    lines = reshape(padded, (n, 1)) if k >= 0 else reshape(padded, (1, n))    # v[i] at row i, or at column i
    return where(np.eye(n, n, k, dtype=bool), lines, np.zeros((), v.dtype))


@composite("diagflat", numpy=(np.diagflat,))
def diagflat(v, k=0):
    """numpy.diagflat: the flattened `v` on the k-th diagonal of a 2-d array."""
    return diag(ravel(v), k)


# -- ranges ----------------------------------------------------------------------------------

@composite("linspace", numpy=(np.linspace,))
def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *, device=None):
    """numpy.linspace with traced start or stop: start + i * step for i < num, the last entry
    exactly `stop` when `endpoint` (as NumPy makes it)."""
    refuse_options("linspace", device=device)
    num = int_tuple(num, "num")[0]
    if num < 0:
        raise ShapeError(f"num must not be negative, not {num}")
    if dtype is not None and np.dtype(dtype).kind != "f":
        raise ShapeError(f"dtype {np.dtype(dtype)} cannot be traced (NumPy rounds the entries down first)")
    # NumPy's dtypes for these arguments (Python numbers weak, 0-d arrays not), from NumPy itself
    like, like_step = np.linspace(_zeros_in_place_of_traced(start), _zeros_in_place_of_traced(stop), num, endpoint,
                                  retstep=True)
    kind = like.dtype
    start, stop = cast(_stacked(start, None), kind), cast(_stacked(stop, None), kind)
    divisions = num - 1 if endpoint else num
    batch = np.broadcast_shapes(shape_of(start), shape_of(stop))
    step = divide(stop - start, divisions) if divisions > 0 else np.nan     # NumPy's step of one entry
    if divisions > 0 and step.dtype != np.asarray(like_step).dtype:
        step = cast(step, np.asarray(like_step).dtype)
    steps = np.arange(num, dtype=kind).reshape((num,) + (1,) * len(batch))
    result = add(multiply(steps, step if divisions > 0 else stop - start), start)
    if endpoint and num > 1:
        last = (np.arange(num) == num - 1).reshape((num,) + (1,) * len(batch))
        result = where(last, stop, result)
    axis = normalize_axes(axis, len(batch) + 1)[0]
    if axis:
        result = moveaxis(result, 0, axis)
    if dtype is not None and np.dtype(dtype) != result.dtype:
        result = cast(result, dtype)
    return (result, step) if retstep else result
