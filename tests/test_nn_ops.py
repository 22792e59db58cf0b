"""The ops for neural networks against plain loops: convolution, its adjoints, pooling, random numbers.

The reference implementations in irtoy/ops/convolution.py and random.py are whole-array NumPy
(im2col); here every output is computed again one pixel at a time, the way the definitions read. Adjoints are
checked through the identity <A x, y> == <x, A^T y>, which holds to rounding for any x, y.
"""
import numpy as np
import pytest

import irtoy
from irtoy import ops
from irtoy.benchmarks.references import maxpool2x2_backward

GEOMETRIES = [
    # (N, C, O, (H, W), (KH, KW), stride, padding)
    (2, 3, 2, (6, 5), (3, 3), (1, 1), (0, 0)),
    (1, 2, 3, (5, 6), (3, 2), (2, 1), (1, 2)),
    (2, 1, 1, (4, 4), (1, 1), (2, 2), (2, 0)),
    (1, 3, 2, (6, 6), (3, 3), (2, 2), (1, 1)),
    (2, 2, 2, (2, 3), (3, 3), (1, 2), (2, 1)),
]


def convolve_by_loops(x, w, stride, padding):
    """out[n, o, i, j] = sum of x[n, c, i*sh + a - ph, j*sw + b - pw] * w[o, c, a, b], zero outside x."""
    n_, c_, h, wd = x.shape
    o_, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, padding
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    out = np.zeros((n_, o_, oh, ow))
    for n in range(n_):
        for o in range(o_):
            for i in range(oh):
                for j in range(ow):
                    for c in range(c_):
                        for a in range(kh):
                            for b in range(kw):
                                r, s = i * sh + a - ph, j * sw + b - pw
                                if 0 <= r < h and 0 <= s < wd:
                                    out[n, o, i, j] += x[n, c, r, s] * w[o, c, a, b]
    return out


def random_geometry(geometry, seed=0):
    n, c, o, size, kernel, stride, padding = geometry
    rng = np.random.default_rng(seed)
    x, w = rng.normal(size=(n, c) + size), rng.normal(size=(o, c) + kernel)
    y = rng.normal(size=(n, o) + ops.window_positions(size, kernel, stride, padding))
    return x, w, y, stride, padding


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_conv2d_matches_a_direct_loop(geometry):
    x, w, _, stride, padding = random_geometry(geometry)
    np.testing.assert_allclose(ops.conv2d(x, w, stride, padding), convolve_by_loops(x, w, stride, padding),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_conv_transpose2d_and_the_weight_gradient_are_the_adjoints_of_conv2d(geometry):
    x, w, y, stride, padding = random_geometry(geometry)
    forward = np.sum(ops.conv2d(x, w, stride, padding) * y)
    size = x.shape[2:]
    np.testing.assert_allclose(np.sum(x * ops.conv_transpose2d(y, w, stride, padding, image_size=size)), forward,
                               rtol=1e-12)
    np.testing.assert_allclose(np.sum(w * ops.conv2d_weight_grad(x, y, w.shape[2:], stride, padding)), forward,
                               rtol=1e-12)


def test_conv_transpose2d_picks_the_smallest_image_unless_told():
    y, w = np.ones((1, 2, 3, 3)), np.ones((2, 1, 3, 3))
    assert ops.conv_transpose2d(y, w, stride=2).shape == (1, 1, 7, 7)
    assert ops.conv_transpose2d(y, w, stride=2, output_padding=1).shape == (1, 1, 8, 8)
    assert ops.conv_transpose2d(y, w, stride=2, padding=1, image_size=(6, 5)).shape == (1, 1, 6, 5)


def test_conv2d_in_float32_stays_float32_and_close_to_float64():
    x, w, _, stride, padding = random_geometry(GEOMETRIES[1])
    got = ops.conv2d(x.astype(np.float32), w.astype(np.float32), stride, padding)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, ops.conv2d(x, w, stride, padding), rtol=1e-5, atol=1e-5)


# -- pooling -------------------------------------------------------------------------------------

def pool_by_loops(x, window, stride, reduce):
    n_, c_, h, w = x.shape
    oh, ow = (h - window[0]) // stride[0] + 1, (w - window[1]) // stride[1] + 1
    out = np.zeros((n_, c_, oh, ow))
    for n, c, i, j in np.ndindex(out.shape):
        r, s = i * stride[0], j * stride[1]
        out[n, c, i, j] = reduce(x[n, c, r:r + window[0], s:s + window[1]])
    return out


def max_pool_gradient_by_loops(x, g, window, stride):
    """Each window's g added at its first largest entry in row-major order."""
    out = np.zeros(x.shape)
    for n, c, i, j in np.ndindex(g.shape):
        best = None
        for a in range(window[0]):
            for b in range(window[1]):
                r, s = i * stride[0] + a, j * stride[1] + b
                if best is None or x[n, c, r, s] > x[n, c, best[0], best[1]]:
                    best = (r, s)
        out[n, c, best[0], best[1]] += g[n, c, i, j]
    return out


POOLS = [((2, 2), (2, 2)), ((3, 3), (1, 1)), ((2, 3), (1, 2)), ((1, 1), (2, 1)), ((3, 2), (2, 2))]


def tied_image(seed=0, shape=(2, 3, 6, 5)):
    """Small integers, so many windows have their maximum more than once."""
    return np.random.default_rng(seed).integers(0, 3, shape).astype(np.float64)


@pytest.mark.parametrize("window, stride", POOLS)
def test_pooling_matches_loops(window, stride):
    x = np.random.default_rng(1).normal(size=(2, 3, 6, 5))
    np.testing.assert_array_equal(ops.max_pool2d(x, window, stride), pool_by_loops(x, window, stride, np.max))
    np.testing.assert_allclose(ops.avg_pool2d(x, window, stride), pool_by_loops(x, window, stride, np.mean),
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("window, stride", POOLS)
def test_max_pool_gradient_goes_to_the_first_largest_entry_of_each_window(window, stride):
    x = tied_image()
    g = np.random.default_rng(2).normal(size=ops.max_pool2d(x, window, stride).shape)
    expected = max_pool_gradient_by_loops(x, g, window, stride)
    np.testing.assert_allclose(ops.max_pool2d_grad(x, g, window, stride), expected, rtol=1e-14)
    # through the gradient pass as well
    (dx,) = irtoy.trace(lambda x: np.sum(ops.max_pool2d(x, window, stride) * g), x).grad(wrt=(0,)).compile("numpy")(x)
    np.testing.assert_allclose(dx, expected, rtol=1e-14)


def test_max_pool_gradient_agrees_with_the_hand_written_baseline():
    x = tied_image(3, (2, 2, 6, 4))
    g = np.random.default_rng(4).normal(size=(2, 2, 3, 2))
    np.testing.assert_array_equal(ops.max_pool2d_grad(x, g, 2), maxpool2x2_backward(g, x))


@pytest.mark.parametrize("window, stride", POOLS)
def test_pooling_gradient_ops_are_adjoints(window, stride):
    rng = np.random.default_rng(5)
    x, v = tied_image(), rng.normal(size=(2, 3, 6, 5))
    g = rng.normal(size=ops.max_pool2d(x, window, stride).shape)
    np.testing.assert_allclose(np.sum(ops.max_pool2d_grad(x, g, window, stride) * v),
                               np.sum(g * ops.max_pool2d_pick(x, v, window, stride)), rtol=1e-12)
    np.testing.assert_allclose(np.sum(ops.avg_pool2d_grad(g, window, stride, x.shape[2:]) * v),
                               np.sum(g * ops.avg_pool2d(v, window, stride)), rtol=1e-12)
    # picking x itself gives the maximum
    np.testing.assert_array_equal(ops.max_pool2d_pick(x, x, window, stride), ops.max_pool2d(x, window, stride))


# -- second derivatives --------------------------------------------------------------------------

def test_hessian_vector_products_through_convolution_and_pooling_match_finite_differences():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, 2, 6, 6))
    w1, w2 = rng.normal(size=(3, 2, 3, 3)) * 0.5, rng.normal(size=(3, 2, 2, 2)) * 0.5
    outputs = rng.normal(size=(2, 3, 3, 3))

    def f(w1):
        h = np.tanh(ops.conv2d(x, w1, 1, 1))                            # (2, 3, 6, 6)
        h = ops.avg_pool2d(h, 2) + 0.1 * ops.max_pool2d(h, 2)           # (2, 3, 3, 3)
        up = ops.conv_transpose2d(h, w2, 1, 0)                          # (2, 2, 4, 4)
        return np.sum(np.tanh(ops.conv2d(up, w2, 1, 0)) * outputs)      # (2, 3, 3, 3)

    v = rng.normal(size=w1.shape)
    hvp = irtoy.grad(lambda w1, v: np.sum(irtoy.grad(f)(w1) * v))(w1, v)
    df = irtoy.grad(f)
    h = 1e-6
    np.testing.assert_allclose(hvp, (df(w1 + h * v) - df(w1 - h * v)) / (2 * h), rtol=1e-5, atol=1e-7)


# -- random numbers ------------------------------------------------------------------------------

def splitmix64_by_hand(seed, stream, count):
    """The generator written with Python integers, independently of the NumPy code."""
    mask = 2 ** 64 - 1

    def mix(z):
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    key = mix((mix(seed & mask) + stream * 0x9E3779B97F4A7C15) & mask)
    return [mix((key + (i + 1) * 0x9E3779B97F4A7C15) & mask) for i in range(count)]


@pytest.mark.parametrize("seed, stream", [(0, 0), (12345, 3), (-1, 1), (2 ** 62 + 7, 2 ** 40)])
def test_random_uniform_is_splitmix64_keyed_by_seed_and_stream(seed, stream):
    bits = splitmix64_by_hand(seed, stream, 6)
    single = ops.random_uniform(np.int64(seed), (2, 3), stream, np.float32)
    double = ops.random_uniform(np.int64(seed), (2, 3), stream, np.float64)
    np.testing.assert_array_equal(single.ravel(), [(b >> 40) / 2 ** 24 for b in bits])
    np.testing.assert_array_equal(double.ravel(), [(b >> 11) / 2 ** 53 for b in bits])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_random_uniform_is_roughly_uniform_on_0_1(dtype):
    u = ops.random_uniform(np.int64(2024), (100_000,), stream=1, dtype=dtype)
    assert u.dtype == dtype and u.min() >= 0 and u.max() < 1
    # mean and variance within ~5 standard errors of 1/2 and 1/12
    assert abs(u.mean() - 0.5) < 0.0046
    assert abs(u.var() - 1 / 12) < 0.0012
    counts = np.bincount((u * 10).astype(int), minlength=10)
    assert np.all(np.abs(counts - 10_000) < 500)
    # neighbours are not correlated
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.02


def test_random_uniform_is_the_same_for_the_same_key_and_different_otherwise():
    def draw(seed, stream):
        return ops.random_uniform(np.int64(seed), (1000,), stream=stream)
    np.testing.assert_array_equal(draw(7, 1), draw(7, 1))
    for other in [draw(8, 1), draw(7, 2), draw(-7, 1)]:
        assert np.mean(other == draw(7, 1)) < 0.01
    # a longer draw starts with the shorter one: entry i depends on i alone
    np.testing.assert_array_equal(ops.random_uniform(np.int64(7), (2000,), stream=1)[:1000], draw(7, 1))


def test_random_uniform_traced_takes_the_seed_as_an_argument():
    f = irtoy.trace(lambda seed: ops.random_uniform(seed, (4, 5), stream=2), np.int64(0)).compile("numpy")
    np.testing.assert_array_equal(f(np.int64(11)), ops.random_uniform(np.int64(11), (4, 5), stream=2))
    assert not np.array_equal(f(np.int64(11)), f(np.int64(12)))


# -- errors a user can make ------------------------------------------------------------------------

def test_shape_errors_name_the_op_the_shapes_and_the_line():
    x = np.zeros((2, 3, 5, 5), np.float32)
    with pytest.raises(irtoy.ShapeError, match=r"(?s)conv2d\(f32\[2,3,5,5\], f32\[4,2,3,3\]\).*3 channels.*"
                                              r"expects 2.*test_nn_ops.py"):
        irtoy.trace(lambda x: ops.conv2d(x, np.zeros((4, 2, 3, 3), np.float32)), x)
    with pytest.raises(irtoy.ShapeError, match=r"max_pool2d.*a 6x6 pooling window does not fit in a 5x5 image"):
        irtoy.trace(lambda x: ops.max_pool2d(x, 6), x)
    with pytest.raises(irtoy.ShapeError, match=r"conv2d.*4-d array"):
        irtoy.trace(lambda x: ops.conv2d(x[0], np.zeros((4, 3, 3, 3), np.float32)), x)
    with pytest.raises(irtoy.ShapeError, match=r"conv2d stride must be an int or a pair of ints of at least 1"):
        ops.conv2d(x, np.zeros((4, 3, 3, 3), np.float32), stride=0)
    with pytest.raises(irtoy.ShapeError, match=r"random_uniform.*seed must be a 0-d integer array"):
        irtoy.trace(lambda s: ops.random_uniform(s, (3,)), np.float32(1))
