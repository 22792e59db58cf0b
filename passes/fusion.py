"""Fusion: partition a graph into kernels, each one pass over memory.

A kernel is either a loop or a call:

    loop   a loop nest over an iteration space (its `domain`, a shape) computing several
           elementwise ops at each point (a gather too: it reads its argument where index
           arrays say), and reductions or scatters that accumulate those points; it
           reads each stored input once per point and writes only the values used after it.
           Elementwise ops on a reduction's result (log of a sum, the mean's scaling, the
           loss's sign) run right after the reduced loops end, in the same kernel.
           It may be headed by a matrix product whose result it reads (the product goes to
           BLAS, the loop is its epilogue: bias, activation, masks, optimizer updates).
    call   one op done whole by the driver: a matrix product with no epilogue, a reshape
           that regroups axes, a concatenation, a convolution or pooling op (whose kernels
           are written by hand, backends/numba/nn_kernels.py).

Movement ops that only re-index (transpose, broadcast, slicing, ...) belong to no kernel: the
kernels that read them do so through their index maps (passes/views.py). How each node takes
part is derived from its op's kind in the registry (`part_in_kernel`).

The legality rules, in one place. A node joins a loop kernel when:
  * it is elementwise and its shape is the kernel's domain, or it is a reduction (or a
    scatter) whose argument's shape is the domain; or it is elementwise "after" reductions
    of the kernel: its shape is their result's, they all reduce the same axes, and it uses
    nothing else of the kernel but them and other such nodes, each of its own shape (it
    runs where those totals are final: after the innermost loops when they reduce the
    innermost axes, else in a loop of its own after the whole nest; a total over other
    axes, or broadcast to its shape, is not final there or not at its point);
  * no node at the points of the loop uses a reduction or an "after" node of the same
    kernel (a total exists only once its loop has ended);
  * a gather's argument is not computed in the kernel (the gather reads it at positions
    known only at run time, so it must be stored before the loop runs);
  * no path leaves the kernel and comes back into it (the partition must stay a DAG, so the
    kernels can run one after the other); this also keeps a kernel from reading a movement
    op applied to one of its own values, which would need a different point of the loop;
  * the kernel still has at most MAX_KERNEL_ARGS arrays to read and write.
The greedy pass visits nodes in topological order and merges a node with the kernels of its
arguments (producer fusion) and then with kernels of the same domain that read the same
stored array (sibling fusion, e.g. two reductions of one input). A node that runs after a
kernel's reductions brings along the plain elementwise ops of its shape that feed it (an
optimizer's update of a bias joins the loop that sums the bias's gradient).

The result is a copy of the graph whose compute nodes carry `kernel` (the kernel's index)
and whose `graph.nx.graph["kernels"]` lists the Kernel records in execution order. Each
node's arguments, users and view base are looked up once per call of `fuse`: trying a merge
only reads them.
"""
from dataclasses import dataclass, field

import networkx as nx

from irtoy import ops
from irtoy.passes import views

# Arrays a kernel may read and write. Each is an argument of the compiled kernel: more of
# them cost compile time, dispatch time and registers, and a loop that streams through many
# arrays at once stops being friendly to the cache.
MAX_KERNEL_ARGS = 20


@dataclass
class Kernel:
    id: int
    is_loop: bool                   # a loop nest; else a call, one op done whole by the driver
    nodes: list                     # members in topological order (a loop's head first)
    domain: tuple = ()              # the iteration space of a loop
    head: int = None                # the matrix product a loop is the epilogue of
    after: dict = field(default_factory=dict)     # node -> the reduced axes it runs after
    views: list = field(default_factory=list)     # movement nodes it reads through
    inputs: list = field(default_factory=list)    # stored values it reads (view bases)
    outputs: list = field(default_factory=list)   # members used after it, or returned

    def describe(self, graph):
        ops_ = ", ".join(dict.fromkeys(graph[n]["op"] for n in self.nodes))
        if self.is_loop:
            return f"kernel {self.id} (loop over {'x'.join(map(str, self.domain)) or 'a scalar'}): {ops_}"
        return f"kernel {self.id} (call): {ops_}"


def part_in_kernel(graph, n):
    """How node `n` takes part in kernels, derived from its op's kind (irtoy.ops.KINDS, the one
    classification of ops) and, for a movement op, from whether this node only re-indexes:

        "argument"  source ops (inputs, constants): computed by no kernel, read by them
        "point"     elementwise ops and gathers: computed at each point of a loop
        "sink"      reductions and scatters (scatter_add too): take in every point of a loop
        "view"      movement ops that only re-index their argument: read through, never stored
        "call"      everything else (contraction, window, random, concatenate, a reshape that
                    regroups axes): done whole by the driver
    """
    kind = ops.REGISTRY[graph[n]["op"]].kind
    if kind == "source":
        return "argument"
    if kind in ("elementwise", "gather"):
        return "point"
    if kind in ("reduction", "scatter"):
        return "sink"
    if kind == "movement" and views.is_view(graph, n):
        return "view"
    return "call"


def reduced_axes(graph, n):
    """The axes of its loop's domain that sink `n` reduces (a scatter reduces none)."""
    node = graph[n]
    if is_scatter(graph, n):
        return ()
    axis = node["attrs"].get("axis")
    if axis is None:
        return tuple(range(len(graph[graph.args(n)[0]]["shape"])))
    return (axis,) if isinstance(axis, int) else tuple(axis)


def is_scatter(graph, n):
    """Is `n` a sink that writes (scatter, scatter_add) rather than reduces?"""
    return ops.REGISTRY[graph[n]["op"]].kind == "scatter"


def loop_domain(graph, n):
    """The iteration space a point or sink node runs over."""
    if part_in_kernel(graph, n) == "sink":
        return tuple(graph[graph.args(n)[0]]["shape"])
    return tuple(graph[n]["shape"])


class _Partition:
    """Union of nodes into loop groups, with the checks that keep a merge legal."""

    def __init__(self, graph, resolved):
        self.graph = graph
        self.order = graph.order()
        self.position = {n: i for i, n in enumerate(self.order)}
        self.args = {n: graph.args(n) for n in self.order}
        self.users = {n: graph.users(n) for n in self.order}
        self.base = {n: r.base for n, r in resolved.items()}   # the stored value n is read from
        self.part = {n: part_in_kernel(graph, n) for n in self.order}
        self.outputs = set(graph.outputs)
        self.group_of = {}                  # node -> group id
        self.members = {}                   # group id -> set of nodes
        self.domain = {}                    # group id -> domain
        self.readers = {}                   # stored base -> group ids reading it
        self.after = {}                     # node -> reduced axes it runs after

    def bases(self, members):
        """Stored values (not members) that `members` read, each through its view chain."""
        out = {}
        for m in members:
            for a in self.args[m]:
                if a not in members:
                    out[self.base[a]] = None
        return list(out)

    def legal(self, members, upto, after):
        for m in members:
            if self.part[m] == "point" and self.graph[m]["op"] == "gather" and self.args[m][0] in members:
                return False
            inside = [a for a in self.args[m] if a in members]
            if m in after:
                if not all(self._final_with(a, m, after) for a in inside):
                    return False
            elif any(a in after or self.part[a] == "sink" for a in inside):
                return False
        written = [m for m in members if m in self.outputs or self.part[m] == "sink"
                   or any(u not in members for u in self.users[m])]
        if len(self.bases(members)) + len(written) > MAX_KERNEL_ARGS:
            return False
        return not self._leaves_and_returns(members, upto)

    def _final_with(self, a, m, after):
        """Can "after" node m read member a where it runs? Only a total of the very axes m
        runs after (or another such node), of m's own shape: a total over more axes is not
        final yet, and one broadcast to m's shape would be read at other points."""
        if self.graph[a]["shape"] != self.graph[m]["shape"]:
            return False
        if a in after:
            return after[a] == after[m]
        return self.part[a] == "sink" and not is_scatter(self.graph, a) and reduced_axes(self.graph, a) == after[m]

    def _leaves_and_returns(self, members, upto):
        """Is there a path from `members` through some outside node back into `members`?

        Another group runs as one step, so reaching any of its nodes reaches all of them.
        """
        def step(x):
            group = self.group_of.get(x)
            return self.members[group] if group is not None and group in self.members else (x,)

        frontier = [s for m in members for s in self.users[m]
                    if s not in members and self.position[s] <= upto]
        seen = set()
        while frontier:
            for x in step(frontier.pop()):
                if x in seen:
                    continue
                seen.add(x)
                for s in self.users[x]:
                    if s in members:
                        return True
                    if s not in seen and self.position[s] <= upto:
                        frontier.append(s)
        return False

    def after_reduction(self, n):
        """[(group, reduced axes)]: groups whose reductions `n` could run right after."""
        graph = self.graph
        shape = tuple(graph[n]["shape"])
        found = {}
        for a in self.args[n]:
            g = self.group_of.get(a)
            if g is None:
                continue
            if self.part[a] == "sink" and not is_scatter(graph, a) and self.domain[g] != shape:
                axes = reduced_axes(graph, a)
            elif a in self.after:
                axes = self.after[a]
            else:
                continue
            if tuple(graph[a]["shape"]) == shape:
                found.setdefault(g, set()).add(axes)
        return [(g, axes.pop()) for g, axes in found.items() if len(axes) == 1]

    def add(self, n):
        graph = self.graph
        upto = self.position[n]
        if self.part[n] == "point":
            for g, axes in self.after_reduction(n):
                # groups of plain elementwise ops of n's shape that feed it come along and
                # run after the reductions too (Adam's b1 * m, beside the gradient's total)
                feeding = [h for h in dict.fromkeys(self.group_of.get(a) for a in self.args[n])
                           if h not in (None, g) and self.domain[h] == tuple(graph[n]["shape"])
                           and all(self.part[m] == "point" and m not in self.after for m in self.members[h])]
                for extra in (feeding, []):
                    trial = set().union(self.members[g], {n}, *[self.members[h] for h in extra])
                    after = {**self.after, **{m: axes for m in trial - self.members[g]}}
                    if self.legal(trial, upto, after):
                        self.after = after
                        self._join(n, g, [g] + extra, trial, self.domain[g])
                        return
        domain = loop_domain(graph, n)
        producers = [self.group_of[a] for a in self.args[n]
                     if a in self.group_of and self.part[a] == "point" and a not in self.after
                     and self.domain[self.group_of[a]] == domain]
        siblings = []
        for a in self.args[n]:
            base = self.base[a]
            if graph[base]["shape"] != ():
                siblings += [g for g in self.readers.get(base, ()) if self.domain[g] == domain]
        members = {n}
        joined = []
        for g in dict.fromkeys(producers + siblings):
            trial = members | self.members[g]
            if self.legal(trial, upto, self.after):
                members = trial
                joined.append(g)
        self._join(n, joined[0] if joined else n, joined, members, domain)

    def _join(self, n, gid, joined, members, domain):
        for g in joined:
            del self.members[g]
        self.members[gid] = members
        self.domain[gid] = domain
        for m in members:
            self.group_of[m] = gid
        for base in self.bases(members):
            readers = self.readers.setdefault(base, set())
            readers.difference_update(joined)
            readers.add(gid)

    def run(self):
        for n in self.order:
            if self.part[n] in ("point", "sink"):
                self.add(n)
        return self


def _heads(graph, part):
    """Matrix products whose every use is a direct argument in one loop group of their shape."""
    heads = {}
    for n in part.order:
        if part.part[n] != "call" or ops.REGISTRY[graph[n]["op"]].kind != "contraction" or n in part.outputs:
            continue
        groups = {part.group_of.get(u) for u in part.users[n]}
        if len(groups) == 1 and None not in groups:
            (g,) = groups
            if part.domain[g] == tuple(graph[n]["shape"]):
                heads[g] = n
    return heads


def fuse(graph):
    """The graph with its kernels: node attribute `kernel` and graph.nx.graph["kernels"]."""
    resolved = views.resolve_all(graph)
    part = _Partition(graph, resolved).run()
    heads = _heads(graph, part)
    step_of = {}                        # compute node -> step: ("loop", group) or ("call", node)
    for n in part.order:
        if n in part.group_of:
            step_of[n] = ("loop", part.group_of[n])
        elif part.part[n] == "call":
            step_of[n] = ("call", n)
    for g, h in heads.items():
        step_of[h] = ("loop", g)

    steps = nx.DiGraph()
    first = {}
    for n in part.order:
        if n in step_of:
            steps.add_node(step_of[n])
            first.setdefault(step_of[n], part.position[n])
    for n in part.order:
        if n not in step_of:
            continue
        for a in part.args[n]:
            base = part.base[a]
            if base in step_of and step_of[base] != step_of[n]:
                steps.add_edge(step_of[base], step_of[n])
    schedule = list(nx.lexicographical_topological_sort(steps, key=lambda s: first[s]))

    out = graph.copy()
    kernels = []
    for kid, step in enumerate(schedule):
        members = [n for n in part.order if step_of.get(n) == step]
        kernel = Kernel(kid, step[0] == "loop", members)
        if kernel.is_loop:
            group = step[1]
            kernel.domain = part.domain[group]
            kernel.after = {n: part.after[n] for n in members if n in part.after}
            kernel.head = heads.get(group)
            if kernel.head is not None:
                members.remove(kernel.head)
                members.insert(0, kernel.head)
        _connect(part, resolved, kernel, step_of)
        kernels.append(kernel)
        for n in kernel.nodes:
            out[n]["kernel"] = kid
        for v in kernel.views:
            out[v].setdefault("kernel", kid)
    out.nx.graph["kernels"] = tuple(kernels)
    return out


def _connect(part, resolved, kernel, step_of):
    """Fill in what a kernel reads (through which views) and which of its values escape."""
    inside = set(kernel.nodes)
    loop_members = inside - {kernel.head}
    for n in kernel.nodes:
        for a in part.args[n]:
            if a in inside and not (kernel.is_loop and a == kernel.head):
                continue
            base, _, chain = resolved[a]
            if kernel.is_loop:
                kernel.views += [v for v in chain if v not in kernel.views]
            if base not in kernel.inputs:
                kernel.inputs.append(base)
    for n in kernel.nodes:
        if n == kernel.head:
            continue
        used_after = any(step_of.get(u) != step_of[n] or u not in loop_members for u in part.users[n])
        if n in part.outputs or used_after or not kernel.is_loop:
            kernel.outputs.append(n)


def kernels(graph):
    """The Kernel records of a fused graph, in execution order."""
    return list(graph.nx.graph.get("kernels", ()))


def clusters(graph):
    """{label: nodes} for drawing each kernel of a fused graph as a box."""
    return {k.describe(graph): k.nodes + k.views for k in kernels(graph)}
