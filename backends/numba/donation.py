"""Which outputs of a compiled function may be written into the memory of a donated input.

A caller that donates an argument (`compile(..., donate=...)`, as in JAX) promises not to
read its arrays again, so the call may overwrite them. A training step then writes the new
weights and optimizer moments where the old ones were, as an in-place NumPy update does,
instead of into new arrays: the step touches half the memory, and what it touches is still
in the cache.

Output `o` may take the memory of donated input `d` when
  * they have the same shape and dtype, and a loop kernel without reductions computes `o`
    (BLAS does not; a reduction's later loops read and store elsewhere than the point);
  * no step after o's kernel reads `d` or any value that may share its memory (a view or a
    reshape of it), o's kernel reads no such value but `d` itself, and `d` is not returned.
Inside o's kernel every point must read its element of `d` before it overwrites it, and no
other element; the kernel generator checks that (kernels.LoopKernel) and gives `o` an
array of its own where it cannot. Of the donated inputs that qualify, `o` takes the one
nearest upstream of it in the graph, so new weights land in the old weights' arrays and new
moments in the old moments'.
"""
import networkx as nx

from irtoy import ops
from irtoy.passes.fusion import part_in_kernel


def in_place_outputs(graph, plan):
    """{output node: donated input node whose memory it may be written into}."""
    donated = [n for n in graph.inputs if graph[n].get("donated") and graph[n]["shape"] != ()]
    if not donated:
        return {}
    kernel_of = {n: k for k in plan for n in k.nodes}
    aliases = {d: _aliases(graph, d) for d in donated}
    last_read = {d: max((k.id for k in plan if aliases[d] & set(k.inputs)), default=-1) for d in donated}
    returned = set(graph.outputs)
    reverse = graph.nx.reverse(copy=False)
    pairs = {}
    for o in dict.fromkeys(graph.outputs):
        kernel = kernel_of.get(o)
        if kernel is None or not kernel.is_loop or o == kernel.head or kernel.after \
                or any(part_in_kernel(graph, n) == "sink" for n in kernel.nodes):
            continue
        fitting = [d for d in donated
                   if d not in pairs.values() and graph.spec(d) == graph.spec(o)
                   and last_read[d] <= kernel.id and not aliases[d] & returned
                   and not (aliases[d] - {d}) & set(kernel.inputs)]
        if fitting:
            distance = nx.single_source_shortest_path_length(reverse, o)     # edges from each node down to o
            pairs[o] = min(fitting, key=lambda d: distance.get(d, len(graph)))
    return pairs


def _aliases(graph, d):
    """`d` and every value that may share its memory: what movement ops (views, reshapes,
    and, more than needed, the copying ones) make of it, recursively."""
    found, todo = {d}, [d]
    while todo:
        for u in graph.users(todo.pop()):
            if ops.REGISTRY[graph[u]["op"]].kind == "movement" and u not in found:
                found.add(u)
                todo.append(u)
    return found

