"""What each ONNX op means, as NumPy-style code: the table `IMPORTERS`, keyed by ONNX op type.

An entry is a function `(node, *inputs) -> output or tuple of outputs`. Inputs are irtoy
Tracers or NumPy arrays (None for an optional input left out), and the code is written with
NumPy functions and irtoy.ops, so the same entry computes on arrays at import (folding shape
arithmetic) and records irtoy ops on Tracers. An ONNX op whose NumPy function irtoy cannot
trace yet (np.floor, np.cumsum, ...) is then refused by irtoy's own tracing, naming the
function, and starts working the day an op for it is declared: adding an ONNX op is one entry.

Neural-network ops (convolution, pooling, normalisation, ...) are in import_nn_ops.py, the
`Node` the rules are given in nodes.py. `node.attr(name, default)` reads an attribute; an
attribute an entry never reads is refused after it ran (it would change the result), so no
entry silently ignores one. `node.static` takes a value that must be known at import (shapes,
axes, pads) and refuses a traced one.
"""
import math

import numpy as np
import scipy.special

from irtoy import ops
from irtoy.errors import IrtoyError
from irtoy.onnx.import_nn_ops import NN_IMPORTERS
from irtoy.onnx.nodes import traceable_functions, along, axes_of, cast_to, full, is_traced, move_axis, pad_axis, take
from irtoy.onnx.tensors import onnx_dtype

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
    computed_now = not is_traced(a) and not is_traced(b)
    if computed_now or fn in traceable_functions() or a.dtype.kind == "f" or a.dtype.itemsize > 4:
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
    if not is_traced(x) or scipy.special.erf in traceable_functions():
        return scipy.special.erf(x)
    if x.dtype not in (np.float16, np.float32):
        raise IrtoyError(f"Erf of {x.dtype} needs an erf op, which irtoy does not have yet")
    c = lambda v: np.asarray(v, x.dtype)        # noqa: E731
    a = np.abs(x)
    t = c(1) / (c(1) + c(ERF_P) * a)
    poly = t * (c(ERF_A[0]) + t * (c(ERF_A[1]) + t * (c(ERF_A[2]) + t * (c(ERF_A[3]) + t * c(ERF_A[4])))))
    return np.sign(x) * (c(1) - poly * np.exp(-a * a))


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


def gather(node, data, indices):
    axis = node.attr("axis", 0) % data.ndim
    return take(data, indices, axis)


def wrapped(indices, n):
    """ONNX's negative indices (counted from the end of an axis of length n) made positive."""
    return np.where(indices < 0, indices + np.asarray(n, indices.dtype), indices)


def along_axis(indices, axis, n):
    """The NumPy index that picks, for each entry of `indices`, position indices[i, j, k] on
    `axis` and the entry's own position on every other axis (GatherElements' and
    ScatterElements' positions): out[i, j, k] = data[indices[i, j, k], j, k] for axis 0."""
    return tuple(wrapped(indices, n) if k == axis else
                 np.arange(d).reshape([-1 if j == k else 1 for j in range(indices.ndim)])
                 for k, d in enumerate(indices.shape))


def gather_elements(node, data, indices):
    """out[i, j, k] = data[indices[i, j, k], j, k] (axis 0): one gather (irtoy's own, so that
    a constant table read at traced indices reaches the tracer)."""
    axis = node.attr("axis", 0) % data.ndim
    index = along_axis(indices, axis, data.shape[axis])
    if not is_traced(data) and not is_traced(indices):
        return data[index]
    return ops.gather(data, index, axes=tuple(range(data.ndim)))


def scatter_elements(node, data, indices, updates):
    """data with updates[i, j, k] written at [i, indices[i, j, k], k] (axis 1), or combined with
    what is there (reduction add, max, min). Writing is a scatter-add of the updates onto
    zeros, kept where some update landed (ONNX leaves repeated indices undefined; here they
    add up); max and min compare over a one-hot of the indices, as no op scatters them."""
    axis = node.attr("axis", 0) % data.ndim
    reduction = node.attr("reduction", "none")
    n = data.shape[axis]
    if reduction == "add":
        return ops.scatter_add(data, along_axis(indices, axis, n), updates)
    if reduction == "none":
        return written_over(data, along_axis(indices, axis, n), updates)
    if reduction not in ("max", "min"):
        node.refuse(f"ScatterElements with reduction {reduction!r} is not supported")
    if data.dtype.kind != "f":
        node.refuse(f"ScatterElements with reduction {reduction!r} of {data.dtype} is not supported")
    if any(a != b for k, (a, b) in enumerate(zip(indices.shape, data.shape)) if k != axis):
        node.refuse(f"ScatterElements with reduction {reduction!r} and indices smaller than the data on "
                    f"other axes than `axis` is not supported")
    hits = np.expand_dims(wrapped(indices, n), -1) == np.arange(n, dtype=indices.dtype)  # indices.shape + (n,)
    spread = np.expand_dims(updates, -1)
    fn, identity = (np.max, -np.inf) if reduction == "max" else (np.min, np.inf)
    placed = move_axis(fn(np.where(hits, spread, np.asarray(identity, data.dtype)), axis=axis), -1, axis)
    written = move_axis(np.max(cast_to(hits, np.uint8), axis=axis), -1, axis) > 0
    combined = (np.maximum if reduction == "max" else np.minimum)(data, placed)
    return np.where(written, combined, data)


def written_over(data, index, updates):
    """data with `updates` written at data[index]: where an update lands, the sum of those
    landing there (one, unless the index repeats), elsewhere data."""
    counts = ops.scatter_add(np.zeros(data.shape, np.int32), index, np.ones(np.shape(updates), np.int32))
    kind = np.uint8 if data.dtype == bool else data.dtype
    placed = ops.scatter_add(np.zeros(data.shape, kind), index, cast_to(updates, kind))
    return np.where(counts > 0, cast_to(placed, data.dtype), data)


def flat_positions(node, data, indices):
    """For indices (..., k) into data's first k axes: the flat position of each in those axes."""
    k = indices.shape[-1]
    if node.attr("batch_dims", 0):
        node.refuse("batch_dims is not supported")
    strides = np.cumprod((data.shape[1:k] + (1,))[::-1])[::-1].astype(np.int64)
    wrapped = np.where(indices < 0, cast_to(indices, np.int64) + np.asarray(data.shape[:k], np.int64),
                       cast_to(indices, np.int64))
    return np.sum(wrapped * strides, axis=-1), k


def gather_nd(node, data, indices):
    positions, k = flat_positions(node, data, indices)
    flat = np.reshape(data, (int(np.prod(data.shape[:k])),) + data.shape[k:])
    return take(flat, positions, 0)


def scatter_nd(node, data, indices, updates):
    """data with updates written (or added, reduction add) at the index tuples `indices`."""
    reduction = node.attr("reduction", "none")
    if reduction not in ("none", "add"):
        node.refuse(f"ScatterND with reduction {reduction!r} is not supported")
    positions, k = flat_positions(node, data, indices)
    flat = np.reshape(data, (int(np.prod(data.shape[:k])),) + data.shape[k:])
    if reduction == "add":
        return np.reshape(ops.scatter_add(flat, (positions,), updates), data.shape)
    return np.reshape(written_over(flat, (positions,), updates), data.shape)


def top_k(node, x, k):
    """The k largest (or smallest) entries along `axis` and their indices, ties to the lower
    index: the first k of a stable argsort, of the entries in reverse order for the largest
    (-x for floats, ~x for integers and booleans: both keep ties equal). NaN counts as the
    largest, as in onnxruntime and ONNX's reference: for the largest, a second stable argsort
    moves the NaNs (last after the first) to the front."""
    k = int(node.static(k, "k").reshape(-1)[0])
    axis, largest = node.attr("axis", -1) % x.ndim, node.attr("largest", 1)
    node.attr("sorted")                 # the results come sorted either way
    key = x if not largest else -x if x.dtype.kind == "f" else np.invert(x)
    order = np.argsort(key, axis=axis, kind="stable")
    if largest and x.dtype.kind == "f":
        not_nan = cast_to(~np.isnan(np.take_along_axis(x, order, axis)), np.int8)
        order = np.take_along_axis(order, np.argsort(not_nan, axis=axis, kind="stable"), axis)
    order = order[along(axis, x.ndim, slice(0, k))]
    return np.take_along_axis(x, order, axis), order


def reverse_sequence(node, x, lengths):
    """Each batch entry's first `length` steps reversed, the rest as they are (lengths known)."""
    time_axis, batch_axis = node.attr("time_axis", 0), node.attr("batch_axis", 1)
    lengths = node.ints(lengths, "sequence_lens")
    rows = []
    for b, length in enumerate(lengths):
        row = x[along(batch_axis, x.ndim, slice(b, b + 1))]
        head = row[along(time_axis, x.ndim, slice(length - 1, None, -1) if length else slice(0, 0))]
        tail = row[along(time_axis, x.ndim, slice(length, None))]
        rows.append(np.concatenate([part for part in (head, tail) if part.shape[time_axis]], axis=time_axis))
    return np.concatenate(rows, axis=batch_axis)


def without_zero_point(x, zero_point):
    """x - zero_point in int32, as the integer ops compute."""
    x = cast_to(x, np.int32)
    return x if zero_point is None else x - cast_to(zero_point, np.int32)


def matmul_integer(node, a, b, a_zero=None, b_zero=None):
    if a_zero is not None and a_zero.ndim == 1:         # one zero point per row of a
        a_zero = np.reshape(a_zero, (-1, 1))
    return np.matmul(without_zero_point(a, a_zero), without_zero_point(b, b_zero))


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
    "Clip": clip, "Cast": cast, "CastLike": cast_like, "IsInf": is_inf, "Where": where, "Identity": identity,
    "DequantizeLinear": dequantize_linear,
    # reductions
    "ReduceSum": reduction(np.sum), "ReduceMean": reduction(np.mean), "ReduceMax": reduction(np.max),
    "ReduceMin": reduction(np.min), "ReduceProd": reduction(np.prod), "ReduceSumSquare": reduction(sum_of_squares),
    "ReduceL1": reduction(sum_of_abs), "ReduceL2": reduction(sum_of_squares, np.sqrt),
    "ReduceLogSum": reduction(np.sum, np.log), "ReduceLogSumExp": reduction(log_sum_exp),
    "ArgMax": arg_extreme(1), "ArgMin": arg_extreme(-1), "CumSum": cumsum, "TopK": top_k,
    # shapes and movement
    "Shape": shape, "Size": size, "Constant": constant, "ConstantOfShape": constant_of_shape,
    "Reshape": reshape, "Flatten": flatten, "Transpose": transpose, "Squeeze": squeeze, "Unsqueeze": unsqueeze,
    "Concat": concat, "Split": split, "Slice": slice_, "Expand": expand, "Tile": tile, "Pad": pad,
    "Gather": gather, "GatherElements": gather_elements, "GatherND": gather_nd, "ScatterND": scatter_nd,
    "ScatterElements": scatter_elements, "Scatter": scatter_elements,
    "OneHot": one_hot, "EyeLike": eye_like, "Trilu": trilu,
    "ReverseSequence": reverse_sequence, "MatMulInteger": matmul_integer,
    "Range": range_, "DepthToSpace": depth_to_space, "SpaceToDepth": space_to_depth,
    # products, softmax, normalisation, convolution and pooling: import_nn_ops.py
    **NN_IMPORTERS,
}
