"""Dead-code elimination: drop every node no output depends on (inputs always stay)."""
import networkx as nx


def eliminate_dead_code(graph):
    live = set(graph.outputs) | set(graph.inputs)
    for out in graph.outputs:
        live |= nx.ancestors(graph.nx, out)
    g = graph.copy()
    g.nx.remove_nodes_from([n for n in graph.nx if n not in live])
    return g
