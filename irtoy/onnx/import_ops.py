"""What each ONNX op means, as NumPy-style code: the table `IMPORTERS`, keyed by ONNX op type.

An entry is a function `(node, *inputs) -> output or tuple of outputs`. Inputs are irtoy
Tracers or NumPy arrays (None for an optional input left out), and the code is written with
NumPy functions and irtoy.ops, so the same entry computes on arrays at import (folding shape
arithmetic) and records irtoy ops on Tracers. An ONNX op whose NumPy function irtoy cannot
trace yet (np.floor, np.cumsum, ...) is then refused by irtoy's own tracing, naming the
function, and starts working the day an op for it is declared: adding an ONNX op is one entry.

`node.attr(name, default)` reads an attribute; an attribute an entry never reads is refused
after it ran (it would change the result), so no entry silently ignores one. `node.static`
takes a value that must be known at import (shapes, axes, pads) and refuses a traced one.
"""
import math

import numpy as np
import scipy.special

from irtoy import ops
from irtoy.errors import IrtoyError
from irtoy.onnx.tensors import onnx_dtype, tensor_array
INT64_MAX = np.iinfo(np.int64).max


class Node:
    """One ONNX node being imported: its name, op type, opset and attributes."""

    def __init__(self, proto, name, opset, onnx):
        self.proto, self.name, self.opset, self._onnx = proto, name, opset, onnx
        self.op_type, self.domain = proto.op_type, proto.domain
        self._attributes = {a.name: a for a in proto.attribute}
        self.unread = set(self._attributes)

    def attribute_proto(self, key):
        return self._attributes.get(key)

    def attr(self, key, default=None):
        """The attribute `key` as a plain value (ints, floats, str, lists, arrays), or `default`."""
        self.unread.discard(key)
        proto = self._attributes.get(key)
        if proto is None:
            return default
        if proto.type in (proto.GRAPH, proto.GRAPHS):
            raise IrtoyError(f"its attribute {key!r} is a subgraph (control flow), which irtoy does not import")
        value = self._onnx.helper.get_attribute_value(proto)
        if isinstance(value, self._onnx.TensorProto):
            return tensor_array(value, f"attribute {key!r}")
        if isinstance(value, bytes):
            return value.decode()
        if isinstance(value, list) and value and isinstance(value[0], bytes):
            raise IrtoyError(f"its attribute {key!r} is a list of strings, which irtoy does not compute with")
        return value

    def static(self, value, what):
        """`value` as a NumPy array known at import, or an IrtoyError: it depends on the inputs."""
        if value is None:
            return None
        if is_traced(value):
            sources = model_inputs_of(value)
            error = IrtoyError(f"its {what} depends on the model's input(s) {', '.join(map(repr, sources))}, but "
                               f"irtoy needs it known at import (irtoy's shapes are static; `static_inputs` can fix "
                               f"an input's value)")
            error.needs_static_value = sources
            raise error
        return np.asarray(value)

    def ints(self, value, what):
        """A static input or attribute as a tuple of Python ints (None stays None)."""
        value = self.static(value, what)
        return None if value is None else tuple(int(v) for v in np.ravel(value))

    def call(self, entry, inputs):
        """Apply `entry`, then refuse any attribute it did not read."""
        result = entry(self, *inputs)
        if self.unread:
            raise IrtoyError(f"irtoy does not support its attribute(s) {', '.join(sorted(self.unread))}")
        return result

    def refuse(self, why):
        raise IrtoyError(why)


def model_inputs_of(value):
    """The names of the graph inputs a traced value is computed from."""
    import networkx as nx
    graph = value._builder.graph
    nodes = nx.ancestors(graph.nx, value.node) | {value.node}
    return sorted(graph[n]["name"] for n in nodes if graph[n]["op"] == "input")


def is_traced(value):
    return hasattr(value, "_builder")


def cast_to(x, dtype):
    """x as `dtype`, adding no node when it is that already."""
    return x if x.dtype == np.dtype(dtype) else x.astype(dtype)


def full(shape, value, dtype):
    """A constant array of `shape` filled with `value` (a 0-d value broadcast: free to record)."""
    return np.broadcast_to(np.asarray(value, dtype), tuple(shape))


def axes_of(node, axes_input, ndim, attribute="axes"):
    """Axes given as an input (newer opsets) or an attribute (older), normalised to >= 0."""
    axes = node.ints(axes_input, "axes") if axes_input is not None else node.attr(attribute)
    return None if axes is None else tuple(int(a) % ndim if ndim else 0 for a in axes)


def move_axis(x, source, destination):
    """np.moveaxis, as a transpose."""
    order = [k for k in range(x.ndim) if k != source % x.ndim]
    order.insert(destination % x.ndim, source % x.ndim)
    return np.transpose(x, order)


def along(axis, ndim, index):
    """A basic index picking `index` (an int or a slice) on `axis` and everything elsewhere."""
    return (slice(None),) * axis + (index,) + (slice(None),) * (ndim - axis - 1)


# -- elementwise -------------------------------------------------------------------------------

def unary(fn):
    return lambda node, x: fn(x)


def binary(fn):
    return lambda node, a, b: fn(a, b)


def variadic(fn):
    def combine(node, *xs):
        result = xs[0]
        for x in xs[1:]:
            result = fn(result, x)
        return result
    return combine


def mean(node, *xs):
    total = variadic(np.add)(node, *xs)
    return total / np.asarray(len(xs), total.dtype)


def divide(node, a, b):
    if a.dtype.kind in "iu":        # ONNX divides integers truncating toward zero, as astype does
        return np.divide(a, b).astype(a.dtype)
    return np.divide(a, b)


def power(node, a, b):
    return cast_to(np.power(a, b), a.dtype)      # ONNX's result has the base's dtype


def mod(node, a, b):
    """ONNX's Mod: the remainder with the divisor's sign (Python's %), or with fmod=1 the
    dividend's (C's fmod). Integers up to 32 bits are divided exactly in float64."""
    truncated = node.attr("fmod", 0)
    if a.dtype.kind == "f" and not truncated:
        node.refuse("Mod of floating-point numbers needs fmod=1")
    fn = np.fmod if truncated else np.mod
    if not is_traced(a) and not is_traced(b) or fn in _traceable() or a.dtype.kind == "f" or a.dtype.itemsize > 4:
        return fn(a, b)         # traced: refused by irtoy's tracing until an op for `fn` exists
    wide_a, wide_b = cast_to(a, np.int64), cast_to(b, np.int64)
    quotient = np.divide(wide_a, wide_b).astype(np.int64)      # rounded toward zero
    remainder = wide_a - quotient * wide_b
    if not truncated:       # toward minus infinity: a nonzero remainder takes the divisor's sign
        differs = np.where(remainder != 0, (remainder < 0) != (wide_b < 0), False)
        remainder = np.where(differs, remainder + wide_b, remainder)
    return cast_to(remainder, a.dtype)


def dequantize_linear(node, x, scale, zero_point=None):
    """(x - zero_point) * scale, with one scale per entry of `axis` when the scale is 1-d."""
    if node.attr("block_size", 0):
        node.refuse("blocked DequantizeLinear is not supported")
    axis = node.attr("axis", 1)
    dtype = scale.dtype if node.attr("output_dtype", 0) == 0 else onnx_dtype(node.attr("output_dtype"), "output_dtype")
    if scale.ndim == 1 and x.ndim > 1:
        along_axis = [-1 if k == axis % x.ndim else 1 for k in range(x.ndim)]
        scale = np.reshape(scale, along_axis)
        zero_point = None if zero_point is None else np.reshape(zero_point, along_axis)
    shift = cast_to(x, np.int64) - (0 if zero_point is None else cast_to(zero_point, np.int64))
    wide = np.float32 if scale.dtype == np.float16 else scale.dtype
    return cast_to(cast_to(shift, wide) * cast_to(scale, wide), dtype)


def bit_shift(node, x, y):
    direction = node.attr("direction")
    return np.left_shift(x, y) if direction == "LEFT" else np.right_shift(x, y)


def relu(node, x):
    return np.maximum(x, np.zeros((), x.dtype))


def leaky_relu(node, x):
    return np.where(x < 0, x * np.asarray(node.attr("alpha", 0.01), x.dtype), x)


def prelu(node, x, slope):
    return np.where(x < 0, x * slope, x)


def elu(node, x):
    alpha = np.asarray(node.attr("alpha", 1.0), x.dtype)
    return np.where(x < 0, alpha * (np.exp(x) - np.ones((), x.dtype)), x)


def selu(node, x):
    alpha = np.asarray(node.attr("alpha", 1.67326319217681884765625), x.dtype)
    gamma = np.asarray(node.attr("gamma", 1.05070102214813232421875), x.dtype)
    return gamma * np.where(x <= 0, alpha * np.exp(x) - alpha, x)


def celu(node, x):
    alpha = np.asarray(node.attr("alpha", 1.0), x.dtype)
    zero = np.zeros((), x.dtype)
    return np.maximum(x, zero) + np.minimum(zero, alpha * (np.exp(x / alpha) - np.ones((), x.dtype)))


def sigmoid(node, x):
    one = np.ones((), x.dtype)
    return one / (one + np.exp(-x))


def hard_sigmoid(node, x, alpha=None, beta=None):
    alpha = np.asarray(node.attr("alpha", 0.2) if alpha is None else alpha, x.dtype)
    beta = np.asarray(node.attr("beta", 0.5) if beta is None else beta, x.dtype)
    return np.clip(alpha * x + beta, np.zeros((), x.dtype), np.ones((), x.dtype))


def hard_swish(node, x):
    return x * hard_sigmoid(node, x, 1 / 6, 0.5)


def softplus(node, x):
    return np.log(np.exp(x) + np.ones((), x.dtype))


def softsign(node, x):
    return x / (np.ones((), x.dtype) + np.abs(x))


def thresholded_relu(node, x):
    return np.where(x > np.asarray(node.attr("alpha", 1.0), x.dtype), x, np.zeros((), x.dtype))


def shrink(node, x):
    lambd, bias = (np.asarray(node.attr(k, d), x.dtype) for k, d in (("lambd", 0.5), ("bias", 0.0)))
    return np.where(x < -lambd, x + bias, np.where(x > lambd, x - bias, np.zeros((), x.dtype)))


def mish(node, x):
    return x * np.tanh(softplus(node, x))


# Abramowitz and Stegun 7.1.26: |error| < 1.5e-7, below float32's own rounding near 1.
ERF_P = 0.3275911
ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def erf(x):
    """erf, by irtoy's op for it if NumPy's (SciPy's) erf traces, else (float16 and float32 only,
    where it is as exact as the format) a rational approximation of exp(-x**2) terms."""
    if not is_traced(x) or scipy.special.erf in _traceable():
        return scipy.special.erf(x)
    if x.dtype not in (np.float16, np.float32):
        raise IrtoyError(f"Erf of {x.dtype} needs an erf op, which irtoy does not have yet")
    c = lambda v: np.asarray(v, x.dtype)        # noqa: E731
    a = np.abs(x)
    t = c(1) / (c(1) + c(ERF_P) * a)
    poly = t * (c(ERF_A[0]) + t * (c(ERF_A[1]) + t * (c(ERF_A[2]) + t * (c(ERF_A[3]) + t * c(ERF_A[4])))))
    return np.sign(x) * (c(1) - poly * np.exp(-a * a))


def _traceable():
    from irtoy import numpy_dispatch
    return numpy_dispatch.FUNCTIONS


def gelu(node, x):
    c = lambda v: np.asarray(v, x.dtype)        # noqa: E731
    if node.attr("approximate", "none") == "tanh":
        inner = c(math.sqrt(2 / math.pi)) * (x + c(0.044715) * x * x * x)
        return c(0.5) * x * (c(1) + np.tanh(inner))
    return c(0.5) * x * (c(1) + erf(x / c(math.sqrt(2))))


def clip(node, x, low=None, high=None):
    low = np.asarray(node.attr("min"), x.dtype) if low is None and node.attr("min") is not None else low
    high = np.asarray(node.attr("max"), x.dtype) if high is None and node.attr("max") is not None else high
    if low is not None:
        x = np.maximum(x, low)
    return x if high is None else np.minimum(x, high)


def cast(node, x):
    node.attr("saturate")           # only 8-bit floats saturate: irtoy has none
    return cast_to(x, onnx_dtype(node.attr("to"), "the target of Cast"))


def cast_like(node, x, like):
    node.attr("saturate")
    return cast_to(x, like.dtype)


def is_inf(node, x):
    positive, negative = node.attr("detect_positive", 1), node.attr("detect_negative", 1)
    inf = np.asarray(np.inf, x.dtype)
    if positive and negative:
        return np.abs(x) == inf
    return x == (inf if positive else -inf) if positive or negative else np.zeros(x.shape, bool)


def logical(fn):
    return lambda node, a, b: fn(a, b)


# -- reductions --------------------------------------------------------------------------------

def reduction(fn, after=None):
    """A Reduce* op: axes (input or attribute), keepdims, noop_with_empty_axes; keeps the dtype."""
    def reduce(node, x, axes_input=None):
        axes = axes_of(node, axes_input, x.ndim)
        keepdims, noop = bool(node.attr("keepdims", 1)), node.attr("noop_with_empty_axes", 0)
        if not axes:
            if noop:
                return x
            axes = tuple(range(x.ndim))
        result = fn(x, axis=axes, keepdims=keepdims)
        return cast_to(after(result) if after else result, x.dtype)
    return reduce


def sum_of_squares(x, axis, keepdims):
    return np.sum(x * x, axis=axis, keepdims=keepdims)


def sum_of_abs(x, axis, keepdims):
    return np.sum(np.abs(x), axis=axis, keepdims=keepdims)


def log_sum_exp(x, axis, keepdims):
    return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


def arg_extreme(sign):
    def arg(node, x):
        axis = node.attr("axis", 0) % max(x.ndim, 1)
        keepdims, last = bool(node.attr("keepdims", 1)), node.attr("select_last_index", 0)
        if sign < 0 and x.dtype.kind != "f":
            node.refuse(f"ArgMin of {x.dtype} is not supported (irtoy finds it as the ArgMax of -x: floats only)")
        x = -x if sign < 0 else x
        if last:
            x = x[along(axis, x.ndim, slice(None, None, -1))]
        index = np.argmax(x, axis=axis, keepdims=keepdims).astype(np.int64)
        return np.asarray(x.shape[axis] - 1, np.int64) - index if last else index
    return arg


# -- shapes and movement -----------------------------------------------------------------------

def shape(node, x):
    start, end = node.attr("start", 0), node.attr("end", None)
    return np.array(x.shape[slice(start, end)], np.int64)


def size(node, x):
    return np.array(math.prod(x.shape), np.int64)


def constant(node):
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        value = node.attr(key)
        if value is not None:
            dtype = np.float32 if "float" in key else np.int64 if "int" in key else None
            return np.asarray(value, dtype)
    node.refuse("a Constant of strings or a sparse tensor is not supported")


def constant_of_shape(node, dims):
    value = node.attr("value")
    value = np.zeros(1, np.float32) if value is None else value
    return np.full(node.ints(dims, "shape"), value.reshape(()), value.dtype)


def reshape(node, x, dims):
    dims = list(node.ints(dims, "shape"))
    if not node.attr("allowzero", 0):
        dims = [x.shape[i] if d == 0 else d for i, d in enumerate(dims)]
    return np.reshape(x, dims)


def flatten(node, x):
    axis = node.attr("axis", 1)
    axis = axis + x.ndim if axis < 0 else axis
    return np.reshape(x, (math.prod(x.shape[:axis]), math.prod(x.shape[axis:])))


def transpose(node, x):
    perm = node.attr("perm")
    return np.transpose(x, None if perm is None else tuple(perm))


def squeeze(node, x, axes_input=None):
    axes = axes_of(node, axes_input, x.ndim)
    return np.squeeze(x, axis=axes) if axes is None or axes else x


def unsqueeze(node, x, axes_input=None):
    axes = node.ints(axes_input, "axes") if axes_input is not None else tuple(node.attr("axes"))
    return np.expand_dims(x, tuple(axes))


def concat(node, *xs):
    return np.concatenate(list(xs), axis=node.attr("axis"))


def split(node, x, sizes=None):
    axis = node.attr("axis", 0) % x.ndim
    sizes = node.ints(sizes, "split") if sizes is not None else node.attr("split")
    count = node.attr("num_outputs") or len(node.proto.output)
    if sizes is None:
        step = -(-x.shape[axis] // count)
        sizes = [min(step, x.shape[axis] - k * step) for k in range(count)]
    starts = np.cumsum([0] + list(sizes))
    return tuple(x[along(axis, x.ndim, slice(int(a), int(b)))] for a, b in zip(starts[:-1], starts[1:]))


def slice_(node, x, starts=None, ends=None, axes=None, steps=None):
    if starts is None:                              # opset 1-9: attributes
        starts, ends, axes = node.attr("starts"), node.attr("ends"), node.attr("axes")
    else:
        starts, ends = node.ints(starts, "starts"), node.ints(ends, "ends")
        axes, steps = node.ints(axes, "axes"), node.ints(steps, "steps")
    axes = range(len(starts)) if axes is None else [a % x.ndim for a in axes]
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * x.ndim
    for axis, start, end, step in zip(axes, starts, ends, steps):
        if step == 0:
            node.refuse("a Slice step of 0")
        index[axis] = slice(start, None if step < 0 and end < -x.shape[axis] else end, step)
    return x[tuple(index)]


def expand(node, x, dims):
    return np.broadcast_to(x, np.broadcast_shapes(x.shape, node.ints(dims, "shape")))


def tile(node, x, repeats):
    for axis, count in enumerate(node.ints(repeats, "repeats")):
        x = np.concatenate([x] * count, axis=axis) if count else x[along(axis, x.ndim, slice(0, 0))]
    return x


def pad_axis(x, axis, before, after, mode, value):
    """x padded on one axis: by `value` (mode constant), its mirror image, edge or wrap."""
    if before < 0 or after < 0:
        x = x[along(axis, x.ndim, slice(max(-before, 0), x.shape[axis] - max(-after, 0)))]
        before, after = max(before, 0), max(after, 0)
    if not before and not after:
        return x
    n = x.shape[axis]

    def part(start, stop, step=1):
        return x[along(axis, x.ndim, slice(start, stop, step))]

    def block(count):
        return full(x.shape[:axis] + (count,) + x.shape[axis + 1:], value, x.dtype)
    if mode == "constant":
        parts = [block(before), x, block(after)]
    elif mode == "reflect":
        if before >= n or after >= n:
            raise IrtoyError(f"reflect padding of {max(before, after)} on an axis of only {n}")
        parts = [part(before, 0, -1), x, part(n - 2, n - 2 - after, -1)]
    elif mode == "edge":
        edge = lambda k, count: np.broadcast_to(part(k, k + 1), x.shape[:axis] + (count,) + x.shape[axis + 1:])  # noqa
        parts = [edge(0, before), x, edge(n - 1, after)]
    elif mode == "wrap":
        parts = [part(n - before, n), x, part(0, after)]
    else:
        raise IrtoyError(f"Pad mode {mode!r} is not one of constant, reflect, edge, wrap")
    return np.concatenate([p for p in parts if p.shape[axis]], axis=axis)


def pad(node, x, pads=None, value=None, axes=None):
    mode = node.attr("mode", "constant")
    pads = node.ints(pads, "pads") if pads is not None else tuple(node.attr("pads"))
    value = node.attr("value", 0.0) if value is None else node.static(value, "padding value")
    axes = range(x.ndim) if axes is None else [a % x.ndim for a in node.ints(axes, "axes")]
    axes = list(axes)
    for k, axis in enumerate(axes):
        x = pad_axis(x, axis, pads[k], pads[k + len(axes)], mode, value)
    return x


def where(node, condition, a, b):
    return np.where(condition, a, b)


def identity(node, x):
    return x


def dropout(node, x, ratio=None, training=None):
    node.attr("seed")
    training = node.static(training, "training_mode")
    if training is not None and bool(training) and float(node.static(ratio, "ratio") if ratio is not None else 0.5):
        node.refuse("Dropout in training mode draws ONNX's random numbers, which irtoy cannot reproduce")
    node.attr("ratio")              # opset < 12: an attribute, used in training only
    node.attr("is_test")
    return (x, np.ones(x.shape, bool)) if len(node.proto.output) > 1 else x


def gather(node, data, indices):
    axis = node.attr("axis", 0) % data.ndim
    return take(data, indices, axis)


def take(data, indices, axis):
    """np.take(data, indices, axis) with ONNX's negative indices: by irtoy's op for it when there
    is one, else as a where-select over a one-hot comparison (exact: one term per sum is kept)."""
    n = data.shape[axis]
    if not is_traced(indices):
        indices = np.asarray(indices)
        indices = np.where(indices < 0, indices + n, indices)
        if not is_traced(data) or np.take in _traceable():
            return np.take(data, indices, axis=axis)
        picked = [data[along(axis, data.ndim, slice(int(i), int(i) + 1))] for i in indices.ravel()]
        if picked and len(picked) <= 16:
            flat = np.concatenate(picked, axis=axis)
            return np.reshape(flat, data.shape[:axis] + indices.shape + data.shape[axis + 1:])
    if np.take in _traceable():
        return np.take(data, np.where(indices < 0, indices + n, indices), axis=axis)
    indices = np.where(indices < 0, indices + np.asarray(n, indices.dtype), indices)
    hits = np.expand_dims(indices, -1) == np.arange(n, dtype=indices.dtype)       # I + (n,)
    before, count, after = axis, indices.ndim, data.ndim - axis - 1
    hits = np.reshape(hits, (1,) * before + hits.shape + (1,) * after)
    spread = np.reshape(data, data.shape[:axis] + (1,) * count + data.shape[axis:])
    kind = data.dtype
    values = cast_to(spread, np.uint8) if kind == bool else spread
    chosen = np.sum(np.where(hits, values, np.zeros((), values.dtype)), axis=before + count)
    return cast_to(chosen, kind)


def gather_elements(node, data, indices):
    """out[i, j, k] = data[indices[i, j, k], j, k] (axis 0): a where-select over a one-hot
    comparison, summed, as in `take`."""
    axis = node.attr("axis", 0) % data.ndim
    n = data.shape[axis]
    data = data[tuple(slice(0, d) if k != axis else slice(None) for k, d in enumerate(indices.shape))]
    indices = np.where(indices < 0, indices + np.asarray(n, indices.dtype), indices)
    hits = np.expand_dims(indices, -1) == np.arange(n, dtype=indices.dtype)         # indices.shape + (n,)
    moved = np.expand_dims(move_axis(data, axis, -1), axis)
    values = cast_to(moved, np.uint8) if data.dtype == bool else moved
    return cast_to(np.sum(np.where(hits, values, np.zeros((), values.dtype)), axis=-1), data.dtype)


def one_hot(node, indices, depth, values):
    depth = int(node.static(depth, "depth").reshape(()))
    axis = node.attr("axis", -1)
    indices = np.where(indices < 0, indices + np.asarray(depth, indices.dtype), indices)
    hits = np.expand_dims(indices, -1) == np.arange(depth, dtype=indices.dtype)
    result = np.where(hits, values[1], values[0])
    return move_axis(result, -1, axis % result.ndim)


def eye_like(node, x):
    dtype = x.dtype if node.attr("dtype") is None else onnx_dtype(node.attr("dtype"), "the dtype of EyeLike")
    return np.eye(x.shape[0], x.shape[1], k=node.attr("k", 0), dtype=dtype)


def trilu(node, x, k=None):
    k = 0 if k is None else int(node.static(k, "k").reshape(()))
    rows, columns = x.shape[-2:]
    keep = np.triu(np.ones((rows, columns), bool), k) if node.attr("upper", 1) else \
        np.tril(np.ones((rows, columns), bool), k)
    return np.where(keep, x, np.zeros((), x.dtype))


def cumsum(node, x, axis):
    axis = int(node.static(axis, "axis").reshape(())) % x.ndim
    reverse = node.attr("reverse", 0)
    x = x[along(axis, x.ndim, slice(None, None, -1))] if reverse else x
    total = np.cumsum(x, axis=axis)
    if node.attr("exclusive", 0):
        zeros = full(x.shape[:axis] + (1,) + x.shape[axis + 1:], 0, total.dtype)
        total = np.concatenate([zeros, total[along(axis, x.ndim, slice(0, -1))]], axis=axis)
    total = cast_to(total, x.dtype)
    return total[along(axis, x.ndim, slice(None, None, -1))] if reverse else total


def lp_normalization(node, x):
    axis, p = node.attr("axis", -1), node.attr("p", 2)
    if p not in (1, 2):
        node.refuse(f"LpNormalization with p={p} (only 1 and 2)")
    norm = np.sum(np.abs(x), axis=axis, keepdims=True) if p == 1 else \
        np.sqrt(np.sum(x * x, axis=axis, keepdims=True))
    return np.where(norm == np.zeros((), norm.dtype), np.zeros((), x.dtype), x / norm)


def range_(node, start, limit, delta):
    start, limit, delta = (node.static(v, "Range bound") for v in (start, limit, delta))
    return np.arange(start, limit, delta, dtype=start.dtype)


def depth_to_space(node, x):
    b, c, h, w = x.shape
    k = node.attr("blocksize")
    if node.attr("mode", "DCR") == "DCR":
        y = np.transpose(np.reshape(x, (b, k, k, c // (k * k), h, w)), (0, 3, 4, 1, 5, 2))
    else:
        y = np.transpose(np.reshape(x, (b, c // (k * k), k, k, h, w)), (0, 1, 4, 2, 5, 3))
    return np.reshape(y, (b, c // (k * k), h * k, w * k))


def space_to_depth(node, x):
    if node.attr("mode", "DCR") != "DCR":
        node.refuse(f"SpaceToDepth mode {node.attr('mode')!r} is not supported (only DCR)")
    b, c, h, w = x.shape
    k = node.attr("blocksize")
    y = np.transpose(np.reshape(x, (b, c, h // k, k, w // k, k)), (0, 3, 5, 1, 2, 4))
    return np.reshape(y, (b, c * k * k, h // k, w // k))


# -- contractions ------------------------------------------------------------------------------

def gemm(node, a, b, c=None):
    alpha, beta = node.attr("alpha", 1.0), node.attr("beta", 1.0)
    a = np.transpose(a) if node.attr("transA", 0) else a
    b = np.transpose(b) if node.attr("transB", 0) else b
    y = np.matmul(a, b)
    if alpha != 1.0:
        y = y * np.asarray(alpha, y.dtype)
    if c is not None and beta != 0.0:
        y = y + (c if beta == 1.0 else c * np.asarray(beta, c.dtype))
    return y


def einsum(node, *xs):
    return np.einsum(node.attr("equation"), *xs)


# -- normalisation and softmax -----------------------------------------------------------------

def softmax_like(kind):
    """Softmax, LogSoftmax, Hardmax: on one axis from opset 13, on the flattened trailing axes
    before (ONNX's older definition)."""
    def apply(node, x):
        old = node.opset < 13
        axis = node.attr("axis", 1 if old else -1) % max(x.ndim, 1)
        shape = x.shape
        if old:
            x = np.reshape(x, (math.prod(shape[:axis]), math.prod(shape[axis:])))
            axis = 1
        if kind == "hardmax":
            best = np.expand_dims(np.argmax(x, axis=axis), axis)
            positions = np.reshape(np.arange(x.shape[axis]), [-1 if i == axis else 1 for i in range(x.ndim)])
            y = cast_to(best == positions, x.dtype)
        else:
            z = x - np.max(x, axis=axis, keepdims=True)
            total = np.sum(np.exp(z), axis=axis, keepdims=True)
            y = z - np.log(total) if kind == "log" else np.exp(z) / total
        return np.reshape(y, shape)
    return apply


def normalize(x, axes, epsilon):
    """(x - mean) / sqrt(var + eps) over `axes`, with the mean and 1 / sqrt(var + eps)."""
    mean = np.mean(x, axis=axes, keepdims=True)
    centred = x - mean
    inverse = np.ones((), x.dtype) / np.sqrt(np.mean(centred * centred, axis=axes, keepdims=True)
                                             + np.asarray(epsilon, x.dtype))
    return centred * inverse, mean, inverse


def channel_shape(x):
    return (1, -1) + (1,) * (x.ndim - 2)


def batch_norm(node, x, scale, bias, mean, var, *more):
    if node.attr("training_mode", 0) or len(node.proto.output) > 1:
        node.refuse("BatchNormalization in training mode is not supported (only inference)")
    node.attr("momentum")
    node.attr("spatial")
    node.attr("is_test")
    eps = np.asarray(node.attr("epsilon", 1e-5), x.dtype)
    shaped = lambda v: np.reshape(cast_to(v, x.dtype), channel_shape(x))    # noqa: E731
    return (x - shaped(mean)) / np.sqrt(shaped(var) + eps) * shaped(scale) + shaped(bias)


def instance_norm(node, x, scale, bias):
    y, _, _ = normalize(x, tuple(range(2, x.ndim)), node.attr("epsilon", 1e-5))
    return y * np.reshape(scale, channel_shape(x)) + np.reshape(bias, channel_shape(x))


def layer_norm(node, x, scale, bias=None):
    axis = node.attr("axis", -1) % x.ndim
    stash = node.attr("stash_type", 1)
    wide = cast_to(x, np.float32) if stash == 1 and x.dtype == np.float16 else x
    y, mean, inverse = normalize(wide, tuple(range(axis, x.ndim)), node.attr("epsilon", 1e-5))
    y = cast_to(y, x.dtype) * scale
    y = y if bias is None else y + bias
    return (y, mean, inverse)[:len(node.proto.output)]


# -- convolution and pooling -------------------------------------------------------------------

def spatial_pads(node, x, window, strides):
    """The (before, after) padding of each spatial axis, from pads or auto_pad."""
    spatial = x.shape[2:]
    auto = node.attr("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for size, k, s in zip(spatial, window, strides):
            total = max((-(-size // s) - 1) * s + k - size, 0)
            small = total // 2
            pads.append((small, total - small) if auto == "SAME_UPPER" else (total - small, small))
        return pads
    if auto == "VALID":
        return [(0, 0)] * len(spatial)
    given = node.attr("pads") or [0] * (2 * len(spatial))
    return list(zip(given[:len(spatial)], given[len(spatial):]))


def as_2d(x):
    """A 1-d image (N, C, L) as a 2-d one (N, C, 1, L); 2-d images as they are."""
    if x.ndim == 3:
        return np.expand_dims(x, 2)
    if x.ndim != 4:
        raise IrtoyError(f"irtoy convolves and pools 1-d and 2-d images, not {x.ndim - 2}-d ones")
    return x


def pair(values, one_d, fill):
    return (fill,) + tuple(values) if one_d else tuple(values)


def window_attrs(node, x, kernel):
    strides = tuple(node.attr("strides") or [1] * len(kernel))
    dilations = tuple(node.attr("dilations") or [1] * len(kernel))
    if any(d != 1 for d in dilations):
        node.refuse(f"dilations {list(dilations)} are not supported (only 1)")
    return strides, spatial_pads(node, x, kernel, strides)


def padded(x, pads, value):
    for k, (before, after) in enumerate(pads):
        x = pad_axis(x, 2 + k, before, after, "constant", value)
    return x


def conv(node, x, w, bias=None):
    kernel = tuple(node.attr("kernel_shape") or w.shape[2:])
    strides, pads = window_attrs(node, x, kernel)
    one_d, groups = x.ndim == 3, node.attr("group", 1)
    x, w = as_2d(x), as_2d(w)
    symmetric = all(a == b for a, b in pads)
    if not symmetric:
        x = padded(x, pads, 0)
    padding = pair([a for a, _ in pads], one_d, 0) if symmetric else (0, 0)
    stride = pair(strides, one_d, 1)
    step_in, step_out = x.shape[1] // groups, w.shape[0] // groups
    y = np.concatenate([ops.conv2d(x[:, g * step_in:(g + 1) * step_in], w[g * step_out:(g + 1) * step_out],
                                   stride=stride, padding=padding) for g in range(groups)], axis=1) \
        if groups > 1 else ops.conv2d(x, w, stride=stride, padding=padding)
    if bias is not None:
        y = y + np.reshape(bias, (1, -1, 1, 1))
    return y[:, :, 0] if one_d else y


def conv_transpose(node, x, w, bias=None):
    kernel = tuple(node.attr("kernel_shape") or w.shape[2:])
    strides = tuple(node.attr("strides") or [1] * len(kernel))
    if node.attr("group", 1) != 1 or any(d != 1 for d in node.attr("dilations") or []):
        node.refuse("ConvTranspose with groups or dilations is not supported")
    one_d = x.ndim == 3
    x, w = as_2d(x), as_2d(w)
    extra = tuple(node.attr("output_padding") or [0] * len(kernel))
    full_size = [(i - 1) * s + k + e for i, s, k, e in zip(x.shape[2 + one_d:], strides, kernel, extra)]
    target = node.attr("output_shape")
    auto = node.attr("auto_pad", "NOTSET")
    spatial = x.shape[2 + one_d:]
    if target is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
        target = list(target)[-len(kernel):] if target is not None else [i * s for i, s in zip(spatial, strides)]
        totals = [f - t for f, t in zip(full_size, target)]
        pads = [(t // 2, t - t // 2) if auto == "SAME_UPPER" else (t - t // 2, t // 2) for t in totals]
    else:
        given = node.attr("pads") or [0] * (2 * len(kernel))
        pads = list(zip(given[:len(kernel)], given[len(kernel):]))
    stride = pair(strides, one_d, 1)
    if all(b == a >= 0 for b, a in pads) and not any(extra):
        y = ops.conv_transpose2d(x, w, stride=stride, padding=pair([b for b, _ in pads], one_d, 0),
                                 image_size=pair([f - b - a for f, (b, a) in zip(full_size, pads)], one_d, 1))
    else:       # the whole result, then cropped (or widened with zeros) as the pads say
        y = ops.conv_transpose2d(x, w, stride=stride, padding=0, image_size=pair(full_size, one_d, 1))
        for k, (before, after) in enumerate(pads):
            y = pad_axis(y, 2 + one_d + k, -before, -after, "constant", 0)
    if bias is not None:
        y = y + np.reshape(bias, (1, -1, 1, 1))
    return y[:, :, 0] if one_d else y


def pool(kind):
    def apply(node, x):
        if len(node.proto.output) > 1:
            node.refuse("MaxPool's Indices output is not supported")
        kernel = tuple(node.attr("kernel_shape"))
        strides, pads = window_attrs(node, x, kernel)
        node.attr("storage_order")
        one_d = x.ndim == 3
        if node.attr("ceil_mode", 0):
            if kind != "max":
                node.refuse("AveragePool with ceil_mode=1 is not supported")
            pads = [(b, a + ceil_extra(size, k, s, b + a)) for size, k, s, (b, a) in
                    zip(x.shape[2:], kernel, strides, pads)]
        exact_in_float = x.dtype.kind in "iu" and x.dtype.itemsize <= 2 and kind == "max"
        x2 = as_2d(cast_to(x, np.float32) if exact_in_float else x)       # irtoy pools floats
        pads2 = ([(0, 0)] if one_d else []) + list(pads)
        window, stride = pair(kernel, one_d, 1), pair(strides, one_d, 1)
        if kind == "max":
            y = ops.max_pool2d(padded(x2, pads2, np.asarray(-np.inf, x2.dtype)), window, stride)
            y = cast_to(y, x.dtype)
        elif node.attr("count_include_pad", 0) or not any(b or a for b, a in pads):
            y = ops.avg_pool2d(padded(x2, pads2, 0), window, stride)
        else:                       # the mean over each window's entries that are not padding
            ones = np.ones((1, 1) + x2.shape[2:], x.dtype)
            y = ops.avg_pool2d(padded(x2, pads2, 0), window, stride) / \
                ops.avg_pool2d(padded(ones, pads2, 0), window, stride)
        return y[:, :, 0] if one_d else y
    return apply


def ceil_extra(size, k, s, total_pad):
    """Padding to add after an axis so that the window count rounds up (ceil_mode), keeping
    the last window starting inside the input or its left padding."""
    floor_count = (size + total_pad - k) // s + 1
    ceil_count = -(-(size + total_pad - k) // s) + 1
    if (ceil_count - 1) * s >= size + total_pad - (total_pad - total_pad // 2) and ceil_count > floor_count:
        ceil_count -= 1
    return max((ceil_count - 1) * s + k - size - total_pad, 0)


def global_pool(fn):
    return lambda node, x: fn(x, axis=tuple(range(2, x.ndim)), keepdims=True)


IMPORTERS = {
    # elementwise, NumPy's functions
    **{name: unary(fn) for name, fn in {
        "Abs": np.abs, "Neg": np.negative, "Exp": np.exp, "Log": np.log, "Sqrt": np.sqrt, "Sign": np.sign,
        "Sin": np.sin, "Cos": np.cos, "Tan": np.tan, "Tanh": np.tanh, "Sinh": np.sinh, "Cosh": np.cosh,
        "Asin": np.arcsin, "Acos": np.arccos, "Atan": np.arctan, "Asinh": np.arcsinh, "Acosh": np.arccosh,
        "Atanh": np.arctanh, "Floor": np.floor, "Ceil": np.ceil, "Round": np.rint, "Reciprocal": np.reciprocal,
        "BitwiseNot": np.invert, "Erf": erf, "Det": np.linalg.det}.items()},
    "Not": lambda node, x: x == np.zeros((), bool),
    "IsNaN": lambda node, x: x != x,
    **{name: binary(fn) for name, fn in {
        "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Equal": np.equal, "Greater": np.greater,
        "Less": np.less, "GreaterOrEqual": np.greater_equal, "LessOrEqual": np.less_equal,
        "BitwiseAnd": np.bitwise_and, "BitwiseOr": np.bitwise_or, "BitwiseXor": np.bitwise_xor}.items()},
    "And": logical(lambda a, b: np.where(a, b, False)),
    "Or": logical(lambda a, b: np.where(a, True, b)),
    "Xor": logical(np.not_equal),
    "Div": divide, "Pow": power, "Mod": mod, "BitShift": bit_shift,
    "Max": variadic(np.maximum), "Min": variadic(np.minimum), "Sum": variadic(np.add), "Mean": mean,
    "Relu": relu, "LeakyRelu": leaky_relu, "PRelu": prelu, "Elu": elu, "Selu": selu, "Celu": celu,
    "Sigmoid": sigmoid, "HardSigmoid": hard_sigmoid, "HardSwish": hard_swish, "Softplus": softplus,
    "Softsign": softsign, "ThresholdedRelu": thresholded_relu, "Mish": mish, "Gelu": gelu, "Shrink": shrink,
    "Clip": clip, "Cast": cast, "CastLike": cast_like,
    "IsInf": is_inf, "Where": where, "Identity": identity, "Dropout": dropout,
    # reductions
    "ReduceSum": reduction(np.sum), "ReduceMean": reduction(np.mean), "ReduceMax": reduction(np.max),
    "ReduceMin": reduction(np.min), "ReduceProd": reduction(np.prod), "ReduceSumSquare": reduction(sum_of_squares),
    "ReduceL1": reduction(sum_of_abs), "ReduceL2": reduction(sum_of_squares, np.sqrt),
    "ReduceLogSum": reduction(np.sum, np.log), "ReduceLogSumExp": reduction(log_sum_exp),
    "ArgMax": arg_extreme(1), "ArgMin": arg_extreme(-1),
    # shapes and movement
    "Shape": shape, "Size": size, "Constant": constant, "ConstantOfShape": constant_of_shape,
    "Reshape": reshape, "Flatten": flatten, "Transpose": transpose, "Squeeze": squeeze, "Unsqueeze": unsqueeze,
    "Concat": concat, "Split": split, "Slice": slice_, "Expand": expand, "Tile": tile, "Pad": pad,
    "DequantizeLinear": dequantize_linear,
    "Gather": gather, "GatherElements": gather_elements, "OneHot": one_hot, "EyeLike": eye_like, "Trilu": trilu,
    "CumSum": cumsum, "LpNormalization": lp_normalization, "Range": range_, "DepthToSpace": depth_to_space, "SpaceToDepth": space_to_depth,
    # contractions
    "MatMul": binary(np.matmul), "Gemm": gemm, "Einsum": einsum,
    # normalisation, softmax
    "Softmax": softmax_like("softmax"), "LogSoftmax": softmax_like("log"), "Hardmax": softmax_like("hardmax"),
    "BatchNormalization": batch_norm, "InstanceNormalization": instance_norm, "LayerNormalization": layer_norm,
    # windows
    "Conv": conv, "ConvTranspose": conv_transpose, "MaxPool": pool("max"), "AveragePool": pool("average"),
    "GlobalAveragePool": global_pool(np.mean), "GlobalMaxPool": global_pool(np.max),
}
