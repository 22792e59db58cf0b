"""Dead-code elimination: drop every node no output depends on (inputs always stay)."""


def eliminate_dead_code(graph):
    g = graph.copy()
    g.remove_unused(list(g.nx))
    return g
