"""Graph-to-graph passes. Each is a plain function that returns a new graph and never
mutates its argument, so every stage of compilation can be kept, printed and drawn."""
from irtoy.passes.check import check_graph
from irtoy.passes.dce import eliminate_dead_code
from irtoy.passes.shapes import infer_shapes

__all__ = ["check_graph", "eliminate_dead_code", "infer_shapes"]
