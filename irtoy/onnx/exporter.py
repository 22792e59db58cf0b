"""ONNX out: any irtoy graph as an ONNX model, one rule per irtoy op (`EXPORTERS`).

Constants become initializers, every value's static shape goes into `value_info` (so Netron
shows each edge's shape), each ONNX node is named after its irtoy node's scope and op and
carries the user's source line as its `doc_string`. Gradients and optimizer updates are
ordinary irtoy nodes, so a whole training step exports like any function.

irtoy's ops follow NumPy's type promotion, ONNX's take arguments of one type: a rule casts
its arguments to the type the irtoy node computes in.
"""
import numpy as np

from irtoy.errors import IrtoyError, located
from irtoy.onnx.engine import require
from irtoy.onnx import export_ops
from irtoy.onnx.export_linalg_ops import LINALG_EXPORTERS
from irtoy.onnx.export_ops import NOT_EXPORTED

EXPORTERS = {**export_ops.EXPORTERS, **LINALG_EXPORTERS}       # irtoy op -> its rule

OLDEST_OPSET = 18       # every Reduce* op takes its axes as an input from 18 on


def export(traced_or_compiled, path=None, stage=None, opset=OLDEST_OPSET):
    """The ONNX model (`onnx.ModelProto`) of a Traced or Compiled function, written to `path`
    if given. `stage` picks a graph of `.stages` (default: a Compiled's optimized graph, a
    Traced's latest)."""
    onnx = require("onnx")
    if opset < OLDEST_OPSET or opset > onnx.defs.onnx_opset_version():
        raise IrtoyError(f"opset={opset}: irtoy exports ONNX opsets {OLDEST_OPSET} to {onnx.defs.onnx_opset_version()}")
    graph = pick_stage(traced_or_compiled, stage)
    name = getattr(getattr(traced_or_compiled, "traced", traced_or_compiled), "name", "irtoy")
    model = graph_to_model(graph, name, opset)
    if path is not None:
        from irtoy.files import checked_write
        checked_write(path, model.SerializeToString())
    return model


def pick_stage(traced_or_compiled, stage):
    stages = getattr(traced_or_compiled, "stages", None)
    if stages is None:
        raise IrtoyError(f"irtoy.onnx.export takes a Traced or Compiled function, "
                         f"not {type(traced_or_compiled).__name__}")
    if stage is None:
        stage = "optimized" if "optimized" in stages else list(stages)[-1]
    if stage not in stages:
        raise IrtoyError(f"no stage {stage!r}; the stages are {list(stages)}")
    return stages[stage]


class Writer:
    """Collects the ONNX nodes, initializers and value infos of one graph."""

    def __init__(self, graph, onnx, opset):
        self.graph, self.onnx, self.opset = graph, onnx, opset
        self.nodes, self.initializers, self.value_info = [], [], []
        self.names = {}             # irtoy node -> ONNX value name
        self.taken = set()
        self.current = None         # the irtoy node being exported

    def fresh(self, hint):
        """A value name not used yet, from `hint`."""
        name, k = hint, 1
        while name in self.taken:
            k += 1
            name = f"{hint}_{k}"
        self.taken.add(name)
        return name

    def const(self, value, hint="const"):
        """An initializer holding `value`; its name."""
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.array(value, order="C"), name))
        return name

    def ints(self, values):
        return self.const(np.array(values, np.int64), "ints")

    def emit(self, op_type, inputs, outputs=1, final=False, **attributes):
        """Add an ONNX node; its output name(s). The `final` node of a rule writes the irtoy
        node's own value."""
        n = self.current
        node = self.graph[n]
        if final:
            names = [self.names[n]]
        else:
            names = [self.fresh(f"{self.names[n]}/{op_type}") for _ in range(outputs)]
        scope = node.get("scope") or ""
        label = f"{scope}/{node['op']}_{n}" if scope else f"{node['op']}_{n}"
        proto = self.onnx.helper.make_node(op_type, list(inputs), names, name=self.fresh(f"{label}/{op_type}"),
                                           doc_string=node.get("src") or "", **attributes)
        self.nodes.append(proto)
        return names[0] if outputs == 1 else names

    def cast(self, name, from_dtype, to_dtype):
        """The value `name` as `to_dtype` (itself if it is that already)."""
        if np.dtype(from_dtype) == np.dtype(to_dtype):
            return name
        return self.emit("Cast", [name], to=tensor_type(to_dtype, self.onnx))

    def info(self, name, n):
        spec = self.graph.spec(n)
        return self.onnx.helper.make_tensor_value_info(name, tensor_type(spec.dtype, self.onnx), spec.shape)


def tensor_type(dtype, onnx):
    return onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def graph_to_model(graph, name, opset):
    onnx = require("onnx")
    w = Writer(graph, onnx, opset)
    inputs = []
    for n in graph.inputs:
        w.names[n] = w.fresh(graph[n].get("name") or f"input_{n}")
        inputs.append(w.info(w.names[n], n))
    for n in graph.order():
        node = graph[n]
        if node["op"] == "input":
            continue
        if node["op"] == "const":
            w.names[n] = w.const(np.asarray(node["value"]), node.get("name") or f"const_{n}")
            continue
        rule = EXPORTERS.get(node["op"])
        if rule is None:
            why = NOT_EXPORTED.get(node["op"], f"irtoy has no ONNX rule for the op {node['op']!r}")
            raise IrtoyError(f"cannot export %{n} ({node['op']}) to ONNX: {why}{located(node.get('src'))}")
        w.names[n] = w.fresh(node.get("name") or f"{node['op']}_{n}")
        w.current = n
        args = graph.args(n)
        rule(w, node, [w.names[a] for a in args], [graph.spec(a) for a in args])
        w.value_info.append(w.info(w.names[n], n))
    outputs = []
    for k, n in enumerate(graph.outputs):
        w.current = n
        out = w.fresh(f"output_{k}")
        w.nodes.append(onnx.helper.make_node("Identity", [w.names[n]], [out], name=w.fresh(f"output_{k}/Identity")))
        outputs.append(w.info(out, n))
    onnx_graph = onnx.helper.make_graph(w.nodes, name, inputs, outputs, w.initializers, value_info=w.value_info)
    model = onnx.helper.make_model(onnx_graph, opset_imports=[onnx.helper.make_opsetid("", opset)],
                                   producer_name="irtoy")
    model.ir_version = min(model.ir_version, 10)        # readable by onnxruntime releases of the last two years
    return model
