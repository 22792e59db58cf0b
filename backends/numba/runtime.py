"""What generated drivers call at run time: for arguments not exactly as traced, for
donated arguments, and to allocate outputs.

The driver's own check is one line per argument (type, shape, strides, dtype); anything it
does not accept comes here. Wrong shapes or dtypes are refused with `irtoy.ShapeError`
before any kernel runs (kernels run without bounds checks, so this is what keeps a wrong
call from reading out of bounds). Arrays that are right but not C-contiguous (slices,
transposes), not aligned or read-only (np.broadcast_to, np.frombuffer of bytes) are copied,
as NumPy would copy them for a C extension.
"""
import sys

import numpy as np

from irtoy.arguments import check_argument
from irtoy.errors import IntegerPowerError, IrtoyError  # noqa: F401 (IntegerPowerError: for the drivers)
from irtoy.ir import Spec
from irtoy.ops.indexing import IndexOutOfRangeError, out_of_range_message


def out_of_range(error, places):
    """The IndexOutOfRangeError for the IndexError(number, index) a loop kernel raised at an
    index outside its axis: places[number] is (op, axis, size, where the node is). An
    IndexError of any other form (Numba's own bounds checks) is passed on as it is."""
    if len(error.args) != 2 or not 0 <= error.args[0] < len(places):
        return error
    number, index = error.args
    op, axis, size, where = places[number]
    return IndexOutOfRangeError(out_of_range_message(op, int(index), axis, size) + where)


def argument(value, name, shape, dtype):
    """`value` as a C-contiguous array of exactly `shape` and `dtype`, or ShapeError."""
    value = check_argument(value, Spec(shape, dtype), name)
    if not (value.flags.c_contiguous and value.flags.aligned and value.flags.writeable):
        value = value.copy(order="C")      # the kernels' signatures take writeable arrays
    return value


def contiguous(value):
    """`value` itself when C-contiguous, else a C-contiguous copy (0-d stays 0-d)."""
    return value if value.flags.c_contiguous else value.copy(order="C")


def scalar_argument(value, name, dtype):
    """A 0-d argument as a NumPy scalar of exactly `dtype`, or ShapeError."""
    return argument(value, name, (), dtype)[()]


class Recycler:
    """New output arrays, made from the memory of earlier outputs the caller has dropped.

    A compiled function returns new arrays on every call, and a large new array is fresh
    memory from the operating system: writing it page-faults on every page, which for a
    training step's updated weights costs more than computing them. So the recycler keeps
    the large arrays it handed out and hands one out again only when it is their last
    holder: no variable, view or buffer of the caller refers to it any more (its reference
    count says so). In a loop like `params = step(params, x)` the arrays of two calls ago
    come back. Not thread-safe: each compiled function uses its own, under its lock.
    """
    SMALLEST = 1 << 17          # below this many bytes NumPy's own allocator is as quick
    KEEP = 3                    # arrays kept per output of a shape and dtype

    def __init__(self, outputs=()):
        self.limit = {}         # (shape, dtype) -> how many arrays to keep
        for key in outputs:
            self.limit[key] = self.limit.get(key, 0) + self.KEEP
        self.kept = {key: [] for key in self.limit}

    def empty(self, shape, dtype):
        kept = self.kept.get((shape, dtype))
        if kept is None:
            return np.empty(shape, dtype)
        for i in range(len(kept)):
            if sys.getrefcount(kept[i]) == 2:     # held by `kept` alone (and this call's argument)
                array = kept.pop(i)
                kept.append(array)
                return array
        array = np.empty(shape, dtype)
        if array.nbytes >= self.SMALLEST:
            kept.append(array)
            if len(kept) > self.limit[(shape, dtype)]:
                kept.pop(0)
        return array


def private(donated, arguments):
    """The donated arrays, each replaced by a copy if it may share memory with another argument.

    A call writes its outputs into the arrays donated to it (donation.py), so no other
    argument may see that memory: the same array passed twice, or a view of it, would
    change under the kernels reading it. Arrays are grouped by the array that owns their
    memory, so two slices of one array count as sharing even where they do not overlap;
    when some memory is not owned by an array (a buffer, a memory map) the arrays' address
    ranges are compared instead.
    """
    if all(a.base is None for a in arguments) and len(set(map(id, arguments))) == len(arguments):
        return donated          # distinct arrays that own their memory: nothing shared
    groups = {}
    for a in arguments:
        owner = a if a.base is None else a.base
        if type(owner) is not np.ndarray or owner.base is not None:
            return _copies_of_shared(donated, _overlapping(arguments))
        groups.setdefault(id(owner), []).append(a)
    return _copies_of_shared(donated, {id(a) for group in groups.values() if len(group) > 1 for a in group})


def _overlapping(arguments):
    """ids of the arguments whose address range overlaps another's."""
    spans = sorted((a.ctypes.data, a.ctypes.data + a.nbytes, k) for k, a in enumerate(arguments) if a.nbytes)
    shared, group, end = set(), [], -1
    for start, stop, k in spans + [(float("inf"), 0, None)]:
        if start >= end:                # a range overlapping none before it: a new group
            if len(group) > 1:
                shared.update(id(arguments[j]) for j in group)
            group = []
        group.append(k)
        end = max(end, stop)
    return shared


def _copies_of_shared(donated, shared):
    return tuple(a.copy() if id(a) in shared else a for a in donated)
