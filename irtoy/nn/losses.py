"""Loss functions: a model's outputs and the targets in, one scalar (the batch mean) out.

Classification losses take one-hot (or probability) target rows; `Model` turns integer
labels into one-hot rows before they reach the graph, so users may give either.
SoftmaxCrossEntropy also takes the integer labels themselves, picking each sample's
log-probability with a gather instead of multiplying by a one-hot row. Every loss
is plain NumPy code on tracers, so its gradient comes from the autodiff pass like any other.
"""
import numpy as np

from irtoy.errors import ShapeError
from irtoy.nn.activations import log_softmax


class Loss:
    """A loss: `loss(outputs, targets) -> scalar`. `classifies` says if accuracy makes sense;
    `takes_labels`, if it takes integer class labels (else Model makes them one-hot rows)."""
    classifies = False
    takes_labels = False

    def config(self):
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.config().items())})"


class SoftmaxCrossEntropy(Loss):
    """-sum(y * log softmax(logits)) averaged over the batch; stable for any logits.

    Targets are one-hot (or probability) rows, or integer class labels of the logits' shape
    without the class axis: then the loss is the mean of -log softmax(logits)[i, y[i]], one
    gather (logp[np.arange(n), y]) rather than a product with one-hot rows of mostly zeros.
    """
    classifies = True
    takes_labels = True

    def __call__(self, logits, targets):
        logp = log_softmax(logits, axis=-1)
        if np.dtype(targets.dtype).kind not in "iu":
            return -np.sum(targets * logp) / logits.shape[0]
        if tuple(targets.shape) != tuple(logits.shape[:-1]):
            raise ShapeError(f"SoftmaxCrossEntropy: integer labels of shape {tuple(targets.shape)} do not fit "
                             f"logits of shape {tuple(logits.shape)} (labels need the shape without the class axis)")
        rows = logp.reshape(-1, logits.shape[-1])
        picked = rows[np.arange(rows.shape[0]), targets.reshape(-1)]
        return -np.sum(picked) / logits.shape[0]


class SigmoidCrossEntropy(Loss):
    """Binary cross-entropy on logits: max(x, 0) - x*y + log(1 + exp(-|x|)), batch mean."""
    classifies = True

    def __call__(self, logits, targets):
        per_entry = np.maximum(logits, 0.0) - logits * targets + np.log(1.0 + np.exp(-np.abs(logits)))
        return np.sum(per_entry) / logits.shape[0]


class MSE(Loss):
    """Mean squared error: 0.5 * sum((y - t)^2) per sample, averaged over the batch."""

    def __call__(self, outputs, targets):
        diff = outputs - targets
        return 0.5 * np.sum(diff * diff) / outputs.shape[0]


class MAE(Loss):
    """Mean absolute error per sample, averaged over the batch."""

    def __call__(self, outputs, targets):
        return np.sum(np.abs(outputs - targets)) / outputs.shape[0]


class Huber(Loss):
    """Squared near zero, linear beyond `delta`: robust to outliers."""

    def __init__(self, delta=1.0):
        self.delta = float(delta)

    def __call__(self, outputs, targets):
        a = np.abs(outputs - targets)
        small = 0.5 * a * a
        large = self.delta * (a - 0.5 * self.delta)
        return np.sum(np.where(a <= self.delta, small, large)) / outputs.shape[0]


class Hinge(Loss):
    """The multi-class SVM loss: sum over wrong classes j of max(0, s_j - s_true + margin)."""
    classifies = True

    def __init__(self, margin=1.0):
        self.margin = float(margin)

    def __call__(self, scores, targets):
        true_score = np.sum(scores * targets, axis=-1, keepdims=True)
        margins = np.maximum(scores - true_score + self.margin, 0.0) * (1.0 - targets)
        return np.sum(margins) / scores.shape[0]


def l2_penalty(params, weight):
    """weight * sum of squares of every weight matrix/kernel (biases and 1-d scales excluded)."""
    return weight * sum(np.sum(p * p) for p in _weights(params))


def l1_penalty(params, weight):
    return weight * sum(np.sum(np.abs(p)) for p in _weights(params))


def _weights(params):
    from irtoy import pytree
    leaves, _ = pytree.flatten(params)
    return [p for p in leaves if p.ndim >= 2]


BY_NAME = {cls.__name__: cls for cls in (SoftmaxCrossEntropy, SigmoidCrossEntropy, MSE, MAE, Huber, Hinge)}
