"""The numba backend: fuse the graph into kernels, generate their source, compile it.

    executable = compile_graph(graph)   # fusion pass -> generated module -> numba (or its cache)
    executable.run([x, w, b])           # the graph's flat outputs
    executable.source                   # the generated Python/Numba module, readable
    executable.stages["fused"]          # the graph, each node tagged with its kernel
    executable.kernels                  # the fusion plan (passes/fusion.py), in order
    executable.plan                     # every decision about the generated code (plan.py)
    executable.planned_bytes            # memory of the reused intermediate buffers
    executable.loaded_from              # "compiled", or kernels loaded from "disk" or "memory"

Intermediate buffers belong to the executable and are reused by every call; outputs are new
arrays, made from the memory of earlier outputs the caller has dropped (runtime.
Recycler). A call made while another thread is inside the same executable gets buffers and
outputs of its own, so concurrent calls never share memory.
"""
import linecache
import threading

import numpy as np

from irtoy.backends.numba import cache
from irtoy.backends.numba.emit import module_source
from irtoy.backends.numba.lowering import check_dtypes
from irtoy.backends.numba.plan import make_plan
from irtoy.backends.numba.runtime import Recycler
from irtoy.errors import IrtoyError
from irtoy.passes import fusion


def compile_graph(graph, profile=False, debug=False):
    """Compile `graph` into a NumbaExecutable (see the module docstring).

    profile=True times every kernel (`profile_table`); debug=True compiles the kernels with
    Numba's bounds checks, so a wrong index raises IndexError instead of reading garbage.
    """
    check_dtypes(graph)
    plan = make_plan(fusion.fuse(graph), debug=debug, profile=profile)
    source = module_source(plan, title=f"{len(graph)} nodes")
    namespace, hows = {"__name__": "irtoy_driver"}, []
    for name, text in source.kernel_files.items():
        try:
            loaded, how = cache.load(text)
        except Exception as e:
            raise IrtoyError(f"Numba failed to compile the generated kernel {name} ({type(e).__name__}: {e}). "
                             f"This is a bug in irtoy's numba backend; backend='numpy' runs the same "
                             f"graph. The generated source:\n{source.text}") from e
        namespace[name] = loaded.kernel
        hows.append(how)
    filename = f"<irtoy driver {id(namespace):x}>"
    linecache.cache[filename] = (len(source.driver), None, source.driver.splitlines(True), filename)
    exec(compile(source.driver, filename, "exec"), namespace)
    how = "compiled" if "compiled" in hows else "disk" if "disk" in hows else "memory"
    return NumbaExecutable(plan, source, namespace["build"], how)


def _driver_value(value):
    """A constant as the driver takes it: a C-contiguous array, or a scalar when 0-d."""
    value = np.array(value, order="C")
    return value if value.shape else value[()]


class NumbaExecutable:
    checks_arguments = True     # run() refuses wrong shapes and dtypes itself (irtoy.ShapeError)

    def __init__(self, plan, source, build, how):
        self.stages = {"fused": plan.graph}
        self.plan = plan
        self.source = source.text
        self.kernels = list(plan.kernels)
        self.loaded_from = how  # "compiled" if any kernel was, else "disk" or "memory"
        self.profile = plan.profile
        self.times = [0.0] * len(self.kernels)
        self.calls = 0
        self._specs = plan.buffer_specs
        self._order = sorted(plan.buffers.slot_of)
        self._buffers = self._new_buffers()
        self._busy = threading.Lock()
        consts = tuple(_driver_value(plan.graph[n]["value"]) for n in plan.consts)
        times = self.times if plan.profile else None
        self._run = build(consts, Recycler(plan.recycled).empty, times)
        self._run_unshared = build(consts, np.empty, times)     # for calls from other threads meanwhile

    @property
    def planned_bytes(self):
        """Bytes of the intermediate buffers this function keeps between calls."""
        return self.plan.buffers.planned_bytes

    @property
    def unshared_bytes(self):
        """What those intermediates would take if no two of them shared memory."""
        return self.plan.buffers.unshared_bytes

    def _new_buffers(self):
        arrays = self.plan.buffers.allocate(self._specs)
        return tuple(arrays[n] for n in self._order)

    def run(self, args):
        if self._busy.acquire(blocking=False):
            try:
                out = self._run(*args, self._buffers)
            finally:
                self._busy.release()
        else:
            out = self._run_unshared(*args, self._new_buffers())
        if self.profile:
            self.calls += 1
        return out

    def render_options(self, stage):
        """Drawing options for a stage: the fused graph shows each kernel as a box."""
        if stage == "fused":
            return {"clusters": fusion.clusters(self.stages["fused"])}
        return {}

    def describe(self):
        """The fusion plan as text, one kernel a line."""
        graph = self.stages["fused"]
        return "\n".join(k.describe(graph) for k in self.kernels)

    def profile_table(self):
        """Time per kernel over all profiled calls, slowest first, as a printable table."""
        if not self.profile:
            raise IrtoyError("compile with profile=True to time each kernel")
        graph = self.stages["fused"]
        total = sum(self.times) or 1e-12
        calls = max(self.calls, 1)
        lines = [f"{'kernel':>6}  {'us/call':>10} {'share':>6}  what"]
        for kernel in sorted(self.kernels, key=lambda k: -self.times[k.id]):
            t = self.times[kernel.id]
            lines.append(f"{kernel.id:>6}  {1e6 * t / calls:>10.1f} {100 * t / total:>5.1f}%  "
                         f"{kernel.describe(graph)}")
        lines.append(f"{'total':>6}  {1e6 * total / calls:>10.1f} {100.0:>5.1f}%  over {self.calls} calls")
        return "\n".join(lines)
