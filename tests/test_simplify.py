"""Algebraic simplification: each rewrite fires where it should, and only there."""
import numpy as np
import pytest

import irtoy
from irtoy import backends, ops
from irtoy.ir import Graph, Spec
from irtoy.passes import check_graph, simplify


def const(g, value):
    value = np.asarray(value)
    return g.add_node("const", role="const", spec=Spec.of(value), value=value)


def apply(g, op, *args, **attrs):
    return g.add_node(op, args, attrs, spec=ops.infer_spec(op, [g.spec(a) for a in args], attrs))


def graph_with_input(shape=(2, 3)):
    g = Graph()
    x = g.add_node("input", role="input", spec=Spec(shape, np.float64), name="x")
    g.inputs.append(x)
    return g, x


def run(graph, *args):
    with np.errstate(all="ignore"):
        return backends.get("numpy")(check_graph(graph)).run(list(args))[0]


X = np.array([[1.0, -2.0, 0.5], [np.nan, np.inf, -0.0]])


def simplified(g, output):
    """Simplify g with `output` as its output; check it still computes the same thing."""
    g.outputs = [output]
    before = str(g)
    out = simplify(g)
    assert str(g) == before, "the pass must not change its argument"
    np.testing.assert_allclose(run(out, X), run(g, X), rtol=1e-15)
    return out


def simplify_and_compare(g, output, value):
    g.outputs = [output]
    out = simplify(g)
    np.testing.assert_allclose(run(out, value), run(g, value), rtol=1e-15)
    return out


@pytest.mark.parametrize("op, one_side", [("multiply", 1.0), ("add", 0.0), ("subtract", 0.0),
                                         ("divide", 1.0), ("power", 1.0)])
def test_identities_disappear_even_for_nan_and_inf(op, one_side):
    g, x = graph_with_input()
    out = simplified(g, apply(g, op, x, const(g, one_side)))
    assert out.outputs == [x]


def test_multiplying_by_ones_of_a_bigger_shape_becomes_a_broadcast():
    g, x = graph_with_input((3,))
    g.outputs = [apply(g, "multiply", apply(g, "broadcast_to", const(g, 1.0), shape=(2, 3)), x)]
    out = simplify(g)
    assert out.count_ops() == {"input": 1, "broadcast_to": 1}
    np.testing.assert_array_equal(run(out, X[0]), np.broadcast_to(X[0], (2, 3)))


def test_zero_times_an_input_stays_because_it_could_be_nan():
    g, x = graph_with_input()
    out = simplified(g, apply(g, "multiply", const(g, 0.0), x))
    assert "multiply" in out.count_ops()
    assert np.isnan(run(out, X)[1, 0]) and np.isnan(run(out, X)[1, 1])


def test_zero_times_a_finite_constant_is_zeros():
    g, x = graph_with_input()
    big = apply(g, "broadcast_to", const(g, 3.0), shape=(2, 3))
    out = simplified(g, apply(g, "add", x, apply(g, "multiply", big, const(g, 0.0))))
    assert "multiply" not in out.count_ops()


def test_zero_times_a_constant_holding_inf_stays():
    g, x = graph_with_input()
    out = simplified(g, apply(g, "add", x, apply(g, "multiply", const(g, [1.0, np.inf, 2.0]), const(g, 0.0))))
    assert "multiply" in out.count_ops()


def test_zero_minus_x_is_negative_x():
    g, x = graph_with_input()
    out = simplified(g, apply(g, "subtract", const(g, 0.0), x))
    assert out.count_ops() == {"input": 1, "negative": 1}


def test_double_negation_cancels():
    g, x = graph_with_input()
    out = simplified(g, apply(g, "negative", apply(g, "negative", x)))
    assert out.outputs == [x] and len(out) == 1


def test_chains_of_reshapes_and_transposes_collapse():
    g, x = graph_with_input((2, 3))
    flat = apply(g, "expand_dims", apply(g, "reshape", x, shape=(6,)), axis=(0,))
    r = apply(g, "reshape", flat, shape=(3, 2))
    out = simplified(g, r)
    assert out.count_ops() == {"input": 1, "reshape": 1}
    g, x = graph_with_input((2, 3))
    t = apply(g, "transpose", apply(g, "reshape", apply(g, "transpose", x, axes=(1, 0)), shape=(3, 2, 1)),
              axes=(2, 0, 1))
    back = apply(g, "transpose", apply(g, "transpose", x, axes=(1, 0)), axes=(1, 0))
    out = simplified(g, apply(g, "add", apply(g, "reshape", t, shape=(2, 3)), back))
    assert out.count_ops()["transpose"] == 2      # the two in t stay; transpose(transpose(x)) is x


def test_transposes_compose_into_one():
    g = Graph()
    x = g.add_node("input", role="input", spec=Spec((2, 3, 4), np.float64), name="x")
    g.inputs.append(x)
    g.outputs = [apply(g, "transpose", apply(g, "transpose", x, axes=(1, 2, 0)), axes=(1, 0, 2))]
    out = simplify(g)
    assert out.count_ops() == {"input": 1, "transpose": 1}
    value = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(run(out, value), value.transpose(1, 2, 0).transpose(1, 0, 2))
    g.outputs = [apply(g, "transpose", apply(g, "transpose", x, axes=(1, 2, 0)), axes=(2, 0, 1))]
    assert simplify(g).outputs == [x]       # the second undoes the first


def test_a_sum_of_a_broadcast_is_a_product():
    g, x = graph_with_input((3,))
    wide = apply(g, "broadcast_to", x, shape=(4, 2, 3))
    out = simplify_and_compare(g, apply(g, "sum", wide, axis=(0, 1), keepdims=False), X[0])
    assert out.count_ops() == {"input": 1, "const": 1, "multiply": 1}
    g, x = graph_with_input((3,))
    wide = apply(g, "broadcast_to", x, shape=(4, 3))
    out = simplify_and_compare(g, apply(g, "mean", wide, axis=(0,), keepdims=True), X[0])
    assert out.count_ops() == {"input": 1, "reshape": 1}


def test_a_sum_over_real_axes_of_a_broadcast_stays():
    g, x = graph_with_input((3,))
    wide = apply(g, "broadcast_to", x, shape=(4, 3))
    out = simplify_and_compare(g, apply(g, "sum", wide, axis=(0, 1), keepdims=False), X[0])
    assert "sum" in out.count_ops()


def test_reductions_over_length_one_axes_are_reshapes():
    g, x = graph_with_input((2, 1, 3))
    out = simplify_and_compare(g, apply(g, "max", x, axis=(1,), keepdims=False), X.reshape(2, 1, 3))
    assert out.count_ops() == {"input": 1, "reshape": 1}
    g, x = graph_with_input((2, 1, 3))
    out = simplify_and_compare(g, apply(g, "sum", x, axis=(1,), keepdims=True), X.reshape(2, 1, 3))
    assert out.outputs == [x]


def test_where_with_a_constant_condition_picks_a_branch():
    g, x = graph_with_input()
    out = simplified(g, apply(g, "where", const(g, False), const(g, 0.0), x))
    assert out.outputs == [x]


def test_explicit_broadcasts_into_elementwise_ops_are_dropped():
    g, x = graph_with_input((2, 3))
    wide = apply(g, "broadcast_to", const(g, [[2.0], [3.0]]), shape=(2, 3))
    out = simplified(g, apply(g, "multiply", wide, x))
    assert out.count_ops() == {"input": 1, "const": 1, "multiply": 1}


def test_an_identity_cast_disappears_and_a_real_one_stays():
    g, x = graph_with_input()
    out = simplified(g, apply(g, "cast", apply(g, "cast", x, dtype="float32"), dtype="float32"))
    assert out.count_ops() == {"input": 1, "cast": 1}


def test_simplify_shrinks_gradient_graphs():
    traced = irtoy.trace(lambda x: np.sum(-(-np.tanh(x)) * 1.0), np.ones((2, 3)))
    grad = traced.grad().graph
    assert len(simplify(grad)) < len(grad)
