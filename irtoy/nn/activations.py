"""Activation functions, written with NumPy calls so they trace into irtoy ops.

Each is numerically stable for large |x|: sigmoid and softplus use exp(-|x|), which never
overflows, and softmax subtracts the row maximum before exponentiating.
"""
import numpy as np


def relu(x):
    return np.maximum(x, 0.0)


def leaky_relu(x, slope=0.01):
    return np.where(x > 0, x, x * slope)


def sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def tanh(x):
    return np.tanh(x)


def softplus(x):
    """log(1 + exp(x)), computed as max(x, 0) + log(1 + exp(-|x|))."""
    return np.maximum(x, 0.0) + np.log(1.0 + np.exp(-np.abs(x)))


def log_softmax(x, axis=-1):
    z = x - np.max(x, axis=axis, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)
