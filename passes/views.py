"""Movement ops as index maps: which stored element each element of a view reads.

transpose, broadcast_to, expand_dims, squeeze, basic getitem, and reshapes that only add or
drop axes of length one never move data: element `i` of their result is an element of the
array they were applied to, at a position given per axis either by a constant or by
`start + step * i[k]` for one axis k of the result (what NumPy's strided views do). A kernel
that reads through such ops uses the composed map instead of a copy (the numba backend
writes it as index arithmetic). A reshape that regroups axes has no such map; the numba
driver does it with NumPy.

A gather (irtoy/ops/indexing.py) reads its argument through the argument's own map too, with
the view indices of its gathered axes taken from values read from index arrays at run time
rather than from loop variables (backends/numba/kernels.py writes the checked reads).

Everything here is data: maps, and which node reads which stored value through them.
"""
from dataclasses import dataclass
from typing import NamedTuple

from irtoy import ops


@dataclass(frozen=True)
class IndexMap:
    """A view of shape `shape` onto a stored array: `coords[a]` says how to index its axis a.

    Each coordinate is `(k, start, step)`, meaning `start + step * i[k]` for view index i, or
    `(None, start, 0)`, the constant `start`.
    """
    shape: tuple
    coords: tuple

    def position(self, point):
        """The stored element that view element `point` (a tuple of ints) reads."""
        return tuple(start if k is None else start + step * point[k] for k, start, step in self.coords)


def identity(shape):
    return IndexMap(tuple(shape), tuple((k, 0, 1) for k in range(len(shape))))


def _renumber(view, shape, new_axis):
    """The map with view axis k renamed new_axis[k] (None: pinned at index 0)."""
    coords = []
    for k, start, step in view.coords:
        if k is not None and new_axis[k] is None:
            coords.append((None, start, 0))
        elif k is not None:
            coords.append((new_axis[k], start, step))
        else:
            coords.append((None, start, 0))
    return IndexMap(tuple(shape), tuple(coords))


def transpose(view, axes):
    inverse = {old: new for new, old in enumerate(axes)}
    return _renumber(view, [view.shape[a] for a in axes], [inverse[k] for k in range(len(view.shape))])


def expand_dims(view, axis):
    ndim = len(view.shape) + len(axis)
    kept = [i for i in range(ndim) if i not in axis]
    shape = [1] * ndim
    for k, i in enumerate(kept):
        shape[i] = view.shape[k]
    return _renumber(view, shape, kept)


def squeeze(view, axis):
    kept, new_axis = [], []
    for k, d in enumerate(view.shape):
        new_axis.append(None if k in axis else len(kept))
        if k not in axis:
            kept.append(d)
    return _renumber(view, kept, new_axis)


def broadcast_to(view, shape):
    lead = len(shape) - len(view.shape)
    new_axis = [None if d == 1 and shape[k + lead] != 1 else k + lead for k, d in enumerate(view.shape)]
    return _renumber(view, shape, new_axis)


def getitem(view, index):
    """`index` is a normalised basic index (see irtoy.ops.normalize_index)."""
    shape, where = [], {}          # where[k] = (new axis or None, offset, stride) for view axis k
    k = 0
    for entry in index:
        if entry is None:
            shape.append(1)
            continue
        if isinstance(entry, tuple):
            start, stop, step = entry
            where[k] = (len(shape), start, step)
            shape.append(len(range(start, stop, step)))
        else:
            where[k] = (None, entry, 0)
        k += 1
    coords = []
    for axis, start, step in view.coords:
        if axis is None:
            coords.append((None, start, 0))
            continue
        new, offset, stride = where[axis]
        if new is None:
            coords.append((None, start + step * offset, 0))
        else:
            coords.append((new, start + step * offset, step * stride))
    return IndexMap(tuple(shape), tuple(coords))


def reshape(view, shape):
    """Only reshapes that add or drop axes of length one are views; None for the others."""
    old = [k for k, d in enumerate(view.shape) if d != 1]
    new = [k for k, d in enumerate(shape) if d != 1]
    if [view.shape[k] for k in old] != [shape[k] for k in new]:
        return None
    new_axis = [None] * len(view.shape)
    for o, n in zip(old, new):
        new_axis[o] = n
    return _renumber(view, shape, new_axis)


# The index map of each op the registry flags as a view (ops.REGISTRY[op].view), keyed by
# op name: (map of the argument, the node's attrs) -> map of the result, or None.
INDEX_MAPS = {
    "transpose": lambda view, attrs: transpose(view, attrs["axes"]),
    "expand_dims": lambda view, attrs: expand_dims(view, attrs["axis"]),
    "squeeze": lambda view, attrs: squeeze(view, attrs["axis"]),
    "broadcast_to": lambda view, attrs: broadcast_to(view, attrs["shape"]),
    "getitem": lambda view, attrs: getitem(view, attrs["index"]),
    "reshape": lambda view, attrs: reshape(view, attrs["shape"]),
}


def apply(op, attrs, view):
    """The map of `op` applied to `view`, or None when `op` does not only re-index here."""
    if not ops.REGISTRY[op].view:
        return None
    return INDEX_MAPS[op](view, attrs)


def is_view(graph, n):
    """Does node `n` only re-index its argument (so a kernel can read through it)?"""
    node = graph[n]
    if not ops.REGISTRY[node["op"]].view:
        return False
    (arg,) = graph.args(n)
    return apply(node["op"], node["attrs"], identity(graph[arg]["shape"])) is not None


class Resolved(NamedTuple):
    """A value as kernels read it: the stored value `base`, through `view` (an IndexMap), by
    way of the view nodes `chain` (nearest first; empty when the value is stored itself)."""
    base: int
    view: IndexMap
    chain: tuple


def resolve_all(graph):
    """{node: Resolved} for every node, in one pass in topological order: a view node
    composes its map onto its argument's."""
    resolved = {}
    for n in graph.order():
        node = graph[n]
        if ops.REGISTRY[node["op"]].view:
            (arg,) = graph.args(n)
            inner = resolved[arg]
            view = apply(node["op"], node["attrs"], inner.view)
            if view is not None:
                resolved[n] = Resolved(inner.base, view, (n,) + inner.chain)
                continue
        resolved[n] = Resolved(n, identity(graph[n]["shape"]), ())
    return resolved


def broadcast_into(view, domain):
    """`view` read at every point of a loop over `domain` (NumPy broadcasting, right-aligned)."""
    return broadcast_to(view, tuple(domain))
