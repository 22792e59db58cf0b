"""The graph IR: a networkx MultiDiGraph plus the ordered inputs and outputs.

One node is one op producing one array. Everything known about a node is a plain networkx
node attribute, so `g.nx.nodes[n]["op"]` works and any networkx tool can read the graph:

    op      name of the op in the registry (irtoy/ops/)
    attrs   the op's parameters (axis, shape, ...), plain hashable values
    shape   tuple of ints, and dtype, a numpy dtype (set by shape inference)
    role    "input", "const", "forward", "backward" or "update"
    name    a readable name (inputs: the argument path, e.g. params['w'])
    src     "file:line" of the user's code that created the node
    scope   "dense1/relu": the name scopes active when the node was traced
    value   the array, for constants

An edge runs from an argument to its user and carries `arg`, the argument position. It is a
multigraph because `x * x` uses one node twice.
"""
import itertools

import networkx as nx
import numpy as np

from irtoy.errors import GraphError
from irtoy.ops.normalize import format_index
from irtoy.ops.spec import DTYPE_SHORT, Spec  # noqa: F401  (the IR's type, re-exported)


class Graph:
    """A computation: a networkx MultiDiGraph with ordered `inputs` and `outputs` node ids."""

    def __init__(self):
        self.nx = nx.MultiDiGraph()
        self.inputs = []
        self.outputs = []
        self._ids = itertools.count()

    # -- building ------------------------------------------------------------------------
    def add_node(self, op, args=(), attrs=None, *, role="forward", spec=None, **facts):
        """Add a node computing `op(*args)` and return its id; edges carry argument positions."""
        n = next(self._ids)
        self.nx.add_node(n, op=op, attrs=dict(attrs or {}), role=role, **facts)
        if spec is not None:
            self.set_spec(n, spec)
        for position, a in enumerate(args):
            self.nx.add_edge(a, n, arg=position)
        return n

    def set_spec(self, n, spec):
        self.nx.nodes[n]["shape"] = spec.shape
        self.nx.nodes[n]["dtype"] = spec.dtype

    def replace_uses(self, old, new):
        """Make every user of `old`, and the graph's outputs, use `new` in its place."""
        if self.spec(old) != self.spec(new):
            raise GraphError(f"a pass replaced %{old} ({self.spec(old)}) by %{new}, which is {self.spec(new)}")
        for _, user, key, position in list(self.nx.out_edges(old, keys=True, data="arg")):
            self.nx.remove_edge(old, user, key)
            self.nx.add_edge(new, user, arg=position)
        self.outputs = [new if o == old else o for o in self.outputs]

    def remove_unused(self, nodes, keep=()):
        """Remove each of `nodes` that nothing uses, then the arguments this leaves unused.

        Inputs, outputs and the nodes in `keep` always stay. Given every node of the graph,
        this is dead-code elimination; given the nodes a rewrite just replaced, it removes
        only what the rewrite made dead.
        """
        protected = set(self.inputs) | set(self.outputs) | set(keep)
        stack = list(nodes)
        while stack:
            n = stack.pop()
            if n not in self.nx or n in protected or self.nx.out_degree(n):
                continue
            stack.extend(set(self.args(n)))
            self.nx.remove_node(n)

    def copy(self):
        """A copy sharing nothing mutable with this graph (constants' arrays are shared)."""
        g = Graph()
        g.nx = self.nx.copy()
        for n in g.nx:
            g.nx.nodes[n]["attrs"] = dict(g.nx.nodes[n]["attrs"])
        g.inputs, g.outputs = list(self.inputs), list(self.outputs)
        g._ids = itertools.count(max(self.nx, default=-1) + 1)
        return g

    # -- reading -------------------------------------------------------------------------
    def __getitem__(self, n):
        """The attribute dict of node `n`."""
        return self.nx.nodes[n]

    def __len__(self):
        return self.nx.number_of_nodes()

    def args(self, n):
        """The argument node ids of `n`, in argument order."""
        edges = sorted(self.nx.in_edges(n, data="arg"), key=lambda e: e[2])
        return [a for a, _, _ in edges]

    def users(self, n):
        """The distinct nodes that use `n` as an argument."""
        return list(dict.fromkeys(self.nx.successors(n)))

    def spec(self, n):
        node = self.nx.nodes[n]
        return Spec(node["shape"], node["dtype"])

    def order(self):
        """Nodes in a topological order, ties broken by id so the order is stable."""
        return list(nx.lexicographical_topological_sort(self.nx))

    def count_ops(self):
        """{op name: number of nodes}, for reports and tests."""
        counts = {}
        for n in self.nx:
            op = self.nx.nodes[n]["op"]
            counts[op] = counts.get(op, 0) + 1
        return counts

    # -- text form -----------------------------------------------------------------------
    def node_text(self, n):
        """One node as a line of text: `%7 f32[128,400] = maximum %6, %2  # model.py:12`."""
        node = self.nx.nodes[n]
        lhs = f"%{n}"
        if "shape" in node:
            lhs += f" {Spec(node['shape'], node['dtype'])}"
        op = node["op"]
        if op == "input":
            rhs = f"input {node.get('name', '')}"
        elif op == "const":
            rhs = f"const {format_value(node['value'])}"
        else:
            parts = [", ".join(f"%{a}" for a in self.args(n))]
            parts += [f"{k}={format_index(v) if k == 'index' else format_attr(v)}"
                      for k, v in sorted(node["attrs"].items())]
            rhs = f"{op} " + " ".join(p for p in parts if p)
        line = f"{lhs} = {rhs}"
        notes = [node["src"]] if node.get("src") else []
        if node.get("role") in ("backward", "update"):
            notes.append(node["role"])
        return f"{line:<56}  # {'  '.join(notes)}" if notes else line

    def __str__(self):
        lines = [f"graph({', '.join(f'%{i}' for i in self.inputs)}) -> ({', '.join(f'%{o}' for o in self.outputs)})"]
        lines += ["  " + self.node_text(n) for n in self.order()]
        return "\n".join(lines)

    def __repr__(self):
        return f"<irtoy.Graph: {len(self)} nodes, {len(self.inputs)} inputs, {len(self.outputs)} outputs>"


def format_value(value, limit=6):
    """A constant as text: the numbers when small, else its shape and dtype."""
    value = np.asarray(value)
    if value.size <= limit:
        text = np.array2string(value, precision=4, separator=",", threshold=limit)
        return text.replace("\n", "")
    return f"<{Spec.of(value)}>"


def format_attr(v):
    if isinstance(v, np.dtype):
        return v.name
    if isinstance(v, tuple):
        return "(" + ",".join(format_attr(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    return repr(v) if isinstance(v, str) else str(v)
