"""Graph-to-graph passes. Each is a plain function that returns a new graph and never
mutates its argument, so every stage of compilation can be kept, printed and drawn."""
from irtoy.passes.autodiff import VJP_RULES, differentiate
from irtoy.passes.check import check_graph
from irtoy.passes.cse import eliminate_common_subexpressions
from irtoy.passes.dce import eliminate_dead_code
from irtoy.passes.fold import fold_constants
from irtoy.passes.shapes import infer_shapes
from irtoy.passes.simplify import simplify

__all__ = ["VJP_RULES", "check_graph", "differentiate", "eliminate_common_subexpressions",
           "eliminate_dead_code", "fold_constants", "infer_shapes", "simplify"]
