"""Constant folding: compute at compile time what does not depend on the inputs.

A node whose arguments are all constants is evaluated once, with its op's reference NumPy
implementation (the same code the interpreter runs, so the result is bit-for-bit what the
graph would have computed), and becomes a constant. Going in topological order folds whole
chains at once; autodiff leaves many of them (the seed 1.0 divided by the batch size, ...).

Two kinds of node are never folded:
- nodes whose result would have more than `max_elements` entries, or more than the
  biggest constant they read: folding `broadcast_to(0.0, (4096, 4096))` would turn one
  number into 128 MB of constant, and even a small broadcast is better left to the op
  that uses it (elementwise ops broadcast for free);
- ops of kind "random": a draw stays a node, so drawings show where randomness enters
  (with a constant seed it would fold to the same numbers every run).
Nodes that depend on an input are not constant, so they are never folded either.
"""
import numpy as np

from irtoy import ops

MAX_FOLDED_ELEMENTS = 1024


def fold_constants(graph, max_elements=MAX_FOLDED_ELEMENTS):
    """A new graph with every foldable node replaced by a constant of its value."""
    g = graph.copy()
    for n in g.order():
        node = g[n]
        op = ops.REGISTRY[node["op"]]
        args = g.args(n)
        if op.kind in ("source", "random") or op.impl is None or not args:
            continue
        if any(g[a]["op"] != "const" for a in args):
            continue
        size = int(np.prod(node["shape"]))
        if size > max_elements or size > max(g[a]["value"].size for a in args):
            continue
        with np.errstate(all="ignore"):     # the run-time result is the same NaN or Inf
            value = op.impl(*[g[a]["value"] for a in args], **node["attrs"])
        value = np.array(value, dtype=node["dtype"])
        g.nx.remove_edges_from(list(g.nx.in_edges(n, keys=True)))
        node.update(op="const", attrs={}, role="const", value=value)
        g.remove_unused(set(args))      # constants only this node used
    return g
