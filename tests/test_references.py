"""Checks for the hand-written NumPy baselines in ``irtoy.benchmarks.references``.

Gradients are compared, in float64, with central finite differences
(step 1e-6; truncation error ~1e-12, round-off ~1e-10), so agreement to
rtol 1e-6 / atol 1e-8 is expected.
"""

import math

import numpy as np
import pytest

from irtoy.benchmarks.references import (
    adam_init,
    adam_step,
    b1_numpy,
    col2im,
    conv2d_forward,
    conv_init,
    conv_loss_and_grads,
    conv_sgd_step,
    im2col,
    maxpool2x2_backward,
    maxpool2x2_forward,
    mlp_init,
    mlp_loss_and_grads,
    mlp_train_step,
    seed_scalar,
    softmax_cross_entropy,
)
from irtoy.benchmarks.tinynn import TinynnMLP

FD_STEP = 1e-6
GRAD_RTOL = 1e-6
GRAD_ATOL = 1e-8


def numeric_grad(f, arr, h=FD_STEP):
    """Central finite differences of scalar ``f()`` w.r.t. ``arr`` (perturbed in place)."""
    grad = np.zeros_like(arr)
    flat = arr.reshape(-1)
    gflat = grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        fp = f()
        flat[i] = old - h
        fm = f()
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * h)
    return grad


def onehot(labels, k):
    y = np.zeros((labels.size, k))
    y[np.arange(labels.size), labels] = 1.0
    return y


# ---------------------------------------------------------------------------
# B1
# ---------------------------------------------------------------------------


def test_b1_numpy_matches_float64_math():
    rng = np.random.default_rng(1)
    x = rng.uniform(-8, 8, size=1000).astype(np.float32)
    out = b1_numpy(x)
    assert out.dtype == np.float32
    assert out.shape == x.shape
    ref = np.array(
        [
            math.tanh(v * 1.7 + 0.3) / (1.0 + math.exp(-v)) + 0.5 * v * v
            for v in x.astype(np.float64).tolist()
        ]
    )
    # float32 evaluation of a handful of ops: a few ulp relative error
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------
# seed_scalar
# ---------------------------------------------------------------------------


def _seed_value(x1, x2, x3):
    return (math.sin(x1 + 1) + math.cos(2 * x2)) * math.tan(math.log(x3)) + (
        math.sin(x2 + 1) + math.cos(2 * x1)
    ) * math.exp(1 + math.sin(x3))


def _seed_points():
    # x3 in [0.5, 3] keeps log(x3) well away from the poles of tan at +-pi/2
    rng = np.random.default_rng(2)
    pts = [(0.3, -1.2, 1.7), (1.0, 2.0, 0.9), (-2.5, 0.1, 2.6)]
    pts += [
        (float(a), float(b), float(c))
        for a, b, c in zip(rng.uniform(-3, 3, 5), rng.uniform(-3, 3, 5), rng.uniform(0.5, 3, 5))
    ]
    return pts


@pytest.mark.parametrize("point", _seed_points())
def test_seed_scalar_value_and_gradient(point):
    y, grad = seed_scalar(*point)
    assert math.isclose(y, _seed_value(*point), rel_tol=1e-14, abs_tol=1e-14)
    assert len(grad) == 3
    for i in range(3):
        hi = list(point)
        lo = list(point)
        hi[i] += FD_STEP
        lo[i] -= FD_STEP
        fd = (_seed_value(*hi) - _seed_value(*lo)) / (2 * FD_STEP)
        assert math.isclose(grad[i], fd, rel_tol=GRAD_RTOL, abs_tol=GRAD_ATOL), (i, grad[i], fd)


# ---------------------------------------------------------------------------
# softmax cross-entropy
# ---------------------------------------------------------------------------


def test_softmax_cross_entropy_stable_and_correct():
    logits = np.array([[1000.0, 0.0, -1000.0], [0.1, 0.2, 0.3]])
    y = onehot(np.array([0, 2]), 3)
    loss, dlogits = softmax_cross_entropy(logits, y)
    row2 = math.log(sum(math.exp(v) for v in (0.1, 0.2, 0.3))) - 0.3
    assert math.isclose(loss, (0.0 + row2) / 2, rel_tol=1e-12)
    assert np.all(np.isfinite(dlogits))

    rng = np.random.default_rng(3)
    z = rng.normal(size=(4, 5))
    y = onehot(rng.integers(0, 5, 4), 5)
    _, dz = softmax_cross_entropy(z, y)
    fd = numeric_grad(lambda: softmax_cross_entropy(z, y)[0], z)
    np.testing.assert_allclose(dz, fd, rtol=GRAD_RTOL, atol=GRAD_ATOL)


# ---------------------------------------------------------------------------
# MLP + Adam
# ---------------------------------------------------------------------------


def test_mlp_init_shapes_and_scales():
    p = mlp_init()
    assert {k: v.shape for k, v in p.items()} == {
        "w1": (784, 400),
        "b1": (400,),
        "w2": (400, 100),
        "b2": (100,),
        "w3": (100, 10),
        "b3": (10,),
    }
    assert all(v.dtype == np.float32 for v in p.values())
    assert all(not p[b].any() for b in ("b1", "b2", "b3"))
    assert np.abs(p["w1"]).max() <= math.sqrt(6 / 784)
    assert np.abs(p["w2"]).max() <= math.sqrt(6 / 400)
    assert np.abs(p["w3"]).max() <= math.sqrt(6 / 110)
    # deterministic in the seed
    np.testing.assert_array_equal(mlp_init(seed=0)["w2"], p["w2"])
    assert not np.array_equal(mlp_init(seed=1)["w2"], p["w2"])


def test_mlp_gradients_match_finite_differences():
    rng = np.random.default_rng(4)
    params = mlp_init(sizes=(6, 5, 4, 3), seed=5, dtype=np.float64)
    # non-zero biases so their gradients are exercised at a generic point
    for k in ("b1", "b2", "b3"):
        params[k][:] = rng.normal(scale=0.1, size=params[k].shape)
    x = rng.normal(size=(4, 6))
    y = onehot(rng.integers(0, 3, 4), 3)

    loss, grads = mlp_loss_and_grads(params, x, y)
    assert isinstance(loss, float) and loss > 0
    assert set(grads) == set(params)
    for k, p in params.items():
        assert grads[k].shape == p.shape
        fd = numeric_grad(lambda: mlp_loss_and_grads(params, x, y)[0], p)
        np.testing.assert_allclose(grads[k], fd, rtol=GRAD_RTOL, atol=GRAD_ATOL, err_msg=k)


def test_adam_first_two_steps_match_formula():
    lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-8
    rng = np.random.default_rng(6)
    p0 = {"a": rng.normal(size=(3, 2)), "b": rng.normal(size=4)}
    g1 = {k: rng.normal(size=v.shape) for k, v in p0.items()}
    g2 = {k: rng.normal(size=v.shape) for k, v in p0.items()}

    params = {k: v.copy() for k, v in p0.items()}
    ids = {k: id(v) for k, v in params.items()}
    state = adam_init(params)
    adam_step(params, g1, state, lr=lr, b1=b1, b2=b2, eps=eps)
    after1 = {k: v.copy() for k, v in params.items()}
    adam_step(params, g2, state, lr=lr, b1=b1, b2=b2, eps=eps)

    assert state["t"] == 2
    assert {k: id(v) for k, v in params.items()} == ids  # updated in place
    for k in p0:
        # step 1: bias-corrected moments are g1 and g1^2
        m1 = (1 - b1) * g1[k]
        v1 = (1 - b2) * g1[k] ** 2
        exp1 = p0[k] - lr * (m1 / (1 - b1)) / (np.sqrt(v1 / (1 - b2)) + eps)
        # step 2
        m2 = b1 * m1 + (1 - b1) * g2[k]
        v2 = b2 * v1 + (1 - b2) * g2[k] ** 2
        exp2 = exp1 - lr * (m2 / (1 - b1**2)) / (np.sqrt(v2 / (1 - b2**2)) + eps)
        np.testing.assert_allclose(after1[k], exp1, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(params[k], exp2, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(state["m"][k], m2, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(state["v"][k], v2, rtol=1e-12, atol=1e-14)


def test_mlp_train_step_float32_reduces_loss():
    rng = np.random.default_rng(7)
    params = mlp_init(sizes=(20, 16, 12, 4), seed=0)
    state = adam_init(params)
    x = rng.normal(size=(32, 20)).astype(np.float32)
    y = onehot(rng.integers(0, 4, 32), 4).astype(np.float32)
    losses = [mlp_train_step(params, state, x, y) for _ in range(30)]
    assert all(v.dtype == np.float32 for v in params.values())
    assert all(v.dtype == np.float32 for v in state["m"].values())
    assert losses[-1] < 0.8 * losses[0]


def test_the_tinynn_way_step_matches_the_tuned_step_in_float64():
    """The two NumPy baselines of the MLP benchmarks compute the same training step."""
    rng = np.random.default_rng(8)
    params = mlp_init(sizes=(20, 16, 12, 4), seed=1, dtype=np.float64)
    tuned, state = {k: v.copy() for k, v in params.items()}, adam_init(params)
    net = TinynnMLP({k: v.copy() for k, v in params.items()})
    for _ in range(4):
        x = rng.uniform(0, 1, (16, 20))
        y = onehot(rng.integers(0, 4, 16), 4)
        assert net.train_step(x, y) == pytest.approx(mlp_train_step(tuned, state, x, y), rel=1e-12)
    trained = {f"{name}{i}": layer.params[name] for i, layer in zip((1, 2, 3), net.layers[::2])
               for name in ("w", "b")}
    for k, v in tuned.items():
        np.testing.assert_allclose(trained[k], v, rtol=1e-9, atol=1e-12)
    assert not np.allclose(tuned["w1"], params["w1"])


def test_the_tinynn_way_step_stays_in_float32():
    params = mlp_init(sizes=(20, 16, 12, 4), seed=0)
    net = TinynnMLP(params)
    x = np.random.default_rng(9).uniform(0, 1, (8, 20)).astype(np.float32)
    net.train_step(x, onehot(np.arange(8) % 4, 4).astype(np.float32))
    assert net.optimizer.m.dtype == np.float32 and net.optimizer.v.dtype == np.float32
    assert all(v.dtype == np.float32 for v in params.values())


# ---------------------------------------------------------------------------
# Conv net
# ---------------------------------------------------------------------------


def direct_conv(x, w, b, pad, stride):
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh = (h + 2 * pad - kh) // stride + 1
    ow = (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((n, f, oh, ow))
    for ni in range(n):
        for fi in range(f):
            for i in range(oh):
                for j in range(ow):
                    acc = b[fi]
                    for ci in range(c):
                        for di in range(kh):
                            for dj in range(kw):
                                acc += xp[ni, ci, i * stride + di, j * stride + dj] * w[fi, ci, di, dj]
                    out[ni, fi, i, j] = acc
    return out


@pytest.mark.parametrize(
    "x_shape, w_shape, pad, stride",
    [
        ((2, 1, 6, 6), (3, 1, 3, 3), 1, 1),
        ((2, 2, 5, 7), (3, 2, 3, 3), 1, 1),
        ((1, 2, 7, 6), (2, 2, 3, 2), 0, 2),
    ],
)
def test_conv_forward_matches_nested_loops(x_shape, w_shape, pad, stride):
    rng = np.random.default_rng(8)
    x = rng.normal(size=x_shape)
    w = rng.normal(size=w_shape)
    b = rng.normal(size=w_shape[0])
    out, _ = conv2d_forward(x, w, b, pad=pad, stride=stride)
    np.testing.assert_allclose(out, direct_conv(x, w, b, pad, stride), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("pad, stride", [(1, 1), (0, 2), (2, 3)])
def test_col2im_is_adjoint_of_im2col(pad, stride):
    # <im2col(x), c> == <x, col2im(c)> for all x, c
    rng = np.random.default_rng(9)
    x = rng.normal(size=(2, 3, 7, 6))
    cols, _, _ = im2col(x, 3, 2, pad, stride)
    c = rng.normal(size=cols.shape)
    lhs = float((cols * c).sum())
    rhs = float((x * col2im(c, x.shape, 3, 2, pad, stride)).sum())
    assert math.isclose(lhs, rhs, rel_tol=1e-12, abs_tol=1e-12)


def test_maxpool_forward_and_tie_routing():
    a = np.array(
        [
            [1.0, 1.0, 0.0, 2.0],
            [0.0, 1.0, 3.0, 3.0],
            [5.0, 4.0, 0.0, 0.0],
            [5.0, 5.0, 0.0, 0.0],
        ]
    )[None, None]
    np.testing.assert_array_equal(maxpool2x2_forward(a)[0, 0], [[1.0, 3.0], [5.0, 0.0]])
    dout = np.array([[10.0, 20.0], [30.0, 40.0]])[None, None]
    da = maxpool2x2_backward(dout, a)[0, 0]
    expected = np.array(
        [
            [10.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 20.0, 0.0],
            [30.0, 0.0, 40.0, 0.0],
            [0.0, 0.0, 0.0, 0.0],
        ]
    )
    np.testing.assert_array_equal(da, expected)


def test_conv_init_default_shapes():
    p = conv_init()
    assert {k: v.shape for k, v in p.items()} == {
        "conv_w": (8, 1, 3, 3),
        "conv_b": (8,),
        "dense_w": (8 * 14 * 14, 10),
        "dense_b": (10,),
    }
    assert all(v.dtype == np.float32 for v in p.values())
    assert not p["conv_b"].any() and not p["dense_b"].any()


def test_conv_gradients_match_finite_differences():
    rng = np.random.default_rng(10)
    params = conv_init(seed=11, dtype=np.float64, in_shape=(1, 6, 6), channels=2, num_classes=3)
    assert params["dense_w"].shape == (2 * 3 * 3, 3)
    params["conv_b"][:] = rng.normal(scale=0.1, size=2)
    params["dense_b"][:] = rng.normal(scale=0.1, size=3)
    x = rng.normal(size=(2, 1, 6, 6))
    y = onehot(rng.integers(0, 3, 2), 3)

    loss, grads = conv_loss_and_grads(params, x, y, input_grad=True)
    assert isinstance(loss, float) and loss > 0
    assert set(grads) == set(params) | {"x"}
    assert conv_loss_and_grads(params, x, y)[1].keys() == params.keys()

    def f():
        return conv_loss_and_grads(params, x, y)[0]

    for k, p in params.items():
        np.testing.assert_allclose(grads[k], numeric_grad(f, p), rtol=GRAD_RTOL, atol=GRAD_ATOL, err_msg=k)
    np.testing.assert_allclose(grads["x"], numeric_grad(f, x), rtol=GRAD_RTOL, atol=GRAD_ATOL, err_msg="x")


def test_conv_sgd_step_float32():
    rng = np.random.default_rng(12)
    params = conv_init(seed=0, in_shape=(1, 8, 8), channels=4, num_classes=3)
    x = rng.normal(size=(8, 1, 8, 8)).astype(np.float32)
    y = onehot(rng.integers(0, 3, 8), 3).astype(np.float32)

    before = {k: v.copy() for k, v in params.items()}
    _, grads = conv_loss_and_grads(params, x, y)
    conv_sgd_step(params, x, y, lr=0.05)
    for k in params:
        assert params[k].dtype == np.float32
        np.testing.assert_allclose(params[k], before[k] - np.float32(0.05) * grads[k], rtol=1e-6, atol=1e-7)

    losses = [conv_sgd_step(params, x, y, lr=0.05) for _ in range(30)]
    assert losses[-1] < losses[0]
