"""Hypothesis strategies that exercise every op in the registry.

Each strategy draws a `Case`: a small NumPy-style function that uses one op, and arguments
for it. The same function runs on plain NumPy (the reference) and through irtoy, so a test
can compare the two without a second implementation. Tests of the interpreter, the numba
backend and the gradient pass all draw from here; `CASES` must name every registry op.
"""
from dataclasses import dataclass

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np

from irtoy import ops

FLOATS = [np.dtype(np.float32), np.dtype(np.float64)]
INTEGERS = [np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)]
NUMERIC = FLOATS + INTEGERS
# NumPy computes exp, log, sqrt, ... of 8-bit integers in float16, which the numba backend
# refuses (lowering.SUPPORTED_DTYPES): those ops draw the wider integers only
TO_FLOAT = FLOATS + [d for d in INTEGERS if d.itemsize > 1]


@dataclass
class Case:
    fn: object          # NumPy-style code using the op
    args: tuple         # arrays to call it with
    differentiable: bool = True   # False where the function is not smooth at these arguments

    def __repr__(self):
        shown = ", ".join(f"{a.dtype}{list(np.shape(a))}" for a in self.args)
        return f"Case({getattr(self.fn, 'label', '')}({shown}))"


def labelled(fn, label):
    fn.label = label
    return fn


def array(dtype, shape, lo=-3.0, hi=3.0, away_from_zero=False):
    """A strategy for arrays with values in [lo, hi] (ints and bools where the dtype says;
    integers also within [-5, 5] and the dtype's range)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        elements = st.floats(lo, hi, allow_nan=False, allow_subnormal=False).map(dtype.type)
        if away_from_zero:
            elements = elements.filter(lambda v: abs(v) > 0.25)
    elif dtype.kind == "b":
        elements = st.booleans()
    else:
        smallest = max(int(np.ceil(lo)), -5, int(np.iinfo(dtype).min))
        elements = st.integers(smallest, min(int(np.floor(hi)), 5)).filter(lambda v: v != 0 or not away_from_zero)
    return hnp.arrays(dtype, shape, elements=elements)


SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
NONEMPTY = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def takes(ufunc, *dtypes):
    """Does NumPy's `ufunc` take arguments of these dtypes? (bitwise_and of int64 and uint64 does not)"""
    try:
        with np.errstate(all="ignore"):
            ufunc(*[np.ones((), d) for d in dtypes])
        return True
    except TypeError:
        return False


def away_from_jumps(x, y):
    """Where floor division and remainder are smooth: y away from 0 and x / y from the whole numbers."""
    with np.errstate(all="ignore"):
        q = np.asarray(x, np.float64) / np.asarray(y, np.float64)
        return (np.abs(y) > 0.1) & (np.abs(q - np.round(q)) > 1e-3)


def away_from_whole(x, offset=0.0):
    """Where floor, ceil, trunc (offset 0) and rint (offset 1/2) do not jump."""
    distance = np.abs(x + offset - np.round(x + offset))
    return distance > 1e-3


@st.composite
def binary(draw, ufunc, dtypes=FLOATS, lo=-3.0, hi=3.0, y_away_from_zero=False, smooth_at=None):
    """`ufunc(x, y)` on drawn arrays; `smooth_at(x, y)` says where it is differentiable
    (by default everywhere, but for maximum and minimum at ties)."""
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4)).input_shapes
    dx = draw(st.sampled_from(dtypes))
    dy = draw(st.sampled_from([d for d in dtypes if takes(ufunc, dx, d)]))
    x = draw(array(dx, shapes[0], lo, hi))
    y = draw(array(dy, shapes[1], lo, hi, away_from_zero=y_away_from_zero))
    fn = labelled(lambda x, y: ufunc(x, y), ufunc.__name__)
    if smooth_at is None and ufunc in (np.maximum, np.minimum):
        smooth_at = lambda x, y: x != y
    smooth = smooth_at is None or bool(np.all(smooth_at(x, y)))
    return Case(fn, (x, y), smooth)


@st.composite
def integer_power(draw):
    """x ** y for integers of any widths, with exponents NumPy accepts (0 to 5; a negative
    one is an error, tested on its own)."""
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4)).input_shapes
    x = draw(array(draw(st.sampled_from(INTEGERS)), shapes[0]))
    y = draw(array(draw(st.sampled_from(INTEGERS)), shapes[1], lo=0))
    return Case(labelled(lambda x, y: np.power(x, y), "power"), (x, y), False)


@st.composite
def unary(draw, ufunc, lo=-3.0, hi=3.0, dtypes=TO_FLOAT, smooth_at=None):
    """`ufunc(x)` on a drawn array; `smooth_at(x)` says where it is differentiable (by default
    everywhere, but for abs and sign at 0)."""
    x = draw(array(draw(st.sampled_from(dtypes)), draw(SHAPES), lo, hi))
    if smooth_at is None and ufunc in (np.abs, np.sign):
        smooth_at = lambda x: np.abs(x) > 1e-3
    smooth = smooth_at is None or bool(np.all(smooth_at(x)))
    return Case(labelled(lambda x: ufunc(x), ufunc.__name__), (x,), smooth)


@st.composite
def where_case(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=4)).input_shapes
    dtype = draw(st.sampled_from(NUMERIC))
    c = draw(array(np.bool_, shapes[0]))
    x, y = draw(array(dtype, shapes[1])), draw(array(dtype, shapes[2]))
    return Case(labelled(lambda c, x, y: np.where(c, x, y), "where"), (c, x, y))


@st.composite
def cast_case(draw):
    to = draw(st.sampled_from(NUMERIC + [np.dtype(np.bool_)]))
    dtype = draw(st.sampled_from(NUMERIC))
    # a negative float converted to an unsigned integer is undefined in C (NumPy and Numba
    # differ): only non-negative floats are cast to unsigned types
    x = draw(array(dtype, draw(SHAPES), lo=0.0 if dtype.kind == "f" and to.kind == "u" else -3.0))
    return Case(labelled(lambda x: x.astype(to), f"astype[{to}]"), (x,), to.kind == "f" and x.dtype.kind == "f")


@st.composite
def axes_of(draw, ndim):
    """None, an int or a tuple of distinct axes, some given as negative numbers."""
    if ndim == 0:
        return None
    chosen = draw(st.lists(st.integers(0, ndim - 1), unique=True, min_size=1, max_size=ndim))
    signed = tuple(a - ndim if draw(st.booleans()) else a for a in chosen)
    return draw(st.sampled_from([None, signed, signed[0]]))


@st.composite
def reduction(draw, fn, name, dtypes=FLOATS, zeros=False):
    """`fn(x, axis, keepdims)`; with `zeros`, x has some entries exactly 0 (products need them)."""
    x = draw(array(draw(st.sampled_from(dtypes)), draw(SHAPES)))
    if zeros:
        x = np.where(draw(hnp.arrays(np.bool_, x.shape)), x.dtype.type(0), x)
    axis, keepdims = draw(axes_of(x.ndim)), draw(st.booleans())
    smooth = name not in ("max", "min") or len(np.unique(x)) == x.size
    return Case(labelled(lambda x: fn(x, axis=axis, keepdims=keepdims), f"{name}[{axis},{keepdims}]"), (x,), smooth)


@st.composite
def argmax_case(draw, fn=np.argmax):
    x = draw(array(draw(st.sampled_from(NUMERIC)), draw(NONEMPTY)))
    axis = draw(st.sampled_from([None] + list(range(-x.ndim, x.ndim))))
    keepdims = draw(st.booleans())
    return Case(labelled(lambda x: fn(x, axis=axis, keepdims=keepdims), f"{fn.__name__}[{axis}]"), (x,), False)


@st.composite
def scan_case(draw, fn, dtypes=NUMERIC, zeros=False):
    """`fn(x, axis)` along one axis or (axis None) the flattened array; with `zeros`, x has
    some entries exactly 0 (running products need them)."""
    x = draw(array(draw(st.sampled_from(dtypes)), draw(SHAPES)))
    if zeros:
        x = np.where(draw(hnp.arrays(np.bool_, x.shape)), x.dtype.type(0), x)
    axis = draw(st.sampled_from([None] + list(range(-x.ndim, x.ndim))))
    return Case(labelled(lambda x: fn(x, axis=axis), f"{fn.__name__}[{axis}]"), (x,))


@st.composite
def matmul_case(draw):
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=3)).input_shapes
    a_shape, b_shape = draw(st.sampled_from([
        ((n,), (n,)), ((n,), (n, m)), ((k, n), (n,)), ((k, n), (n, m)),
        (batch[0] + (k, n), batch[1] + (n, m)), ((n,), batch[1] + (n, m)), (batch[0] + (k, n), (n,)),
    ]))
    dtype = draw(st.sampled_from(FLOATS))
    a, b = draw(array(dtype, a_shape)), draw(array(dtype, b_shape))
    return Case(labelled(lambda a, b: a @ b, "matmul"), (a, b))


@st.composite
def reshape_case(draw):
    x = draw(array(draw(st.sampled_from(FLOATS)), draw(SHAPES)))
    size = x.size
    divisors = [d for d in range(1, size + 1) if size % d == 0]
    d = draw(st.sampled_from(divisors))
    target = draw(st.sampled_from([(-1,), (size,), (1, size), (size // d, d), (d, -1), (size // d, 1, d)]))
    return Case(labelled(lambda x: x.reshape(target), f"reshape{target}"), (x,))


@st.composite
def transpose_case(draw):
    x = draw(array(draw(st.sampled_from(FLOATS)), draw(SHAPES)))
    perm = tuple(draw(st.permutations(range(x.ndim))))
    if draw(st.booleans()):
        return Case(labelled(lambda x: x.T, ".T"), (x,))
    return Case(labelled(lambda x: np.transpose(x, perm), f"transpose{perm}"), (x,))


@st.composite
def broadcast_to_case(draw):
    shape = draw(SHAPES)
    grown = tuple(draw(st.integers(1, 3)) if d == 1 else d for d in shape)
    target = tuple(draw(st.lists(st.integers(1, 3), max_size=2))) + grown
    x = draw(array(draw(st.sampled_from(FLOATS)), shape))
    return Case(labelled(lambda x: np.broadcast_to(x, target), f"broadcast_to{target}"), (x,))


@st.composite
def expand_dims_case(draw):
    x = draw(array(draw(st.sampled_from(FLOATS)), draw(SHAPES)))
    axis = draw(st.integers(-(x.ndim + 1), x.ndim))
    return Case(labelled(lambda x: np.expand_dims(x, axis), f"expand_dims[{axis}]"), (x,))


@st.composite
def squeeze_case(draw):
    shape = tuple(draw(st.lists(st.sampled_from([1, 1, 2, 3]), min_size=1, max_size=4)))
    x = draw(array(draw(st.sampled_from(FLOATS)), shape))
    ones = [i for i, d in enumerate(shape) if d == 1]
    axis = draw(st.sampled_from([None] + [tuple(ones[:k]) for k in range(1, len(ones) + 1)])) if ones else None
    return Case(labelled(lambda x: np.squeeze(x, axis), f"squeeze[{axis}]"), (x,))


@st.composite
def basic_index(draw, shape):
    """A random basic index for `shape`: ints, slices with any step, None and Ellipsis."""
    parts = []
    for dim in shape:
        kind = draw(st.sampled_from(["int", "slice", "slice", "all"]))
        if kind == "int":
            parts.append(draw(st.integers(-dim, dim - 1)))
        elif kind == "slice":
            start = draw(st.one_of(st.none(), st.integers(-dim - 1, dim + 1)))
            stop = draw(st.one_of(st.none(), st.integers(-dim - 1, dim + 1)))
            step = draw(st.sampled_from([None, 1, 2, -1, -2]))
            parts.append(slice(start, stop, step))
        else:
            parts.append(slice(None))
        if draw(st.integers(0, 5)) == 0:
            parts.append(None)
    if parts and draw(st.booleans()):
        cut = draw(st.integers(0, len(parts)))
        parts = parts[:cut] + [Ellipsis] + [p for p in parts[cut:] if p is None][:1]
    return tuple(parts)


@st.composite
def getitem_case(draw):
    x = draw(array(draw(st.sampled_from(FLOATS)), draw(SHAPES)))
    index = draw(basic_index(x.shape))
    return Case(labelled(lambda x: x[index], f"getitem{index}"), (x,))


@st.composite
def scatter_case(draw):
    shape = draw(SHAPES)
    index = ops.normalize_index(draw(basic_index(shape)), shape)
    part = ops.REGISTRY["getitem"].infer([ops.Spec(shape, np.float64)], index=index).shape
    v = draw(array(draw(st.sampled_from(FLOATS)), part))
    return Case(labelled(lambda v: ops.scatter(v, index, shape), f"scatter{index}"), (v,))


@st.composite
def gathered_positions(draw, shape):
    """(axes, index arrays): some distinct axes of `shape` and, for each, integers inside the
    axis (negative ones counting from its end), of mutually broadcastable shapes and any dtype."""
    axes = sorted(draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=min(len(shape), 2), unique=True)))
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=len(axes), min_dims=0, max_dims=2, max_side=3))
    indices = []
    for axis, index_shape in zip(axes, shapes.input_shapes):
        dtype = draw(st.sampled_from([np.dtype(np.int64), np.dtype(np.int32), np.dtype(np.uint8), np.dtype(np.int8)]))
        low = 0 if dtype.kind == "u" else -shape[axis]
        indices.append(draw(hnp.arrays(dtype, index_shape, elements=st.integers(low, shape[axis] - 1))))
    return tuple(axes), tuple(indices)


@st.composite
def gather_case(draw):
    x = draw(array(draw(st.sampled_from(FLOATS)), draw(NONEMPTY)))
    axes, indices = draw(gathered_positions(x.shape))
    return Case(labelled(lambda x, *i: ops.gather(x, i, axes), f"gather[axes={axes}]"), (x,) + indices)


@st.composite
def scatter_add_case(draw):
    shape = draw(NONEMPTY)
    axes, indices = draw(gathered_positions(shape))
    part = ops.REGISTRY["gather"].infer([ops.Spec(shape, np.float64)] + [ops.Spec.of(i) for i in indices],
                                        axes=axes).shape
    v = draw(array(draw(st.sampled_from(FLOATS)), part))
    fn = labelled(lambda v, *i: ops.bind("scatter_add", v, *i, axes=axes, shape=shape), f"scatter_add[{axes}]")
    return Case(fn, (v,) + indices)


@st.composite
def argsort_case(draw):
    x = draw(array(draw(st.sampled_from(NUMERIC)), draw(NONEMPTY)))
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    return Case(labelled(lambda x: np.argsort(x, axis, kind="stable"), f"argsort[axis={axis}]"), (x,), False)


@st.composite
def concatenate_case(draw):
    shape = list(draw(NONEMPTY))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    dtype = draw(st.sampled_from(FLOATS))
    xs = []
    for _ in range(draw(st.integers(1, 3))):
        shape[axis] = draw(st.integers(1, 3))
        xs.append(draw(array(dtype, tuple(shape))))
    return Case(labelled(lambda *xs: np.concatenate(xs, axis=axis), f"concatenate[{axis}]"), tuple(xs))


# -- ops for neural networks: small NCHW images ------------------------------------------------

@st.composite
def image_geometry(draw, padded=True):
    """(batch, channels, out_channels, (h, w), kernel, stride, padding) of a small convolution."""
    batch, channels, out_channels = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    size = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2))) if padded else (0, 0)
    kernel = tuple(draw(st.integers(1, min(3, s + 2 * p))) for s, p in zip(size, padding))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    return batch, channels, out_channels, size, kernel, stride, padding


@st.composite
def conv2d_case(draw):
    n, c, o, size, kernel, stride, padding = draw(image_geometry())
    x = draw(array(draw(st.sampled_from(FLOATS)), (n, c) + size))
    w = draw(array(draw(st.sampled_from(FLOATS)), (o, c) + kernel))
    fn = labelled(lambda x, w: ops.conv2d(x, w, stride, padding), f"conv2d[stride={stride},padding={padding}]")
    return Case(fn, (x, w))


@st.composite
def conv_transpose2d_case(draw):
    n, c, o, size, kernel, stride, padding = draw(image_geometry())
    dtype = draw(st.sampled_from(FLOATS))
    y = draw(array(dtype, (n, o) + ops.window_positions(size, kernel, stride, padding)))
    w = draw(array(dtype, (o, c) + kernel))
    fn = labelled(lambda y, w: ops.conv_transpose2d(y, w, stride, padding, image_size=size),
                  f"conv_transpose2d[stride={stride},padding={padding},image_size={size}]")
    return Case(fn, (y, w))


@st.composite
def conv2d_weight_grad_case(draw):
    n, c, o, size, kernel, stride, padding = draw(image_geometry())
    dtype = draw(st.sampled_from(FLOATS))
    x = draw(array(dtype, (n, c) + size))
    g = draw(array(dtype, (n, o) + ops.window_positions(size, kernel, stride, padding)))
    fn = labelled(lambda x, g: ops.conv2d_weight_grad(x, g, kernel, stride, padding),
                  f"conv2d_weight_grad[kernel={kernel},stride={stride},padding={padding}]")
    return Case(fn, (x, g))


def clear_window_maxima(x, window, stride, margin=1e-3):
    """True if every window of x has one largest entry, ahead of the next by more than `margin`
    (so a finite-difference step cannot change which entry wins)."""
    windows = np.lib.stride_tricks.sliding_window_view(x, window, axis=(2, 3))[:, :, ::stride[0], ::stride[1]]
    if window == (1, 1):
        return True
    top_two = np.sort(windows.reshape(windows.shape[:4] + (-1,)), axis=-1)[..., -2:]
    return bool(np.all(top_two[..., 1] - top_two[..., 0] > margin))


@st.composite
def pooled_image(draw):
    """An image x (sometimes with all entries distinct, so maxima are clear), window and stride."""
    n, c, _, size, window, stride, _ = draw(image_geometry(padded=False))
    dtype = draw(st.sampled_from(FLOATS))
    shape = (n, c) + size
    if draw(st.booleans()):
        order = np.array(draw(st.permutations(range(int(np.prod(shape))))))
        x = ((order - order.size / 2) * 0.1).reshape(shape).astype(dtype)
    else:
        x = draw(array(dtype, shape))
    return x, window, stride


@st.composite
def max_pool2d_case(draw, name):
    x, window, stride = draw(pooled_image())
    fn = getattr(ops, name)
    label = f"{name}[window={window},stride={stride}]"
    smooth = clear_window_maxima(x, window, stride)
    if name == "max_pool2d":
        return Case(labelled(lambda x: fn(x, window, stride), label), (x,), smooth)
    pooled = ops.window_positions(x.shape[2:], window, stride)
    other = draw(array(draw(st.sampled_from(FLOATS)), x.shape[:2] + pooled if name == "max_pool2d_grad" else x.shape))
    return Case(labelled(lambda x, v: fn(x, v, window, stride), label), (x, other), smooth)


@st.composite
def avg_pool2d_case(draw):
    x, window, stride = draw(pooled_image())
    return Case(labelled(lambda x: ops.avg_pool2d(x, window, stride), f"avg_pool2d[window={window},stride={stride}]"),
                (x,))


@st.composite
def avg_pool2d_grad_case(draw):
    n, c, _, size, window, stride, _ = draw(image_geometry(padded=False))
    g = draw(array(draw(st.sampled_from(FLOATS)), (n, c) + ops.window_positions(size, window, stride)))
    fn = labelled(lambda g: ops.avg_pool2d_grad(g, window, stride, size),
                  f"avg_pool2d_grad[window={window},stride={stride},image_size={size}]")
    return Case(fn, (g,))


@st.composite
def random_uniform_case(draw):
    seed = np.array(draw(st.integers(-2 ** 63, 2 ** 63 - 1)), np.int64)
    shape, stream = draw(SHAPES), draw(st.sampled_from([0, 1, 7, 2 ** 40 + 3]))
    dtype = draw(st.sampled_from(FLOATS))
    fn = labelled(lambda seed: ops.random_uniform(seed, shape, stream, dtype),
                  f"random_uniform[{shape},stream={stream},{dtype}]")
    return Case(fn, (seed,), False)


# -- linear algebra: well-conditioned stacks of matrices ----------------------------------------

@st.composite
def matrices(draw, rows=None, columns=None, square=False):
    """A stack of matrices (batch of up to 2 axes), entries in [-1, 1]; square ones get
    n + 1 added on the diagonal, which keeps them far from singular."""
    batch = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=2))
    m = rows or draw(st.integers(1, 4))
    n = m if square else columns or draw(st.integers(1, 4))
    a = draw(array(draw(st.sampled_from(FLOATS)), batch + (m, n), -1.0, 1.0))
    return a + (n + 1) * np.eye(n, dtype=a.dtype) if square else a


def _flat(x):
    """The matrices of a stack as rows: (batch, m * n)."""
    return x.reshape(x.shape[:-2] + (-1,))


def _gaps_above(values, margin=0.05):
    """True if sorted `values` (along the last axis) are all more than `margin` apart."""
    return bool(np.all(np.diff(values, axis=-1) > margin)) if values.shape[-1] > 1 else True


@st.composite
def square_case(draw, name, fn):
    return Case(labelled(fn, name), (draw(matrices(square=True)),))


@st.composite
def solve_case(draw):
    a = draw(matrices(square=True))
    n = a.shape[-1]
    batch = draw(hnp.broadcastable_shapes(a.shape[:-2], max_side=2))
    b_shape = draw(st.sampled_from([(n,), batch + (n, draw(st.integers(1, 3)))]))
    b = draw(array(draw(st.sampled_from(FLOATS)), b_shape))
    return Case(labelled(lambda a, b: np.linalg.solve(a, b), "solve"), (a, b))


@st.composite
def cholesky_case(draw):
    a = draw(matrices(square=True))
    return Case(labelled(lambda a: np.linalg.cholesky(a), "cholesky"), (a @ np.swapaxes(a, -1, -2),))


@st.composite
def qr_case(draw):
    a = draw(matrices())
    m, n = a.shape[-2:]
    # full rank: the first min(m, n) columns (or rows) made strongly independent
    a = a + 3 * np.eye(m, n, dtype=a.dtype)

    def qr(a):      # squared: the signs of Q's columns and R's rows are arbitrary (LAPACK may flip them)
        q, r = np.linalg.qr(a)
        return np.concatenate([_flat(q * q), _flat(r * r)], axis=-1)
    return Case(labelled(qr, "qr"), (a,))


@st.composite
def eigh_case(draw):
    """Any square matrices (eigh reads one triangle), eigenvectors squared: their sign is
    arbitrary."""
    a = draw(matrices(square=True))
    uplo = draw(st.sampled_from("LU"))

    def eigh(a):
        w, v = np.linalg.eigh(a, UPLO=uplo)
        return np.concatenate([w, _flat(v * v)], axis=-1)
    return Case(labelled(eigh, f"eigh[{uplo}]"), (a,), _gaps_above(np.linalg.eigvalsh(a.astype(np.float64), uplo)))


@st.composite
def svd_case(draw):
    """Singular values, and the squares of the singular vectors (their sign is arbitrary)."""
    a = draw(matrices())

    def svd(a):
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        return np.concatenate([s, _flat(u * u), _flat(vh * vh)], axis=-1)
    s = np.linalg.svd(a.astype(np.float64), compute_uv=False)[..., ::-1]
    return Case(labelled(svd, "svd"), (a,), _gaps_above(s) and bool(np.all(s > 0.05)))


CASES = {
    "add": binary(np.add, NUMERIC), "subtract": binary(np.subtract, NUMERIC),
    "multiply": binary(np.multiply, NUMERIC), "divide": binary(np.divide, NUMERIC, y_away_from_zero=True),
    "power": st.one_of(binary(np.power, FLOATS, lo=0.5, hi=2.0), integer_power()),
    # arctan2 jumps by 2 pi across y = 0 for x < 0; hypot has a cone's tip at the origin
    "arctan2": binary(np.arctan2, smooth_at=lambda y, x: (np.abs(y) > 1e-3) | (x > 1e-3)),
    "hypot": binary(np.hypot, smooth_at=lambda x, y: np.hypot(x, y) > 1e-3),
    "maximum": binary(np.maximum, NUMERIC), "minimum": binary(np.minimum, NUMERIC),
    "greater": binary(np.greater, NUMERIC), "greater_equal": binary(np.greater_equal, NUMERIC),
    "less": binary(np.less, NUMERIC), "less_equal": binary(np.less_equal, NUMERIC),
    "equal": binary(np.equal, NUMERIC), "not_equal": binary(np.not_equal, NUMERIC),
    "negative": unary(np.negative, dtypes=NUMERIC), "exp": unary(np.exp), "log": unary(np.log, 0.1, 5.0),
    "sin": unary(np.sin), "cos": unary(np.cos), "tan": unary(np.tan, -1.2, 1.2), "tanh": unary(np.tanh),
    "sqrt": unary(np.sqrt, 0.1, 5.0), "abs": unary(np.abs, dtypes=NUMERIC),
    "sign": unary(np.sign, dtypes=NUMERIC),
    "log1p": unary(np.log1p, -0.9, 5.0), "expm1": unary(np.expm1), "log2": unary(np.log2, 0.1, 5.0),
    "log10": unary(np.log10, 0.1, 5.0), "exp2": unary(np.exp2), "sinh": unary(np.sinh), "cosh": unary(np.cosh),
    "arcsin": unary(np.arcsin, -0.95, 0.95), "arccos": unary(np.arccos, -0.95, 0.95), "arctan": unary(np.arctan),
    "arcsinh": unary(np.arcsinh), "arccosh": unary(np.arccosh, 1.1, 5.0), "arctanh": unary(np.arctanh, -0.9, 0.9),
    "cbrt": unary(np.cbrt, smooth_at=lambda x: np.abs(x) > 1e-3),
    "logaddexp": binary(np.logaddexp, TO_FLOAT), "logaddexp2": binary(np.logaddexp2, TO_FLOAT),
    # copysign: x's magnitude has a kink at 0, y's sign jumps there
    "copysign": binary(np.copysign, TO_FLOAT, smooth_at=lambda x, y: (np.abs(x) > 1e-3) & (np.abs(y) > 1e-3)),
    "floor": unary(np.floor, dtypes=NUMERIC, smooth_at=away_from_whole),
    "ceil": unary(np.ceil, dtypes=NUMERIC, smooth_at=away_from_whole),
    "trunc": unary(np.trunc, dtypes=NUMERIC, smooth_at=away_from_whole),
    "rint": unary(np.rint, smooth_at=lambda x: away_from_whole(x, 0.5)),
    # divisors of 0 too: NumPy's integer result there is 0, its float one inf or nan
    "floor_divide": binary(np.floor_divide, NUMERIC, smooth_at=away_from_jumps),
    "remainder": binary(np.remainder, NUMERIC, smooth_at=away_from_jumps),
    "fmod": binary(np.fmod, NUMERIC, smooth_at=away_from_jumps),
    "signbit": unary(np.signbit, dtypes=NUMERIC),
    "bitwise_and": binary(np.bitwise_and, INTEGERS + [np.dtype(np.bool_)]),
    "bitwise_or": binary(np.bitwise_or, INTEGERS + [np.dtype(np.bool_)]),
    "bitwise_xor": binary(np.bitwise_xor, INTEGERS + [np.dtype(np.bool_)]),
    "invert": unary(np.invert, dtypes=INTEGERS + [np.dtype(np.bool_)]),
    # negative shifts and shifts by the width or more have NumPy's own results (0 or -1)
    "left_shift": binary(np.left_shift, INTEGERS), "right_shift": binary(np.right_shift, INTEGERS),
    "where": where_case(), "cast": cast_case(),
    "sum": reduction(np.sum, "sum", NUMERIC), "mean": reduction(np.mean, "mean", NUMERIC),
    "max": reduction(np.max, "max", NUMERIC), "min": reduction(np.min, "min", NUMERIC),
    "argmax": argmax_case(), "argmin": argmax_case(np.argmin),
    "cumsum": scan_case(np.cumsum), "cumprod": st.one_of(scan_case(np.cumprod), scan_case(np.cumprod, FLOATS, True)),
    "prod": st.one_of(reduction(np.prod, "prod", NUMERIC), reduction(np.prod, "prod", FLOATS, zeros=True)),
    "matmul": matmul_case(),
    "reshape": reshape_case(), "transpose": transpose_case(), "broadcast_to": broadcast_to_case(),
    "expand_dims": expand_dims_case(), "squeeze": squeeze_case(), "getitem": getitem_case(),
    "scatter": scatter_case(), "concatenate": concatenate_case(),
    "gather": gather_case(), "scatter_add": scatter_add_case(), "argsort": argsort_case(),
    "conv2d": conv2d_case(), "conv_transpose2d": conv_transpose2d_case(),
    "conv2d_weight_grad": conv2d_weight_grad_case(),
    "max_pool2d": max_pool2d_case("max_pool2d"), "max_pool2d_grad": max_pool2d_case("max_pool2d_grad"),
    "max_pool2d_pick": max_pool2d_case("max_pool2d_pick"),
    "avg_pool2d": avg_pool2d_case(), "avg_pool2d_grad": avg_pool2d_grad_case(),
    "random_uniform": random_uniform_case(),
    "det": square_case("det", lambda a: np.linalg.det(a)),
    "slogdet": square_case("slogdet", lambda a: np.stack(np.linalg.slogdet(a), axis=-1)),
    "inv": square_case("inv", lambda a: np.linalg.inv(a)),
    "solve": solve_case(), "cholesky": cholesky_case(), "qr": qr_case(), "eigh": eigh_case(), "svd": svd_case(),
}


# the ops with a strategy here that have gradients (the backends' gradient-graph tests draw these)
DIFFERENTIABLE = sorted(name for name in CASES if ops.REGISTRY[name].differentiable)


def untested_ops():
    """Registry ops without a strategy here (inputs and constants are in every graph anyway)."""
    return sorted(set(ops.REGISTRY) - set(CASES) - {"input", "const"})
