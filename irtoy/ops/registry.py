"""The op registry: every primitive irtoy knows, declared once.

An op is a record (`Op`): its name, its kind (one of KINDS, the one classification every
pass and backend uses), its number of arguments, a shape/dtype rule, a reference NumPy
implementation, its public function (`irtoy.ops.<name>`), the NumPy functions, ufuncs and
array methods that trace to it, a rough cost per element, and whether it is a view or
commutative. Every table derived from ops (NumPy dispatch, array methods, costs, view sets)
is computed from these records. What belongs to one pass or backend lives there, in a table
keyed by op name: the gradient rules in passes/autodiff.py, the Numba lowerings in
backends/numba/ (as JAX keeps its primitive tables).

A NumPy function that is a short composition of ops (np.var, np.stack, np.einsum, ...) is a
`Composite`: its public function, the NumPy callables and array methods that trace to it.
It needs no rule anywhere else: its gradient, shapes and code come from the ops it uses.

`bind(op, *args, **attrs)` applies an op: on traced values it records a node in the graph
being built; on ordinary arrays it runs the reference code.
"""
import dataclasses
import functools
from dataclasses import dataclass
from typing import Callable, Optional

from irtoy.errors import ShapeError, TraceError, located
from irtoy.ops.spec import Spec
from irtoy.source import user_src

KINDS = {
    "source": "inputs and constants: no arguments",
    "elementwise": "one scalar function applied at every point of the broadcast shape",
    "reduction": "combines the entries along some axes (sum, max, argmax, ...)",
    "contraction": "sums products over shared axes (matmul)",
    "scan": "running sums or products along one axis (cumsum, cumprod)",
    "movement": "rearranges entries without computing new ones (reshape, slicing, concatenation)",
    "scatter": "writes its argument into zeros at an index",
    "gather": "reads its argument at positions taken from integer index arrays",
    "sort": "orders the entries along an axis (argsort)",
    "window": "slides a window over an image (convolution, pooling and their gradients)",
    "random": "random numbers, a pure function of a seed",
    "linalg": "a factorisation, inverse or solve of whole matrices (numpy.linalg: LAPACK)",
}


@dataclass(frozen=True)
class Op:
    """One primitive: how to type it (`infer`), compute it (`impl`) and call it (`function`)."""
    name: str
    kind: str                   # one of KINDS
    infer: Callable             # (list[Spec], **attrs) -> Spec; raises ShapeError
    impl: Optional[Callable]    # (*np.ndarray, **attrs) -> np.ndarray
    arity: Optional[int]        # number of arguments; None for any number
    function: Optional[Callable] = None     # irtoy.ops.<name>: NumPy-style arguments -> bind
    numpy: tuple = ()           # NumPy functions and ufuncs that trace to `function`
    methods: tuple = ()         # array methods that trace to `function` (x.sum(), ...)
    differentiable: bool = True
    cost: int = 1               # rough work per element, in units of one add (exp and log: 9)
    view: bool = False          # may only re-index its argument (reshape: when it moves no data)
    commutative: bool = False   # op(x, y) == op(y, x)
    doc: str = ""


@dataclass(frozen=True)
class Composite:
    """A NumPy function traced as a composition of ops: `function` is irtoy.ops.<name>."""
    name: str
    function: Callable
    numpy: tuple = ()           # NumPy functions and ufuncs that trace to `function`
    methods: tuple = ()         # array methods that trace to `function`
    doc: str = ""
    differentiable: bool = True     # False where its result is integer or piecewise constant


REGISTRY: dict = {}
COMPOSITES: dict = {}


def declare(name, kind, infer, impl, arity, **facts):
    """Register the op `name`. Used as a decorator, the decorated function becomes its public
    function `irtoy.ops.<name>` (argument errors name the op and the user's line)."""
    if kind not in KINDS:
        raise ValueError(f"op {name!r}: kind {kind!r} is not one of {', '.join(KINDS)}")
    REGISTRY[name] = Op(name, kind, infer, impl, arity, **facts)

    def public(fn):
        checked = checked_arguments(name)(fn)
        REGISTRY[name] = dataclasses.replace(REGISTRY[name], function=checked)
        return checked
    return public


def composite(name, numpy=(), methods=(), doc="", differentiable=True):
    """Register the decorated function as the composition `name`: irtoy.ops.<name>, and what
    the NumPy callables `numpy` and the array methods `methods` trace to on traced values."""
    if name in REGISTRY:
        raise ValueError(f"composition {name!r}: an op of that name exists")

    def register(fn):
        checked = checked_arguments(name)(fn)
        summary = doc or (fn.__doc__ or "").strip().split("\n")[0]
        COMPOSITES[name] = Composite(name, checked, tuple(numpy), tuple(methods), summary, differentiable)
        return checked
    return register


def bind(op, *args, **attrs):
    """Apply `op`: record a node if any argument is being traced, else compute it now.

    A value being traced carries the graph builder recording it (`_builder`); when builders
    nest (a gradient traced inside a trace), the innermost one records.
    """
    builder = None
    for a in args:
        b = getattr(a, "_builder", None)
        if b is not None and (builder is None or b.level > builder.level):
            builder = b
    if builder is not None:
        return builder.record(op, args, attrs)
    return REGISTRY[op].impl(*args, **attrs)


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
                raise _placed(type(e)(f"{op}({_call_text(args, kwargs)}): {e}{located(user_src())}")) from None
        return checked
    return decorate


def _call_text(args, kwargs):
    """The arguments of a call as the user wrote them, arrays shown by their specs."""
    def one(a):
        if isinstance(a, (list, tuple)) and any(hasattr(x, "shape") for x in a):
            return "[" + ", ".join(one(x) for x in a) + "]"
        if hasattr(a, "shape") and hasattr(a, "dtype") and not isinstance(a, type):
            try:
                return str(Spec(tuple(a.shape), a.dtype))
            except ShapeError:          # not an array irtoy takes (object dtype, say): as NumPy shows it
                return f"{a.dtype}{list(a.shape)}"
        return repr(a)
    return ", ".join([one(a) for a in args] + [f"{k}={one(v)}" for k, v in kwargs.items()])


def _source_rule(specs, **attrs):
    raise ShapeError("inputs and constants take their spec from the node itself")


declare("input", "source", _source_rule, None, 0, doc="an argument of the traced function")
declare("const", "source", _source_rule, None, 0, doc="a constant array (node attribute `value`)")
