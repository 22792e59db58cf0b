"""Hand-written NumPy baselines for the irtoy benchmarks.

Every benchmark reports irtoy's compiled code as a ratio against one of the
functions in this module, so these are written the way a careful NumPy user
would write them by hand: vectorised, no needless copies, float32 kept as
float32, gradients derived on paper and shared subexpressions reused.  They
are deliberately *not* tuned with tricks a typical user would never reach
for (numexpr, custom BLAS calls, preallocated workspaces threaded through the
call), so the ratio answers "how does irtoy compare with writing it yourself?".

Contents
--------
``b1_numpy``
    An elementwise expression, the fusion benchmark.
``seed_scalar``
    A scalar function of three variables and its hand-derived gradient, in
    plain ``math`` (the reverse-mode-on-scalars benchmark).
``mlp_*`` / ``adam_*``
    A ReLU multilayer perceptron with softmax cross-entropy, manual backward
    pass and Adam (PyTorch's update formula).
``conv_*``
    A small convolutional net: 3x3 conv (im2col forward, col2im backward),
    ReLU, 2x2 max-pool, dense layer, softmax cross-entropy, plain SGD.

Conventions: dense weights have shape ``(fan_in, fan_out)`` and a layer is
``x @ w + b``; images are NCHW; conv weights are ``(F, C, KH, KW)``.  Losses
are means over the batch and are returned as Python floats.  Labels are
one-hot rows (each row sums to 1), which the cross-entropy gradient assumes.
"""

import math

import numpy as np

__all__ = [
    "b1_numpy",
    "seed_scalar",
    "softmax_cross_entropy",
    "mlp_init",
    "mlp_loss_and_grads",
    "adam_init",
    "adam_step",
    "mlp_train_step",
    "im2col",
    "col2im",
    "conv2d_forward",
    "maxpool2x2_forward",
    "maxpool2x2_backward",
    "conv_init",
    "conv_loss_and_grads",
    "conv_sgd_step",
]


# ---------------------------------------------------------------------------
# B1: elementwise expression
# ---------------------------------------------------------------------------

_F32_1_7 = np.float32(1.7)
_F32_0_3 = np.float32(0.3)
_F32_0_5 = np.float32(0.5)
_F32_1 = np.float32(1.0)


def b1_numpy(x):
    """``tanh(1.7 x + 0.3) * sigmoid(x) + 0.5 x^2``, staying in float32."""
    return np.tanh(x * _F32_1_7 + _F32_0_3) * (_F32_1 / (_F32_1 + np.exp(-x))) + _F32_0_5 * x * x


# ---------------------------------------------------------------------------
# Scalar function with a hand-derived gradient
# ---------------------------------------------------------------------------


def seed_scalar(x1, x2, x3):
    """Value and gradient of

        y = (sin(x1+1) + cos(2 x2)) * tan(log x3)
          + (sin(x2+1) + cos(2 x1)) * exp(1 + sin x3)

    Returns ``(y, (dy/dx1, dy/dx2, dy/dx3))``.  Writing the two products as
    ``A*T + B*E``:

        dy/dx1 = cos(x1+1) T - 2 sin(2 x1) E
        dy/dx2 = -2 sin(2 x2) T + cos(x2+1) E
        dy/dx3 = A (1 + T^2) / x3 + B E cos(x3)

    using d/du tan(u) = 1 + tan(u)^2 and d/dx3 log(x3) = 1/x3.
    """
    a = math.sin(x1 + 1.0) + math.cos(2.0 * x2)
    b = math.sin(x2 + 1.0) + math.cos(2.0 * x1)
    t = math.tan(math.log(x3))
    e = math.exp(1.0 + math.sin(x3))

    y = a * t + b * e
    g1 = math.cos(x1 + 1.0) * t - 2.0 * math.sin(2.0 * x1) * e
    g2 = -2.0 * math.sin(2.0 * x2) * t + math.cos(x2 + 1.0) * e
    g3 = a * (1.0 + t * t) / x3 + b * e * math.cos(x3)
    return y, (g1, g2, g3)


# ---------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------


def softmax_cross_entropy(logits, y_onehot):
    """Mean softmax cross-entropy and its gradient with respect to ``logits``.

    Numerically stable: the row maximum is subtracted before exponentiating
    and the loss is computed from log-probabilities, never from ``log(p)``.
    """
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1, keepdims=True)
    log_probs = shifted - np.log(sum_exp)
    loss = -(y_onehot * log_probs).sum() / n
    dlogits = (exp / sum_exp - y_onehot) / n
    return float(loss), dlogits


def _uniform(rng, limit, shape, dtype):
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def _he_uniform(rng, fan_in, shape, dtype):
    """He/Kaiming uniform, for weights feeding a ReLU."""
    return _uniform(rng, math.sqrt(6.0 / fan_in), shape, dtype)


def _glorot_uniform(rng, fan_in, fan_out, shape, dtype):
    """Glorot/Xavier uniform, for the final (linear) layer."""
    return _uniform(rng, math.sqrt(6.0 / (fan_in + fan_out)), shape, dtype)


# ---------------------------------------------------------------------------
# MLP + Adam
# ---------------------------------------------------------------------------


def mlp_init(sizes=(784, 400, 100, 10), seed=0, dtype=np.float32):
    """Parameters of a 3-layer MLP: ``{"w1","b1","w2","b2","w3","b3"}``.

    The two hidden layers (followed by ReLU) use He-uniform weights, the
    output layer Glorot-uniform; all biases start at zero.
    """
    if len(sizes) != 4:
        raise ValueError(f"mlp_init expects 4 layer sizes, got {sizes!r}")
    rng = np.random.default_rng(seed)
    d0, d1, d2, d3 = sizes
    return {
        "w1": _he_uniform(rng, d0, (d0, d1), dtype),
        "b1": np.zeros(d1, dtype=dtype),
        "w2": _he_uniform(rng, d1, (d1, d2), dtype),
        "b2": np.zeros(d2, dtype=dtype),
        "w3": _glorot_uniform(rng, d2, d3, (d2, d3), dtype),
        "b3": np.zeros(d3, dtype=dtype),
    }


def mlp_loss_and_grads(params, x, y_onehot):
    """Forward ReLU MLP, mean softmax cross-entropy, and a manual backward.

    Returns ``(loss, grads)`` with ``grads`` keyed like ``params``.
    """
    w1, b1 = params["w1"], params["b1"]
    w2, b2 = params["w2"], params["b2"]
    w3, b3 = params["w3"], params["b3"]

    # forward
    h1 = np.maximum(x @ w1 + b1, 0)
    h2 = np.maximum(h1 @ w2 + b2, 0)
    logits = h2 @ w3 + b3
    loss, dlogits = softmax_cross_entropy(logits, y_onehot)

    # backward (ReLU gradient: pass through where the output is positive)
    dw3 = h2.T @ dlogits
    db3 = dlogits.sum(axis=0)
    dh2 = (dlogits @ w3.T) * (h2 > 0)
    dw2 = h1.T @ dh2
    db2 = dh2.sum(axis=0)
    dh1 = (dh2 @ w2.T) * (h1 > 0)
    dw1 = x.T @ dh1
    db1 = dh1.sum(axis=0)

    grads = {"w1": dw1, "b1": db1, "w2": dw2, "b2": db2, "w3": dw3, "b3": db3}
    return loss, grads


def adam_init(params):
    """Adam state: step counter and zeroed first/second moment estimates."""
    return {
        "t": 0,
        "m": {k: np.zeros_like(p) for k, p in params.items()},
        "v": {k: np.zeros_like(p) for k, p in params.items()},
    }


def adam_step(params, grads, state, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    """One Adam update, in place on ``params`` and ``state``.

    PyTorch's formula (no weight decay, no amsgrad)::

        m = b1 m + (1 - b1) g
        v = b2 v + (1 - b2) g^2
        p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    """
    state["t"] += 1
    t = state["t"]
    bias1 = 1.0 - b1**t
    bias2_sqrt = math.sqrt(1.0 - b2**t)
    step_size = lr / bias1
    for k, p in params.items():
        g = grads[k]
        m = state["m"][k]
        v = state["v"][k]
        m *= b1
        m += (1.0 - b1) * g
        v *= b2
        v += (1.0 - b2) * (g * g)
        denom = np.sqrt(v)
        denom /= bias2_sqrt
        denom += eps
        p -= step_size * (m / denom)


def mlp_train_step(params, state, x, y_onehot):
    """Loss, gradients and one Adam step (default hyper-parameters)."""
    loss, grads = mlp_loss_and_grads(params, x, y_onehot)
    adam_step(params, grads, state)
    return loss


# ---------------------------------------------------------------------------
# Convolution via im2col
# ---------------------------------------------------------------------------


def im2col(x, kh, kw, pad, stride):
    """Unfold NCHW ``x`` into patch rows.

    Returns ``(cols, oh, ow)`` where ``cols`` has shape
    ``(N*OH*OW, C*KH*KW)``: one row per output position, one column per
    (channel, kernel row, kernel column) in that order, matching
    ``w.reshape(F, -1)``.
    """
    n, c, h, w = x.shape
    oh = (h + 2 * pad - kh) // stride + 1
    ow = (w + 2 * pad - kw) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x

    # Fill one kernel offset at a time: each is a strided slice of the
    # padded input covering every output position.
    patches = np.empty((n, oh, ow, c, kh, kw), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            window = xp[:, :, i : i + stride * oh : stride, j : j + stride * ow : stride]
            patches[:, :, :, :, i, j] = window.transpose(0, 2, 3, 1)
    return patches.reshape(n * oh * ow, c * kh * kw), oh, ow


def col2im(dcols, x_shape, kh, kw, pad, stride):
    """Adjoint of :func:`im2col`: scatter-add patch-row gradients back to NCHW."""
    n, c, h, w = x_shape
    oh = (h + 2 * pad - kh) // stride + 1
    ow = (w + 2 * pad - kw) // stride + 1
    patches = dcols.reshape(n, oh, ow, c, kh, kw)
    dxp = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=dcols.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i : i + stride * oh : stride, j : j + stride * ow : stride] += patches[
                :, :, :, :, i, j
            ].transpose(0, 3, 1, 2)
    return dxp[:, :, pad : pad + h, pad : pad + w]


def conv2d_forward(x, w, b, pad=1, stride=1):
    """Cross-correlation of NCHW ``x`` with ``w`` (F, C, KH, KW) plus bias.

    Returns ``(out, cols)``; ``cols`` is kept for the backward pass.
    """
    n = x.shape[0]
    f, _, kh, kw = w.shape
    cols, oh, ow = im2col(x, kh, kw, pad, stride)
    out = cols @ w.reshape(f, -1).T + b  # (N*OH*OW, F)
    return out.reshape(n, oh, ow, f).transpose(0, 3, 1, 2), cols


def maxpool2x2_forward(a):
    """2x2 max-pool, stride 2, on NCHW ``a`` with even H and W."""
    n, c, h, w = a.shape
    if h % 2 or w % 2:
        raise ValueError(f"maxpool2x2 needs even spatial dims, got {(h, w)}")
    return a.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def maxpool2x2_backward(dout, a):
    """Gradient of :func:`maxpool2x2_forward` with respect to its input ``a``.

    Each window's gradient goes to the position of its maximum; on ties it
    goes to the first maximum in row-major order within the window.
    """
    n, c, h, w = a.shape
    h2, w2 = h // 2, w // 2
    # (N, C, H2, W2, 4): the four window entries in row-major order
    windows = a.reshape(n, c, h2, 2, w2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h2, w2, 4)
    first_max = windows.argmax(axis=-1)  # argmax returns the first on ties
    dwindows = np.zeros_like(windows, dtype=dout.dtype)
    np.put_along_axis(dwindows, first_max[..., None], dout[..., None], axis=-1)
    return dwindows.reshape(n, c, h2, w2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h, w)


def conv_init(seed=0, dtype=np.float32, in_shape=(1, 28, 28), channels=8, kernel=3, num_classes=10):
    """Parameters of conv(kernel x kernel, pad 1) -> ReLU -> maxpool 2x2 -> dense.

    ``in_shape`` is (C, H, W) of one image.  The defaults give the benchmark
    network for (N, 1, 28, 28) inputs: conv weights (8, 1, 3, 3), dense
    weights (8*14*14, 10).  Conv weights are He-uniform, dense weights
    Glorot-uniform, biases zero.
    """
    c, h, w = in_shape
    rng = np.random.default_rng(seed)
    pad = 1
    oh = h + 2 * pad - kernel + 1
    ow = w + 2 * pad - kernel + 1
    flat = channels * (oh // 2) * (ow // 2)
    return {
        "conv_w": _he_uniform(rng, c * kernel * kernel, (channels, c, kernel, kernel), dtype),
        "conv_b": np.zeros(channels, dtype=dtype),
        "dense_w": _glorot_uniform(rng, flat, num_classes, (flat, num_classes), dtype),
        "dense_b": np.zeros(num_classes, dtype=dtype),
    }


def conv_loss_and_grads(params, x, y_onehot, input_grad=False):
    """Loss and parameter gradients of the conv net (padding 1, stride 1).

    With ``input_grad=True`` the gradient with respect to ``x`` is also
    returned under ``grads["x"]`` (via :func:`col2im`).  A training step
    does not need it for the first layer, so it is off by default.
    """
    wc, bc = params["conv_w"], params["conv_b"]
    wd, bd = params["dense_w"], params["dense_b"]
    pad, stride = 1, 1
    n = x.shape[0]
    f, _, kh, kw = wc.shape

    # forward
    conv, cols = conv2d_forward(x, wc, bc, pad, stride)
    act = np.maximum(conv, 0)
    pooled = maxpool2x2_forward(act)
    flat = pooled.reshape(n, -1)
    logits = flat @ wd + bd
    loss, dlogits = softmax_cross_entropy(logits, y_onehot)

    # backward
    dwd = flat.T @ dlogits
    dbd = dlogits.sum(axis=0)
    dpooled = (dlogits @ wd.T).reshape(pooled.shape)
    dact = maxpool2x2_backward(dpooled, act)
    dconv = dact * (conv > 0)
    dconv_rows = dconv.transpose(0, 2, 3, 1).reshape(-1, f)  # (N*OH*OW, F)
    dwc = (dconv_rows.T @ cols).reshape(wc.shape)
    dbc = dconv_rows.sum(axis=0)

    grads = {"conv_w": dwc, "conv_b": dbc, "dense_w": dwd, "dense_b": dbd}
    if input_grad:
        dcols = dconv_rows @ wc.reshape(f, -1)
        grads["x"] = col2im(dcols, x.shape, kh, kw, pad, stride)
    return loss, grads


def conv_sgd_step(params, x, y_onehot, lr=0.01):
    """One plain SGD step on the conv net, in place; returns the loss."""
    loss, grads = conv_loss_and_grads(params, x, y_onehot)
    for k, p in params.items():
        p -= lr * grads[k]
    return loss
