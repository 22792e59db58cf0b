"""Tracing: run the user's NumPy code on Tracer objects that record every op into a Graph.

A Tracer stands in for an array. It has a shape and a dtype (so `x.shape[0]` works while
tracing) but no values; every operator, ufunc and NumPy function applied to it adds a node to
the graph of its Trace, stamped with the user's source line. Arrays and Python numbers that
meet a Tracer become constants.

Traces nest: `irtoy.grad(f)` called on tracers traces `f` in an inner trace. When inner code
uses a tracer of an outer trace (a closure), the inner trace records it as an extra input and
remembers the capture, so the caller can wire the outer value in.
"""
import contextlib
import inspect
import linecache
import os
import sys

import numpy as np

import irtoy
from irtoy import ops, pytree
from irtoy.errors import TraceError, located
from irtoy.ir import Graph, Spec

_ACTIVE = []      # the traces being recorded, innermost last


class Trace:
    """The recording context: one graph, its constants, captures and name scopes."""

    def __init__(self, parent=None):
        self.graph = Graph()
        self.parent = parent
        self.level = 0 if parent is None else parent.level + 1
        self.scopes = []
        self.roles = ["forward"]    # the role of recorded nodes; optimizers record "update"
        self.captures = {}      # id(outer tracer) -> (outer tracer, inner input node)
        self._consts = {}       # id(array) or (value, dtype) -> (node, the array kept alive)

    # -- nodes from values -----------------------------------------------------------------
    def input(self, spec, name):
        n = self.graph.add_node("input", role="input", spec=spec, name=name)
        self.graph.inputs.append(n)
        return Tracer(self, n, spec)

    def const(self, value, dtype=None):
        """A constant node for an array or Python scalar, created once per distinct value."""
        if isinstance(value, np.ndarray):
            key = ("array", id(value))
        else:
            dtype = np.dtype(dtype or np.asarray(value).dtype)
            key = ("scalar", repr(value), dtype.name)
        if key not in self._consts:
            array = np.array(value, dtype=dtype)     # a private copy the user cannot mutate
            n = self.graph.add_node("const", role="const", spec=Spec.of(array), value=array,
                                    src=user_src(), scope=self.scope_name())
            self._consts[key] = (n, value)
        return self._consts[key][0]

    def node_of(self, value, weak_dtype=None):
        """The node standing for `value` in this trace: its own tracer, a capture or a constant."""
        if isinstance(value, Tracer):
            if value._trace is self:
                return value.node
            if value._trace.level < self.level:
                return self._capture(value)
            raise TraceError("a traced value escaped from the trace that made it "
                             f"({value}); return it from the traced function instead{located(user_src())}")
        if isinstance(value, (bool, int, float)) and weak_dtype is not None:
            return self.const(value, weak_dtype)
        if isinstance(value, (np.ndarray, np.generic, bool, int, float)):
            return self.const(value)
        raise TraceError(f"cannot use a {type(value).__name__} as an array in a traced function"
                         f"{located(user_src())}")

    def _capture(self, outer):
        if id(outer) not in self.captures:
            inner = self.input(outer.spec, f"captured %{outer.node}")
            self.captures[id(outer)] = (outer, inner.node)
        return self.captures[id(outer)][1]

    # -- recording ops ---------------------------------------------------------------------
    def record(self, op, args, attrs):
        """Add `op(*args)` to the graph and return the Tracer of its result."""
        src = user_src()
        dtypes = [np.asarray(a).dtype if not isinstance(a, Tracer) else a.dtype
                  for a in args if not isinstance(a, (bool, int, float))]
        weak = np.result_type(*dtypes, *[a for a in args if isinstance(a, (bool, int, float))]) if dtypes else None
        nodes = [self.node_of(a, weak) for a in args]
        spec = ops.infer_spec(op, [self.graph.spec(n) for n in nodes], attrs, src)
        n = self.graph.add_node(op, nodes, attrs, role=self.roles[-1], spec=spec, src=src, scope=self.scope_name())
        return Tracer(self, n, spec)

    def scope_name(self):
        return "/".join(self.scopes)


def current_trace():
    """The innermost trace being recorded, or None outside any trace."""
    return _ACTIVE[-1] if _ACTIVE else None


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


# -- where in the user's code are we? ---------------------------------------------------------

_IRTOY_DIR = os.path.dirname(os.path.abspath(irtoy.__file__))
_INTERNAL_DIRS = tuple(os.path.join(d, "") for d in (
    _IRTOY_DIR,
    os.path.join(os.path.dirname(_IRTOY_DIR), "passes"),
    os.path.join(os.path.dirname(_IRTOY_DIR), "backends"),
    os.path.dirname(os.path.abspath(np.__file__)),
    os.path.dirname(os.path.abspath(contextlib.__file__)),
))
_USER_DIRS = (os.path.join(_IRTOY_DIR, "nn", ""),)   # the nn library is written like user code


def _is_internal(filename):
    return filename.startswith(_INTERNAL_DIRS) and not filename.startswith(_USER_DIRS)


def user_src(library_too=False):
    """'file:line' of the innermost frame outside irtoy's core (and NumPy); with
    library_too, outside irtoy's nn library as well (where the user made a layer)."""
    internal = (lambda f: f.startswith(_INTERNAL_DIRS)) if library_too else _is_internal
    frame = sys._getframe(1)
    while frame is not None and internal(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:
        return None
    filename = frame.f_code.co_filename
    try:
        rel = os.path.relpath(filename)
        filename = rel if not rel.startswith("..") else os.path.basename(filename)
    except ValueError:
        filename = os.path.basename(filename)
    return f"{filename}:{frame.f_lineno}"


def source_line(src):
    """The text of the user's line for a 'file:line', for error messages."""
    if not src:
        return ""
    filename, _, line = src.rpartition(":")
    return linecache.getline(filename, int(line)).strip() if line.isdigit() else ""


# -- the Tracer ------------------------------------------------------------------------------

class Tracer(ops.ArrayOperators):
    """A placeholder for an array while a function is traced: shape and dtype, no values."""
    __slots__ = ("_trace", "node", "spec")
    __array_priority__ = 1000

    def __init__(self, trace, node, spec):
        self._trace, self.node, self.spec = trace, node, spec

    shape = property(lambda self: self.spec.shape)
    dtype = property(lambda self: self.spec.dtype)
    ndim = property(lambda self: len(self.spec.shape))
    size = property(lambda self: int(np.prod(self.spec.shape)))
    T = property(lambda self: ops.transpose(self))

    def __repr__(self):
        return f"Tracer({self.spec}, %{self.node})"

    # array methods
    def sum(self, axis=None, keepdims=False):
        return ops.sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return ops.mean(self, axis, keepdims)

    def max(self, axis=None, keepdims=False):
        return ops.max(self, axis, keepdims)

    def min(self, axis=None, keepdims=False):
        return ops.min(self, axis, keepdims)

    def argmax(self, axis=None, keepdims=False):
        return ops.argmax(self, axis, keepdims)

    def reshape(self, *shape):
        return ops.reshape(self, shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape)

    def transpose(self, *axes):
        return ops.transpose(self, (axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else axes) or None)

    def astype(self, dtype):
        return ops.cast(self, dtype)

    def squeeze(self, axis=None):
        return ops.squeeze(self, axis)

    def flatten(self):
        return ops.reshape(self, (-1,))

    ravel = flatten

    def dot(self, other):
        return ops.matmul(self, other)

    def __len__(self):
        if not self.shape:
            raise TraceError(f"len() of a 0-d traced value{located(user_src())}")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    # what cannot be traced
    def _concrete(self, what):
        src = user_src()
        line = source_line(src)
        raise TraceError(
            f"{what} needs a concrete value, but {self} is traced: its value is only known when the "
            f"compiled function runs. Python `if`/`while`/`and`/`or` cannot branch on it; use "
            f"np.where(cond, a, b) to choose between values, or pass the value as a Python constant."
            f"{located(src)}" + (f"\n    {line}" if line else ""))

    __bool__ = lambda self: self._concrete("bool() (a Python branch)")
    __int__ = lambda self: self._concrete("int()")
    __float__ = lambda self: self._concrete("float()")
    __index__ = lambda self: self._concrete("use as an index")
    __array__ = lambda self, *a, **k: self._concrete("conversion to a NumPy array")
    item = lambda self: self._concrete(".item()")
    tolist = lambda self: self._concrete(".tolist()")

    # NumPy's protocols: np.exp(x), np.sum(x, axis=1), ...
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from irtoy.numpy_api import apply_ufunc
        return apply_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from irtoy.numpy_api import apply_function
        return apply_function(func, args, kwargs)


# -- tracing a function ------------------------------------------------------------------------

def example_spec(value):
    """The Spec an example argument stands for: arrays, scalars, Specs and tracers."""
    if isinstance(value, Spec):
        return value
    if isinstance(value, Tracer):
        return value.spec
    if isinstance(value, (np.ndarray, np.generic, bool, int, float)):
        return Spec.of(value)
    raise TraceError(f"cannot trace with an example argument of type {type(value).__name__}: "
                     "pass NumPy arrays, Python numbers, irtoy.Spec(shape, dtype), or dicts/lists/tuples of them")


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
        leaves, tree = pytree.flatten(arg)
        paths = pytree.leaf_paths(arg, name)
        tracers.append(pytree.unflatten(tree, [trace.input(example_spec(v), p) for v, p in zip(leaves, paths)]))
    _, in_tree = pytree.flatten((tuple(args), dict(kwargs)))
    targs, tkwargs = tracers[:len(args)], dict(zip(sorted(kwargs), tracers[len(args):]))
    _ACTIVE.append(trace)
    try:
        result = fn(*targs, **tkwargs)
    finally:
        _ACTIVE.pop()
    leaves, out_tree = pytree.flatten(result)
    trace.graph.outputs = [trace.node_of(v) for v in leaves]
    return trace, in_tree, out_tree, names
