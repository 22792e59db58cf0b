"""The graph checker: the IR's invariants, verified after every pass in debug mode and tests.

A pass that breaks the graph should fail right after it runs, naming the node, rather than
three passes later inside a backend.
"""
import networkx as nx

from irtoy import ops
from irtoy.errors import GraphError


def check_graph(graph, stage="graph"):
    """Raise GraphError listing every broken invariant; return the graph unchanged if none."""
    problems = []
    g = graph.nx
    if not nx.is_directed_acyclic_graph(g):
        problems.append(f"it has a cycle: {nx.find_cycle(g)}")
    for n in g:
        node = g.nodes[n]
        op = node.get("op")
        if op not in ops.REGISTRY:
            problems.append(f"%{n} has unknown op {op!r}")
            continue
        positions = sorted(arg for _, _, arg in g.in_edges(n, data="arg"))
        arity = ops.REGISTRY[op].arity
        if positions != list(range(len(positions))):
            problems.append(f"%{n} ({op}) has argument positions {positions}, not 0..{len(positions) - 1}")
        if arity is not None and len(positions) != arity:
            problems.append(f"%{n} ({op}) has {len(positions)} arguments, the op takes {arity}")
        if arity is None and not positions:
            problems.append(f"%{n} ({op}) has no arguments")
        if op == "const" and "value" not in node:
            problems.append(f"%{n} is a constant without a value")
        if op == "input" and n not in graph.inputs:
            problems.append(f"%{n} is an input node missing from the graph's inputs")
    for n in graph.inputs:
        if n not in g or g.nodes[n]["op"] != "input":
            problems.append(f"graph input %{n} is not an input node")
    if len(set(graph.inputs)) != len(graph.inputs):
        problems.append("an input is listed twice")
    for n in graph.outputs:
        if n not in g:
            problems.append(f"graph output %{n} is not in the graph")
    if problems:
        raise GraphError(f"{stage} is broken:\n  " + "\n  ".join(problems))
    return graph
