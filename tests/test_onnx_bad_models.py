"""Models irtoy cannot import are refused with one IrtoyError naming the node (or input, or
file) and what is wrong; reading a model parses protobuf only, and tensors in external files
are read only from the model's own folder."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import irtoy
import irtoy.onnx
import onnx_models


def one_node_model(op, inputs, node_name="/block/Op", opset=17, initializers=(), **attributes):
    node = helper.make_node(op, [name for name, _ in inputs], ["y"], name=node_name, **attributes)
    graph = helper.make_graph([node], "bad", [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
                                              for name, shape in inputs if shape is not None],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def refusal(model, **options):
    with pytest.raises(irtoy.IrtoyError) as info:
        irtoy.onnx.load(model, **options)
    message = str(info.value)
    assert "Traceback" not in message
    return message


def test_an_unknown_op_is_refused_naming_the_node_and_the_op():
    message = refusal(one_node_model("FancyOp", [("x", [2])], node_name="/encoder/FancyOp"))
    assert message.startswith("ONNX node '/encoder/FancyOp' (FancyOp): irtoy has no import rule")


def test_an_op_of_another_op_set_is_refused():
    model = one_node_model("Relu", [("x", [2])])
    model.graph.node[0].domain = "com.example"
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    assert "op set 'com.example' is not the standard one" in refusal(model)


def test_a_dynamic_dimension_must_be_given_and_is_then_used():
    model = one_node_model("Relu", [("x", ["batch", 3])])
    message = refusal(model)
    assert "input 'x' has the dynamic dimension 'batch'" in message and "input_shapes" in message
    traced = irtoy.onnx.load(model, input_shapes={"x": (4, 3)})
    assert traced.input_specs[0].shape == (4, 3)
    assert "the shape (4, 2), but the model declares (batch, 3)" in refusal(model, input_shapes={"x": (4, 2)})
    assert "not inputs of the model" in refusal(model, input_shapes={"z": (1,)})


def test_a_shape_that_depends_on_the_data_is_refused_naming_the_node_and_the_input():
    node = helper.make_node("Reshape", ["x", "target"], ["y"], name="/head/Reshape")
    graph = helper.make_graph([node], "dynamic", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [6]),
                                                  helper.make_tensor_value_info("target", TensorProto.INT64, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    message = refusal(model)
    assert message.startswith("ONNX node '/head/Reshape' (Reshape): its shape depends on the model's input(s) "
                              "'target'")
    traced = irtoy.onnx.load(model, static_inputs={"target": np.array([2, 3])})
    assert traced.compile()(np.arange(6, dtype=np.float32))[0].shape == (2, 3)


def test_a_missing_initializer_is_refused_naming_the_node_and_the_input():
    message = refusal(one_node_model("Add", [("x", [2]), ("bias", None)], node_name="/fc/Add"))
    assert message.startswith("ONNX node '/fc/Add' (Add): its input 'bias' is neither a model input, "
                              "an initializer nor an earlier node's output")


def test_an_opset_newer_than_onnx_knows_is_refused():
    assert "uses ONNX opset 99, newer than the newest" in refusal(one_node_model("Relu", [("x", [2])], opset=99))


def test_an_attribute_irtoy_cannot_honour_is_refused_not_ignored():
    model = one_node_model("ConvTranspose", [("x", [1, 1, 5, 5]), ("w", [1, 1, 3, 3])], node_name="/up/ConvTranspose",
                           dilations=[2, 2])
    assert refusal(model).startswith("ONNX node '/up/ConvTranspose' (ConvTranspose): ConvTranspose with dilations "
                                     "is not supported")
    model = one_node_model("Relu", [("x", [2])], node_name="/act/Relu", made_up=3)
    assert refusal(model) == "ONNX node '/act/Relu' (Relu): irtoy does not support its attribute(s) made_up"


@pytest.mark.parametrize("keep", [0.3, 0.5, 0.9, 0.99])
def test_a_truncated_file_is_refused_naming_it(tmp_path, keep):
    data = onnx_models.resnet_cnn().SerializeToString()
    path = tmp_path / "model.onnx"
    path.write_bytes(data[:int(len(data) * keep)])
    message = refusal(str(path), input_shapes={"input": (1, 3, 8, 8)})
    assert len(message.splitlines()) == 1


def test_a_missing_file_is_refused_naming_it(tmp_path):
    assert f"cannot read the ONNX model {tmp_path / 'none.onnx'}" in refusal(str(tmp_path / "none.onnx"))


def external_model(tmp_path, location):
    """A model whose weight lives in the external file `location`."""
    weight = numpy_helper.from_array(np.ones(2, np.float32), "w")
    weight.data_location = TensorProto.EXTERNAL
    weight.ClearField("raw_data")
    for key, value in (("location", location), ("offset", "0"), ("length", "8")):
        weight.external_data.append(onnx.StringStringEntryProto(key=key, value=value))
    model = one_node_model("Add", [("x", [2]), ("w", None)], initializers=[weight])
    path = tmp_path / "model" / "model.onnx"
    path.parent.mkdir()
    path.write_bytes(model.SerializeToString())
    return path


@pytest.mark.parametrize("location", ["../secret.bin", "/etc/passwd", "sub/../../secret.bin"])
def test_external_data_outside_the_model_folder_is_refused(tmp_path, location):
    (tmp_path / "secret.bin").write_bytes(np.ones(2, np.float32).tobytes())
    message = refusal(str(external_model(tmp_path, location)))
    assert f"names the external file {location!r}, outside the model's folder" in message


def test_external_data_in_the_model_folder_is_read(tmp_path):
    path = external_model(tmp_path, "weights.bin")
    (path.parent / "weights.bin").write_bytes(np.array([1.0, 2.0], np.float32).tobytes())
    (y,) = irtoy.onnx.load(str(path)).compile()(np.zeros(2, np.float32))
    np.testing.assert_array_equal(y, [1.0, 2.0])


def test_a_constant_too_large_to_compute_is_refused_naming_the_node():
    shape = numpy_helper.from_array(np.array([2 ** 40, 2 ** 20], np.int64), "shape")
    node = helper.make_node("ConstantOfShape", ["shape"], ["y"], name="/huge/ConstantOfShape")
    graph = helper.make_graph([node], "huge", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [shape])
    message = refusal(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    assert message.startswith("ONNX node '/huge/ConstantOfShape' (ConstantOfShape): computing it at import failed")
