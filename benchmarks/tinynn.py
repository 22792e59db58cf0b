"""The MLP training step written the tinynn way: the baseline the MLP benchmarks divide by.

tinynn, the 200-line NumPy framework irtoy's nn library grew from, builds a network out of
layer objects that keep their inputs and write their own gradients. Its optimizer flattens
every gradient into one vector, computes the Adam step on that vector with plain array
expressions, and cuts the result back into one step per parameter, which the model adds to
the weights. Every expression allocates its result, as ordinary NumPy code does.

    net = TinynnMLP(references.mlp_init())     # the weights: w1, b1, ..., w3, b3
    loss = net.train_step(x, y_onehot)          # forward, backward, one Adam step

`irtoy bench` (case B2) and benchmarks/fashion.py report irtoy's time as a ratio to this
step. They also print the ratio to `references.mlp_train_step`, the same step written by
someone tuning NumPy by hand (Adam updated in place, no flattening): the harder baseline,
1.2 to 3 times faster than this one, depending on whether the allocator hands this step's
new arrays fresh pages or memory it reuses.
"""
import numpy as np

__all__ = ["Adam", "Dense", "ReLU", "SoftmaxCrossEntropy", "TinynnMLP"]


class Dense:
    """`x @ w + b`; remembers x, which the weight gradient needs."""

    def __init__(self, w, b):
        self.params = {"w": w, "b": b}
        self.grads = {}

    def forward(self, x):
        self.inputs = x
        return x @ self.params["w"] + self.params["b"]

    def backward(self, grad):
        self.grads = {"w": self.inputs.T @ grad, "b": grad.sum(axis=0)}
        return grad @ self.params["w"].T


class ReLU:
    """max(x, 0); the gradient passes where the input was positive."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x):
        self.inputs = x
        return np.maximum(x, 0.0)

    def backward(self, grad):
        return (self.inputs > 0.0) * grad


class SoftmaxCrossEntropy:
    """Mean cross-entropy of softmax(logits) against one-hot labels, and its gradient."""

    def loss(self, logits, labels):
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -(log_probs * labels).sum() / len(labels)

    def grad(self, logits, labels):
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (exp / exp.sum(axis=1, keepdims=True) - labels) / len(labels)


class Adam:
    """Adam on the flattened gradients; returns the steps to add, one dict per layer."""

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.t, self.m, self.v = 0, 0.0, 0.0

    def compute_step(self, grads, params):
        flat = np.concatenate([g.ravel() for layer in grads for g in layer.values()])
        self.t += 1
        self.m = self.beta1 * self.m + (1 - self.beta1) * flat
        self.v = self.beta2 * self.v + (1 - self.beta2) * flat ** 2
        m_hat = self.m / (1 - self.beta1 ** self.t)
        v_hat = self.v / (1 - self.beta2 ** self.t)
        flat_step = -self.lr * m_hat / (v_hat ** 0.5 + self.eps)
        steps, start = [], 0
        for layer in params:
            steps.append({})
            for name, p in layer.items():
                steps[-1][name] = flat_step[start:start + p.size].reshape(p.shape)
                start += p.size
        return steps


class TinynnMLP:
    """The ReLU MLP of `references.mlp_init`'s weights (which it updates in place)."""

    def __init__(self, params, lr=1e-3):
        self.layers = [Dense(params["w1"], params["b1"]), ReLU(),
                       Dense(params["w2"], params["b2"]), ReLU(),
                       Dense(params["w3"], params["b3"])]
        self.loss_fn = SoftmaxCrossEntropy()
        self.optimizer = Adam(lr=lr)

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def train_step(self, x, y_onehot):
        """Forward, loss, backward and one Adam step; returns the loss before the step."""
        logits = self.forward(x)
        loss = self.loss_fn.loss(logits, y_onehot)
        grad = self.loss_fn.grad(logits, y_onehot)
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        params = [layer.params for layer in self.layers]
        steps = self.optimizer.compute_step([layer.grads for layer in self.layers], params)
        for layer, step in zip(params, steps):
            for name in layer:
                layer[name] += step[name]
        return float(loss)
