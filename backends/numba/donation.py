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
    reshape of it), o's kernel reads no such value but `d` itself, and `d` is not returned;
  * o's shape is its kernel's domain, and every point of the kernel reads only its own
    element of `d` (loads come first in a loop's body, so each point reads its element
    before it stores over it), as the index maps the kernel reads through say (a gather
    reads where its indices say: never only its own element).
Of the donated inputs that qualify, `o` takes the one nearest upstream of it in the graph,
so new weights land in the old weights' arrays and new moments in the old moments'. All of
this is decided before any code is generated: the kernel generator only stores where it is
told (kernels.loop_kernel).
"""
import networkx as nx

from irtoy import ops
from irtoy.passes import views
from irtoy.passes.fusion import part_in_kernel


def in_place_outputs(graph, kernels, resolved):
    """{output node: donated input node whose memory it may be written into}, for the fusion
    plan `kernels`, whose loops read stored values as `resolved` says (views.resolve_all)."""
    donated = [n for n in graph.inputs if graph[n].get("donated") and graph[n]["shape"] != ()]
    if not donated:
        return {}
    kernel_of = {n: k for k in kernels for n in k.nodes}
    aliases = {d: _aliases(graph, d) for d in donated}
    last_read = {d: max((k.id for k in kernels if aliases[d] & set(k.inputs)), default=-1) for d in donated}
    returned = set(graph.outputs)
    reverse = graph.nx.reverse(copy=False)
    pairs = {}
    for o in dict.fromkeys(graph.outputs):
        kernel = kernel_of.get(o)
        if kernel is None or not kernel.is_loop or o == kernel.head or kernel.after \
                or any(part_in_kernel(graph, n) == "sink" for n in kernel.nodes) \
                or tuple(graph[o]["shape"]) != tuple(kernel.domain):
            continue
        fitting = [d for d in donated
                   if d not in pairs.values() and graph.spec(d) == graph.spec(o)
                   and last_read[d] <= kernel.id and not aliases[d] & returned
                   and not (aliases[d] - {d}) & set(kernel.inputs)
                   and _reads_only_its_own_element(graph, kernel, resolved, d)]
        if fitting:
            distance = nx.single_source_shortest_path_length(reverse, o)     # edges from each node down to o
            pairs[o] = min(fitting, key=lambda d: distance.get(d, len(graph)))
    return pairs


def _reads_only_its_own_element(graph, kernel, resolved, d):
    """Does each point of loop kernel `kernel` read no element of `d` but its own?"""
    members = set(kernel.nodes) - {kernel.head}
    for n in members:
        for a in graph.args(n):
            if a in members or resolved[a].base != d:
                continue
            if graph[n]["op"] == "gather" and a == graph.args(n)[0]:
                return False        # read where its indices say, not at the point
            coords = views.broadcast_into(resolved[a].view, kernel.domain).coords
            if not all(_own_position(axis, coord, kernel.domain) for axis, coord in enumerate(coords)):
                return False
    return True


def _own_position(axis, coord, domain):
    """Is coordinate `coord` (k, start, step) of a map into an array of shape `domain`, read at
    point i of a loop over `domain`, always i[axis]?"""
    k, start, step = coord
    if domain[axis] == 1:       # i[axis] is 0: the coordinate must be 0 at every point
        return start == 0 and (k is None or step == 0 or domain[k] == 1)
    return k == axis and start == 0 and step == 1


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

