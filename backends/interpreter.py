"""The NumPy interpreter: run a graph one node at a time with each op's reference code.

It is the ground truth every other backend is tested against, so it stays simple: a list of
steps in topological order, a dict of live values, and each intermediate deleted right after
its last use, so peak memory stays near what the live values need rather than the sum of
every intermediate.
"""
import time

import numpy as np

from irtoy import debugging, ops
from irtoy.errors import GraphError, located


def compile_graph(graph, profile=False, debug=False):
    return Interpreter(graph, profile, debug)


class Interpreter:
    def __init__(self, graph, profile=False, debug=False):
        self.graph = graph
        self.stages = {}
        self.profile = profile
        self.debug = debug
        self.inputs, self.outputs = list(graph.inputs), list(graph.outputs)
        self.consts = {n: graph[n]["value"] for n in graph.nx if graph[n]["op"] == "const"}
        order = [n for n in graph.order() if graph[n]["op"] not in ("input", "const")]
        last_use = {}
        for i, n in enumerate(order):
            for a in graph.args(n):
                last_use[a] = i
        keep = set(self.outputs) | set(self.inputs)     # inputs are the caller's arrays anyway
        frees = [[] for _ in order]
        for n, i in last_use.items():
            if n not in keep and n not in self.consts:
                frees[i].append(n)
        self.steps = [(n, ops.REGISTRY[graph[n]["op"]].impl, graph.args(n), graph[n]["attrs"], frees[i])
                      for i, n in enumerate(order)]
        # Outputs that are an input, a constant or an earlier output are returned as copies, so
        # a caller writing into a result never changes its own argument or later calls.
        self.copied_outputs = [i for i, o in enumerate(self.outputs)
                               if o in self.inputs or o in self.consts or o in self.outputs[:i]]
        self.times = {n: 0.0 for n in order}
        self.calls = 0
        live = peak = len(dict.fromkeys(self.inputs))
        for _, _, _, _, dead in self.steps:
            live += 1
            peak = max(peak, live)
            live -= len(dead)
        self.peak_live = peak - len(self.inputs)    # the most intermediate values alive at once

    def run(self, args):
        # Subclasses of ndarray (np.matrix, masked arrays) are taken as the plain arrays they
        # hold, as the numba backend's kernels take them: np.matrix would otherwise change
        # what `*` and reductions mean, and a masked array what its ops return.
        env = dict(zip(self.inputs, (a if type(a) is np.ndarray else np.asarray(a) for a in args)))
        values = self.consts
        check_nans = debugging.nans_enabled()
        try:
            for n, impl, arg_nodes, attrs, frees in self.steps:
                xs = [env[a] if a in env else values[a] for a in arg_nodes]
                if self.profile:
                    start = time.perf_counter()
                    env[n] = impl(*xs, **attrs)
                    self.times[n] += time.perf_counter() - start
                else:
                    env[n] = impl(*xs, **attrs)
                if self.debug:
                    self._check(n, env[n])
                if check_nans:
                    debugging.check_node(self.graph, n, xs, env[n])
                for dead in frees:
                    del env[dead]
        except debugging.NonFiniteError:
            raise
        except Exception as e:          # NumPy's own error, told which node and line it came from
            e.add_note(f"while computing {self.graph.node_text(n).split('#')[0].strip()}"
                       f"{located(self.graph[n].get('src'))}")
            raise
        self.calls += 1
        results = [env[o] if o in env else values[o] for o in self.outputs]
        for i in self.copied_outputs:
            results[i] = np.array(results[i], copy=True)
        return results

    def _check(self, n, value):
        node = self.graph[n]
        value = np.asarray(value)
        if value.shape != node["shape"] or value.dtype != node["dtype"]:
            raise GraphError(f"%{n} ({node['op']}) computed {value.dtype}{list(value.shape)} but its "
                             f"shape rule says {node['dtype']}{list(node['shape'])}")

    def profile_table(self):
        """Time per node over all profiled calls, slowest first, as a printable table."""
        if not self.profile:
            raise GraphError("compile with profile=True to time each node")
        total = sum(self.times.values()) or 1e-12
        calls = max(self.calls, 1)
        rows = sorted(self.times.items(), key=lambda kv: -kv[1])
        lines = [f"{'node':>6}  {'op':<14} {'shape':<18} {'us/call':>10} {'share':>6}  source"]
        for n, t in rows:
            node = self.graph[n]
            spec = self.graph.spec(n)
            lines.append(f"{'%' + str(n):>6}  {node['op']:<14} {str(spec):<18} {1e6 * t / calls:>10.1f} "
                         f"{100 * t / total:>5.1f}%  {node.get('src') or ''}")
        lines.append(f"{'':>6}  {'total':<14} {'':<18} {1e6 * total / calls:>10.1f} {100.0:>5.1f}%  over {self.calls} calls")
        return "\n".join(lines)
