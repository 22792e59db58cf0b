"""The gradient pass: every rule against finite differences, ties, second derivatives, errors.

Finite differences are central, in float64, with step 1e-6: truncation error ~1e-12 times
the third derivative and round-off ~1e-10 times the function's size, so gradients must
agree to rtol 1e-5 / atol 1e-6.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import irtoy
from irtoy import ops
from irtoy.passes import VJP_RULES, differentiate
from graph_programs import central_differences, programs
from op_cases import CASES

RTOL, ATOL = 1e-5, 1e-6


def gradients(fn, *args, wrt=None):
    """irtoy's gradients of scalar `fn` with respect to the arguments `wrt` (default: all)."""
    wrt = tuple(range(len(args))) if wrt is None else wrt
    return irtoy.trace(fn, *args).grad(wrt=wrt).compile("numpy")(*args)


def test_every_differentiable_op_has_a_vjp_rule():
    needing = {op.name for op in ops.REGISTRY.values() if op.differentiable and op.kind != "source"}
    assert sorted(needing - set(VJP_RULES)) == []
    assert all(ops.REGISTRY[name].differentiable for name in VJP_RULES)


DIFFERENTIABLE_CASES = sorted(name for name in CASES if ops.REGISTRY[name].differentiable)


@pytest.mark.parametrize("op", DIFFERENTIABLE_CASES)
@given(data=st.data())
def test_vjp_rule_matches_finite_differences(op, data):
    case = data.draw(CASES[op])
    args = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in case.args]
    wrt = tuple(i for i, a in enumerate(args) if a.dtype.kind == "f")
    out = np.asarray(case.fn(*args))
    if not wrt or out.dtype.kind != "f":
        return      # nothing here has a gradient (integer arithmetic, casts to int)
    weights = np.random.default_rng(0).uniform(0.5, 1.5, out.shape)

    def loss(*xs):
        return np.sum(case.fn(*xs) * weights)

    traced = irtoy.trace(loss, *args)
    assert op in traced.graph.count_ops()
    grads = traced.grad(wrt=wrt).compile("numpy")(*args)
    for i, grad in zip(wrt, grads):
        assert grad.shape == args[i].shape and grad.dtype == args[i].dtype
    if not (case.differentiable and far_from_kinks(op, args)):
        return      # a tie or abs at 0: the conventions there are tested on their own below
    low_precision = out.dtype != np.float64     # a cast to float32 inside
    step = 1e-3 if low_precision else 1e-6
    expected = central_differences(lambda *fs: loss(*[fs[wrt.index(i)] if i in wrt else a
                                                      for i, a in enumerate(args)]),
                                   [args[i] for i in wrt], step)
    for grad, fd in zip(grads, expected):
        np.testing.assert_allclose(grad, fd, rtol=1e-3 if low_precision else RTOL, atol=ATOL)


def far_from_kinks(op, args, margin=1e-3):
    """True unless a finite-difference step could cross a point where `op` is not smooth."""
    if op in ("maximum", "minimum"):
        return bool(np.all(np.abs(args[0] - args[1]) > margin))
    if op in ("abs", "sign"):
        return bool(np.all(np.abs(args[0]) > margin))
    if op in ("max", "min"):
        return bool(np.all(np.diff(np.sort(args[0].ravel())) > margin))
    return True


@given(programs())
def test_gradients_of_random_programs_match_finite_differences(program):
    xs = program.inputs()
    grads = gradients(program.fn, *xs)
    for grad, fd in zip(grads, central_differences(program.fn, xs)):
        np.testing.assert_allclose(grad, fd, rtol=RTOL, atol=ATOL)


# -- ties: JAX's conventions -----------------------------------------------------------------

def test_maximum_and_minimum_split_the_gradient_between_ties():
    x, y = np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 5.0])
    dx, dy = gradients(lambda x, y: np.sum(np.maximum(x, y)), x, y)
    np.testing.assert_array_equal(dx, [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(dy, [0.5, 0.0, 1.0])
    dx, dy = gradients(lambda x, y: np.sum(np.minimum(x, y)), x, y)
    np.testing.assert_array_equal(dx, [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(dy, [0.5, 1.0, 0.0])
    (d,) = gradients(lambda x: np.sum(np.maximum(x, x)), x)
    np.testing.assert_array_equal(d, [1.0, 1.0, 1.0])


def test_max_and_min_reductions_split_the_gradient_equally_between_ties():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, -1.0], [4.0, 4.0, 4.0]])
    (d,) = gradients(lambda x: np.sum(x.max(axis=1) * np.array([1.0, 2.0, 3.0])), x)
    np.testing.assert_allclose(d, [[0, 0.5, 0.5], [2, 0, 0], [1, 1, 1]], rtol=1e-15)
    (d,) = gradients(lambda x: np.min(x), np.array([[0.0, 5.0], [0.0, 0.0]]))
    np.testing.assert_allclose(d, [[1 / 3, 0], [1 / 3, 1 / 3]], rtol=1e-15)


def test_relu_at_zero_gets_half_the_gradient():
    (d,) = gradients(lambda x: np.sum(np.maximum(x, 0.0)), np.array([-1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(d, [0.0, 0.5, 1.0])


def test_arctan2_and_hypot_have_zero_gradient_at_the_origin_and_none_nan_around_it():
    y, x = np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.0, -2.0])
    dy, dx = gradients(lambda y, x: np.sum(np.arctan2(y, x)), y, x)
    np.testing.assert_allclose(dy, [0.0, 0.0, -0.5], rtol=1e-15)
    np.testing.assert_allclose(dx, [0.0, -1.0, 0.0], rtol=1e-15)
    dx, dy = gradients(lambda x, y: np.sum(np.hypot(x, y)), x, y)
    np.testing.assert_allclose(dx, [0.0, 0.0, -1.0], rtol=1e-15)
    np.testing.assert_allclose(dy, [0.0, 1.0, 0.0], rtol=1e-15)
    second = irtoy.grad(lambda x: np.sum(irtoy.grad(lambda x: np.sum(np.hypot(x, 0.0)))(x)))
    assert np.all(np.isfinite(second(np.array([0.0, 3.0]))))


# -- second derivatives ----------------------------------------------------------------------

A = np.array([[0.3, -1.2, 0.5], [1.1, 0.4, -0.7]])
LABELS = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


def tanh_cubed(x):
    return np.sum(np.tanh(x) ** 3 + np.sin(x) * x)


def log_sum_exp(x):
    return np.log(np.sum(np.exp(A @ x)))


def pieces(x):
    parts = np.concatenate([x[::-1], x[1:] * 2.0])
    return np.sum(np.maximum(parts, 0.3) * parts ** 2) + np.mean(x.reshape(1, 3).T * x)


def cross_entropy(x):
    logits = A.T @ (x.reshape(3, 1) * A.T).T    # (3, 3)
    z = logits[:2] - logits[:2].max(axis=1, keepdims=True)
    return -np.sum(LABELS * (z - np.log(np.exp(z).sum(axis=1, keepdims=True)))) / 2


def smooth_ratio(x):
    return np.sum(np.sqrt(1 + x * x) / (2 + np.cos(x))) * np.mean(np.abs(x) + 1)


@pytest.mark.parametrize("f", [tanh_cubed, log_sum_exp, pieces, cross_entropy, smooth_ratio])
def test_hessian_vector_products_match_finite_differences_of_the_gradient(f):
    x, v = np.array([0.4, -0.9, 1.3]), np.array([1.0, 0.5, -2.0])
    hvp = irtoy.grad(lambda x, v: np.sum(irtoy.grad(f)(x) * v))(x, v)
    df = irtoy.grad(f)
    h = 1e-6
    np.testing.assert_allclose(hvp, (df(x + h * v) - df(x - h * v)) / (2 * h), rtol=1e-5, atol=1e-7)


def test_second_and_third_derivatives_of_a_scalar_function():
    def f(x):
        return x ** 3 * np.sin(x)
    d1, d2, d3 = irtoy.grad(f), irtoy.grad(irtoy.grad(f)), irtoy.grad(irtoy.grad(irtoy.grad(f)))
    x = 0.7
    s, c = np.sin(x), np.cos(x)
    assert np.isclose(d1(x), 3 * x ** 2 * s + x ** 3 * c, rtol=1e-13)
    assert np.isclose(d2(x), 6 * x * s + 6 * x ** 2 * c - x ** 3 * s, rtol=1e-13)
    assert np.isclose(d3(x), 6 * s + 18 * x * c - 9 * x ** 2 * s - x ** 3 * c, rtol=1e-12)


# -- what the pass builds ----------------------------------------------------------------------

def test_backward_nodes_are_marked_and_point_at_the_forward_line():
    traced = irtoy.trace(lambda x: np.sum(np.tanh(x) * 3.0), np.ones(4))
    before = str(traced.graph)
    grad = differentiate(traced.graph, traced.graph.inputs)
    assert str(traced.graph) == before, "the pass must not change its argument"
    new = [n for n in grad.nx if n not in traced.graph.nx]
    assert new and all(grad[n]["role"] in ("backward", "const") for n in new)
    forward_lines = {traced.graph[n]["src"] for n in traced.graph.nx if traced.graph[n].get("src")}
    assert {grad[n]["src"] for n in new if grad[n]["role"] == "backward"} <= forward_lines
    assert len(grad.outputs) == 1 and grad.spec(grad.outputs[0]) == irtoy.Spec((4,), np.float64)


def test_contributions_of_a_value_used_several_times_are_summed():
    x = np.array([0.5, -2.0])
    (d,) = gradients(lambda x: np.sum(x * x * x + np.exp(x) * x), x)
    np.testing.assert_allclose(d, 3 * x ** 2 + np.exp(x) * (x + 1), rtol=1e-14)


def test_non_differentiable_ops_pass_no_gradient():
    x = np.array([-1.5, 0.5, 2.5])
    (d,) = gradients(lambda x: np.sum((x > 0).astype(np.float64) * x), x)
    np.testing.assert_array_equal(d, [0.0, 1.0, 1.0])
    (d,) = gradients(lambda x: np.sum(x.astype(np.int32).astype(np.float64)) + np.argmax(x) * 1.0, x)
    np.testing.assert_array_equal(d, np.zeros(3))


def test_an_input_the_result_does_not_use_gets_zeros_of_its_shape_and_dtype():
    x, unused = np.ones(2), np.ones((2, 3), np.float32)
    dx, du = gradients(lambda x, unused: np.sum(x), x, unused)
    np.testing.assert_array_equal(dx, [1.0, 1.0])
    assert du.dtype == np.float32
    np.testing.assert_array_equal(du, np.zeros((2, 3), np.float32))


def test_gradients_keep_each_inputs_dtype():
    x, y = np.array([1.0, 2.0], np.float32), np.array([3.0, 4.0])
    dx, dy = gradients(lambda x, y: np.sum(x * y), x, y)
    assert dx.dtype == np.float32 and dy.dtype == np.float64
    np.testing.assert_array_equal(dx, [3.0, 4.0])
    np.testing.assert_array_equal(dy, [1.0, 2.0])


def test_a_non_scalar_result_is_a_shape_error_saying_so():
    with pytest.raises(irtoy.ShapeError,
                       match=r"must return a scalar \(shape \(\)\), but it returns f64\[3\]"):
        irtoy.trace(lambda x: x * 2, np.ones(3)).grad()
    with pytest.raises(irtoy.ShapeError, match="must return one scalar"):
        irtoy.trace(lambda x: (x.sum(), x.sum()), np.ones(3)).grad()


def test_differentiating_with_respect_to_an_integer_argument_names_it():
    with pytest.raises(irtoy.ShapeError, match=r"with respect to steps: it is i64\[\].*only floating-point"):
        irtoy.trace(lambda x, steps: np.sum(x) * steps, np.ones(3), np.int64(3)).grad(wrt="steps")


def test_a_missing_rule_is_reported_with_the_op_and_line(monkeypatch):
    monkeypatch.delitem(VJP_RULES, "tanh")
    traced = irtoy.trace(lambda x: np.sum(np.tanh(x)), np.ones(2))
    with pytest.raises(irtoy.GraphError, match=r"(?s)no gradient rule for the op 'tanh'.*test_autodiff.py"):
        traced.grad()
