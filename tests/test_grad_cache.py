"""irtoy.grad / value_and_grad on arrays trace and compile once per function and argument
specs, however they are spelled: `irtoy.grad(loss)(w, x)` written inside a loop costs what a
gradient function made once costs. Arrays the function reads from its closure or globals are
inputs read on every call, so a changed one never gives a stale gradient."""
import numpy as np
import pytest

import irtoy
from irtoy import api

TARGET = np.array([1.0, 2.0, 3.0])          # read by `distance` as a global


def distance(w):
    return np.sum((w - TARGET) ** 2)


def loss(w, x):
    return np.sum(np.tanh(x @ w) ** 2)


@pytest.fixture
def traces(monkeypatch):
    """The list of functions traced from now on."""
    traced = []
    real = api.trace_function

    def counting(fn, args, kwargs):
        traced.append(getattr(fn, "__name__", fn))
        return real(fn, args, kwargs)

    monkeypatch.setattr(api, "trace_function", counting)
    return traced


def test_grad_written_inside_a_loop_traces_once(traces):
    w, x = np.ones((3, 2)), np.arange(6.0).reshape(2, 3) / 10
    expected = irtoy.grad(loss)(w, x)
    for _ in range(3):
        np.testing.assert_array_equal(irtoy.grad(loss)(w, x), expected)
        irtoy.value_and_grad(loss)(w, x)
    assert traces == ["loss", "loss"]           # one for grad, one for value_and_grad
    irtoy.grad(loss)(np.ones((3, 4)), x)        # new shapes: traced again
    irtoy.grad(loss, wrt=1)(w, x)               # another wrt
    irtoy.grad(loss)(w.astype(np.float32), x.astype(np.float32))
    assert len(traces) == 5


def test_a_python_number_and_a_numpy_scalar_are_told_apart(traces):
    def scaled(w, s):
        return np.sum(w * s)
    w = np.ones(3, np.float32)
    assert irtoy.value_and_grad(scaled)(w, 2.0)[0].dtype == np.float32     # weak: the weights' dtype
    assert irtoy.value_and_grad(scaled)(w, np.float64(2.0))[0].dtype == np.float64
    assert irtoy.value_and_grad(scaled)(w, 3.0)[1].tolist() == [3.0, 3.0, 3.0]
    assert len(traces) == 2


def test_a_global_array_changed_or_rebound_is_seen_without_tracing_again(traces):
    global TARGET
    w = np.zeros(3)
    np.testing.assert_array_equal(irtoy.grad(distance)(w), [-2.0, -4.0, -6.0])
    saved = TARGET
    try:
        TARGET = np.array([0.5, 0.5, 0.5])      # rebound
        np.testing.assert_array_equal(irtoy.grad(distance)(w), [-1.0, -1.0, -1.0])
        TARGET[:] = 2.0                         # changed in place
        np.testing.assert_array_equal(irtoy.grad(distance)(w), [-4.0, -4.0, -4.0])
    finally:
        TARGET = saved
    assert traces == ["distance"]


def test_a_lambda_made_anew_each_step_traces_once_and_sees_what_it_captures(traces):
    w = np.ones(2)
    for step in range(3):
        target = np.full(2, float(step))        # a new array in the closure each step
        grads = irtoy.grad(lambda w: np.sum((w - target) ** 2))(w)
        np.testing.assert_array_equal(grads, 2 * (w - step))
    assert len(traces) == 1
    for scale in (1.0, 3.0):                    # a captured number is part of the key
        np.testing.assert_array_equal(irtoy.grad(lambda w: np.sum(w * w) * scale)(w), 2 * scale * w)
    assert len(traces) == 3


def test_captured_arrays_are_inputs_on_the_numba_backend_too(traces):
    w, x = np.ones((3, 2), np.float32), np.ones((2, 3), np.float32)
    for k in (1.0, 2.0):
        x = np.full((2, 3), k, np.float32)
        grads = irtoy.grad(lambda w: loss(w, x), backend="numba")(w)
        np.testing.assert_allclose(grads, irtoy.grad(loss)(w, x), rtol=1e-5)
    assert traces.count("<lambda>") == 1


def test_a_bound_method_is_keyed_by_its_function_and_object(traces):
    class Model:
        def __init__(self, scale):
            self.scale = scale

        def loss(self, w):
            return np.sum(w * w) * self.scale + np.sum(w * TARGET)

    first, second, w = Model(1.0), Model(2.0), np.ones(3)
    for _ in range(2):                          # `first.loss` is a new method object each time
        np.testing.assert_array_equal(irtoy.grad(first.loss)(w), 2 * w + TARGET)
    np.testing.assert_array_equal(irtoy.grad(second.loss)(w), 4 * w + TARGET)
    assert traces == ["loss", "loss"]
