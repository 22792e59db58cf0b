"""Donated arguments: a compiled function may write its outputs into the arrays the caller
donates (`compile(..., donate=...)`), and must still compute exactly what it computes
without donation, whatever the graph reads where, and whatever the caller passes.

Every check compares with the interpreter on copies of the same arguments, so an output
written over a value some kernel still needed shows up as a wrong number.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import irtoy
from irtoy import bench, pytree
from irtoy.errors import IrtoyError
from test_numba_backend import assert_same, fast, float_programs, mlp_arguments

pytestmark = pytest.mark.usefixtures("numba_kernel_cache")


def copies(tree):
    leaves, treedef = pytree.flatten(tree)
    return pytree.unflatten(treedef, [np.array(a, copy=True) for a in leaves])


def check_donated(fn, *args, donate=None):
    """Run `fn` on the interpreter and, donating `donate` (default: every argument), on the
    numba backend; the results must agree. Returns (numba's result, the donated arguments)."""
    traced = irtoy.trace(fn, *args)
    expected = traced.compile("numpy")(*copies(args))
    donated = copies(args)
    got = fast(traced, donate=tuple(range(len(args))) if donate is None else donate)(*donated)
    assert_same(expected, got)
    return got, donated


def test_a_training_step_updates_the_donated_weights_and_moments_in_place():
    params, m, v, data = mlp_arguments(np.float32)
    scalars = [np.float32(s) for s in bench.adam_scalars(3)]
    traced = irtoy.trace(bench.mlp_train_step, params, m, v, *data[0], *scalars)
    plain, donating = fast(traced), fast(traced, donate=("params", "m", "v"))
    expected = copies((params, m, v))
    state = copies((params, m, v))
    for x, y in data:
        loss_e, *expected = plain(*expected, x, y, *scalars)
        before = state
        loss, *state = donating(*state, x, y, *scalars)
        assert_same((loss_e, expected), (loss, state))
        for k in ("w1", "w2", "w3"):        # written where the old arrays were
            assert all(new[k] is old[k] for new, old in zip(state, before))
    assert "private(" in donating.source and "private(" not in plain.source


def test_the_same_array_donated_twice_is_not_written_by_both():
    def fn(a, b):
        return a * 2 + b, b * 3 - a
    x = np.arange(12, dtype=np.float64).reshape(3, 4)
    traced = irtoy.trace(fn, x, x.copy())
    got = fast(traced, donate=(0, 1))(x, x)
    np.testing.assert_array_equal(got[0], x * 3)
    np.testing.assert_array_equal(got[1], x * 2)


def test_a_donated_array_seen_through_another_argument_is_not_overwritten():
    def fn(a, b):
        return a + 1, b * 1
    base = np.arange(8, dtype=np.float64)
    a, b = base[:4], base[2:6]          # overlapping views of one array
    traced = irtoy.trace(fn, a.copy(), b.copy())
    expected = (base[:4] + 1, base[2:6].copy())
    got = fast(traced, donate=(0,))(a, b)
    assert_same(expected, got)
    buffer = bytearray(base.tobytes())  # memory no array owns: compared by address
    a, b = np.frombuffer(buffer)[:4], np.frombuffer(buffer)[2:6]
    assert_same(expected, fast(traced, donate=(0,))(a, b))


@pytest.mark.parametrize("fn", [
    lambda a: a + a.T,                           # read at another point than it is written
    lambda a: a - a.sum(axis=0, keepdims=True),  # read by a reduction in the same kernel
    lambda a: (a * 2, a @ a),                    # read by a matrix product
    lambda a: (a, a * 2),                        # returned as it is
    lambda a: (a * 2, a.reshape(4, 4)[::-1]),    # returned through a view
    lambda a: (np.exp(a), a[::-1] * 2),          # read reversed by a later kernel
], ids=["transpose", "reduction", "matmul", "returned", "returned-view", "reversed"])
def test_outputs_never_overwrite_a_donated_input_still_needed(fn):
    a = np.random.default_rng(0).uniform(-1, 1, (4, 4))
    check_donated(fn, a)


def test_an_elementwise_output_takes_the_memory_of_the_input_it_comes_from():
    def fn(a, b):
        return b * 0.5, a - b
    a, b = np.ones((3, 4)), np.full((3, 4), 2.0)
    got, (da, db) = check_donated(fn, a, b)
    assert got[0] is db and got[1] is da


@settings(max_examples=12, derandomize=True, deadline=None)
@given(data=st.data())
def test_random_graphs_give_the_same_results_with_every_argument_donated(data):
    fn, shapes = data.draw(float_programs())
    rng = np.random.default_rng(len(shapes))
    check_donated(fn, *[rng.uniform(-2, 2, s) for s in shapes])


def test_the_interpreter_accepts_donation_and_returns_new_arrays():
    a = np.ones(3)
    out = irtoy.trace(lambda a: a * 2, a).compile("numpy", donate=0)(a)
    assert out is not a and a[0] == 1


def test_donating_an_unknown_argument_names_the_arguments():
    traced = irtoy.trace(lambda a, b: a + b, np.ones(2), np.ones(2))
    with pytest.raises(IrtoyError, match="donate='c' names no argument of <lambda>: its arguments are 0 'a', 1 'b'"):
        traced.compile("numba", donate="c")
