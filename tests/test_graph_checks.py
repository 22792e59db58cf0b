"""The graph checker, shape inference and dead-code elimination on hand-made graphs."""
import numpy as np
import pytest

import irtoy
from irtoy import Graph, Spec
from irtoy.passes import check_graph, eliminate_dead_code, infer_shapes


def small_graph():
    g = Graph()
    x = g.add_node("input", role="input", spec=Spec((2, 3)), name="x")
    g.inputs.append(x)
    e = g.add_node("exp", [x])
    s = g.add_node("sum", [e], {"axis": (1,), "keepdims": False})
    g.add_node("negative", [x])           # dead: nothing uses it
    g.outputs = [s]
    return g, x, e, s


def test_shape_inference_types_every_node():
    g = infer_shapes(small_graph()[0])
    assert [g.spec(n) for n in g.order()] == [Spec((2, 3)), Spec((2, 3)), Spec((2,)), Spec((2, 3))]


def test_shape_inference_reports_op_shapes_and_source():
    g, x, e, s = small_graph()
    g[s]["attrs"]["axis"] = (2,)
    g[s]["src"] = "model.py:7"
    with pytest.raises(irtoy.ShapeError, match=r"sum\(f32\[2,3\]\): axis \(2,\).*\n  at model.py:7"):
        infer_shapes(g)


def test_passes_return_new_graphs():
    g = small_graph()[0]
    before = str(g)
    shaped, pruned = infer_shapes(g), eliminate_dead_code(g)
    assert str(g) == before and "shape" not in g[1]
    assert "negative" not in pruned.count_ops() and len(pruned) == 3 and shaped is not g


def test_checker_accepts_a_good_graph():
    assert check_graph(small_graph()[0]) is not None


@pytest.mark.parametrize("breakage, message", [
    (lambda g, x, e, s: g.nx.add_edge(s, e, arg=1), "cycle"),
    (lambda g, x, e, s: g.nx.nodes[e].update(op="frobnicate"), "unknown op 'frobnicate'"),
    (lambda g, x, e, s: g.nx.add_edge(x, e, arg=2), r"argument positions \[0, 2\]"),
    (lambda g, x, e, s: g.nx.add_edge(x, e, arg=1), "has 2 arguments, the op takes 1"),
    (lambda g, x, e, s: g.outputs.append(99), "output %99 is not in the graph"),
    (lambda g, x, e, s: g.inputs.clear(), "missing from the graph's inputs"),
    (lambda g, x, e, s: g.add_node("const"), "constant without a value"),
])
def test_checker_catches_broken_graphs(breakage, message):
    g, x, e, s = small_graph()
    breakage(g, x, e, s)
    with pytest.raises(irtoy.GraphError, match=message):
        check_graph(g)


def test_interpreter_frees_intermediates_on_a_long_chain():
    def chain(x):
        for i in range(200):
            x = np.tanh(x) * 1.01 + 0.1
        return x

    x = np.ones(1000)
    f = irtoy.trace(chain, x).compile("numpy")
    np.testing.assert_allclose(f(x), chain(x))
    assert len(f.graph) > 600
    assert f.executable.peak_live <= 3


def test_profile_reports_time_per_node():
    f = irtoy.trace(lambda x: np.exp(x).sum(), np.ones(10)).compile("numpy", profile=True)
    f(np.ones(10))
    f(np.ones(10))
    table = f.profile()
    assert "exp" in table and "sum" in table and "over 2 calls" in table


def test_unknown_backend_lists_the_available_ones():
    with pytest.raises(irtoy.IrtoyError, match="no backend named 'tpu'; available: .*numpy"):
        irtoy.trace(lambda x: x, np.ones(2)).compile("tpu")


def test_other_packages_join_the_backend_registry_through_entry_points(monkeypatch):
    from importlib.metadata import EntryPoint

    import irtoy.backends as registry

    plugin = EntryPoint("doubling", "irtoy.backends.interpreter:compile_graph", "irtoy.backends")
    monkeypatch.setattr(registry, "entry_points", lambda group: [plugin] if group == "irtoy.backends" else [])
    assert "doubling" in registry.available()
    f = irtoy.trace(lambda x: x * 2, np.ones(2)).compile("doubling")
    np.testing.assert_array_equal(f(np.ones(2)), [2.0, 2.0])


def test_an_error_numpy_raises_while_running_a_node_names_the_node_and_line():
    f = irtoy.trace(lambda x, y: x ** y, np.array([2]), np.array([3])).compile("numpy")
    with pytest.raises(ValueError, match="negative integer powers") as err:
        f(np.array([2]), np.array([-1]))
    note = "\n".join(err.value.__notes__)
    assert "while computing %2 i64[1] = power %0, %1" in note and "test_graph_checks.py:" in note
