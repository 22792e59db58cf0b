"""Convolution and pooling layers, for images in NCHW layout.

Samples are (channels, height, width) (shapes here exclude the batch axis, as in layers.py).
Each layer is one registry op (irtoy.ops.conv2d, max_pool2d, ...) plus a bias, so the
autodiff pass differentiates it with the ops' own gradient rules and both backends run it.
Sizes, strides and paddings are an int or an (h, w) pair; a layer keeps them as pairs.
"""
import numpy as np

import irtoy
from irtoy.errors import ShapeError
from irtoy.ops import int_pair
from irtoy.nn import initializers
from irtoy.nn.layers import Layer, _rng


def _image_shape(layer, input_shape, channels=None):
    """(C, H, W) of the layer's input, or a ShapeError naming the layer."""
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ShapeError(f"{layer.label()}: expects images (channels, height, width) per sample, "
                         f"but gets shape {input_shape} (batch axis excluded)")
    if channels is not None and input_shape[0] != channels:
        raise ShapeError(f"{layer.label()}: expects images with {channels} channels, but gets shape "
                         f"{input_shape} (channels, height, width)")
    return input_shape


def _check_window_fits(layer, input_shape, window, padding, what):
    _, h, w = input_shape
    if h + 2 * padding[0] < window[0] or w + 2 * padding[1] < window[1]:
        raise ShapeError(f"{layer.label()}: a {window[0]}x{window[1]} {what} does not fit "
                         f"in {h}x{w} images padded by {padding}")


class Conv2D(Layer):
    """y = conv2d(x, w) + b: w (out_channels, in_channels, kh, kw), b (out_channels,).

    Zero `padding` on each side and `stride` as in irtoy.ops.conv2d; an input (C, H, W)
    gives (out_channels, (H + 2 ph - kh) // sh + 1, (W + 2 pw - kw) // sw + 1).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, weight_init="he_uniform",
                 bias_init="zeros", seed=None):
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = int_pair(kernel_size, "Conv2D kernel_size", 1)
        self.stride, self.padding = int_pair(stride, "Conv2D stride", 1), int_pair(padding, "Conv2D padding", 0)
        initializers.check(weight_init, bias_init)
        self.weight_init, self.bias_init, self.seed = weight_init, bias_init, seed

    def init(self, rng, input_shape):
        shape = _image_shape(self, input_shape, self.in_channels)
        _check_window_fits(self, shape, self.kernel_size, self.padding, "kernel")
        rng = _rng(self, rng)
        w_shape = (self.out_channels, self.in_channels) + self.kernel_size
        params = {"w": initializers.get(self.weight_init)(rng, w_shape),
                  "b": initializers.get(self.bias_init)(rng, (self.out_channels,))}
        out = irtoy.ops.window_positions(shape[1:], self.kernel_size, self.stride, self.padding)
        return params, {}, (self.out_channels,) + out

    def apply(self, params, state, x, ctx):
        y = irtoy.ops.conv2d(x, params["w"], self.stride, self.padding)
        return y + params["b"].reshape(-1, 1, 1), state


class ConvTranspose2D(Layer):
    """The transpose of a Conv2D (a learned upsampling): y = conv_transpose2d(x, w) + b.

    w is (in_channels, out_channels, kh, kw), as the conv2d from out_channels to in_channels
    that this layer transposes (PyTorch's layout too); it is initialised with fan-in
    in_channels * kh * kw. An input (C, H, W) gives (out_channels, (H - 1) sh - 2 ph + kh +
    oph, ...) with oph the `output_padding`, which picks among the sizes a strided Conv2D
    maps to the same H.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 weight_init="he_uniform", bias_init="zeros", seed=None):
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = int_pair(kernel_size, "ConvTranspose2D kernel_size", 1)
        self.stride = int_pair(stride, "ConvTranspose2D stride", 1)
        self.padding = int_pair(padding, "ConvTranspose2D padding", 0)
        self.output_padding = int_pair(output_padding, "ConvTranspose2D output_padding", 0)
        if any(extra >= step for extra, step in zip(self.output_padding, self.stride)):
            raise ValueError(f"ConvTranspose2D output_padding {self.output_padding} must be smaller than the "
                             f"stride {self.stride}")
        initializers.check(weight_init, bias_init)
        self.weight_init, self.bias_init, self.seed = weight_init, bias_init, seed

    def output_size(self, size):
        return tuple((s - 1) * st - 2 * p + k + extra for s, st, p, k, extra in
                     zip(size, self.stride, self.padding, self.kernel_size, self.output_padding))

    def init(self, rng, input_shape):
        shape = _image_shape(self, input_shape, self.in_channels)
        out = self.output_size(shape[1:])
        if min(out) < 1 or irtoy.ops.window_positions(out, self.kernel_size, self.stride, self.padding) != shape[1:]:
            raise ShapeError(f"{self.label()}: {shape[1]}x{shape[2]} images give no output "
                             f"with kernel {self.kernel_size}, stride {self.stride} and padding {self.padding}")
        rng = _rng(self, rng)
        w = initializers.get(self.weight_init)(rng, (self.out_channels, self.in_channels) + self.kernel_size)
        params = {"w": np.ascontiguousarray(w.transpose(1, 0, 2, 3)),
                  "b": initializers.get(self.bias_init)(rng, (self.out_channels,))}
        return params, {}, (self.out_channels,) + out

    def apply(self, params, state, x, ctx):
        size = self.output_size(x.shape[2:])
        y = irtoy.ops.conv_transpose2d(x, params["w"], self.stride, self.padding, image_size=size)
        return y + params["b"].reshape(-1, 1, 1), state


class _Pool2D(Layer):
    op = None

    def __init__(self, size, stride=None):
        kind = type(self).__name__
        self.size = int_pair(size, f"{kind} size", 1)
        self.stride = self.size if stride is None else int_pair(stride, f"{kind} stride", 1)

    def init(self, rng, input_shape):
        shape = _image_shape(self, input_shape)
        _check_window_fits(self, shape, self.size, (0, 0), "pooling window")
        return {}, {}, shape[:1] + irtoy.ops.window_positions(shape[1:], self.size, self.stride)

    def apply(self, params, state, x, ctx):
        return getattr(irtoy.ops, self.op)(x, self.size, self.stride), state


class MaxPool2D(_Pool2D):
    """The largest value of each size x size window (stride defaults to size: windows side by side).

    The gradient goes to the first largest entry of each window (row-major order)."""
    op = "max_pool2d"


class AvgPool2D(_Pool2D):
    """The mean of each size x size window (stride defaults to size)."""
    op = "avg_pool2d"
