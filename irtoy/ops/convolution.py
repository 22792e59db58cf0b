"""Window ops: convolution and pooling over images in NCHW layout (batch, channels, height, width).

Each convolution-like op has its adjoints in the registry as ops of their own, so every
gradient rule is written with registry ops and gradients of gradients work: conv2d's input
gradient is conv_transpose2d, its weight gradient is conv2d_weight_grad, and these three are
each other's gradients. Pooling has no padding.

Windows: a window of size (kh, kw) moved with stride (sh, sw) over an (h, w) image (after
zero padding (ph, pw) on each side) has ((h + 2 ph - kh) // sh + 1, ...) positions, the
usual convention of PyTorch and JAX. Attributes are pairs of ints (`int_pair`).
"""
import functools

import numpy as np

from irtoy.errors import ShapeError
from irtoy.ops.normalize import int_pair, shape_of
from irtoy.ops.registry import bind, declare
from irtoy.ops.spec import Spec


def window_positions(size, window, stride, padding=(0, 0)):
    """How many positions a sliding window has along each spatial axis: (oh, ow)."""
    return tuple((s + 2 * p - k) // st + 1 for s, k, st, p in zip(size, window, stride, padding))


def _check_image(spec, what):
    if len(spec.shape) != 4:
        raise ShapeError(f"{what} must be a 4-d array (batch, channels, height, width), not {spec}")
    if spec.dtype.kind != "f":
        raise ShapeError(f"{what} must be a floating-point array, not {spec}")


def _check_fits(size, window, padding, what):
    if any(s + 2 * p < k for s, k, p in zip(size, window, padding)):
        raise ShapeError(f"a {window[0]}x{window[1]} {what} does not fit in a {size[0]}x{size[1]} image "
                         f"padded by {tuple(padding)}")


def _check_positions(size, window, stride, padding, got, what):
    expected = window_positions(size, window, stride, padding)
    if tuple(got) != expected:
        raise ShapeError(f"{what} has spatial size {tuple(got)}, but a {window[0]}x{window[1]} window with "
                         f"stride {tuple(stride)} and padding {tuple(padding)} over a {size[0]}x{size[1]} image "
                         f"has {expected} positions")


def conv2d_rule(specs, stride, padding):
    x, w = specs
    _check_image(x, "the input")
    _check_image(w, "the weight")
    if x.shape[1] != w.shape[1]:
        raise ShapeError(f"the input has {x.shape[1]} channels but the weight expects {w.shape[1]} "
                         f"(weights are (out_channels, in_channels, kh, kw))")
    _check_fits(x.shape[2:], w.shape[2:], padding, "kernel")
    oh, ow = window_positions(x.shape[2:], w.shape[2:], stride, padding)
    return Spec((x.shape[0], w.shape[0], oh, ow), np.result_type(x.dtype, w.dtype))


def conv_transpose2d_rule(specs, stride, padding, image_size):
    y, w = specs
    _check_image(y, "the input")
    _check_image(w, "the weight")
    if y.shape[1] != w.shape[0]:
        raise ShapeError(f"the input has {y.shape[1]} channels but the weight's first axis is {w.shape[0]} "
                         f"(weights are (out_channels, in_channels, kh, kw) of the conv2d this transposes)")
    _check_fits(image_size, w.shape[2:], padding, "kernel")
    _check_positions(image_size, w.shape[2:], stride, padding, y.shape[2:], "the input")
    return Spec((y.shape[0], w.shape[1]) + tuple(image_size), np.result_type(y.dtype, w.dtype))


def conv2d_weight_grad_rule(specs, kernel_size, stride, padding):
    x, g = specs
    _check_image(x, "the input")
    _check_image(g, "the output gradient")
    if x.shape[0] != g.shape[0]:
        raise ShapeError(f"the input has a batch of {x.shape[0]} but the output gradient of {g.shape[0]}")
    _check_fits(x.shape[2:], kernel_size, padding, "kernel")
    _check_positions(x.shape[2:], kernel_size, stride, padding, g.shape[2:], "the output gradient")
    return Spec((g.shape[1], x.shape[1]) + tuple(kernel_size), np.result_type(x.dtype, g.dtype))


def pool2d_rule(specs, window, stride):
    (x,) = specs
    _check_image(x, "the input")
    _check_fits(x.shape[2:], window, (0, 0), "pooling window")
    return Spec(x.shape[:2] + window_positions(x.shape[2:], window, stride), x.dtype)


def max_pool2d_grad_rule(specs, window, stride):
    x, g = specs
    pooled = pool2d_rule([x], window, stride)
    _check_image(g, "the output gradient")
    if g.shape != pooled.shape:
        raise ShapeError(f"the output gradient must have the pooled shape {pooled.shape}, not {g.shape}")
    return Spec(x.shape, g.dtype)


def max_pool2d_pick_rule(specs, window, stride):
    x, v = specs
    pooled = pool2d_rule([x], window, stride)
    _check_image(v, "the picked array")
    if v.shape != x.shape:
        raise ShapeError(f"the picked array must have the input's shape {x.shape}, not {v.shape}")
    return Spec(pooled.shape, v.dtype)


def avg_pool2d_grad_rule(specs, window, stride, image_size):
    (g,) = specs
    _check_image(g, "the output gradient")
    _check_fits(image_size, window, (0, 0), "pooling window")
    _check_positions(image_size, window, stride, (0, 0), g.shape[2:], "the output gradient")
    return Spec(g.shape[:2] + tuple(image_size), g.dtype)


# -- reference implementations: whole-array NumPy ---------------------------------------------
#
# A window op is a sum (or max) over the kernel offsets (a, b). For one offset, the entries
# every window reads form a strided slice of the (padded) image, one entry per window
# position: `_offset_slices` yields them. conv2d copies all windows at once instead (im2col:
# one column per window), so that it is one matrix product per image; its adjoints and the
# pools loop over the few offsets, each step one whole-array NumPy operation.

def _padded(x, padding):
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x


def _offset_slices(window, stride, positions):
    """(a, b, index) for each kernel offset in row-major order: x[index] is (N, C, OH, OW), the
    entry at offset (a, b) of every window."""
    (kh, kw), (sh, sw), (oh, ow) = window, stride, positions
    for a in range(kh):
        for b in range(kw):
            rows, cols = slice(a, a + sh * (oh - 1) + 1, sh), slice(b, b + sw * (ow - 1) + 1, sw)
            yield a, b, (slice(None), slice(None), rows, cols)


def _conv2d(x, w, stride, padding):
    """out[n, o, i, j] = sum over c, a, b of x_padded[n, c, i*sh + a, j*sw + b] * w[o, c, a, b]."""
    every = np.lib.stride_tricks.sliding_window_view(_padded(x, padding), w.shape[2:], axis=(2, 3))
    windows = every[:, :, ::stride[0], ::stride[1]]                     # (N, C, OH, OW, KH, KW), a view
    n, c, oh, ow, kh, kw = windows.shape
    cols = windows.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)     # im2col: a copy
    out = np.matmul(w.reshape(w.shape[0], -1), cols).reshape(n, w.shape[0], oh, ow)
    return out.astype(np.result_type(x, w), copy=False)


def _conv_transpose2d(y, w, stride, padding, image_size):
    """The adjoint of conv2d in its input: <conv2d(x, w), y> == <x, conv_transpose2d(y, w)>.

    Every window sends back what it read: offset (a, b) of each window adds w[:, :, a, b]^T y.
    """
    (n, o), c, (h, wd), (ph, pw) = y.shape[:2], w.shape[1], image_size, padding
    full = np.zeros((n, c, h + 2 * ph, wd + 2 * pw), np.result_type(y, w))
    rows = y.reshape(n, o, -1)
    for a, b, at in _offset_slices(w.shape[2:], stride, y.shape[2:]):
        full[at] += np.matmul(w[:, :, a, b].T, rows).reshape((n, c) + y.shape[2:])
    return np.ascontiguousarray(full[:, :, ph:ph + h, pw:pw + wd])


def _conv2d_weight_grad(x, g, kernel_size, stride, padding):
    """dw[o, c, a, b] = sum over n, i, j of g[n, o, i, j] * x_padded[n, c, i*sh + a, j*sw + b]."""
    xp, c, o = _padded(x, padding), x.shape[1], g.shape[1]
    out = np.empty((o, c) + tuple(kernel_size), np.result_type(x, g))
    g_rows = g.transpose(1, 0, 2, 3).reshape(o, -1)                     # (O, N*OH*OW)
    for a, b, at in _offset_slices(kernel_size, stride, g.shape[2:]):
        out[:, :, a, b] = g_rows @ xp[at].transpose(0, 2, 3, 1).reshape(-1, c)
    return out


def _max_pool2d(x, window, stride):
    positions = window_positions(x.shape[2:], window, stride)
    return functools.reduce(np.maximum, (x[at] for _, _, at in _offset_slices(window, stride, positions)))


def _first_max_offsets(x, window, stride):
    """(N, C, OH, OW) ints: the offset a * kw + b of each window's first largest entry in
    row-major order (a later entry wins only if it is strictly larger)."""
    positions = window_positions(x.shape[2:], window, stride)
    offsets = _offset_slices(window, stride, positions)
    best, which = x[next(offsets)[2]], np.zeros(x.shape[:2] + positions, np.intp)
    for k, (_, _, at) in enumerate(offsets, start=1):
        better = x[at] > best
        best = np.where(better, x[at], best)
        which[better] = k
    return which


def _max_pool2d_grad(x, g, window, stride):
    """Each window's gradient goes to its first largest input (summed where windows overlap)."""
    which = _first_max_offsets(x, window, stride)
    out = np.zeros(x.shape, g.dtype)
    for k, (_, _, at) in enumerate(_offset_slices(window, stride, g.shape[2:])):
        out[at] += np.where(which == k, g, 0)
    return out


def _max_pool2d_pick(x, v, window, stride):
    """v at the position of each window's first largest entry of x."""
    which = _first_max_offsets(x, window, stride)
    out = np.zeros(which.shape, v.dtype)
    for k, (_, _, at) in enumerate(_offset_slices(window, stride, which.shape[2:])):
        out = np.where(which == k, v[at], out)
    return out


def _avg_pool2d(x, window, stride):
    positions = window_positions(x.shape[2:], window, stride)
    total = functools.reduce(np.add, (x[at] for _, _, at in _offset_slices(window, stride, positions)))
    return total / x.dtype.type(window[0] * window[1])


def _avg_pool2d_grad(g, window, stride, image_size):
    """The adjoint of avg_pool2d: each window's gradient spread evenly over it."""
    share = g / g.dtype.type(window[0] * window[1])
    out = np.zeros(g.shape[:2] + tuple(image_size), g.dtype)
    for _, _, at in _offset_slices(window, stride, g.shape[2:]):
        out[at] += share
    return out


# -- public functions ----------------------------------------------------------------------

@declare("conv2d", "window", conv2d_rule, _conv2d, 2,
         doc="2-d cross-correlation of NCHW x with w (O, C, KH, KW), zero padding, stride")
def conv2d(x, w, stride=1, padding=0):
    """2-d convolution (cross-correlation, as in deep learning) of x (N, C, H, W) with w (O, C, KH, KW).

    x is padded with `padding` zeros on each side and the kernel moved by `stride` (each an
    int or an (h, w) pair). The result is (N, O, OH, OW) with OH = (H + 2 ph - KH) // sh + 1.
    No bias: layers add their own.
    """
    return bind("conv2d", x, w, stride=int_pair(stride, "conv2d stride", 1), padding=int_pair(padding, "conv2d padding", 0))


@declare("conv_transpose2d", "window", conv_transpose2d_rule, _conv_transpose2d, 2,
         doc="the transpose of conv2d in its input: conv2d's input gradient, and a learned upsampling")
def conv_transpose2d(y, w, stride=1, padding=0, image_size=None, output_padding=0):
    """The transpose of `conv2d(·, w, stride, padding)`: y (N, O, OH, OW) -> (N, C, H, W).

    It is conv2d's gradient with respect to its input, and (as a layer) a learned upsampling.
    Several image sizes give the same OH when stride > 1, so the result's spatial size
    `image_size` (H, W) may be given; by default it is the smallest, (OH - 1) * sh - 2 ph + KH,
    plus `output_padding` (as in PyTorch).
    """
    stride, padding = int_pair(stride, "conv_transpose2d stride", 1), int_pair(padding, "conv_transpose2d padding", 0)
    if image_size is None:
        extra = int_pair(output_padding, "conv_transpose2d output_padding", 0)
        (oh, ow), (kh, kw) = shape_of(y)[2:], shape_of(w)[2:]
        image_size = ((oh - 1) * stride[0] - 2 * padding[0] + kh + extra[0],
                      (ow - 1) * stride[1] - 2 * padding[1] + kw + extra[1])
    return bind("conv_transpose2d", y, w, stride=stride, padding=padding,
                image_size=int_pair(image_size, "conv_transpose2d image_size", 1))


@declare("conv2d_weight_grad", "window", conv2d_weight_grad_rule, _conv2d_weight_grad, 2,
         doc="the gradient of conv2d with respect to its weight, from the input and the output gradient")
def conv2d_weight_grad(x, g, kernel_size, stride=1, padding=0):
    """d/dw of sum(conv2d(x, w, stride, padding) * g): an (O, C, KH, KW) array."""
    return bind("conv2d_weight_grad", x, g, kernel_size=int_pair(kernel_size, "conv2d_weight_grad kernel_size", 1),
                stride=int_pair(stride, "conv2d_weight_grad stride", 1),
                padding=int_pair(padding, "conv2d_weight_grad padding", 0))


def _pool_attrs(name, size, stride):
    window = int_pair(size, f"{name} size", 1)
    return {"window": window, "stride": window if stride is None else int_pair(stride, f"{name} stride", 1)}


@declare("max_pool2d", "window", pool2d_rule, _max_pool2d, 1, doc="the largest entry of each window")
def max_pool2d(x, size, stride=None):
    """The largest entry of each size x size window of x (N, C, H, W); stride defaults to size."""
    return bind("max_pool2d", x, **_pool_attrs("max_pool2d", size, stride))


@declare("max_pool2d_grad", "window", max_pool2d_grad_rule, _max_pool2d_grad, 2,
         doc="max_pool2d's input gradient: g sent to the first largest entry of each window of x")
def max_pool2d_grad(x, g, size, stride=None):
    """Gradient of max_pool2d(x): each window's g goes to its first largest entry of x."""
    return bind("max_pool2d_grad", x, g, **_pool_attrs("max_pool2d_grad", size, stride))


@declare("max_pool2d_pick", "window", max_pool2d_pick_rule, _max_pool2d_pick, 2,
         doc="v at the first largest entry of each window of x: the transpose of max_pool2d_grad in g")
def max_pool2d_pick(x, v, size, stride=None):
    """For each window of x, the entry of v (shaped like x) where x has its first largest entry."""
    return bind("max_pool2d_pick", x, v, **_pool_attrs("max_pool2d_pick", size, stride))


@declare("avg_pool2d", "window", pool2d_rule, _avg_pool2d, 1, doc="the mean of each window")
def avg_pool2d(x, size, stride=None):
    """The mean of each size x size window of x (N, C, H, W); stride defaults to size."""
    return bind("avg_pool2d", x, **_pool_attrs("avg_pool2d", size, stride))


@declare("avg_pool2d_grad", "window", avg_pool2d_grad_rule, _avg_pool2d_grad, 1,
         doc="avg_pool2d's input gradient: each window's g spread evenly over the window")
def avg_pool2d_grad(g, size, stride, image_size):
    """Gradient of avg_pool2d for an image of spatial size `image_size` (H, W)."""
    return bind("avg_pool2d_grad", g, **_pool_attrs("avg_pool2d_grad", size, stride),
                image_size=int_pair(image_size, "avg_pool2d_grad image_size", 1))
