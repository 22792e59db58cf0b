"""Random numbers: a counter-based generator, so every backend draws the same numbers.

Entry i (in row-major order) of the draw keyed by (seed, stream) is a pure function of those
three numbers, so the interpreter and compiled kernels produce the same bits, in any order,
in parallel, with no generator state to carry.
It is SplitMix64 (Steele, Lea and Flood, 2014) started at a key hashed from seed and stream:
    key  = mix64(mix64(seed) + stream * GAMMA)
    bits = mix64(key + (i + 1) * GAMMA)
all in uint64 arithmetic modulo 2**64. The top 24 bits make a float32 k / 2**24, the top
53 a float64 k / 2**53: every value in [0, 1) is a multiple of the spacing, so exact.
"""
import numpy as np

from irtoy.errors import ShapeError
from irtoy.ops.registry import bind, declare
from irtoy.ops.spec import Spec

SPLITMIX_GAMMA = 0x9E3779B97F4A7C15
SPLITMIX_MULTIPLIERS = (0xBF58476D1CE4E5B9, 0x94D049BB133111EB)
SPLITMIX_SHIFTS = (30, 27, 31)


def mix64(z):
    """SplitMix64's output function on uint64 arrays: a bijection that scrambles every bit."""
    (s1, s2, s3), (m1, m2) = SPLITMIX_SHIFTS, SPLITMIX_MULTIPLIERS
    z = (z ^ (z >> np.uint64(s1))) * np.uint64(m1)
    z = (z ^ (z >> np.uint64(s2))) * np.uint64(m2)
    return z ^ (z >> np.uint64(s3))


def random_key(seed, stream):
    """The uint64 key of the draw for (seed, stream): seed an integer, stream an int >= 0."""
    with np.errstate(over="ignore"):
        seed = np.asarray(seed).astype(np.uint64).reshape(1)
        return mix64(mix64(seed) + np.uint64(stream) * np.uint64(SPLITMIX_GAMMA))[0]


def _random_uniform(seed, shape, stream, dtype):
    counters = np.arange(1, int(np.prod(shape)) + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        bits = mix64(random_key(seed, stream) + counters * np.uint64(SPLITMIX_GAMMA))
    if np.dtype(dtype) == np.float32:
        values = (bits >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -24)
    else:
        values = (bits >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    return values.reshape(shape)


def random_uniform_rule(specs, shape, stream, dtype):
    (seed,) = specs
    if seed.shape != () or seed.dtype.kind not in "iu":
        raise ShapeError(f"the seed must be a 0-d integer array, not {seed}")
    if any(d < 0 for d in shape):
        raise ShapeError(f"shape {shape} has a negative dimension")
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise ShapeError(f"random numbers come as float32 or float64, not {dtype}")
    return Spec(shape, np.dtype(dtype))


@declare("random_uniform", "random", random_uniform_rule, _random_uniform, 1, differentiable=False,
         doc="uniform numbers in [0, 1), a pure function of (seed, stream, position)")
def random_uniform(seed, shape, stream=0, dtype=np.float32):
    """Numbers uniform in [0, 1) of `shape`, determined by (seed, stream) alone.

    `seed` is an integer (a 0-d int64 argument of a traced function, so each call can pass
    a new one); `stream` tells apart draws made with the same seed (each dropout layer has
    its own). The same (seed, stream, shape) gives the same numbers on every backend.
    """
    if seed is None:
        raise ShapeError("random_uniform: the seed is None; pass an integer (Model.fit passes a new one each step)")
    stream = int(stream)
    if not 0 <= stream < 2 ** 63:
        raise ShapeError(f"random_uniform: stream must be in [0, 2**63), not {stream}")
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)
    return bind("random_uniform", seed, shape=shape, stream=stream, dtype=np.dtype(dtype).name)
