"""Gathers and scatter-adds in the numba backend's fusion plan: a gather is read inside the
loop that uses it, a scatter-add accumulates inside the loop computing its values, and
neither may take a value of its own loop, or its own output's memory, as the array it reads."""
import numpy as np
import pytest

import irtoy
from irtoy.passes import fusion
from numpy_checks import assert_same_array

pytestmark = pytest.mark.usefixtures("numba_kernel_cache")


def plan(fn, *args):
    fused = fusion.fuse(irtoy.trace(fn, *args).compile("numpy").graph)
    return fused, [[fused[n]["op"] for n in k.nodes] for k in fusion.kernels(fused)]


def test_a_gather_runs_inside_the_loop_of_the_elementwise_work_around_it():
    x, i = np.ones((5, 3)), np.array([4, 0, 4, 1])
    _, kernels = plan(lambda x, i, b: np.tanh(x[i] * 2 + b).sum(axis=1), x, i, np.ones(3))
    assert ["gather", "multiply", "add", "tanh", "sum"] in kernels


def test_a_scatter_add_accumulates_in_the_loop_computing_its_values():
    x, i, v = np.ones((5, 3)), np.array([4, 0, 4]), np.arange(9.0).reshape(3, 3) / 9

    def fn(x, i, v):
        return x.at[i].add(np.exp(v) * 2)
    _, kernels = plan(fn, x, i, v)
    assert ["exp", "multiply", "scatter_add"] in kernels
    expected = x.copy()
    np.add.at(expected, i, np.exp(v) * 2)
    assert_same_array(irtoy.trace(fn, x, i, v).compile("numba", debug=True)(x, i, v), expected)   # bounds proven


def test_a_gathers_argument_is_stored_before_its_loop_runs():
    """exp(x) has the gather's shape, but the gather reads it at other points: two kernels."""
    x, i = np.arange(4.0), np.array([3, 2, 0, 0])

    def fn(x, i):
        e = np.exp(x)
        return e[i] + e
    fused, kernels = plan(fn, x, i)
    assert not any("exp" in k and "gather" in k for k in kernels)
    assert_same_array(irtoy.trace(fn, x, i).compile("numba", debug=False)(x, i), fn(x, i))


def test_a_gather_never_writes_its_result_over_the_donated_array_it_reads():
    x, i = np.arange(6.0), np.array([5, 4, 3, 2, 1, 0])
    compiled = irtoy.trace(lambda x, i: x[i] * 2, x, i).compile("numba", donate=("x",), debug=False)
    assert_same_array(compiled(x.copy(), i), x[::-1] * 2)


def test_a_gather_by_a_reductions_result_runs_after_it_in_its_kernel():
    """t[argmax] joins the argmax's loop, after the argmax is final; s[argmax] of the sum of the
    same loop cannot (the sum is not stored yet) and runs in a loop of its own."""
    x, t = np.random.default_rng(0).normal(size=(5, 4)), np.arange(4.0) * 10

    def fn(x, t):
        best = np.argmax(x, axis=1)
        return t[best] * 2, x.sum(axis=1)[best]
    fused, kernels = plan(fn, x, t)
    assert ["argmax", "gather", "multiply", "sum"] in kernels and ["gather"] in kernels
    for got, expected in zip(irtoy.trace(fn, x, t).compile("numba", debug=True)(x, t), fn(x, t), strict=True):
        assert_same_array(got, expected)


def test_an_index_is_read_and_checked_once_per_row_not_at_every_entry_of_the_row():
    table, tokens = np.arange(40.0).reshape(10, 4), np.array([[9, 0, 3], [-1, 2, 2]])
    compiled = irtoy.trace(lambda t, i: t[i] * 2, table, tokens).compile("numba", debug=True)
    assert_same_array(compiled(table, tokens), table[tokens] * 2)
    kernel = compiled.source.split("def k0")[1].split("\n\n")[0]
    assert kernel.index("raise IndexError") < kernel.index("for i2 in range(n2)")      # the row's own loop
