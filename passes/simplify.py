"""Algebraic simplification: rewrite the patterns autodiff emits into fewer, cheaper nodes.

Gradient rules are written once for the general case, so they leave `g * 1`, `g + 0`,
reshapes of reshapes, transposes of transposes and sums of broadcasts behind. This pass
visits the nodes in topological order and applies the rules in `RULES` (keyed by op name);
a rule returns a node that computes the same array (same shape and dtype) or None. A
replacement that is itself new is simplified again, so chains collapse in one sweep.

The rewrites, and when they are allowed:
- `x * 1`, `1 * x`, `x + 0`, `0 + x`, `x - 0`, `x / 1`, `x ** 1` -> `x` (broadcast if the
  constant made the result bigger); `0 - x` -> `-x`. These hold for every x, NaN and Inf
  included.
- `0 * x` -> zeros only when x is a constant whose entries are all finite: for an x that
  may hold NaN or Inf, 0 * x is NaN there, and rewriting it to 0 would hide a NaN or Inf
  the program really computes. (Signed zeros are not kept: `-0.0 + 0` becomes -0.0.)
- `-(-x)` -> `x`; reshape of reshape (or of expand_dims/squeeze) -> one reshape;
  transpose of transpose -> one transpose; reshape, transpose, broadcast_to and cast that
  change nothing -> `x`; broadcast_to of broadcast_to -> one broadcast_to.
- a sum, mean, max or min over axes of length 1 only -> a reshape.
- `sum(broadcast_to(y))` over the broadcast axes -> `y * count` (`mean`: `y`), when that
  adds no nodes. Summing count copies of y and multiplying y by count can differ in the
  last bits, so this rewrite is exact only up to rounding.
- `where(c, x, y)` with a constant condition that is all true (all false) -> x (y).
- an elementwise op with several arguments broadcasts them itself, so an explicit
  `broadcast_to` feeding it is dropped when the result keeps its shape.
"""
import numpy as np

from irtoy import ops
from irtoy.builder import GraphBuilder


def simplify(graph):
    """A new graph with the rewrites above applied everywhere they fit."""
    g = graph.copy()
    for n in g.order():
        while n in g.nx:
            replacement = _first_rewrite(g, n)
            if replacement is None:
                break
            g.replace_uses(n, replacement)
            g.remove_unused([n])
            n = replacement             # a new node may simplify further
    return g


def _first_rewrite(g, n):
    op = g[n]["op"]
    generic = [absorb_broadcast] if ops.REGISTRY[op].kind == "elementwise" else []
    for rule in RULES.get(op, []) + generic:
        replacement = rule(g, n)
        if replacement is not None and replacement != n:
            return replacement
    return None


# -- reading constants -------------------------------------------------------------------

def _same_entries(g, n):
    """Does node `n` hold only entries of its argument, every one of them at least once?
    (Views other than slicing: a constant's single value or finiteness carries over.)"""
    return ops.REGISTRY[g[n]["op"]].view and g[n]["op"] != "getitem"


def constant_scalar(g, n):
    """The one value all entries of `n` have, if `n` is such a constant (or a view of one)."""
    node = g[n]
    if _same_entries(g, n):
        return constant_scalar(g, g.args(n)[0])
    if node["op"] != "const" or node["value"].size == 0:
        return None
    value = node["value"]
    first = value.flat[0]
    return first if np.all(value == first) else None


def is_finite_constant(g, n):
    """True if `n` is a constant (or a view of one) with no NaN or Inf in it."""
    node = g[n]
    if _same_entries(g, n):
        return is_finite_constant(g, g.args(n)[0])
    return node["op"] == "const" and bool(np.all(np.isfinite(node["value"])))


# -- making replacement nodes --------------------------------------------------------------

def _builder(g, like):
    """A builder of nodes standing in for node `like` (same role, source line and scope)."""
    node = g[like]
    return GraphBuilder(g, role=node["role"], src=node.get("src"), scope=node.get("scope", ""))


def _emit(g, like, op, args, **attrs):
    """A new node `op(*args)` standing in for node `like`."""
    return _builder(g, like).add(op, args, attrs)


def _const(g, like, value):
    return _builder(g, like).constant(value)


def _as(g, x, n):
    """`x` standing in for `n`: itself, or broadcast to `n`'s shape; None if the dtype differs."""
    if g[x]["dtype"] != g[n]["dtype"]:
        return None
    if g[x]["shape"] == g[n]["shape"]:
        return x
    return _emit(g, n, "broadcast_to", [x], shape=g[n]["shape"])


def _reshaped(g, x, n):
    """`x` reshaped to `n`'s shape; None if the dtype differs."""
    if g[x]["dtype"] != g[n]["dtype"]:
        return None
    if g[x]["shape"] == g[n]["shape"]:
        return x
    return _emit(g, n, "reshape", [x], shape=g[n]["shape"])


def _zeros(g, n):
    zero = _const(g, n, np.zeros((), g[n]["dtype"]))
    return zero if g[n]["shape"] == () else _emit(g, n, "broadcast_to", [zero], shape=g[n]["shape"])


def _equals(value, target):
    return value is not None and bool(value == target)


# -- the rules -----------------------------------------------------------------------------

def multiply(g, n):
    x, y = g.args(n)
    for a, b in ((x, y), (y, x)):
        c = constant_scalar(g, b)
        if _equals(c, 1):
            return _as(g, a, n)
        if _equals(c, 0) and is_finite_constant(g, a):
            return _zeros(g, n)
    return None


def add(g, n):
    x, y = g.args(n)
    if _equals(constant_scalar(g, y), 0):
        return _as(g, x, n)
    if _equals(constant_scalar(g, x), 0):
        return _as(g, y, n)
    return None


def subtract(g, n):
    x, y = g.args(n)
    if _equals(constant_scalar(g, y), 0):
        return _as(g, x, n)
    if _equals(constant_scalar(g, x), 0) and g.spec(y) == g.spec(n):
        return _emit(g, n, "negative", [y])
    return None


def divide(g, n):
    x, y = g.args(n)
    return _as(g, x, n) if _equals(constant_scalar(g, y), 1) else None


def power(g, n):
    x, y = g.args(n)
    return _as(g, x, n) if _equals(constant_scalar(g, y), 1) else None


def negative(g, n):
    (x,) = g.args(n)
    return g.args(x)[0] if g[x]["op"] == "negative" else None


def reshape(g, n):
    (x,) = g.args(n)
    if g[x]["op"] in ("reshape", "expand_dims", "squeeze"):
        return _reshaped(g, g.args(x)[0], n)
    return x if g[x]["shape"] == g[n]["shape"] else None


def transpose(g, n):
    (x,) = g.args(n)
    axes = g[n]["attrs"]["axes"]
    if axes == tuple(range(len(axes))):
        return x
    if g[x]["op"] == "transpose":
        inner = g[x]["attrs"]["axes"]
        return _emit(g, n, "transpose", g.args(x), axes=tuple(inner[a] for a in axes))
    return None


def broadcast_to(g, n):
    (x,) = g.args(n)
    if g[x]["shape"] == g[n]["shape"]:
        return x
    if g[x]["op"] == "broadcast_to":
        return _emit(g, n, "broadcast_to", g.args(x), shape=g[n]["shape"])
    return None


def cast(g, n):
    (x,) = g.args(n)
    return x if g[x]["dtype"] == g[n]["dtype"] else None


def reduce_over_length_one(g, n):
    """A reduction over axes of length 1 only moves no data: it is a reshape."""
    (x,) = g.args(n)
    if all(g[x]["shape"][a] == 1 for a in g[n]["attrs"]["axis"]):
        return _reshaped(g, x, n)
    return None


def reduce_broadcast(g, n):
    """sum (or mean) over axes that broadcast_to stretched: y * count (or y) itself."""
    (b,) = g.args(n)
    if g[b]["op"] != "broadcast_to":
        return None
    (y,) = g.args(b)
    big, axis = g[b]["shape"], g[n]["attrs"]["axis"]
    small = (1,) * (len(big) - len(g[y]["shape"])) + g[y]["shape"]
    if any(small[a] != 1 for a in axis) or g[y]["dtype"] != g[n]["dtype"]:
        return None             # some summed axis holds distinct values of y
    count = int(np.prod([big[a] for a in axis])) if g[n]["op"] == "sum" else 1
    kept = small if g[n]["attrs"]["keepdims"] else tuple(d for i, d in enumerate(small) if i not in axis)
    added = (kept != g[y]["shape"]) + 2 * (count != 1) + (kept != g[n]["shape"])
    removed = 1 + (len(g.users(b)) == 1 and b not in g.outputs)
    if count == 0 or added > removed:
        return None
    result = y if kept == g[y]["shape"] else _emit(g, n, "reshape", [y], shape=kept)
    if count != 1:
        result = _emit(g, n, "multiply", [result, _const(g, n, np.asarray(count, g[n]["dtype"]))])
    return result if kept == g[n]["shape"] else _emit(g, n, "broadcast_to", [result], shape=g[n]["shape"])


def where(g, n):
    c, x, y = g.args(n)
    value = constant_scalar(g, c)
    if value is None:
        return None
    return _as(g, x if value else y, n)


def absorb_broadcast(g, n):
    """Elementwise ops broadcast their arguments: `broadcast_to(s) * y` is `s * y` if shapes allow."""
    args = g.args(n)
    if len(args) < 2:
        return None
    chosen = list(args)
    for i, a in enumerate(args):
        if g[a]["op"] == "broadcast_to":
            trial = chosen[:i] + g.args(a) + chosen[i + 1:]
            if np.broadcast_shapes(*[g[t]["shape"] for t in trial]) == g[n]["shape"]:
                chosen = trial
    if chosen == args:
        return None
    return _emit(g, n, g[n]["op"], chosen, **g[n]["attrs"])


RULES = {
    "multiply": [multiply], "add": [add], "subtract": [subtract], "divide": [divide], "power": [power],
    "negative": [negative], "reshape": [reshape], "transpose": [transpose],
    "broadcast_to": [broadcast_to], "cast": [cast], "where": [where],
    "sum": [reduce_over_length_one, reduce_broadcast], "mean": [reduce_over_length_one, reduce_broadcast],
    "max": [reduce_over_length_one], "min": [reduce_over_length_one],
}
