"""Numba kernels for the ops for neural networks: convolutions, pooling, random numbers.

The generated driver (emit.py) calls the plain-Python functions at the bottom of
this file for these ops, as it calls BLAS for a matrix product: each takes the op's
arguments, its attributes and the output array to fill, makes the arguments C-contiguous
arrays of the output's dtype, and runs compiled loops. The loops run on one thread: they
only move data (a convolution's arithmetic is a matrix product, done by BLAS with its own
threads), and on a machine of a few cores a second pool of threads would only compete with
BLAS's for them.

Pooling and random numbers keep NumPy's order of operations (no fastmath), so their results
are the interpreter's bit for bit where windows do not overlap (overlapping windows add
their gradients in another order). random_uniform computes the SplitMix64 numbers of
irtoy.ops exactly.

Set NUMBA_DISABLE_JIT=1 to step through a kernel as plain Python.
"""
import numpy as np
from numba import njit

from irtoy.ops.random import SPLITMIX_GAMMA, SPLITMIX_MULTIPLIERS, SPLITMIX_SHIFTS, random_key

OPTIONS = dict(cache=True, nogil=True, error_model="numpy")


# -- convolution: patches (numba) and matrix products (BLAS) ----------------------------------------
# A convolution is a matrix product once every window is laid out as a column (im2col):
# cols[n] is (C*KH*KW, OH*OW), so conv2d is w (O, C*KH*KW) @ cols[n] for each image, the
# weight gradient sums g[n] @ cols[n]^T, and the input gradient is w^T @ g[n] folded back
# onto the image (col2im). The products go to BLAS through NumPy, as the interpreter's do;
# the kernels here only move data.

@njit(**OPTIONS)
def _im2col(x, kh, kw, sh, sw, ph, pw, cols):
    """cols[n, c, a, b, i, j] = x[n, c, i*sh + a - ph, j*sw + b - pw], zero outside the image."""
    n_, c_, h, wd = x.shape
    oh, ow = cols.shape[4], cols.shape[5]
    for n in range(n_):
        for c in range(c_):
            for a in range(kh):
                for b in range(kw):
                    for i in range(oh):
                        r = i * sh + a - ph
                        for j in range(ow):
                            s = j * sw + b - pw
                            inside = 0 <= r < h and 0 <= s < wd
                            cols[n, c, a, b, i, j] = x[n, c, r, s] if inside else 0


@njit(**OPTIONS)
def _col2im(cols, sh, sw, ph, pw, out):
    """The adjoint of _im2col: out[n, c, i*sh + a - ph, j*sw + b - pw] += cols[n, c, a, b, i, j]."""
    n_, c_, kh, kw, oh, ow = cols.shape
    h, wd = out.shape[2], out.shape[3]
    for n in range(n_):
        out[n] = 0
        for c in range(c_):
            for a in range(kh):
                for b in range(kw):
                    for i in range(oh):
                        r = i * sh + a - ph
                        if 0 <= r < h:
                            for j in range(ow):
                                s = j * sw + b - pw
                                if 0 <= s < wd:
                                    out[n, c, r, s] += cols[n, c, a, b, i, j]


def _columns(x, kernel_size, positions, stride, padding, dtype):
    """im2col of x as (N, C*KH*KW, OH*OW)."""
    n, c = x.shape[:2]
    cols = np.empty((n, c) + tuple(kernel_size) + tuple(positions), dtype)
    _im2col(_array(x, dtype), *kernel_size, *stride, *padding, cols)
    return cols.reshape(n, -1, positions[0] * positions[1])


# -- pooling -------------------------------------------------------------------------------------

@njit(inline="always")
def _first_max(x, n, c, r0, s0, kh, kw):
    """(row, col) of the first largest entry of the window at (r0, s0): a later entry wins
    only if strictly larger, as in irtoy.ops."""
    best, br, bs = x[n, c, r0, s0], r0, s0
    for a in range(kh):
        for b in range(kw):
            v = x[n, c, r0 + a, s0 + b]
            if v > best:
                best, br, bs = v, r0 + a, s0 + b
    return br, bs


@njit(**OPTIONS)
def _max_pool2d(x, kh, kw, sh, sw, out):
    """Window offset by window offset, along whole output rows (so the inner loop vectorizes)."""
    n_, c_, oh, ow = out.shape
    for n in range(n_):
        for c in range(c_):
            for i in range(oh):
                for j in range(ow):
                    out[n, c, i, j] = x[n, c, i * sh, j * sw]
                for a in range(kh):
                    for b in range(kw):
                        for j in range(ow):
                            v, best = x[n, c, i * sh + a, j * sw + b], out[n, c, i, j]
                            out[n, c, i, j] = v if v > best or v != v else best   # NaN wins, as in np.maximum


@njit(**OPTIONS)
def _max_pool2d_grad(x, g, kh, kw, sh, sw, out):
    n_, c_, oh, ow = g.shape
    for n in range(n_):
        out[n] = 0.0
        for c in range(c_):
            for i in range(oh):
                for j in range(ow):
                    r, s = _first_max(x, n, c, i * sh, j * sw, kh, kw)
                    out[n, c, r, s] += g[n, c, i, j]


@njit(**OPTIONS)
def _max_pool2d_pick(x, v, kh, kw, sh, sw, out):
    n_, c_, oh, ow = out.shape
    for n in range(n_):
        for c in range(c_):
            for i in range(oh):
                for j in range(ow):
                    r, s = _first_max(x, n, c, i * sh, j * sw, kh, kw)
                    out[n, c, i, j] = v[n, c, r, s]


@njit(**OPTIONS)
def _avg_pool2d(x, kh, kw, sh, sw, count, out):
    """Offsets added in row-major order, as the interpreter adds them, then divided by count."""
    n_, c_, oh, ow = out.shape
    for n in range(n_):
        for c in range(c_):
            for i in range(oh):
                for j in range(ow):
                    out[n, c, i, j] = x[n, c, i * sh, j * sw]
                for a in range(kh):
                    for b in range(kw):
                        if a + b > 0:
                            for j in range(ow):
                                out[n, c, i, j] += x[n, c, i * sh + a, j * sw + b]
                for j in range(ow):
                    out[n, c, i, j] /= count


@njit(**OPTIONS)
def _avg_pool2d_grad(g, kh, kw, sh, sw, count, out):
    n_, c_, oh, ow = g.shape
    for n in range(n_):
        out[n] = 0.0
        for c in range(c_):
            for i in range(oh):
                for j in range(ow):
                    share = g[n, c, i, j] / count
                    for a in range(kh):
                        for b in range(kw):
                            out[n, c, i * sh + a, j * sw + b] += share


# -- random numbers --------------------------------------------------------------------------------

_GAMMA = np.uint64(SPLITMIX_GAMMA)
_M1, _M2 = (np.uint64(m) for m in SPLITMIX_MULTIPLIERS)
_S1, _S2, _S3 = (np.uint64(s) for s in SPLITMIX_SHIFTS)


@njit(inline="always")
def _mix64(z):
    z = (z ^ (z >> _S1)) * _M1
    z = (z ^ (z >> _S2)) * _M2
    return z ^ (z >> _S3)


@njit(**OPTIONS)
def _random_uniform32(key, out):
    scale = np.float32(2.0 ** -24)
    for i in range(out.size):
        bits = _mix64(key + np.uint64(i + 1) * _GAMMA)
        out[i] = np.float32(bits >> np.uint64(40)) * scale


@njit(**OPTIONS)
def _random_uniform64(key, out):
    scale = 2.0 ** -53
    for i in range(out.size):
        bits = _mix64(key + np.uint64(i + 1) * _GAMMA)
        out[i] = np.float64(bits >> np.uint64(11)) * scale


# -- what the driver calls ---------------------------------------------------------------------------

def _array(value, dtype):
    return np.ascontiguousarray(value, dtype=dtype)


def conv2d(x, w, stride, padding, out):
    n, o = out.shape[:2]
    cols = _columns(x, w.shape[2:], out.shape[2:], stride, padding, out.dtype)
    np.matmul(_array(w, out.dtype).reshape(o, -1), cols, out=out.reshape(n, o, -1))
    return out


def conv_transpose2d(y, w, stride, padding, out):
    (n, o), (c, kh, kw) = y.shape[:2], w.shape[1:]
    w_rows = _array(w, out.dtype).reshape(o, -1)
    cols = np.matmul(w_rows.T, _array(y, out.dtype).reshape(n, o, -1))       # (N, C*KH*KW, OH*OW)
    _col2im(cols.reshape((n, c, kh, kw) + y.shape[2:]), *stride, *padding, out)
    return out


def conv2d_weight_grad(x, g, stride, padding, out):
    n, o = g.shape[:2]
    cols = _columns(x, out.shape[2:], g.shape[2:], stride, padding, out.dtype)
    per_image = np.matmul(_array(g, out.dtype).reshape(n, o, -1), cols.transpose(0, 2, 1))
    np.sum(per_image, axis=0, out=out.reshape(o, -1))
    return out


def max_pool2d(x, window, stride, out):
    _max_pool2d(_array(x, out.dtype), *window, *stride, out)
    return out


def max_pool2d_grad(x, g, window, stride, out):
    _max_pool2d_grad(_array(x, x.dtype), _array(g, out.dtype), *window, *stride, out)
    return out


def max_pool2d_pick(x, v, window, stride, out):
    _max_pool2d_pick(_array(x, x.dtype), _array(v, out.dtype), *window, *stride, out)
    return out


def avg_pool2d(x, window, stride, out):
    _avg_pool2d(_array(x, out.dtype), *window, *stride, out.dtype.type(window[0] * window[1]), out)
    return out


def avg_pool2d_grad(g, window, stride, out):
    _avg_pool2d_grad(_array(g, out.dtype), *window, *stride, out.dtype.type(window[0] * window[1]), out)
    return out


def random_uniform(seed, stream, shape, dtype, out=None):
    """The numbers of irtoy.ops.random_uniform; a 0-d draw (out None) comes back as a scalar."""
    result = np.empty(shape, dtype) if out is None else out
    draw = _random_uniform32 if result.dtype == np.float32 else _random_uniform64
    draw(np.uint64(random_key(seed, stream)), result.reshape(-1))
    return result if out is not None else result[()]
