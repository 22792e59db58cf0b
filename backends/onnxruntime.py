"""The onnxruntime backend: the graph exported to ONNX (irtoy.onnx.export) and run in an
onnxruntime InferenceSession. It joins irtoy as a third-party backend would, through the
`irtoy.backends` entry point in pyproject.toml, and needs the extra `irtoy[onnx]`.
Donated inputs are ignored: the session returns new arrays.
"""
import numpy as np

from irtoy.errors import IrtoyError
from irtoy.onnx.engine import require
from irtoy.onnx.exporter import graph_to_model


def compile_graph(graph, profile=False, debug=False):
    return OnnxRuntimeExecutable(graph)


class OnnxRuntimeExecutable:
    """A graph as an onnxruntime session: `run(list of arrays) -> list of arrays`."""

    def __init__(self, graph):
        onnxruntime = require("onnxruntime")
        self.graph = graph
        self.stages = {}
        self.model = graph_to_model(graph, "irtoy", 18)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3          # errors only: its warnings are not the user's concern
        try:
            self.session = onnxruntime.InferenceSession(self.model.SerializeToString(), options,
                                                        providers=["CPUExecutionProvider"])
        except Exception as e:      # onnxruntime's own errors: an op or dtype it has no kernel for
            raise IrtoyError(f"onnxruntime cannot run this graph: {str(e).strip()}") from None
        self.input_names = [v.name for v in self.model.graph.input]

    def run(self, args):
        feed = {name: np.asarray(a, order="C") for name, a in zip(self.input_names, args)}
        return self.session.run(None, feed)
