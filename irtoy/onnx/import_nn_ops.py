"""Import rules of ONNX's neural-network ops (import_ops.py has the rest): matrix products,
softmax, normalisation, dropout, convolution, pooling, Resize and the recurrent layers, as
NumPy-style code and irtoy.ops."""
import math

import numpy as np

from irtoy import ops
from irtoy.errors import IrtoyError
from irtoy.onnx.nodes import cast_to, move_axis, pad_axis


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


def lp_normalization(node, x):
    axis, p = node.attr("axis", -1), node.attr("p", 2)
    if p not in (1, 2):
        node.refuse(f"LpNormalization with p={p} (only 1 and 2)")
    norm = np.sum(np.abs(x), axis=axis, keepdims=True) if p == 1 else \
        np.sqrt(np.sum(x * x, axis=axis, keepdims=True))
    return np.where(norm == np.zeros((), norm.dtype), np.zeros((), x.dtype), x / norm)


def dropout(node, x, ratio=None, training=None):
    node.attr("seed")
    training = node.static(training, "training_mode")
    if training is not None and bool(training) and float(node.static(ratio, "ratio") if ratio is not None else 0.5):
        node.refuse("Dropout in training mode draws ONNX's random numbers, which irtoy cannot reproduce")
    node.attr("ratio")              # opset < 12: an attribute, used in training only
    node.attr("is_test")
    return (x, np.ones(x.shape, bool)) if len(node.proto.output) > 1 else x


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


def window_attrs(node, x, kernel, dilated=False):
    """Strides and padding (and dilations, for an op that takes them)."""
    strides = tuple(node.attr("strides") or [1] * len(kernel))
    dilations = tuple(node.attr("dilations") or [1] * len(kernel))
    if not dilated and any(d != 1 for d in dilations):
        node.refuse(f"dilations {list(dilations)} are not supported (only 1)")
    reach = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]      # what a dilated window spans
    pads = spatial_pads(node, x, reach, strides)
    return (strides, pads, dilations) if dilated else (strides, pads)


def window_reduce(x, kernel, strides, dilations, combine):
    """`combine` of the entries of every window of x (N, C, ...) over its spatial axes: the
    window's entry at offset o of every window is a strided slice, and the slices are combined
    one by one. Any number of spatial axes, any dilation."""
    counts = [(size - ((k - 1) * d + 1)) // s + 1 for size, k, s, d in zip(x.shape[2:], kernel, strides, dilations)]
    result = None
    for offset in np.ndindex(*kernel):
        index = (slice(None), slice(None)) + tuple(slice(o * d, o * d + s * (n - 1) + 1, s) for o, d, s, n in
                                                   zip(offset, dilations, strides, counts))
        result = x[index] if result is None else combine(result, x[index])
    return result


def padded(x, pads, value):
    for k, (before, after) in enumerate(pads):
        x = pad_axis(x, 2 + k, before, after, "constant", value)
    return x


def conv(node, x, w, bias=None):
    kernel = tuple(node.attr("kernel_shape") or w.shape[2:])
    strides, pads, dilations = window_attrs(node, x, kernel, dilated=True)
    groups = node.attr("group", 1)
    if x.ndim in (3, 4) and all(d == 1 for d in dilations):
        def one_group(xg, wg):
            return conv_1d_2d(xg, wg, strides, pads)
    else:
        def one_group(xg, wg):
            return window_conv(xg, wg, strides, dilations, pads)
    step_in, step_out = x.shape[1] // groups, w.shape[0] // groups
    y = np.concatenate([one_group(x[:, g * step_in:(g + 1) * step_in], w[g * step_out:(g + 1) * step_out])
                        for g in range(groups)], axis=1) if groups > 1 else one_group(x, w)
    return y if bias is None else y + np.reshape(bias, (1, -1) + (1,) * (x.ndim - 2))


def conv_1d_2d(x, w, strides, pads):
    """irtoy's conv2d (a 1-d image as one of height 1), asymmetric padding added first."""
    one_d = x.ndim == 3
    x, w = as_2d(x), as_2d(w)
    symmetric = all(a == b for a, b in pads)
    if not symmetric:
        x = padded(x, ([(0, 0)] if one_d else []) + list(pads), 0)
    padding = pair([a for a, _ in pads], one_d, 0) if symmetric else (0, 0)
    y = ops.conv2d(x, w, stride=pair(strides, one_d, 1), padding=padding)
    return y[:, :, 0] if one_d else y


def window_conv(x, w, strides, dilations, pads):
    """Convolution over any number of spatial axes, with any dilation: for each kernel offset,
    the strided slice of x it reads times that offset's weights (O, C), summed over offsets."""
    x = padded(x, pads, 0)
    kernel = w.shape[2:]
    counts = [(size - ((k - 1) * d + 1)) // s + 1 for size, k, s, d in zip(x.shape[2:], kernel, strides, dilations)]
    total = None
    for offset in np.ndindex(*kernel):
        index = (slice(None), slice(None)) + tuple(slice(o * d, o * d + s * (n - 1) + 1, s) for o, d, s, n in
                                                   zip(offset, dilations, strides, counts))
        part = np.matmul(move_axis(x[index], 1, -1), np.transpose(w[(slice(None), slice(None)) + offset]))
        total = part if total is None else total + part
    return move_axis(total, -1, 1)


def conv_integer(node, x, w, x_zero=None, w_zero=None):
    """Conv of 8-bit integers less their zero points, in int32: computed in float64, exact
    while every sum stays below 2**53 (it does for 8-bit entries)."""
    if x.dtype.itemsize > 1 or w.dtype.itemsize > 1:
        node.refuse("ConvInteger of integers wider than 8 bits is not supported")
    if w_zero is not None and w_zero.ndim == 1:         # one zero point per output channel
        w_zero = np.reshape(w_zero, (-1,) + (1,) * (w.ndim - 1))
    shifted = [cast_to(v, np.float64) - (0 if z is None else cast_to(z, np.float64))
               for v, z in ((x, x_zero), (w, w_zero))]
    return cast_to(conv(node, *shifted), np.int32)


def conv_transpose(node, x, w, bias=None):
    groups = node.attr("group", 1)
    if groups > 1:          # each group of input channels with its own weights, results side by side
        step, out = x.shape[1] // groups, w.shape[1]
        return np.concatenate([ungrouped_conv_transpose(node, x[:, g * step:(g + 1) * step], w[g * step:(g + 1) * step],
                                                        None if bias is None else bias[g * out:(g + 1) * out])
                               for g in range(groups)], axis=1)
    return ungrouped_conv_transpose(node, x, w, bias)


def ungrouped_conv_transpose(node, x, w, bias):
    kernel = tuple(node.attr("kernel_shape") or w.shape[2:])
    strides = tuple(node.attr("strides") or [1] * len(kernel))
    if any(d != 1 for d in node.attr("dilations") or []):
        node.refuse("ConvTranspose with dilations is not supported")
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
        strides, pads, dilations = window_attrs(node, x, kernel, dilated=True)
        node.attr("storage_order")
        one_d = x.ndim == 3
        extension = [0] * len(kernel)       # more padding after each axis, so windows round up
        if node.attr("ceil_mode", 0):
            if kind == "lp":
                node.refuse("LpPool with ceil_mode=1 is not supported")
            extension = [ceil_extra(size, (k - 1) * d + 1, s, b + a)
                         for size, k, s, d, (b, a) in zip(x.shape[2:], kernel, strides, dilations, pads)]
        if x.ndim != 4 and not one_d or any(d != 1 for d in dilations):
            return general_pool(node, kind, x, kernel, strides, dilations, pads, extension)
        explicit = ([(0, 0)] if one_d else []) + list(pads)
        pads2 = ([(0, 0)] if one_d else []) + [(b, a + e) for (b, a), e in zip(pads, extension)]
        exact_in_float = x.dtype.kind in "iu" and x.dtype.itemsize <= 2 and kind == "max"
        x2 = as_2d(cast_to(x, np.float32) if exact_in_float else x)       # irtoy pools floats
        window, stride = pair(kernel, one_d, 1), pair(strides, one_d, 1)
        if kind == "max":
            y = ops.max_pool2d(padded(x2, pads2, np.asarray(-np.inf, x2.dtype)), window, stride)
            y = cast_to(y, x.dtype)
        elif kind == "lp":          # (sum of |x| ** p over the window) ** (1 / p)
            p = node.attr("p", 2)
            powered = x2 * x2 if p == 2 else np.power(np.abs(x2), np.asarray(p, x2.dtype))
            total = ops.avg_pool2d(padded(powered, pads2, 0), window, stride) * np.asarray(window[0] * window[1],
                                                                                             x2.dtype)
            y = np.sqrt(total) if p == 2 else np.power(total, np.asarray(1 / p, x2.dtype))
        elif not any(b or a for b, a in pads2):
            y = ops.avg_pool2d(x2, window, stride)
        else:       # the mean over each window's input entries (and explicit pads, with count_include_pad)
            counted = padded(np.ones((1, 1) + x2.shape[2:], x2.dtype), explicit, int(node.attr("count_include_pad", 0)))
            counted = padded(counted, [(0, e) for e in ([0] if one_d else []) + extension], 0)
            y = ops.avg_pool2d(padded(x2, pads2, 0), window, stride) / ops.avg_pool2d(counted, window, stride)
        return y[:, :, 0] if one_d else y
    return apply


def general_pool(node, kind, x, kernel, strides, dilations, pads, extension):
    """Pooling of any number of spatial axes and any dilation, by `window_reduce`."""
    if x.dtype.kind != "f":
        node.refuse(f"{node.op_type} of {x.dtype} with dilations or 3-d windows is not supported")
    pads_total = [(0, 0), (0, 0)] + [(b, a + e) for (b, a), e in zip(pads, extension)]

    def pad(v, widths, value):
        for axis, (before, after) in enumerate(widths):
            v = pad_axis(v, axis, before, after, "constant", value)
        return v
    if kind == "max":
        return window_reduce(pad(x, pads_total, -np.inf), kernel, strides, dilations, np.maximum)
    if kind == "lp":
        p = node.attr("p", 2)
        powered = x * x if p == 2 else np.power(np.abs(x), np.asarray(p, x.dtype))
        total = window_reduce(pad(powered, pads_total, 0), kernel, strides, dilations, np.add)
        return np.sqrt(total) if p == 2 else np.power(total, np.asarray(1 / p, x.dtype))
    include = int(node.attr("count_include_pad", 0))
    counted = pad(np.ones((1, 1) + x.shape[2:], x.dtype), [(0, 0), (0, 0)] + list(pads), include)
    counted = pad(counted, [(0, 0), (0, 0)] + [(0, e) for e in extension], 0)
    return window_reduce(pad(x, pads_total, 0), kernel, strides, dilations, np.add) / \
        window_reduce(counted, kernel, strides, dilations, np.add)


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



def resize(node, x, roi=None, scales=None, sizes=None):
    """Resize, one axis at a time: along each resized axis the result is a fixed linear map of
    the input (plus a constant where tf_crop_and_resize extrapolates), so it is a matrix
    product. The matrix and constant are ONNX's own reference Resize applied to an identity
    matrix (and to zeros), at import."""
    if node.opset < 11:
        node.refuse("Resize before opset 11 is not supported")
    if x.dtype.kind != "f":
        node.refuse(f"Resize of {x.dtype} is not supported (floating-point only)")
    roi, scales, sizes = (node.static(v, what) for v, what in ((roi, "roi"), (scales, "scales"), (sizes, "sizes")))
    axes = [a % x.ndim for a in node.attr("axes") or range(x.ndim)]
    policy = node.attr("keep_aspect_ratio_policy", "stretch")
    per_axis = {}                   # axis -> (scale, size, roi start, roi end)
    for k, axis in enumerate(axes):
        n = x.shape[axis]
        if scales is not None and scales.size:
            scale = float(scales[k])
            per_axis[axis] = [scale, int(math.floor(n * scale))]
        else:
            per_axis[axis] = [float(sizes[k]) / n, int(sizes[k])]
        has_roi = roi is not None and roi.size
        per_axis[axis] += [float(roi[k]), float(roi[len(axes) + k])] if has_roi else [0.0, 1.0]
    if policy != "stretch" and (scales is None or not scales.size):
        common = (min if policy == "not_larger" else max)(s for s, _, _, _ in per_axis.values())
        for axis, values in per_axis.items():
            values[:2] = [common, int(x.shape[axis] * common + 0.5)]
    options = {key: node.attr(key) for key in ("mode", "coordinate_transformation_mode", "cubic_coeff_a",
                                               "exclude_outside", "extrapolation_value", "nearest_mode", "antialias")}
    for axis, (scale, size, start, end) in per_axis.items():
        if size == x.shape[axis] and scale == 1.0 and options["coordinate_transformation_mode"] != "tf_crop_and_resize":
            continue
        by_sizes = policy == "stretch" and sizes is not None and sizes.size
        matrix, offset = resize_matrix(x.shape[axis], size, scale if not by_sizes else None, (start, end),
                                       node.opset, {k: v for k, v in options.items() if v is not None})
        moved = [k for k in range(x.ndim) if k != axis] + [axis]
        y = np.matmul(np.transpose(x, moved), matrix.astype(x.dtype)) + offset.astype(x.dtype)
        x = np.transpose(y, list(np.argsort(moved)))
    return x


def resize_matrix(n, size, scale, roi, opset, options):
    """(matrix (n, size), offset (size,)): ONNX's reference Resize of one axis of length n to
    `size`, as y = x @ matrix + offset (by `scale`, or by `size` when scale is None)."""
    import onnx
    import onnx.reference
    helper = onnx.helper
    inputs = ["X", "roi", "scales", ""] if scale is not None else ["X", "roi", "", "sizes"]
    node = helper.make_node("Resize", inputs, ["Y"], **options)
    graph = helper.make_graph([node], "probe", [helper.make_tensor_value_info("X", onnx.TensorProto.DOUBLE, [n, n])],
                              [helper.make_tensor_value_info("Y", onnx.TensorProto.DOUBLE, None)], [
        onnx.numpy_helper.from_array(np.array([0, roi[0], 1, roi[1]], np.float32), "roi"),
        onnx.numpy_helper.from_array(np.array([1.0, scale or 1.0], np.float32), "scales"),
        onnx.numpy_helper.from_array(np.array([n, size], np.int64), "sizes")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    evaluator = onnx.reference.ReferenceEvaluator(model)
    offset = evaluator.run(None, {"X": np.zeros((n, n))})[0]
    if offset.shape != (n, size):
        raise IrtoyError(f"Resize of an axis of {n} to {size} entries by a scale that gives {offset.shape[1]} is "
                         f"not supported")
    return evaluator.run(None, {"X": np.eye(n)})[0] - offset, offset[0]




def local_response_norm(node, x):
    """x / (bias + alpha / size * (sum of x**2 over `size` neighbouring channels)) ** beta."""
    size = node.attr("size")
    alpha, beta, bias = (np.asarray(node.attr(k, d), x.dtype) for k, d in (("alpha", 1e-4), ("beta", 0.75),
                                                                              ("bias", 1.0)))
    before, after = (size - 1) // 2, size - 1 - (size - 1) // 2
    squares = pad_axis(x * x, 1, before, after, "constant", 0)
    total = squares[:, 0:x.shape[1]]
    for k in range(1, size):
        total = total + squares[:, k:k + x.shape[1]]
    return x / (bias + alpha / np.asarray(size, x.dtype) * total) ** beta

# -- recurrent layers: unrolled over the (static) sequence -----------------------------------

ACTIVATIONS = {
    "Tanh": np.tanh,
    "Sigmoid": lambda v: np.ones((), v.dtype) / (np.ones((), v.dtype) + np.exp(-v)),
    "Relu": lambda v: np.maximum(v, np.zeros((), v.dtype)),
}
GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
DEFAULT_ACTIVATIONS = {"RNN": ["Tanh"], "GRU": ["Sigmoid", "Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"]}


def recurrent(kind):
    """RNN, GRU and LSTM (ONNX's equations and gate orders: GRU z r h, LSTM i o f c), one step
    of irtoy ops per time step and direction."""
    def apply(node, x, w, r, b=None, lengths=None, h0=None, c0=None, peepholes=None):
        directions = {"forward": [False], "reverse": [True], "bidirectional": [False, True]}[
            node.attr("direction", "forward")]
        names = node.attr("activations") or DEFAULT_ACTIVATIONS[kind] * len(directions)
        if any(name not in ACTIVATIONS for name in names) or node.attr("activation_alpha") or \
                node.attr("activation_beta"):
            node.refuse(f"activations {names} are not supported (only Tanh, Sigmoid and Relu)")
        if lengths is not None:
            lengths = node.static(lengths, "sequence_lens")
            if np.any(lengths != x.shape[node.attr("layout", 0)]):       # the steps axis
                node.refuse("sequences of different lengths (sequence_lens) are not supported")
        if node.attr("input_forget", 0):
            node.refuse("LSTM's input_forget is not supported")
        batch_first = node.attr("layout", 0) == 1
        if batch_first:                                         # -> (steps, batch, features)
            x = np.transpose(x, (1, 0, 2))
            h0, c0 = (None if v is None else np.transpose(v, (1, 0, 2)) for v in (h0, c0))
        hidden, clip = node.attr("hidden_size"), node.attr("clip")
        before_reset = node.attr("linear_before_reset", 0)
        per_direction = len(names) // len(directions)
        ys, hs, cs = [], [], []
        for d, backward in enumerate(directions):
            act = [ACTIVATIONS[n] for n in names[d * per_direction:(d + 1) * per_direction]]
            gates = GATES[kind]
            zeros = np.zeros((x.shape[1], hidden), x.dtype)
            h = zeros if h0 is None else h0[d]
            c = zeros if c0 is None else c0[d]
            bias = np.zeros(2 * gates * hidden, x.dtype) if b is None else b[d]
            w_bias, r_bias = bias[:gates * hidden], bias[gates * hidden:]

            def part(v, k):
                return v[..., k * hidden:(k + 1) * hidden]

            def clipped(v):
                return v if clip is None else np.clip(v, np.asarray(-clip, v.dtype), np.asarray(clip, v.dtype))
            outputs = []
            steps = range(x.shape[0] - 1, -1, -1) if backward else range(x.shape[0])
            for t in steps:
                xw = np.matmul(x[t], np.transpose(w[d])) + w_bias
                if kind == "RNN":
                    h = act[0](clipped(xw + np.matmul(h, np.transpose(r[d])) + r_bias))
                elif kind == "GRU":
                    hr = np.matmul(h, np.transpose(r[d]))
                    z = act[0](clipped(part(xw, 0) + part(hr, 0) + part(r_bias, 0)))
                    reset = act[0](clipped(part(xw, 1) + part(hr, 1) + part(r_bias, 1)))
                    if before_reset:
                        candidate = part(xw, 2) + reset * (part(hr, 2) + part(r_bias, 2))
                    else:
                        recurrent_h = np.transpose(r[d][2 * hidden:3 * hidden])
                        candidate = part(xw, 2) + np.matmul(reset * h, recurrent_h) + part(r_bias, 2)
                    h = (np.ones((), x.dtype) - z) * act[1](clipped(candidate)) + z * h
                else:
                    pre = xw + np.matmul(h, np.transpose(r[d])) + r_bias
                    p = [None] * 3 if peepholes is None else [part(peepholes[d], k) for k in range(3)]
                    peep = (lambda v, k: v if p[k] is None else v + p[k] * c)     # noqa: E731
                    i = act[0](clipped(peep(part(pre, 0), 0)))
                    f = act[0](clipped(peep(part(pre, 2), 2)))
                    c = f * c + i * act[1](clipped(part(pre, 3)))
                    o = act[0](clipped(peep(part(pre, 1), 1)))
                    h = o * act[2](c)
                outputs.append(h)
            ys.append(np.stack(outputs[::-1] if backward else outputs))      # (steps, batch, hidden)
            hs.append(h)
            cs.append(c)
        y, y_h, y_c = np.stack(ys, axis=1), np.stack(hs), np.stack(cs)      # (steps, dirs, batch, hidden)
        if batch_first:
            y, y_h, y_c = np.transpose(y, (2, 0, 1, 3)), np.transpose(y_h, (1, 0, 2)), np.transpose(y_c, (1, 0, 2))
        return (y, y_h, y_c)[:len(node.proto.output)]
    return apply

NN_IMPORTERS = {
    "MatMul": lambda node, a, b: np.matmul(a, b), "Gemm": gemm, "Einsum": einsum,
    "Softmax": softmax_like("softmax"), "LogSoftmax": softmax_like("log"), "Hardmax": softmax_like("hardmax"),
    "BatchNormalization": batch_norm, "InstanceNormalization": instance_norm, "LayerNormalization": layer_norm,
    "LpNormalization": lp_normalization, "LRN": local_response_norm, "Dropout": dropout,
    "Conv": conv, "ConvInteger": conv_integer, "ConvTranspose": conv_transpose,
    "MaxPool": pool("max"), "AveragePool": pool("average"),
    "LpPool": pool("lp"),
    "GlobalAveragePool": global_pool(np.mean), "GlobalMaxPool": global_pool(np.max), "Resize": resize,
    "RNN": recurrent("RNN"), "GRU": recurrent("GRU"), "LSTM": recurrent("LSTM"),
}
