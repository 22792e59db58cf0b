"""How each registry op becomes jax.numpy / jax.lax code: one entry per op, keyed by name.

An entry is a function `(*args, **attrs) -> jax array` applied to the op's arguments (JAX
arrays, or traced JAX values inside jax.jit) and its node attributes. Ops whose reference
is a NumPy ufunc with a jax.numpy namesake need no entry: `lowering` finds it by name.

Every result has the op's NumPy dtype, exactly as the interpreter's: JAX's type promotion
differs from NumPy's in places (uint64 with int64, Python scalars), so arithmetic runs on
arguments cast to the node's result dtype first, as the numba backend does. The graph runs
with 64-bit types on (`jax.enable_x64`, scoped to the call), so float64 stays float64.
"""
import numpy as np

import jax
import jax.numpy as jnp
from jax import lax

from irtoy import ops
from irtoy.errors import IntegerPowerError, IrtoyError
from irtoy.ops.indexing import IndexOutOfRangeError, out_of_range_message
from irtoy.ops.linalg import LinAlgError
from irtoy.ops.convolution import window_positions
from irtoy.ops.random import SPLITMIX_GAMMA, SPLITMIX_MULTIPLIERS, SPLITMIX_SHIFTS


class LoweringError(IrtoyError):
    """The jax backend has no code for a node's op."""


def lowering(op):
    """The function for `op`: its entry in LOWERINGS, or the jax.numpy namesake of the op's
    NumPy ufunc. It takes the node's arguments and attributes, and `out_dtype` (the node's
    dtype) if it has a parameter of that name."""
    if op in LOWERINGS:
        return LOWERINGS[op]
    record = ops.REGISTRY.get(op)
    ufuncs = [f for f in (record.numpy if record else ()) if isinstance(f, np.ufunc)]
    if record is not None and record.kind == "elementwise" and ufuncs and hasattr(jnp, ufuncs[0].__name__):
        return _in_result_dtype(getattr(jnp, ufuncs[0].__name__))
    raise LoweringError(f"the jax backend has no lowering for op {op!r}; add one to LOWERINGS in "
                        f"backends/jax/lowering.py")


def _in_result_dtype(fn):
    """`fn` computed in the dtype NumPy's loop would use (NumPy's promotion, not JAX's): the
    node's dtype, or for a test like isnan (a bool result) the arguments' common dtype."""
    def lowered(*args, out_dtype):
        loop = np.result_type(*[a.dtype for a in args]) if out_dtype == np.bool_ else out_dtype
        return fn(*[jnp.asarray(a).astype(loop) for a in args]).astype(out_dtype)
    return lowered


def _in_common_dtype(fn):
    """`fn` (a comparison) on its arguments cast to their NumPy common dtype."""
    def lowered(*args, out_dtype):
        common = np.result_type(*[a.dtype for a in args])
        return fn(*[a.astype(common) for a in args])
    return lowered


def _where(c, x, y, out_dtype):
    return jnp.where(c.astype(bool), x.astype(out_dtype), y.astype(out_dtype))



# -- window ops: NCHW images, OIHW weights, as irtoy/ops/convolution.py -------------------------

def _dimensions():
    return lax.conv_dimension_numbers((1, 1, 1, 1), (1, 1, 1, 1), ("NCHW", "OIHW", "NCHW"))


def _conv2d(x, w, stride, padding):
    out_dtype = np.result_type(x.dtype, w.dtype)
    return lax.conv_general_dilated(x.astype(out_dtype), w.astype(out_dtype), stride,
                                     [(p, p) for p in padding], dimension_numbers=_dimensions(),
                                     precision=lax.Precision.HIGHEST)


def _conv_transpose2d(y, w, stride, padding, image_size):
    """The adjoint of conv2d in its input: JAX's own transpose of the convolution."""
    out_dtype = np.result_type(y.dtype, w.dtype)
    x = jnp.zeros((y.shape[0], w.shape[1]) + tuple(image_size), out_dtype)
    _, pull_back = jax.vjp(lambda x: _conv2d(x, w.astype(out_dtype), stride, padding), x)
    return pull_back(y.astype(out_dtype))[0]


def _conv2d_weight_grad(x, g, kernel_size, stride, padding):
    """The adjoint of conv2d in its weight."""
    out_dtype = np.result_type(x.dtype, g.dtype)
    w = jnp.zeros((g.shape[1], x.shape[1]) + tuple(kernel_size), out_dtype)
    _, pull_back = jax.vjp(lambda w: _conv2d(x.astype(out_dtype), w, stride, padding), w)
    return pull_back(g.astype(out_dtype))[0]


def _offsets(window, stride, positions):
    """(k, index) per window offset, row-major: x[index] is the entry at offset k of every window."""
    (kh, kw), (sh, sw), (oh, ow) = window, stride, positions
    for a in range(kh):
        for b in range(kw):
            yield a * kw + b, (slice(None), slice(None), slice(a, a + sh * (oh - 1) + 1, sh),
                               slice(b, b + sw * (ow - 1) + 1, sw))


def _pool(x, window, stride, combine):
    positions = window_positions(x.shape[2:], window, stride)
    parts = [x[at] for _, at in _offsets(window, stride, positions)]
    out = parts[0]
    for part in parts[1:]:
        out = combine(out, part)
    return out


def _first_max_offsets(x, window, stride):
    """Which offset holds each window's first largest entry (later ones win only if larger)."""
    positions = window_positions(x.shape[2:], window, stride)
    offsets = list(_offsets(window, stride, positions))
    best, which = x[offsets[0][1]], jnp.zeros(x.shape[:2] + positions, jnp.int64)
    for k, at in offsets[1:]:
        better = x[at] > best
        best, which = jnp.where(better, x[at], best), jnp.where(better, k, which)
    return which


def _max_pool2d_grad(x, g, window, stride):
    which, out = _first_max_offsets(x, window, stride), jnp.zeros(x.shape, g.dtype)
    for k, at in _offsets(window, stride, g.shape[2:]):
        out = out.at[at].add(jnp.where(which == k, g, 0).astype(g.dtype))
    return out


def _max_pool2d_pick(x, v, window, stride):
    which = _first_max_offsets(x, window, stride)
    out = jnp.zeros(which.shape, v.dtype)
    for k, at in _offsets(window, stride, which.shape[2:]):
        out = jnp.where(which == k, v[at], out)
    return out


def _avg_pool2d_grad(g, window, stride, image_size):
    share, out = g / g.dtype.type(window[0] * window[1]), jnp.zeros(g.shape[:2] + tuple(image_size), g.dtype)
    for _, at in _offsets(window, stride, g.shape[2:]):
        out = out.at[at].add(share)
    return out


# -- random numbers: the same SplitMix64 bits as irtoy/ops/random.py ------------------------------

def _mix64(z):
    (s1, s2, s3), (m1, m2) = SPLITMIX_SHIFTS, SPLITMIX_MULTIPLIERS
    z = (z ^ (z >> jnp.uint64(s1))) * jnp.uint64(m1)
    z = (z ^ (z >> jnp.uint64(s2))) * jnp.uint64(m2)
    return z ^ (z >> jnp.uint64(s3))


def _random_uniform(seed, shape, stream, dtype):
    gamma = jnp.uint64(SPLITMIX_GAMMA)
    key = _mix64(_mix64(seed.astype(jnp.uint64)) + jnp.uint64(stream) * gamma)
    bits = _mix64(key + jnp.arange(1, int(np.prod(shape)) + 1, dtype=jnp.uint64) * gamma)
    if np.dtype(dtype) == np.float32:
        values = (bits >> jnp.uint64(40)).astype(jnp.float32) * jnp.float32(2.0 ** -24)
    else:
        values = (bits >> jnp.uint64(11)).astype(jnp.float64) * 2.0 ** -53
    return values.reshape(shape)


def _wrapped(indices, axes, shape):
    """Negative indices counted from the end, as NumPy's. (An index out of range cannot raise
    inside XLA's program, whose gathers clamp it: CHECKS below report it after the call.)"""
    return tuple(i if i.dtype.kind == "u" else jnp.where(i < 0, i + shape[a], i) for i, a in zip(indices, axes))


def _gather(x, *indices, axes):
    return jnp.moveaxis(x, axes, range(len(axes)))[_wrapped(indices, axes, x.shape)]


def _scatter_add(values, *indices, axes, shape):
    out = jnp.moveaxis(jnp.zeros(shape, values.dtype), axes, range(len(axes)))
    out = out.at[_wrapped(indices, axes, shape)].add(values)
    return jnp.moveaxis(out, range(len(axes)), axes)


def _scatter(x, index, shape):
    return jnp.zeros(shape, x.dtype).at[ops.numpy_index(index)].set(x)


def _reduction(fn):
    def lowered(x, axis, keepdims, out_dtype):
        return fn(x, axis=axis, keepdims=keepdims).astype(out_dtype)
    return lowered


def _sum(x, axis, keepdims, out_dtype):
    """float32 sums accumulate in float64 as the interpreter's pairwise sum nearly does."""
    wide = jnp.float64 if np.dtype(out_dtype) == np.float32 else out_dtype
    return jnp.sum(x.astype(wide) if x.dtype != np.bool_ else x, axis=axis, keepdims=keepdims,
                   dtype=wide).astype(out_dtype)



def _mean(x, axis, keepdims, out_dtype):
    wide = jnp.float64 if np.dtype(out_dtype).kind == "f" else out_dtype
    return jnp.mean(x.astype(wide), axis=axis, keepdims=keepdims).astype(out_dtype)



def _scan(fn):
    def lowered(x, axis, out_dtype):
        return fn(x.astype(out_dtype), axis=axis, dtype=out_dtype)
    return lowered


# -- numpy.linalg: XLA's own decompositions, packed as the ops pack NumPy's results -------------

def _swap(x):
    return jnp.swapaxes(x, -1, -2)


def _slogdet(a):
    sign, log = jnp.linalg.slogdet(a)
    return jnp.stack([sign, log], axis=-1)


def _solve(a, b, out_dtype):
    a, b = a.astype(out_dtype), b.astype(out_dtype)
    if b.ndim == 1:         # one vector for every matrix (NumPy 2's rule)
        return jnp.linalg.solve(a, jnp.broadcast_to(b, a.shape[:-1])[..., None])[..., 0]
    return jnp.linalg.solve(a, b)


def _qr(a):
    q, r = jnp.linalg.qr(a, mode="reduced")
    return jnp.concatenate([q, _swap(r)], axis=-2)


def _eigh(a, UPLO):
    w, v = jnp.linalg.eigh(a, UPLO=UPLO, symmetrize_input=False)     # one triangle, as LAPACK reads
    return jnp.concatenate([v, w[..., None, :]], axis=-2)


def _svd(a):
    u, s, vh = jnp.linalg.svd(a, full_matrices=False)
    return jnp.concatenate([u, _swap(vh), s[..., None, :]], axis=-2)


LOWERINGS = {
    "add": _in_result_dtype(jnp.add),
    "multiply": _in_result_dtype(jnp.multiply),
    "maximum": _in_result_dtype(jnp.maximum),
    "minimum": _in_result_dtype(jnp.minimum),
    "greater": _in_common_dtype(jnp.greater), "greater_equal": _in_common_dtype(jnp.greater_equal),
    "less": _in_common_dtype(jnp.less), "less_equal": _in_common_dtype(jnp.less_equal),
    "equal": _in_common_dtype(jnp.equal), "not_equal": _in_common_dtype(jnp.not_equal),
    "where": _where,
    "cast": lambda x, dtype: x.astype(dtype),

    "sum": _sum,
    "mean": _mean,
    "max": _reduction(jnp.max),
    "min": _reduction(jnp.min),
    "argmax": _reduction(jnp.argmax),
    "argmin": _reduction(jnp.argmin),
    "prod": _reduction(lambda x, axis, keepdims: jnp.prod(x, axis=axis, keepdims=keepdims, promote_integers=False)),
    "cumsum": _scan(jnp.cumsum),
    "cumprod": _scan(jnp.cumprod),

    "det": jnp.linalg.det,
    "slogdet": _slogdet,
    "inv": jnp.linalg.inv,
    "solve": _solve,
    "cholesky": lambda a: jnp.linalg.cholesky(a, symmetrize_input=False),
    "qr": _qr,
    "eigh": _eigh,
    "svd": _svd,

    "matmul": _in_result_dtype(lambda a, b: jnp.matmul(a, b, precision=lax.Precision.HIGHEST)),
    "reshape": lambda x, shape: jnp.reshape(x, shape),
    "transpose": lambda x, axes: jnp.transpose(x, axes),
    "broadcast_to": lambda x, shape: jnp.broadcast_to(x, shape),
    "expand_dims": lambda x, axis: jnp.expand_dims(x, axis),
    "squeeze": lambda x, axis: jnp.squeeze(x, axis),
    "getitem": lambda x, index: x[ops.numpy_index(index)],
    "scatter": _scatter,
    "concatenate": lambda *xs, axis: jnp.concatenate(xs, axis=axis),
    "gather": _gather,
    "scatter_add": _scatter_add,
    "argsort": lambda x, axis: jnp.argsort(x, axis=axis, stable=True).astype(jnp.int64),

    "conv2d": _conv2d,
    "conv_transpose2d": _conv_transpose2d,
    "conv2d_weight_grad": _conv2d_weight_grad,
    "max_pool2d": lambda x, window, stride: _pool(x, window, stride, jnp.maximum),
    "max_pool2d_grad": _max_pool2d_grad,
    "max_pool2d_pick": _max_pool2d_pick,
    "avg_pool2d": lambda x, window, stride: _pool(x, window, stride, jnp.add) / x.dtype.type(window[0] * window[1]),
    "avg_pool2d_grad": _avg_pool2d_grad,
    "random_uniform": _random_uniform,
}


# -- what NumPy raises at run time, which XLA's program cannot ------------------------------------
# A check of a node takes its result, arguments and attributes, and returns (error class,
# found, example, message of the example): the executable makes `found` and `example` extra
# results of the program and raises after the call, so a negative integer exponent, an index
# outside its axis or a singular matrix is an error here too, never a wrong number.

def _negative_exponent(result, x, y, out_dtype):
    if np.dtype(out_dtype).kind not in "iu":
        return []
    return [(IntegerPowerError, jnp.any(y < 0), jnp.int64(0),
             lambda value: "Integers to negative integer powers are not allowed")]


def _indices_outside(op):
    def check(result, first, *indices, axes, shape=None):
        shape = shape or first.shape
        found = []
        for i, axis in zip(indices, axes):
            size, i = shape[axis], jnp.asarray(i)       # a constant index is a NumPy array
            outside = ((i >= size) if i.dtype.kind == "u" else (i < -size) | (i >= size)).ravel()
            if outside.size:
                found.append((IndexOutOfRangeError, jnp.any(outside), i.ravel()[jnp.argmax(outside)],
                              lambda value, axis=axis, size=size: out_of_range_message(op, int(value), axis, size)))
        return found
    return check


def _no_result(name, why):
    """NumPy's LinAlgError where XLA's factorisation gives inf or NaN from finite matrices."""
    def check(result, *args, **attrs):
        finite = jnp.all(jnp.asarray([jnp.all(jnp.isfinite(a)) for a in args]))
        return [(LinAlgError, finite & ~jnp.all(jnp.isfinite(result)), jnp.int64(0),
                 lambda value: f"numpy.linalg.{name}: {why}")]
    return check


CHECKS = {"power": _negative_exponent, "gather": _indices_outside("gather"),
          "scatter_add": _indices_outside("scatter_add"),
          "inv": _no_result("inv", "Singular matrix"), "solve": _no_result("solve", "Singular matrix"),
          "cholesky": _no_result("cholesky", "Matrix is not positive definite")}
