"""Constant folding: what depends only on constants is computed once, at compile time."""
import numpy as np

import irtoy
from irtoy import backends, ops
from irtoy.ir import Graph, Spec
from irtoy.passes import check_graph, fold_constants


def const(g, value):
    value = np.asarray(value)
    return g.add_node("const", role="const", spec=Spec.of(value), value=value)


def apply(g, op, *args, **attrs):
    return g.add_node(op, args, attrs, spec=ops.infer_spec(op, [g.spec(a) for a in args], attrs))


def graph_with_input(shape=(3,)):
    g = Graph()
    x = g.add_node("input", role="input", spec=Spec(shape, np.float64), name="x")
    g.inputs.append(x)
    return g, x


def run(graph, *args):
    return backends.get("numpy")(check_graph(graph)).run(list(args))


def test_a_chain_of_constants_becomes_one_constant_with_the_same_value():
    g, x = graph_with_input()
    scale = apply(g, "exp", apply(g, "divide", const(g, 1.0), const(g, 6.0)))
    g.outputs = [apply(g, "multiply", x, scale)]
    before = str(g)
    folded = fold_constants(g)
    assert str(g) == before, "the pass must not change its argument"
    assert folded.count_ops() == {"input": 1, "const": 1, "multiply": 1}
    x_value = np.array([1.0, -2.0, 0.5])
    np.testing.assert_array_equal(run(folded, x_value)[0], run(g, x_value)[0])


def test_nodes_that_depend_on_an_input_are_never_folded():
    g, x = graph_with_input()
    g.outputs = [apply(g, "add", apply(g, "sin", x), const(g, 2.0))]
    assert fold_constants(g).count_ops() == g.count_ops()


def test_folding_never_materialises_a_broadcast():
    g, x = graph_with_input((3,))
    wide = apply(g, "broadcast_to", const(g, 0.5), shape=(3,))
    huge = apply(g, "broadcast_to", const(g, 0.0), shape=(4096, 4096))
    g.outputs = [apply(g, "multiply", x, wide), huge]
    folded = fold_constants(g)
    assert folded.count_ops()["broadcast_to"] == 2


def test_results_bigger_than_the_cap_stay_computed_at_run_time():
    g, x = graph_with_input()
    big = np.arange(2000.0).reshape(40, 50)
    g.outputs = [apply(g, "multiply", const(g, big), const(g, 2.0))]
    assert "multiply" in fold_constants(g).count_ops()
    assert "multiply" not in fold_constants(g, max_elements=4096).count_ops()


def test_random_ops_are_never_folded(monkeypatch):
    draw = ops.Op("uniform_like", "random", lambda specs: specs[0],
                  lambda x: np.random.default_rng().uniform(size=np.shape(x)), 1, differentiable=False)
    monkeypatch.setitem(ops.REGISTRY, "uniform_like", draw)
    g, x = graph_with_input()
    g.outputs = [apply(g, "add", x, apply(g, "uniform_like", const(g, np.zeros(3))))]
    assert "uniform_like" in fold_constants(g).count_ops()


def test_folding_cleans_up_what_autodiff_leaves():
    grad = irtoy.trace(lambda x: -np.sum(np.tanh(x)) / 4.0, np.ones((2, 2))).grad()
    folded = fold_constants(grad.graph)
    assert len(folded) < len(grad.graph)
    for n in folded.nx:
        args = folded.args(n)
        if args and all(folded[a]["op"] == "const" for a in args):      # only broadcasts may stay
            assert folded[n]["op"] == "broadcast_to"
    x = np.array([[0.1, -0.3], [2.0, 0.0]])
    np.testing.assert_array_equal(run(folded, x)[0], run(grad.graph, x)[0])


def test_folding_keeps_nan_and_inf_as_the_run_would_produce_them():
    g, x = graph_with_input()
    g.outputs = [apply(g, "add", x, apply(g, "log", const(g, np.array([0.0, -1.0, 1.0]))))]
    folded = fold_constants(g)
    assert "log" not in folded.count_ops()
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(run(folded, np.zeros(3))[0], [-np.inf, np.nan, 0.0])
