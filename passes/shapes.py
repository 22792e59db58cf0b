"""Shape inference: give every node its shape and dtype, from the inputs forward.

The tracer already knows shapes (user code may read `x.shape`), but a graph can also be
built or rewritten by passes; this pass re-derives every node's type with the ops' own rules
and raises `ShapeError` naming the op, the argument shapes and the user's source line.
"""
import numpy as np

from irtoy import ops
from irtoy.errors import ShapeError
from irtoy.ir import Spec


def infer_shapes(graph):
    g = graph.copy()
    for n in g.order():
        node = g[n]
        if node["op"] == "const":
            node["value"] = np.asarray(node["value"])
            g.set_spec(n, Spec.of(node["value"]))
        elif node["op"] == "input":
            if "shape" not in node:
                raise ShapeError(f"input %{n} ({node.get('name')}) has no shape")
        else:
            specs = [g.spec(a) for a in g.args(n)]
            g.set_spec(n, ops.infer_spec(node["op"], specs, node["attrs"], node.get("src")))
    return g
