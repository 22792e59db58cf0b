"""The jax backend: the graph as one jax.numpy function, compiled by XLA with jax.jit.

    executable = compile_graph(graph)            # one Python function per graph, jitted
    executable.run([x, w, b])                    # NumPy arrays in, NumPy arrays out
    executable.source                            # the jaxpr JAX traced: what XLA was given
    executable.optimized_hlo()                   # the HLO after XLA's optimizations

Each node becomes one jax.numpy/lax call (lowering.py); XLA fuses and schedules them itself,
on CPU, GPU or TPU. Inputs the caller donates are donated to XLA too. 64-bit types are
turned on only around each call (`jax.enable_x64` is a scoped setting), so float64 graphs
run in float64 and the user's own JAX code keeps its settings.

With `devices` (a count, or a list of JAX devices) the function runs over a one-dimensional
device mesh: the inputs named in `batch_inputs` are split along their first axis, every
other input is replicated, and XLA inserts the collectives the graph needs (the all-reduce
of gradients summed over the batch), as jax.sharding does for any jitted function. When the
devices belong to several processes (hosts joined by jax.distributed.initialize), every
process calls with the same arrays, and each feeds its own devices their slices; every
process gets the whole results.

It is registered through the `irtoy.backends` entry-point group, as a backend of another
package would be; JAX is the optional extra irtoy[jax].
"""
import inspect

import numpy as np

from irtoy.errors import IrtoyError, located

try:
    import jax
    from jax.sharding import Mesh, NamedSharding, PartitionSpec
except ImportError:
    raise IrtoyError("backend='jax' needs JAX: pip install 'irtoy[jax]'") from None

from irtoy.backends.jax import lowering  # noqa: E402 (needs JAX, checked above)


def compile_graph(graph, profile=False, debug=False, devices=None, batch_inputs=()):
    """Compile `graph` with jax.jit (see the module docstring)."""
    if profile:
        raise IrtoyError("the jax backend cannot time each node (XLA fuses them into kernels of its own); "
                         "profile with backend='numba' or 'numpy'")
    return JaxExecutable(graph, devices, tuple(batch_inputs))


def mesh_of(devices):
    """A one-dimensional mesh named "batch" over `devices` (a count, or a list of JAX devices)."""
    if isinstance(devices, int):
        available = jax.devices()
        if not 1 <= devices <= len(available):
            raise IrtoyError(f"devices={devices}, but JAX sees {len(available)} device(s): {available}. On a CPU, "
                             f"XLA_FLAGS=--xla_force_host_platform_device_count={devices} (set before JAX starts) "
                             f"simulates {devices}")
        devices = available[:devices]
    elif isinstance(devices, str) or not all(isinstance(d, jax.Device) for d in np.ravel(np.asarray(devices, object))):
        raise IrtoyError(f"devices={devices!r}: give a number of devices, or a list of JAX devices "
                         f"(jax.devices() lists them: {jax.devices()})")
    return Mesh(np.array(list(devices)), ("batch",))


class JaxExecutable:
    checks_arguments = False    # Compiled checks the arguments before run()

    def __init__(self, graph, devices=None, batch_inputs=()):
        self.graph = graph
        self.stages = {}
        self._steps = []
        for n in graph.order():
            node = graph[n]
            if node["op"] in ("input", "const"):
                continue
            fn = lowering.lowering(node["op"])
            extra = {"out_dtype": node["dtype"]} if "out_dtype" in inspect.signature(fn).parameters else {}
            check = lowering.CHECKS.get(node["op"])
            self._steps.append((n, fn, graph.args(n), {**node["attrs"], **extra}, check))
        self._consts = {n: graph[n]["value"] for n in graph.nx if graph[n]["op"] == "const"}
        donated = tuple(i for i, n in enumerate(graph.inputs) if graph[n].get("donated"))
        self.mesh = None if devices is None else mesh_of(devices)
        self._in_shardings, shardings = None, {}
        if self.mesh is not None:
            split, whole = NamedSharding(self.mesh, PartitionSpec("batch")), NamedSharding(self.mesh, PartitionSpec())
            self._in_shardings = tuple(split if i in batch_inputs else whole for i in range(len(graph.inputs)))
            # every result replicated: each process gets all of it, as NumPy arrays
            shardings = {"in_shardings": self._in_shardings, "out_shardings": whole}
        self._specs = [graph.spec(n) for n in graph.inputs]
        # compiled now (ahead of the first call), so compiling costs its time here, as on numba
        with jax.enable_x64(True):
            self._jitted = jax.jit(self._function, donate_argnums=donated, **shardings)
            self._compiled = self._jitted.lower(*self._example()).compile()

    def _function(self, *inputs):
        """The graph, node by node, on JAX values: what jax.jit traces. Its results are the
        graph's outputs, then (found, example) for each run-time check (lowering.CHECKS)."""
        env = dict(self._consts)
        env.update(zip(self.graph.inputs, inputs))
        self._checks, found = [], []
        for n, fn, args, attrs, check in self._steps:
            values = [env[a] for a in args]
            env[n] = fn(*values, **attrs)
            for error, bad, example, message in check(env[n], *values, **attrs) if check else ():
                self._checks.append((n, error, message))
                found += [bad, example]
        return tuple(env[o] for o in self.graph.outputs) + tuple(found)

    def _example(self):
        """The arguments as JAX sees them when it compiles: shapes and dtypes, no values."""
        return [jax.ShapeDtypeStruct(spec.shape, spec.dtype) for spec in self._specs]

    def run(self, args):
        # the compiled program takes exactly its dtypes (a Python number is an array of its input's)
        args = [np.asarray(a, spec.dtype) for a, spec in zip(args, self._specs)]
        with jax.enable_x64(True):
            if self.mesh is not None and self.mesh.is_multi_process:
                # several hosts (jax.distributed), each calling with the same whole arrays:
                # each host hands its own devices their slices only
                args = [jax.make_array_from_callback(a.shape, sharding, lambda index, a=a: a[index])
                        for sharding, a in zip(self._in_shardings, args)]
            outs = [np.array(o) for o in self._compiled(*args)]
        results, found = outs[:len(self.graph.outputs)], outs[len(self.graph.outputs):]
        for (n, error, message), bad, example in zip(self._checks, found[::2], found[1::2]):
            if bad:
                node = self.graph[n]
                raise error(f"{message(example)}\n  in {self.graph.node_text(n).split('#')[0].strip()}"
                            f"{located(node.get('src'))}")
        return results

    @property
    def source(self):
        """The jaxpr of the graph: the program JAX hands to XLA, one line per primitive."""
        with jax.enable_x64(True):
            return str(jax.make_jaxpr(self._function)(*self._example()))

    def optimized_hlo(self):
        """The HLO module XLA compiled, after its optimizations (fusions, collectives)."""
        return self._compiled.as_text()
