"""numpy.linalg against NumPy, finite differences and numba: the ops (det, slogdet, inv, solve,
cholesky, qr, eigh, svd; tests/op_cases.py draws them too) through NumPy's own functions and
keywords, and the compositions (norm, pinv, matrix_power, eigvalsh, svdvals)."""
import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, strategies as st

import irtoy
from graph_programs import central_differences
from numpy_checks import check_gradient, check_like_numpy, check_value
from op_cases import FLOATS, array

pytestmark = pytest.mark.usefixtures("numba_kernel_cache")

VECTOR_ORDS = [None, 1, 2, np.inf, -np.inf, 0, 3, 0.5, -1.5]
MATRIX_ORDS = [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]


def random_matrices(seed, shape, dtype=np.float64):
    """Normal entries: with probability 1, distinct singular values and eigenvalues."""
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def well_separated(values, margin=1e-2):
    values = np.sort(np.abs(np.ravel(values)))
    return values.size < 2 or bool(np.all(np.diff(values) > margin))


# -- norm ----------------------------------------------------------------------------------------

@st.composite
def norm_case(draw):
    """norm over all entries, along one axis (vector ords) or two (matrix ords); `smooth`
    says whether the gradient exists there (no ties of |x| for inf, no zeros for p < 1, ...)."""
    dtype = draw(st.sampled_from(FLOATS))
    kind = draw(st.sampled_from(["all", "vector", "matrix"]))
    keepdims = draw(st.booleans())
    if kind == "all":
        x = draw(array(dtype, draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=3))))
        return (lambda x: np.linalg.norm(x, keepdims=keepdims)), x, bool(np.sqrt(np.sum(x.astype(float) ** 2)) > 1e-2)
    if kind == "vector":
        x = draw(array(dtype, draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3))))
        ord_ = draw(st.sampled_from(VECTOR_ORDS))
        axis = draw(st.sampled_from([None] + list(range(-x.ndim, x.ndim)))) if x.ndim == 1 else draw(
            st.integers(-x.ndim, x.ndim - 1))
        magnitudes = np.abs(x)
        smooth = bool(np.all(magnitudes > 1e-2)) and (ord_ not in (np.inf, -np.inf) or well_separated(x))
        return (lambda x: np.linalg.norm(x, ord_, axis, keepdims)), x, smooth
    x = draw(array(dtype, draw(hnp.array_shapes(min_dims=2, max_dims=3, max_side=3))))
    ord_ = draw(st.sampled_from(MATRIX_ORDS))
    axis = tuple(draw(st.lists(st.integers(-x.ndim, x.ndim - 1), min_size=2, max_size=2,
                               unique_by=lambda k: k % x.ndim)))
    if x.ndim == 2 and draw(st.booleans()):
        axis = None
    rows, columns = (0, 1) if axis is None else (axis[0] % x.ndim, axis[1] % x.ndim)
    moved = np.moveaxis(x.astype(np.float64), (rows, columns), (-2, -1))
    s = np.linalg.svd(moved, compute_uv=False)
    fro = bool(np.all(np.sqrt(np.sum(moved ** 2, axis=(-2, -1))) > 1e-2))
    clear = bool(np.all(s > 1e-2)) and all(well_separated(v) for v in s.reshape(-1, s.shape[-1]))
    smooth = {None: fro, "fro": fro, "nuc": clear, 2: clear, -2: clear}.get(ord_)
    if smooth is None:      # 1, -1, inf, -inf: no ties among the column (row) sums, no zero entries
        sums = np.abs(moved).sum(axis=-2 if ord_ in (1, -1) else -1)
        smooth = bool(np.all(np.abs(moved) > 1e-2)) and all(well_separated(v) for v in sums.reshape(-1, sums.shape[-1]))
    return (lambda x: np.linalg.norm(x, ord_, axis, keepdims)), x, smooth


@given(norm_case())
def test_norm_matches_numpy_and_finite_differences(case):
    fn, x, smooth = case
    check_like_numpy(fn, x, grad=smooth)


@pytest.mark.parametrize("ord_, axis", [(o, -1) for o in VECTOR_ORDS] + [(o, (0, 1)) for o in MATRIX_ORDS])
def test_norm_gradients_at_random_points(ord_, axis):
    check_gradient(lambda x: np.linalg.norm(x, ord_, axis), random_matrices(ord_ == 3, (3, 4)))


@pytest.mark.parametrize("ord_, axis", [(None, None)] + [(o, -1) for o in VECTOR_ORDS if o != 0]
                         + [(o, (-2, -1)) for o in MATRIX_ORDS])
def test_norm_gradient_at_zero_is_finite(ord_, axis):
    x = np.zeros((2, 3))
    grad = irtoy.trace(lambda x: np.linalg.norm(x, ord_, axis).sum(), x).grad().compile("numpy")(x)
    assert np.all(np.isfinite(grad)), grad


def test_matrix_norm_and_vector_norm_take_numpys_keywords():
    x = random_matrices(2, (2, 3, 4))
    check_like_numpy(lambda x: (np.linalg.matrix_norm(x, ord="nuc", keepdims=True),
                                np.linalg.vector_norm(x, axis=(0, 2), ord=3, keepdims=True),
                                np.linalg.vector_norm(x)), x)


def test_norm_of_integers_is_float64_as_numpy():
    x = np.arange(-3, 3).reshape(2, 3)
    check_like_numpy(lambda x: (np.linalg.norm(x), np.linalg.norm(x, 1, axis=0)), x, grad=False)


def test_norm_refuses_what_numpy_refuses():
    with pytest.raises(irtoy.ShapeError, match=r"norm\(.*ord='fro' is not a norm of vectors\n  at .*test_numpy_linalg"):
        irtoy.trace(lambda x: np.linalg.norm(x, "fro", axis=0), np.ones((2, 3)))
    with pytest.raises(irtoy.ShapeError, match="needs a 1-d or 2-d array, not 3-d"):
        irtoy.trace(lambda x: np.linalg.norm(x, 1), np.ones((2, 3, 4)))


# -- the ops through NumPy's functions and keywords ----------------------------------------------

@st.composite
def decomposition_case(draw):
    """A stack of random matrices (batches, 1x1, tall and wide), float32 or float64, and one
    of the factorisations, its results made sign-invariant where LAPACK picks signs."""
    dtype = draw(st.sampled_from(FLOATS))
    batch = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=2))
    m, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2 ** 16))
    a = random_matrices(seed, batch + (m, n), dtype)
    square = random_matrices(seed, batch + (m, m), dtype) + m * np.eye(m, dtype=dtype)
    name = draw(st.sampled_from(["eigh", "eigvalsh", "svd", "svdvals", "qr", "cholesky", "slogdet", "det", "pinv",
                                 "matrix_power"]))
    if name in ("eigh", "eigvalsh"):
        uplo = draw(st.sampled_from("LU"))
        if name == "eigvalsh":
            return lambda a: np.linalg.eigvalsh(a, uplo), square
        return (lambda a: (lambda w, v: (w, v * v))(*np.linalg.eigh(a, UPLO=uplo))), square
    if name == "svd":
        return (lambda a: (lambda u, s, vh: (u * s[..., None, :] @ vh, s, u * u))(
            *np.linalg.svd(a, full_matrices=False))), a
    if name == "svdvals":
        return (lambda a: (np.linalg.svd(a, compute_uv=False), np.linalg.svdvals(a))), a
    if name == "qr":
        mode = draw(st.sampled_from(["reduced", "r"]))
        tall = a + 3 * np.eye(m, n, dtype=dtype)
        if mode == "r":
            return (lambda a: np.abs(np.linalg.qr(a, mode="r"))), tall
        return (lambda a: (lambda q, r: (q @ r, q * q, np.abs(r)))(*np.linalg.qr(a))), tall
    if name == "cholesky":
        upper = draw(st.booleans())
        return (lambda a: np.linalg.cholesky(a @ np.swapaxes(a, -1, -2), upper=upper)), square
    if name == "slogdet":
        return (lambda a: (lambda r: (r.sign, r.logabsdet))(np.linalg.slogdet(a))), square
    if name == "det":
        return (lambda a: np.linalg.det(a)), square
    if name == "pinv":
        return (lambda a: np.linalg.pinv(a)), a + 3 * np.eye(m, n, dtype=dtype)
    power = draw(st.integers(-3, 4))
    return (lambda a: np.linalg.matrix_power(a, power)), square / m


@given(decomposition_case())
def test_linalg_functions_match_numpy_and_finite_differences(case):
    check_like_numpy(*case)


@st.composite
def solve_case(draw):
    dtype = draw(st.sampled_from(FLOATS))
    n = draw(st.integers(1, 4))
    a_batch, b_batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=2)).input_shapes
    a = random_matrices(draw(st.integers(0, 2 ** 16)), a_batch + (n, n), dtype) + n * np.eye(n, dtype=dtype)
    b_shape = draw(st.sampled_from([(n,), b_batch + (n, draw(st.integers(1, 3)))]))
    b = random_matrices(1, b_shape, draw(st.sampled_from(FLOATS)))
    fn = draw(st.sampled_from([lambda a, b: np.linalg.solve(a, b), lambda a, b: np.linalg.inv(a) @ b]))
    return fn, a, b


@given(solve_case())
def test_solve_and_inv_match_numpy_and_finite_differences_batched(case):
    check_like_numpy(*case)


def test_linalg_on_numba_matches_the_interpreter():
    a = random_matrices(3, (2, 3, 3)) + 3 * np.eye(3)
    wide = random_matrices(4, (3, 4))

    def many(a, wide):
        w, v = np.linalg.eigh(a)
        u, s, vh = np.linalg.svd(wide, full_matrices=False)
        q, r = np.linalg.qr(wide.T)
        return (np.linalg.det(a), np.linalg.slogdet(a)[1], np.linalg.inv(a), np.linalg.solve(a, wide[:, 0]),
                np.linalg.cholesky(a @ a.transpose(0, 2, 1)), w, v * v, s, u * u, vh * vh, q @ r, np.abs(r),
                np.linalg.norm(wide, "nuc"), np.linalg.pinv(wide), np.linalg.matrix_power(a, -2),
                np.linalg.multi_dot([wide.T, a[0], wide]), np.linalg.cond(a), np.linalg.matrix_rank(a))
    check_like_numpy(many, a, wide, numba=True)


@pytest.mark.parametrize("name", ["det", "slogdet", "inv", "solve", "cholesky", "qr", "eigh", "svd"])
def test_gradients_of_gradients_match_finite_differences(name):
    """Hessian-vector products: the gradient rules are written in ops that have rules."""
    a, v = random_matrices(7, (3, 3)) + 3 * np.eye(3), random_matrices(8, (3, 3))
    f = {"det": lambda a: np.linalg.det(a), "slogdet": lambda a: np.linalg.slogdet(a)[1],
         "inv": lambda a: np.linalg.inv(a).sum(), "solve": lambda a: np.linalg.solve(a, v).sum(),
         "cholesky": lambda a: np.linalg.cholesky(a @ a.T).sum(), "qr": lambda a: (np.linalg.qr(a)[0] ** 2 * v).sum(),
         "eigh": lambda a: (np.linalg.eigh(a)[0] ** 3).sum(), "svd": lambda a: np.linalg.svd(a)[1].max()}[name]
    hessian_times_v = irtoy.trace(lambda a: np.sum(irtoy.grad(f)(a) * v), a)
    value = hessian_times_v.compile("numpy")
    (expected,) = central_differences(value, [a], step=1e-5)
    np.testing.assert_allclose(hessian_times_v.grad().compile("numpy")(a), expected, rtol=1e-5, atol=1e-6)


def adjugate_transposed(a):
    """The cofactor matrix of `a`, entry by entry (the gradient of det)."""
    n = a.shape[0]
    minor = lambda i, j: np.delete(np.delete(a, i, 0), j, 1)
    return np.array([[(-1) ** (i + j) * np.linalg.det(minor(i, j)) for j in range(n)] for i in range(n)])


@pytest.mark.parametrize("a", [np.zeros((3, 3)), np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 5.0]]),
                               np.array([[0.0, 0.0], [0.0, 3.0]]), np.diag([2.0, -1.0, 0.5])])
def test_det_gradient_is_the_adjugate_also_at_singular_matrices(a):
    grad = irtoy.trace(lambda a: np.linalg.det(a), a).grad().compile("numpy")(a)
    np.testing.assert_allclose(grad, adjugate_transposed(a), atol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_singular_matrix_is_an_irtoy_error_naming_the_function_and_line(backend):
    f = irtoy.trace(lambda a: np.linalg.inv(a) * 2, np.eye(2)).compile(backend)
    with pytest.raises(irtoy.IrtoyError, match=r"numpy.linalg.inv: Singular matrix") as error:
        f(np.zeros((2, 2)))
    assert isinstance(error.value, np.linalg.LinAlgError)     # what code written for NumPy catches
    assert "test_numpy_linalg.py:" in "".join(getattr(error.value, "__notes__", [])), error.value.__notes__


def test_cholesky_of_a_matrix_not_positive_definite_is_an_irtoy_error():
    f = irtoy.trace(lambda a: np.linalg.cholesky(a), np.eye(2)).compile("numpy")
    with pytest.raises(irtoy.IrtoyError, match="numpy.linalg.cholesky: Matrix is not positive definite"):
        f(-np.eye(2))


def test_results_carry_numpys_names():
    a = random_matrices(5, (3, 3)) + 3 * np.eye(3)
    check_like_numpy(lambda a: (np.linalg.eigh(a).eigenvalues, np.linalg.qr(a).R, np.linalg.svd(a).S,
                                np.linalg.slogdet(a).logabsdet), a)


@pytest.mark.parametrize("fn, shape, error, message", [
    (lambda a: np.linalg.svd(a), (2, 3), irtoy.TraceError, "full_matrices=True of 2x3 matrices cannot be traced"),
    (lambda a: np.linalg.svd(a, hermitian=True), (2, 2), irtoy.TraceError, "hermitian cannot be traced"),
    (lambda a: np.linalg.qr(a, mode="raw"), (2, 2), irtoy.TraceError, "mode='raw' cannot be traced"),
    (lambda a: np.linalg.inv(a), (2, 3), irtoy.ShapeError, r"inv\(f64\[2,3\]\): needs square matrices"),
    (lambda a: np.linalg.det(a), (3,), irtoy.ShapeError, "needs an array of at least 2 dimensions"),
    (lambda a: np.linalg.solve(a, np.ones(3)), (2, 2), irtoy.ShapeError, "b has 3 entries, the matrices 2 rows"),
    (lambda a: np.linalg.eigh(a, UPLO="X"), (2, 2), irtoy.ShapeError, "UPLO must be 'L' or 'U'"),
    (lambda a: np.linalg.inv(a.astype(np.float16)), (2, 2), irtoy.ShapeError, "float32 or float64, not float16"),
    (lambda a: np.linalg.matrix_power(a, 2), (2, 3), irtoy.ShapeError, "needs square matrices"),
])
def test_bad_linalg_calls_are_refused_naming_the_function_and_line(fn, shape, error, message):
    with pytest.raises(error, match=rf"{message}(.|\n)*at .*test_numpy_linalg.py"):
        irtoy.trace(fn, np.ones(shape))


@pytest.mark.parametrize("options", [{}, {"rcond": 0.3}, {"rtol": 0.3}, {"rtol": None}])
def test_pinv_reads_rcond_and_rtol_as_numpy(options):
    x = random_matrices(6, (2, 3, 4))
    check_like_numpy(lambda x: np.linalg.pinv(x, **options), x)


@st.composite
def chain_case(draw):
    """multi_dot of 2 to 4 arrays, a vector at either end or not."""
    sizes = draw(st.lists(st.integers(1, 4), min_size=3, max_size=5))
    dtype = draw(st.sampled_from(FLOATS))
    shapes = [(sizes[k], sizes[k + 1]) for k in range(len(sizes) - 1)]
    if draw(st.booleans()):
        shapes[0] = shapes[0][1:]
    if draw(st.booleans()):
        shapes[-1] = shapes[-1][:1]
    arrays = [random_matrices(k, shape, dtype) for k, shape in enumerate(shapes)]
    return (lambda *xs: np.linalg.multi_dot(xs)), *arrays


@given(chain_case())
def test_multi_dot_matches_numpy_and_finite_differences(case):
    check_like_numpy(*case)


@pytest.mark.parametrize("p", [None, 2, -2, "fro", "nuc", 1, -1, np.inf, -np.inf])
def test_cond_matches_numpy_and_finite_differences(p):
    check_like_numpy(lambda x: np.linalg.cond(x, p), random_matrices(9, (2, 3, 3)) + 2 * np.eye(3))


def test_matrix_rank_counts_singular_values_as_numpy():
    x = random_matrices(10, (2, 4, 3)) * np.array([1.0, 1.0, 0.0])    # rank 2
    check_like_numpy(lambda x: (np.linalg.matrix_rank(x), np.linalg.matrix_rank(x, tol=0.5),
                                np.linalg.matrix_rank(x, rtol=0.1)), x, grad=False)


def test_linalg_of_integers_computes_in_float64_as_numpy():
    a = np.array([[2, 1], [1, 3]])
    check_value(lambda a: (np.linalg.inv(a), np.linalg.det(a), np.linalg.eigvalsh(a), np.linalg.solve(a, a[0])), a)
