"""np.einsum, np.tensordot, np.dot, np.inner, np.vdot, np.outer, np.kron, np.trace, np.matvec,
np.vecmat and np.vecdot against NumPy, finite differences and numba."""
import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import irtoy
from numpy_checks import check_like_numpy
from op_cases import FLOATS, array

pytestmark = pytest.mark.usefixtures("numba_kernel_cache")

LABELS = "abcdA"


@st.composite
def einsum_case(draw):
    """Subscripts of 1 to 3 operands (letters may repeat within one: diagonals), '...' on
    some with broadcasting shapes, an explicit or implicit output; arrays to fit."""
    count = draw(st.integers(1, 3))
    dtype = draw(st.sampled_from(FLOATS))     # one: NumPy's optimize= changes where mixed ones are cast
    sizes = {a: draw(st.integers(1, 3)) for a in LABELS}
    dots = draw(hnp.mutually_broadcastable_shapes(num_shapes=count, max_dims=2, max_side=3)).input_shapes
    with_dots = [draw(st.booleans()) for _ in range(count)]
    terms, arrays = [], []
    for k in range(count):
        letters = draw(st.lists(st.sampled_from(LABELS), max_size=3))
        cut = draw(st.integers(0, len(letters)))
        shape = [sizes[a] for a in letters]
        if with_dots[k]:
            terms.append("".join(letters[:cut]) + "..." + "".join(letters[cut:]))
            shape = shape[:cut] + list(dots[k]) + shape[cut:]
        else:
            terms.append("".join(letters))
        arrays.append(draw(array(dtype, tuple(shape))))
    subscripts = ",".join(terms)
    if draw(st.booleans()):
        used = sorted({a for t in terms for a in t if a != "."})
        out = "".join(draw(st.permutations(used))[:draw(st.integers(0, len(used)))])
        if any(with_dots):
            cut = draw(st.integers(0, len(out)))
            out = out[:cut] + "..." + out[cut:]
        subscripts += "->" + out
    return subscripts, arrays


def einsum_of(subscripts, optimize=False):
    return lambda *xs: np.einsum(subscripts, *xs, optimize=optimize)


@given(einsum_case(), st.sampled_from([False, True, "greedy", "optimal"]))
def test_einsum_matches_numpy_and_finite_differences(case, optimize):
    subscripts, arrays = case
    check_like_numpy(einsum_of(subscripts, optimize), *arrays)


@settings(max_examples=2, derandomize=True, deadline=None)
@given(einsum_case())
def test_einsum_on_numba_matches_the_interpreter(case):
    subscripts, arrays = case
    check_like_numpy(einsum_of(subscripts), *arrays, numba=True)


def test_einsum_contracts_pairwise_with_matmul_and_numba_calls_blas():
    x, y, z = np.ones((5, 6)), np.ones((6, 7)), np.ones((7, 2))
    traced = irtoy.trace(einsum_of("ij,jk,kl->il"), x, y, z)
    assert traced.graph.count_ops().get("matmul") == 2
    assert "multiply" not in traced.graph.count_ops()
    assert "np.matmul(" in traced.compile("numba").source
    assert "np.matmul(" in irtoy.trace(lambda x, y: np.tensordot(x, y, 1), x, y).compile("numba").source


def test_einsum_contracts_the_smallest_product_first():
    big, vector = np.ones((30, 40)), np.ones(40)
    traced = irtoy.trace(einsum_of("ij,jk,k->i"), big, big.T @ big, vector)
    matmuls = [n for n in traced.graph.order() if traced.graph[n]["op"] == "matmul"]
    assert [int(np.prod(traced.graph[n]["shape"])) for n in matmuls] == [40, 30]   # never a 30x40 product


def test_einsum_takes_numpys_other_forms():
    x, y = np.arange(6.0).reshape(2, 3), np.arange(3.0)
    check_like_numpy(lambda x, y: np.einsum(x, [0, 1], y, [1], [0]), x, y)
    check_like_numpy(lambda x, y: np.einsum(x, [Ellipsis, 1], y, [1]), x, y)
    check_like_numpy(lambda x, y: np.einsum("ij , j -> i", x, y), x, y)
    check_like_numpy(lambda x, y: np.einsum("ij,ij->ij", x[:1], x), x, y)      # a letter of length 1 broadcasts
    check_like_numpy(lambda x, y: np.einsum("ij,->ji", x, 2.0), x, y)          # a 0-d operand


def test_einsum_of_mixed_dtypes_computes_in_the_result_dtype():
    x, y = np.linspace(0.1, 2, 3, dtype=np.float32), np.linspace(-1, 1, 3)
    check_like_numpy(lambda x, y: np.einsum("i,i,j->j", x, x, y), x, y)


@pytest.mark.parametrize("fn", [lambda x: np.einsum("i,->i", x, 2.0), lambda x: np.tensordot(x, 2.0, 0),
                                lambda x: np.dot(x, 2.0), lambda x: np.inner(2.0, x), lambda x: np.kron(x, 2.0),
                                lambda x: np.outer(x, 2.0), lambda x: np.vdot(x, [2.0, 1.0])])
def test_python_numbers_are_arrays_of_their_own_dtype_as_numpy_takes_them(fn):
    check_like_numpy(fn, np.array([1.5, -2.0], np.float32))


def test_einsum_keeps_the_operands_dtype_where_numpy_does():
    x = np.arange(9, dtype=np.int32).reshape(3, 3)
    check_like_numpy(lambda x: np.einsum("ii", x), x, grad=False)
    check_like_numpy(lambda x: np.einsum("ij,jk", x, x), x, grad=False)


@pytest.mark.parametrize("subscripts, shapes, message", [
    ("ij,jk", [(2, 3), (4, 5)], "the subscript 'j' has sizes 3 and 4"),
    ("ij", [(2,)], r"the subscripts 'ij' do not fit an operand of 1 dimensions"),
    ("ij->k", [(2, 3)], "the output subscript 'k' appears in no operand"),
    ("ij,j", [(2, 3)], "name 2 operands, but 1 were given"),
    ("i1", [(2, 3)], "'1' in the subscripts 'i1' is not a letter"),
    ("ii", [(2, 3)], "the repeated subscript 'i' of one operand has sizes 2 and 3"),
    ("...i->i", [(2, 3)], "the operands have axes under '...', but the output 'i' has no '...'"),
])
def test_einsum_refuses_bad_subscripts_naming_them(subscripts, shapes, message):
    with pytest.raises(irtoy.ShapeError, match=rf"einsum\(.*{message}.*\n  at .*test_numpy_contractions.py"):
        irtoy.trace(lambda *xs: np.einsum(subscripts, *xs), *[np.ones(s) for s in shapes])


def test_einsum_refuses_out_and_dtype():
    with pytest.raises(irtoy.TraceError, match="numpy.einsum: the option.s. dtype cannot be traced"):
        irtoy.trace(lambda x: np.einsum("ii", x, dtype=np.float32), np.ones((2, 2)))


@st.composite
def tensordot_case(draw):
    dtype = draw(st.sampled_from(FLOATS))
    shared = draw(st.lists(st.integers(1, 3), max_size=2))
    a_free, b_free = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3)), draw(
        hnp.array_shapes(min_dims=0, max_dims=2, max_side=3))
    if draw(st.booleans()):         # axes=n: the last n of a, the first n of b
        a_shape, b_shape, axes = a_free + tuple(shared), tuple(shared) + b_free, len(shared)
    else:                           # a pair of sequences, in any order, some negative
        a_order = draw(st.permutations(range(len(a_free) + len(shared))))
        b_order = draw(st.permutations(range(len(b_free) + len(shared))))
        a_shape = tuple((a_free + tuple(shared))[i] for i in np.argsort(a_order))
        b_shape = tuple((tuple(shared) + b_free)[i] for i in np.argsort(b_order))
        a_axes = [a_order[len(a_free) + k] - draw(st.sampled_from([0, len(a_shape)])) for k in range(len(shared))]
        b_axes = [b_order[k] - draw(st.sampled_from([0, len(b_shape)])) for k in range(len(shared))]
        axes = (a_axes, b_axes)
    return (lambda a, b: np.tensordot(a, b, axes)), draw(array(dtype, a_shape)), draw(array(dtype, b_shape))


@given(tensordot_case())
def test_tensordot_matches_numpy_and_finite_differences(case):
    check_like_numpy(*case)


@st.composite
def dot_case(draw):
    """np.dot of any ranks: scalars, matrix products, and NumPy's N-d rule."""
    a_dims, b_dims = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    n = draw(st.integers(1, 3))
    a_shape = draw(hnp.array_shapes(min_dims=a_dims, max_dims=a_dims, max_side=3))
    b_shape = draw(hnp.array_shapes(min_dims=b_dims, max_dims=b_dims, max_side=3))
    if a_dims and b_dims:
        a_shape = a_shape[:-1] + (n,)
        b_shape = (n,) if b_dims == 1 else b_shape[:-2] + (n,) + b_shape[-1:]
    fn = draw(st.sampled_from([lambda a, b: np.dot(a, b), lambda a, b: a.dot(b)]))
    return fn, draw(array(draw(st.sampled_from(FLOATS)), a_shape)), draw(array(draw(st.sampled_from(FLOATS)), b_shape))


@given(dot_case())
def test_dot_matches_numpy_at_every_rank(case):
    check_like_numpy(*case)


@st.composite
def other_contraction_case(draw):
    """inner, vdot, outer, kron, trace, matmul, matvec, vecmat, vecdot on fitting shapes."""
    name = draw(st.sampled_from(["inner", "vdot", "outer", "kron", "trace", "matmul", "matvec", "vecmat", "vecdot"]))
    dtype = draw(st.sampled_from(FLOATS))
    n = draw(st.integers(1, 3))
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3)).input_shapes
    any_shape = hnp.array_shapes(min_dims=0, max_dims=3, max_side=3)
    if name == "inner":
        a_shape, b_shape = draw(any_shape), draw(any_shape)
        if a_shape and b_shape:
            b_shape = b_shape[:-1] + a_shape[-1:]
        fn = lambda a, b: np.inner(a, b)
    elif name == "vdot":
        a_shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3))
        b_shape = (int(np.prod(a_shape)),)
        fn = lambda a, b: np.vdot(a, b)
    elif name in ("outer", "kron"):
        a_shape, b_shape = draw(any_shape), draw(any_shape)
        fn = (lambda a, b: np.outer(a, b)) if name == "outer" else (lambda a, b: np.kron(a, b))
    elif name == "trace":
        a_shape, b_shape = draw(hnp.array_shapes(min_dims=2, max_dims=4, max_side=3)), ()
        offset = draw(st.integers(-3, 3))
        axis1, axis2 = draw(st.lists(st.integers(-len(a_shape), len(a_shape) - 1), min_size=2, max_size=2,
                                     unique_by=lambda k: k % len(a_shape)))
        fn = lambda a, b: (b * np.trace(a, offset, axis1, axis2), a.trace(offset=offset))
    elif name == "matmul":
        a_shape, b_shape = batch[0] + (2, n), batch[1] + (n, 3)
        fn = lambda a, b: np.linalg.matmul(a, b)
    elif name == "matvec":
        a_shape, b_shape = batch[0] + (2, n), batch[1] + (n,)
        fn = lambda a, b: np.matvec(a, b)
    elif name == "vecmat":
        a_shape, b_shape = batch[0] + (n,), batch[1] + (n, 2)
        fn = lambda a, b: np.vecmat(a, b)
    else:
        a_shape, b_shape = batch[0] + (n,), batch[1] + (n,)
        fn = draw(st.sampled_from([lambda a, b: np.vecdot(a, b), lambda a, b: np.linalg.vecdot(a, b, axis=-1)]))
    return fn, draw(array(dtype, a_shape)), draw(array(dtype, b_shape))


@given(other_contraction_case())
def test_other_contractions_match_numpy_and_finite_differences(case):
    check_like_numpy(*case)


def test_vecdot_takes_an_axis_of_each_argument():
    a, b = np.arange(12.0).reshape(3, 4), np.arange(3.0)
    check_like_numpy(lambda a, b: np.linalg.vecdot(a, b, axis=0), a, b)


def test_contractions_on_numba_match_the_interpreter():
    rng = np.random.default_rng(1)
    a, b, v = rng.normal(size=(2, 3, 4)), rng.normal(size=(5, 4, 2)), rng.normal(size=4)

    def many(a, b, v):
        return (np.dot(a, b), np.tensordot(a, b, ([2], [1])), np.inner(a, v), np.kron(v, v),
                np.trace(a, axis1=1, axis2=2), np.outer(a, v), np.vdot(a, a), np.einsum("ijk,lkm,k->im", a, b, v))
    check_like_numpy(many, a, b, v, numba=True)


@pytest.mark.parametrize("fn, args, message", [
    (lambda a, b: np.tensordot(a, b, 3), [(2, 3), (3, 2)], "axes=3 must be between 0 and the smaller"),
    (lambda a, b: np.tensordot(a, b, ([0], [0])), [(2, 3), (3, 2)], "axis 0 of a has 2 entries and axis 0 of b has 3"),
    (lambda a, b: np.tensordot(a, b, ([0, 1], [0])), [(2, 3), (3, 2)], "are not equally many"),
    (lambda a, b: np.vdot(a, b), [(2, 3), (5,)], "vdot needs arrays of equal size, not 6 and 5"),
    (lambda a, b: np.dot(a, b), [(2, 3), (4, 5)], "contracted dimensions differ: 3 != 4"),
])
def test_bad_contractions_are_refused_naming_the_function(fn, args, message):
    with pytest.raises(irtoy.ShapeError, match=message):
        irtoy.trace(fn, *[np.ones(s) for s in args])
