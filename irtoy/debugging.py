"""Finding where a NaN or an infinity is born: `irtoy.debug_nans`.

A NaN spreads through every op after the one that made it, so by the time it shows in a
loss or an output, the values say nothing about its origin. In NaN-debugging mode the NumPy
interpreter checks each node's output as it computes it, and the first node that makes a
NaN or an infinity out of finite inputs stops the call with a `NonFiniteError` naming the
node: its op, its inputs' and output's types and the user's line that created it. A value
that was not finite already in an argument is not blamed on the nodes it flows through.

    with irtoy.debug_nans():          # on for the block, then back as it was
        f(x)
    irtoy.debug_nans(True)            # on from here on (off again: irtoy.debug_nans(False))
    IRTOY_DEBUG_NANS=1 python ...     # on from the start

The mode applies to the interpreter (backend "numpy"), which computes every node's value
on its own; the numba backend fuses nodes into kernels whose intermediates never exist as
arrays, so it runs unchecked: to find a NaN that a numba-compiled function makes, compile
the same trace with backend="numpy" and call it under `debug_nans`. The checks cost one pass
over every intermediate value, so the mode is off unless asked for. The switch is global to
the process, not per thread.
"""
import os

import numpy as np

from irtoy.errors import IrtoyError, located

_enabled = os.environ.get("IRTOY_DEBUG_NANS", "") not in ("", "0")


class NonFiniteError(IrtoyError, FloatingPointError):
    """A computation made a NaN or an infinity where finite values were expected."""


class debug_nans:
    """Turn NaN-debugging mode on (or off, with False) now; used in a `with` block, it is
    put back as it was at the block's end."""

    def __init__(self, enabled=True):
        global _enabled
        self._before = _enabled
        _enabled = bool(enabled)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        global _enabled
        _enabled = self._before


def nans_enabled():
    """Whether NaN-debugging mode is on (the interpreter asks once per call)."""
    return _enabled


def not_finite(value):
    """How many entries of `value` are NaN or infinite (0 for integer and boolean values)."""
    value = np.asarray(value)
    if value.dtype.kind not in "fc":
        return 0
    finite = np.isfinite(value)
    return 0 if finite.all() else int(finite.size - np.count_nonzero(finite))


def first_not_finite(value):
    """The index of the first NaN or infinite entry of `value`, as a tuple."""
    return tuple(int(i) for i in np.argwhere(~np.isfinite(np.asarray(value)))[0])


def check_node(graph, n, inputs, output):
    """NonFiniteError if node `n` made a NaN or an infinity out of finite `inputs`."""
    count = not_finite(output)
    if not count or any(not_finite(x) for x in inputs):
        return
    node = graph[n]
    where = first_not_finite(output)
    kinds = ", ".join(f"{np.asarray(x).dtype}{list(np.shape(x))}" for x in inputs)
    kind = "a NaN" if np.isnan(np.asarray(output)[where]) else "an infinity"
    raise NonFiniteError(f"{node['op']} made {count} NaN or infinite value(s) from finite inputs ({kinds}) "
                         f"-> {np.asarray(output).dtype}{list(np.shape(output))}, the first {kind} at index "
                         f"{list(where)}: {graph.node_text(n).split('#')[0].strip()}{located(node.get('src'))}")
