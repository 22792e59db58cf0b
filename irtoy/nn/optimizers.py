"""Optimizers: how parameters move, given their gradients.

An optimizer has two halves. `hyperparameters(step, epoch)` runs in Python before each step
and returns the few scalars that depend on the step count (learning rate from the schedule,
Adam's bias corrections): they enter the compiled step as inputs, so the graph is compiled
once. `update(params, grads, state, h)` is traced into the training step's graph, where its
nodes carry role "update", so the numba backend fuses the whole update with the backward
pass. The formulas follow PyTorch's documentation of each optimizer.
"""
import math

import numpy as np

from irtoy.nn.schedules import as_schedule


def tree_map(fn, *trees):
    """Apply `fn` leafwise to dicts of arrays (nested)."""
    first = trees[0]
    if isinstance(first, dict):
        return {k: tree_map(fn, *[t[k] for t in trees]) for k in first}
    return fn(*trees)


class Optimizer:
    """Base class: subclasses say which per-parameter buffers they keep (`slots`)."""
    slots = ()

    def __init__(self, lr):
        self.lr = lr
        self.schedule = as_schedule(lr)

    def init(self, params):
        """The optimizer's state: one zero buffer per slot per parameter."""
        return {slot: tree_map(np.zeros_like, params) for slot in self.slots}

    def hyperparameters(self, step, epoch=0):
        """Scalars for step `step` (counting from 1) in epoch `epoch`."""
        return {"lr": self.schedule(epoch)}

    def config(self):
        return {k: v for k, v in vars(self).items() if k not in ("schedule", "slots")}

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.config().items())})"


class SGD(Optimizer):
    """Gradient descent with optional momentum (heavy-ball or Nesterov) and weight decay."""

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(lr)
        self.momentum, self.nesterov, self.weight_decay = momentum, nesterov, weight_decay
        self.slots = ("velocity",) if momentum else ()

    def update(self, params, grads, state, h):
        lr, mu, wd = h["lr"], self.momentum, self.weight_decay

        def one(p, g, v=None):
            if wd:
                g = g + wd * p
            if not mu:
                return p - lr * g, None
            v = mu * v + g
            step = g + mu * v if self.nesterov else v
            return p - lr * step, v

        if not mu:
            return tree_map(lambda p, g: one(p, g)[0], params, grads), state
        pairs = tree_map(one, params, grads, state["velocity"])
        return _split(pairs, params, ("velocity",))


class RMSProp(Optimizer):
    """Divide the step by a running root-mean-square of recent gradients."""
    slots = ("square_avg",)

    def __init__(self, lr=0.01, alpha=0.99, eps=1e-8):
        super().__init__(lr)
        self.alpha, self.eps = alpha, eps

    def update(self, params, grads, state, h):
        def one(p, g, s):
            s = self.alpha * s + (1 - self.alpha) * g * g
            return p - h["lr"] * g / (np.sqrt(s) + self.eps), s
        return _split(tree_map(one, params, grads, state["square_avg"]), params, self.slots)


class Adam(Optimizer):
    """Adam: momentum on the gradient and on its square, with bias correction."""
    slots = ("m", "v")

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def hyperparameters(self, step, epoch=0):
        lr = self.schedule(epoch)
        return {"lr": lr, "step_size": lr / (1 - self.beta1 ** step),
                "bias_correction2_sqrt": math.sqrt(1 - self.beta2 ** step)}

    def update(self, params, grads, state, h):
        b1, b2 = self.beta1, self.beta2

        def one(p, g, m, v):
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            return p - h["step_size"] * m / (np.sqrt(v) / h["bias_correction2_sqrt"] + self.eps), m, v
        return _split(tree_map(one, params, grads, state["m"], state["v"]), params, self.slots)


class RAdam(Optimizer):
    """Rectified Adam: plain momentum SGD while the variance estimate is unreliable, then a
    rectified Adam step. The rectification depends only on the step count, so it is
    computed in Python and enters the graph as a scalar."""
    slots = ("m", "v")

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def hyperparameters(self, step, epoch=0):
        lr, b1, b2 = self.schedule(epoch), self.beta1, self.beta2
        rho_inf = 2 / (1 - b2) - 1
        rho = rho_inf - 2 * step * b2 ** step / (1 - b2 ** step)
        if rho > 5:
            rect = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
            adaptive = 1.0
        else:
            rect, adaptive = 1.0, 0.0
        return {"lr": lr, "step_size": lr * rect / (1 - b1 ** step), "adaptive": adaptive,
                "bias_correction2_sqrt": math.sqrt(1 - b2 ** step)}

    def update(self, params, grads, state, h):
        b1, b2 = self.beta1, self.beta2

        def one(p, g, m, v):
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            scale = h["adaptive"] * h["bias_correction2_sqrt"] / (np.sqrt(v) + self.eps) + (1 - h["adaptive"])
            return p - h["step_size"] * m * scale, m, v
        return _split(tree_map(one, params, grads, state["m"], state["v"]), params, self.slots)


def _split(pairs, params, slots):
    """Turn a tree of (new_param, *new_slots) tuples into (params, {slot: tree})."""
    def pick(i):
        def walk(tree, like):
            if isinstance(like, dict):
                return {k: walk(tree[k], like[k]) for k in like}
            return tree[i]
        return walk(pairs, params)
    return pick(0), {slot: pick(i + 1) for i, slot in enumerate(slots)}


BY_NAME = {cls.__name__: cls for cls in (SGD, RMSProp, Adam, RAdam)}
