"""Contractions: sums of products over shared axes. The matrix product, batched as NumPy's.

`matmul` is the one op of this kind; everything else NumPy calls a contraction (einsum,
tensordot, dot, inner, vdot, outer, kron, trace, matvec, vecdot) is a composition of it
with transposes, reshapes, broadcasting multiplies and sums. Each pair of operands is
contracted by one matmul, so the numba backend hands the work to BLAS.

A contraction of two operands is written once, in `_contract_pair`: each axis carries a
label (einsum's letters; tensordot numbers its axes), and the labels say which axes are a
batch (in both operands, and needed afterwards), which are summed (in both, needed no more)
and which are free (in one only).
"""
import math
import string

import numpy as np

from irtoy.errors import ShapeError
from irtoy.ops.elementwise import broadcast_shapes, cast, multiply
from irtoy.ops.movement import broadcast_to, diagonal, ravel, reshape, transpose
from irtoy.ops.normalize import int_tuple, ndim_of, refuse_options, shape_of
from irtoy.ops.reductions import sum as reduce_sum
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


@declare("matmul", "contraction", matmul_rule, np.matmul, 2, numpy=(np.matmul, np.linalg.matmul), cost=2,
         doc="numpy.matmul, batched and 1-d cases")
def matmul(a, b):
    """numpy.matmul: batched, with NumPy's rules for 1-d operands."""
    return bind("matmul", a, b)


# -- two labelled operands ------------------------------------------------------------------

def _arranged(x, labels, order):
    """`x`, whose axes carry `labels`, with its axes transposed into `order` (no node if
    they are in it already)."""
    axes = tuple(labels.index(label) for label in order)
    return x if axes == tuple(range(len(axes))) else transpose(x, axes)


def _reshaped(x, shape):
    return x if shape_of(x) == tuple(shape) else reshape(x, tuple(shape))


def _sum_labels(x, labels, unwanted):
    """`x` summed over the axes whose labels are in `unwanted`; its remaining labels."""
    axes = tuple(i for i, label in enumerate(labels) if label in unwanted)
    if not axes:
        return x, labels
    return reduce_sum(x, axes), [label for label in labels if label not in unwanted]


def _contract_pair(x, x_labels, y, y_labels, keep):
    """The product of x and y summed over the labels they share that `keep` lacks: one
    matmul of x arranged as (batch, free of x, summed) and y as (batch, summed, free of y),
    or a broadcasting multiply when nothing is summed. Labels of one operand only that
    `keep` lacks are summed first. Returns the result and its labels: batch, free of x,
    free of y."""
    x, x_labels = _sum_labels(x, x_labels, [a for a in x_labels if a not in y_labels and a not in keep])
    y, y_labels = _sum_labels(y, y_labels, [a for a in y_labels if a not in x_labels and a not in keep])
    size = dict(zip(x_labels, shape_of(x))) | dict(zip(y_labels, shape_of(y)))
    batch = [a for a in x_labels if a in y_labels and a in keep]
    summed = [a for a in x_labels if a in y_labels and a not in keep]
    x_free = [a for a in x_labels if a not in y_labels]
    y_free = [a for a in y_labels if a not in x_labels]
    labels = batch + x_free + y_free
    sizes = [size[a] for a in labels]
    if not summed:      # an outer product along the free labels: broadcasting does it
        x = _reshaped(_arranged(x, x_labels, batch + x_free), sizes[:len(batch) + len(x_free)] + [1] * len(y_free))
        y = _arranged(y, y_labels, batch + y_free)
        y = _reshaped(y, [size[a] for a in batch] + [1] * len(x_free) + [size[a] for a in y_free])
        return multiply(x, y), labels
    batch_sizes = [size[a] for a in batch]
    k = math.prod(size[a] for a in summed)
    fx, fy = math.prod(size[a] for a in x_free), math.prod(size[a] for a in y_free)
    x = _reshaped(_arranged(x, x_labels, batch + x_free + summed), batch_sizes + [fx, k])
    y = _reshaped(_arranged(y, y_labels, batch + summed + y_free), batch_sizes + [k, fy])
    return _reshaped(matmul(x, y), sizes), labels


# -- einsum ---------------------------------------------------------------------------------

LETTERS = string.ascii_letters


def _einsum_arguments(operands):
    """(subscripts, arrays) from einsum's two calling forms: ("ij,jk->ik", a, b) and
    (a, [0, 1], b, [1, 2], [0, 2]), whose integers stand for letters."""
    if not operands:
        raise ShapeError("einsum needs subscripts and at least one operand")
    if isinstance(operands[0], str):
        return operands[0], list(operands[1:])

    def letters(sublist):
        out = ""
        for s in sublist:
            if s is Ellipsis:
                out += "..."
            elif isinstance(s, (int, np.integer)) and 0 <= s < len(LETTERS):
                out += LETTERS[s]
            else:
                raise ShapeError(f"subscripts must be integers in [0, {len(LETTERS)}) or Ellipsis, not {s!r}")
        return out
    arrays, terms = list(operands[0::2]), list(operands[1::2])
    output = None
    if len(arrays) > len(terms):        # the last entry is the output's sublist
        *arrays, output = arrays
    subscripts = ",".join(letters(t) for t in terms)
    return (subscripts if output is None else f"{subscripts}->{letters(output)}"), arrays


def _parse_term(term, ndim=None):
    """A term's letters, with '...' as the marker None; checks its characters."""
    if term.count("...") > 1:
        raise ShapeError(f"'...' appears more than once in the subscripts {term!r}")
    head, dots, tail = term.partition("...")
    for c in head + tail:
        if c not in LETTERS:
            raise ShapeError(f"{c!r} in the subscripts {term!r} is not a letter")
    labels = list(head) + ([None] if dots else []) + list(tail)
    if ndim is not None:
        letters = len(head) + len(tail)
        if ndim < letters or (not dots and ndim != letters):
            raise ShapeError(f"the subscripts {term!r} do not fit an operand of {ndim} dimensions")
    return labels


def _expand_ellipsis(labels, count):
    """Labels with '...' replaced by labels of its `count` axes, numbered from the right so
    that the broadcast axes of all operands line up (as NumPy broadcasts shapes)."""
    if None not in labels:
        return labels
    i = labels.index(None)
    return labels[:i] + [("...", k) for k in range(-count, 0)] + labels[i + 1:]


def _einsum_labels(subscripts, shapes):
    """The labels of each operand's axes and of the output's, from the subscripts."""
    subscripts = subscripts.replace(" ", "")
    inputs, arrow, output = subscripts.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise ShapeError(f"the subscripts {subscripts!r} name {len(terms)} operands, but {len(shapes)} were given")
    parsed = [_parse_term(t, len(s)) for t, s in zip(terms, shapes)]
    counts = [len(s) - (len(p) - 1) if None in p else 0 for p, s in zip(parsed, shapes)]
    labels = [_expand_ellipsis(p, c) for p, c in zip(parsed, counts)]
    broadcast = [("...", k) for k in range(-max(counts, default=0), 0)]
    letters = [a for term in labels for a in term if isinstance(a, str)]
    if arrow:
        out = _parse_term(output)
        if None not in out and max(counts, default=0):
            raise ShapeError(f"the operands have axes under '...', but the output {output!r} has no '...'")
        out = _expand_ellipsis(out, len(broadcast))
        for a in out:
            if isinstance(a, str) and a not in letters:
                raise ShapeError(f"the output subscript {a!r} appears in no operand")
            if out.count(a) > 1:
                raise ShapeError(f"the output subscript {a!r} appears more than once")
    else:       # implicit: the broadcast axes, then the letters used once, in alphabetical order
        out = broadcast + sorted(a for a in set(letters) if letters.count(a) == 1)
    return labels, out


def _label_sizes(labels, shapes):
    """{label: size}; sizes of one label must agree, or be 1 (broadcast, as NumPy does)."""
    sizes = {}
    for term, shape in zip(labels, shapes):
        seen = {}
        for a, d in zip(term, shape):
            if seen.setdefault(a, d) != d:
                raise ShapeError(f"the repeated subscript {a!r} of one operand has sizes {seen[a]} and {d}")
            if d != 1:
                if sizes.get(a, 1) != 1 and sizes[a] != d:
                    raise ShapeError(f"the subscript {_shown(a)} has sizes {sizes[a]} and {d}")
                sizes[a] = d
            else:
                sizes.setdefault(a, 1)
    return sizes


def _shown(label):
    return repr(label) if isinstance(label, str) else "'...'"


def _prepared(x, labels, sizes):
    """One operand made ready to contract: diagonals taken where a label repeats, and axes of
    length 1 that broadcast against a longer one dropped (the operand is constant along them)."""
    while len(set(labels)) < len(labels):
        a = next(a for a in labels if labels.count(a) > 1)
        i = labels.index(a)
        j = labels.index(a, i + 1)
        x = diagonal(x, 0, i, j)
        labels = [b for k, b in enumerate(labels) if k not in (i, j)] + [a]
    shape = shape_of(x)
    dropped = [k for k, a in enumerate(labels) if shape[k] == 1 and sizes[a] != 1]
    if dropped:
        x = reshape(x, tuple(d for k, d in enumerate(shape) if k not in dropped))
        labels = [a for k, a in enumerate(labels) if k not in dropped]
    return x, labels


def _cheapest_pair(labels, sizes, output):
    """The two operands whose contraction makes the smallest result (a greedy order, as
    opt_einsum's 'greedy' picks)."""
    best = None
    for i in range(len(labels)):
        for j in range(i + 1, len(labels)):
            others = set(output).union(*[labels[k] for k in range(len(labels)) if k not in (i, j)])
            result = [a for a in dict.fromkeys(labels[i] + labels[j]) if a in others]
            size = math.prod(sizes[a] for a in result)
            if best is None or size < best[0]:
                best = (size, i, j)
    return best[1], best[2]


@composite("einsum", numpy=(np.einsum,))
def einsum(*operands, out=None, dtype=None, order="K", casting="safe", optimize=False):
    """numpy.einsum: explicit and implicit outputs, '...', repeated subscripts (diagonals),
    any number of operands.

    Each operand first loses its repeated subscripts (diagonals) and the subscripts no other
    operand and not the output has (sums); then the two operands whose product is smallest
    are contracted (`_contract_pair`: one matmul), until one is left, which is summed and
    transposed into the output. `optimize` is accepted and changes nothing: the order is
    always chosen this way.
    """
    refuse_options("einsum", out=out, dtype=dtype, order=None if order in ("K", "C", "A") else order,
                   casting=None if casting == "safe" else casting)
    subscripts, arrays = _einsum_arguments(operands)
    arrays = _arrays(*arrays)
    shapes = [shape_of(a) for a in arrays]
    labels, output = _einsum_labels(subscripts, shapes)
    sizes = _label_sizes(labels, shapes)
    result_dtype = np.result_type(*[a.dtype for a in arrays])
    arrays = [a if a.dtype == result_dtype else cast(a, result_dtype) for a in arrays]   # as NumPy computes
    prepared = [_prepared(x, term, sizes) for x, term in zip(arrays, labels)]
    xs, labels = [p[0] for p in prepared], [p[1] for p in prepared]
    for k in range(len(xs)):
        needed = set(output).union(*[labels[i] for i in range(len(xs)) if i != k])
        xs[k], labels[k] = _sum_labels(xs[k], labels[k], [a for a in labels[k] if a not in needed])
    while len(xs) > 1:
        i, j = _cheapest_pair(labels, sizes, output)
        keep = set(output).union(*[labels[k] for k in range(len(xs)) if k not in (i, j)])
        x, x_labels = _contract_pair(xs[i], labels[i], xs[j], labels[j], keep)
        xs = [x] + [xs[k] for k in range(len(xs)) if k not in (i, j)]
        labels = [x_labels] + [labels[k] for k in range(len(labels)) if k not in (i, j)]
    x, x_labels = _sum_labels(xs[0], labels[0], [a for a in labels[0] if a not in output])
    x = _arranged(x, x_labels, [a for a in output if a in x_labels])
    missing = [a for a in output if a not in x_labels]     # broadcast from operands of length 1 only
    if missing:
        present = [a for a in output if a in x_labels]
        x = _reshaped(x, [sizes[a] if a in present else 1 for a in output])
        x = broadcast_to(x, tuple(sizes[a] for a in output))
    return x if x.dtype == result_dtype else cast(x, result_dtype)      # sums widen small integers


def _arrays(*xs):
    """The operands as arrays: NumPy's contractions take a Python number as an array of its
    own dtype (float64 for 2.0), not as a weakly typed scalar."""
    return tuple(x if hasattr(x, "dtype") and hasattr(x, "shape") else np.asarray(x) for x in xs)


# -- NumPy's other contractions ----------------------------------------------------------------

def _tensordot_axes(axes, a_ndim, b_ndim):
    """tensordot's `axes` as two equally long tuples of non-negative axes of a and b."""
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if not 0 <= n <= min(a_ndim, b_ndim):
            raise ShapeError(f"axes={n} must be between 0 and the smaller number of dimensions")
        return tuple(range(a_ndim - n, a_ndim)), tuple(range(n))
    try:
        a_axes, b_axes = axes
    except (TypeError, ValueError):
        raise ShapeError(f"axes must be an int or a pair of sequences of axes, not {axes!r}") from None
    a_axes, b_axes = int_tuple(a_axes, "axes"), int_tuple(b_axes, "axes")
    if len(a_axes) != len(b_axes):
        raise ShapeError(f"the axes {a_axes} and {b_axes} are not equally many")
    return (tuple(_one_axis(k, a_ndim) for k in a_axes), tuple(_one_axis(k, b_ndim) for k in b_axes))


def _one_axis(k, ndim):
    if not -ndim <= k < ndim:
        raise ShapeError(f"axis {k} is out of range for a {ndim}-d array")
    return k % ndim


@composite("tensordot", numpy=(np.tensordot, np.linalg.tensordot))
def tensordot(a, b, axes=2):
    """numpy.tensordot: sum the products over `axes` (the last n of a and first n of b, or
    the pair of sequences given); the free axes of a, then those of b."""
    a, b = _arrays(a, b)
    a_shape, b_shape = shape_of(a), shape_of(b)
    a_axes, b_axes = _tensordot_axes(axes, len(a_shape), len(b_shape))
    if len(set(a_axes)) != len(a_axes) or len(set(b_axes)) != len(b_axes):
        raise ShapeError(f"repeated axis in axes={axes!r}")
    for i, j in zip(a_axes, b_axes):
        if a_shape[i] != b_shape[j]:
            raise ShapeError(f"axis {i} of a has {a_shape[i]} entries and axis {j} of b has {b_shape[j]}")
    a_labels = [("a", i) for i in range(len(a_shape))]
    b_labels = [("b", j) for j in range(len(b_shape))]
    for i, j in zip(a_axes, b_axes):
        b_labels[j] = a_labels[i]
    summed = {a_labels[i] for i in a_axes}
    x, _ = _contract_pair(a, a_labels, b, b_labels, keep=set(a_labels + b_labels) - summed)
    return x        # its axes: the free ones of a, then those of b, each in order


@composite("dot", numpy=(np.dot,), methods=("dot",))
def dot(a, b, out=None):
    """numpy.dot: a product with a scalar; the matrix product up to 2-d; beyond, the sum
    over the last axis of a and the second-to-last of b (not matmul's batching)."""
    refuse_options("dot", out=out)
    a, b = _arrays(a, b)
    if ndim_of(a) == 0 or ndim_of(b) == 0:
        return multiply(a, b)
    if ndim_of(b) <= 2 and ndim_of(a) <= 2 or ndim_of(b) == 1:
        return matmul(a, b)
    return tensordot(a, b, ((-1,), (-2,)))


@composite("inner", numpy=(np.inner,))
def inner(a, b):
    """numpy.inner: the sum of products over the last axes of a and b."""
    a, b = _arrays(a, b)
    if ndim_of(a) == 0 or ndim_of(b) == 0:
        return multiply(a, b)
    return tensordot(a, b, ((-1,), (-1,)))


@composite("vdot", numpy=(np.vdot,))
def vdot(a, b):
    """numpy.vdot: the dot product of a and b flattened (real arrays: no conjugate)."""
    a, b = (ravel(x) for x in _arrays(a, b))
    if shape_of(a) != shape_of(b):
        raise ShapeError(f"vdot needs arrays of equal size, not {shape_of(a)[0]} and {shape_of(b)[0]} entries")
    return matmul(a, b)


@composite("outer", numpy=(np.outer, np.linalg.outer))
def outer(a, b, out=None):
    """numpy.outer: every entry of a (flattened) times every entry of b, as a matrix."""
    refuse_options("outer", out=out)
    a, b = (ravel(x) for x in _arrays(a, b))
    return multiply(reshape(a, (shape_of(a)[0], 1)), b)


@composite("kron", numpy=(np.kron,))
def kron(a, b):
    """numpy.kron: the Kronecker product, blocks of b scaled by the entries of a.

    With both made of the same number of axes, a's entries spread along a first axis of each
    pair and b's along a second, the broadcast product flattened pairwise is the result.
    """
    a, b = _arrays(a, b)
    ndim = max(ndim_of(a), ndim_of(b))
    a_shape = (1,) * (ndim - ndim_of(a)) + shape_of(a)
    b_shape = (1,) * (ndim - ndim_of(b)) + shape_of(b)
    a = reshape(a, tuple(d for n in a_shape for d in (n, 1)))
    b = reshape(b, tuple(d for n in b_shape for d in (1, n)))
    return reshape(multiply(a, b), tuple(m * n for m, n in zip(a_shape, b_shape)))


@composite("trace", numpy=(np.trace,), methods=("trace",))
def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    """numpy.trace: the sum of the diagonal (see diagonal for offset and the axes)."""
    refuse_options("trace", out=out)
    return reduce_sum(diagonal(a, offset, axis1, axis2), -1, dtype=dtype)


@composite("linalg_trace", numpy=(np.linalg.trace,))
def linalg_trace(x, offset=0, dtype=None):
    """numpy.linalg.trace: the trace of the last two axes."""
    return trace(x, offset, -2, -1, dtype=dtype)


def _last(x, axis):
    """`x` with `axis` moved to the end."""
    ndim = ndim_of(x)
    k = _one_axis(axis, ndim)
    return _arranged(x, list(range(ndim)), [i for i in range(ndim) if i != k] + [k])


def _check_ndim(name, x1, x2, least1, least2):
    if ndim_of(x1) < least1 or ndim_of(x2) < least2:
        raise ShapeError(f"{name} needs arrays of at least {least1} and {least2} dimensions")


@composite("matvec", numpy=(np.matvec,) if hasattr(np, "matvec") else ())
def matvec(x1, x2):
    """numpy.matvec: matrices (..., m, n) times vectors (..., n), batched as matmul."""
    _check_ndim("matvec", x1, x2, 2, 1)
    out = matmul(x1, reshape(x2, shape_of(x2) + (1,)))
    return reshape(out, shape_of(out)[:-1])


@composite("vecmat", numpy=(np.vecmat,) if hasattr(np, "vecmat") else ())
def vecmat(x1, x2):
    """numpy.vecmat: vectors (..., n) times matrices (..., n, m), batched as matmul."""
    _check_ndim("vecmat", x1, x2, 1, 2)
    out = matmul(reshape(x1, shape_of(x1)[:-1] + (1,) + shape_of(x1)[-1:]), x2)
    return reshape(out, shape_of(out)[:-2] + shape_of(out)[-1:])


@composite("vecdot", numpy=tuple(getattr(m, "vecdot") for m in (np, np.linalg) if hasattr(m, "vecdot")))
def vecdot(x1, x2, axis=-1):
    """numpy.vecdot: the dot products of the vectors along `axis` of each, broadcast over the
    other axes."""
    _check_ndim("vecdot", x1, x2, 1, 1)
    x1, x2 = _last(x1, axis), _last(x2, axis)
    if shape_of(x1)[-1] != shape_of(x2)[-1]:
        raise ShapeError(f"the vectors have {shape_of(x1)[-1]} and {shape_of(x2)[-1]} entries")
    return reduce_sum(multiply(x1, x2), -1)
