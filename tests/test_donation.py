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
from irtoy.benchmarks import workloads
from irtoy.errors import IrtoyError
from against_interpreter import assert_same
from test_numba_backend import fast, mlp_arguments

pytestmark = pytest.mark.usefixtures("numba_kernel_cache")
copies = workloads.copy_tree


def check_donated(fn, *args, donate=None):
    """Run `fn` on the interpreter and, donating `donate` (default: every argument), on the
    numba backend; the results must agree. Returns numba's result, the donated arguments and
    the compiled function."""
    traced = irtoy.trace(fn, *args)
    expected = traced.compile("numpy")(*copies(args))
    donated = copies(args)
    compiled = fast(traced, donate=tuple(range(len(args))) if donate is None else donate)
    got = compiled(*donated)
    assert_same(expected, got)
    return got, donated, compiled


def test_a_training_step_updates_the_donated_weights_and_moments_in_place():
    params, m, v, data = mlp_arguments(np.float32)
    scalars = [np.float32(s) for s in workloads.adam_scalars(3)]
    traced = irtoy.trace(workloads.mlp_train_step, params, m, v, *data[0], *scalars)
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
    lambda a: a + a.reshape(16)[4:8],            # read through a reshape the driver makes
    lambda a: a * 2 + a.reshape(2, 8)[0:1, 4:8],
    lambda a: (a * 2, a + 1),                    # one input, two outputs that could take it
], ids=["transpose", "reduction", "matmul", "returned", "returned-view", "reversed", "reshaped",
        "reshaped-slice", "two-outputs"])
def test_outputs_never_overwrite_a_donated_input_still_needed(fn):
    a = np.random.default_rng(0).uniform(-1, 1, (4, 4))
    check_donated(fn, a)


def test_an_elementwise_output_takes_the_memory_of_the_input_it_comes_from():
    def fn(a, b):
        return b * 0.5, a - b
    a, b = np.ones((3, 4)), np.full((3, 4), 2.0)
    got, (da, db), _ = check_donated(fn, a, b)
    assert got[0] is db and got[1] is da


def test_the_plan_gives_a_donated_input_only_to_an_output_reading_nothing_else_of_it():
    def fn(a, b):
        return a + a.T, b * 2
    _, _, compiled = check_donated(fn, np.ones((3, 3)), np.full((3, 3), 2.0))
    plan = compiled.executable.plan
    a, b = plan.graph.inputs
    assert plan.overwrites == {plan.graph.outputs[1]: b}     # a + a.T reads a transposed


MOVES = [lambda a: a.T, lambda a: a[::-1], lambda a: np.broadcast_to(a[2:3], (4, 4)),
         lambda a: a.reshape(16)[::-1].reshape(4, 4), lambda a: a.reshape(8, 2).T.reshape(4, 4),
         lambda a: np.broadcast_to(a.reshape(16)[4:8], (4, 4)), lambda a: a - a.sum(axis=0)]
MIXES = [np.add, np.subtract, np.multiply, np.maximum, np.matmul]


@st.composite
def square_programs(draw):
    """Programs on 4x4 arrays that return several of their values: elementwise ops, moves
    (transposes, reversals, broadcasts, reshapes, reductions) and products, so outputs of
    the inputs' shape can take their memory and many read an input elsewhere than in place."""
    steps = draw(st.lists(st.tuples(st.sampled_from("uumb"), st.integers(0, 9), st.integers(0, 9),
                                    st.integers(0, 9)), min_size=2, max_size=6))
    returned = draw(st.lists(st.integers(0, 9), min_size=1, max_size=3))

    def fn(*xs):
        pool = list(xs)
        for kind, i, j, k in steps:
            a, b = pool[i % len(pool)], pool[j % len(pool)]
            if kind == "u":
                pool.append(np.tanh(a) if k % 2 else a * 2.0)
            elif kind == "m":
                pool.append(MOVES[k % len(MOVES)](a))
            else:
                pool.append(MIXES[k % len(MIXES)](a, b))
        made = pool[len(xs):]
        return tuple(made[r % len(made)] for r in returned) + (made[-1],)
    return fn, draw(st.integers(1, 3))


def test_random_graphs_give_the_same_results_with_every_argument_donated():
    in_place = []

    @settings(max_examples=25, derandomize=True, deadline=None)
    @given(square_programs())
    def check(program):
        fn, count = program
        rng = np.random.default_rng(count)
        compiled = check_donated(fn, *[rng.uniform(-1, 1, (4, 4)) for _ in range(count)])[2]
        in_place.append("private(" in compiled.source)
    check()
    assert sum(in_place) >= len(in_place) // 3, "the programs should mostly run in place somewhere"


def test_the_interpreter_accepts_donation_and_returns_new_arrays():
    a = np.ones(3)
    out = irtoy.trace(lambda a: a * 2, a).compile("numpy", donate=0)(a)
    assert out is not a and a[0] == 1


def test_donating_an_unknown_argument_names_the_arguments():
    traced = irtoy.trace(lambda a, b: a + b, np.ones(2), np.ones(2))
    with pytest.raises(IrtoyError, match="donate='c' names no argument of <lambda>: its arguments are 0 'a', 1 'b'"):
        traced.compile("numba", donate="c")


def test_donating_by_a_numpy_integer_index():
    a = np.ones(3)
    out = fast(irtoy.trace(lambda a: a * 2, a), donate=np.int64(0))(a)
    assert out is a and a[0] == 2


def test_model_fit_updates_the_weights_in_place_with_the_interpreter_s_results():
    from irtoy import nn
    x, y = nn.datasets.spiral(n_per_class=20, classes=3, seed=0)

    def trained(backend):
        net = nn.Sequential([nn.Dense(2, 8, seed=1), nn.ReLU(), nn.Dense(8, 3, seed=2)])
        model = nn.Model(net, loss=nn.SoftmaxCrossEntropy(), optimizer=nn.Adam(lr=1e-2), backend=backend)
        model.build((2,))
        before = model.params["dense1"]["w"]
        model.fit(x, y, epochs=2, batch_size=16, verbose=False)
        return model, before

    model, before = trained("numba")
    assert model.params["dense1"]["w"] is before
    assert_same(trained("numpy")[0].params, model.params)
