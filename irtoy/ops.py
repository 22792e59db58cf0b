"""The op registry: every primitive irtoy knows, declared once.

An op is a record: its name, its kind (elementwise, reduction, contraction, movement, ...),
a shape/dtype rule and a reference NumPy implementation. Everything else about an op lives
with the part that uses it: the gradient rules in passes/autodiff.py, the Numba lowerings in
backends/numba_lowering.py, each a table keyed by op name (as JAX keeps its primitive tables).

Below the registry are the user-facing functions (`irtoy.ops.exp(x)`, `irtoy.ops.sum(x,
axis=1)`). They accept NumPy's arguments, normalise them into plain hashable attributes
(axes as tuples of non-negative ints, slices as (start, stop, step)) and `bind` the op: on
traced values that records a node; on ordinary arrays it just runs the reference code.
"""
import builtins
import functools
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from irtoy.errors import ShapeError, TraceError, located
from irtoy.ir import Spec, format_index


KINDS = ("source", "elementwise", "reduction", "contraction", "movement", "scatter", "window", "random")


@dataclass(frozen=True)
class Op:
    """One primitive: how to type it (`infer`) and how to compute it (`impl`)."""
    name: str
    kind: str                   # one of KINDS
    infer: Callable             # (list[Spec], **attrs) -> Spec; raises ShapeError
    impl: Optional[Callable]    # (*np.ndarray, **attrs) -> np.ndarray
    arity: Optional[int]        # number of arguments; None for any number
    differentiable: bool = True
    doc: str = ""
    cost: int = 1               # rough work per element, in units of one add (exp and log: 8)
    view: bool = False          # may only re-index its argument (reshape: when it moves no data)
    commutative: bool = False   # op(x, y) == op(y, x)


REGISTRY: dict = {}


def declare(name, kind, infer, impl, arity, differentiable=True, doc="", cost=1, view=False, commutative=False):
    assert kind in KINDS, kind
    REGISTRY[name] = Op(name, kind, infer, impl, arity, differentiable, doc, cost, view, commutative)


def infer_spec(op, specs, attrs, src=None):
    """Apply `op`'s shape rule; a ShapeError names the op, the argument specs and `src`."""
    try:
        return REGISTRY[op].infer(specs, **attrs)
    except ShapeError as e:
        raise _placed(ShapeError(f"{op}({', '.join(map(str, specs))}): {e}{located(src)}")) from None


def _placed(error):
    error.placed = True         # names its op and where: checked_arguments passes it on as it is
    return error


def checked_arguments(op):
    """For a function that checks its arguments (axes, indices, sizes) before binding `op`:
    an error of those checks names the op, the arguments' specs and the user's line, as a
    shape rule's error does."""
    def decorate(fn):
        @functools.wraps(fn)
        def checked(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except (ShapeError, TraceError) as e:
                if getattr(e, "placed", False):
                    raise
                from irtoy.tracing import user_src      # tracing imports this module
                raise _placed(type(e)(f"{op}({_specs_text(args)}): {e}{located(user_src())}")) from None
        return checked
    return decorate


def _specs_text(args):
    def one(a):
        if isinstance(a, (list, tuple)) and any(hasattr(x, "shape") for x in a):
            return "[" + ", ".join(one(x) for x in a) + "]"
        if hasattr(a, "shape") and hasattr(a, "dtype"):
            return str(Spec(tuple(a.shape), a.dtype))
        return repr(a)
    return ", ".join(one(a) for a in args)


# -- shape rules -------------------------------------------------------------------------

def broadcast_shapes(*shapes):
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ShapeError("shapes " + " and ".join(map(str, shapes)) + " do not broadcast") from None


@functools.lru_cache(maxsize=None)
def _elementwise_dtype(name, dtypes):
    """The dtype NumPy's own function gives for these argument dtypes (exact promotion)."""
    with np.errstate(all="ignore"):
        return REGISTRY[name].impl(*[np.ones((), d) for d in dtypes]).dtype


def elementwise_rule(name):
    def infer(specs):
        shape = broadcast_shapes(*[s.shape for s in specs])
        return Spec(shape, _elementwise_dtype(name, tuple(s.dtype for s in specs)))
    return infer


def reduction_rule(name):
    def infer(specs, axis, keepdims):
        (x,) = specs
        check_axes(axis, len(x.shape))
        shape = tuple(1 if i in axis else d for i, d in enumerate(x.shape) if keepdims or i not in axis)
        if name in ("max", "min") and any(x.shape[i] == 0 for i in axis):
            raise ShapeError(f"cannot take {name} over an empty axis")
        return Spec(shape, _reduction_dtype(name, x.dtype))
    return infer


@functools.lru_cache(maxsize=None)
def _reduction_dtype(name, dtype):
    return REGISTRY[name].impl(np.ones((1,), dtype), axis=(0,), keepdims=False).dtype


def check_axes(axis, ndim):
    if any(not 0 <= a < ndim for a in axis) or len(set(axis)) != len(axis):
        raise ShapeError(f"axis {axis} is not a set of distinct axes of a {ndim}-d array")


def argmax_rule(specs, axis, keepdims):
    (x,) = specs
    if axis is None:
        shape = (1,) * len(x.shape) if keepdims else ()
    else:
        check_axes((axis,), len(x.shape))
        shape = tuple(1 if i == axis else d for i, d in enumerate(x.shape) if keepdims or i != axis)
    if 0 in x.shape:
        raise ShapeError("argmax of an empty array")
    return Spec(shape, np.dtype(np.intp))


def matmul_rule(specs):
    a, b = specs
    if not a.shape or not b.shape:
        raise ShapeError("matmul needs arrays of at least one dimension, not scalars")
    a_shape = (1,) + a.shape if len(a.shape) == 1 else a.shape
    b_shape = b.shape + (1,) if len(b.shape) == 1 else b.shape
    if a_shape[-1] != b_shape[-2]:
        raise ShapeError(f"contracted dimensions differ: {a.shape[-1]} != {b_shape[-2]}")
    batch = broadcast_shapes(a_shape[:-2], b_shape[:-2])
    shape = batch + (a_shape[-2],) * (len(a.shape) > 1) + (b_shape[-1],) * (len(b.shape) > 1)
    return Spec(shape, np.result_type(a.dtype, b.dtype))


def where_rule(specs):
    c, x, y = specs
    shape = broadcast_shapes(c.shape, x.shape, y.shape)
    return Spec(shape, np.result_type(x.dtype, y.dtype))


def cast_rule(specs, dtype):
    return Spec(specs[0].shape, np.dtype(dtype))


def reshape_rule(specs, shape):
    (x,) = specs
    if any(d < 0 for d in shape):
        raise ShapeError(f"cannot reshape {x} into shape {shape}: sizes are never negative (one may be -1)")
    if int(np.prod(shape)) != int(np.prod(x.shape)):
        raise ShapeError(f"cannot reshape {x} into shape {shape}")
    return Spec(shape, x.dtype)


def transpose_rule(specs, axes):
    (x,) = specs
    if sorted(axes) != list(range(len(x.shape))):
        raise ShapeError(f"axes {axes} are not a permutation of the axes of {x}")
    return Spec(tuple(x.shape[a] for a in axes), x.dtype)


def broadcast_to_rule(specs, shape):
    (x,) = specs
    if len(shape) < len(x.shape) or broadcast_shapes(x.shape, shape) != tuple(shape):
        raise ShapeError(f"cannot broadcast {x} to shape {shape}")
    return Spec(shape, x.dtype)


def expand_dims_rule(specs, axis):
    (x,) = specs
    ndim = len(x.shape) + len(axis)
    check_axes(axis, ndim)
    rest = iter(x.shape)
    return Spec(tuple(1 if i in axis else next(rest) for i in range(ndim)), x.dtype)


def squeeze_rule(specs, axis):
    (x,) = specs
    check_axes(axis, len(x.shape))
    if any(x.shape[a] != 1 for a in axis):
        raise ShapeError(f"cannot squeeze axes {axis} of {x}: they are not of length 1")
    return Spec(tuple(d for i, d in enumerate(x.shape) if i not in axis), x.dtype)


def getitem_rule(specs, index):
    (x,) = specs
    return Spec(_view_of(x.shape)[numpy_index(index)].shape, x.dtype)


def scatter_rule(specs, index, shape):
    (x,) = specs
    expected = _view_of(shape)[numpy_index(index)].shape
    if x.shape != expected:
        raise ShapeError(f"writing {x} at {format_index(index)} of shape {shape} needs shape {expected}")
    return Spec(shape, x.dtype)


def concatenate_rule(specs, axis):
    first = specs[0].shape
    if not first:
        raise ShapeError("cannot concatenate 0-d arrays")
    check_axes((axis,), len(first))
    for s in specs[1:]:
        if len(s.shape) != len(first) or any(a != b for i, (a, b) in enumerate(zip(s.shape, first)) if i != axis):
            raise ShapeError(f"all shapes must match except on axis {axis}")
    total = builtins.sum(s.shape[axis] for s in specs)
    return Spec(first[:axis] + (total,) + first[axis + 1:], np.result_type(*[s.dtype for s in specs]))


def _view_of(shape):
    """A zero-byte array of `shape`, to let NumPy work out the shape of an indexing result."""
    return np.broadcast_to(np.zeros((), np.int8), shape)


def source_rule(specs, **attrs):
    raise ShapeError("inputs and constants take their spec from the node itself")


# -- reference implementations that are not a single NumPy call ----------------------------

def _argmax(x, axis, keepdims):
    return np.argmax(x, axis=axis, keepdims=keepdims)


def _getitem(x, index):
    return x[numpy_index(index)]


def _scatter(x, index, shape):
    out = np.zeros(shape, x.dtype)
    out[numpy_index(index)] = x
    return out


def _cast(x, dtype):
    return np.asarray(x).astype(dtype)


def _reduce(fn):
    def impl(x, axis, keepdims):
        return fn(x, axis=axis, keepdims=keepdims)
    return impl


# -- the registry ------------------------------------------------------------------------

declare("input", "source", source_rule, None, 0, doc="an argument of the traced function")
declare("const", "source", source_rule, None, 0, doc="a constant array (node attribute `value`)")

ELEMENTWISE = {
    # name: (numpy function, arity, differentiable, cost, commutative)
    "add": (np.add, 2, True, 1, True), "subtract": (np.subtract, 2, True, 1, False),
    "multiply": (np.multiply, 2, True, 1, True), "divide": (np.divide, 2, True, 5, False),
    "power": (np.power, 2, True, 13, False), "maximum": (np.maximum, 2, True, 1, True),
    "minimum": (np.minimum, 2, True, 1, True),
    "negative": (np.negative, 1, True, 1, False), "exp": (np.exp, 1, True, 9, False),
    "log": (np.log, 1, True, 9, False), "sin": (np.sin, 1, True, 9, False), "cos": (np.cos, 1, True, 9, False),
    "tan": (np.tan, 1, True, 9, False), "tanh": (np.tanh, 1, True, 9, False), "sqrt": (np.sqrt, 1, True, 5, False),
    "abs": (np.abs, 1, True, 1, False), "sign": (np.sign, 1, True, 1, False),
    "greater": (np.greater, 2, False, 1, False), "greater_equal": (np.greater_equal, 2, False, 1, False),
    "less": (np.less, 2, False, 1, False), "less_equal": (np.less_equal, 2, False, 1, False),
    "equal": (np.equal, 2, False, 1, True), "not_equal": (np.not_equal, 2, False, 1, True),
}
for _name, (_fn, _arity, _diff, _cost, _comm) in ELEMENTWISE.items():
    declare(_name, "elementwise", elementwise_rule(_name), _fn, _arity, _diff, doc=f"numpy.{_fn.__name__}",
            cost=_cost, commutative=_comm)

declare("where", "elementwise", where_rule, np.where, 3, doc="numpy.where(cond, x, y)")
declare("cast", "elementwise", cast_rule, _cast, 1, doc="x.astype(dtype)")

declare("sum", "reduction", reduction_rule("sum"), _reduce(np.sum), 1)
declare("mean", "reduction", reduction_rule("mean"), _reduce(np.mean), 1)
declare("max", "reduction", reduction_rule("max"), _reduce(np.max), 1)
declare("min", "reduction", reduction_rule("min"), _reduce(np.min), 1)
declare("argmax", "reduction", argmax_rule, _argmax, 1, differentiable=False)

declare("matmul", "contraction", matmul_rule, np.matmul, 2, doc="numpy.matmul, batched and 1-d cases")

declare("reshape", "movement", reshape_rule, np.reshape, 1, view=True)
declare("transpose", "movement", transpose_rule, np.transpose, 1, view=True)
declare("broadcast_to", "movement", broadcast_to_rule, np.broadcast_to, 1, view=True)
declare("expand_dims", "movement", expand_dims_rule, np.expand_dims, 1, view=True)
declare("squeeze", "movement", squeeze_rule, np.squeeze, 1, view=True)
declare("getitem", "movement", getitem_rule, _getitem, 1, doc="basic indexing: ints, slices, None", view=True)
declare("scatter", "scatter", scatter_rule, _scatter, 1,
        doc="zeros of `shape` with x written at `index`: the transpose of getitem")
declare("concatenate", "movement", concatenate_rule, lambda *xs, axis: np.concatenate(xs, axis=axis), None)


# -- binding: record on tracers, compute on arrays ---------------------------------------

def bind(op, *args, **attrs):
    """Apply `op`: record a node if any argument is being traced, else compute it now."""
    trace = None
    for a in args:
        t = getattr(a, "_trace", None)
        if t is not None and (trace is None or t.level > trace.level):
            trace = t
    if trace is not None:
        return trace.record(op, args, attrs)
    return REGISTRY[op].impl(*args, **attrs)


def _unary(name):
    def fn(x):
        return bind(name, x)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {REGISTRY[name].doc}, traced as the `{name}` op."
    return fn


def _binary(name):
    def fn(x, y):
        return bind(name, x, y)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {REGISTRY[name].doc} with broadcasting, traced as the `{name}` op."
    return fn


add, subtract, multiply, divide, power, maximum, minimum = map(
    _binary, ["add", "subtract", "multiply", "divide", "power", "maximum", "minimum"])
greater, greater_equal, less, less_equal, equal, not_equal = map(
    _binary, ["greater", "greater_equal", "less", "less_equal", "equal", "not_equal"])
negative, exp, log, sin, cos, tan, tanh, sqrt, abs, sign = map(
    _unary, ["negative", "exp", "log", "sin", "cos", "tan", "tanh", "sqrt", "abs", "sign"])


def ndim_of(x):
    return len(np.shape(x)) if not hasattr(x, "ndim") else x.ndim


def shape_of(x):
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def normalize_axes(axis, ndim):
    """None -> all axes; int or tuple -> sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ShapeError(f"axis {a} is out of range for a {ndim}-d array")
        out.append(int(a) % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ShapeError(f"repeated axis in {axis}")
    return tuple(sorted(out))


def _reduction(name):
    @checked_arguments(name)
    def fn(x, axis=None, keepdims=False):
        return bind(name, x, axis=normalize_axes(axis, ndim_of(x)), keepdims=bool(keepdims))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"numpy.{name}(x, axis, keepdims), traced as the `{name}` reduction."
    return fn


sum, mean, max, min = map(_reduction, ["sum", "mean", "max", "min"])


@checked_arguments('argmax')
def argmax(x, axis=None, keepdims=False):
    """Index of the largest entry along `axis` (of the flattened array when axis is None)."""
    if axis is not None:
        axis = normalize_axes(axis, ndim_of(x))[0]
    return bind("argmax", x, axis=axis, keepdims=bool(keepdims))


def matmul(a, b):
    """numpy.matmul: batched, with NumPy's rules for 1-d operands."""
    return bind("matmul", a, b)


def where(cond, x, y):
    """numpy.where(cond, x, y) with broadcasting."""
    return bind("where", cond, x, y)


def cast(x, dtype):
    """x.astype(dtype)."""
    return bind("cast", x, dtype=np.dtype(dtype).name)


@checked_arguments('reshape')
def reshape(x, shape):
    """numpy.reshape; one dimension may be -1."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)
    size = int(np.prod(shape_of(x)))
    if shape.count(-1) == 1:
        known = int(np.prod([d for d in shape if d != -1]))
        if known == 0 or size % known:
            raise ShapeError(f"cannot reshape {shape_of(x)} into {shape}")
        shape = tuple(size // known if d == -1 else d for d in shape)
    return bind("reshape", x, shape=shape)


@checked_arguments('transpose')
def transpose(x, axes=None):
    """numpy.transpose: reverse the axes, or permute them as `axes` says."""
    ndim = ndim_of(x)
    if axes is None:
        axes = tuple(reversed(range(ndim)))
    elif not all(-ndim <= a < ndim for a in axes):
        raise ShapeError(f"axes {tuple(axes)} are out of range for a {ndim}-d array")
    else:
        axes = tuple(int(a) % ndim for a in axes)
    return bind("transpose", x, axes=axes)


def broadcast_to(x, shape):
    """numpy.broadcast_to."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)
    return bind("broadcast_to", x, shape=shape)


@checked_arguments('expand_dims')
def expand_dims(x, axis):
    """numpy.expand_dims: insert axes of length one."""
    return bind("expand_dims", x, axis=normalize_axes(axis, ndim_of(x) + (1 if np.isscalar(axis) else len(axis))))


@checked_arguments('squeeze')
def squeeze(x, axis=None):
    """numpy.squeeze: drop axes of length one (all of them when axis is None)."""
    if axis is None:
        axis = tuple(i for i, d in enumerate(shape_of(x)) if d == 1)
    return bind("squeeze", x, axis=normalize_axes(axis, ndim_of(x)))


@checked_arguments('concatenate')
def concatenate(xs, axis=0):
    """numpy.concatenate along an existing axis."""
    xs = list(xs)
    return bind("concatenate", *xs, axis=normalize_axes(axis, ndim_of(xs[0]))[0])


@checked_arguments('getitem')
def getitem(x, index):
    """Basic indexing x[index]: ints, slices (with steps), None and Ellipsis."""
    return bind("getitem", x, index=normalize_index(index, shape_of(x)))


def scatter(x, index, shape):
    """Zeros of `shape` with x written at the (normalised) `index`: the transpose of getitem."""
    return bind("scatter", x, index=index, shape=tuple(shape))


class ArrayOperators:
    """Python's operators for whatever stands for an array in a graph being built: tracers
    while user code runs, and the values gradient rules compute with. Each binds its op."""
    __slots__ = ()
    __hash__ = object.__hash__          # usable as dict keys although == builds a node

    __add__ = lambda self, o: add(self, o)
    __radd__ = lambda self, o: add(o, self)
    __sub__ = lambda self, o: subtract(self, o)
    __rsub__ = lambda self, o: subtract(o, self)
    __mul__ = lambda self, o: multiply(self, o)
    __rmul__ = lambda self, o: multiply(o, self)
    __truediv__ = lambda self, o: divide(self, o)
    __rtruediv__ = lambda self, o: divide(o, self)
    __pow__ = lambda self, o: power(self, o)
    __rpow__ = lambda self, o: power(o, self)
    __matmul__ = lambda self, o: matmul(self, o)
    __rmatmul__ = lambda self, o: matmul(o, self)
    __neg__ = lambda self: negative(self)
    __pos__ = lambda self: self
    __abs__ = lambda self: abs(self)
    __gt__ = lambda self, o: greater(self, o)
    __ge__ = lambda self, o: greater_equal(self, o)
    __lt__ = lambda self, o: less(self, o)
    __le__ = lambda self, o: less_equal(self, o)
    __eq__ = lambda self, o: equal(self, o)
    __ne__ = lambda self, o: not_equal(self, o)
    __getitem__ = lambda self, index: getitem(self, index)


# -- indexes as plain data ---------------------------------------------------------------

def normalize_index(index, shape):
    """Turn a basic index into a tuple with one entry per input axis (plus None for new axes).

    Entries are non-negative ints, None, or (start, stop, step) triples that read like
    `range(start, stop, step)`: start is the first index taken, so an entry picks
    len(range(...)) elements (stop is -1 only for a negative step that ends at index 0).
    """
    index = index if isinstance(index, tuple) else (index,)
    for i in index:
        if not (i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice))) or isinstance(i, bool):
            raise TraceError(f"only basic indexing (ints, slices, None, ...) is supported, "
                             f"not {type(i).__name__}")
    if builtins.sum(i is Ellipsis for i in index) > 1:
        raise ShapeError("an index can only have a single ellipsis")
    used = builtins.sum(1 for i in index if i is not None and i is not Ellipsis)
    if used > len(shape):
        raise ShapeError(f"too many indices for an array of shape {tuple(shape)}")
    if Ellipsis in [i for i in index if not isinstance(i, slice)]:
        at = [k for k, i in enumerate(index) if i is Ellipsis][0]
        index = index[:at] + (slice(None),) * (len(shape) - used) + index[at + 1:]
    else:
        index = index + (slice(None),) * (len(shape) - used)
    out, axis = [], 0
    for i in index:
        if i is None:
            out.append(None)
            continue
        dim = shape[axis]
        if isinstance(i, slice):
            picked = range(*i.indices(dim))
            out.append((picked[0], picked[-1] + picked.step, picked.step) if picked else (0, 0, 1))
        else:
            if not -dim <= i < dim:
                raise ShapeError(f"index {i} is out of bounds for axis {axis} of size {dim}")
            out.append(int(i) % dim)
        axis += 1
    return tuple(out)


def numpy_index(index):
    """The NumPy index for a normalised one."""
    return tuple(slice(i[0], i[1] if i[1] >= 0 else None, i[2]) if isinstance(i, tuple) else i for i in index)


# Convolution, pooling and random numbers are declared in ops_nn.py, in this same registry.
from irtoy.ops_nn import (  # noqa: E402
    avg_pool2d, avg_pool2d_grad, conv2d, conv2d_weight_grad, conv_transpose2d, max_pool2d, max_pool2d_grad,
    max_pool2d_pick, random_uniform, window_positions,
)
