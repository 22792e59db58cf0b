"""irtoy: a small deep-learning compiler you can read.

    traced = irtoy.trace(fn, *example_args)   # NumPy code -> graph IR (a networkx DAG)
    print(traced)                              # the IR as text
    traced.render("fn.svg")                    # drawn with graphviz
    f = traced.compile(backend="numba")        # passes, then a backend
    f(*args)
    dloss = irtoy.grad(loss)                   # gradients are graph nodes too
    print(irtoy.compare(fn, *args))            # interpreter vs numba: compile and run times

One value's way through it: `trace` (api.py) runs fn on Tracers (tracing.py, builder.py); each
NumPy call on one (numpy_dispatch.py) binds an op declared in ops/, which records a node of
the graph (ir.py); passes/ (irtoy.passes) infer shapes, differentiate and clean up; a backend
(irtoy.backends: the interpreter, or numba's fused kernels) makes it callable.
"""
from importlib.util import find_spec as _find_spec

if _find_spec("irtoy.passes") is None:      # passes/ and backends/ join irtoy when it is installed
    raise ImportError("irtoy is not installed: irtoy.passes and irtoy.backends are the repository's passes/ and "
                      "backends/ folders, importable only once installed; run `make setup` in the repository "
                      "(then use .venv/bin/python), or `pip install -e .`")
del _find_spec

from irtoy.errors import GraphError, IrtoyError, RenderError, ShapeError, TraceError
from irtoy.debugging import NonFiniteError, debug_nans
from irtoy.ir import Graph, Spec
from irtoy import ops
from irtoy.tracing import current_scope, scope
from irtoy.api import Compiled, Traced, trace
from irtoy.transforms import grad, value_and_grad
from irtoy.compare import compare
from irtoy.report import report
from irtoy.version import __version__

__all__ = ["trace", "grad", "value_and_grad", "compare", "report", "Traced", "Compiled", "Spec", "Graph", "ops", "scope",
           "current_scope", "IrtoyError", "TraceError", "ShapeError", "GraphError", "RenderError",
           "NonFiniteError", "debug_nans"]
