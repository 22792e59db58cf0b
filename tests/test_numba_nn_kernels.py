"""The numba kernels of the ops for neural networks against the interpreter's reference code.

Each kernel is called as the generated driver calls it (arguments, attributes, an output
array to fill) and compared with the op's NumPy implementation: pooling and random numbers
exactly, convolutions within float rounding (both use BLAS, but with other blockings). Then
whole graphs go through the numba backend: random numbers bit for bit, and a training step
of a conv net with dropout (whose masks must match for the results to) against the
interpreter's.
"""
import numpy as np
import pytest

import irtoy
from irtoy import nn, ops, pytree
from irtoy.backends.numba import nn_kernels as kernels
from irtoy.ops import convolution as ops_nn

GEOMETRIES = [
    # (N, C, O, (H, W), (KH, KW), stride, padding)
    (2, 3, 2, (6, 5), (3, 3), (1, 1), (0, 0)),
    (1, 2, 3, (5, 6), (3, 2), (2, 1), (1, 2)),
    (2, 1, 1, (4, 4), (1, 1), (2, 2), (2, 0)),
    (2, 2, 2, (2, 3), (3, 3), (1, 2), (2, 1)),
]
POOLS = [((2, 2), (2, 2)), ((3, 3), (1, 1)), ((2, 3), (1, 2)), ((3, 2), (2, 2))]
TOLERANCE = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


pytestmark = pytest.mark.usefixtures("numba_kernel_cache")


def filled(like_shape, dtype, fn, *args):
    out = np.full(like_shape, np.nan, dtype)     # the kernel must write every entry
    fn(*args, out)
    return out


def conv_arguments(geometry, dtype, seed=0):
    n, c, o, size, kernel, stride, padding = geometry
    rng = np.random.default_rng(seed)
    # x arrives as a transposed view: kernels must not assume C-contiguous arguments
    x = rng.normal(size=(n, c) + size[::-1]).astype(dtype).transpose(0, 1, 3, 2)
    w = rng.normal(size=(o, c) + kernel).astype(dtype)
    y = rng.normal(size=(n, o) + ops.window_positions(size, kernel, stride, padding)).astype(dtype)
    return x, w, y, stride, padding


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_convolution_kernels_match_the_reference(geometry, dtype):
    x, w, y, stride, padding = conv_arguments(geometry, dtype)
    expected = ops_nn._conv2d(x, w, stride, padding)
    np.testing.assert_allclose(filled(expected.shape, dtype, kernels.conv2d, x, w, stride, padding), expected,
                               **TOLERANCE[dtype])
    expected = ops_nn._conv_transpose2d(y, w, stride, padding, x.shape[2:])
    np.testing.assert_allclose(filled(expected.shape, dtype, kernels.conv_transpose2d, y, w, stride, padding),
                               expected, **TOLERANCE[dtype])
    expected = ops_nn._conv2d_weight_grad(x, y, w.shape[2:], stride, padding)
    np.testing.assert_allclose(filled(expected.shape, dtype, kernels.conv2d_weight_grad, x, y, stride, padding),
                               expected, **TOLERANCE[dtype])


def test_convolution_of_mixed_dtypes_computes_in_the_wider_one():
    x, w, _, stride, padding = conv_arguments(GEOMETRIES[1], np.float32)
    w = w.astype(np.float64) / 3
    expected = ops_nn._conv2d(x, w, stride, padding)
    assert expected.dtype == np.float64
    np.testing.assert_allclose(filled(expected.shape, np.float64, kernels.conv2d, x, w, stride, padding), expected,
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("window, stride", POOLS)
def test_pooling_kernels_give_the_references_numbers(window, stride, dtype):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 4, (2, 3, 7, 6)).astype(dtype)      # ties in most windows
    v = rng.normal(size=x.shape).astype(dtype)
    pooled = ops_nn._max_pool2d(x, window, stride)
    g = rng.normal(size=pooled.shape).astype(dtype)
    np.testing.assert_array_equal(filled(pooled.shape, dtype, kernels.max_pool2d, x, window, stride), pooled)
    np.testing.assert_array_equal(filled(pooled.shape, dtype, kernels.max_pool2d_pick, x, v, window, stride),
                                  ops_nn._max_pool2d_pick(x, v, window, stride))
    np.testing.assert_array_equal(filled(pooled.shape, dtype, kernels.avg_pool2d, v, window, stride),
                                  ops_nn._avg_pool2d(v, window, stride))
    overlapping = any(s < k for s, k in zip(stride, window))
    check = np.testing.assert_allclose if overlapping else np.testing.assert_array_equal
    options = TOLERANCE[dtype] if overlapping else {}   # overlaps add in another order
    check(filled(x.shape, dtype, kernels.max_pool2d_grad, x, g, window, stride),
          ops_nn._max_pool2d_grad(x, g, window, stride), **options)
    check(filled(x.shape, dtype, kernels.avg_pool2d_grad, g, window, stride),
          ops_nn._avg_pool2d_grad(g, window, stride, x.shape[2:]), **options)


def test_max_pooling_lets_a_nan_through_as_numpy_maximum_does():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 1, 0] = np.nan
    got = filled((1, 1, 2, 2), np.float64, kernels.max_pool2d, x, (2, 2), (2, 2))
    np.testing.assert_array_equal(got, ops_nn._max_pool2d(x, (2, 2), (2, 2)))
    assert np.isnan(got[0, 0, 0, 0])


# -- through the backend ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_random_numbers_are_the_interpreters_bit_for_bit(dtype):
    def draws(seed):
        return [ops.random_uniform(seed, (3, 50), stream=1, dtype=dtype),
                ops.random_uniform(seed, (7,), stream=2 ** 40, dtype=dtype),
                ops.random_uniform(seed, (), stream=3, dtype=dtype)]
    traced = irtoy.trace(draws, np.int64(0))
    slow, fast = traced.compile("numpy"), traced.compile("numba")
    for seed in [0, 1, -5, 2 ** 62 + 11]:
        for a, b in zip(slow(np.int64(seed)), fast(np.int64(seed))):
            assert np.asarray(b).dtype == dtype
            np.testing.assert_array_equal(a, b)


def conv_net_with_dropout():
    block = nn.Sequential([nn.Conv2D(3, 3, 3, padding=1, seed=1), nn.ReLU(), nn.Conv2D(3, 3, 3, padding=1, seed=2)])
    return nn.Sequential([nn.Conv2D(1, 3, 3, stride=1, padding=1, seed=0), nn.ReLU(), nn.Residual(block),
                          nn.MaxPool2D(2), nn.Dropout(0.5), nn.AvgPool2D(2, stride=1),
                          nn.ConvTranspose2D(3, 2, 2, stride=2, seed=3), nn.Flatten(), nn.Dense(2 * 6 * 6, 3, seed=4)])


def test_a_conv_net_training_step_with_dropout_matches_the_interpreter():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 1, 8, 8)).astype(np.float32), rng.integers(0, 3, 6)
    net, outputs = conv_net_with_dropout(), {}      # one net: each Dropout layer has its own stream
    for backend in ["numpy", "numba"]:
        model = nn.Model(net, loss=nn.SoftmaxCrossEntropy(), optimizer=nn.SGD(0.1), backend=backend, seed=0)
        step = model.compiled_step(x, y)
        outputs[backend] = step(*model._train_args(x, model.targets(y)))
    for a, b in zip(pytree.flatten(outputs["numpy"])[0], pytree.flatten(outputs["numba"])[0]):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
