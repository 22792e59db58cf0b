"""Common-subexpression elimination: compute each distinct expression once.

Two nodes are the same expression when they apply the same op, with the same attributes,
to the same arguments (in any order for commutative ops); two constants are the same when
they hold the same bytes in the same dtype and shape. Visiting nodes in topological order
makes this transitive: once the arguments are merged, their users compare equal too. This
is what merges the forward code a nested `irtoy.grad` recomputes with the caller's own.

Inputs are never merged (they are distinct arguments). Random ops are merged like any other:
irtoy's generator is a pure function of its seed, stream and shape, so two identical draws
are the same numbers (this is what lets a dropout mask be computed once when a training
step applies the network both for the gradient and for its outputs). Large constants are
compared by identity only, so hashing never walks megabytes of weights.
"""
from irtoy import ops

MAX_HASHED_CONSTANT = 4096      # elements; bigger constants are equal only to themselves


def eliminate_common_subexpressions(graph):
    """A new graph in which no two nodes compute the same expression."""
    g = graph.copy()
    seen = {}
    for n in g.order():
        key = expression_key(g, n)
        if key is None:
            continue
        if key not in seen:
            seen[key] = n
            continue
        g.replace_uses(n, seen[key])
        g.remove_unused([n])
    return g


def expression_key(g, n):
    """A hashable description of what node `n` computes, or None if it must stay unique."""
    node = g[n]
    op = node["op"]
    if op == "input":
        return None
    if op == "const":
        value = node["value"]
        if value.size > MAX_HASHED_CONSTANT:
            return ("const", id(value))
        return ("const", value.dtype.str, value.shape, value.tobytes())
    args = g.args(n)
    if ops.REGISTRY[op].commutative:
        args = sorted(args)
    return (op, tuple(sorted(node["attrs"].items())), tuple(args), g.spec(n))
