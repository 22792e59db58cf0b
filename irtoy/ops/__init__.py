"""irtoy's ops: the registry of primitives, and the functions that apply them.

    irtoy.ops.REGISTRY["exp"]      # the record of an op (registry.py): kind, rule, reference code, ...
    irtoy.ops.exp(x)               # its public function: records a node on traced values,
    irtoy.ops.sum(x, axis=1)       # computes with NumPy on arrays; NumPy's own arguments

The ops are declared by kind, each module one kind: elementwise.py, reductions.py,
contraction.py, scans.py, movement.py (with scatter), indexing.py (gather, scatter_add,
argsort), convolution.py (window ops), random.py and linalg.py (numpy.linalg); creation.py
has numpy.array of traced values, zeros_like and their kin. NumPy functions that are
compositions of ops are
declared beside the ops they use, with `composite` (registry.py). This
package is the floor of irtoy: it imports nothing of irtoy but its errors and the helper
that finds the user's source line (irtoy/source.py), so everything else may import it.
"""
from irtoy.ops import (contraction, convolution, creation, elementwise, indexing, linalg, movement, random, reductions,
                       scans)
from irtoy.ops.convolution import window_positions
from irtoy.ops.normalize import (format_index, int_pair, ndim_of, normalize_axes, normalize_index, numpy_index,
                                 shape_of)
from irtoy.ops.random import random_key
from irtoy.ops.registry import (COMPOSITES, KINDS, REGISTRY, Composite, Op, bind, checked_arguments, composite, declare,
                                infer_spec)
from irtoy.ops.spec import Spec

# Every op's and composition's public function is irtoy.ops.<name>, declared in its module.
globals().update({op.name: op.function for op in REGISTRY.values() if op.function is not None})
globals().update({c.name: c.function for c in COMPOSITES.values()})
