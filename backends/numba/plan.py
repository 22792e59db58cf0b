"""The plan of a compiled function: every decision about its code, made before any text exists.

    plan = make_plan(fused_graph)     # fused by passes/fusion.py
    plan.kernels                      # the fusion plan's Kernel records, in the order they run
    plan.codes[k], plan.names[k]      # loop kernel k's generated code (kernels.py) and its name
    plan.overwrites                   # output -> the donated input whose array it is written into
    plan.buffers                      # the intermediate buffers, reused by every call (buffers.py)
    plan.arrays, plan.accumulators    # the arrays the driver makes on each call

The plan is data: emit.py turns it into the module's source, and the executable (the
package's __init__.py) takes its buffers, constants and recycled array shapes from it.
Loop kernels whose code is equal are one function, named k0, k1, ... in order of first use.
"""
from dataclasses import dataclass

import numpy as np

from irtoy import ops
from irtoy.backends.numba.buffers import BufferPlan, Lifetime, plan_buffers
from irtoy.backends.numba.donation import in_place_outputs
from irtoy.backends.numba.bounds import check_kernel_indices
from irtoy.backends.numba.kernels import loop_kernel
from irtoy.backends.numba.lowering import call_lowering
from irtoy.backends.numba.runtime import Recycler
from irtoy.passes import fusion, views

# Ops whose kernels call BLAS. A graph with any of them keeps its loops serial (see
# kernels.PARALLEL_MIN_WORK for why).
BLAS_KINDS = {"contraction", "window"}


@dataclass(frozen=True)
class Allocation:
    """An array the driver makes on every call."""
    shape: tuple
    dtype: np.dtype
    recycled: bool      # large enough to come from the Recycler (runtime.py), else np.empty


@dataclass(frozen=True)
class Plan:
    graph: object               # the fused graph
    debug: bool                 # kernels are compiled with bounds checks
    profile: bool               # the driver times each kernel
    kernels: tuple              # fusion.Kernel records, in the order they run
    codes: dict                 # loop kernel id -> kernels.KernelCode
    names: dict                 # loop kernel id -> the name of its code in the module
    overwrites: dict            # output -> the donated input whose array it is written into
    calls: tuple                # nodes the driver computes whole (call kernels and loops' heads)
    returned_by_call: frozenset  # calls that return an array of their own instead of filling one
    buffers: BufferPlan         # intermediate values -> slots of memory kept between calls
    arrays: dict                # node -> Allocation, for the values stored in new arrays each call
    accumulators: dict          # sink -> Allocation of its accumulators, passed to its loop kernel
    consts: tuple               # constant nodes the driver reads, in graph order

    @property
    def buffer_specs(self):
        """{planned node: Spec}."""
        return {n: self.graph.spec(n) for n in self.buffers.slot_of}

    @property
    def recycled(self):
        """(shape, dtype type) of every array the Recycler makes on each call."""
        made = list(self.arrays.values()) + list(self.accumulators.values())
        return [(a.shape, a.dtype.type) for a in made if a.recycled]


def make_plan(graph, debug=False, profile=False):
    """Every decision about the code of a fused graph (see the module docstring)."""
    kernels = tuple(fusion.kernels(graph))
    resolved = views.resolve_all(graph)
    blas = any(ops.REGISTRY[graph[n]["op"]].kind in BLAS_KINDS for n in graph.nx)
    overwrites = in_place_outputs(graph, kernels, resolved)
    codes, names, name_of_code = {}, {}, {}
    for kernel in kernels:
        if kernel.is_loop:
            mine = {o: d for o, d in overwrites.items() if o in kernel.outputs}
            code = loop_kernel(graph, kernel, resolved, may_parallelize=not blas, overwrites=mine)
            if debug:
                check_kernel_indices(graph, kernel, code)
            codes[kernel.id] = code
            names[kernel.id] = name_of_code.setdefault(code.key, f"k{len(name_of_code)}")
    calls = tuple(k.nodes[0] for k in kernels if not k.is_loop or k.head is not None)
    returned_by_call = frozenset(n for n in calls if not call_lowering(graph[n]["op"]).writes_into)
    stored_by = _stored_by(kernels, codes)
    buffers = _plan_buffers(graph, kernels, codes, resolved, stored_by, returned_by_call)
    arrays, accumulators = {}, {}
    for kernel in kernels:
        made = [n for n in kernel.nodes[:1] if n in calls and n not in returned_by_call]
        if kernel.is_loop:
            made += [n for role, n in codes[kernel.id].params if role == "output"]
            for sink, dtype in codes[kernel.id].scratch.items():
                accumulators[sink] = _allocation(graph[sink]["shape"], dtype)
        for n in made:
            if graph[n]["shape"] != () and n not in buffers.slot_of:
                arrays[n] = _allocation(graph[n]["shape"], graph[n]["dtype"])
    consts = _consts_read(graph, kernels, codes, calls, set(stored_by) | set(overwrites))
    return Plan(graph, debug, profile, kernels, codes, names, overwrites, calls, returned_by_call,
                buffers, arrays, accumulators, consts)


def _allocation(shape, dtype):
    dtype = np.dtype(dtype)
    return Allocation(tuple(shape), dtype, int(np.prod(shape)) * dtype.itemsize >= Recycler.SMALLEST)


def _stored_by(kernels, codes):
    """{node: step} for every value some step writes into memory of its own (outputs
    written into donated arguments live in the caller's arrays, not here)."""
    written = {}
    for kernel in kernels:
        if kernel.is_loop:
            code = codes[kernel.id]
            for role, n in code.params:
                if role == "output":
                    written[n] = kernel.id
            for n in code.returns:
                written[n] = kernel.id
            if kernel.head is not None:
                written[kernel.head] = kernel.id
        else:
            for n in kernel.nodes:
                written[n] = kernel.id
    return written


def _plan_buffers(graph, kernels, codes, resolved, stored_by, returned_by_call):
    """The buffers of the values that live only between steps: not outputs (nor what an
    output may be a view of), not 0-d, not arrays a call returns as its own."""
    copies = {n for n in stored_by if graph[n]["op"] == "reshape"}   # may be views after all

    def root(n):
        """The stored value whose memory `n` may share: through views and reshapes."""
        n = resolved[n].base
        while n in copies:
            n = resolved[graph.args(n)[0]].base
        return n

    reads = {}                  # stored node -> steps that read it, through views and reshapes
    for kernel in kernels:
        if kernel.is_loop:
            operands = [n for role, n in codes[kernel.id].params if role == "input"]
            if kernel.head is not None:
                operands += graph.args(kernel.head)
        else:
            operands = [a for n in kernel.nodes for a in graph.args(n)]
        for a in operands:
            reads.setdefault(root(a), set()).add(kernel.id)
    escaping = {root(o) for o in graph.outputs} | set(graph.outputs)
    lifetimes = []
    for n, step in stored_by.items():
        if n in escaping or graph[n]["shape"] == () or n in returned_by_call:
            continue
        nbytes = int(np.prod(graph[n]["shape"])) * np.dtype(graph[n]["dtype"]).itemsize
        lifetimes.append(Lifetime(n, nbytes, step, max(reads.get(n, {step}))))
    return plan_buffers(lifetimes)


def _consts_read(graph, kernels, codes, calls, computed):
    """The constants the driver reads (others are literals in the kernels, or unused): those
    its calls, its loop kernels' array arguments and its outputs read, through the views the
    driver makes of them. `computed`: the values the steps make (in arrays of their own or
    in donated ones)."""
    read = [a for n in calls for a in graph.args(n)] + list(graph.outputs)
    read += [n for k in kernels if k.is_loop for role, n in codes[k.id].params if role == "input"]
    named = set(graph.inputs) | computed
    found = set()
    for n in read:
        while graph[n]["op"] != "const" and n not in named:     # a view the driver makes
            n = graph.args(n)[0]
        if graph[n]["op"] == "const":
            found.add(n)
    return tuple(n for n in graph.order() if n in found)
