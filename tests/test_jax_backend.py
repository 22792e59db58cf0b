"""The jax backend against the interpreter (the ground truth): every registry op, their
gradient graphs and random programs, in float32 and float64; donation, the jaxpr and HLO
it shows, and the one-line refusal when JAX is not installed.

JAX compiles each new graph with XLA (~0.1 s), so examples are few and derandomized.
Tolerances: float64 within 1e-11 relative; float32 within 2e-5 relative plus 1e-5 absolute
(XLA's own transcendental functions and fusion, against NumPy's).
"""
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import irtoy
from irtoy import backends, ops
from irtoy.backends.jax import lowering
from graph_programs import programs
from op_cases import CASES, DIFFERENTIABLE
from irtoy.benchmarks import workloads
from against_interpreter import assert_same, check_op_case, check_op_gradient, check_program
from test_numba_backend import float_programs, mlp_arguments

FEW = settings(max_examples=3, derandomize=True, deadline=None)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def on_jax(traced):
    return traced.compile("jax")


def on_both(traced, *args):
    """(interpreter's result, jax's result) of a traced function."""
    return traced.compile("numpy")(*args), on_jax(traced)(*args)


def test_jax_is_found_through_the_entry_point_group_only():
    assert "jax" not in backends.BUILTIN
    assert "jax" in backends.available()


def test_every_registry_op_has_a_lowering():
    missing = []
    for name, op in ops.REGISTRY.items():
        if op.kind == "source":
            continue
        try:
            lowering.lowering(name)
        except lowering.LoweringError:
            missing.append(name)
    assert missing == [], f"ops without a jax lowering: {missing}"


@pytest.mark.parametrize("op", sorted(CASES))
@FEW
@given(data=st.data())
def test_every_op_matches_the_interpreter(op, data):
    check_op_case(op, data.draw(CASES[op]), on_jax)


@pytest.mark.parametrize("op", DIFFERENTIABLE)
@settings(max_examples=2, derandomize=True, deadline=None)
@given(data=st.data())
def test_gradient_graph_of_every_op_matches_the_interpreter(op, data):
    check_op_gradient(data.draw(CASES[op]), on_jax)


@settings(max_examples=10, derandomize=True, deadline=None)
@given(programs(max_steps=6))
def test_random_programs_and_gradients_match_in_float64(program):
    check_program(program, on_jax)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=5, derandomize=True, deadline=None)
@given(data=st.data())
def test_random_broadcasting_and_reducing_graphs_match(dtype, data):
    fn, shapes = data.draw(float_programs())
    rng = np.random.default_rng(len(shapes))
    args = [rng.uniform(-2, 2, s).astype(dtype) for s in shapes]
    expected, got = on_both(irtoy.trace(fn, *args), *args)
    assert_same(expected, got, scale=10.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mlp_training_steps_with_donated_state_match(dtype):
    params, m, v, data = mlp_arguments(dtype)
    scalars = [np.asarray(s, dtype) for s in workloads.adam_scalars(5)]
    traced = irtoy.trace(workloads.mlp_train_step, params, m, v, *data[0], *scalars)
    slow, quick = traced.compile("numpy"), traced.compile("jax", donate=(0, 1, 2))
    state_slow = state_fast = (params, m, v)
    for x, y in data:           # three steps, each from the previous step's results
        loss_s, *state_slow = slow(*state_slow, x, y, *scalars)
        loss_f, *state_fast = quick(*state_fast, x, y, *scalars)
        assert_same((loss_s, state_slow), (loss_f, state_fast))


def test_float64_runs_in_float64_without_changing_jax_settings():
    import jax
    x = np.linspace(0, 1, 5)
    f = irtoy.trace(lambda x: np.exp(x) * 1e-300 * 1e300, x).compile("jax")
    assert f(x).dtype == np.float64
    np.testing.assert_allclose(f(x), np.exp(x), rtol=1e-15)
    assert not jax.config.jax_enable_x64      # the user's JAX still defaults to 32 bits
    assert jax.numpy.ones(2).dtype == np.float32


def test_source_is_the_jaxpr_and_the_optimized_hlo_is_available():
    f = irtoy.trace(lambda x, w: np.tanh(x @ w), np.ones((3, 4), np.float32), np.ones((4, 2), np.float32))
    compiled = f.compile("jax")
    assert compiled.source.startswith("{ lambda ")
    assert "dot_general" in compiled.source and "tanh" in compiled.source
    assert "HloModule" in compiled.executable.optimized_hlo()


def test_profile_is_refused_saying_what_to_use():
    with pytest.raises(irtoy.IrtoyError, match="backend='numba'"):
        irtoy.trace(np.exp, np.ones(3)).compile("jax", profile=True)


def test_without_jax_the_backend_says_what_to_install_in_one_line():
    code = ("import sys; sys.modules['jax'] = None\n"
            "import irtoy, numpy as np\n"
            "assert 'jax' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
            "try:\n"
            "    irtoy.trace(np.exp, np.ones(3)).compile('jax')\n"
            "except irtoy.IrtoyError as e:\n"
            "    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip() == "backend='jax' needs JAX: pip install 'irtoy[jax]'"


def test_importing_irtoy_does_not_import_jax():
    code = "import sys, irtoy, irtoy.nn; print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip() == "False"


def test_a_negative_integer_exponent_is_an_error_as_in_numpy():
    x, y = np.array([2, 3]), np.array([1, 2])
    f = irtoy.trace(lambda x, y: x ** y, x, y).compile("jax")
    np.testing.assert_array_equal(f(x, y), [2, 9])
    with pytest.raises(irtoy.errors.IntegerPowerError, match=r"(?s)negative integer powers.*test_jax_backend\.py"):
        f(x, np.array([-1, 2]))


def test_an_index_outside_its_axis_is_an_error_never_a_clamped_read():
    table, rows = np.arange(12.0).reshape(4, 3), np.array([0, 3, -4])
    f = irtoy.trace(lambda t, i: t[i] * 2, table, rows).compile("jax")
    np.testing.assert_array_equal(f(table, rows), table[rows] * 2)
    with pytest.raises(IndexError, match=r"(?s)gather: index 7 is out of bounds for axis 0 of size 4.*"
                                         r"test_jax_backend\.py"):
        f(table, np.array([0, 7, 1]))
    with pytest.raises(irtoy.IrtoyError, match=r"index -5 is out of bounds"):
        f(table, np.array([-5, 0, 1]))


@pytest.mark.parametrize("fn, message", [(np.linalg.inv, "Singular matrix"),
                                         (lambda a: np.linalg.solve(a, np.ones(2)), "Singular matrix"),
                                         (np.linalg.cholesky, "not positive definite")],
                         ids=["inv", "solve", "cholesky"])
def test_a_singular_matrix_is_numpys_linalg_error_not_infinities(fn, message):
    good, bad = np.array([[2.0, 1.0], [1.0, 3.0]]), np.array([[1.0, 2.0], [2.0, 4.0]])
    f = irtoy.trace(fn, good).compile("jax")
    np.testing.assert_allclose(f(good), fn(good), rtol=1e-12)
    with pytest.raises(np.linalg.LinAlgError, match=message) as error:
        f(bad if message == "Singular matrix" else -good)
    assert isinstance(error.value, irtoy.IrtoyError)
