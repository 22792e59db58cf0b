"""A two-layer MLP's softmax cross-entropy loss, written as plain NumPy.

The `irtoy` command can trace, draw and report any function in a file like this one; the
example arguments come from `example_args` below (or `--spec` on the command line):

    irtoy report examples/mlp.py:loss --out report/
    irtoy render examples/mlp.py:loss --stage grad -o grad.svg

Run directly, it checks irtoy's gradient against a hand-written backward pass.
"""
import numpy as np


def loss(params, x, y):
    logits = np.tanh(x @ params["w1"] + params["b1"]) @ params["w2"]
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -(logp * y).sum() / x.shape[0]


def make_example(batch=8, features=6, hidden=16, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    params = {"w1": rng.normal(0, 0.5, (features, hidden)).astype(np.float32),
              "b1": np.zeros(hidden, np.float32),
              "w2": rng.normal(0, 0.5, (hidden, classes)).astype(np.float32)}
    x = rng.normal(size=(batch, features)).astype(np.float32)
    y = np.eye(classes, dtype=np.float32)[rng.integers(0, classes, batch)]
    return params, x, y


example_args = make_example()


def hand_written_gradient(params, x, y):
    """The backward pass written out by hand, the way teaching libraries do it."""
    h = np.tanh(x @ params["w1"] + params["b1"])
    logits = h @ params["w2"]
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    dlogits = (p - y) / x.shape[0]
    dh = dlogits @ params["w2"].T * (1 - h * h)
    return {"w1": x.T @ dh, "b1": dh.sum(axis=0), "w2": h.T @ dlogits}


if __name__ == "__main__":
    import irtoy

    params, x, y = example_args
    value, grads = irtoy.value_and_grad(loss)(params, x, y)
    expected = hand_written_gradient(params, x, y)
    for name in params:
        error = np.max(np.abs(grads[name] - expected[name]))
        print(f"d loss / d {name}: max difference from the hand-written gradient {error:.2e}")
    print(f"loss = {float(value):.6f}")
