"""Tracing: run the user's NumPy code on Tracers that record every op into a Graph.

A Trace is the graph builder (irtoy/builder.py) of one traced function: it stamps each node
with the user's source line, the name scopes active (`irtoy.scope`) and the role ("update"
inside an optimizer's scope). Traces are thread-local, so functions traced at once in
several threads never mix their nodes.

Traces nest: `irtoy.grad(f)` called on tracers traces `f` in an inner trace. When inner code
uses a tracer of an outer trace (a closure), the inner trace records it as an extra input and
remembers the capture, so the caller can wire the outer value in.

NumPy hands the traced values in np.array([t, 1.0]), np.asarray(t) and np.full(shape, t) to
no protocol (it dispatches those functions only on `like=`), so while any thread traces,
numpy.array, numpy.asarray, numpy.asanyarray and numpy.full are wrappers (`numpy_routed`):
called in a thread that is tracing with a traced value among the arguments (at any depth of
lists and tuples), they trace to irtoy.ops.array, asarray and full; called otherwise, they
call NumPy's own function with the same arguments. When the last trace ends, NumPy's own
functions are put back, so outside traces numpy is untouched. Code that took the function
itself before tracing (`from numpy import array`) always gets NumPy's.
"""
import contextlib
import functools
import inspect
import threading

import numpy as np

from irtoy import numpy_dispatch, pytree
from irtoy.builder import GraphBuilder, Tracer, is_weak
from irtoy.errors import ShapeError, TraceError, located
from irtoy.ir import Graph, Spec
from irtoy.source import user_src

_local = threading.local()      # .active: the traces this thread is recording, innermost last


def _active():
    if not hasattr(_local, "active"):
        _local.active = []
    return _local.active


class Trace(GraphBuilder):
    """The recording context of one traced function: its graph, captures and name scopes."""

    def __init__(self, parent=None):
        super().__init__(Graph())
        self.parent = parent
        self.level = 0 if parent is None else parent.level + 1
        self.scopes = []
        self.roles = ["forward"]    # the role of recorded nodes; optimizers record "update"
        self.captures = {}          # id(outer tracer) -> (outer tracer, inner input node)

    def provenance(self):
        return self.roles[-1], user_src(), self.scope_name()

    def scope_name(self):
        return "/".join(self.scopes)

    def input(self, spec, name, weak=False):
        """A new input; `weak` for a Python number, which takes the dtype of the arrays it meets."""
        n = self.graph.add_node("input", role="input", spec=spec, name=name, **({"weak": True} if weak else {}))
        self.graph.inputs.append(n)
        return Tracer(self, n, spec)

    def foreign(self, tracer):
        """A tracer of an outer trace (a closure) becomes an input of this one."""
        if tracer._builder.level < self.level:
            if id(tracer) not in self.captures:
                inner = self.input(tracer.spec, f"captured %{tracer.node}", tracer.weak_type)
                self.captures[id(tracer)] = (tracer, inner.node)
            return self.captures[id(tracer)][1]
        raise TraceError("a traced value escaped from the trace that made it "
                         f"({tracer}); return it from the traced function instead")


def current_trace():
    """The innermost trace this thread is recording, or None outside any trace."""
    active = _active()
    return active[-1] if active else None


def current_scope():
    """The name scope being traced ("dense1", "block/conv2"), or "" outside any scope."""
    trace = current_trace()
    return trace.scope_name() if trace is not None else ""


@contextlib.contextmanager
def scope(name, role=None):
    """Group the nodes traced inside the `with` block under `name` (drawn as one box).

    `role="update"` marks them as parameter updates (optimizers do), so drawings colour
    them apart from the forward and backward computation.
    """
    trace = current_trace()
    if trace is not None:
        trace.scopes.append(str(name))
        trace.roles.append(role or trace.roles[-1])
    try:
        yield
    finally:
        if trace is not None:
            trace.scopes.pop()
            trace.roles.pop()


# -- tracing a function ------------------------------------------------------------------------

def example_spec(value, name=None):
    """The Spec an example argument (named `name` in errors) stands for: arrays, scalars, Specs
    and tracers."""
    what = f"example argument {name}" if name else "an example argument"
    if isinstance(value, Spec):
        return value
    if isinstance(value, Tracer):
        return value.spec
    if isinstance(value, (np.ndarray, np.generic, bool, int, float)):
        try:
            return Spec.of(value)
        except ShapeError as e:     # an object array, an int too large for NumPy
            raise TraceError(f"cannot trace with {what}: {e}{located(user_src())}") from None
    raise TraceError(f"cannot trace with {what} of type {type(value).__name__}: "
                     "pass NumPy arrays, Python numbers, irtoy.Spec(shape, dtype), or dicts/lists/tuples of them"
                     f"{located(user_src())}")


def argument_names(fn, args, kwargs):
    """Name each argument as the function's signature does (`params`, `x`), for readable inputs.

    Keyword arguments come last, sorted by name: the order pytrees flatten a dict in.
    """
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
        names = []
        for name, param in inspect.signature(fn).parameters.items():
            if name not in bound.arguments:
                continue
            if param.kind is param.VAR_POSITIONAL:
                names += [f"{name}[{i}]" for i in range(len(bound.arguments[name]))]
            elif param.kind is not param.VAR_KEYWORD:
                names.append(name)
        return names[:len(args)] + sorted(kwargs)
    except (TypeError, ValueError):
        return [f"arg{i}" for i in range(len(args))] + sorted(kwargs)


def trace_function(fn, args, kwargs):
    """Trace `fn(*args, **kwargs)`; return (trace, in_tree, out_tree, arg_names)."""
    trace = Trace(current_trace())
    names = argument_names(fn, args, kwargs)
    tracers = []
    for name, arg in zip(names, list(args) + [kwargs[k] for k in sorted(kwargs)]):   # pytree order
        leaves, tree = pytree.flatten(arg, name)
        paths = pytree.leaf_paths(arg, name)
        tracers.append(pytree.unflatten(tree, [trace.input(example_spec(v, p), p, is_weak(v))
                                               for v, p in zip(leaves, paths)]))
    _, in_tree = pytree.flatten((tuple(args), dict(kwargs)))
    targs, tkwargs = tracers[:len(args)], dict(zip(sorted(kwargs), tracers[len(args):]))
    _active().append(trace)
    try:
        with numpy_routed():
            result = fn(*targs, **tkwargs)
    finally:
        _active().pop()
    leaves, out_tree = pytree.flatten(result, "the result")
    trace.graph.outputs = [result_node(trace, v, p, fn) for v, p in zip(leaves, pytree.leaf_paths(result, "result"))]
    return trace, in_tree, out_tree, names


def result_node(trace, value, path, fn):
    """The node of one result of traced function `fn`; an error names the result, by `path`."""
    try:
        return trace.node_of(value)
    except TraceError as e:
        raise TraceError(f"{getattr(fn, '__name__', 'fn')} returns {path}: {e}{located(user_src())}") from None


# -- NumPy functions that hand traced values to no protocol ----------------------------------

UNDISPATCHED = ("array", "asarray", "asanyarray", "full")
_numpy_own = {name: getattr(np, name) for name in UNDISPATCHED}
_routing = {"traces": 0}        # traces running in any thread; the wrappers are in place while > 0
_routing_lock = threading.Lock()


def _holds_tracer(values):
    return any(isinstance(v, Tracer) or (isinstance(v, (list, tuple)) and _holds_tracer(v)) for v in values)


def _routed(original):
    """numpy's `original`, tracing to its irtoy function when this thread traces and a traced
    value is among the arguments."""
    @functools.wraps(original)
    def call(*args, **kwargs):
        if _active() and _holds_tracer(args + tuple(kwargs.values())):
            return numpy_dispatch.FUNCTIONS[original](*args, **kwargs)
        return original(*args, **kwargs)
    return call


_wrappers = {name: _routed(original) for name, original in _numpy_own.items()}


@contextlib.contextmanager
def numpy_routed():
    """While the block runs (a trace), the UNDISPATCHED NumPy functions are the wrappers."""
    with _routing_lock:
        _routing["traces"] += 1
        if _routing["traces"] == 1:
            for name, wrapper in _wrappers.items():
                setattr(np, name, wrapper)
    try:
        yield
    finally:
        with _routing_lock:
            _routing["traces"] -= 1
            if _routing["traces"] == 0:
                for name, original in _numpy_own.items():
                    setattr(np, name, original)
