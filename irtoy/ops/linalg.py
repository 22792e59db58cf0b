"""Linear algebra: numpy.linalg, batched over leading axes as NumPy's.

Each factorisation, inverse or solve is an op of kind "linalg" whose reference code is
NumPy's own (LAPACK); the numba backend has its driver call that same code, since a LAPACK
call is no loop to fuse. Everything else (norm, pinv, matrix_power, eigvalsh, svdvals,
multi_dot, cond, matrix_rank) is a composition of these and other ops.

A node is one array, so an op with several results (slogdet, qr, eigh, svd) computes them
once and stacks them in one array; its public function slices them apart again (views,
which cost nothing). Along the second-to-last axis, each op's array holds:

    qr     (..., m + n, k)   Q (m, k), then R transposed (n, k)            k = min(m, n)
    eigh   (..., n + 1, n)   the eigenvectors as columns (n, n), then the eigenvalues
    svd    (..., m + n + 1, k)   U (m, k), V = Vh transposed (n, k), then the singular values
and slogdet (..., 2) holds the sign and the log of |det| along the last axis.

NumPy raises LinAlgError for a singular matrix (inv, solve) or one that is not positive
definite (cholesky); here that is `LinAlgError`, an IrtoyError too, naming the function,
and each backend adds the node and the user's line that made it.
"""
import builtins

import numpy as np

from irtoy.errors import IrtoyError, ShapeError, TraceError
from irtoy.ops.contraction import LETTERS, einsum, matmul
from irtoy.ops.elementwise import (abs as absolute, broadcast_shapes, cast, equal, multiply, not_equal, power, sqrt,
                                  where)
from irtoy.ops.movement import broadcast_to, getitem, reshape, transpose
from irtoy.ops.normalize import int_tuple, ndim_of, normalize_axes, refuse_options, shape_of
from irtoy.ops.reductions import max as reduce_max, min as reduce_min, sum as reduce_sum
from irtoy.ops.registry import REGISTRY, bind, composite, declare
from irtoy.ops.spec import Spec


class LinAlgError(IrtoyError, np.linalg.LinAlgError):
    """numpy.linalg could not compute a result: a singular matrix, one that is not positive
    definite, or a factorisation that did not converge."""


def _result(name, *fields):
    """A tuple class whose entries are also attributes named as in NumPy's result (qr(a).Q):
    a tuple, not a namedtuple, so that a traced function may return it as it is."""
    return type(name, (tuple,), {f: property(lambda self, i=i: self[i]) for i, f in enumerate(fields)})


SlogdetResult = _result("SlogdetResult", "sign", "logabsdet")
QRResult = _result("QRResult", "Q", "R")
EighResult = _result("EighResult", "eigenvalues", "eigenvectors")
SVDResult = _result("SVDResult", "U", "S", "Vh")


def _numpy(name, *args, **kwargs):
    """numpy.linalg.<name>(*args), its LinAlgError as irtoy's (naming the function)."""
    try:
        return getattr(np.linalg, name)(*args, **kwargs)
    except np.linalg.LinAlgError as e:
        raise LinAlgError(f"numpy.linalg.{name}: {e}") from None


def call_at(where, op, *args, **attrs):
    """The op `op` computed by its reference code, a LinAlgError told `where` it happened (the
    node and the user's line): how the numba backend's driver computes these ops."""
    try:
        return REGISTRY[op].impl(*args, **attrs)
    except LinAlgError as e:
        e.add_note(f"while computing {where}")
        raise


# -- shape rules ----------------------------------------------------------------------------

def _matrices(x, square=False):
    """Check that `x` is a stack of (square) float32 or float64 matrices: (batch, m, n)."""
    if len(x.shape) < 2:
        raise ShapeError(f"needs an array of at least 2 dimensions, not {x}")
    if square and x.shape[-1] != x.shape[-2]:
        raise ShapeError(f"needs square matrices in the last two axes, not {x}")
    if x.dtype not in (np.float32, np.float64):
        raise ShapeError(f"computes in float32 or float64, not {x.dtype} (as NumPy's linalg)")
    return x.shape[:-2], x.shape[-2], x.shape[-1]


def _square_rule(shape_of_result):
    def infer(specs, **attrs):
        (a,) = specs
        batch, n, _ = _matrices(a, square=True)
        return Spec(shape_of_result(batch, n), a.dtype)
    return infer


def _linalg_input(a):
    """An argument of np.linalg as NumPy takes it: integers and bools become float64."""
    dtype = a.dtype if hasattr(a, "dtype") else np.asarray(a).dtype
    return a if dtype.kind == "f" else cast(a, np.float64)


# -- the ops ----------------------------------------------------------------------------------

@declare("det", "linalg", _square_rule(lambda batch, n: batch), lambda a: _numpy("det", a), 1,
         numpy=(np.linalg.det,), cost=4, doc="numpy.linalg.det")
def det(a):
    """numpy.linalg.det: the determinant of each matrix."""
    return bind("det", _linalg_input(a))


def _slogdet(a):
    return np.stack(_numpy("slogdet", a), axis=-1)


@declare("slogdet", "linalg", _square_rule(lambda batch, n: batch + (2,)), _slogdet, 1,
         numpy=(np.linalg.slogdet,), cost=4, doc="numpy.linalg.slogdet: sign and log|det| along a last axis")
def slogdet(a):
    """numpy.linalg.slogdet: the sign and the log of the absolute value of the determinant."""
    both = bind("slogdet", _linalg_input(a))
    return SlogdetResult((getitem(both, (Ellipsis, 0)), getitem(both, (Ellipsis, 1))))


@declare("inv", "linalg", _square_rule(lambda batch, n: batch + (n, n)), lambda a: _numpy("inv", a), 1,
         numpy=(np.linalg.inv,), cost=4, doc="numpy.linalg.inv")
def inv(a):
    """numpy.linalg.inv: the inverse of each matrix."""
    return bind("inv", _linalg_input(a))


def solve_rule(specs):
    a, b = specs
    batch, n, _ = _matrices(a, square=True)
    if b.dtype.kind != "f" or len(b.shape) == 0:
        raise ShapeError(f"b must be a float array of at least 1 dimension, not {b}")
    if len(b.shape) == 1:           # one vector for every matrix (NumPy 2's rule)
        if b.shape[0] != n:
            raise ShapeError(f"b has {b.shape[0]} entries, the matrices {n} rows")
        return Spec(batch + (n,), np.result_type(a.dtype, b.dtype))
    if b.shape[-2] != n:
        raise ShapeError(f"b has {b.shape[-2]} rows, the matrices {n}")
    return Spec(broadcast_shapes(batch, b.shape[:-2]) + b.shape[-2:], np.result_type(a.dtype, b.dtype))


@declare("solve", "linalg", solve_rule, lambda a, b: _numpy("solve", a, b), 2, numpy=(np.linalg.solve,), cost=4,
         doc="numpy.linalg.solve: x with a @ x == b")
def solve(a, b):
    """numpy.linalg.solve: x with a @ x == b; b is one vector if 1-d, else a stack of matrices."""
    return bind("solve", _linalg_input(a), _linalg_input(b))


@declare("cholesky", "linalg", _square_rule(lambda batch, n: batch + (n, n)), lambda a: _numpy("cholesky", a), 1,
         numpy=(np.linalg.cholesky,), cost=4, doc="numpy.linalg.cholesky: the lower factor L, a = L L^T")
def cholesky(a, upper=False):
    """numpy.linalg.cholesky: L, lower triangular with a = L @ L^T (reading a's lower
    triangle); with upper=True its transpose."""
    lower = bind("cholesky", _linalg_input(a))
    return _swap_last_two(lower) if upper else lower


def _swap_last_two(x):
    ndim = ndim_of(x)
    return transpose(x, tuple(range(ndim - 2)) + (ndim - 1, ndim - 2))


def qr_rule(specs):
    (a,) = specs
    batch, m, n = _matrices(a)
    return Spec(batch + (m + n, builtins.min(m, n)), a.dtype)


def _qr(a):
    q, r = _numpy("qr", a)
    return np.concatenate([q, np.swapaxes(r, -1, -2)], axis=-2)


@declare("qr", "linalg", qr_rule, _qr, 1, numpy=(np.linalg.qr,), cost=4,
         doc="numpy.linalg.qr (reduced): Q, then R transposed, along the second-to-last axis")
def qr(a, mode="reduced"):
    """numpy.linalg.qr: Q with orthonormal columns and R upper triangular, a = Q @ R.
    mode 'reduced', 'r' (R only), or 'complete' where it is the same (m <= n)."""
    a = _linalg_input(a)
    m, n = shape_of(a)[-2:] if ndim_of(a) >= 2 else (0, 0)
    if mode not in ("reduced", "r") and not (mode == "complete" and m <= n):
        raise TraceError(f"mode={mode!r} cannot be traced: use mode='reduced'")
    both = bind("qr", a)
    r = _swap_last_two(getitem(both, (Ellipsis, slice(m, m + n), slice(None))))
    return r if mode == "r" else QRResult((getitem(both, (Ellipsis, slice(0, m), slice(None))), r))


def _eigh(a, UPLO):
    w, v = _numpy("eigh", a, UPLO)
    return np.concatenate([v, w[..., None, :]], axis=-2)


def _uplo(UPLO):
    if UPLO not in ("L", "U"):
        raise ShapeError(f"UPLO must be 'L' or 'U', not {UPLO!r}")
    return UPLO


@declare("eigh", "linalg", _square_rule(lambda batch, n: batch + (n + 1, n)), _eigh, 1, numpy=(np.linalg.eigh,),
         cost=4, doc="numpy.linalg.eigh: the eigenvectors as columns, then the eigenvalues as a last row")
def eigh(a, UPLO="L"):
    """numpy.linalg.eigh: eigenvalues (ascending) and eigenvectors (columns) of symmetric
    matrices, read from their lower (UPLO='L') or upper triangle."""
    both = bind("eigh", _linalg_input(a), UPLO=_uplo(UPLO))
    n = shape_of(both)[-1]
    return EighResult((getitem(both, (Ellipsis, n, slice(None))), getitem(both, (Ellipsis, slice(0, n), slice(None)))))


def svd_rule(specs):
    (a,) = specs
    batch, m, n = _matrices(a)
    return Spec(batch + (m + n + 1, builtins.min(m, n)), a.dtype)


def _svd(a):
    u, s, vh = _numpy("svd", a, full_matrices=False)
    return np.concatenate([u, np.swapaxes(vh, -1, -2), s[..., None, :]], axis=-2)


@declare("svd", "linalg", svd_rule, _svd, 1, numpy=(np.linalg.svd,), cost=4,
         doc="numpy.linalg.svd (reduced): U, V, then the singular values, along the second-to-last axis")
def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """numpy.linalg.svd: a = U @ diag(S) @ Vh, singular values descending. full_matrices
    must be False (or the matrices square, where it changes nothing)."""
    refuse_options("linalg.svd", hermitian=hermitian or None)
    a = _linalg_input(a)
    m, n = shape_of(a)[-2:] if ndim_of(a) >= 2 else (0, 0)
    if full_matrices and compute_uv and m != n:
        raise TraceError(f"full_matrices=True of {m}x{n} matrices cannot be traced: pass full_matrices=False")
    packed = bind("svd", a)
    s = getitem(packed, (Ellipsis, m + n, slice(None)))
    if not compute_uv:
        return s
    u = getitem(packed, (Ellipsis, slice(0, m), slice(None)))
    v = getitem(packed, (Ellipsis, slice(m, m + n), slice(None)))
    return SVDResult((u, s, _swap_last_two(v)))


# -- compositions -------------------------------------------------------------------------------

@composite("eigvalsh", numpy=(np.linalg.eigvalsh,))
def eigvalsh(a, UPLO="L"):
    """numpy.linalg.eigvalsh: the eigenvalues of symmetric matrices (those eigh computes)."""
    return eigh(a, UPLO).eigenvalues


@composite("svdvals", numpy=(np.linalg.svdvals,) if hasattr(np.linalg, "svdvals") else ())
def svdvals(x):
    """numpy.linalg.svdvals: the singular values (those svd computes)."""
    return svd(x, compute_uv=False)


@composite("pinv", numpy=(np.linalg.pinv,))
def pinv(a, rcond=None, hermitian=False, *, rtol=np._NoValue):
    """numpy.linalg.pinv: V diag(1/s) U^T, singular values at most rcond times the largest
    taken as 0 (rcond, or rtol, as NumPy reads them)."""
    refuse_options("linalg.pinv", hermitian=hermitian or None)
    a = _linalg_input(a)
    if rcond is not None and rtol is not np._NoValue:
        raise ShapeError("rtol and rcond cannot both be given")
    if rcond is None:
        largest = max(shape_of(a)[-2:]) if ndim_of(a) >= 2 else 0
        rcond = 1e-15 if rtol is np._NoValue else largest * np.finfo(a.dtype).eps if rtol is None else rtol
    u, s, vh = svd(a, full_matrices=False)
    cutoff = multiply(np.asarray(rcond)[..., None] if np.ndim(rcond) else rcond, reduce_max(s, -1, keepdims=True))
    kept = s > cutoff
    safe = where(kept, s, 1)        # guards the division where s is dropped (its gradient too)
    s_inverse = where(kept, 1 / safe, 0)
    return matmul(_swap_last_two(vh), multiply(reshape(s_inverse, shape_of(s_inverse) + (1,)), _swap_last_two(u)))


@composite("matrix_power", numpy=(np.linalg.matrix_power,))
def matrix_power(a, n):
    """numpy.linalg.matrix_power: a @ a @ ... (n times) by repeated squaring; n == 0 is the
    identity, n < 0 a power of the inverse."""
    n = int_tuple(n, "n")[0]
    shape = shape_of(a)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ShapeError(f"needs square matrices in the last two axes, not shape {shape}")
    if n == 0:
        dtype = a.dtype if hasattr(a, "dtype") else np.result_type(a)
        return broadcast_to(np.eye(shape[-1], dtype=dtype), shape)
    if n < 0:
        a, n = inv(a), -n
    result, square = None, a
    while n:
        if n & 1:
            result = square if result is None else matmul(result, square)
        n >>= 1
        if n:
            square = matmul(square, square)
    return result


@composite("multi_dot", numpy=(np.linalg.multi_dot,))
def multi_dot(arrays, *, out=None):
    """numpy.linalg.multi_dot: the product of a chain of matrices (the first may be a row
    vector, the last a column vector), contracted as einsum orders it: smallest first."""
    refuse_options("linalg.multi_dot", out=out)
    arrays = list(arrays)
    if len(arrays) < 2:
        raise ShapeError("needs at least two arrays")
    ndims = [ndim_of(x) for x in arrays]
    if ndims[0] not in (1, 2) or ndims[-1] not in (1, 2) or any(d != 2 for d in ndims[1:-1]):
        raise ShapeError(f"needs 2-d arrays (1-d at either end), not arrays of {ndims} dimensions")
    letters = LETTERS[:len(arrays) + 1]
    terms = [letters[k:k + 2] for k in range(len(arrays))]
    terms[0] = terms[0][-ndims[0]:]
    terms[-1] = terms[-1][:ndims[-1]]
    output = terms[0][:-1] + terms[-1][1:]
    return einsum(",".join(terms) + "->" + output, *arrays)


@composite("cond", numpy=(np.linalg.cond,))
def cond(x, p=None):
    """numpy.linalg.cond: the condition number, the ratio of the largest and smallest
    singular values (p None or 2; -2 its inverse), else norm(x, p) * norm(inv(x), p) (a
    singular x is then a LinAlgError, where NumPy gives inf)."""
    if p is None or p in (2, -2):
        s = svd(x, compute_uv=False)
        largest, smallest = getitem(s, (Ellipsis, 0)), getitem(s, (Ellipsis, -1))
        return smallest / largest if p == -2 else largest / smallest
    return multiply(norm(x, p, (-2, -1)), norm(inv(x), p, (-2, -1)))


@composite("matrix_rank", numpy=(np.linalg.matrix_rank,))
def matrix_rank(A, tol=None, hermitian=False, *, rtol=None):
    """numpy.linalg.matrix_rank: how many singular values exceed tol (by default the largest
    times rtol, itself max(m, n) times the dtype's epsilon unless given)."""
    refuse_options("linalg.matrix_rank", hermitian=hermitian or None)
    if ndim_of(A) < 2:
        raise ShapeError("matrix_rank of an array of fewer than 2 dimensions is a Python int: compute it "
                         "outside the traced function")
    s = svd(A, compute_uv=False)
    if tol is None:
        rtol = max(shape_of(A)[-2:]) * np.finfo(s.dtype).eps if rtol is None else np.asarray(rtol)[..., None]
        tol = multiply(reduce_max(s, -1, keepdims=True), rtol)
    else:
        tol = np.asarray(tol)[..., None]
    return reduce_sum(cast(s > tol, np.intp), -1)


# -- norms -------------------------------------------------------------------------------------

def _root(total, p):
    """total ** (1/p), 0 where total is 0 with a gradient of 0 there (not inf times 0): the
    guard is on the operand, so the unused branch is never inf."""
    zero = equal(total, 0)
    safe = where(zero, 1, total)
    return where(zero, 0, sqrt(safe) if p == 2 else power(safe, 1 / p))


def _abs_power(x, p):
    """|x| ** p with 0 ** p as NumPy gives it, and a gradient of 0 at x == 0."""
    magnitude = absolute(x)
    zero = equal(magnitude, 0)
    at_zero = 0.0 if p > 0 else np.inf
    return where(zero, at_zero, power(where(zero, 1, magnitude), p))


def _vector_norm(x, ord, axis):
    """The ord-norm along the single axis `axis` (NumPy's vector norms)."""
    if ord == np.inf:
        return reduce_max(absolute(x), axis)
    if ord == -np.inf:
        return reduce_min(absolute(x), axis)
    if ord == 0:
        return reduce_sum(cast(not_equal(x, 0), x.dtype if hasattr(x, "dtype") else np.float64), axis)
    if ord == 1:
        return reduce_sum(absolute(x), axis)
    if ord is None or ord == 2:
        return _root(reduce_sum(multiply(x, x), axis), 2)
    if isinstance(ord, str):
        raise ShapeError(f"ord={ord!r} is not a norm of vectors")
    return _root(reduce_sum(_abs_power(x, ord), axis), ord)


def _matrix_norm(x, ord, row, column):
    """The ord-norm of the matrices in axes `row` and `column` (NumPy's matrix norms)."""
    if ord in (None, "fro", "f"):
        return _root(reduce_sum(multiply(x, x), (row, column)), 2)
    if ord in (1, -1):      # the largest (smallest) column sum
        sums = reduce_sum(absolute(x), row)
        extreme = reduce_max if ord == 1 else reduce_min
        return extreme(sums, column - (column > row))
    if ord in (np.inf, -np.inf):    # the largest (smallest) row sum
        sums = reduce_sum(absolute(x), column)
        extreme = reduce_max if ord == np.inf else reduce_min
        return extreme(sums, row - (row > column))
    if ord in (2, -2, "nuc"):
        others = tuple(k for k in range(ndim_of(x)) if k not in (row, column))
        s = svd(transpose(x, others + (row, column)), compute_uv=False)
        if ord == "nuc":
            return reduce_sum(s, -1)
        return (reduce_max if ord == 2 else reduce_min)(s, -1)
    raise ShapeError(f"ord={ord!r} is not a norm of matrices")


@composite("norm", numpy=(np.linalg.norm,))
def norm(x, ord=None, axis=None, keepdims=False):
    """numpy.linalg.norm: vector norms (ord 1, 2, inf, -inf, 0 or any p) along one axis,
    matrix norms ('fro', 'nuc', 1, -1, 2, -2, inf, -inf) over two; with neither axis nor
    ord, the 2-norm of all entries. Its gradient is finite everywhere (0 at x == 0)."""
    x = _linalg_input(x)
    ndim = ndim_of(x)
    if axis is None:
        if ord is None:
            result = _root(reduce_sum(multiply(x, x)), 2)
            return reshape(result, (1,) * ndim) if keepdims else result
        if ndim not in (1, 2):
            raise ShapeError(f"ord={ord!r} without an axis needs a 1-d or 2-d array, not {ndim}-d")
        axis = tuple(range(ndim))
    axes = int_tuple(axis, "axis")
    normalized = [normalize_axes(k, ndim)[0] for k in axes]
    if len(set(normalized)) != len(normalized):
        raise ShapeError(f"repeated axis in axis={axis!r}")
    if len(normalized) == 1:
        result = _vector_norm(x, ord, normalized[0])
    elif len(normalized) == 2:
        result = _matrix_norm(x, ord, *normalized)
    else:
        raise ShapeError(f"axis={axis!r}: a norm is over one axis (vectors) or two (matrices)")
    if keepdims:
        result = reshape(result, tuple(1 if k in normalized else d for k, d in enumerate(shape_of(x))))
    return result


@composite("matrix_norm", numpy=(np.linalg.matrix_norm,) if hasattr(np.linalg, "matrix_norm") else ())
def matrix_norm(x, keepdims=False, ord="fro"):
    """numpy.linalg.matrix_norm: norm over the last two axes."""
    return norm(x, ord, (-2, -1), keepdims)


@composite("vector_norm", numpy=(np.linalg.vector_norm,) if hasattr(np.linalg, "vector_norm") else ())
def vector_norm(x, axis=None, keepdims=False, ord=2):
    """numpy.linalg.vector_norm: a vector norm over `axis` (any number of axes, all of them
    by default), as if those axes were flattened into one."""
    x = _linalg_input(x)
    shape = shape_of(x)
    axes = normalize_axes(axis, len(shape))
    others = tuple(k for k in range(len(shape)) if k not in axes)
    flat = reshape(transpose(x, others + axes), tuple(shape[k] for k in others) + (-1,))
    result = _vector_norm(flat, ord, len(others))
    if keepdims:
        result = reshape(result, tuple(1 if k in axes else d for k, d in enumerate(shape)))
    return result
