"""Models as torch.onnx.export writes them (tests/onnx_models.py) import into irtoy and agree
with onnxruntime on the interpreter and on numba; the import keeps the model's names and
structure, folds its shape arithmetic, and can make the weights trainable inputs."""
import numpy as np
import onnx
import onnxruntime
import pytest

import irtoy
import irtoy.onnx
import onnx_models
from irtoy.onnx import import_ops

pytestmark = pytest.mark.usefixtures("numba_kernel_cache")
RNG = np.random.default_rng(0)
MODELS = {
    "resnet_cnn": (onnx_models.resnet_cnn, {"input": RNG.normal(size=(2, 3, 8, 8)).astype(np.float32)}),
    "gelu_mlp": (onnx_models.gelu_mlp, {"input": RNG.normal(size=(3, 5, 16)).astype(np.float32)}),
    "transformer_encoder": (onnx_models.transformer_encoder, {"input_ids": RNG.integers(0, 20, (2, 6))}),
}


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_torch_like_model_agrees_with_onnxruntime(name, backend):
    build, inputs = MODELS[name]
    model = build()
    expected = onnxruntime.InferenceSession(model.SerializeToString()).run(None, inputs)
    traced = irtoy.onnx.load(model, input_shapes={k: v.shape for k, v in inputs.items()})
    assert traced.arg_names == list(inputs)
    got = traced.compile(backend=backend)(*inputs.values())
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=2e-6)


def test_the_model_names_its_inputs_nodes_and_scopes_and_its_shape_arithmetic_folds():
    traced = irtoy.onnx.load(onnx_models.resnet_cnn(), input_shapes={"input": (2, 3, 8, 8)})
    graph = traced.graph
    nodes = [graph[n] for n in graph.nx]
    assert [graph[n]["name"] for n in graph.inputs] == ["input"]
    assert {"/layer1/0/Add", "/fc/Gemm"} <= {node.get("name") for node in nodes}
    conv_scopes = {node["scope"] for node in nodes if node["op"] == "conv2d"}
    assert conv_scopes == {"stem/conv/Conv", "layer1/0/a/conv/Conv", "layer1/0/b/conv/Conv"}
    # Shape -> Gather -> Unsqueeze -> Concat -> Reshape became one reshape to a constant shape
    assert all(node["dtype"] == np.float32 for node in nodes)
    assert [node["attrs"]["shape"] for node in nodes if node["op"] == "reshape"] == [(2, 8)]


def test_weights_imported_as_inputs_can_be_trained():
    inputs = MODELS["gelu_mlp"][1]["input"]
    model = onnx_models.gelu_mlp()
    traced = irtoy.onnx.load(model, input_shapes={"input": inputs.shape}, initializers="inputs")
    assert traced.arg_names == ["input", "initializers"]
    weights = {t.name: irtoy.onnx.tensors.tensor_array(t, t.name) for t in model.graph.initializer}
    mlp = irtoy.onnx.function(model, initializers="inputs")
    step = irtoy.trace(lambda x, w: np.sum(mlp(x, w)[0]), inputs, weights).value_and_grad(wrt="w")
    value, grads = step.compile()(inputs, weights)
    np.testing.assert_allclose(grads["fc2.bias"], np.full(4, 15.0), rtol=1e-6)     # 3 x 5 rows use each bias
    bump = np.float32(1e-2) * np.eye(32, dtype=np.float32)[0]
    bumped = dict(weights, **{"norm.weight": weights["norm.weight"] + bump})
    (out,) = traced.compile()(inputs, bumped)
    np.testing.assert_allclose((out.sum() - value) / 1e-2, grads["norm.weight"][0], rtol=2e-2)
    (on_arrays,) = mlp(inputs, weights)         # the same function computes with NumPy on arrays
    np.testing.assert_allclose(on_arrays.sum(), value, rtol=1e-5)


def test_an_expanded_function_op_is_scoped_under_its_node(monkeypatch):
    """Without its rule, LayerNormalization-17 is imported from ONNX's function body, each of
    the body's nodes in a scope inside the model's node."""
    inputs = MODELS["gelu_mlp"][1]["input"]
    expected = irtoy.onnx.load(onnx_models.gelu_mlp(), input_shapes={"input": inputs.shape}).compile()(inputs)
    monkeypatch.delitem(import_ops.IMPORTERS, "LayerNormalization")
    traced = irtoy.onnx.load(onnx_models.gelu_mlp(), input_shapes={"input": inputs.shape})
    scopes = {traced.graph[n]["scope"] for n in traced.graph.nx if traced.graph[n]["op"] == "sqrt"}
    assert len(scopes) == 1
    outer, _, inner = scopes.pop().partition("/LayerNormalization/")
    assert outer == "norm" and inner and "LayerNormalization" not in inner, inner
    np.testing.assert_allclose(traced.compile()(inputs)[0], expected[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_dilated_and_3d_windows_agree_with_onnxruntime(backend):
    """Convolution and pooling beyond irtoy's 2-d ops: a dilated, grouped 2-d convolution, then
    (reshaped to 3-d) a 3-d convolution and a dilated 3-d max-pool with padding."""
    g = onnx_models.TorchLikeGraph(3)
    x = g.node("Conv", ["input", g.weight("c1.weight", (4, 1, 3, 3))], "/c1/Conv", dilations=[2, 2], pads=[2, 1, 2, 1],
               strides=[1, 2], group=2)
    x = g.node("Reshape", [x, g.const("/Constant", [2, 2, 2, 8, 3])], "/Reshape")
    x = g.node("Conv", [x, g.weight("c2.weight", (3, 2, 2, 2, 2)), g.weight("c2.bias", (3,))], "/c2/Conv",
               pads=[1, 0, 1, 0, 1, 0])
    g.nodes.append(onnx.helper.make_node("MaxPool", [x], ["out"], name="/pool/MaxPool", kernel_shape=[2, 2, 2],
                                         dilations=[1, 2, 1], pads=[0, 1, 0, 0, 1, 0]))
    model = g.model("windows", [onnx.helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [2, 2, 8, 8])],
                    [onnx.helper.make_tensor_value_info("out", onnx.TensorProto.FLOAT, None)])
    inputs = RNG.normal(size=(2, 2, 8, 8)).astype(np.float32)
    (expected,) = onnxruntime.InferenceSession(model.SerializeToString()).run(None, {"input": inputs})
    (got,) = irtoy.onnx.load(model).compile(backend=backend)(inputs)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_a_1d_convolution_with_uneven_padding_agrees_with_onnxruntime():
    g = onnx_models.TorchLikeGraph(4)
    g.nodes.append(onnx.helper.make_node("Conv", ["input", g.weight("w", (3, 2, 3))], ["out"], name="/Conv",
                                         pads=[1, 2], strides=[2]))
    model = g.model("conv1d", [onnx.helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [1, 2, 9])],
                    [onnx.helper.make_tensor_value_info("out", onnx.TensorProto.FLOAT, None)])
    inputs = RNG.normal(size=(1, 2, 9)).astype(np.float32)
    (expected,) = onnxruntime.InferenceSession(model.SerializeToString()).run(None, {"input": inputs})
    (got,) = irtoy.onnx.load(model).compile()(inputs)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_gathers_scatters_and_top_k_over_large_axes_agree_with_onnxruntime(backend):
    """TopK over a 50,000-word vocabulary and GatherElements / ScatterElements / ScatterND of
    thousands of positions read and write only those positions (a one-hot of the vocabulary
    against itself would take 2.5 GB), and ScatterElements takes indices smaller than the data."""
    V, n = 50_000, 2_000
    tensor = onnx.helper.make_tensor_value_info
    FLOAT, INT64 = onnx.TensorProto.FLOAT, onnx.TensorProto.INT64
    nodes = [onnx.helper.make_node("TopK", ["logits", "k"], ["top", "top_index"], axis=-1),
             onnx.helper.make_node("GatherElements", ["table", "rows"], ["picked"], axis=0),
             onnx.helper.make_node("ScatterElements", ["table", "rows", "updates"], ["written"], axis=0),
             onnx.helper.make_node("ScatterND", ["table", "cells", "values"], ["added"], reduction="add")]
    graph = onnx.helper.make_graph(
        nodes, "large_axes",
        [tensor("logits", FLOAT, [2, V]), tensor("table", FLOAT, [n, 8]), tensor("rows", INT64, [n, 3]),
         tensor("updates", FLOAT, [n, 3]), tensor("cells", INT64, [n, 2]), tensor("values", FLOAT, [n])],
        [onnx.helper.make_empty_tensor_value_info(name) for name in ("top", "top_index", "picked", "written", "added")],
        [onnx.numpy_helper.from_array(np.array([5], np.int64), "k")])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 18)])
    rows = np.stack([RNG.permutation(n) for _ in range(3)], axis=1) - n // 2        # negative ones count from the end
    inputs = {"logits": RNG.normal(size=(2, V)).astype(np.float32), "table": RNG.normal(size=(n, 8)).astype(np.float32),
              "rows": rows, "updates": RNG.normal(size=(n, 3)).astype(np.float32),
              "cells": np.stack([RNG.integers(0, n, n), RNG.integers(-8, 8, n)], axis=1),
              "values": RNG.normal(size=n).astype(np.float32)}
    expected = onnxruntime.InferenceSession(model.SerializeToString()).run(None, inputs)
    got = irtoy.onnx.load(model).compile(backend=backend)(*inputs.values())
    for g, e in zip(got, expected):
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-6)     # repeated cells add up in another order


def one_node_model(node, inputs, initializers=()):
    """A model of one node: `inputs` {name: array} are its inputs, `initializers` its weights."""
    graph = onnx.helper.make_graph(
        [node], node.op_type,
        [onnx.helper.make_tensor_value_info(name, onnx.helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
         for name, a in inputs.items()],
        [onnx.helper.make_empty_tensor_value_info(name) for name in node.output],
        [onnx.numpy_helper.from_array(a, name) for name, a in dict(initializers).items()])
    return onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 18)])


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_top_k_puts_nan_where_onnxruntime_does_and_a_constant_table_is_gathered(backend):
    x = np.array([[1, np.nan, 3, 2, np.inf], [np.nan, 5, np.nan, -np.inf, 5]], np.float32)
    cases = [one_node_model(onnx.helper.make_node("TopK", ["x", "k"], ["v", "i"], largest=largest), {"x": x},
                            {"k": np.array([4], np.int64)}) for largest in (1, 0)]
    table = np.arange(12, dtype=np.float32).reshape(3, 4)         # an initializer read at an input's positions
    rows = np.array([[0, 3], [-1, 2], [1, 1]])
    cases.append(one_node_model(onnx.helper.make_node("GatherElements", ["table", "rows"], ["y"], axis=1),
                                {"rows": rows}, {"table": table}))
    for model, inputs in zip(cases, [{"x": x}, {"x": x}, {"rows": rows}]):
        expected = onnxruntime.InferenceSession(model.SerializeToString()).run(None, inputs)
        got = irtoy.onnx.load(model).compile(backend=backend)(*inputs.values())
        for g, e in zip(got, expected):
            np.testing.assert_array_equal(g, e)
