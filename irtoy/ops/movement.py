"""Movement ops: rearrange an array's entries without computing new ones.

reshape, transpose, broadcast_to, expand_dims, squeeze and basic indexing (`getitem`) may be
views (`view=True`: a kernel can read through them with index arithmetic); concatenate
copies. `scatter` is getitem's transpose: zeros with its argument written at the index.
"""
import builtins
import math

import numpy as np

from irtoy.errors import ShapeError, TraceError
from irtoy.ops import indexing
from irtoy.ops.elementwise import broadcast_shapes, cast
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


# -- compositions: reordering axes -----------------------------------------------------------

@composite("moveaxis", numpy=(np.moveaxis,))
def moveaxis(a, source, destination):
    """numpy.moveaxis: move the axes `source` to the positions `destination`, the others
    keeping their order."""
    ndim = ndim_of(a)
    source, destination = int_tuple(source, "source axes"), int_tuple(destination, "destination axes")
    if len(source) != len(destination):
        raise ShapeError(f"source {source} and destination {destination} differ in length")
    source = [normalize_axes(k, ndim)[0] for k in source]
    destination = [normalize_axes(k, ndim)[0] for k in destination]
    if len(set(source)) != len(source) or len(set(destination)) != len(destination):
        raise ShapeError(f"repeated axis in source {tuple(source)} or destination {tuple(destination)}")
    rest = iter(k for k in range(ndim) if k not in source)
    placed = dict(zip(destination, source))
    return transpose(a, tuple(placed[i] if i in placed else next(rest) for i in range(ndim)))


@composite("rollaxis", numpy=(np.rollaxis,))
def rollaxis(a, axis, start=0):
    """numpy.rollaxis: move `axis` to sit before the axis now at `start`."""
    ndim = ndim_of(a)
    axis = normalize_axes(axis, ndim)[0]
    start = int_tuple(start, "start")[0]
    if not -ndim <= start <= ndim:
        raise ShapeError(f"start {start} is out of range for a {ndim}-d array")
    start = start + ndim if start < 0 else start
    if axis < start:
        start -= 1
    return moveaxis(a, axis, start) if axis != start else a


@composite("atleast_1d", numpy=(np.atleast_1d,))
def atleast_1d(*arrays):
    """numpy.atleast_1d: 0-d arrays become 1-d; several arguments give a tuple."""
    return _each(arrays, lambda a: reshape(a, (1,)) if ndim_of(a) == 0 else a)


@composite("atleast_2d", numpy=(np.atleast_2d,))
def atleast_2d(*arrays):
    """numpy.atleast_2d: a 1-d array of n entries becomes (1, n), a 0-d one (1, 1)."""
    return _each(arrays, lambda a: reshape(a, (1,) * (2 - ndim_of(a)) + shape_of(a)) if ndim_of(a) < 2 else a)


@composite("atleast_3d", numpy=(np.atleast_3d,))
def atleast_3d(*arrays):
    """numpy.atleast_3d: 0-d to (1, 1, 1), (n,) to (1, n, 1), (m, n) to (m, n, 1)."""
    def grown(a):
        shape = shape_of(a)
        return reshape(a, {0: (1, 1, 1), 1: (1,) + shape + (1,), 2: shape + (1,)}.get(len(shape), shape))
    return _each(arrays, grown)


def _each(arrays, fn):
    """fn of the one array, or a tuple of fn of each (as NumPy's atleast_* return them)."""
    results = tuple(fn(a if hasattr(a, "shape") else np.asarray(a)) for a in arrays)
    return results[0] if len(results) == 1 else results


@composite("broadcast_arrays", numpy=(np.broadcast_arrays,))
def broadcast_arrays(*args, subok=False):
    """numpy.broadcast_arrays: every argument broadcast to their common shape (a tuple)."""
    shape = broadcast_shapes(*[shape_of(a) for a in args])
    return tuple(broadcast_to(a, shape) for a in args)


# -- compositions: joining and splitting ------------------------------------------------------

@composite("vstack", numpy=(np.vstack,))
def vstack(tup, *, dtype=None, casting="same_kind"):
    """numpy.vstack: join along the first axis, 1-d arrays taken as rows."""
    return concatenate([atleast_2d(a) for a in tup], 0, dtype=dtype, casting=casting)


@composite("hstack", numpy=(np.hstack,))
def hstack(tup, *, dtype=None, casting="same_kind"):
    """numpy.hstack: join along the second axis (the first, for 1-d arrays)."""
    arrays = [atleast_1d(a) for a in tup]
    axis = 0 if arrays and ndim_of(arrays[0]) == 1 else 1
    return concatenate(arrays, axis, dtype=dtype, casting=casting)


@composite("dstack", numpy=(np.dstack,))
def dstack(tup):
    """numpy.dstack: join along the third axis, arrays made 3-d as atleast_3d makes them."""
    return concatenate([atleast_3d(a) for a in tup], 2)


@composite("column_stack", numpy=(np.column_stack,))
def column_stack(tup):
    """numpy.column_stack: 1-d arrays become columns, then join along the second axis."""
    arrays = [a if hasattr(a, "shape") else np.asarray(a) for a in tup]
    return concatenate([reshape(a, (-1, 1)) if ndim_of(a) < 2 else a for a in arrays], 1)


@composite("append", numpy=(np.append,))
def append(arr, values, axis=None):
    """numpy.append: both flattened and joined, or joined along `axis`."""
    if axis is None:
        return concatenate([ravel(arr), ravel(values)], 0)
    return concatenate([arr, values], axis)


@composite("array_split", numpy=(np.array_split,))
def array_split(ary, indices_or_sections, axis=0):
    """numpy.array_split: pieces along `axis`, at the given indices, or n pieces whose lengths
    differ by at most one (the longer first)."""
    ndim = ndim_of(ary)
    axis = normalize_axes(axis, ndim)[0]
    length = shape_of(ary)[axis]
    if np.ndim(indices_or_sections) == 0:
        sections = int_tuple(indices_or_sections, "sections")[0]
        if sections <= 0:
            raise ShapeError(f"the number of sections must be larger than 0, not {sections}")
        each, extra = divmod(length, sections)
        bounds = [0]
        for i in range(sections):
            bounds.append(bounds[-1] + each + (i < extra))
    else:
        bounds = [0, *int_tuple(indices_or_sections, "split indices"), length]
    pieces = []
    for start, stop in zip(bounds, bounds[1:]):
        picked = range(*slice(start, stop).indices(length))
        pieces.append(_slice_along(ary, axis, picked.start, builtins.max(picked.stop, picked.start)))
    return pieces


@composite("split", numpy=(np.split,))
def split(ary, indices_or_sections, axis=0):
    """numpy.split: as array_split, but n sections must divide the axis evenly."""
    if np.ndim(indices_or_sections) == 0:
        length = shape_of(ary)[normalize_axes(axis, ndim_of(ary))[0]]
        sections = int_tuple(indices_or_sections, "sections")[0]
        if sections <= 0 or length % sections:
            raise ShapeError(f"an axis of length {length} does not split into {sections} equal sections")
    return array_split(ary, indices_or_sections, axis)


def _split_along(name, axis, least):
    def split_along(ary, indices_or_sections):
        if ndim_of(ary) < least:
            raise ShapeError(f"{name} needs an array of at least {least} dimensions, not {ndim_of(ary)}")
        return split(ary, indices_or_sections, 0 if name == "hsplit" and ndim_of(ary) == 1 else axis)
    split_along.__name__ = split_along.__qualname__ = name
    return composite(name, numpy=(getattr(np, name),), doc=f"numpy.{name}: split along axis {axis}")(split_along)


hsplit = _split_along("hsplit", 1, 1)
vsplit = _split_along("vsplit", 0, 2)
dsplit = _split_along("dsplit", 2, 3)


def _slice_along(a, axis, start, stop, step=1):
    """a[..., start:stop:step, ...] with the slice on `axis`."""
    return getitem(a, (slice(None),) * axis + (slice(start, stop, step),))


# -- compositions: repeating, reversing, rolling ----------------------------------------------

@composite("repeat", numpy=(np.repeat,), methods=("repeat",))
def repeat(a, repeats, axis=None):
    """numpy.repeat: each entry along `axis` (of the flattened array when None) `repeats` times,
    an int or one count per entry."""
    if axis is None:
        a, axis = ravel(a), 0
    ndim = ndim_of(a)
    axis = normalize_axes(axis, ndim)[0]
    shape = shape_of(a)
    counts = int_tuple(repeats, "repeats")
    if any(c < 0 for c in counts):
        raise ShapeError(f"repeats must not be negative: {repeats}")
    if np.ndim(repeats) == 0 or len(counts) == 1:
        count = counts[0]
        spread = broadcast_to(expand_dims(a, axis + 1), shape[:axis + 1] + (count,) + shape[axis + 1:])
        return reshape(spread, shape[:axis] + (shape[axis] * count,) + shape[axis + 1:])
    if len(counts) != shape[axis]:
        raise ShapeError(f"{len(counts)} repeats for an axis of length {shape[axis]}")
    pieces = [broadcast_to(_slice_along(a, axis, i, i + 1), shape[:axis] + (c,) + shape[axis + 1:])
              for i, c in enumerate(counts) if c]
    if not pieces:
        return _slice_along(a, axis, 0, 0)
    return concatenate(pieces, axis) if len(pieces) > 1 else pieces[0]


@composite("tile", numpy=(np.tile,))
def tile(A, reps):
    """numpy.tile: A repeated `reps` times along each axis (the shorter of the two padded
    with leading ones)."""
    reps = int_tuple(reps, "reps")
    if any(r < 0 for r in reps):
        raise ShapeError(f"reps must not be negative: {reps}")
    shape = shape_of(A)
    ndim = builtins.max(len(shape), len(reps))
    shape = (1,) * (ndim - len(shape)) + shape
    reps = (1,) * (ndim - len(reps)) + reps
    interleaved = reshape(A, tuple(s for d in shape for s in (1, d)))
    spread = broadcast_to(interleaved, tuple(s for r, d in zip(reps, shape) for s in (r, d)))
    return reshape(spread, tuple(r * d for r, d in zip(reps, shape)))


@composite("flip", numpy=(np.flip,))
def flip(m, axis=None):
    """numpy.flip: the entries in reverse order along `axis` (every axis when None)."""
    axes = normalize_axes(axis, ndim_of(m))
    return getitem(m, tuple(slice(None, None, -1) if k in axes else slice(None) for k in range(ndim_of(m))))


@composite("fliplr", numpy=(np.fliplr,))
def fliplr(m):
    """numpy.fliplr: reverse the second axis."""
    if ndim_of(m) < 2:
        raise ShapeError("fliplr needs an array of at least 2 dimensions")
    return flip(m, 1)


@composite("flipud", numpy=(np.flipud,))
def flipud(m):
    """numpy.flipud: reverse the first axis."""
    if ndim_of(m) < 1:
        raise ShapeError("flipud needs an array of at least 1 dimension")
    return flip(m, 0)


@composite("rot90", numpy=(np.rot90,))
def rot90(m, k=1, axes=(0, 1)):
    """numpy.rot90: rotate by 90 degrees k times, from the first of `axes` towards the second."""
    ndim = ndim_of(m)
    axes = int_tuple(axes, "axes")
    if len(axes) != 2 or ndim < 2:
        raise ShapeError(f"rot90 needs two axes of an array of at least 2 dimensions, not axes {axes}")
    first, second = (normalize_axes(a, ndim)[0] for a in axes)
    if first == second:
        raise ShapeError(f"axes {axes} are the same axis")
    k = int_tuple(k, "k")[0] % 4
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, first), second)
    order = list(range(ndim))
    order[first], order[second] = order[second], order[first]
    if k == 1:
        return transpose(flip(m, second), tuple(order))
    return flip(transpose(m, tuple(order)), second)


@composite("roll", numpy=(np.roll,))
def roll(a, shift, axis=None):
    """numpy.roll: entries shifted along `axis`, those pushed off the end coming back at the
    start (the flattened array when axis is None); shifts and axes may be tuples."""
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), shape_of(a))
    shifts, axes = int_tuple(shift, "shifts"), int_tuple(axis, "axes")
    try:
        pairs = np.broadcast(np.array(shifts), np.array(axes))
    except ValueError:
        raise ShapeError(f"shift {shift} and axis {axis} do not broadcast") from None
    total = {}
    for s, k in pairs:
        k = normalize_axes(int(k), ndim_of(a))[0]
        total[k] = total.get(k, 0) + int(s)
    for k, s in total.items():
        length = shape_of(a)[k]
        s = s % length if length else 0
        if s:
            a = concatenate([_slice_along(a, k, length - s, length), _slice_along(a, k, 0, length - s)], k)
    return a


# -- compositions: padding --------------------------------------------------------------------

PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


@composite("pad", numpy=(np.pad,))
def pad(array, pad_width, mode="constant", **kwargs):
    """numpy.pad in the modes constant (constant_values=), edge, reflect, symmetric and wrap,
    one axis after the other (as NumPy does), each a concatenation of slices of the array.

    reflect, symmetric and wrap repeat a period of the axis as far as the padding reaches:
    the array and its mirror image without the end entries (reflect), with them
    (symmetric), or the array itself (wrap).
    """
    if mode not in PAD_MODES:
        raise TraceError(f"mode {mode!r} cannot be traced; the traced modes are {', '.join(PAD_MODES)}")
    constants = kwargs.pop("constant_values", 0) if mode == "constant" else 0
    if kwargs.pop("reflect_type", "even") != "even":
        raise TraceError("reflect_type='odd' cannot be traced")
    if kwargs:
        raise ShapeError(f"option(s) {', '.join(kwargs)} do not apply to mode {mode!r}")
    ndim = ndim_of(array)
    widths = _pairs(pad_width, ndim, "pad_width")
    if np.any(widths < 0):
        raise ShapeError(f"pad_width must not be negative: {pad_width}")
    for k, (before, after) in enumerate(widths.tolist()):
        if before or after:
            array = _pad_axis(array, k, before, after, mode, constants, ndim)
    return array


def _pairs(value, ndim, what):
    """NumPy's forms of per-axis (before, after) values as an (ndim, 2) array: one value, one
    pair, or one pair per axis."""
    try:
        return np.broadcast_to(np.asarray(value), (ndim, 2))
    except ValueError:
        raise ShapeError(f"{what} {value!r} does not fit a {ndim}-d array: give n, (before, after) or "
                         "one (before, after) per axis") from None


def _pad_axis(a, axis, before, after, mode, constants, ndim):
    shape = shape_of(a)
    length = shape[axis]
    if mode == "constant":
        if hasattr(constants, "shape") and not isinstance(constants, np.ndarray):     # a traced value
            low = high = constants
        else:
            low, high = _pairs(constants, ndim, "constant_values")[axis].tolist()
        return concatenate([_filled(low, a, axis, before), a, _filled(high, a, axis, after)], axis)
    if length == 0:
        raise ShapeError(f"cannot pad an empty axis ({axis}) in mode {mode!r}")
    if mode == "edge":
        parts = [broadcast_to(_slice_along(a, axis, 0, 1), shape[:axis] + (before,) + shape[axis + 1:]), a,
                 broadcast_to(_slice_along(a, axis, length - 1, length), shape[:axis] + (after,) + shape[axis + 1:])]
        return concatenate(parts, axis)
    mirrored = _slice_along(a, axis, None, None, -1)
    if mode == "wrap" or (mode == "reflect" and length == 1):
        period = a
    elif mode == "reflect":
        period = concatenate([a, _slice_along(mirrored, axis, 1, length - 1)], axis)
    else:
        period = concatenate([a, mirrored], axis)
    size = shape_of(period)[axis]
    start = -before % size
    copies = -(-(start + length + before + after) // size)
    repeated = concatenate([period] * copies, axis) if copies > 1 else period
    return _slice_along(repeated, axis, start, start + length + before + after)


def _filled(value, like, axis, count):
    """`count` entries of `value` along `axis`, the other axes as `like`'s, in its dtype."""
    shape = shape_of(like)
    value = value if hasattr(value, "shape") and not isinstance(value, np.ndarray) else np.asarray(value)
    value = cast(value, like.dtype) if value.dtype != like.dtype else value
    return broadcast_to(value, shape[:axis] + (count,) + shape[axis + 1:])
