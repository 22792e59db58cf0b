"""Source code of one loop kernel: a Numba function looping over a kernel's domain.

    @njit("void(int64, int64, float32[:, ::1], float32[::1], float32[:, ::1])", **OPTIONS)
    def k3(n0, n1, a0, a1, o0):
        for i0 in prange(n0):
            for i1 in range(n1):
                r0 = a0[i0, i1]
                r1 = a1[i1]
                # %6 f32[128,400] = add %4, %2               # model.py:12
                v0 = r0 + r1
                ...
                o0[i0, i1] = v2

Each stored input is read once per point (through the index arithmetic of any movement ops
in between), each elementwise op is one line computing a local, and only values used
after the kernel are written. A gather or scatter-add reads each position from its index
arrays and checks it once, in the loop of the last axis the index depends on, then uses it
at every point of the loops inside (a row of an embedding table is a plain inner loop). A
reduction keeps a local accumulator when it reduces the
innermost axes (declared before the first reduced loop, finished after it, where the
elementwise ops on its result follow) and an array of accumulators otherwise, which the
driver passes in. The outer loop is a `prange` when the work is large enough to pay for
threads, no reduction runs along it and nothing in it may raise.

Names inside a kernel are canonical (a0.. inputs, o0.. outputs, acc0.. accumulators, v0..
values), so kernels that differ only in the graph nodes they came from have the same code
and are compiled once.

The code is data until the module is written (emit.py): lines of code and comments (the IR
node above its line), each with its depth of indentation, so the readable module keeps the
comments and the file Numba compiles and caches leaves them out.
"""
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from irtoy import ops
from irtoy.backends.numba.lowering import LoweringError, Scalar, cast, literal, lowering, may_raise
from irtoy.passes import views
from irtoy.passes.fusion import is_scatter, part_in_kernel, reduced_axes

# A loop runs on all cores (`prange`) when its estimated work is at least this many units:
# one unit per element read, written or combined, and more for expensive math (each op's `cost`).
# Starting the threads costs a few microseconds, and a parallel kernel takes Numba several
# times longer to compile, so small or cheap loops stay serial. Loops of a graph that also
# calls BLAS stay serial too: BLAS's threads spin-wait between calls, Numba's OpenMP threads
# between loops, and on a machine of few cores the two pools steal each other's cores (a
# training step ran 3-4x slower so); BLAS parallelizes the products, the loops run beside.
PARALLEL_MIN_WORK = 1 << 20

NUMBA_TYPES = {"bool": "boolean"}


def numba_type(dtype, ndim):
    """Numba's name for a C-contiguous array (or a scalar when ndim is 0)."""
    name = NUMBA_TYPES.get(np.dtype(dtype).name, np.dtype(dtype).name)
    if ndim == 0:
        return name
    return f"{name}[{', '.join([':'] * (ndim - 1) + ['::1'])}]"


def index_text(index_map, names):
    """The index expressions of an IndexMap (passes/views.py), one per stored axis, for the
    view's loop variables `names`: `start + step * i[k]` written as Python."""
    return tuple(_affine(start, step, None if k is None else names[k]) for k, start, step in index_map.coords)


def _affine(start, step, name):
    if name is None or step == 0:
        return str(start)
    term = name if step == 1 else f"{step} * {name}"
    if start == 0:
        return term
    return f"{term} + {start}" if start > 0 else f"{term} - {-start}"


class Code(NamedTuple):
    """A line of code at `depth` levels of indentation (1: the body of the function)."""
    depth: int
    text: str


class Comment(NamedTuple):
    """A comment line: in the readable module, not in the file Numba compiles."""
    depth: int
    text: str


def _indented(lines, depth):
    """`lines`, written for depth 0, moved `depth` levels in."""
    return [type(line)(line.depth + depth, line.text) for line in lines]


@dataclass(frozen=True)
class KernelCode:
    """A generated loop kernel, as data, and how the driver calls it."""
    params: tuple               # ("size", axis) | ("input", base node) | ("output" | "scratch", node)
    param_names: tuple          # the function's parameters: n0.. a0.. o0.. acc0..
    body: tuple                 # Code and Comment lines of the function's body
    returns: tuple              # nodes returned as scalars, in order
    signature: str              # Numba's type signature, part of the code
    parallel: bool              # the outer loop is a prange
    overwrites: dict            # output node -> the donated input it is stored into
    scratch: dict               # sink -> dtype of the accumulators the driver passes
    index_checks: tuple = ()    # (node, axis) of each index the kernel checks, by the number it raises

    @property
    def key(self):
        """What the kernel compiles to: kernels with equal keys are one function."""
        return (self.parallel, self.signature, self.param_names,
                tuple(line for line in self.body if isinstance(line, Code)))


def loop_kernel(graph, kernel, resolved, may_parallelize=True, overwrites=None):
    """The KernelCode of loop kernel `kernel` (a fusion.Kernel), reading stored values through
    `resolved` (views.resolve_all) and storing the outputs in `overwrites` ({output: donated
    input}, decided safe beforehand: donation.py) into their donated inputs."""
    return _LoopKernel(graph, kernel, resolved, may_parallelize, overwrites).generate()


class _LoopKernel:
    """Generates the code of one loop kernel of the fusion plan (once: see loop_kernel)."""

    def __init__(self, graph, kernel, resolved, may_parallelize=True, overwrites=None):
        self.graph = graph
        self.resolved = resolved                # {node: views.Resolved}
        self.kernel = kernel
        self.may_parallelize = may_parallelize
        self.overwrites = dict(overwrites or {})  # output -> donated input to store it into
        self.domain = tuple(kernel.domain)
        self.members = [n for n in kernel.nodes if n != kernel.head]
        self.member_set = set(self.members)
        self.after = dict(kernel.after)         # members computed after their reductions
        self.loop_axes = [k for k, d in enumerate(self.domain) if d != 1]
        self.index = [f"i{k}" if d != 1 else "0" for k, d in enumerate(self.domain)]
        self.inputs, self.outputs = {}, {}      # node -> parameter name
        self.returns, self.results = [], {}     # scalars returned, and their expressions
        self.scratch = {}                       # sink -> dtype of its array of accumulators
        self.values = {}                        # member -> local name
        self.loads = {}                         # (base, index text, depth) -> local name
        self.checks = []                        # (node, axis) of each index read from an array
        self.hoisted = {}                       # loop level -> lines reading and checking indices there
        self.sinks = [n for n in self.members if part_in_kernel(graph, n) == "sink"]
        self.level = {s: self._level(s) for s in self.sinks}

    def _level(self, s):
        """Loop depth where a local accumulator for sink `s` starts, or None for an array."""
        if is_scatter(self.graph, s):
            return None
        r = [k for k in reduced_axes(self.graph, s) if k in self.loop_axes]
        depth = len(self.loop_axes) - len(r)
        return depth if r == self.loop_axes[depth:] else None

    def _after_depth(self, n):
        """Loop depth where an "after" member runs, or None: in a loop after the whole nest."""
        axes = self.after[n]
        reduced = [k for k in self.loop_axes if k in axes]
        depth = len(self.loop_axes) - len(reduced)
        return depth if reduced == self.loop_axes[depth:] else None

    def _after_space(self, n):
        """Shape and index expressions of an "after" member: the domain without its reduced
        axes (or with them as length one)."""
        shape = tuple(self.graph[n]["shape"])
        axes = self.after[n]
        kept = range(len(self.domain)) if len(shape) == len(self.domain) else \
            [k for k in range(len(self.domain)) if k not in axes]
        return shape, [self.index[k] if d != 1 else "0" for k, d in zip(kept, shape)]

    # -- names ------------------------------------------------------------------------------
    def input_name(self, base):
        return self.inputs.setdefault(base, f"a{len(self.inputs)}")

    def output_name(self, n):
        return self.outputs.setdefault(n, f"o{len(self.outputs)}")

    def read(self, arg, shape, names, depth, loads):
        """The expression for node `arg` at the current point of an index space (`shape`,
        with index expressions `names`), adding any load it needs to `loads`."""
        if arg in self.member_set:
            return self.values[arg]
        base, view, _ = self.resolved[arg]
        coords = views.broadcast_into(view, shape).coords
        node = self.graph[base]
        if node["op"] == "const" and all(k is None for k, _, _ in coords):
            value = np.asarray(node["value"])[tuple(start for _, start, _ in coords)]
            return literal(value, node["dtype"])
        name = self.input_name(base)
        if not coords:
            return name
        index = index_text(views.IndexMap(shape, coords), names)
        key = (base, index, depth)
        if key not in self.loads:
            self.loads[key] = local = f"r{len(self.loads)}"
            loads.append(Code(0, f"{local} = {name}[{', '.join(index)}]"))
        return self.loads[key]

    # -- the function -------------------------------------------------------------------------
    def parallel(self):
        if not self.may_parallelize or not self.loop_axes:
            return False
        if any(self.loop_axes[0] in reduced_axes(self.graph, s) for s in self.sinks):
            return False
        if any(may_raise(self.graph[n]) for n in self.members):
            return False
        points = int(np.prod(self.domain))
        per_point = sum(ops.REGISTRY[self.graph[n]["op"]].cost for n in self.members)
        return points * per_point >= PARALLEL_MIN_WORK

    def generate(self):
        graph = self.graph
        parallel = self.parallel()
        depth_inside = len(self.loop_axes)
        loads, body = [], []
        for n in self.members:
            if n not in self.after:
                body += self._member(n, self.domain, self.index, depth_inside, loads)

        lines, depth = [], 1
        for s in self.sinks:
            if self.level[s] is None:
                lines += self._array_start(s, depth)
        for level, axis in enumerate(self.loop_axes + [None]):
            for s in self.sinks:
                if self.level[s] == level:
                    lines += self._local_start(s, depth)
            lines += _indented(self.hoisted.get(level, []), depth)
            if axis is None:
                break
            lines.append(Code(depth, f"for i{axis} in {'prange' if parallel and level == 0 else 'range'}(n{axis}):"))
            depth += 1
        lines += _indented(loads + body, depth)
        for level in reversed(range(depth_inside + 1)):
            for s in self.sinks:
                if self.level[s] == level:
                    lines += self._local_finish(s, depth)
            later, later_loads = [], []
            for n in self.members:
                if n in self.after and self._after_depth(n) == level:
                    shape, names = self._after_space(n)
                    later += self._member(n, shape, names, level, later_loads)
            lines += _indented(later_loads + later, depth)
            if level:
                depth -= 1
        for s in self.sinks:
            if self.level[s] is None:
                lines += self._array_finish(s, depth)
        lines += self._final_loops()
        if self.returns:
            lines.append(Code(depth, "return " + ", ".join(self.results[n] for n in self.returns)))

        params = ([("size", k) for k in self.loop_axes] + [("input", b) for b in self.inputs]
                  + [("output", n) for n in self.outputs] + [("scratch", n) for n in self.scratch])
        names = ([f"n{k}" for k in self.loop_axes] + list(self.inputs.values())
                 + list(self.outputs.values()) + [self._acc(n) for n in self.scratch])
        types = (["int64"] * len(self.loop_axes)
                 + [numba_type(graph[b]["dtype"], len(graph[b]["shape"])) for b in self.inputs]
                 + [numba_type(graph[n]["dtype"], len(graph[n]["shape"])) for n in self.outputs]
                 + [numba_type(dtype, len(graph[n]["shape"])) for n, dtype in self.scratch.items()])
        results = [numba_type(graph[n]["dtype"], 0) for n in self.returns]
        result = ("void" if not results else results[0] if len(results) == 1
                  else f"Tuple(({', '.join(results)},))")
        return KernelCode(tuple(params), tuple(names), tuple(lines), tuple(self.returns),
                          f"{result}({', '.join(types)})", parallel, self.overwrites, dict(self.scratch),
                          tuple(self.checks))

    def _final_loops(self):
        """Loops over the results of reductions that are not innermost, for the "after"
        members that use them (e.g. an optimizer's update of a bias from its gradient)."""
        lines = []
        groups = {}
        for n in self.members:
            if n in self.after and self._after_depth(n) is None:
                groups.setdefault(self.after[n], []).append(n)
        for axes, members in groups.items():
            depth = 1
            for k in [k for k in self.loop_axes if k not in axes]:
                lines.append(Code(depth, f"for i{k} in range(n{k}):"))
                depth += 1
            for s in self.sinks:
                if self.level[s] is None and reduced_axes(self.graph, s) == axes:
                    self.values[s] = self._final_value(s)
            loads, body = [], []
            for n in members:           # each at its own index: with keepdims or without
                shape, names = self._after_space(n)
                body += self._member(n, shape, names, ("final", axes), loads)
            lines += _indented(loads + body, depth)
        return lines

    def _final_value(self, s):
        """A reduction's final value at the current point, once its loop nest has ended."""
        index = self._out_index(s)
        if s in self.outputs:
            return f"{self.outputs[s]}[{index}]"
        reduction, _, out = self._reduction_parts(s)
        return f"({reduction.finish(f'{self._acc(s)}[{index}]', self._count(s), out)})"

    def _store(self, n, local, index):
        """Lines (at depth 0) that hand `n`'s value on: stored at `index` (source text),
        returned if 0-d, or nothing if only used inside the kernel."""
        if n not in self.kernel.outputs:
            return []
        if self.graph[n]["shape"] == ():
            self.returns.append(n)
            self.results[n] = local
            return []
        if n in self.overwrites:
            return [Code(0, f"{self.input_name(self.overwrites[n])}[{index}] = {local}")]
        return [Code(0, f"{self.output_name(n)}[{index}] = {local}")]

    def _member(self, n, shape, names, depth, loads):
        """The lines (at depth 0) computing member `n` at a point of an index space, adding
        the loads they need to `loads`; `depth` tells loads at different loop levels apart."""
        graph = self.graph
        node = graph[n]
        low = lowering(node["op"])
        lines = [Comment(0, graph.node_text(n))]
        if node["op"] in ("gather", "scatter_add"):
            return lines + self._indexed(n, shape, names, depth, loads)
        if part_in_kernel(graph, n) == "point":
            if not isinstance(low, Scalar):
                raise LoweringError(f"op {node['op']!r} has no scalar lowering but was fused into a loop")
            args = [(self.read(a, shape, names, depth, loads), graph[a]["dtype"]) for a in graph.args(n)]
            self.values[n] = local = f"v{len(self.values)}"
            lines.append(Code(0, f"{local} = {low.emit(args, np.dtype(node['dtype']), node['attrs'])}"))
            return lines + self._store(n, local, ", ".join(names) or "()")
        (arg,) = graph.args(n)
        value = self.read(arg, shape, names, depth, loads)
        if node["op"] == "scatter":
            if node["shape"] == ():
                self.returns.append(n)
                self.results[n] = value
                return lines
            target = views.getitem(views.identity(node["attrs"]["shape"]), node["attrs"]["index"])
            index = index_text(target, self.index)
            lines.append(Code(0, f"{self.output_name(n)}[{', '.join(index) or '()'}] = {value}"))
            return lines
        reduction, acc_dtype, _ = self._reduction_parts(n)
        value = cast(value, graph[arg]["dtype"], acc_dtype)
        acc = self._acc(n)
        if self.level[n] is None:
            acc = f"{acc}[{self._out_index(n)}]"
        if reduction.tracks_index:
            position = f"{self._acc(n)}_at" if self.level[n] is not None else \
                f"{self.output_name(n)}[{self._out_index(n)}]"
            lines += [Code(0, f"if {reduction.combine(acc, value, acc_dtype)}:"),
                      Code(1, f"{acc} = {value}"), Code(1, f"{position} = {self._argmax_position(n)}")]
        else:
            lines.append(Code(0, reduction.combine(acc, value, acc_dtype)))
        return lines

    # -- gathers and scatter-adds: positions read from index arrays ---------------------------
    def _indexed(self, n, shape, names, depth, loads):
        """The lines (at depth 0) of gather or scatter_add `n` at a point of a loop over
        `shape`: read each index array at the point's leading (batch) axes, check the index
        lies in its axis (counting negative ones from the end), then read the gather's
        argument there, or add the scatter's value there."""
        graph = self.graph
        node = graph[n]
        data, *indices = graph.args(n)
        axes = node["attrs"]["axes"]
        target = graph[data]["shape"] if node["op"] == "gather" else node["attrs"]["shape"]
        batch = len(shape) - (len(target) - len(axes))
        # An index depends on the batch axes only, which lead the domain: it is read and checked
        # once, in the loop of the last of them, not at every point of the axes after them.
        hoist = n not in self.after and not any(i in self.member_set for i in indices)
        level = len([k for k in self.loop_axes if k < batch])
        index_lines, lines, positions = [], [], {}
        for i, axis in zip(indices, axes):
            index = self.read(i, shape[:batch], names[:batch], ("index", level) if hoist else depth,
                              index_lines if hoist else loads)
            positions[axis] = self._checked(index, graph[i]["dtype"], n, axis, target[axis],
                                            index_lines if hoist else lines)
        self.hoisted.setdefault(level, []).extend(index_lines)
        rest = iter(names[batch:])
        at = [positions[k] if k in positions else next(rest) for k in range(len(target))]
        if node["op"] == "scatter_add":
            value = self.read(data, shape, names, depth, loads)
            return lines + [Code(0, f"{self.output_name(n)}[{', '.join(at)}] += {value}")]
        base, view, _ = self.resolved[data]
        if all(k is None for k, _, _ in view.coords):       # a broadcast scalar: no index needed
            value = self.read(data, tuple(target), at, depth, loads)
        else:
            value = f"{self.input_name(base)}[{', '.join(index_text(view, at))}]"
        self.values[n] = local = f"v{len(self.values)}"
        lines.append(Code(0, f"{local} = {value}"))
        return lines + self._store(n, local, ", ".join(names) or "()")

    def _checked(self, index, dtype, n, axis, size, lines):
        """A local holding `index` as a position in an axis of `size`, after lines (added to
        `lines`) that count a negative index from the end and raise IndexError(number of the
        check, index) for one outside the axis: the driver names the node (emit.py)."""
        name = f"p{len(self.checks)}"
        lines.append(Code(0, f"{name} = np.int64({index})"))
        if np.dtype(dtype).kind == "i":
            lines += [Code(0, f"if {name} < 0:"), Code(1, f"{name} += {size}")]
        lines += [Code(0, f"if not 0 <= {name} < {size}:"), Code(1, f"raise IndexError({len(self.checks)}, {index})")]
        self.checks.append((n, axis))
        return name

    # -- reductions ---------------------------------------------------------------------------
    def _acc(self, n):
        return f"acc{self.sinks.index(n)}"

    def _reduction_parts(self, n):
        graph = self.graph
        reduction = lowering(graph[n]["op"])
        src, out = graph[graph.args(n)[0]]["dtype"], graph[n]["dtype"]
        return reduction, np.dtype(reduction.acc_dtype(src, out)), np.dtype(out)

    def _out_index(self, n):
        axes = reduced_axes(self.graph, n)
        keep = self.graph[n]["attrs"].get("keepdims", False)
        parts = [("0" if keep else None) if k in axes else self.index[k] for k in range(len(self.domain))]
        return ", ".join(p for p in parts if p is not None) or "()"

    def _argmax_position(self, n):
        axis = self.graph[n]["attrs"]["axis"]
        if axis is not None:
            return self.index[axis]
        flat = "0"
        for k in self.loop_axes:
            flat = f"i{k}" if flat == "0" else f"({flat}) * n{k} + i{k}"
        return flat

    def _count(self, n):
        return " * ".join(f"n{k}" for k in reduced_axes(self.graph, n) if k in self.loop_axes) or "1"

    def _local_start(self, n, depth):
        reduction, acc_dtype, _ = self._reduction_parts(n)
        lines = [Code(depth, f"{self._acc(n)} = {reduction.init(acc_dtype)}")]
        if reduction.tracks_index:
            lines.append(Code(depth, f"{self._acc(n)}_at = 0"))
        return lines

    def _local_finish(self, n, depth):
        """The reduction's final value, as a local the "after" members can use."""
        reduction, acc_dtype, out = self._reduction_parts(n)
        acc = self._acc(n)
        value = f"{acc}_at" if reduction.tracks_index else reduction.finish(acc, self._count(n), out)
        self.values[n] = local = f"s{self.sinks.index(n)}"
        stored = self._store(n, local, self._out_index(n)) if n in self.kernel.outputs else []
        return [Code(depth, f"{local} = {value}")] + _indented(stored, depth)

    def _in_place(self, n):
        """Can sink `n` accumulate straight into its output array?"""
        reduction, acc_dtype, out = self._reduction_parts(n)
        return not reduction.tracks_index and acc_dtype == out and reduction.finish("x", "1", out) == "x"

    def _over_output(self, n, depth, body):
        """Lines running `body` (a function of the index text giving statements) at every
        element of sink `n`'s output: plain loops (cheaper for Numba to compile than
        whole-array NumPy)."""
        axes = reduced_axes(self.graph, n)
        lines = []
        for k in self.loop_axes:
            if k not in axes:
                lines.append(Code(depth, f"for i{k} in range(n{k}):"))
                depth += 1
        return lines + [Code(depth, text) for text in body(self._out_index(n))]

    def _array_start(self, n, depth):
        if is_scatter(self.graph, n):
            return [Code(depth, f"{self.output_name(n)}[...] = 0")] if self.graph[n]["shape"] != () else []
        out_name = self.output_name(n)
        reduction, acc_dtype, out = self._reduction_parts(n)
        acc, init = self._acc(n), reduction.init(acc_dtype)
        if self._in_place(n):
            return [Code(depth, f"{acc} = {out_name}")] + self._over_output(n, depth, lambda i: [f"{acc}[{i}] = {init}"])
        if reduction.tracks_index:
            start = lambda i: [f"{acc}[{i}] = {init}", f"{out_name}[{i}] = 0"]
        else:
            start = lambda i: [f"{acc}[{i}] = {init}"]
        self.scratch[n] = acc_dtype       # the driver passes the array: allocating it here
        return self._over_output(n, depth, start)   # would cost Numba ~0.1 s more to compile

    def _array_finish(self, n, depth):
        if is_scatter(self.graph, n) or self._in_place(n):
            return []
        reduction, acc_dtype, out = self._reduction_parts(n)
        if reduction.tracks_index:
            return []
        acc, out_name = self._acc(n), self.output_name(n)
        return self._over_output(n, depth, lambda i: [
            f"{out_name}[{i}] = {reduction.finish(f'{acc}[{i}]', self._count(n), out)}"])
