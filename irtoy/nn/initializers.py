"""Initializers: the starting values of parameters.

Each is a function `init(rng, shape, dtype) -> np.ndarray` (rng a numpy Generator), so a
layer seeded with the same number always starts from the same weights. Fan-in and fan-out
follow the usual convention: a dense weight is (fan_in, fan_out); a convolution kernel is
(out_channels, in_channels, kh, kw), whose fans are multiplied by the kernel area.
"""
import numpy as np


def fans(shape):
    """(fan_in, fan_out) of a weight of this shape."""
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) > 2:
        area = int(np.prod(shape[2:]))
        return shape[1] * area, shape[0] * area
    size = int(np.prod(shape)) or 1
    return size, size


def zeros(rng, shape, dtype=np.float32):
    return np.zeros(shape, dtype)


def ones(rng, shape, dtype=np.float32):
    return np.ones(shape, dtype)


def constant(value):
    """Every entry `value`."""
    def init(rng, shape, dtype=np.float32):
        return np.full(shape, value, dtype)
    return init


def normal(std=0.01, mean=0.0):
    def init(rng, shape, dtype=np.float32):
        return (mean + std * rng.standard_normal(shape)).astype(dtype)
    return init


def uniform(limit=0.05):
    """Uniform on [-limit, limit]."""
    def init(rng, shape, dtype=np.float32):
        return rng.uniform(-limit, limit, shape).astype(dtype)
    return init


def glorot_uniform(rng, shape, dtype=np.float32):
    """Xavier/Glorot: variance 2 / (fan_in + fan_out), keeping activations' scale through tanh layers."""
    fan_in, fan_out = fans(shape)
    return uniform(np.sqrt(6.0 / (fan_in + fan_out)))(rng, shape, dtype)


def glorot_normal(rng, shape, dtype=np.float32):
    fan_in, fan_out = fans(shape)
    return normal(np.sqrt(2.0 / (fan_in + fan_out)))(rng, shape, dtype)


def he_uniform(rng, shape, dtype=np.float32):
    """He/Kaiming: variance 2 / fan_in, for ReLU layers (which zero half their inputs)."""
    fan_in, _ = fans(shape)
    return uniform(np.sqrt(6.0 / fan_in))(rng, shape, dtype)


def he_normal(rng, shape, dtype=np.float32):
    fan_in, _ = fans(shape)
    return normal(np.sqrt(2.0 / fan_in))(rng, shape, dtype)


xavier_uniform, xavier_normal = glorot_uniform, glorot_normal
kaiming_uniform, kaiming_normal = he_uniform, he_normal

BY_NAME = {"zeros": zeros, "ones": ones, "glorot_uniform": glorot_uniform, "glorot_normal": glorot_normal,
           "xavier_uniform": glorot_uniform, "xavier_normal": glorot_normal, "he_uniform": he_uniform,
           "he_normal": he_normal, "kaiming_uniform": he_uniform, "kaiming_normal": he_normal,
           "uniform": uniform(0.05)}     # Keras's start for embedding tables


def check(*inits):
    """Refuse unknown names when a layer is made, so the error points at the line that made it."""
    for init in inits:
        get(init)


def get(init):
    """An initializer given by name or as a function."""
    if callable(init):
        return init
    if init not in BY_NAME:
        raise ValueError(f"unknown initializer {init!r}; known: {', '.join(sorted(BY_NAME))}")
    return BY_NAME[init]
