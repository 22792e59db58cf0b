"""NumPy's arguments as plain data: what the public op functions turn axes, indexes, sizes
and options into before they bind an op.

Node attributes are plain hashable values, so passes can compare and hash them: axes become
sorted tuples of non-negative ints, a basic index a tuple with one entry per axis, a size
or stride an (h, w) pair of ints. Options irtoy cannot honour are refused, never ignored.
"""
import builtins
import operator

import numpy as np

from irtoy.errors import ShapeError, TraceError, located
from irtoy.source import user_src


def ndim_of(x):
    return len(np.shape(x)) if not hasattr(x, "ndim") else x.ndim


def shape_of(x):
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def int_tuple(value, what):
    """An int or a sequence of ints as a tuple of Python ints; anything else (None, a string, a
    float, even 3.0, as NumPy) is a ShapeError naming `what`."""
    try:
        items = (value,) if not hasattr(value, "__iter__") or isinstance(value, str) else tuple(value)
        return tuple(operator.index(v) for v in items)
    except TypeError:
        raise ShapeError(f"{what} must be integers, not {value!r}") from None


def normalize_axes(axis, ndim):
    """None -> all axes; int or tuple -> sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    axes = int_tuple(axis, "axes")
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ShapeError(f"axis {a} is out of range for a {ndim}-d array")
        out.append(int(a) % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ShapeError(f"repeated axis in {axis}")
    return tuple(sorted(out))


def check_axes(axis, ndim):
    """For shape rules: `axis` must be distinct axes of an `ndim`-d array, already normalised."""
    if any(not 0 <= a < ndim for a in axis) or len(set(axis)) != len(axis):
        raise ShapeError(f"axis {axis} is not a set of distinct axes of a {ndim}-d array")


def int_pair(value, what, smallest):
    """An int or a pair of ints as a tuple of two Python ints, each at least `smallest`."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and v >= smallest for v in pair):
        raise ShapeError(f"{what} must be an int or a pair of ints of at least {smallest}, not {value!r}")
    return int(pair[0]), int(pair[1])


def refuse_options(name, **options):
    """Refuse NumPy options that were given (not None, not NumPy's 'no value'): irtoy cannot
    honour them, and ignoring them would change the result."""
    given = [k for k, v in options.items() if v is not None and v is not np._NoValue]
    if given:
        error = TraceError(f"numpy.{name}: the option(s) {', '.join(given)} cannot be traced{located(user_src())}")
        error.placed = True     # names the function and the user's line already
        raise error


def not_c_order(order):
    """An `order` option to refuse: anything but NumPy's default, C order."""
    return None if order in ("C", None) else order


# -- basic indexes -----------------------------------------------------------------------------

def normalize_index(index, shape):
    """Turn a basic index into a tuple with one entry per input axis (plus None for new axes).

    Entries are non-negative ints, None, or (start, stop, step) triples that read like
    `range(start, stop, step)`: start is the first index taken, so an entry picks
    len(range(...)) elements (stop is -1 only for a negative step that ends at index 0).
    """
    index = index if isinstance(index, tuple) else (index,)
    for i in index:
        if not (i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice))) or isinstance(i, bool):
            raise TraceError(f"only basic indexing (ints, slices, None, ...) is supported, "
                             f"not {type(i).__name__}")
    if builtins.sum(i is Ellipsis for i in index) > 1:
        raise ShapeError("an index can only have a single ellipsis")
    used = builtins.sum(1 for i in index if i is not None and i is not Ellipsis)
    if used > len(shape):
        raise ShapeError(f"too many indices for an array of shape {tuple(shape)}")
    if Ellipsis in [i for i in index if not isinstance(i, slice)]:
        at = [k for k, i in enumerate(index) if i is Ellipsis][0]
        index = index[:at] + (slice(None),) * (len(shape) - used) + index[at + 1:]
    else:
        index = index + (slice(None),) * (len(shape) - used)
    out, axis = [], 0
    for i in index:
        if i is None:
            out.append(None)
            continue
        dim = shape[axis]
        if isinstance(i, slice):
            picked = range(*i.indices(dim))
            out.append((picked[0], picked[-1] + picked.step, picked.step) if picked else (0, 0, 1))
        else:
            if not -dim <= i < dim:
                raise ShapeError(f"index {i} is out of bounds for axis {axis} of size {dim}")
            out.append(int(i) % dim)
        axis += 1
    return tuple(out)


def numpy_index(index):
    """The NumPy index for a normalised one."""
    return tuple(slice(i[0], i[1] if i[1] >= 0 else None, i[2]) if isinstance(i, tuple) else i for i in index)


def format_index(index):
    """A normalised index as text: [0, 1:5:2, None]."""
    def one(i):
        if i is None:
            return "None"
        if isinstance(i, tuple):
            start, stop, step = i
            return f"{start}:{stop if stop >= 0 else ''}" + (f":{step}" if step != 1 else "")
        return str(i)
    return "[" + ", ".join(one(i) for i in index) + "]"
