"""Contractions: sums of products over shared axes. The matrix product, batched as NumPy's."""
import numpy as np

from irtoy.errors import ShapeError, TraceError
from irtoy.ops.elementwise import broadcast_shapes
from irtoy.ops.elementwise import multiply
from irtoy.ops.registry import bind, composite, declare
from irtoy.ops.spec import Spec


def matmul_rule(specs):
    a, b = specs
    if not a.shape or not b.shape:
        raise ShapeError("matmul needs arrays of at least one dimension, not scalars")
    a_shape = (1,) + a.shape if len(a.shape) == 1 else a.shape
    b_shape = b.shape + (1,) if len(b.shape) == 1 else b.shape
    if a_shape[-1] != b_shape[-2]:
        raise ShapeError(f"contracted dimensions differ: {a.shape[-1]} != {b_shape[-2]}")
    batch = broadcast_shapes(a_shape[:-2], b_shape[:-2])
    shape = batch + (a_shape[-2],) * (len(a.shape) > 1) + (b_shape[-1],) * (len(b.shape) > 1)
    return Spec(shape, np.result_type(a.dtype, b.dtype))


@declare("matmul", "contraction", matmul_rule, np.matmul, 2, numpy=(np.matmul,), cost=2,
         doc="numpy.matmul, batched and 1-d cases")
def matmul(a, b):
    """numpy.matmul: batched, with NumPy's rules for 1-d operands."""
    return bind("matmul", a, b)


@composite("dot", numpy=(np.dot,), methods=("dot",))
def dot(a, b, out=None):
    """numpy.dot for arrays of at most 2 dimensions (a product with a scalar, else matmul)."""
    if np.ndim(a) > 2 or np.ndim(b) > 2:
        raise TraceError("numpy.dot of arrays with more than 2 dimensions: use np.matmul")
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return multiply(a, b)
    return matmul(a, b)
