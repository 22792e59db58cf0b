"""How each irtoy op is written in ONNX: the table `EXPORTERS`, keyed by irtoy op name.

A rule is `(writer, node, args, specs)`: the irtoy node's attributes (node["attrs"]), its
arguments' ONNX value names and Specs. It adds ONNX nodes with `writer.emit`, the last one
with `final=True` (it computes the irtoy node's value); `writer.cast`, `writer.const` and
`writer.ints` make casts and constants. tests/test_onnx_export.py checks every op of the
registry has a rule here or in export_linalg_ops.py (the linear algebra ONNX has no operator
for, written out column by column; exporter.py merges the two tables) and runs each in
onnxruntime against the interpreter.
"""
import math

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


# -- NumPy's float functions written with ONNX's -----------------------------------------------

def constant(w, value, dtype):
    return w.const(np.asarray(value, dtype))


# onnxruntime has no Where kernel for these dtypes
NO_WHERE_KERNEL = {np.dtype(np.int16), np.dtype(np.uint16), np.dtype(np.uint64)}


def select(w, condition, a, b, dtype, final=False):
    """Where(condition, a, b); for the integer dtypes onnxruntime has no Where for, b +
    condition * (a - b) (the difference wraps around and the sum wraps back: the same bits).
    onnxruntime's Where may give 0.0 for a -0.0 it selects: where a rule's result can be -0.0
    it sets the sign with `with_sign`."""
    if np.dtype(dtype) not in NO_WHERE_KERNEL:
        return w.emit("Where", [condition, a, b], final=final)
    mask = w.cast(condition, bool, dtype)
    return w.emit("Add", [b, w.emit("Mul", [mask, w.emit("Sub", [a, b])])], final=final)


def signbit_of(w, x, dtype):
    """Is x's sign bit set? For floats x < 0 or 1 / x < 0, which counts -0.0 (1 / -0.0 is -inf).
    ONNX cannot read a NaN's sign bit, so every NaN counts as positive here (np.nan is; NumPy
    sees the bit, so a NaN made negative, as 0.0 / 0.0 is on x86, differs)."""
    zero = constant(w, 0, dtype)
    negative = w.emit("Less", [x, zero])
    if np.dtype(dtype).kind != "f":
        return negative
    return w.emit("Or", [negative, w.emit("Less", [w.emit("Div", [constant(w, 1, dtype), x]), zero])])


def with_sign(w, magnitude, negative, dtype, final=False):
    """|magnitude|, negated where `negative`: a product with +-1, so that -0.0 comes out as
    -0.0 (which a Where of the values may lose)."""
    signs = w.emit("Where", [negative, constant(w, -1, dtype), constant(w, 1, dtype)])
    return w.emit("Mul", [w.emit("Abs", [magnitude]), signs], final=final)


def log1p_of(w, x, dtype, final=False):
    """log(1 + x) keeping the digits of a small x: log(u) * x / (u - 1) for u = 1 + x rounded
    (the rounding error of u cancels); x itself where u is 1, u where it is inf."""
    one = constant(w, 1, dtype)
    u = w.emit("Add", [x, one])
    general = w.emit("Mul", [w.emit("Log", [u]), w.emit("Div", [x, w.emit("Sub", [u, one])])])
    small = select(w, w.emit("Equal", [u, one]), x, general, dtype)
    return select(w, w.emit("Equal", [u, constant(w, np.inf, dtype)]), u, small, dtype, final)


def float_rule(build):
    """A rule computing `build(w, *args, dtype, final)` on the arguments cast to the result's
    float dtype (NumPy computes integers' log2, exp2, ... in floats)."""
    def rule(w, node, args, specs):
        build(w, *same_type(w, node, args, specs), node["dtype"], final=True)
    return rule


def log1p(w, x, dtype, final):
    """log1p_of x, with x's sign (log1p(-0.0) is -0.0)."""
    return with_sign(w, log1p_of(w, x, dtype), signbit_of(w, x, dtype), dtype, final)


def expm1(w, x, dtype, final):
    """exp(x) - 1 keeping the digits of a small x: (u - 1) * x / log(u) for u = exp(x) rounded;
    x where u is 1, -1 where u - 1 is, inf where u is."""
    one = constant(w, 1, dtype)
    u = w.emit("Exp", [x])
    u_minus_one = w.emit("Sub", [u, one])
    general = w.emit("Mul", [u_minus_one, w.emit("Div", [x, w.emit("Log", [u])])])
    r = select(w, w.emit("Equal", [u, one]), x, general, dtype)
    minus_one = constant(w, -1, dtype)
    r = select(w, w.emit("Equal", [u_minus_one, minus_one]), minus_one, r, dtype)
    r = select(w, w.emit("Equal", [u, constant(w, np.inf, dtype)]), u, r, dtype)
    return with_sign(w, r, signbit_of(w, x, dtype), dtype, final)      # expm1(-0.0) is -0.0


def log_base(base):
    """ONNX has only the natural Log: log(x) / log(base), within a rounding of NumPy's log2 and
    log10 (which may be exact where this is not, at powers of the base)."""
    def build(w, x, dtype, final):
        return w.emit("Div", [w.emit("Log", [x]), constant(w, np.log(base), dtype)], final=final)
    return build


def exp2(w, x, dtype, final):
    """Pow(2, x): exact at whole x, as NumPy's (Exp(x log 2) is not)."""
    return w.emit("Pow", [constant(w, 2, dtype), x], final=final)


def cbrt(w, x, dtype, final):
    """|x| ** (1/3) with x's sign (Pow of a negative base is NaN), float32 computed in float64
    so that the rounded exponent 1/3 costs no digits; -0.0 stays -0.0."""
    wide = np.dtype(np.float64)
    root = w.cast(w.emit("Pow", [w.emit("Abs", [w.cast(x, dtype, wide)]), constant(w, 1 / 3, wide)]), wide, dtype)
    return with_sign(w, root, signbit_of(w, x, dtype), dtype, final)


def logaddexp_base(two):
    """log(e**x + e**y) (or base 2) as NumPy computes it: the larger plus log1p(e**-|x - y|);
    x + log(2) where x == y (so two infinities of one sign give that infinity); NaN where
    x - y is."""
    def build(w, x, y, dtype, final):
        difference = w.emit("Sub", [x, y])
        larger = select(w, w.emit("Greater", [difference, constant(w, 0, dtype)]), x, y, dtype)
        minus_distance = w.emit("Neg", [w.emit("Abs", [difference])])
        if two:
            tail = w.emit("Mul", [log1p_of(w, exp2(w, minus_distance, dtype, False), dtype),
                                  constant(w, 1 / np.log(2), dtype)])
        else:
            tail = log1p_of(w, w.emit("Exp", [minus_distance]), dtype)
        at_ties = w.emit("Add", [x, constant(w, 1 if two else np.log(2), dtype)])
        return select(w, w.emit("Equal", [x, y]), at_ties, w.emit("Add", [larger, tail]), dtype, final)
    return build


def copysign(w, x, y, dtype, final):
    return with_sign(w, x, signbit_of(w, y, dtype), dtype, final)


def signbit(w, node, args, specs):
    """Booleans have no sign bit: False everywhere (x and not x), as NumPy's."""
    if specs[0].dtype == np.bool_:
        w.emit("And", [args[0], w.emit("Not", [args[0]])], final=True)
    else:
        w.emit("Identity", [signbit_of(w, args[0], specs[0].dtype)], final=True)


def rounding(op_type):
    """floor, ceil, rint and trunc: of integers the integers themselves (when NumPy keeps the
    dtype), of floats ONNX's Floor, Ceil, Round (half to even, as NumPy's rint) or, for trunc,
    Floor of |x| with x's sign (so -0.5 gives -0.0 as in NumPy)."""
    def rule(w, node, args, specs):
        (x,), dtype = same_type(w, node, args, specs), node["dtype"]
        if dtype.kind != "f":
            w.emit("Identity", [x], final=True)
        elif op_type == "Trunc":       # ONNX has no Trunc
            with_sign(w, w.emit("Floor", [w.emit("Abs", [x])]), signbit_of(w, x, dtype), dtype, final=True)
        else:
            w.emit(op_type, [x], final=True)
    return rule


# -- division with NumPy's rounding and its results for a zero divisor --------------------------

def safe_divisor(w, y, dtype):
    """y with 1 where it is 0 (C's integer x / 0 traps) or, signed, -1 (MIN / -1 overflows and
    traps); the rules put NumPy's results in those places."""
    unsafe = w.emit("Equal", [y, constant(w, 0, dtype)])
    if dtype.kind == "i":
        unsafe = w.emit("Or", [unsafe, w.emit("Equal", [y, constant(w, -1, dtype)])])
    return select(w, unsafe, constant(w, 1, dtype), y, dtype)


def zero_where_divisor_is_zero(w, y, value, dtype):
    """NumPy's integer x // 0, x % 0 and fmod(x, 0) are 0."""
    zero = constant(w, 0, dtype)
    return select(w, w.emit("Equal", [y, zero]), zero, value, dtype, final=True)


def either(w, condition, a, b):
    """Where(condition, a, b) of booleans, which onnxruntime's Where does not take."""
    return w.emit("Or", [w.emit("And", [condition, a]), w.emit("And", [w.emit("Not", [condition]), b])])


def float_divmod(w, x, y, dtype):
    """NumPy's floor quotient and remainder of floats, as NumPy computes them: C's fmod, moved
    to the divisor's side when their signs differ; the quotient (x - fmod) / y, rounded to the
    whole number floor would give; a zero remainder signed as y, a zero quotient as x / y."""
    zero, one = constant(w, 0, dtype), constant(w, 1, dtype)
    fmod = w.emit("Mod", [x, y], fmod=1)
    quotient = w.emit("Div", [w.emit("Sub", [x, fmod]), y])
    flip = w.emit("And", [w.emit("Not", [w.emit("Equal", [fmod, zero])]),
                          w.emit("Xor", [w.emit("Less", [y, zero]), w.emit("Less", [fmod, zero])])])
    remainder = select(w, flip, w.emit("Add", [fmod, y]), fmod, dtype)
    negative = either(w, w.emit("Equal", [remainder, zero]), signbit_of(w, y, dtype), signbit_of(w, remainder, dtype))
    remainder = with_sign(w, remainder, negative, dtype)
    quotient = select(w, flip, w.emit("Sub", [quotient, one]), quotient, dtype)
    floor = w.emit("Floor", [quotient])
    floor = select(w, w.emit("Greater", [w.emit("Sub", [quotient, floor]), constant(w, 0.5, dtype)]),
                   w.emit("Add", [floor, one]), floor, dtype)
    ratio = w.emit("Div", [x, y])
    negative = either(w, w.emit("Equal", [quotient, zero]), signbit_of(w, ratio, dtype), signbit_of(w, floor, dtype))
    return with_sign(w, floor, negative, dtype), remainder, ratio


def floor_divide(w, node, args, specs):
    """x // y: for floats NumPy's divmod (x / y where y is 0); for integers the truncated
    quotient, one less where the remainder's sign differs from y's; -x for y = -1 (wrapping
    as NumPy's MIN // -1 does), 0 for y = 0."""
    x, y = same_type(w, node, args, specs)
    dtype = node["dtype"]
    if dtype.kind == "f":
        floor, _, ratio = float_divmod(w, x, y, dtype)
        select(w, w.emit("Equal", [y, constant(w, 0, dtype)]), ratio, floor, dtype, final=True)
        return
    safe = safe_divisor(w, y, dtype)
    quotient = w.emit("Div", [x, safe])
    if dtype.kind == "i":
        zero = constant(w, 0, dtype)
        remainder = w.emit("Mod", [x, safe], fmod=1)
        off = w.emit("And", [w.emit("Not", [w.emit("Equal", [remainder, zero])]),
                             w.emit("Xor", [w.emit("Less", [remainder, zero]), w.emit("Less", [safe, zero])])])
        quotient = w.emit("Sub", [quotient, w.cast(off, bool, dtype)])
        quotient = select(w, w.emit("Equal", [y, constant(w, -1, dtype)]), w.emit("Sub", [zero, x]), quotient, dtype)
    zero_where_divisor_is_zero(w, y, quotient, dtype)


def remainder_rule(fmod):
    """x % y with y's sign (Python's, ONNX's Mod) or fmod(x, y) with x's (C's, Mod with
    fmod=1, which ONNX requires for floats): floats as NumPy computes them, integers 0 where y
    is 0."""
    def rule(w, node, args, specs):
        x, y = same_type(w, node, args, specs)
        dtype = node["dtype"]
        if dtype.kind == "f" and fmod:
            w.emit("Mod", [x, y], fmod=1, final=True)
        elif dtype.kind == "f":
            w.emit("Identity", [float_divmod(w, x, y, dtype)[1]], final=True)
        else:
            zero_where_divisor_is_zero(w, y, w.emit("Mod", [x, safe_divisor(w, y, dtype)], fmod=int(fmod)), dtype)
    return rule


# -- bitwise ops and shifts ----------------------------------------------------------------------

def bitwise(op_type, logical):
    """ONNX's Bitwise ops take integers only; booleans take And, Or, Xor, Not."""
    def rule(w, node, args, specs):
        w.emit(logical if node["dtype"] == np.bool_ else op_type, same_type(w, node, args, specs), final=True)
    return rule


def shift(direction):
    """x << n and x >> n in NumPy's common dtype. ONNX's BitShift takes unsigned integers only:
    x is shifted as the unsigned integer of its width (the same bits), and a negative x shifted
    right as ~((~x) >> n), which fills with ones as NumPy's arithmetic shift does. A count of
    the width or more (negative ones too: NumPy reads the count as unsigned) gives 0, or -1 for
    a negative x shifted right, as NumPy's: ONNX leaves such counts undefined (onnxruntime
    gives 0, C's shift is undefined behaviour), so the rule puts the 0 in itself."""
    def rule(w, node, args, specs):
        x, n = same_type(w, node, args, specs)
        dtype = node["dtype"]
        unsigned = np.dtype(f"u{dtype.itemsize}")
        count = w.cast(n, dtype, unsigned)
        too_far = w.emit("GreaterOrEqual", [count, constant(w, 8 * dtype.itemsize, unsigned)])
        count = select(w, too_far, constant(w, 0, unsigned), count, unsigned)
        flip = direction == "RIGHT" and dtype.kind == "i"
        if flip:
            negative = w.emit("Less", [x, constant(w, 0, dtype)])
            x = select(w, negative, w.emit("BitwiseNot", [x]), x, dtype)
        shifted = w.emit("BitShift", [w.cast(x, dtype, unsigned), count], direction=direction)
        shifted = w.cast(select(w, too_far, constant(w, 0, unsigned), shifted, unsigned), unsigned, dtype)
        if flip:
            select(w, negative, w.emit("BitwiseNot", [shifted]), shifted, dtype, final=True)
        else:
            w.emit("Identity", [shifted], final=True)
    return rule


# -- reductions, scans and sorting in the dtypes onnxruntime computes --------------------------

def finish(w, value, from_dtype, to_dtype):
    """The rule's last node: `value` cast to the node's dtype."""
    if np.dtype(from_dtype) == np.dtype(to_dtype):
        return w.emit("Identity", [value], final=True)
    return w.emit("Cast", [value], to=w.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(to_dtype)), final=True)


def wrapping_dtype(dtype):
    """onnxruntime's CumSum takes no uint64: int64 stands in, whose sums wrap modulo 2**64 to
    the same bits."""
    return np.dtype(np.int64) if np.dtype(dtype) == np.uint64 else np.dtype(dtype)


def prod(w, node, args, specs):
    """ReduceProd for floats. onnxruntime's ReduceProd of integers saturates where NumPy's
    product wraps around: integers go through the running product of `running_product` (Mul
    wraps) over the reduced axes, moved last and flattened into one."""
    dtype, axes = node["dtype"], node["attrs"]["axis"]
    x = w.cast(args[0], specs[0].dtype, dtype)
    if not axes:
        w.emit("Identity", [x], final=True)
    elif dtype.kind == "f":
        w.emit("ReduceProd", [x, w.ints(axes)], keepdims=int(node["attrs"]["keepdims"]), final=True)
    else:
        kept = [k for k in range(len(specs[0].shape)) if k not in axes]
        rest = [specs[0].shape[k] for k in kept]
        moved = w.emit("Reshape", [w.emit("Transpose", [x], perm=kept + list(axes)), w.ints(rest + [-1])])
        length = math.prod(specs[0].shape[k] for k in axes)
        product, _ = running_product(w, moved, len(rest), rest, length, dtype)
        w.emit("Reshape", [product, w.ints(node["shape"])], final=True)


# the dtypes onnxruntime's ArgMax, ArgMin and TopK compare
ORDERED_KERNEL = {np.dtype(t) for t in (np.int8, np.int32, np.int64, np.uint8, np.float32, np.float64)}


def in_order(w, x, dtype):
    """x in a dtype onnxruntime's ArgMin, ArgMax and TopK take, in the same order: float16 as
    float32 (exactly), booleans as int8, other integers as int64; uint64 with its top bit
    flipped first, which maps 0 .. 2**64 - 1 onto int64's -2**63 .. 2**63 - 1 in order."""
    dtype = np.dtype(dtype)
    if dtype in ORDERED_KERNEL:
        return x
    if dtype.kind == "f":
        return w.cast(x, dtype, np.float32)
    if dtype == np.bool_:
        return w.cast(x, dtype, np.int8)
    if dtype == np.uint64:
        x = w.emit("BitwiseXor", [x, constant(w, 1 << 63, np.uint64)])
    return w.cast(x, dtype, np.int64)


def arg_reduction(op_type):
    """ArgMax, ArgMin: the first of equal entries, as NumPy's. NumPy takes the first NaN where
    there is one, onnxruntime skips NaNs: the first NaN's index (the ArgMax of isnan) is put in
    where a NaN is."""
    def rule(w, node, args, specs):
        axis, keepdims = node["attrs"]["axis"], node["attrs"]["keepdims"]
        x, dtype = args[0], specs[0].dtype
        if axis is None:
            x, axis = w.emit("Reshape", [x, w.ints([-1])]), 0
        index = w.emit(op_type, [in_order(w, x, dtype)], axis=axis, keepdims=int(keepdims))
        if dtype.kind == "f":
            nan = w.cast(w.emit("IsNaN", [x]), bool, np.int8)
            first_nan = w.emit("ArgMax", [nan], axis=axis, keepdims=int(keepdims))
            any_nan = w.emit("Greater", [w.emit("ReduceMax", [nan, w.ints([axis])], keepdims=int(keepdims)),
                                         constant(w, 0, np.int8)])
            index = w.emit("Where", [any_nan, first_nan, index])
        if keepdims and node["attrs"]["axis"] is None:
            index = w.emit("Reshape", [index, w.ints([1] * len(specs[0].shape))])
        w.emit("Identity", [index], final=True)
    return rule


def cumsum(w, node, args, specs):
    """CumSum in the result's dtype: sequential sums, as NumPy's."""
    dtype = node["dtype"]
    x = w.cast(args[0], specs[0].dtype, wrapping_dtype(dtype))
    total = w.emit("CumSum", [x, w.const(np.int64(node["attrs"]["axis"]), "axis")])
    finish(w, total, wrapping_dtype(dtype), dtype)


def running_product(w, x, axis, rest, length, dtype):
    """The product of x's `length` entries along `axis` and their running product: a Scan along
    the axis whose body multiplies the product so far (`rest`: its shape) by the next slice,
    exact and in NumPy's order. Of no entries, ones and x itself (onnxruntime's Scan of no
    steps crashes its process)."""
    ones = w.emit("Expand", [constant(w, 1, dtype), w.ints(rest)])
    if not length:
        return ones, x
    helper = w.onnx.helper
    so_far, entry, product, out = (w.fresh(f"{w.names[w.current]}/{hint}")
                                   for hint in ("product_so_far", "entry", "product", "running_product"))
    element = helper.np_dtype_to_tensor_dtype(dtype)
    body = helper.make_graph(
        [helper.make_node("Mul", [so_far, entry], [product]), helper.make_node("Identity", [product], [out])],
        w.fresh("product_step"), [helper.make_tensor_value_info(n, element, rest) for n in (so_far, entry)],
        [helper.make_tensor_value_info(n, element, rest) for n in (product, out)])
    return w.emit("Scan", [ones, x], outputs=2, body=body, num_scan_inputs=1, scan_input_axes=[axis],
                  scan_output_axes=[axis])


def cumprod(w, node, args, specs):
    """ONNX has no CumProd (and exp of a sum of logs fails on zeros and negatives): the running
    product of a Scan."""
    dtype, axis = node["dtype"], node["attrs"]["axis"]
    x = w.cast(args[0], specs[0].dtype, dtype)
    rest = [n for k, n in enumerate(specs[0].shape) if k != axis]
    _, running = running_product(w, x, axis, rest, specs[0].shape[axis], dtype)
    w.emit("Identity", [running], final=True)


def argsort(w, node, args, specs):
    """TopK of all entries, smallest first: onnxruntime's keeps equal entries in order (stable,
    as irtoy's argsort) and puts NaNs last, as NumPy sorts them."""
    axis = node["attrs"]["axis"] % len(specs[0].shape)
    k = w.ints([specs[0].shape[axis]])
    _, order = w.emit("TopK", [in_order(w, args[0], specs[0].dtype), k], outputs=2, axis=axis, largest=0, sorted=1)
    w.emit("Identity", [order], final=True)


def det(w, node, args, specs):
    w.emit("Det", same_type(w, node, args, specs), final=True)


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
    "max": reduction("ReduceMax", False), "min": reduction("ReduceMin", False), "argmax": arg_reduction("ArgMax"),
    "matmul": matmul,
    "reshape": reshape, "transpose": transpose, "broadcast_to": broadcast_to, "expand_dims": expand_dims,
    "squeeze": squeeze, "getitem": getitem, "scatter": scatter, "concatenate": concatenate,
    "conv2d": conv2d, "conv_transpose2d": conv_transpose2d, "conv2d_weight_grad": conv2d_weight_grad,
    "max_pool2d": max_pool2d, "avg_pool2d": avg_pool2d, "max_pool2d_grad": max_pool2d_grad,
    "max_pool2d_pick": max_pool2d_pick, "avg_pool2d_grad": avg_pool2d_grad,
    "random_uniform": random_uniform, "gather": gather, "scatter_add": scatter_add,
    **{name: float_rule(build) for name, build in {
        "log1p": log1p, "expm1": expm1, "log2": log_base(2), "log10": log_base(10), "exp2": exp2, "cbrt": cbrt,
        "logaddexp": logaddexp_base(two=False), "logaddexp2": logaddexp_base(two=True),
        "copysign": copysign}.items()},
    "signbit": signbit, "floor": rounding("Floor"), "ceil": rounding("Ceil"), "rint": rounding("Round"),
    "trunc": rounding("Trunc"),
    "floor_divide": floor_divide, "remainder": remainder_rule(fmod=False), "fmod": remainder_rule(fmod=True),
    "bitwise_and": bitwise("BitwiseAnd", "And"), "bitwise_or": bitwise("BitwiseOr", "Or"),
    "bitwise_xor": bitwise("BitwiseXor", "Xor"), "invert": bitwise("BitwiseNot", "Not"),
    "left_shift": shift("LEFT"), "right_shift": shift("RIGHT"),
    "prod": prod, "argmin": arg_reduction("ArgMin"), "cumsum": cumsum, "cumprod": cumprod, "argsort": argsort,
    "det": det,
}

# Ops that have no ONNX form, and why (export refuses a graph holding one, naming it).
_ITERATIVE = ("ONNX has no operator for it, and its algorithm iterates until converged (QR or Jacobi sweeps), so "
              "it has no fixed number of steps to write out as solve, qr or cholesky are")
NOT_EXPORTED = dict.fromkeys(["eigh", "svd"], _ITERATIVE)
