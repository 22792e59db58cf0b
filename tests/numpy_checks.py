"""Checks for a NumPy function traced by irtoy, used by the tests/test_numpy_*.py files.

    check_like_numpy(lambda x, i: np.take(x, i, axis=1), x, i)

traces the function, runs it on the interpreter and compares with NumPy itself (shape, dtype,
values); differentiates it (the sum of its result times fixed weights) and compares the
gradient with central finite differences in float64; and, with `numba=True`, compiles value
and gradient with the numba backend and compares them with the interpreter. The tests draw
the arguments (hypothesis), so one line checks a function on every shape they draw.
"""
import numpy as np

import irtoy
from graph_programs import central_differences

TOLERANCE = {np.dtype(np.float32): (2e-5, 1e-5), np.dtype(np.float64): (1e-11, 1e-12)}


def assert_same_array(got, expected, rtol=None, atol=None):
    """Same shape and dtype, equal values (floats within the dtype's tolerance, nan where nan)."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    if expected.dtype.kind == "f":
        default_rtol, default_atol = TOLERANCE[expected.dtype]
        np.testing.assert_allclose(got, expected, rtol=rtol or default_rtol, atol=atol or default_atol)
    else:
        np.testing.assert_array_equal(got, expected)


def _leaves(value):
    return list(value) if isinstance(value, (tuple, list)) else [value]


def check_value(fn, *args, rtol=None, atol=None):
    """The interpreter gives what NumPy gives, for each result of `fn`."""
    with np.errstate(all="ignore"):
        expected = fn(*args)
        got = irtoy.trace(fn, *args).compile("numpy")(*args)
    for g, e in zip(_leaves(got), _leaves(expected), strict=True):
        assert_same_array(g, e, rtol, atol)
    return expected


def weighted_loss(fn, args):
    """sum_i w_i * fn(*args)_i with fixed weights in [0.5, 1.5]: a scalar whose gradient sees
    every entry of every floating-point result."""
    with np.errstate(all="ignore"):
        outs = [np.asarray(o) for o in _leaves(fn(*args))]
    rng = np.random.default_rng(0)
    weights = [rng.uniform(0.5, 1.5, o.shape).astype(o.dtype) if o.dtype.kind == "f" else None for o in outs]

    def loss(*xs):
        results = _leaves(fn(*xs))
        return sum(np.sum(r * w) for r, w in zip(results, weights) if w is not None)
    return loss


def check_gradient(fn, *args, rtol=1e-5, atol=1e-6, step=1e-6):
    """irtoy's gradient with respect to every float argument, in float64, against central
    finite differences. Call it only where `fn` is smooth at `args` (within `step`)."""
    args = [np.asarray(a, np.float64) if np.asarray(a).dtype.kind == "f" else a for a in args]
    wrt = tuple(i for i, a in enumerate(args) if np.asarray(a).dtype.kind == "f")
    loss = weighted_loss(fn, args)
    if not wrt or not isinstance(loss(*args), (float, np.floating)):
        return
    grads = irtoy.trace(loss, *args).grad(wrt=wrt).compile("numpy")(*args)
    grads = _leaves(grads)

    def on_float_args(*floats):
        return loss(*[floats[wrt.index(i)] if i in wrt else a for i, a in enumerate(args)])
    expected = central_differences(on_float_args, [args[i] for i in wrt], step)
    for i, grad, fd in zip(wrt, grads, expected):
        assert np.shape(grad) == np.shape(args[i]), (np.shape(grad), np.shape(args[i]))
        np.testing.assert_allclose(grad, fd, rtol=rtol, atol=atol, err_msg=f"gradient of argument {i}")


def check_numba(fn, *args, grad=True):
    """The numba backend gives the interpreter's value, and (if `grad`) its gradient."""
    traced = irtoy.trace(fn, *args)
    with np.errstate(all="ignore"):
        expected = traced.compile("numpy")(*args)
    got = traced.compile("numba", debug=False)(*args)
    for g, e in zip(_leaves(got), _leaves(expected), strict=True):
        assert_same_array(g, e)
    wrt = tuple(i for i, a in enumerate(args) if np.asarray(a).dtype.kind == "f")
    loss = weighted_loss(fn, args)
    if grad and wrt and isinstance(loss(*args), (float, np.floating)):
        step = irtoy.trace(loss, *args).value_and_grad(wrt=wrt)
        expected, got = step.compile("numpy")(*args), step.compile("numba", debug=False)(*args)
        for g, e in zip(_leaves(got[1]), _leaves(expected[1])):
            assert_same_array(g, e, rtol=1e-4 if np.asarray(e).dtype == np.float32 else 1e-9, atol=1e-5)


def check_like_numpy(fn, *args, grad=True, numba=False):
    """check_value, then check_gradient where `grad`, then check_numba where `numba`."""
    check_value(fn, *args)
    if grad:
        check_gradient(fn, *args)
    if numba:
        check_numba(fn, *args, grad=grad)
