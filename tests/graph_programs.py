"""Random NumPy-style programs, for property tests of the gradient pass and the cleanup passes.

A `Program` is a few inputs of small shapes and a list of steps; each step applies one
entry of `STEPS` to values picked from the inputs, a few constants (0, 1, ...) and the
results of earlier steps. Every value has a shape in `SHAPES`, all of which broadcast
together, so any step can combine any two values. The program returns a weighted sum of
its step results: a scalar, smooth almost everywhere, that finite differences can check.

The same `Program.fn` runs on plain NumPy arrays (the reference) and on tracers (irtoy),
and the steps are chosen to leave behind what the cleanup passes look for: constants 0 and
1 as operands, double negations, reshapes of reshapes, transposes of transposes and sums
of broadcasts.
"""
from dataclasses import dataclass

import hypothesis.strategies as st
import numpy as np

SHAPES = [(), (1,), (3,), (1, 1), (1, 3), (2, 1), (2, 3)]      # all broadcast to (2, 3)
CONSTANTS = [np.float64(0.0), np.float64(1.0), np.array([0.5, -1.0, 2.0]), np.array([[1.0], [0.0]])]
WEIGHTS = {shape: np.random.default_rng(10 * len(shape) + sum(shape)).uniform(0.5, 1.5, shape)
           for shape in SHAPES}


def _full(a):
    return np.broadcast_to(a, (2, 3))


def _axis(a, p):
    return p % np.ndim(a) if np.ndim(a) else None


STEPS = {
    # elementwise, written so values stay in the domain of each op
    "add": lambda a, b, p: a + b,
    "subtract": lambda a, b, p: a - b,
    "multiply": lambda a, b, p: a * b,
    "divide": lambda a, b, p: a / (2 + np.cos(b)),
    "power": lambda a, b, p: (1 + a * a) ** np.tanh(b),
    "square": lambda a, b, p: a ** 2,
    "maximum": lambda a, b, p: np.maximum(a, b),
    "minimum": lambda a, b, p: np.minimum(a, b),
    "where": lambda a, b, p: np.where(a > b, a, 2 * b),
    "negative": lambda a, b, p: -a,
    "double_negative": lambda a, b, p: -(-a),
    "exp": lambda a, b, p: np.exp(np.tanh(a)),
    "log": lambda a, b, p: np.log(1 + a * a),
    "sqrt": lambda a, b, p: np.sqrt(1 + a * a),
    "sin": lambda a, b, p: np.sin(a),
    "cos": lambda a, b, p: np.cos(a),
    "tan": lambda a, b, p: np.tan(np.tanh(a)),
    "tanh": lambda a, b, p: np.tanh(a),
    "abs": lambda a, b, p: np.abs(a),
    "sign": lambda a, b, p: np.sign(a) * b,
    "compare_and_cast": lambda a, b, p: (a >= 0).astype(np.float64) * b,
    "argmax": lambda a, b, p: np.argmax(a).astype(np.float64) * b,
    # reductions, kept in SHAPES by keepdims
    "sum": lambda a, b, p: np.sum(a, axis=_axis(a, p), keepdims=True),
    "sum_all": lambda a, b, p: np.sum(a),
    "mean": lambda a, b, p: np.mean(a, axis=_axis(a, p), keepdims=True),
    "max": lambda a, b, p: np.max(a, axis=_axis(a, p), keepdims=True),
    "min": lambda a, b, p: np.min(a, axis=_axis(a, p), keepdims=True),
    # movement
    "reshape_twice": lambda a, b, p: np.reshape(a, (-1,)).reshape(np.shape(a)),
    "expand_and_squeeze": lambda a, b, p: np.squeeze(np.expand_dims(a, 0), 0),
    "transpose_and_back": lambda a, b, p: _full(a).T[::-1].T,
    "getitem": lambda a, b, p: _full(a)[p % 2] if p % 3 else _full(a)[:, ::-1],
    "broadcast_and_sum": lambda a, b, p: np.broadcast_to(a, (4,) + np.shape(a)).sum(axis=0),
    "concatenate": lambda a, b, p: (np.concatenate([_full(a), _full(b)], axis=0)[1:3] if p % 2 else
                                    np.concatenate([_full(a), _full(b)], axis=1)[:, ::2]),
    # contractions, every 1-d and 2-d form
    "matmul": lambda a, b, p: 0.2 * (_full(a) @ _full(b).T @ _full(a)),
    "matvec": lambda a, b, p: _full(a).T @ np.sum(_full(b), axis=1),
    "vecmat": lambda a, b, p: np.sum(_full(b), axis=1) @ _full(a),
    "dot": lambda a, b, p: np.sum(_full(a), axis=0) @ np.sum(_full(b), axis=0),
}


@dataclass
class Program:
    shapes: list        # of the inputs
    steps: list         # (step name, operand picks, parameter)
    seed: int

    def inputs(self):
        rng = np.random.default_rng(self.seed)
        return [rng.uniform(-1.5, 1.5, shape) for shape in self.shapes]

    def fn(self, *xs):
        pool, results = list(xs) + CONSTANTS, []
        for name, picks, param in self.steps:
            a, b = (pool[i % len(pool)] for i in picks)
            result = STEPS[name](a, b, param)
            pool.append(result)
            results.append(result)
        return sum(np.sum(r * WEIGHTS[np.shape(r)]) for r in results)

    def __repr__(self):
        steps = ", ".join(f"{name}{tuple(picks)}/{param}" for name, picks, param in self.steps)
        return f"Program(inputs {self.shapes}, seed {self.seed}: {steps})"


@st.composite
def programs(draw, max_steps=6):
    shapes = draw(st.lists(st.sampled_from(SHAPES), min_size=1, max_size=3))
    step = st.tuples(st.sampled_from(sorted(STEPS)), st.lists(st.integers(0, 40), min_size=2, max_size=2),
                     st.integers(0, 5))
    steps = draw(st.lists(step, min_size=1, max_size=max_steps))
    return Program(shapes, steps, draw(st.integers(0, 2 ** 16)))


def central_differences(f, xs, step=1e-6):
    """d f(*xs) / d xs[i] for every i, by central differences (float64)."""
    grads = []
    for i, x in enumerate(xs):
        grad = np.zeros_like(x)
        for index in np.ndindex(x.shape):
            up, down = x.copy(), x.copy()
            up[index] += step
            down[index] -= step
            grad[index] = (f(*xs[:i], up, *xs[i + 1:]) - f(*xs[:i], down, *xs[i + 1:])) / (2 * step)
        grads.append(grad)
    return grads
