"""Movement ops as index maps: which stored element each element of a view reads.

transpose, broadcast_to, expand_dims, squeeze, basic getitem, and reshapes that only add or
drop axes of length one never move data: element `i` of their result is an element of the
array they were applied to, at a position given per axis either by a constant or by
`start + step * i[k]` for one axis k of the result (what NumPy's strided views do, written as
index arithmetic). A kernel that reads through such ops uses the composed map instead of a
copy. A reshape that regroups axes has no such map; the numba driver does it with NumPy.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class IndexMap:
    """A view of shape `shape` onto a stored array: `coords[a]` says how to index its axis a.

    Each coordinate is `(k, start, step)`, meaning `start + step * i[k]` for view index i, or
    `(None, start, 0)`, the constant `start`.
    """
    shape: tuple
    coords: tuple

    def index(self, names):
        """The index expressions, one per stored axis, for view-axis loop variables `names`."""
        return tuple(_affine(start, step, None if k is None else names[k]) for k, start, step in self.coords)


def identity(shape):
    return IndexMap(tuple(shape), tuple((k, 0, 1) for k in range(len(shape))))


def _affine(start, step, name):
    if name is None or step == 0:
        return str(start)
    term = name if step == 1 else f"{step} * {name}"
    if start == 0:
        return term
    return f"{term} + {start}" if start > 0 else f"{term} - {-start}"


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


MOVEMENT = {
    "transpose": lambda view, attrs: transpose(view, attrs["axes"]),
    "expand_dims": lambda view, attrs: expand_dims(view, attrs["axis"]),
    "squeeze": lambda view, attrs: squeeze(view, attrs["axis"]),
    "broadcast_to": lambda view, attrs: broadcast_to(view, attrs["shape"]),
    "getitem": lambda view, attrs: getitem(view, attrs["index"]),
    "reshape": lambda view, attrs: reshape(view, attrs["shape"]),
}


def apply(op, attrs, view):
    """The map of `op` applied to `view`, or None when `op` is not a pure view."""
    rule = MOVEMENT.get(op)
    return rule(view, attrs) if rule else None


def is_view_op(graph, n):
    """Does node `n` only re-index its argument (so a kernel can read through it)?"""
    node = graph[n]
    if node["op"] not in MOVEMENT:
        return False
    (arg,) = graph.args(n)
    return apply(node["op"], node["attrs"], identity(graph[arg]["shape"])) is not None


def resolve(graph, n):
    """Follow view ops back from `n` to the stored value they read: (base node, IndexMap)."""
    chain = []
    while is_view_op(graph, n):
        chain.append(n)
        n = graph.args(n)[0]
    view = identity(graph[n]["shape"])
    for m in reversed(chain):
        view = apply(graph[m]["op"], graph[m]["attrs"], view)
    return n, view, chain


def broadcast_into(view, domain):
    """`view` read at every point of a loop over `domain` (NumPy broadcasting, right-aligned)."""
    return broadcast_to(view, tuple(domain))
