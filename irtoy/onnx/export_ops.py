"""How each irtoy op is written in ONNX: the table `EXPORTERS`, keyed by irtoy op name.

A rule is `(writer, node, args, specs)`: the irtoy node's attributes (node["attrs"]), its
arguments' ONNX value names and Specs. It adds ONNX nodes with `writer.emit`, the last one
with `final=True` (it computes the irtoy node's value); `writer.cast`, `writer.const` and
`writer.ints` make casts and constants. tests/test_onnx_export.py checks every op of the
registry has a rule here and runs each in onnxruntime against the interpreter.
"""
import numpy as np

from irtoy.ops.normalize import numpy_index

INT64_MIN = np.iinfo(np.int64).min


def same_type(w, node, args, specs, dtype=None):
    """The arguments cast to the node's dtype (or `dtype`)."""
    dtype = node["dtype"] if dtype is None else dtype
    return [w.cast(a, s.dtype, dtype) for a, s in zip(args, specs)]


def arithmetic(op_type):
    """An elementwise op computed in the result's dtype (NumPy promotes, ONNX does not)."""
    def rule(w, node, args, specs):
        w.emit(op_type, same_type(w, node, args, specs), final=True)
    return rule


def negative(w, node, args, specs):
    if node["dtype"].kind == "u":       # ONNX's Neg takes signed numbers: 0 - x wraps as NumPy's
        w.emit("Sub", [w.const(np.zeros((), node["dtype"])), args[0]], final=True)
    else:
        w.emit("Neg", args, final=True)


def power(w, node, args, specs):
    """ONNX's Pow takes 32- and 64-bit numbers: narrower integers are raised in int64 and
    wrapped back (the same result modulo their width, as NumPy's own wrap-around)."""
    dtype = node["dtype"]
    if dtype.kind in "iu" and dtype != np.int32:
        wide = same_type(w, node, args, specs, np.int64)
        w.emit("Cast", [w.emit("Pow", wide)], to=w.onnx.helper.np_dtype_to_tensor_dtype(dtype), final=True)
    else:
        w.emit("Pow", same_type(w, node, args, specs), final=True)


def comparison(op_type, negate=False):
    def rule(w, node, args, specs):
        common = np.result_type(*[s.dtype for s in specs])
        result = w.emit(op_type, same_type(w, node, args, specs, common), final=not negate)
        if negate:
            w.emit("Not", [result], final=True)
    return rule


def arctan2(w, node, args, specs):
    """atan(y / x), turned by pi where x is negative; a sign is negative where 1 / value is
    (so -0.0 counts, as NumPy's arctan2 counts it); where x and y are both zero, 0 or pi."""
    y, x = same_type(w, node, args, specs)
    dtype = node["dtype"]
    zero, one, pi = (w.const(np.asarray(v, dtype)) for v in (0, 1, np.pi))
    x_negative = w.emit("Less", [w.emit("Div", [one, x]), zero])
    y_negative = w.emit("Less", [w.emit("Div", [one, y]), zero])
    turn = w.emit("Where", [x_negative, w.emit("Where", [y_negative, w.emit("Neg", [pi]), pi]), zero])
    general = w.emit("Add", [w.emit("Atan", [w.emit("Div", [y, x])]), turn])
    both_zero = w.emit("And", [w.emit("Equal", [x, zero]), w.emit("Equal", [y, zero])])
    at_origin = w.emit("Where", [x_negative, turn, y])
    w.emit("Where", [both_zero, at_origin, general], final=True)


def hypot(w, node, args, specs):
    """sqrt(x**2 + y**2) without underflow or overflow: the larger of |x|, |y| times
    sqrt(1 + (smaller / larger)**2)."""
    x, y = same_type(w, node, args, specs)
    zero, one = (w.const(np.asarray(v, node["dtype"])) for v in (0, 1))
    a, b = w.emit("Abs", [x]), w.emit("Abs", [y])
    big, small = w.emit("Max", [a, b]), w.emit("Min", [a, b])
    ratio = w.emit("Div", [small, w.emit("Where", [w.emit("Equal", [big, zero]), one, big])])
    w.emit("Mul", [big, w.emit("Sqrt", [w.emit("Add", [one, w.emit("Mul", [ratio, ratio])])])], final=True)


def where(w, node, args, specs):
    condition = w.cast(args[0], specs[0].dtype, bool)
    w.emit("Where", [condition] + same_type(w, node, args[1:], specs[1:]), final=True)


def cast(w, node, args, specs):
    w.emit("Cast", args, to=w.onnx.helper.np_dtype_to_tensor_dtype(node["dtype"]), final=True)


def reduction(op_type, cast_first):
    """sum and mean compute in their result dtype (NumPy's sum of int32 is int64)."""
    def rule(w, node, args, specs):
        x = same_type(w, node, args, specs)[0] if cast_first else args[0]
        axes = node["attrs"]["axis"]
        if not axes:
            w.emit("Identity", [x], final=True)
            return
        w.emit(op_type, [x, w.ints(axes)], keepdims=int(node["attrs"]["keepdims"]), final=True)
    return rule


def argmax(w, node, args, specs):
    axis, keepdims = node["attrs"]["axis"], node["attrs"]["keepdims"]
    if axis is not None:
        w.emit("ArgMax", args, axis=axis, keepdims=int(keepdims), final=True)
        return
    flat = w.emit("Reshape", [args[0], w.ints([-1])])
    index = w.emit("ArgMax", [flat], axis=0, keepdims=0, final=not keepdims)
    if keepdims:
        w.emit("Reshape", [index, w.ints([1] * len(specs[0].shape))], final=True)


def matmul(w, node, args, specs):
    w.emit("MatMul", same_type(w, node, args, specs), final=True)


def reshape(w, node, args, specs):
    w.emit("Reshape", [args[0], w.ints(node["attrs"]["shape"])], final=True)


def transpose(w, node, args, specs):
    w.emit("Transpose", args, perm=list(node["attrs"]["axes"]), final=True)


def broadcast_to(w, node, args, specs):
    w.emit("Expand", [args[0], w.ints(node["attrs"]["shape"])], final=True)


def expand_dims(w, node, args, specs):
    w.emit("Unsqueeze", [args[0], w.ints(node["attrs"]["axis"])], final=True)


def squeeze(w, node, args, specs):
    axes = node["attrs"]["axis"]
    if axes:
        w.emit("Squeeze", [args[0], w.ints(axes)], final=True)
    else:
        w.emit("Identity", args, final=True)


def getitem(w, node, args, specs):
    """Basic indexing: one Slice over the sliced and indexed axes, a Squeeze of the indexed
    ones, an Unsqueeze for each None."""
    index = node["attrs"]["index"]
    picks = [i for i in index if i is not None]         # one per input axis
    starts, ends, steps, axes, dropped = [], [], [], [], []
    for axis, i in enumerate(picks):
        if isinstance(i, tuple):
            start, stop, step = i
            if (start, stop, step) == (0, specs[0].shape[axis], 1):
                continue
            starts.append(start)
            ends.append(INT64_MIN if stop < 0 else stop)    # a negative step running to index 0
            steps.append(step)
        else:
            starts.append(i)
            ends.append(i + 1)
            steps.append(1)
            dropped.append(axis)
        axes.append(axis)
    x = args[0]
    new_axes = [k for k, i in enumerate([i for i in index if not isinstance(i, int)]) if i is None]
    steps_left = [bool(axes), bool(dropped), bool(new_axes)]
    if axes:
        x = w.emit("Slice", [x, w.ints(starts), w.ints(ends), w.ints(axes), w.ints(steps)],
                   final=steps_left[1:] == [False, False])
    if dropped:
        x = w.emit("Squeeze", [x, w.ints(dropped)], final=not new_axes)
    if new_axes:
        x = w.emit("Unsqueeze", [x, w.ints(new_axes)], final=True)
    if not any(steps_left):
        w.emit("Identity", [x], final=True)


def scatter(w, node, args, specs):
    """Zeros with x written at a basic index: ScatterND into the flattened zeros at the flat
    positions the index picks (known at export)."""
    shape = node["attrs"]["shape"]
    positions = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)[numpy_index(node["attrs"]["index"])]
    zeros = w.const(np.zeros(int(np.prod(shape)), node["dtype"]), "zeros")
    flat = w.emit("ScatterND", [zeros, w.const(positions[..., None], "positions"), args[0]])
    w.emit("Reshape", [flat, w.ints(shape)], final=True)


def concatenate(w, node, args, specs):
    w.emit("Concat", same_type(w, node, args, specs), axis=node["attrs"]["axis"], final=True)


def pads(padding):
    return [padding[0], padding[1], padding[0], padding[1]]


def conv2d(w, node, args, specs):
    attrs = node["attrs"]
    w.emit("Conv", same_type(w, node, args, specs), pads=pads(attrs["padding"]), strides=list(attrs["stride"]),
           final=True)


def conv_transpose2d(w, node, args, specs):
    attrs = node["attrs"]
    (kh, kw), (oh, ow) = specs[1].shape[2:], specs[0].shape[2:]
    natural = [(o - 1) * s - 2 * p + k for o, s, p, k in zip((oh, ow), attrs["stride"], attrs["padding"], (kh, kw))]
    extra = [size - n for size, n in zip(attrs["image_size"], natural)]
    w.emit("ConvTranspose", same_type(w, node, args, specs), pads=pads(attrs["padding"]),
           strides=list(attrs["stride"]), output_padding=extra, final=True)


def conv2d_weight_grad(w, node, args, specs):
    """dw[o, c, a, b] = sum of g[n, o, i, j] x[n, c, i s + a, j s + b]: a Conv of x (batch and
    channels swapped) with g as the kernel, dilated by the stride, cropped to the kernel size."""
    attrs = node["attrs"]
    x, g = same_type(w, node, args, specs)
    swap = [1, 0, 2, 3]
    out = w.emit("Conv", [w.emit("Transpose", [x], perm=swap), w.emit("Transpose", [g], perm=swap)],
                 pads=pads(attrs["padding"]), dilations=list(attrs["stride"]), strides=[1, 1])
    kh, kw = attrs["kernel_size"]
    cropped = w.emit("Slice", [out, w.ints([0, 0]), w.ints([kh, kw]), w.ints([2, 3])])
    w.emit("Transpose", [cropped], perm=swap, final=True)


def max_pool2d(w, node, args, specs):
    attrs = node["attrs"]
    w.emit("MaxPool", args, kernel_shape=list(attrs["window"]), strides=list(attrs["stride"]), final=True)


def avg_pool2d(w, node, args, specs):
    attrs = node["attrs"]
    w.emit("AveragePool", args, kernel_shape=list(attrs["window"]), strides=list(attrs["stride"]), final=True)


def max_positions(w, node, x):
    """The flat position in x of each window's largest entry (MaxPool's second output: the
    first largest, as irtoy's max_pool2d_grad takes)."""
    attrs = node["attrs"]
    _, indices = w.emit("MaxPool", [x], outputs=2, kernel_shape=list(attrs["window"]), strides=list(attrs["stride"]))
    return w.emit("Reshape", [indices, w.ints([-1])])


def max_pool2d_grad(w, node, args, specs):
    x_spec = specs[0]
    size = int(np.prod(x_spec.shape))
    zeros = w.const(np.zeros(size, node["dtype"]), "zeros")
    g = w.emit("Reshape", [args[1], w.ints([-1])])
    flat = w.emit("ScatterElements", [zeros, max_positions(w, node, args[0]), g], axis=0, reduction="add")
    w.emit("Reshape", [flat, w.ints(x_spec.shape)], final=True)


def max_pool2d_pick(w, node, args, specs):
    v = w.emit("Reshape", [args[1], w.ints([-1])])
    picked = w.emit("GatherElements", [v, max_positions(w, node, args[0])], axis=0)
    w.emit("Reshape", [picked, w.ints(node["shape"])], final=True)


def avg_pool2d_grad(w, node, args, specs):
    """Each window's gradient spread evenly: a ConvTranspose, one channel per group, by a
    kernel of 1 / (window size)."""
    attrs = node["attrs"]
    (kh, kw), (sh, sw) = attrs["window"], attrs["stride"]
    channels, (oh, ow) = specs[0].shape[1], specs[0].shape[2:]
    kernel = w.const(np.full((channels, 1, kh, kw), 1 / (kh * kw), node["dtype"]), "mean_kernel")
    extra = [size - ((o - 1) * s + k) for size, o, s, k in zip(attrs["image_size"], (oh, ow), (sh, sw), (kh, kw))]
    w.emit("ConvTranspose", [args[0], kernel], group=channels, strides=[sh, sw], output_padding=extra, final=True)


def random_uniform(w, node, args, specs):
    """irtoy's counter-based generator (irtoy/ops/random.py) in ONNX's uint64 arithmetic, which
    wraps modulo 2**64 as NumPy's does: the same numbers as every other backend."""
    from irtoy.ops.random import SPLITMIX_GAMMA, SPLITMIX_MULTIPLIERS, SPLITMIX_SHIFTS
    attrs, u64 = node["attrs"], np.uint64

    def mix64(z):
        for shift, multiplier in zip(SPLITMIX_SHIFTS[:2], SPLITMIX_MULTIPLIERS):
            z = w.emit("Mul", [w.emit("BitwiseXor", [z, w.emit("BitShift", [z, w.const(u64(shift))],
                                                                direction="RIGHT")]), w.const(u64(multiplier))])
        return w.emit("BitwiseXor", [z, w.emit("BitShift", [z, w.const(u64(SPLITMIX_SHIFTS[2]))], direction="RIGHT")])
    seed = w.emit("Cast", args, to=w.onnx.TensorProto.UINT64)
    with np.errstate(over="ignore"):
        stream_offset = u64(attrs["stream"]) * u64(SPLITMIX_GAMMA)
        size = int(np.prod(attrs["shape"]))
        steps = np.arange(1, size + 1, dtype=u64) * u64(SPLITMIX_GAMMA)
    key = mix64(w.emit("Add", [mix64(seed), w.const(stream_offset)]))
    bits = mix64(w.emit("Add", [key, w.const(steps, "counters")]))
    dtype = np.dtype(attrs["dtype"])
    drop, spacing = (40, 2.0 ** -24) if dtype == np.float32 else (11, 2.0 ** -53)
    top = w.emit("BitShift", [bits, w.const(u64(drop))], direction="RIGHT")
    values = w.emit("Mul", [w.emit("Cast", [top], to=w.onnx.helper.np_dtype_to_tensor_dtype(dtype)),
                            w.const(np.asarray(spacing, dtype))])
    w.emit("Reshape", [values, w.ints(attrs["shape"])], final=True)


def _positions(w, indices, index_specs, axes, shape):
    """The indices of a gather or scatter_add for GatherND and ScatterND: negative ones
    wrapped, all broadcast together and stacked along a last axis; and the order of axes
    that puts the indexed ones first."""
    batch = np.broadcast_shapes(*[s.shape for s in index_specs])
    columns = []
    for i, spec, axis in zip(indices, index_specs, axes):
        i = w.cast(i, spec.dtype, np.int64)
        wrapped = w.emit("Where", [w.emit("Less", [i, w.const(np.int64(0))]),
                                   w.emit("Add", [i, w.const(np.int64(shape[axis]))]), i])
        columns.append(w.emit("Unsqueeze", [w.emit("Expand", [wrapped, w.ints(batch)]), w.ints([-1])]))
    stacked = columns[0] if len(columns) == 1 else w.emit("Concat", columns, axis=-1)
    return stacked, list(axes) + [k for k in range(len(shape)) if k not in axes]


def gather(w, node, args, specs):
    """x read at integer positions: the indexed axes moved first, then one GatherND."""
    (x, *indices), (xs, *index_specs) = args, specs
    positions, order = _positions(w, indices, index_specs, node["attrs"]["axes"], xs.shape)
    moved = x if order == sorted(order) else w.emit("Transpose", [x], perm=order)
    w.emit("GatherND", [moved, positions], final=True)


def scatter_add(w, node, args, specs):
    """Zeros with values added at integer positions (repeats add up): ScatterND with the add
    reduction into zeros whose indexed axes come first, then those axes put back."""
    (values, *indices), (_, *index_specs) = args, specs
    shape = node["attrs"]["shape"]
    positions, order = _positions(w, indices, index_specs, node["attrs"]["axes"], shape)
    zeros = w.const(np.zeros([shape[k] for k in order], node["dtype"]))
    if order == sorted(order):
        w.emit("ScatterND", [zeros, positions, values], reduction="add", final=True)
    else:
        added = w.emit("ScatterND", [zeros, positions, values], reduction="add")
        w.emit("Transpose", [added], perm=[int(k) for k in np.argsort(order)], final=True)


EXPORTERS = {
    **{name: arithmetic(op_type) for name, op_type in {
        "add": "Add", "subtract": "Sub", "multiply": "Mul", "divide": "Div", "maximum": "Max",
        "minimum": "Min", "exp": "Exp", "log": "Log", "sin": "Sin", "cos": "Cos", "tan": "Tan",
        "tanh": "Tanh", "sqrt": "Sqrt", "abs": "Abs", "sign": "Sign", "sinh": "Sinh", "cosh": "Cosh",
        "arcsin": "Asin", "arccos": "Acos", "arctan": "Atan", "arcsinh": "Asinh", "arccosh": "Acosh",
        "arctanh": "Atanh"}.items()},
    **{name: comparison(op_type) for name, op_type in {
        "greater": "Greater", "greater_equal": "GreaterOrEqual", "less": "Less", "less_equal": "LessOrEqual",
        "equal": "Equal"}.items()},
    "not_equal": comparison("Equal", negate=True),
    "negative": negative, "power": power, "arctan2": arctan2, "hypot": hypot, "where": where, "cast": cast,
    "sum": reduction("ReduceSum", True), "mean": reduction("ReduceMean", True),
    "max": reduction("ReduceMax", False), "min": reduction("ReduceMin", False), "argmax": argmax,
    "matmul": matmul,
    "reshape": reshape, "transpose": transpose, "broadcast_to": broadcast_to, "expand_dims": expand_dims,
    "squeeze": squeeze, "getitem": getitem, "scatter": scatter, "concatenate": concatenate,
    "conv2d": conv2d, "conv_transpose2d": conv_transpose2d, "conv2d_weight_grad": conv2d_weight_grad,
    "max_pool2d": max_pool2d, "avg_pool2d": avg_pool2d, "max_pool2d_grad": max_pool2d_grad,
    "max_pool2d_pick": max_pool2d_pick, "avg_pool2d_grad": avg_pool2d_grad,
    "random_uniform": random_uniform, "gather": gather, "scatter_add": scatter_add,
}

# Ops that have no ONNX form, and why (export refuses a graph holding one, naming it).
_NO_RULE_YET = "no export rule yet: ONNX has {} but its semantics differ from NumPy's in places this rule must handle"
_NO_OPERATOR = "ONNX has no operator for it"
NOT_EXPORTED = {
    **dict.fromkeys(["log1p", "expm1", "log2", "log10", "exp2", "cbrt", "logaddexp", "logaddexp2", "copysign",
                     "signbit"], _NO_RULE_YET.format("a composition of Log, Exp and Pow")),
    **dict.fromkeys(["floor", "ceil", "rint", "trunc"], _NO_RULE_YET.format("Floor, Ceil and Round (floats only)")),
    **dict.fromkeys(["floor_divide", "remainder", "fmod"], _NO_RULE_YET.format("Div and Mod")),
    **dict.fromkeys(["bitwise_and", "bitwise_or", "bitwise_xor", "invert", "left_shift", "right_shift"],
                    _NO_RULE_YET.format("the Bitwise ops and BitShift (unsigned only)")),
    **dict.fromkeys(["prod", "argmin"], _NO_RULE_YET.format("ReduceProd and ArgMin")),
    **dict.fromkeys(["cumsum", "cumprod"], _NO_RULE_YET.format("CumSum (no CumProd)")),
    "argsort": _NO_RULE_YET.format("TopK"),
    "det": "no export rule yet: ONNX has Det, but irtoy's gradient of det takes an svd, which ONNX lacks",
    **dict.fromkeys(["inv", "solve", "cholesky", "qr", "eigh", "svd", "slogdet"], _NO_OPERATOR),
}
