"""Indexing with integer arrays: the gather and scatter-add ops, and what NumPy builds on them.

    gather(x, [i, j], axes=(0, 2))      out[b..., r...] = x[i[b], r0, j[b], r1...]
    scatter_add(x, index, values)       x with `values` added at x[index], repeats adding up

`gather` reads its argument at positions taken from integer arrays (one per indexed axis,
broadcast together): NumPy's advanced indexing x[idx], x[np.arange(n), y], np.take and
np.take_along_axis are a basic index (slices, None) followed by one gather and, where NumPy
puts the indexed axes in the middle, a transpose. Its gradient is the primitive
`scatter_add`: zeros with the cotangent added at the same positions (so repeated indices
accumulate), whose gradient is a gather again.

The shape of a result depends only on the shapes of the indices, never on their values, so
both are traced whether the indices are inputs or constants. Boolean masks (x[mask],
np.nonzero, ...) make shapes that depend on values: a traced mask is refused, pointing at
np.where; a constant mask is its constant positions. Indices are checked when the code runs
(and constants when traced): an index outside its axis raises IndexOutOfRangeError, on the
interpreter as in the numba kernels, and nothing is read or written outside the array.

np.sort is a gather by the stable argsort (so its gradient follows the permutation);
`argsort` is the one primitive of its kind.
"""
import builtins
import math

import numpy as np

from irtoy.errors import IrtoyError, ShapeError, TraceError
from irtoy.ops.elementwise import broadcast_shapes
from irtoy.ops.normalize import (check_axes, int_tuple, ndim_of, normalize_axes, normalize_index, numpy_index,
                                 refuse_options, shape_of)
from irtoy.ops.registry import bind, checked_arguments, composite, declare
from irtoy.ops.spec import Spec


class IndexOutOfRangeError(IrtoyError, IndexError):
    """An index outside its axis, found when the code ran: NumPy's IndexError as an IrtoyError
    naming the op, the index and the axis's size (and the node and the user's line)."""


def out_of_range_message(op, index, axis, size):
    """The one text of an index outside its axis, for the interpreter and the numba driver."""
    return f"{op}: index {index} is out of bounds for axis {axis} of size {size}"


def _traced(value):
    return getattr(value, "_builder", None) is not None


# -- the ops --------------------------------------------------------------------------------

def _check_indices(indices, axes, ndim):
    if not axes or len(indices) != len(axes):
        raise ShapeError(f"needs one index array per axis of {axes}, got {len(indices)}")
    check_axes(axes, ndim)
    for i in indices:
        if np.dtype(i.dtype).kind not in "iu":
            raise ShapeError(f"indices must be integers, not {i}")
    return broadcast_shapes(*[i.shape for i in indices])


def _rest(shape, axes):
    """The axes of `shape` no index array reads, in order."""
    return tuple(d for k, d in enumerate(shape) if k not in axes)


def gather_rule(specs, axes):
    x, *indices = specs
    return Spec(_check_indices(indices, axes, len(x.shape)) + _rest(x.shape, axes), x.dtype)


def wrapped_indices(op, indices, axes, shape):
    """The index arrays with negative entries counted from the end (as NumPy does), after
    checking every one lies in its axis: IndexOutOfRangeError names the first that does not."""
    out = []
    for i, axis in zip(indices, axes):
        i, size = np.asarray(i), shape[axis]
        wrapped = np.where(i < 0, i + size, i) if i.dtype.kind == "i" else i
        bad = (wrapped < 0) | (wrapped >= size)
        if bad.any():
            raise IndexOutOfRangeError(out_of_range_message(op, i[bad][0], axis, size))
        out.append(wrapped)
    return out


def _gather(x, *indices, axes):
    picked = wrapped_indices("gather", indices, axes, x.shape)
    return np.moveaxis(x, axes, range(len(axes)))[tuple(picked)]


@declare("gather", "gather", gather_rule, _gather, None,
         doc="x read at positions taken from integer arrays, one per axis of `axes`")
def gather(x, indices, axes):
    """x read at integer positions: out[b..., r...] = x with axis axes[j] at indices[j][b] and
    the other axes from r. `indices` are integer arrays (broadcast together), one per axis."""
    axes = int_tuple(axes, "axes")
    order = sorted(range(len(axes)), key=lambda j: axes[j])
    indices = list(indices)
    return bind("gather", x, *[indices[j] for j in order], axes=tuple(axes[j] for j in order))


def scatter_add_rule(specs, axes, shape):
    values, *indices = specs
    expected = _check_indices(indices, axes, len(shape)) + _rest(shape, axes)
    if values.shape != expected:
        raise ShapeError(f"adding {values} at indices of shape {expected[:len(expected) - len(_rest(shape, axes))]} "
                         f"into shape {shape} needs values of shape {expected}")
    return Spec(tuple(shape), values.dtype)


def _scatter_add(values, *indices, axes, shape):
    picked = wrapped_indices("scatter_add", indices, axes, shape)
    out = np.zeros(shape, values.dtype)
    np.add.at(np.moveaxis(out, axes, range(len(axes))), tuple(picked), values)
    return out


@declare("scatter_add", "scatter", scatter_add_rule, _scatter_add, None,
         doc="zeros of `shape` with values added at the gather's positions: the transpose of gather")
def scatter_add(x, index, values):
    """x with `values` added at x[index] (a functional x[index] += values in which repeated
    indices add up, as np.add.at): the same as x.at[index].add(values)."""
    return _index_update(x, index, values, "add")


# -- NumPy's advanced indexing ----------------------------------------------------------------

def is_advanced(index):
    """Does a NumPy index hold integer or boolean arrays (or lists), not only basic entries?"""
    entries = index if isinstance(index, tuple) else (index,)
    return any(_traced(i) or isinstance(i, (list, np.ndarray)) for i in entries)


def _integer_array(i, axis, size):
    """A constant index as an integer array, checked against its axis's `size` now."""
    array = np.asarray(i)
    if array.dtype.kind not in "iu" and array.size:
        raise TraceError(f"arrays used as indices must be of integer (or boolean) type, not {array.dtype}")
    array = array.astype(np.int64) if array.dtype.kind not in "iu" else array
    bad = (array < -size) | (array >= size)
    if bad.any():
        raise ShapeError(f"index {array[bad][0]} is out of bounds for axis {axis} of size {size}")
    return array


def _expanded(index, ndim):
    """The entries of `index` with masks turned into their positions, lists into arrays and
    the Ellipsis into full slices: one entry per axis read (plus None for new axes)."""
    entries = []
    for i in index:
        if isinstance(i, list):
            i = np.asarray(i)
        if _traced(i) and i.dtype == np.bool_:
            raise TraceError("indexing with a traced boolean mask makes a shape that depends on the mask's values, "
                             "which cannot be traced; use np.where(mask, x, 0) to keep the shape, or pass the "
                             "positions as integer indices")
        if _traced(i) and i.dtype.kind not in "iu":
            raise TraceError(f"arrays used as indices must be of integer (or boolean) type, not {i.dtype}")
        if isinstance(i, bool) or isinstance(i, np.ndarray) and i.dtype == np.bool_ and i.ndim == 0:
            raise TraceError("a boolean scalar as an index adds an axis whose length depends on its value, which "
                             "cannot be traced; use np.where or np.expand_dims instead")
        if isinstance(i, np.ndarray) and i.dtype == np.bool_:
            entries += list(np.nonzero(i))      # a constant mask: its constant positions
            continue
        entries.append(i)
    used = builtins.sum(1 for i in entries if i is not None and i is not Ellipsis)
    if builtins.sum(i is Ellipsis for i in entries) > 1:
        raise ShapeError("an index can only have a single ellipsis")
    if used > ndim:
        raise ShapeError(f"too many indices for an array of {ndim} dimensions")
    if any(i is Ellipsis for i in entries):
        at = [k for k, i in enumerate(entries) if i is Ellipsis][0]
        return entries[:at] + [slice(None)] * (ndim - used) + entries[at + 1:]
    return entries + [slice(None)] * (ndim - used)


def _plan(x, index):
    """NumPy's index `index` of x as (basic, axes, indices, position): the basic index
    `basic` (normalised; slices and None, every entry one axis of its result y), then a
    gather of y's `axes` by the integer arrays `indices`, whose axes go to `position` of the
    result (NumPy puts them first when the advanced entries are not next to each other)."""
    shape = shape_of(x)
    entries = _expanded(index if isinstance(index, tuple) else (index,), len(shape))
    basic, axes, indices, dim = [], [], [], 0
    for k, i in enumerate(entries):
        if i is None or isinstance(i, slice):
            basic.append(i)
        else:
            if not (_traced(i) or isinstance(i, (int, np.integer, np.ndarray))) or isinstance(i, bool):
                raise TraceError(f"only integers, slices, None, Ellipsis and integer or boolean arrays are "
                                 f"valid indices, not {type(i).__name__}")
            basic.append(slice(None))
            axes.append(k)
            indices.append(i if _traced(i) else _integer_array(i, dim, shape[dim]))
        dim += i is not None
    contiguous = axes == list(range(axes[0], axes[0] + len(axes)))
    return normalize_index(tuple(basic), shape), tuple(axes), indices, axes[0] if contiguous else 0


def _advanced_shape(x, basic, axes, indices, position):
    """The shape of x[index] for the parts of `_plan`: (shape of the basic step, of the result)."""
    y = _view_of(shape_of(x))[numpy_index(basic)].shape
    rest = _rest(y, axes)
    return y, rest[:position] + broadcast_shapes(*[shape_of(i) for i in indices]) + rest[position:]


def _batch_moves(position, batch, ndim):
    """The axes of a gather's result (batch first) in the order NumPy's indexing puts them."""
    return tuple(range(batch, batch + position)) + tuple(range(batch)) + tuple(range(batch + position, ndim))


def advanced_getitem(x, index):
    """x[index] for an index holding integer arrays (NumPy's advanced indexing)."""
    basic, axes, indices, position = _plan(x, index)
    y = x if basic == normalize_index((), shape_of(x)) else bind("getitem", x, index=basic)
    out = gather(y, indices, axes)
    if position == 0:
        return out
    batch = len(broadcast_shapes(*[shape_of(i) for i in indices]))
    return bind("transpose", out, axes=_batch_moves(position, batch, len(out.shape)))


def _index_update(x, index, values, how):
    """x with `values` added at (how == "add") or written to (how == "set") x[index]: zeros
    with the values scattered to x[index], added to x, or chosen instead of x where written."""
    index = index if isinstance(index, tuple) else (index,)
    if how == "set" and any(_traced(i) for i in index):
        raise TraceError("x.at[index].set(values) needs constant indices (traced ones may repeat, and which "
                         "write wins is not defined); for indices that never repeat, "
                         "x.at[index].add(values - x[index]) computes it")
    scattered = _scattered(x, index, _in_dtype(values, np.dtype(x.dtype)))
    if how == "add":
        return bind("add", x, scattered)
    written = _scattered(np.zeros(shape_of(x), np.int64), index, np.int64(1))    # constant: how often each
    if written.max(initial=0) > 1:
        raise TraceError("x.at[index].set(values) with an index that repeats a position: which write wins is "
                         "not defined; use unique indices, or .add to add the values up")
    return bind("where", written > 0, scattered, x)


def _in_dtype(values, dtype):
    """`values` in the dtype of the array they are written into."""
    if not _traced(values):
        return np.asarray(values, dtype)
    return values if values.dtype == dtype else bind("cast", values, dtype=dtype)


def _scattered(x, index, values):
    """Zeros of x's shape with `values` (broadcast to the shape of x[index]) added at x[index]:
    the transpose of x[index], step by step (gather, then the basic index)."""
    shape = shape_of(x)
    if is_advanced(index):
        basic, axes, indices, position = _plan(x, index)
        y, target = _advanced_shape(x, basic, axes, indices, position)
        values = _broadcast(values, target)
        if position:            # the index arrays' axes back in front, where the gather has them
            batch = len(broadcast_shapes(*[shape_of(i) for i in indices]))
            moves = _batch_moves(position, batch, len(target))
            values = bind("transpose", values, axes=tuple(moves.index(k) for k in range(len(moves))))
        part = bind("scatter_add", values, *indices, axes=axes, shape=y)
    else:
        basic = normalize_index(index, shape)
        part = _broadcast(values, _view_of(shape)[numpy_index(basic)].shape)
    return part if basic == normalize_index((), shape) else bind("scatter", part, index=basic, shape=shape)


def _broadcast(values, shape):
    return values if shape_of(values) == tuple(shape) else bind("broadcast_to", values, shape=tuple(shape))


class IndexUpdates:
    """x.at: functional updates of a traced array, as JAX writes them (traced arrays are
    immutable, so x[index] = v is refused):

        x.at[index].add(v)      x with v added at x[index], repeated positions adding up
        x.at[index].set(v)      x with v written at x[index] (constant indices that never repeat)
    """
    def __init__(self, x):
        self.x = x

    def __getitem__(self, index):
        return _IndexUpdate(self.x, index)


class _IndexUpdate:
    def __init__(self, x, index):
        self.x, self.index = x, index

    def add(self, values):
        return scatter_add(self.x, self.index, values)

    def set(self, values):
        return _set(self.x, self.index, values)


_set = checked_arguments("at[index].set")(lambda x, index, values: _index_update(x, index, values, "set"))


def _view_of(shape):
    """A zero-byte array of `shape`, to let NumPy work out the shape of an indexing result."""
    return np.broadcast_to(np.zeros((), np.int8), shape)


# -- NumPy functions ---------------------------------------------------------------------------

@composite("take", numpy=(np.take,), methods=("take",))
def take(a, indices, axis=None, out=None, mode="raise"):
    """numpy.take: the entries of `a` at `indices` along `axis` (of the flattened array when
    axis is None). Only mode='raise' (an index outside the axis is an error) is traced."""
    refuse_options("take", out=out, mode=None if mode == "raise" else mode)
    if axis is None:
        a, axis = bind("reshape", a, shape=(math.prod(shape_of(a)),)), 0
    axis = normalize_axes(axis, ndim_of(a))[0]
    return advanced_getitem(a, (slice(None),) * axis + (indices,))


@composite("take_along_axis", numpy=(np.take_along_axis,))
def take_along_axis(arr, indices, axis=-1):
    """numpy.take_along_axis: out[..., i, ...] = arr[..., indices[..., i, ...], ...] along
    `axis` (of the flattened array when axis is None): a gather of every axis, the others by
    their own positions."""
    if axis is None:
        arr, axis = bind("reshape", arr, shape=(math.prod(shape_of(arr)),)), 0
    shape = shape_of(arr)
    if ndim_of(indices) != len(shape):
        raise ShapeError(f"indices must have as many dimensions as arr ({len(shape)}), not {ndim_of(indices)}")
    axis = normalize_axes(axis, len(shape))[0]
    index = tuple(indices if k == axis else np.arange(d).reshape([-1 if j == k else 1 for j in range(len(shape))])
                  for k, d in enumerate(shape))
    return advanced_getitem(arr, index)


# -- sorting -----------------------------------------------------------------------------------

def argsort_rule(specs, axis):
    (x,) = specs
    check_axes((axis,), len(x.shape))
    return Spec(x.shape, np.dtype(np.int64))


def _argsort(x, axis):
    return np.argsort(x, axis=axis, kind="stable").astype(np.int64)


def _flat_or_axis(a, axis):
    """(a, axis) with a flattened when axis is None (as NumPy's sorting functions take it)."""
    if axis is None:
        return bind("reshape", a, shape=(math.prod(shape_of(a)),)) if ndim_of(a) != 1 else a, 0
    return a, normalize_axes(axis, ndim_of(a))[0]


STABLE_KINDS = (None, "stable", "mergesort")


@declare("argsort", "sort", argsort_rule, _argsort, 1, numpy=(np.argsort,), methods=("argsort",), differentiable=False,
         doc="the positions that sort x along an axis, ties in their order (a stable sort)")
def argsort(a, axis=-1, kind=None, order=None, *, stable=None):
    """numpy.argsort, always stable: equal entries keep their order. An unstable kind
    (quicksort, heapsort, stable=False) is refused, as its order of ties differs."""
    refuse_options("argsort", order=order, kind=None if kind in STABLE_KINDS else kind,
                   stable=None if stable in (None, True) else stable)
    a, axis = _flat_or_axis(a, axis)
    return bind("argsort", a, axis=axis)


@composite("sort", numpy=(np.sort,))         # x.sort() sorts in place: refused (builder.py)
def sort(a, axis=-1, kind=None, order=None, *, stable=None):
    """numpy.sort: a gather of the entries by their stable argsort, so the gradient follows
    the permutation. Every kind gives the same sorted values, so `kind` is accepted."""
    refuse_options("sort", order=order)
    a, axis = _flat_or_axis(a, axis)
    return take_along_axis(a, bind("argsort", a, axis=axis), axis)


# -- boolean masks: shapes that depend on values -------------------------------------------------

def _refuse_mask(name, what="of a traced array"):
    raise TraceError(f"numpy.{name} {what} has a shape that depends on the array's values, which cannot be "
                     f"traced; use np.where(condition, x, 0) to keep the shape (or a sum of it to count), or "
                     f"pass the positions as a constant")


@composite("nonzero", numpy=(np.nonzero,), methods=("nonzero",))
def nonzero(a):
    """numpy.nonzero: refused on traced arrays (its length is the number of nonzero entries)."""
    _refuse_mask("nonzero")


@composite("argwhere", numpy=(np.argwhere,))
def argwhere(a):
    """numpy.argwhere: refused on traced arrays (its length is the number of nonzero entries)."""
    _refuse_mask("argwhere")


@composite("flatnonzero", numpy=(np.flatnonzero,))
def flatnonzero(a):
    """numpy.flatnonzero: refused on traced arrays (its length is the number of nonzero entries)."""
    _refuse_mask("flatnonzero")


@composite("compress", numpy=(np.compress,), methods=("compress",))
def compress(condition, a, axis=None, out=None):
    """numpy.compress: the slices of `a` along `axis` where a constant `condition` is true
    (a gather of its positions); a traced condition is refused."""
    refuse_options("compress", out=out)
    if _traced(condition):
        _refuse_mask("compress", "with a traced condition")
    return take(a, np.flatnonzero(np.asarray(condition)), axis)


@composite("extract", numpy=(np.extract,))
def extract(condition, arr):
    """numpy.extract: the entries of `arr` where a constant `condition` is true, flattened; a
    traced condition is refused."""
    if _traced(condition):
        _refuse_mask("extract", "with a traced condition")
    return take(arr, np.flatnonzero(np.asarray(condition)))
