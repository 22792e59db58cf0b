"""Export rules for the linear algebra ONNX has no operator for: solve, inv, slogdet, cholesky
and qr, written with ONNX's elementwise ops, slices and reductions, one step per column.

irtoy's shapes are static, so an n-column matrix is n steps of a few nodes each, each step
working on the whole stack of matrices at once. Where NumPy raises LinAlgError (a singular or
not positive definite matrix), the model computes inf or NaN: a model cannot raise. eigh and
svd stay unexported (export_ops.NOT_EXPORTED): their algorithms iterate until they converge.
"""
import numpy as np

from irtoy.onnx.export_ops import constant, same_type


def columns(w, x, start, stop, axis=-1):
    """x[..., start:stop] along `axis` (-1: columns, -2: rows)."""
    return w.emit("Slice", [x, w.ints([start]), w.ints([stop]), w.ints([axis])])


def gauss_jordan(w, m, shape, dtype, past_zero_pivots=False):
    """Gauss-Jordan elimination with partial pivoting of the stack m = [A | B] (shape (..., n,
    n + k)): the largest |entry| at or below the diagonal of column j (the first of equal ones,
    as LAPACK's) is swapped into row j, which is divided by it and subtracted from every other
    row. Returns the reduced stack ([I | A^-1 B]), the pivots ((..., 1, 1) each, LU's pivots)
    and whether each step swapped two rows. A zero pivot (a singular matrix) gives inf or NaN
    from there on, unless `past_zero_pivots`: then its row is divided by 1 instead, and the
    later pivots are LU's, as LAPACK goes on past a zero pivot."""
    n = shape[-2]
    rows = np.arange(n).reshape(n, 1)
    row_index = w.const(rows.astype(np.int64), "rows")
    pivots, swapped = [], []
    for j in range(n):
        below = w.const(rows >= j, "at_or_below")
        score = w.emit("Where", [below, w.emit("Abs", [columns(w, m, j, j + 1)]), constant(w, -1, dtype)])
        p = w.emit("ArgMax", [score], axis=-2, keepdims=1)
        index_j = constant(w, j, np.int64)
        at_j, at_p = w.emit("Equal", [row_index, index_j]), w.emit("Equal", [row_index, p])
        order = w.emit("Where", [at_j, p, w.emit("Where", [at_p, index_j, row_index])])
        m = w.emit("GatherElements", [m, w.emit("Expand", [order, w.ints(shape)])], axis=-2)
        pivot_row = columns(w, m, j, j + 1, axis=-2)
        pivot = columns(w, pivot_row, j, j + 1)
        pivots.append(pivot)        # (the pivot itself, before a zero is replaced)
        swapped.append(w.emit("Not", [w.emit("Equal", [p, index_j])]))
        if past_zero_pivots:
            pivot = w.emit("Where", [w.emit("Equal", [pivot, constant(w, 0, dtype)]), constant(w, 1, dtype), pivot])
        normalized = w.emit("Div", [pivot_row, pivot])
        eliminated = w.emit("Sub", [m, w.emit("Mul", [columns(w, m, j, j + 1), normalized])])
        m = w.emit("Where", [w.const(rows == j, "row_j"), normalized, eliminated])
    return m, pivots, swapped


def solve(w, node, args, specs):
    """x with a @ x = b: Gauss-Jordan on [a | b], a and b broadcast to one batch (a 1-d b is
    one column for every matrix)."""
    dtype, shape = node["dtype"], node["shape"]
    a, b = same_type(w, node, args, specs)
    n = specs[0].shape[-1]
    k = 1 if len(specs[1].shape) == 1 else specs[1].shape[-1]
    batch = list(shape[:-2]) if len(specs[1].shape) > 1 else list(shape[:-1])
    a = w.emit("Expand", [a, w.ints(batch + [n, n])])
    if len(specs[1].shape) == 1:
        b = w.emit("Reshape", [b, w.ints([n, 1])])
    b = w.emit("Expand", [b, w.ints(batch + [n, k])])
    m, _, _ = gauss_jordan(w, w.emit("Concat", [a, b], axis=-1), batch + [n, n + k], dtype)
    w.emit("Reshape", [columns(w, m, n, n + k), w.ints(shape)], final=True)


def inv(w, node, args, specs):
    """Gauss-Jordan on [a | I]."""
    dtype, shape = node["dtype"], list(node["shape"])
    n = shape[-1]
    eye = w.emit("Expand", [w.const(np.eye(n, dtype=dtype), "identity"), w.ints(shape)])
    m, _, _ = gauss_jordan(w, w.emit("Concat", [args[0], eye], axis=-1), shape[:-1] + [2 * n], dtype)
    w.emit("Identity", [columns(w, m, n, 2 * n)], final=True)


def slogdet(w, node, args, specs):
    """The sign and log|det| from the pivots of the elimination (LU's): the product of their
    signs, negated once for each row swap, and the sum of log|pivot|; (0, -inf) for a singular
    matrix, as NumPy's (a zero sign made +0.0)."""
    dtype = node["dtype"]
    _, pivots, swapped = gauss_jordan(w, args[0], list(specs[0].shape), dtype, past_zero_pivots=True)
    pivots = w.emit("Concat", pivots, axis=-1)
    one, minus_one = constant(w, 1, dtype), constant(w, -1, dtype)
    flips = w.emit("Concat", [w.emit("Where", [s, minus_one, one]) for s in swapped], axis=-1)
    sign = w.emit("ReduceProd", [w.emit("Mul", [w.emit("Sign", [pivots]), flips]), w.ints([-1])], keepdims=1)
    sign = w.emit("Where", [w.emit("Equal", [sign, constant(w, 0, dtype)]), w.emit("Abs", [sign]), sign])
    log = w.emit("ReduceSum", [w.emit("Log", [w.emit("Abs", [pivots])]), w.ints([-1])], keepdims=1)
    w.emit("Reshape", [w.emit("Concat", [sign, log], axis=-1), w.ints(node["shape"])], final=True)


def cholesky(w, node, args, specs):
    """The Cholesky-Banachiewicz recurrence a column at a time, reading a's lower triangle:
    c = a[:, j] - L[:, :j] L[j, :j]; L[j, j] = sqrt(c[j]), below it c / L[j, j], above it 0."""
    dtype, n = node["dtype"], specs[0].shape[-1]
    rows = np.arange(n).reshape(n, 1)
    found = []
    for j in range(n):
        c = columns(w, args[0], j, j + 1)
        if found:
            so_far = w.emit("Concat", found, axis=-1)
            row_j = columns(w, so_far, j, j + 1, axis=-2)
            c = w.emit("Sub", [c, w.emit("ReduceSum", [w.emit("Mul", [so_far, row_j]), w.ints([-1])], keepdims=1)])
        diagonal = w.emit("Sqrt", [columns(w, c, j, j + 1, axis=-2)])
        below = w.emit("Where", [w.const(rows > j, "below"), w.emit("Div", [c, diagonal]), constant(w, 0, dtype)])
        found.append(w.emit("Where", [w.const(rows == j, "row_j"), diagonal, below]))
    w.emit("Concat", found, axis=-1, final=True)


def qr(w, node, args, specs):
    """Householder reflections, as LAPACK's geqrf: column j's reflection takes x (rows j.. of
    the column) to beta e1 with beta = -sign(x[0]) |x|, so R's diagonal has LAPACK's (NumPy's)
    signs; where x is zero below x[0] there is no reflection (R[j, j] = x[0]). Q is the product
    of the reflections, its first k columns; the node holds Q, then R transposed."""
    dtype = node["dtype"]
    *batch, m, n = specs[0].shape
    k = min(m, n)
    swap = list(range(len(batch))) + [len(batch) + 1, len(batch)]
    zero, one = constant(w, 0, dtype), constant(w, 1, dtype)
    work = args[0]          # rows j.. and columns j.. of a, the reflections 0 .. j-1 applied
    q = w.emit("Expand", [w.const(np.eye(m, dtype=dtype), "identity"), w.ints(batch + [m, m])])
    r_rows = []
    for j in range(k):
        x = columns(w, work, 0, 1)
        alpha = columns(w, x, 0, 1, axis=-2)
        row = columns(w, work, 0, 1, axis=-2)
        if j < m - 1:
            tail = columns(w, x, 1, m - j, axis=-2)
            reflect = w.emit("Greater", [w.emit("ReduceSum", [w.emit("Mul", [tail, tail]), w.ints([-2])], keepdims=1),
                                         zero])
            norm = w.emit("Sqrt", [w.emit("ReduceSum", [w.emit("Mul", [x, x]), w.ints([-2])], keepdims=1)])
            beta = w.emit("Where", [w.emit("Less", [alpha, zero]), norm, w.emit("Neg", [norm])])
            tau = w.emit("Where", [reflect, w.emit("Div", [w.emit("Sub", [beta, alpha]), beta]), zero])
            scale = w.emit("Where", [reflect, w.emit("Sub", [alpha, beta]), one])
            first = w.const(np.arange(m - j).reshape(m - j, 1) == 0, "first_row")
            v = w.emit("Where", [first, one, w.emit("Div", [x, scale])])
            along = w.emit("ReduceSum", [w.emit("Mul", [v, work]), w.ints([-2])], keepdims=1)
            work = w.emit("Sub", [work, w.emit("Mul", [w.emit("Mul", [tau, v]), along])])
            row = w.emit("Where", [w.const(np.arange(n - j) == 0, "first_column"),
                                   w.emit("Where", [reflect, beta, alpha]), columns(w, work, 0, 1, axis=-2)])
            q_right = columns(w, q, j, m)
            v_row = w.emit("Transpose", [v], perm=swap)
            qv = w.emit("ReduceSum", [w.emit("Mul", [q_right, v_row]), w.ints([-1])], keepdims=1)
            q_right = w.emit("Sub", [q_right, w.emit("Mul", [w.emit("Mul", [qv, tau]), v_row])])
            q = w.emit("Concat", [columns(w, q, 0, j), q_right], axis=-1) if j else q_right
            work = columns(w, columns(w, work, 1, m - j, axis=-2), 1, n - j)
        if j:
            row = w.emit("Concat", [w.const(np.zeros(batch + [1, j], dtype), "zeros"), row], axis=-1)
        r_rows.append(row)
    r = w.emit("Concat", r_rows, axis=-2)
    w.emit("Concat", [columns(w, q, 0, k), w.emit("Transpose", [r], perm=swap)], axis=-2, final=True)


LINALG_EXPORTERS = {"solve": solve, "inv": inv, "slogdet": slogdet, "cholesky": cholesky, "qr": qr}
