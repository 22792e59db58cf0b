"""Python numbers given as arguments are weakly typed, as in NumPy 2 (NEP 50) and JAX: they
take the dtype of the arrays they meet, on every backend, so `lr=0.1` keeps float32 weights
float32, and a Python int out of range of the integer array it meets is refused, as NumPy
refuses it, instead of wrapping."""
import numpy as np
import pytest

import irtoy
from irtoy import nn

BACKENDS = ["numpy", "numba"]


def scale_and_shift(x, s):
    return x * s + s


def chained(x, s):
    return x * (s * 2) + (s > 1) - s / 4     # weak values combined first stay weak


@pytest.mark.parametrize("dtype, example, call", [
    (np.float32, 2.5, 0.1), (np.float32, 2, -3), (np.float16, 2.5, 1.5), (np.float64, 2, 7),
    (np.int8, 2, 50), (np.int8, 2, -64), (np.int16, 3, 3000), (np.uint8, 3, 100), (np.int16, 2.5, 0.5),
    (np.bool_, 2, 3), (np.float32, True, False),
], ids=lambda v: v.__name__ if isinstance(v, type) else repr(v))
@pytest.mark.parametrize("fn", [scale_and_shift, chained], ids=lambda f: f.__name__)
def test_a_python_number_argument_takes_the_arrays_dtype_as_in_numpy(fn, dtype, example, call):
    x = np.arange(-2, 3).astype(dtype)
    expected = fn(x, call)                       # NumPy 2's own promotion and values
    traced = irtoy.trace(fn, x, example)
    for backend in BACKENDS[:1] if dtype in (np.float16,) else BACKENDS:
        got = traced.compile(backend)(x, call)
        assert got.dtype == expected.dtype, backend
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype, big", [(np.int8, 300), (np.int8, -129), (np.int16, 40000), (np.uint8, -1)])
def test_a_python_int_out_of_range_of_the_array_it_meets_is_refused_as_numpy_refuses_it(backend, dtype, big):
    x = np.ones(3, dtype)
    with pytest.raises(OverflowError):
        scale_and_shift(x, big)                  # what NumPy 2 does
    f = irtoy.trace(scale_and_shift, x, 2).compile(backend)
    with pytest.raises(irtoy.ShapeError, match=rf"argument s is the Python int {big}, out of bounds for "
                                               rf"{np.dtype(dtype).name}.*\n  at .*test_weak_types.py:15"):
        f(x, big)
    with pytest.raises(irtoy.ShapeError, match=f"Python int {big}, out of bounds"):
        irtoy.trace(scale_and_shift, x, big)
    assert f(x, 5).tolist() == scale_and_shift(x, 5).tolist()


def test_numpy_scalars_are_not_weak():
    x = np.ones(3, np.float32)
    for s in (np.float64(2.0), np.array(2.0)):
        assert irtoy.trace(scale_and_shift, x, s).compile()(x, s).dtype == scale_and_shift(x, s).dtype == np.float64


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_float32_training_step_with_a_python_learning_rate_stays_float32_call_after_call(backend):
    def loss(w, x):
        return np.sum((x @ w) ** 2) / 2

    def sgd_step(w, x, lr):
        return w - lr * irtoy.grad(loss)(w, x)

    w, x = np.ones((3, 2), np.float32), np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    step = irtoy.trace(sgd_step, w, x, 0.1).compile(backend)
    for _ in range(3):                          # each call takes the previous one's weights
        expected = w - 0.01 * (x.T @ (x @ w))
        w = step(w, x, 0.01)
        assert w.dtype == np.float32
        np.testing.assert_allclose(w, expected, rtol=1e-6)


def test_a_float32_model_stays_float32_end_to_end():
    x = np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = nn.Model(nn.Sequential([nn.Dense(4, 8), nn.ReLU(), nn.Dense(8, 2)]), loss=nn.SoftmaxCrossEntropy(),
                     optimizer=nn.Adam(lr=0.01), backend="numpy")
    model.fit(x, y, epochs=2, batch_size=8, verbose=False)
    graph = model.compiled_step(x[:8], y[:8]).stages["optimized"]
    floats = {graph.spec(n).dtype for n in graph.nx if graph.spec(n).dtype.kind == "f"}
    assert floats == {np.dtype(np.float32)}
    assert {w.dtype for w in irtoy.pytree.flatten(model.params)[0]} == {np.dtype(np.float32)}
