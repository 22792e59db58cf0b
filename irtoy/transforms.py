"""Function transforms: `irtoy.grad(fn)` and `irtoy.value_and_grad(fn)`.

    dloss = irtoy.grad(loss, wrt=0)
    dloss(params, x, y)             # arrays: traced and compiled once per input specs, then reused

    def train_step(params, x, y):   # tracers: the gradient nodes join the caller's graph
        value, grads = irtoy.value_and_grad(loss)(params, x, y)
        return {k: params[k] - 0.1 * grads[k] for k in params}

Called on arrays outside any trace, the transformed function traces `fn`, differentiates it,
compiles the result and keeps it, keyed by the structure, shapes and dtypes of the
arguments. Called while another function is being traced, it traces `fn` in a nested trace,
differentiates that graph and copies the result into the outer trace node by node, so
the caller gets ordinary tracers and can differentiate again: `irtoy.grad(lambda x, v:
np.sum(irtoy.grad(f)(x) * v))` is a Hessian-vector product. Values `fn` closes over from
the outer trace enter the nested graph as extra inputs (the trace's `captures`) and are
wired back to the outer tracers when the result is copied out.
"""
import functools

import numpy as np

from irtoy import pytree, tracing
from irtoy.api import differentiate_function, trace
from irtoy.builder import Tracer
from irtoy.passes import infer_shapes


def grad(fn, wrt=0, *, backend="numpy"):
    """The gradient of scalar function `fn` with respect to argument(s) `wrt`.

    `wrt` is an argument index, an argument name, or a tuple of them; the gradients come
    back in the structure of the chosen argument(s). Called on arrays and numbers, it returns
    NumPy arrays (a 0-d array for a scalar argument, as JAX does), never NumPy or Python
    scalars; called on tracers, tracers. `backend` compiles the array form.
    """
    return GradientFunction(fn, wrt, with_value=False, backend=backend)


def value_and_grad(fn, wrt=0, *, backend="numpy"):
    """Like `grad`, but the transformed function returns `(fn(...), gradients)`."""
    return GradientFunction(fn, wrt, with_value=True, backend=backend)


class GradientFunction:
    """`fn` transformed to return its gradient (and value); see the module docstring."""

    def __init__(self, fn, wrt, with_value, backend):
        functools.update_wrapper(self, fn, updated=())     # name, docstring and signature of fn
        self.fn, self.wrt, self.with_value, self.backend = fn, wrt, with_value, backend
        self.compiled = {}      # (argument structure, specs) -> Compiled
        kind = "value_and_grad" if with_value else "grad"
        self.name = f"{kind}({getattr(fn, '__name__', 'fn')})"

    def __call__(self, *args, **kwargs):
        outer = tracing.current_trace()
        if outer is not None:
            return self._add_to_trace(outer, args, kwargs)
        leaves, tree = pytree.flatten((args, kwargs))
        key = (tree, tuple(tracing.example_spec(v) for v in leaves))
        if key not in self.compiled:
            traced = trace(self.fn, *args, **kwargs)
            traced = traced.value_and_grad(self.wrt) if self.with_value else traced.grad(self.wrt)
            self.compiled[key] = traced.compile(self.backend)
        return self.compiled[key](*args, **kwargs)

    def _add_to_trace(self, outer, args, kwargs):
        """Differentiate `fn` in a nested trace and copy the gradient graph into `outer`."""
        inner, in_tree, out_tree, names = tracing.trace_function(self.fn, args, kwargs)
        graph, out_tree = differentiate_function(infer_shapes(inner.graph), in_tree, out_tree, names, self.wrt,
                                                 self.with_value, getattr(self.fn, "__name__", "fn"))
        leaves = [leaf if isinstance(leaf, Tracer) else np.asarray(leaf) for leaf in pytree.flatten((args, kwargs))[0]]
        values = dict(zip(graph.inputs, leaves))
        values.update({inner_node: outer_tracer for outer_tracer, inner_node in inner.captures.values()})
        return pytree.unflatten(out_tree, copy_into_trace(outer, graph, values))

    def __repr__(self):
        return f"<irtoy.{self.name}: {len(self.compiled)} compiled>"


def copy_into_trace(outer, graph, values):
    """Record `graph`'s nodes into trace `outer`; `values` gives what each input stands for.

    Each node keeps its role and source line, so backward nodes stay backward nodes in the
    outer graph. Returns a tracer of `outer` for each of `graph`'s outputs.
    """
    values = dict(values)
    for n in graph.order():
        node = graph[n]
        if n in values:
            continue
        if node["op"] == "const":
            values[n] = outer.tracer(outer.constant(node["value"]))
            continue
        result = outer.record(node["op"], [values[a] for a in graph.args(n)], node["attrs"])
        copied = outer.graph[result.node]
        copied["role"] = node["role"]
        if node.get("src"):
            copied["src"] = node["src"]
        if node.get("scope"):
            copied["scope"] = "/".join(s for s in (outer.scope_name(), node["scope"]) if s)
        values[n] = result
    return [_as_tracer(outer, values[o]) for o in graph.outputs]


def _as_tracer(trace_, value):
    return value if isinstance(value, Tracer) else trace_.tracer(trace_.node_of(value))
