"""Function transforms: `irtoy.grad(fn)` and `irtoy.value_and_grad(fn)`.

    dloss = irtoy.grad(loss, wrt=0)
    dloss(params, x, y)             # arrays: traced and compiled once per input specs, then reused

    def train_step(params, x, y):   # tracers: the gradient nodes join the caller's graph
        value, grads = irtoy.value_and_grad(loss)(params, x, y)
        return {k: params[k] - 0.1 * grads[k] for k in params}

Called on arrays outside any trace, the transformed function traces `fn`, differentiates it,
compiles the result and keeps it in a cache shared by every transformed function, so that
`irtoy.grad(loss)(w, x)` written inside a loop traces once, as a gradient function made once
does. The cache key is what decides the result:

- the function: its code, and what it reads from its closure and its module's globals;
- the structure, shapes and dtypes of the arguments (and which are Python numbers, which
  are weakly typed), `wrt`, value or not, and the backend.

Arrays the function reads from its closure or its module's globals are not baked into the
graph as constants (as JAX does): they enter the compiled function as extra inputs, named
`captured['name']`, read afresh on every call, so a captured array changed in place or
rebound is always seen; only their shapes and dtypes are in the key. Other captured values
are in the key by value (numbers, strings, NumPy scalars) or by identity (functions,
modules, other objects). Arrays reached only through such an object (a layer's attribute) or
through another function's globals are constants of the graph: pass them as arguments when
they change.

Called while another function is being traced, it traces `fn` in a nested trace,
differentiates that graph and copies the result into the outer trace node by node, so
the caller gets ordinary tracers and can differentiate again: `irtoy.grad(lambda x, v:
np.sum(irtoy.grad(f)(x) * v))` is a Hessian-vector product. Values `fn` closes over from
the outer trace enter the nested graph as extra inputs (the trace's `captures`) and are
wired back to the outer tracers when the result is copied out.
"""
import collections
import functools
import inspect
import types

import numpy as np

from irtoy import pytree, tracing
from irtoy.api import differentiate_function, trace
from irtoy.builder import Tracer, is_weak
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
        kind = "value_and_grad" if with_value else "grad"
        self.name = f"{kind}({getattr(fn, '__name__', 'fn')})"

    def __call__(self, *args, **kwargs):
        outer = tracing.current_trace()
        if outer is not None:
            return self._add_to_trace(outer, args, kwargs)
        fn_key, captured = captures(self.fn)
        if captured:
            kwargs = {**kwargs, CAPTURED: captured}
        leaves, tree = pytree.flatten((args, kwargs))
        key = (fn_key, self.wrt, self.with_value, self.backend, tree,
               tuple((tracing.example_spec(v), is_weak(v)) for v in leaves))
        compiled = COMPILED.get(key)
        if compiled is None:
            traced = trace(with_captured_inputs(self.fn, captured) if captured else self.fn, *args, **kwargs)
            traced = traced.value_and_grad(self.wrt) if self.with_value else traced.grad(self.wrt)
            compiled = COMPILED[key] = traced.compile(self.backend)
            if len(COMPILED) > CACHE_SIZE:
                COMPILED.popitem(last=False)
        COMPILED.move_to_end(key)
        return compiled(*args, **kwargs)

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
        return f"<irtoy.{self.name}>"


COMPILED = collections.OrderedDict()    # cache key -> Compiled, the most recently used last
CACHE_SIZE = 256
CAPTURED = "captured"                   # the keyword that passes captured arrays in


class Identity:
    """A cache-key part equal only to the very same object (and keeping it alive, so its id
    is never reused while the key exists)."""
    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return isinstance(other, Identity) and other.obj is self.obj

    def __hash__(self):
        return id(self.obj)


def captures(fn):
    """(key, arrays) for function `fn`: a hashable key for its code and the non-array values it
    reads from its closure and globals, and {name: array} for the arrays it reads there.
    A bound method is its function and its object (by identity); another callable that is no
    plain Python function is keyed by identity."""
    if isinstance(fn, types.MethodType):
        key, arrays = captures(fn.__func__)
        return (key, Identity(fn.__self__)), arrays
    if not isinstance(fn, types.FunctionType):
        return Identity(fn), {}
    key, arrays = [Identity(fn.__code__), _value_key(fn.__defaults__), _value_key(fn.__kwdefaults__)], {}
    cells = zip(fn.__code__.co_freevars, fn.__closure__ or ())
    read = [(name, cell.cell_contents) for name, cell in cells if _filled(cell)]
    read += [(name, fn.__globals__[name]) for name in _global_names(fn.__code__) if name in fn.__globals__]
    for name, value in read:
        if isinstance(value, np.ndarray):
            arrays[name] = value
        else:
            key.append((name, _value_key(value)))
    return tuple(key), arrays


def _filled(cell):
    try:
        cell.cell_contents
        return True
    except ValueError:          # a variable of the enclosing function not assigned yet
        return False


@functools.lru_cache(maxsize=1024)
def _global_names(code):
    """The global names `code` and the functions and lambdas defined in it read."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= set(_global_names(const))
    return tuple(sorted(names))


def _value_key(value):
    """Numbers, strings, NumPy scalars and tuples of them by value; anything else by identity."""
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, np.generic)):
        return (type(value), value)
    if type(value) is tuple:
        return tuple(_value_key(v) for v in value)
    return Identity(value)


def with_captured_inputs(fn, captured):
    """`fn` taking the arrays it reads from its closure and globals as the keyword argument
    `captured` ({name: array}), so they are inputs of its graph rather than constants."""
    code = fn.__code__

    def run(*args, **kwargs):
        arrays = kwargs.pop(CAPTURED)
        closure = tuple(types.CellType(arrays[name]) if name in arrays else cell
                        for name, cell in zip(code.co_freevars, fn.__closure__ or ()))
        names = [name for name in arrays if name not in code.co_freevars]
        namespace = {**fn.__globals__, **{name: arrays[name] for name in names}} if names else fn.__globals__
        rebuilt = types.FunctionType(code, namespace, fn.__name__, fn.__defaults__, closure)
        rebuilt.__kwdefaults__ = fn.__kwdefaults__
        if isinstance(fn, types.MethodType):
            rebuilt = types.MethodType(rebuilt, fn.__self__)
        return rebuilt(*args, **kwargs)

    signature = inspect.signature(fn)
    parameters = list(signature.parameters.values())
    at = len(parameters) - (parameters and parameters[-1].kind is inspect.Parameter.VAR_KEYWORD)
    parameters.insert(at, inspect.Parameter(CAPTURED, inspect.Parameter.KEYWORD_ONLY))
    run.__signature__ = signature.replace(parameters=parameters)
    run.__name__ = fn.__name__
    return run


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
