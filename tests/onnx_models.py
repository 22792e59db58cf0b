"""Small ONNX models written the way torch.onnx.export writes them (node names like
/layer1/0/conv1/Conv, weights named layer1.0.conv1.weight, a dynamic batch dimension, shapes
computed with Shape -> Gather -> Unsqueeze -> Concat -> Reshape, GELU as its Erf formula),
built with onnx.helper so the tests need no PyTorch."""
import numpy as np
from onnx import TensorProto, helper, numpy_helper


class TorchLikeGraph:
    """Nodes and initializers added as torch.onnx names them."""

    def __init__(self, seed=0):
        self.nodes, self.initializers = [], []
        self.rng = np.random.default_rng(seed)

    def weight(self, name, shape, scale=0.3):
        values = (self.rng.normal(size=shape) * scale).astype(np.float32)
        self.initializers.append(numpy_helper.from_array(values, name))
        return name

    def const(self, name, value):
        """A Constant node, as torch writes the numbers of shape arithmetic."""
        return self.node("Constant", [], name, value=numpy_helper.from_array(np.asarray(value), name))

    def node(self, op, inputs, name, outputs=1, **attributes):
        names = [f"{name}_output_{k}" for k in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, names, name=name, **attributes))
        return names[0] if outputs == 1 else names

    def linear(self, x, prefix, n_in, n_out):
        """nn.Linear on a 3-d input: MatMul by the transposed weight, then Add."""
        w = self.weight(f"onnx::MatMul_{prefix}", (n_in, n_out))
        b = self.weight(f"{prefix}.bias", (n_out,), 0.1)
        return self.node("Add", [self.node("MatMul", [x, w], f"/{prefix}/MatMul"), b], f"/{prefix}/Add")

    def layer_norm(self, x, prefix, size):
        scale = self.weight(f"{prefix}.weight", (size,))
        bias = self.weight(f"{prefix}.bias", (size,), 0.1)
        return self.node("LayerNormalization", [x, scale, bias], f"/{prefix}/LayerNormalization", axis=-1,
                         epsilon=1e-5)

    def model(self, name, inputs, outputs, opset=17):
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.initializers)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="pytorch",
                                 ir_version=8)


def batch_input(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, ["batch_size"] + list(shape))


def resnet_cnn():
    """conv-bn-relu, one residual block, max-pool, global average pool, view(n, -1), fc."""
    g = TorchLikeGraph(0)

    def conv_bn(x, prefix, c_in, c_out):
        w = g.weight(f"{prefix}.conv.weight", (c_out, c_in, 3, 3))
        b = g.weight(f"{prefix}.conv.bias", (c_out,), 0.1)
        y = g.node("Conv", [x, w, b], f"/{prefix}/conv/Conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                   strides=[1, 1], dilations=[1, 1], group=1)
        stats = [g.weight(f"{prefix}.bn.{k}", (c_out,), 0.2) for k in ("weight", "bias", "running_mean")]
        var = f"{prefix}.bn.running_var"
        g.initializers.append(numpy_helper.from_array(g.rng.uniform(0.5, 1.5, c_out).astype(np.float32), var))
        return g.node("BatchNormalization", [y] + stats + [var], f"/{prefix}/bn/BatchNormalization",
                      epsilon=1e-5, momentum=0.9)

    x = g.node("Relu", [conv_bn("input", "stem", 3, 8)], "/stem/relu/Relu")
    h = g.node("Relu", [conv_bn(x, "layer1/0/a", 8, 8)], "/layer1/0/relu/Relu")
    h = conv_bn(h, "layer1/0/b", 8, 8)
    x = g.node("Relu", [g.node("Add", [h, x], "/layer1/0/Add")], "/layer1/0/relu_1/Relu")
    x = g.node("MaxPool", [x], "/maxpool/MaxPool", kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0])
    x = g.node("GlobalAveragePool", [x], "/avgpool/GlobalAveragePool")
    n = g.node("Gather", [g.node("Shape", [x], "/Shape"), g.const("/Constant", np.int64(0))], "/Gather", axis=0)
    shape = g.node("Concat", [g.node("Unsqueeze", [n, g.const("/Constant_1", [0])], "/Unsqueeze"),
                              g.const("/Constant_2", [-1])], "/Concat", axis=0)
    x = g.node("Reshape", [x, shape], "/Reshape")
    w, b = g.weight("fc.weight", (10, 8)), g.weight("fc.bias", (10,), 0.1)
    g.nodes.append(helper.make_node("Gemm", [x, w, b], ["logits"], name="/fc/Gemm", alpha=1.0, beta=1.0, transB=1))
    return g.model("resnet_cnn", [batch_input("input", (3, 8, 8))], [batch_input("logits", (10,))])


def gelu_mlp():
    """Linear, GELU (torch's Erf formula), LayerNorm, Linear on (batch, tokens, features)."""
    g = TorchLikeGraph(1)
    x = g.linear("input", "fc1", 16, 32)
    erf = g.node("Erf", [g.node("Div", [x, g.const("/act/Constant", np.float32(1.4142135))], "/act/Div")],
                 "/act/Erf")
    half = g.node("Mul", [x, g.node("Add", [erf, g.const("/act/Constant_1", np.float32(1.0))], "/act/Add")],
                  "/act/Mul")
    x = g.node("Mul", [half, g.const("/act/Constant_2", np.float32(0.5))], "/act/Mul_1")
    x = g.layer_norm(x, "norm", 32)
    g.linear(x, "fc2", 32, 4)
    return g.model("gelu_mlp", [batch_input("input", (5, 16))],
                   [helper.make_tensor_value_info("/fc2/Add_output_0", TensorProto.FLOAT, ["batch_size", 5, 4])])


def transformer_encoder(vocabulary=20, tokens=6, width=16, heads=2):
    """An embedding (Gather of token ids), positions, one post-norm encoder layer: multi-head
    self-attention with its reshapes computed from Shape, then a ReLU feed-forward block."""
    g = TorchLikeGraph(2)
    head = width // heads
    x = g.node("Gather", [g.weight("embed.weight", (vocabulary, width), 1.0), "input_ids"], "/embed/Gather")
    x = g.node("Add", [x, g.weight("pos_embed", (tokens, width), 0.5)], "/Add")

    def split_heads(t, name):
        shape = g.node("Shape", [t], f"/attn/{name}/Shape")
        batch = g.node("Gather", [shape, g.const(f"/attn/{name}/Constant", np.int64(0))], f"/attn/{name}/Gather",
                       axis=0)
        length = g.node("Gather", [shape, g.const(f"/attn/{name}/Constant_1", np.int64(1))],
                        f"/attn/{name}/Gather_1", axis=0)
        parts = [g.node("Unsqueeze", [v, g.const(f"/attn/{name}/Constant_{k + 2}", [0])],
                        f"/attn/{name}/Unsqueeze_{k}") for k, v in enumerate((batch, length))]
        new_shape = g.node("Concat", parts + [g.const(f"/attn/{name}/Constant_4", [heads, head])],
                           f"/attn/{name}/Concat", axis=0)
        return g.node("Transpose", [g.node("Reshape", [t, new_shape], f"/attn/{name}/Reshape")],
                      f"/attn/{name}/Transpose", perm=[0, 2, 1, 3])

    q, k, v = (split_heads(g.linear(x, f"attn/{p}_proj", width, width), p) for p in "qkv")
    kt = g.node("Transpose", [k], "/attn/Transpose", perm=[0, 1, 3, 2])
    scores = g.node("Div", [g.node("MatMul", [q, kt], "/attn/MatMul"),
                            g.const("/attn/Constant", np.float32(np.sqrt(head)))], "/attn/Div")
    weights = g.node("Softmax", [scores], "/attn/Softmax", axis=-1)
    mixed = g.node("Transpose", [g.node("MatMul", [weights, v], "/attn/MatMul_1")], "/attn/Transpose_1",
                   perm=[0, 2, 1, 3])
    merged = g.node("Reshape", [mixed, g.const("/attn/Constant_5", [0, 0, width])], "/attn/Reshape")
    x = g.layer_norm(g.node("Add", [x, g.linear(merged, "attn/out_proj", width, width)], "/Add_1"), "norm1", width)
    ff = g.linear(g.node("Relu", [g.linear(x, "linear1", width, 32)], "/Relu"), "linear2", 32, width)
    g.layer_norm(g.node("Add", [x, ff], "/Add_2"), "norm2", width)
    return g.model("transformer_encoder", [batch_input("input_ids", (tokens,), TensorProto.INT64)],
                   [helper.make_tensor_value_info("/norm2/LayerNormalization_output_0", TensorProto.FLOAT,
                                                  ["batch_size", tokens, width])])
