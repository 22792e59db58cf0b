"""What the benchmark cases run: the computations as irtoy traces them, and their data.

Each function here is plain NumPy-style code, the way a user would hand it to `irtoy.trace`;
its hand-written NumPy counterpart, the baseline it is timed against, is in
benchmarks/references.py (for the MLP step also benchmarks/tinynn.py; for the embedding
step here, beside it). The tests use these
functions too, as realistic programs for the passes and backends.
"""
import math

import numpy as np

import irtoy
from irtoy import ops


def b1_function(x):
    return np.tanh(x * 1.7 + 0.3) * (1 / (1 + np.exp(-x))) + 0.5 * x * x


def scalar_function(x1, x2, x3):
    """The scalar function of three variables from examples/scalar_function.py."""
    return ((np.sin(x1 + 1.0) + np.cos(2.0 * x2)) * np.tan(np.log(x3))
            + (np.sin(x2 + 1.0) + np.cos(2.0 * x1)) * np.exp(1.0 + np.sin(x3)))


def softmax_cross_entropy(logits, y_onehot):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -(y_onehot * log_probs).sum() / logits.shape[0]


def mlp_loss(params, x, y_onehot):
    h1 = np.maximum(x @ params["w1"] + params["b1"], 0)
    h2 = np.maximum(h1 @ params["w2"] + params["b2"], 0)
    return softmax_cross_entropy(h2 @ params["w3"] + params["b3"], y_onehot)


def adam(params, grads, m, v, step_size, bias2_sqrt, b1=0.9, b2=0.999, eps=1e-8):
    """PyTorch's Adam update (as benchmarks/references.py): new params, m and v."""
    new_p, new_m, new_v = {}, {}, {}
    for k in params:
        new_m[k] = b1 * m[k] + (1 - b1) * grads[k]
        new_v[k] = b2 * v[k] + (1 - b2) * (grads[k] * grads[k])
        new_p[k] = params[k] - step_size * (new_m[k] / (np.sqrt(new_v[k]) / bias2_sqrt + eps))
    return new_p, new_m, new_v


def mlp_train_step(params, m, v, x, y_onehot, step_size, bias2_sqrt):
    """Loss, gradients (autodiff) and one Adam step: (loss, params, m, v)."""
    loss, grads = irtoy.value_and_grad(mlp_loss)(params, x, y_onehot)
    new_p, new_m, new_v = adam(params, grads, m, v, step_size, bias2_sqrt)
    return loss, new_p, new_m, new_v


def adam_scalars(t, lr=1e-3, b1=0.9, b2=0.999):
    """The step-dependent scalars of Adam's step t (1-based): step size and sqrt(1 - b2**t)."""
    return np.float32(lr / (1 - b1 ** t)), np.float32(math.sqrt(1 - b2 ** t))


def conv_loss(params, x, y_onehot):
    conv = ops.conv2d(x, params["conv_w"], stride=1, padding=1) + params["conv_b"][None, :, None, None]
    pooled = ops.max_pool2d(np.maximum(conv, 0), 2)
    flat = pooled.reshape(x.shape[0], -1)
    return softmax_cross_entropy(flat @ params["dense_w"] + params["dense_b"], y_onehot)


def conv_sgd_step(params, x, y_onehot, lr=0.01):
    loss, grads = irtoy.value_and_grad(conv_loss)(params, x, y_onehot)
    return loss, {k: params[k] - lr * grads[k] for k in params}


def embedding_loss(params, tokens, labels):
    """A bag-of-words classifier: the mean of each sample's token embeddings (rows of a table
    looked up by integer index), a dense layer, softmax cross-entropy on integer labels."""
    h = params["table"][tokens].mean(axis=1)
    logits = h @ params["w"] + params["b"]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(tokens.shape[0]), labels].sum() / tokens.shape[0]


def embedding_sgd_step(params, tokens, labels, lr=0.1):
    loss, grads = irtoy.value_and_grad(embedding_loss)(params, tokens, labels)
    return loss, {k: params[k] - lr * grads[k] for k in params}


def embedding_sgd_step_numpy(params, tokens, labels, lr=0.1):
    """embedding_sgd_step written by hand in NumPy (the baseline): the gradient of the table
    is np.add.at of each looked-up row's share, as the rows may repeat."""
    table, w, b = params["table"], params["w"], params["b"]
    n, length = tokens.shape
    rows = np.arange(n)
    embedded = table[tokens]
    h = embedded.mean(axis=1)
    shifted = h @ w + b
    shifted -= shifted.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    loss = -(shifted[rows, labels] - np.log(total[:, 0])).sum() / n
    g = exp / total
    g[rows, labels] -= 1
    g /= n
    grad_h = (g @ w.T) / length
    grad_table = np.zeros_like(table)
    np.add.at(grad_table, tokens, np.broadcast_to(grad_h[:, None, :], embedded.shape))
    return loss, {"table": table - lr * grad_table, "w": w - lr * (h.T @ g), "b": b - lr * g.sum(axis=0)}


def embedding_setup(rows=50_000, dim=128, classes=10, batch=256, length=20, count=16, seed=0):
    """Parameters of embedding_loss and `count` batches of (tokens, labels), float32."""
    rng = np.random.default_rng(seed)
    params = {"table": rng.uniform(-0.05, 0.05, (rows, dim)).astype(np.float32),
              "w": (rng.standard_normal((dim, classes)) / np.sqrt(dim)).astype(np.float32),
              "b": np.zeros(classes, np.float32)}
    data = [(rng.integers(0, rows, (batch, length)), rng.integers(0, classes, batch)) for _ in range(count)]
    return params, data


# -- data ---------------------------------------------------------------------------------

def batches(count, batch, features, classes=10, seed=1, dtype=np.float32):
    """`count` distinct batches of inputs in [0, 1) and one-hot labels, to cycle through."""
    rng = np.random.default_rng(seed)
    eye = np.eye(classes, dtype=dtype)
    shape = (batch,) + ((features,) if isinstance(features, int) else tuple(features))
    return [(rng.random(shape, dtype=dtype), eye[rng.integers(0, classes, batch)]) for _ in range(count)]


def copy_tree(tree):
    leaves, treedef = irtoy.pytree.flatten(tree)
    return irtoy.pytree.unflatten(treedef, [np.array(a, copy=True) for a in leaves])
