"""The cleanup passes together: random graphs keep their results, and graphs never grow.

Folding, CSE and DCE must leave the interpreter's results bit-for-bit unchanged: folding
runs the same reference code the interpreter would, and the other two only remove
duplicates and unused nodes. Simplification may turn a sum of n broadcast copies into a
product by n, which rounds differently, so it is held to rtol 1e-12 (float64).
"""
import numpy as np
import pytest
from hypothesis import given

import irtoy
from irtoy.benchmarks.graph_sizes import mlp_gradient_stages
from irtoy import backends
from irtoy.api import cleanup_passes
from irtoy.passes import check_graph
from graph_programs import programs

EXACT = {"folded", "deduplicated", "optimized"}


def run(graph, args):
    with np.errstate(all="ignore"):
        return backends.get("numpy")(check_graph(graph)).run(list(args))


def assert_same_results(got, expected, exact):
    for a, b in zip(got, expected):
        if exact:
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-300)


@given(programs())
def test_every_cleanup_pass_keeps_the_results_of_random_graphs(program):
    xs = program.inputs()
    traced = irtoy.trace(program.fn, *xs)
    for graph in (traced.graph, traced.grad(wrt=tuple(range(len(xs)))).graph):
        expected = run(graph, xs)
        text = str(graph)
        pipeline = graph
        for name, pass_fn in cleanup_passes():
            alone = pass_fn(graph)
            assert_same_results(run(alone, xs), expected, exact=name in EXACT)
            pipeline = pass_fn(pipeline)
            assert_same_results(run(pipeline, xs), expected, exact=False)
        assert str(graph) == text, "a pass changed its argument"
        assert len(pipeline) <= len(graph)


@pytest.fixture(scope="module")
def mlp_stages():
    return mlp_gradient_stages(sizes=(12, 8, 6, 4), batch=5)


def test_cleanup_never_grows_the_mlp_gradient_graph_and_shrinks_it_overall(mlp_stages):
    names = list(mlp_stages)
    sizes = [len(mlp_stages[name]) for name in names[names.index("grad"):]]
    assert sizes == sorted(sizes, reverse=True), dict(zip(names[names.index("grad"):], sizes))
    assert sizes[-1] < sizes[0]


def test_the_mlp_gradient_is_the_same_before_and_after_cleanup(mlp_stages):
    rng = np.random.default_rng(0)
    grad, optimized = mlp_stages["grad"], mlp_stages["optimized"]
    args = [rng.normal(size=grad.spec(n).shape).astype(grad.spec(n).dtype) for n in grad.inputs]
    for a, b in zip(run(optimized, args), run(grad, args)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
