"""Common-subexpression elimination: one node per distinct expression."""
import numpy as np

import irtoy
from irtoy import backends, ops
from irtoy.ir import Graph, Spec
from irtoy.passes import check_graph, eliminate_common_subexpressions


def const(g, value, dtype=None):
    value = np.asarray(value, dtype)
    return g.add_node("const", role="const", spec=Spec.of(value), value=value)


def apply(g, op, *args, **attrs):
    return g.add_node(op, args, attrs, spec=ops.infer_spec(op, [g.spec(a) for a in args], attrs))


def two_inputs():
    g = Graph()
    for name in ("x", "y"):
        g.inputs.append(g.add_node("input", role="input", spec=Spec((3,), np.float64), name=name))
    return g, g.inputs


def run(graph, *args):
    return backends.get("numpy")(check_graph(graph)).run(list(args))


def test_repeated_expressions_are_computed_once():
    g, (x, y) = two_inputs()
    left = apply(g, "sin", apply(g, "multiply", x, y))
    right = apply(g, "sin", apply(g, "multiply", y, x))       # commutative: the same product
    g.outputs = [apply(g, "add", left, right), right]
    before = str(g)
    out = eliminate_common_subexpressions(g)
    assert str(g) == before, "the pass must not change its argument"
    assert out.count_ops() == {"input": 2, "multiply": 1, "sin": 1, "add": 1}
    args = [np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])]
    for got, expected in zip(run(out, *args), run(g, *args)):
        np.testing.assert_array_equal(got, expected)


def test_order_matters_for_ops_that_do_not_commute():
    g, (x, y) = two_inputs()
    g.outputs = [apply(g, "add", apply(g, "subtract", x, y), apply(g, "subtract", y, x))]
    assert eliminate_common_subexpressions(g).count_ops()["subtract"] == 2


def test_equal_constants_merge_and_different_dtypes_or_attributes_do_not():
    g, (x, y) = two_inputs()
    a, b, c = const(g, 2.0), const(g, 2.0), const(g, 2.0, np.float32)
    s1 = apply(g, "sum", apply(g, "multiply", x, a), axis=(0,), keepdims=True)
    s2 = apply(g, "sum", apply(g, "multiply", x, b), axis=(0,), keepdims=False)
    g.outputs = [s1, s2, apply(g, "multiply", x, c)]
    out = eliminate_common_subexpressions(g)
    assert out.count_ops() == {"input": 2, "const": 2, "multiply": 2, "sum": 2}


def test_inputs_are_never_merged():
    g, (x, y) = two_inputs()
    g.outputs = [apply(g, "exp", x), apply(g, "exp", y)]
    assert eliminate_common_subexpressions(g).count_ops()["exp"] == 2


def test_identical_random_draws_merge_and_different_streams_do_not():
    def fn(seed):
        a = irtoy.ops.random_uniform(seed, (3,), stream=1)
        b = irtoy.ops.random_uniform(seed, (3,), stream=1)
        c = irtoy.ops.random_uniform(seed, (3,), stream=2)
        return a + b + c

    graph = irtoy.trace(fn, np.int64(3)).graph
    assert eliminate_common_subexpressions(graph).count_ops()["random_uniform"] == 2
    np.testing.assert_array_equal(irtoy.trace(fn, np.int64(3)).compile("numpy")(np.int64(3)), fn(np.int64(3)))


def test_the_forward_code_a_nested_grad_recomputes_merges_with_the_callers():
    def step(x):
        value = np.sum(np.tanh(x) ** 2)
        return value, irtoy.grad(lambda x: np.sum(np.tanh(x) ** 2))(x)

    graph = irtoy.trace(step, np.ones(3)).graph
    assert graph.count_ops()["tanh"] == 2
    assert eliminate_common_subexpressions(graph).count_ops()["tanh"] == 1
