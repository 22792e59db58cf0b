"""Movement ops: rearrange an array's entries without computing new ones.

reshape, transpose, broadcast_to, expand_dims, squeeze and basic indexing (`getitem`) may be
views (`view=True`: a kernel can read through them with index arithmetic); concatenate
copies. `scatter` is getitem's transpose: zeros with its argument written at the index.
"""
import builtins
import math

import numpy as np

from irtoy.errors import ShapeError
from irtoy.ops import indexing
from irtoy.ops.elementwise import broadcast_shapes
from irtoy.ops.normalize import (check_axes, format_index, int_tuple, ndim_of, normalize_axes, normalize_index, not_c_order,
                                 numpy_index, refuse_options, shape_of)
from irtoy.ops.registry import bind, composite, declare
from irtoy.ops.spec import Spec


def _shape_argument(shape, more=()):
    """A shape given as an int, a sequence, or (as array methods take it) several ints; as
    NumPy, a size that is not an integer (3.0 included) is refused, never truncated."""
    return int_tuple((shape,) + tuple(more) if more else shape, "sizes")


def reshape_rule(specs, shape):
    (x,) = specs
    if any(d < 0 for d in shape):
        raise ShapeError(f"cannot reshape {x} into shape {shape}: sizes are never negative (one may be -1)")
    if math.prod(shape) != math.prod(x.shape):
        raise ShapeError(f"cannot reshape {x} into shape {shape}")
    return Spec(shape, x.dtype)


@declare("reshape", "movement", reshape_rule, np.reshape, 1, numpy=(np.reshape,), methods=("reshape",), view=True)
def reshape(a, shape=None, *more, order="C", newshape=None, copy=None):
    """numpy.reshape (and x.reshape(2, 3)); one dimension may be -1."""
    refuse_options("reshape", order=not_c_order(order))
    shape = _shape_argument(shape if newshape is None else newshape, more)
    size = math.prod(shape_of(a))      # Python ints: exact for any size
    if shape.count(-1) == 1:
        known = math.prod(d for d in shape if d != -1)
        if known == 0 or size % known:
            raise ShapeError(f"cannot reshape {shape_of(a)} into {shape}")
        shape = tuple(size // known if d == -1 else d for d in shape)
    return bind("reshape", a, shape=shape)


def transpose_rule(specs, axes):
    (x,) = specs
    if sorted(axes) != list(range(len(x.shape))):
        raise ShapeError(f"axes {axes} are not a permutation of the axes of {x}")
    return Spec(tuple(x.shape[a] for a in axes), x.dtype)


@declare("transpose", "movement", transpose_rule, np.transpose, 1, numpy=(np.transpose,), methods=("transpose",),
         view=True)
def transpose(a, axes=None, *more):
    """numpy.transpose (and x.transpose(1, 0)): reverse the axes, or permute them as `axes` says."""
    ndim = ndim_of(a)
    if more:
        axes = (axes,) + more
    axes = () if axes is None else int_tuple(axes, "axes")
    if axes == ():
        axes = tuple(reversed(range(ndim)))
    elif not all(-ndim <= k < ndim for k in axes):
        raise ShapeError(f"axes {tuple(axes)} are out of range for a {ndim}-d array")
    else:
        axes = tuple(int(k) % ndim for k in axes)
    return bind("transpose", a, axes=axes)


def broadcast_to_rule(specs, shape):
    (x,) = specs
    if len(shape) < len(x.shape) or broadcast_shapes(x.shape, shape) != tuple(shape):
        raise ShapeError(f"cannot broadcast {x} to shape {shape}")
    return Spec(shape, x.dtype)


@declare("broadcast_to", "movement", broadcast_to_rule, np.broadcast_to, 1, numpy=(np.broadcast_to,), view=True)
def broadcast_to(array, shape, subok=False):
    """numpy.broadcast_to."""
    return bind("broadcast_to", array, shape=_shape_argument(shape))


def expand_dims_rule(specs, axis):
    (x,) = specs
    ndim = len(x.shape) + len(axis)
    check_axes(axis, ndim)
    rest = iter(x.shape)
    return Spec(tuple(1 if i in axis else next(rest) for i in range(ndim)), x.dtype)


@declare("expand_dims", "movement", expand_dims_rule, np.expand_dims, 1, numpy=(np.expand_dims,), view=True)
def expand_dims(a, axis):
    """numpy.expand_dims: insert axes of length one."""
    added = 1 if np.isscalar(axis) else len(axis)
    return bind("expand_dims", a, axis=normalize_axes(axis, ndim_of(a) + added))


def squeeze_rule(specs, axis):
    (x,) = specs
    check_axes(axis, len(x.shape))
    if any(x.shape[a] != 1 for a in axis):
        raise ShapeError(f"cannot squeeze axes {axis} of {x}: they are not of length 1")
    return Spec(tuple(d for i, d in enumerate(x.shape) if i not in axis), x.dtype)


@declare("squeeze", "movement", squeeze_rule, np.squeeze, 1, numpy=(np.squeeze,), methods=("squeeze",), view=True)
def squeeze(a, axis=None):
    """numpy.squeeze: drop axes of length one (all of them when axis is None)."""
    if axis is None:
        axis = tuple(i for i, d in enumerate(shape_of(a)) if d == 1)
    return bind("squeeze", a, axis=normalize_axes(axis, ndim_of(a)))


def _view_of(shape):
    """A zero-byte array of `shape`, to let NumPy work out the shape of an indexing result."""
    return np.broadcast_to(np.zeros((), np.int8), shape)


def getitem_rule(specs, index):
    (x,) = specs
    return Spec(_view_of(x.shape)[numpy_index(index)].shape, x.dtype)


def _getitem(x, index):
    return x[numpy_index(index)]


@declare("getitem", "movement", getitem_rule, _getitem, 1, view=True, doc="basic indexing: ints, slices, None")
def getitem(x, index):
    """Indexing x[index]: basic indexing (ints, slices with steps, None and Ellipsis) is this
    op; an index holding integer arrays is NumPy's advanced indexing (indexing.py)."""
    if indexing.is_advanced(index):
        return indexing.advanced_getitem(x, index)
    return bind("getitem", x, index=normalize_index(index, shape_of(x)))


def scatter_rule(specs, index, shape):
    (x,) = specs
    expected = _view_of(shape)[numpy_index(index)].shape
    if x.shape != expected:
        raise ShapeError(f"writing {x} at {format_index(index)} of shape {shape} needs shape {expected}")
    return Spec(shape, x.dtype)


def _scatter(x, index, shape):
    out = np.zeros(shape, x.dtype)
    out[numpy_index(index)] = x
    return out


@declare("scatter", "scatter", scatter_rule, _scatter, 1,
         doc="zeros of `shape` with x written at `index`: the transpose of getitem")
def scatter(x, index, shape):
    """Zeros of `shape` with x written at the (normalised) `index`: the transpose of getitem."""
    return bind("scatter", x, index=index, shape=tuple(shape))


def concatenate_rule(specs, axis):
    first = specs[0].shape
    if not first:
        raise ShapeError("cannot concatenate 0-d arrays")
    check_axes((axis,), len(first))
    for s in specs[1:]:
        if len(s.shape) != len(first) or any(a != b for i, (a, b) in enumerate(zip(s.shape, first)) if i != axis):
            raise ShapeError(f"all shapes must match except on axis {axis}")
    total = builtins.sum(s.shape[axis] for s in specs)
    return Spec(first[:axis] + (total,) + first[axis + 1:], np.result_type(*[s.dtype for s in specs]))


def _concatenate(*xs, axis):
    return np.concatenate(xs, axis=axis)


@declare("concatenate", "movement", concatenate_rule, _concatenate, None, numpy=(np.concatenate,))
def concatenate(arrays, axis=0, out=None, dtype=None, casting=None):
    """numpy.concatenate along an existing axis."""
    refuse_options("concatenate", out=out, dtype=dtype, casting=None if casting in (None, "same_kind") else casting)
    arrays = list(arrays)
    if not arrays:
        raise ShapeError("needs at least one array to concatenate")
    return bind("concatenate", *arrays, axis=normalize_axes(axis, ndim_of(arrays[0]))[0])


# -- compositions ----------------------------------------------------------------------------

@composite("stack", numpy=(np.stack,))
def stack(arrays, axis=0, out=None, dtype=None, casting=None):
    """numpy.stack: join arrays along a new axis."""
    refuse_options("stack", out=out, dtype=dtype, casting=None if casting in (None, "same_kind") else casting)
    arrays = list(arrays)
    if not arrays:
        raise ShapeError("needs at least one array to stack")
    axis = normalize_axes(axis, ndim_of(arrays[0]) + 1)[0]
    return concatenate([expand_dims(a, axis) for a in arrays], axis)


@composite("ravel", numpy=(np.ravel,), methods=("ravel", "flatten"))
def ravel(a, order="C"):
    """numpy.ravel (and x.flatten()): the entries as a 1-d array, in C order."""
    refuse_options("ravel", order=not_c_order(order))
    return reshape(a, (-1,))


@composite("swapaxes", numpy=(np.swapaxes,), methods=("swapaxes",))
def swapaxes(a, axis1, axis2):
    """numpy.swapaxes: exchange two axes."""
    ndim = ndim_of(a)
    i, j = (normalize_axes(k, ndim)[0] for k in (axis1, axis2))
    axes = list(range(ndim))
    axes[i], axes[j] = axes[j], axes[i]
    return transpose(a, tuple(axes))


@composite("diagonal", numpy=(np.diagonal,), methods=("diagonal",))
def diagonal(a, offset=0, axis1=0, axis2=1):
    """numpy.diagonal: the entries a[..., i, i + offset] of the two axes, as a last axis.

    The two axes are moved last and flattened into one of n * m entries, in which the
    diagonal is every (m + 1)-th entry from its first: a strided slice, so its gradient is
    the slice's own (a scatter) and no new op is needed.
    """
    ndim = ndim_of(a)
    if ndim < 2:
        raise ShapeError("diagonal needs an array of at least 2 dimensions")
    i, j = (normalize_axes(k, ndim)[0] for k in (axis1, axis2))
    if i == j:
        raise ShapeError(f"axis1 and axis2 are the same axis ({i})")
    x = transpose(a, tuple(k for k in range(ndim) if k not in (i, j)) + (i, j))
    *batch, n, m = shape_of(x)
    offset = int_tuple(offset, "offset")[0]
    row, column = (0, offset) if offset >= 0 else (-offset, 0)
    count = builtins.max(0, builtins.min(n - row, m - column))
    flat = reshape(x, tuple(batch) + (n * m,))
    start = row * m + column
    return getitem(flat, (Ellipsis, slice(start, start + count * (m + 1) if count else start, m + 1)))
