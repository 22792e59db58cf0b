"""Building graphs: the one place nodes are added, and the Tracer that stands for a node.

Everything that writes a graph goes through a GraphBuilder: tracing the user's code
(irtoy/tracing.py, whose Trace is a builder that also knows the user's line and scopes), the
gradient rules of the autodiff pass, and the rewrites of the simplify pass. So every node
gets its spec from its op's shape rule, and its role, source line and scope, in one way, and
a constant is made once per distinct value.

A Tracer stands for one node while code runs on it: it has the node's shape and dtype but
no values, and every operator, ufunc, NumPy function or array method applied to it binds an
op (irtoy/ops/registry.py), which records a new node through the Tracer's builder. Arrays and
Python numbers that meet a Tracer become constants.

Python numbers are weakly typed, as in NumPy 2 (NEP 50) and JAX: a Python number takes the
dtype of the arrays it meets (`x32 * 2.5` is float32, `x8 + 1` int8). The same holds for a
Python number given as an argument: its input node is marked `weak` (it has the default dtype
of its kind, int64 or float64, until it meets an array), and where it meets arrays of another
dtype the builder converts it with a `cast` node, so every backend runs an ordinary, fully
typed graph. A result computed from weak values alone is weak too (`lr * 0.5`), unless the
op was asked for a dtype (`astype`).

A Tracer is immutable, as the node it stands for: item assignment and setting attributes
are refused, saying what to write instead: never Python's own TypeError, which names neither
the line nor why.
"""
import math

import numpy as np

from irtoy import numpy_dispatch, ops
from irtoy.errors import ShapeError, TraceError, located
from irtoy.ir import Spec
from irtoy.ops.spec import new_array
from irtoy.source import source_line, user_src

PYTHON_NUMBERS = (bool, int, float)
CONSTANTS_BY_VALUE = 4096   # elements: larger constant arrays are told apart by identity, not content


class GraphBuilder:
    """Adds nodes to `graph`, each with `role`, `src` and `scope` (see `stamp`)."""
    level = 0                   # nesting depth: `bind` records into the innermost builder

    def __init__(self, graph, role="forward", src=None, scope=""):
        self.graph = graph
        self.role, self.src, self.scope = role, src, scope
        self._consts = {}       # key -> (node, the value, kept alive so its id stays unique)

    def stamp(self, role=None, src=None, scope=""):
        """Stamp the nodes added from now on with this role, source line and scope."""
        self.role = role or self.role
        self.src, self.scope = src, scope
        return self

    def provenance(self):
        """(role, src, scope) for the next node."""
        return self.role, self.src, self.scope

    # -- nodes from node ids -----------------------------------------------------------------------
    def add(self, op, args, attrs=None):
        """A new node `op(*args)` for argument node ids `args`; its id."""
        attrs = dict(attrs or {})
        role, src, scope = self.provenance()
        spec = ops.infer_spec(op, [self.graph.spec(a) for a in args], attrs, src)
        return self.graph.add_node(op, args, attrs, role=role, spec=spec, src=src, scope=scope)

    def constant(self, value, dtype=None):
        """The node of a constant array or number (a private copy, in native byte order), made
        once per distinct value."""
        if isinstance(value, np.ndarray) and value.size > CONSTANTS_BY_VALUE:
            key, array = ("array", id(value), np.dtype(dtype or value.dtype).str), None    # copied once, below
        else:
            array = _private_copy(value, dtype)
            key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self._consts:
            array = _private_copy(value, dtype) if array is None else array
            _, src, scope = self.provenance()
            n = self.graph.add_node("const", role="const", spec=Spec.of(array), value=array, src=src, scope=scope)
            self._consts[key] = (n, value)
        return self._consts[key][0]

    # -- nodes from values -------------------------------------------------------------------------
    def record(self, op, args, attrs):
        """Add `op(*args)`, the arguments being Tracers, arrays or numbers; the result's Tracer.

        Weak arguments (Python numbers, weak tracers) take the dtype NumPy 2 gives them next to
        the others; a result of weak arguments alone is weak (see the module docstring)."""
        role, src, scope = self.provenance()
        strong = [a.dtype if isinstance(a, Tracer) else np.asarray(a).dtype for a in args if not is_weak(a)]
        weak = [a if isinstance(a, PYTHON_NUMBERS) else _WEAK_EXAMPLE[a.dtype.kind] for a in args if is_weak(a)]
        weak_dtype = np.result_type(*strong, *weak) if strong else None
        nodes = [self.node_of(a, weak_dtype) for a in args]
        spec = ops.infer_spec(op, [self.graph.spec(n) for n in nodes], attrs, src)
        facts = {"weak": True} if not strong and "dtype" not in attrs else {}
        n = self.graph.add_node(op, nodes, attrs, role=role, spec=spec, src=src, scope=scope, **facts)
        return Tracer(self, n, spec)

    def node_of(self, value, weak_dtype=None):
        """The node standing for `value`: its own Tracer's, or a constant. A Python number or
        weak tracer becomes `weak_dtype`, when given. Its errors name no line: the op that was
        given `value` adds the op and the user's line, as tracing does for the results."""
        if isinstance(value, Tracer):
            node = value.node if value._builder is self else self.foreign(value)
            if weak_dtype is not None and self.graph[node].get("weak") and self.graph[node]["dtype"] != weak_dtype:
                return self.weak_cast(node, np.dtype(weak_dtype))
            return node
        if is_weak(value) and weak_dtype is not None:
            return self.constant(value, weak_dtype)
        if isinstance(value, (np.ndarray, np.generic) + PYTHON_NUMBERS):
            return self.constant(value)
        raise TraceError(f"cannot use a {type(value).__name__} as an array in a traced function")

    def weak_cast(self, node, dtype):
        """Weak `node` converted to `dtype`, the dtype of the arrays it meets. An input (a Python
        number argument) remembers the integer dtypes it is converted to and where, so a call
        can refuse an int out of their range, as NumPy 2 refuses `np.int8(1) + 300`. (An int
        computed from such arguments inside the function, `s * 1000`, is computed in int64 and
        converted without that check, where NumPy, computing in Python ints, would refuse it.)"""
        if self.graph[node]["op"] == "input" and dtype.kind in "iu":
            self.graph[node]["weak_casts"] = self.graph[node].get("weak_casts", ()) + ((dtype.name, self.provenance()[1]),)
        return self.add("cast", [node], {"dtype": dtype.name})

    def foreign(self, tracer):
        """The node for a Tracer of another graph (a Trace captures outer ones; here: an error)."""
        raise TraceError(f"a traced value of another graph ({tracer}) was used here")

    def tracer(self, node):
        return Tracer(self, node, self.graph.spec(node))


_WEAK_EXAMPLE = {"b": False, "i": 0, "u": 0, "f": 0.0, "c": 0j}   # a Python number of each dtype kind


def is_weak(value):
    """Whether `value` is weakly typed: a Python number (not a NumPy scalar, although
    np.float64 is a float) or a weak tracer, as in NumPy 2 and JAX."""
    if isinstance(value, Tracer):
        return value.weak_type
    return isinstance(value, PYTHON_NUMBERS) and not isinstance(value, np.generic)


def _private_copy(value, dtype):
    """`value` as a new array irtoy owns, or a TraceError saying why it cannot be a constant."""
    try:
        return new_array(value, dtype)
    except ShapeError as e:     # an object array, a Python int too large
        raise TraceError(f"cannot use {type(value).__name__} {_brief(value)} as a constant in a traced "
                         f"function: {e}") from None


# What a TraceError for a value needed too early advises
BRANCH_ADVICE = ("Python `if`/`while`/`and`/`or` cannot branch on it; use np.where(cond, a, b) to choose "
                 "between values, or pass the value as a Python constant.")
LIST_ADVICE = ("A NumPy function given a list or tuple holding traced values converts it to an array, which "
               "needs their values: np.stack them into one traced array first (np.mean(np.stack([a, b]))).")


class Tracer:
    """A placeholder for an array while code runs on it: shape and dtype, no values."""
    __slots__ = ("_builder", "node", "spec")
    __array_priority__ = 1000
    __hash__ = object.__hash__          # usable as dict keys although == builds a node

    def __init__(self, builder, node, spec):
        object.__setattr__(self, "_builder", builder)      # the one place a Tracer is written
        object.__setattr__(self, "node", node)
        object.__setattr__(self, "spec", spec)

    shape = property(lambda self: self.spec.shape)
    dtype = property(lambda self: self.spec.dtype)
    ndim = property(lambda self: len(self.spec.shape))
    size = property(lambda self: math.prod(self.spec.shape))
    T = property(lambda self: ops.transpose(self))
    # Weakly typed, as a Python number is (see the module docstring; JAX's `weak_type`).
    weak_type = property(lambda self: bool(self._builder.graph[self.node].get("weak")))

    def __repr__(self):
        return f"Tracer({self.spec}, %{self.node})"

    # Python's operators
    __add__ = lambda self, o: ops.add(self, o)
    __radd__ = lambda self, o: ops.add(o, self)
    __sub__ = lambda self, o: ops.subtract(self, o)
    __rsub__ = lambda self, o: ops.subtract(o, self)
    __mul__ = lambda self, o: ops.multiply(self, o)
    __rmul__ = lambda self, o: ops.multiply(o, self)
    __truediv__ = lambda self, o: ops.divide(self, o)
    __rtruediv__ = lambda self, o: ops.divide(o, self)
    __pow__ = lambda self, o: ops.power(self, o)
    __rpow__ = lambda self, o: ops.power(o, self)
    __matmul__ = lambda self, o: ops.matmul(self, o)
    __rmatmul__ = lambda self, o: ops.matmul(o, self)
    __neg__ = lambda self: ops.negative(self)
    __pos__ = lambda self: self
    __abs__ = lambda self: ops.abs(self)
    __gt__ = lambda self, o: ops.greater(self, o)
    __ge__ = lambda self, o: ops.greater_equal(self, o)
    __lt__ = lambda self, o: ops.less(self, o)
    __le__ = lambda self, o: ops.less_equal(self, o)
    __eq__ = lambda self, o: ops.equal(self, o)
    __ne__ = lambda self, o: ops.not_equal(self, o)
    __getitem__ = lambda self, index: ops.getitem(self, index)

    __floordiv__ = lambda self, o: ops.floor_divide(self, o)
    __rfloordiv__ = lambda self, o: ops.floor_divide(o, self)
    __mod__ = lambda self, o: ops.remainder(self, o)
    __rmod__ = lambda self, o: ops.remainder(o, self)
    __divmod__ = lambda self, o: ops.divmod(self, o)
    __rdivmod__ = lambda self, o: ops.divmod(o, self)
    # bitwise on integers and booleans (on booleans: logical and, or, xor, not)
    __and__ = lambda self, o: ops.bitwise_and(self, o)
    __rand__ = lambda self, o: ops.bitwise_and(o, self)
    __or__ = lambda self, o: ops.bitwise_or(self, o)
    __ror__ = lambda self, o: ops.bitwise_or(o, self)
    __xor__ = lambda self, o: ops.bitwise_xor(self, o)
    __rxor__ = lambda self, o: ops.bitwise_xor(o, self)
    __invert__ = lambda self: ops.invert(self)
    __lshift__ = lambda self, o: ops.left_shift(self, o)
    __rlshift__ = lambda self, o: ops.left_shift(o, self)
    __rshift__ = lambda self, o: ops.right_shift(self, o)
    __rrshift__ = lambda self, o: ops.right_shift(o, self)

    # Traced values are immutable: a node's value is fixed once recorded.
    def __setitem__(self, index, value):
        _refuse("item assignment (x[...] = value) on a traced value: traced arrays are immutable; write the "
                "new array as a function of the old one: y = x.at[index].set(value) or "
                "y = x.at[index].add(value) (irtoy.ops.scatter_add(x, index, value)), np.where(mask, new, x) to "
                "replace elements, or np.concatenate of slices and the new part to replace a block")

    # NumPy's methods that change the array in place
    def sort(self, *args, **kwargs):
        _refuse("x.sort() sorts x in place, but traced values are immutable; write x = np.sort(x) instead")

    def fill(self, value):
        _refuse("x.fill(value) writes into x, but traced values are immutable; write y = np.full_like(x, value) "
                "instead")

    # Functional updates: x.at[index].add(v), x.at[index].set(v) (irtoy/ops/indexing.py)
    at = property(lambda self: ops.indexing.IndexUpdates(self))

    def __setattr__(self, name, value):
        _refuse(f"setting .{name} of a traced value: traced values are immutable; {_NEW_VALUE_INSTEAD}")

    def __delattr__(self, name):
        _refuse(f"deleting .{name} of a traced value: traced values are immutable; {_NEW_VALUE_INSTEAD}")

    def __len__(self):
        if not self.shape:
            raise TraceError(f"len() of a 0-d traced value{located(user_src())}")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    # what needs values, which a Tracer does not have
    def _concrete(self, what, advice=BRANCH_ADVICE):
        src = user_src()
        raise TraceError(f"{what} needs a concrete value, but {self} is traced: its value is only known when the "
                         f"compiled function runs. {advice}{located(src)}" + _quoted(src))

    __bool__ = lambda self: self._concrete("bool() (a Python branch)")
    __int__ = lambda self: self._concrete("int()")
    __float__ = lambda self: self._concrete("float()")
    __index__ = lambda self: self._concrete("use as an index")
    __array__ = lambda self, *a, **k: self._concrete("conversion to a NumPy array", LIST_ADVICE)
    item = lambda self: self._concrete(".item()")
    tolist = lambda self: self._concrete(".tolist()")

    # NumPy's protocols: np.exp(x), np.sum(x, axis=1), ...
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return numpy_dispatch.apply_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return numpy_dispatch.apply_function(func, args, kwargs)


_NEW_VALUE_INSTEAD = "compute a new value instead: y = x.reshape(...), y = x.astype(...), y = x * 2"


def _brief(value):
    """A value as a short text for errors: numbers whole, arrays by shape and dtype."""
    return f"of shape {np.shape(value)} and dtype {value.dtype}" if isinstance(value, np.ndarray) else repr(value)


def _refuse(message):
    """A TraceError: `message`, then the user's line."""
    src = user_src()
    raise TraceError(f"{message}{located(src)}" + _quoted(src))


def _quoted(src):
    """The user's line, indented under the `at file:line` of an error, when it can be read."""
    line = source_line(src)
    return f"\n    {line}" if line else ""


# Array methods (x.sum(axis=1), x.reshape(2, 3), x.astype(...)): those the op records name, and
# the compositions numpy_dispatch adds.
for _name, _function in numpy_dispatch.array_methods().items():
    setattr(Tracer, _name, _function)
