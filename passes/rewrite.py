"""Two edits the cleanup passes share, made on a pass's own copy of a graph."""
from irtoy.errors import GraphError


def replace_uses(graph, old, new):
    """Make every user of `old`, and the graph's outputs, use `new` in its place."""
    if graph.spec(old) != graph.spec(new):
        raise GraphError(f"a pass replaced %{old} ({graph.spec(old)}) by %{new}, which is {graph.spec(new)}")
    for _, user, key, position in list(graph.nx.out_edges(old, keys=True, data="arg")):
        graph.nx.remove_edge(old, user, key)
        graph.nx.add_edge(new, user, arg=position)
    graph.outputs = [new if o == old else o for o in graph.outputs]


def remove_if_unused(graph, n):
    """Remove `n` if nothing uses it, then any of its arguments this leaves unused.

    Inputs and outputs always stay, so this only removes what an edit has just made dead.
    """
    stack = [n]
    while stack:
        m = stack.pop()
        if m not in graph.nx or m in graph.inputs or m in graph.outputs or graph.nx.out_degree(m):
            continue
        stack.extend(set(graph.args(m)))
        graph.nx.remove_node(m)
