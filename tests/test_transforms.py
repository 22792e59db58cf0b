"""Gradients as users ask for them: `Traced.grad`, `irtoy.grad`, `irtoy.value_and_grad`.

The end-to-end checks compare with formulas derived by hand: the classic scalar function
(`references.seed_scalar`) and a ReLU MLP with softmax cross-entropy whose backward pass is
written out in NumPy (`references.mlp_loss_and_grads`), both in float64.
"""
import numpy as np
import pytest

import irtoy
from irtoy.benchmarks.workloads import mlp_loss
from irtoy.benchmarks.references import mlp_init, mlp_loss_and_grads, seed_scalar
from irtoy.render import ROLE_COLORS, to_dot


def seed_function(x1, x2, x3):
    a = np.sin(x1 + 1.0) + np.cos(2.0 * x2)
    b = np.sin(x2 + 1.0) + np.cos(2.0 * x1)
    return a * np.tan(np.log(x3)) + b * np.exp(1.0 + np.sin(x3))


@pytest.mark.parametrize("point", [(0.3, -1.2, 2.5), (1.0, 0.5, 0.8), (-2.0, 3.0, 1.7)])
def test_seed_scalar_function_value_and_gradient_match_the_hand_derived_formulas(point):
    value, grads = irtoy.value_and_grad(seed_function, wrt=(0, 1, 2))(*point)
    expected_value, expected_grads = seed_scalar(*point)
    assert np.isclose(value, expected_value, rtol=1e-13)
    np.testing.assert_allclose(grads, expected_grads, rtol=1e-12)


def test_mlp_gradient_matches_the_hand_written_backward_pass():
    rng = np.random.default_rng(1)
    params = mlp_init((6, 5, 4, 3), seed=2, dtype=np.float64)
    params = {k: v + rng.normal(0, 0.1, v.shape) for k, v in params.items()}     # nonzero biases
    x = rng.normal(size=(8, 6))
    y = np.eye(3)[rng.integers(0, 3, 8)]
    value, grads = irtoy.trace(mlp_loss, params, x, y).value_and_grad(wrt="params").compile()(params, x, y)
    expected_value, expected_grads = mlp_loss_and_grads(params, x, y)
    assert np.isclose(value, expected_value, rtol=1e-12)
    assert sorted(grads) == sorted(params)
    for k in params:
        np.testing.assert_allclose(grads[k], expected_grads[k], rtol=1e-6, atol=1e-12)


# -- Traced.grad / Traced.value_and_grad ---------------------------------------------------------

def loss(params, x, scale):
    return np.sum(np.tanh(x @ params["w"] + params["b"])) * scale


PARAMS = {"w": np.array([[0.5, -1.0], [2.0, 0.3], [0.1, 0.2]]), "b": np.array([0.1, -0.2])}
X = np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 1.0]])


def test_wrt_picks_arguments_by_index_name_or_tuple_and_keeps_their_structure():
    traced = irtoy.trace(loss, PARAMS, X, 2.0)
    by_index = traced.grad(wrt=0).compile()(PARAMS, X, 2.0)
    by_name = traced.grad(wrt="params").compile()(PARAMS, X, 2.0)
    assert sorted(by_index) == ["b", "w"]
    for k in PARAMS:
        np.testing.assert_array_equal(by_index[k], by_name[k])
        assert by_index[k].shape == PARAMS[k].shape
    d_params, d_scale = traced.grad(wrt=(0, "scale")).compile()(PARAMS, X, 2.0)
    np.testing.assert_array_equal(d_params["w"], by_index["w"])
    assert np.isclose(d_scale, loss(PARAMS, X, 1.0), rtol=1e-14)


def test_value_and_grad_returns_the_value_first():
    value, grads = irtoy.trace(loss, PARAMS, X, 2.0).value_and_grad(wrt=1).compile()(PARAMS, X, 2.0)
    assert np.isclose(value, loss(PARAMS, X, 2.0), rtol=1e-14)
    assert grads.shape == X.shape


def test_a_wrt_that_names_no_argument_lists_the_arguments():
    traced = irtoy.trace(loss, PARAMS, X, 2.0)
    with pytest.raises(irtoy.IrtoyError, match="wrt='weights' names no argument of loss.*'params'.*'x'"):
        traced.grad(wrt="weights")
    with pytest.raises(irtoy.IrtoyError, match="wrt=3 names no argument"):
        traced.grad(wrt=3)


def test_stages_keep_the_gradient_and_every_cleanup_pass():
    grad = irtoy.trace(loss, PARAMS, X, 2.0).grad()
    assert list(grad.stages) == ["traced", "shaped", "grad"]
    compiled = grad.compile()
    assert list(compiled.stages) == ["traced", "shaped", "grad", "folded", "simplified", "deduplicated",
                                     "optimized"]
    roles = {compiled.stages["grad"][n]["role"] for n in compiled.stages["grad"].nx}
    assert "backward" in roles
    assert ROLE_COLORS["backward"] in to_dot(compiled.stages["grad"]).source


# -- irtoy.grad on arrays: traced and compiled once per input specs --------------------------------

def test_the_array_form_compiles_once_per_shapes_and_dtypes():
    calls = []

    def f(x):
        calls.append(1)
        return np.sum(x * x)

    df = irtoy.grad(f)
    np.testing.assert_array_equal(df(np.array([1.0, 2.0])), [2.0, 4.0])
    np.testing.assert_array_equal(df(np.array([3.0, -1.0])), [6.0, -2.0])
    assert len(calls) == 1
    np.testing.assert_array_equal(df(np.array([1.0, 2.0, 3.0])), [2.0, 4.0, 6.0])
    df(np.array([1.0, 2.0], np.float32))
    assert len(calls) == 3
    assert df.__name__ == "f"


# -- irtoy.grad on tracers: the gradient joins the caller's graph ----------------------------------

def test_a_training_step_traces_into_one_graph():
    def step(params, x, scale):
        value, grads = irtoy.value_and_grad(loss)(params, x, scale)
        return value, {k: params[k] - 0.1 * grads[k] for k in params}

    traced = irtoy.trace(step, PARAMS, X, 2.0)
    roles = {traced.graph[n]["role"] for n in traced.graph.nx}
    assert "backward" in roles and "forward" in roles
    value, new_params = traced.compile()(PARAMS, X, 2.0)
    expected_value, grads = irtoy.value_and_grad(loss)(PARAMS, X, 2.0)
    assert value == expected_value
    for k in PARAMS:
        np.testing.assert_allclose(new_params[k], PARAMS[k] - 0.1 * grads[k], rtol=1e-15)


def test_values_closed_over_from_the_outer_trace_are_wired_in():
    def outer(x, y):
        return irtoy.grad(lambda x: np.sum(np.sin(x) * y))(x)

    x, y = np.array([0.3, 1.0]), np.array([2.0, -1.0])
    np.testing.assert_allclose(irtoy.trace(outer, x, y).compile()(x, y), np.cos(x) * y, rtol=1e-15)
    # and the outer trace can differentiate through them: d/dy sum(grad) = cos(x)
    d_y = irtoy.grad(lambda x, y: np.sum(outer(x, y)), wrt=1)(x, y)
    np.testing.assert_allclose(d_y, np.cos(x), rtol=1e-15)


def test_hessian_vector_product_of_a_traced_function():
    def f(x):
        return np.sum(x ** 3) + np.sum(x[:-1] * x[1:])

    def hvp(x, v):
        return irtoy.grad(lambda x: np.sum(irtoy.grad(f)(x) * v))(x)

    x, v = np.array([1.0, -2.0, 0.5]), np.array([0.3, 1.0, -1.0])
    hessian = np.diag(6 * x) + np.eye(3, k=1) + np.eye(3, k=-1)
    np.testing.assert_allclose(irtoy.trace(hvp, x, v).compile()(x, v), hessian @ v, rtol=1e-14)


def test_gradients_taken_in_several_threads_at_once_are_arrays():
    """Each thread traces on its own stack of traces: no thread sees another's tracers."""
    from concurrent.futures import ThreadPoolExecutor

    def loss(w, x):
        return np.sum(np.tanh(x @ w) ** 2)

    rng = np.random.default_rng(0)
    jobs = [(rng.normal(size=(3, 2)), rng.normal(size=(4, 3))) for _ in range(40)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda job: irtoy.grad(loss)(*job), jobs))
    for (w, x), got in zip(jobs, results):
        assert type(got) is np.ndarray
        np.testing.assert_allclose(got, irtoy.grad(loss)(w, x), rtol=1e-12)
