"""How each registry op becomes code in the numba backend: one entry per op, keyed by name.

The type of an op's lowering says what the backend does with it (and matches the op's kind
in the registry; tests walk the registry to prove every op has one):

    Source     inputs and constants: arguments of the driver (0-d constants become literals)
    Scalar     elementwise ops: an expression on scalars, computed at each point of a loop
    Reduction  reductions: an accumulator started before the reduced loops, combined at each
               point and finished after them
    Scatter    zeros with the argument written through an index map (or added at positions
               read from index arrays: scatter_add)
    Gather     an element read at positions taken from index arrays, at each point of a loop
    View       movement ops that only re-index (passes/views.py): index arithmetic inside a
               kernel, a NumPy view in the driver
    Call       whole-array work the driver does: BLAS matmul, NumPy concatenate, reshape and
               the scans (cumsum, cumprod),
               the convolution, pooling and random-number kernels of nn_kernels.py

Adding an op to the registry needs one entry here. Scalar expressions compute in NumPy's
result dtype: every argument is cast to it first, so a float32 graph stays float32 (Numba
would otherwise widen float32 * 1.7 to float64).
"""
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from irtoy.errors import IrtoyError, located
from irtoy.ir import Spec, format_index


class LoweringError(IrtoyError):
    """The numba backend cannot generate code for a node (an unsupported dtype, say)."""


SUPPORTED_DTYPES = {np.dtype(t) for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
                                          np.uint16, np.uint32, np.uint64, np.float32, np.float64)}
WIDE = {np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64), np.dtype(np.bool_)}


@dataclass(frozen=True)
class Source:
    """An input or a constant: the driver has it already."""


@dataclass(frozen=True)
class Scalar:
    """An elementwise op computed at each point of a loop."""
    emit: Callable              # (args as (expression, dtype), output dtype, attrs) -> expression


@dataclass(frozen=True)
class Reduction:
    """An accumulator: its dtype, start value, update at each point, and final value."""
    acc_dtype: Callable         # (input dtype, output dtype) -> dtype of the accumulator
    init: Callable              # accumulator dtype -> literal
    combine: Callable           # (acc name, value expr, acc dtype) -> statement
    finish: Callable            # (acc name, count expr, output dtype) -> expression
    tracks_index: bool = False  # argmax: also remember where the best value was


@dataclass(frozen=True)
class Scatter:
    """Zeros, with the argument written at the positions of the op's index."""


@dataclass(frozen=True)
class Gather:
    """Read the argument at positions read from index arrays, each checked at run time
    (kernels.py writes the code, the driver reports an index outside its axis)."""


@dataclass(frozen=True)
class Call:
    """Whole-array work the driver does itself."""
    emit: Callable              # (argument names, output name or None, node) -> driver code
    writes_into: bool = True    # fills an `out` array the driver gives it; False: returns its own
    imports: tuple = ()         # lines the driver needs to make the call


@dataclass(frozen=True)
class View:
    """A movement op that only re-indexes: kernels read through its index map (passes/
    views.py), the driver makes a NumPy view."""
    driver: Callable            # (argument name, attrs) -> NumPy view expression
    copy: Optional[Call] = None  # what the driver does where the op moves data instead


# -- literals and casts ------------------------------------------------------------------

def literal(value, dtype):
    """A scalar constant as source text of the exact dtype."""
    dtype = np.dtype(dtype)
    value = np.asarray(value, dtype).item()
    if dtype == np.bool_:
        return repr(bool(value))
    if dtype.kind == "f":
        if np.isnan(value):
            text = "np.nan"
        elif np.isinf(value):
            text = "np.inf" if value > 0 else "-np.inf"
        elif abs(value) < 1e16:
            text = np.format_float_positional(np.asarray(value, dtype)[()], unique=True, trim="-")
        else:       # not as digits: Numba takes no integer literal of 2**64 or more
            text = repr(float(value))
    else:
        text = str(int(value))
    return f"np.{dtype.name}({text})"


def cast(expr, src, dst):
    """`expr` (of dtype src) converted to dtype dst."""
    src, dst = np.dtype(src), np.dtype(dst)
    if src == dst:
        return expr
    if dst == np.bool_:
        return f"({expr} != 0)"
    return f"np.{dst.name}({expr})"


def convert(expr, dst):
    """`expr`, whatever dtype Numba gives it, converted to dtype dst."""
    return cast(expr, "O", dst)


def check_dtypes(graph):
    """Refuse, before any code is generated, a graph with a value of a dtype the kernels lack."""
    for n in graph.order():
        if np.dtype(graph[n]["dtype"]) not in SUPPORTED_DTYPES:
            raise LoweringError(f"the numba backend does not support {np.dtype(graph[n]['dtype']).name}: "
                                f"{graph.node_text(n).split('#')[0].strip()}{located(graph[n].get('src'))}\n"
                                f"use backend='numpy' or cast to float32/float64")


# -- elementwise ops ------------------------------------------------------------------------

def _at(args, dtype):
    """Each (expr, dtype) argument cast to `dtype`."""
    return [cast(e, d, dtype) for e, d in args]


def _arith(template, bool_template=None, exact=True):
    """An op computed in its output dtype; `exact`: Numba's result has that dtype already."""
    def emit(args, out, attrs):
        xs = _at(args, out)
        if out == np.bool_ and bool_template:
            return bool_template.format(*xs)
        expr = template.format(*xs)
        return expr if exact and out in WIDE else convert(expr, out)
    return emit


def _math(name, float32_helper=None):
    """NumPy's function `name` on arguments of the output dtype (a float32 helper of
    math.py instead, where one is given)."""
    def emit(args, out, attrs):
        xs = ", ".join(_at(args, out))
        if float32_helper and out == np.float32:
            return f"{float32_helper}({xs})"
        return f"np.{name}({xs})"
    return emit


def _power(args, out, attrs):
    """Floats: Numba's `**`. Integers: math.int_power, NumPy's rules (see there)."""
    if out.kind not in "iu":
        return _arith("{} ** {}", exact=False)(args, out, attrs)
    x, y = _at(args, out)
    return convert(f"int_power({x}, {y}, {literal(1, out)})", out)


def may_raise(node):
    """Does the code of loop node `node` raise on some values? Integer powers raise
    ValueError at a negative exponent (math.int_power), gathers and scatter-adds IndexError
    at an index outside its axis: the driver reports them (emit.py), and the loop runs
    serially (Numba runs no loop that can raise in parallel; nor could scatter-adds add into
    one array from several threads)."""
    return raises_index_error(node) or node["op"] == "power" and np.dtype(node["dtype"]).kind in "iu"


def raises_index_error(node):
    """Does loop node `node` check indices read from arrays (gather, scatter_add)?"""
    return node["op"] in ("gather", "scatter_add")


def _sign(args, out, attrs):
    """np.sign; for unsigned integers 0 or 1 (Numba's np.sign gives them -1 wrapped around),
    for floats NumPy's rule: nan stays nan, and both zeros give +0 (Numba's keeps -0)."""
    (x,) = _at(args, out)
    if out.kind == "u":
        return cast(f"({x} > 0)", np.bool_, out)
    if out.kind == "f":
        one, zero = literal(1, out), literal(0, out)
        return f"({one} if {x} > {zero} else -{one} if {x} < {zero} else {zero} if {x} == {zero} else {x})"
    return _arith("np.sign({})", exact=False)(args, out, attrs)


def _compare(symbol):
    def emit(args, out, attrs):
        common = np.result_type(*[d for _, d in args])
        a, b = _at(args, common)
        return f"({a} {symbol} {b})"
    return emit


def _where(args, out, attrs):
    (c, cd), x, y = args
    a, b = _at([x, y], out)
    return f"({a} if {cast(c, cd, np.bool_)} else {b})"


def _cast(args, out, attrs):
    ((x, d),) = args
    return cast(x, d, out)


def _abs(args, out, attrs):
    (x,) = _at(args, out)
    return x if out == np.bool_ else convert(f"abs({x})", out) if out not in WIDE else f"abs({x})"


def _integral(name):
    """floor, ceil, rint, trunc: NumPy's function on floats; integers and booleans are whole already."""
    def emit(args, out, attrs):
        (x,) = _at(args, out)
        return x if out.kind in "iub" else f"np.{name}({x})"
    return emit


def _division(int_helper, float_helper=None, float_name=None):
    """floor_divide, remainder, fmod: math.py's helpers keep NumPy's rules for integers
    (division by 0, the most negative number by -1) and for floats."""
    def emit(args, out, attrs):
        x, y = _at(args, out)
        if out.kind in "iu":
            return convert(f"{int_helper}({x}, {y}, {literal(0, out)})", out)
        if float_helper:
            return f"{float_helper}({x}, {y}, {literal(1, out)})"
        return f"np.{float_name}({x}, {y})"
    return emit


def _shift(helper):
    def emit(args, out, attrs):
        x, y = _at(args, out)
        return convert(f"{helper}({x}, {y}, {literal(8 * out.itemsize, out)})", out)
    return emit


def _bitwise(symbol):
    def emit(args, out, attrs):
        x, y = _at(args, out)
        return f"({x} {symbol} {y})" if out == np.bool_ else convert(f"({x} {symbol} {y})", out)
    return emit


def _invert(args, out, attrs):
    (x,) = _at(args, out)
    return f"(not {x})" if out == np.bool_ else convert(f"(~{x})", out)


def _signbit(args, out, attrs):
    ((x, d),) = args
    return f"np.signbit({x})" if np.dtype(d).kind == "f" else f"({x} < 0)" if np.dtype(d).kind == "i" else "False"


def _logaddexp(args, out, attrs):
    x, y = _at(args, out)
    return f"logaddexp({x}, {y}, {literal(np.log(2.0), out)})"


def _logaddexp2(args, out, attrs):
    x, y = _at(args, out)
    return f"logaddexp2({x}, {y}, {literal(1 / np.log(2.0), out)}, {literal(1, out)})"


# -- reductions -----------------------------------------------------------------------------

def _sum_dtype(src, out):
    return np.dtype(np.float64) if np.dtype(out) == np.float32 else np.dtype(out)


def _extreme(dtype, largest):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return literal(largest, dtype)
    if dtype.kind == "f":
        return literal(np.inf if largest else -np.inf, dtype)
    info = np.iinfo(dtype)
    return literal(info.max if largest else info.min, dtype)


def _combine_extreme(helper, bool_op):
    def combine(acc, value, dtype):
        if np.dtype(dtype) == np.bool_:
            return f"{acc} = {acc} {bool_op} {value}"
        return f"{acc} = {helper}({acc}, {value})"
    return combine


SUM = Reduction(acc_dtype=_sum_dtype, init=lambda d: literal(0, d),
                combine=lambda acc, v, d: f"{acc} += {v}",
                finish=lambda acc, count, out: convert(acc, out))
PROD = Reduction(acc_dtype=_sum_dtype, init=lambda d: literal(1, d),
                 combine=lambda acc, v, d: f"{acc} *= {v}",
                 finish=lambda acc, count, out: convert(acc, out))
MEAN = Reduction(acc_dtype=lambda src, out: np.dtype(np.float64) if out in (np.float32, np.float64) else np.dtype(out),
                 init=lambda d: literal(0, d),
                 combine=lambda acc, v, d: f"{acc} += {v}",
                 finish=lambda acc, count, out: convert(f"{acc} / ({count})", out))
MAX = Reduction(acc_dtype=lambda src, out: np.dtype(out), init=lambda d: _extreme(d, False),
                combine=_combine_extreme("maximum", "or"), finish=lambda acc, count, out: acc)
MIN = Reduction(acc_dtype=lambda src, out: np.dtype(out), init=lambda d: _extreme(d, True),
                combine=_combine_extreme("minimum", "and"), finish=lambda acc, count, out: acc)
# argmax: the first largest value wins, and a nan beats everything (NumPy's rule)
ARGMAX = Reduction(acc_dtype=lambda src, out: np.dtype(src), init=lambda d: _extreme(d, False),
                   combine=lambda acc, v, d: f"{v} > {acc} or ({v} != {v} and {acc} == {acc})",
                   finish=lambda acc, count, out: acc, tracks_index=True)
# argmin: the first smallest value wins, and a nan beats everything (NumPy's rule)
ARGMIN = Reduction(acc_dtype=lambda src, out: np.dtype(src), init=lambda d: _extreme(d, True),
                   combine=lambda acc, v, d: f"{v} < {acc} or ({v} != {v} and {acc} == {acc})",
                   finish=lambda acc, count, out: acc, tracks_index=True)


# -- whole-array calls in the driver --------------------------------------------------------

def _matmul(args, out, node):
    a, b = args
    if out is None:
        return f"np.matmul({a}, {b})"
    return f"np.matmul({a}, {b}, out={out})"


def _concatenate(args, out, node):
    joined = f"({', '.join(args)},)"
    if out is None:
        return f"np.concatenate({joined}, axis={node['attrs']['axis']})"
    return f"np.concatenate({joined}, axis={node['attrs']['axis']}, out={out})"


def _reshape_copy(args, out, node):
    (x,) = args
    return f"contiguous(np.reshape({x}, {node['attrs']['shape']}))"


def _argsort(args, out, node):
    (x,) = args
    return f"np.argsort({x}, axis={node['attrs']['axis']}, kind='stable')"


def _numpy_scan(name):
    """np.cumsum or np.cumprod along the node's axis, in its output dtype."""
    def emit(args, out, node):
        (x,) = args
        into = "" if out is None else f", out={out}"
        return f"np.{name}({x}, axis={node['attrs']['axis']}, dtype=np.{np.dtype(node['dtype']).name}{into})"
    return Call(emit)


def numpy_index_text(index):
    """A normalised index as NumPy source: [0, 1:5:2, None]."""
    return format_index(index)[1:-1] or "()"


# -- the table ------------------------------------------------------------------------------

LOWERINGS = {
    "input": Source(),
    "const": Source(),

    "add": Scalar(_arith("{} + {}", "({} or {})")),
    "subtract": Scalar(_arith("{} - {}")),
    "multiply": Scalar(_arith("{} * {}", "({} and {})")),
    "divide": Scalar(_arith("{} / {}")),
    "power": Scalar(_power),
    "maximum": Scalar(_arith("maximum({}, {})", "({} or {})")),
    "minimum": Scalar(_arith("minimum({}, {})", "({} and {})")),
    "negative": Scalar(_arith("-{}")),
    "exp": Scalar(_math("exp", "exp_f32")),
    # functions numba computes by NumPy's own name: np.log(x), np.cbrt(x), ...
    **{name: Scalar(_math(name)) for name in (
        "log", "sin", "cos", "tan", "sqrt", "arctan2", "hypot", "log1p", "expm1", "log2", "log10", "exp2",
        "sinh", "cosh", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "cbrt", "copysign")},
    "tanh": Scalar(_math("tanh", "tanh_f32")),
    "abs": Scalar(_abs),
    "sign": Scalar(_sign),
    "logaddexp": Scalar(_logaddexp),
    "logaddexp2": Scalar(_logaddexp2),
    **{name: Scalar(_integral(name)) for name in ("floor", "ceil", "rint", "trunc")},
    "floor_divide": Scalar(_division("int_floor_divide", "float_floor_divide")),
    "remainder": Scalar(_division("int_remainder", "float_remainder")),
    "fmod": Scalar(_division("int_fmod", float_name="fmod")),
    "signbit": Scalar(_signbit),
    "bitwise_and": Scalar(_bitwise("&")),
    "bitwise_or": Scalar(_bitwise("|")),
    "bitwise_xor": Scalar(_bitwise("^")),
    "invert": Scalar(_invert),
    "left_shift": Scalar(_shift("left_shift")),
    "right_shift": Scalar(_shift("right_shift")),
    "greater": Scalar(_compare(">")),
    "greater_equal": Scalar(_compare(">=")),
    "less": Scalar(_compare("<")),
    "less_equal": Scalar(_compare("<=")),
    "equal": Scalar(_compare("==")),
    "not_equal": Scalar(_compare("!=")),
    "where": Scalar(_where),
    "cast": Scalar(_cast),

    "sum": SUM,
    "mean": MEAN,
    "max": MAX,
    "min": MIN,
    "argmax": ARGMAX,
    "prod": PROD,
    "argmin": ARGMIN,

    "scatter": Scatter(),
    "scatter_add": Scatter(),
    "gather": Gather(),

    "transpose": View(lambda x, attrs: f"np.transpose({x}, {attrs['axes']})"),
    "broadcast_to": View(lambda x, attrs: f"np.broadcast_to({x}, {attrs['shape']})"),
    "expand_dims": View(lambda x, attrs: f"np.expand_dims({x}, {attrs['axis']})"),
    "squeeze": View(lambda x, attrs: f"np.squeeze({x}, {attrs['axis']})"),
    "getitem": View(lambda x, attrs: f"np.asarray({x})[{numpy_index_text(attrs['index'])}]"),
    # a reshape that only adds or drops axes of length one is a view; any other is a copy
    "reshape": View(lambda x, attrs: f"np.reshape({x}, {attrs['shape']})",
                    copy=Call(_reshape_copy, writes_into=False)),

    "matmul": Call(_matmul),
    "concatenate": Call(_concatenate),
    "argsort": Call(_argsort, writes_into=False),
    "cumsum": _numpy_scan("cumsum"),
    "cumprod": _numpy_scan("cumprod"),
}


# -- ops for neural networks: whole-array calls into nn_kernels.py --------------------------

def _nn_kernel_call(name, *attr_names):
    """nn_kernels.<name>(arguments, attributes, out), called by the driver."""
    def emit(args, out, node):
        attrs = [repr(node["attrs"][a]) for a in attr_names]
        return f"{name}({', '.join(list(args) + attrs + [out or 'None'])})"
    return emit


def _nn_call(name, *attr_names):
    return Call(_nn_kernel_call(name, *attr_names), imports=(f"from irtoy.backends.numba.nn_kernels import {name}",))


LOWERINGS.update({
    "conv2d": _nn_call("conv2d", "stride", "padding"),
    "conv_transpose2d": _nn_call("conv_transpose2d", "stride", "padding"),
    "conv2d_weight_grad": _nn_call("conv2d_weight_grad", "stride", "padding"),
    "max_pool2d": _nn_call("max_pool2d", "window", "stride"),
    "max_pool2d_grad": _nn_call("max_pool2d_grad", "window", "stride"),
    "max_pool2d_pick": _nn_call("max_pool2d_pick", "window", "stride"),
    "avg_pool2d": _nn_call("avg_pool2d", "window", "stride"),
    "avg_pool2d_grad": _nn_call("avg_pool2d_grad", "window", "stride"),
    "random_uniform": _nn_call("random_uniform", "stream", "shape", "dtype"),
})


# -- linear algebra: the driver calls the ops' own NumPy code (LAPACK) ---------------------

def _linalg_call(args, out, node):
    """irtoy.ops.linalg.call_at: the op's reference code, a LinAlgError (a singular matrix)
    told the node and the user's line."""
    where = f"{node['op']} -> {Spec(node['shape'], node['dtype'])}{located(node.get('src'))}"
    attrs = "".join(f", {k}={v!r}" for k, v in node["attrs"].items())
    return f"linalg_call({where!r}, {node['op']!r}, {', '.join(args)}{attrs})"


LINALG_CALL = Call(_linalg_call, writes_into=False, imports=("from irtoy.ops.linalg import call_at as linalg_call",))
LOWERINGS.update({op: LINALG_CALL for op in ("det", "slogdet", "inv", "solve", "cholesky", "qr", "eigh", "svd")})


def lowering(op):
    """The lowering of `op`; a missing one is a bug in the backend, reported as such."""
    try:
        return LOWERINGS[op]
    except KeyError:
        raise LoweringError(f"the numba backend has no lowering for op {op!r}; add one to "
                            f"LOWERINGS in backends/numba/lowering.py") from None


def call_lowering(op):
    """The lowering of an op the driver does whole (a view op: where it moves data)."""
    low = lowering(op)
    if isinstance(low, View) and low.copy is not None:
        return low.copy
    if not isinstance(low, Call):
        raise LoweringError(f"op {op!r} ({type(low).__name__}) cannot be done as a whole-array call")
    return low
