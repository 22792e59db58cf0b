"""Every registry op, traced and run on the interpreter, gives exactly what NumPy gives."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import irtoy
from irtoy import ops
from op_cases import CASES, untested_ops


def assert_same_array(got, expected):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape
    assert got.dtype == expected.dtype
    if expected.dtype.kind == "f":
        np.testing.assert_allclose(got, expected, rtol=1e-6 if expected.dtype == np.float32 else 1e-12, atol=0)
    else:
        np.testing.assert_array_equal(got, expected)


def test_every_registry_op_has_a_test_case():
    assert untested_ops() == []


@pytest.mark.parametrize("op", sorted(CASES))
@given(data=st.data())
def test_op_matches_numpy(op, data):
    case = data.draw(CASES[op])
    traced = irtoy.trace(case.fn, *case.args)
    assert op in traced.graph.count_ops(), f"{case} did not record a {op} node"
    with np.errstate(all="ignore"):
        expected = case.fn(*case.args)
        got = traced.compile("numpy")(*case.args)
    assert_same_array(got, expected)


DTYPES = [np.float32, np.float64, np.int32, np.int64, np.bool_]


@pytest.mark.parametrize("a", DTYPES)
@pytest.mark.parametrize("b", DTYPES)
@pytest.mark.parametrize("fn", [np.add, np.multiply, np.maximum, np.divide, np.greater,
                                lambda x, y: np.where(x > 0, x, y)], ids=["add", "multiply", "maximum", "divide",
                                                                        "greater", "where"])
def test_dtype_promotion_follows_numpy(fn, a, b):
    x, y = np.array([1, 0, 2]).astype(a), np.array([[3], [1]]).astype(b)
    traced = irtoy.trace(fn, x, y)
    assert traced.graph.spec(traced.graph.outputs[0]).dtype == fn(x, y).dtype
    assert_same_array(traced.compile()(x, y), fn(x, y))


@pytest.mark.parametrize("dtype, scalar, expected", [
    (np.float32, 2.0, np.float32), (np.float32, 2, np.float32), (np.int32, 2, np.int32),
    (np.int32, 2.5, np.float64), (np.float64, 1, np.float64), (np.bool_, 1, np.int64),
])
def test_python_scalars_are_weakly_typed_as_in_numpy(dtype, scalar, expected):
    x = np.ones(3, dtype)
    traced = irtoy.trace(lambda x: x * scalar + scalar, x)
    out = traced.compile()(x)
    assert out.dtype == np.dtype(expected) == (x * scalar + scalar).dtype


def test_zero_dimensional_arrays_flow_through_every_kind_of_op():
    def fn(s, v):
        return (np.exp(s) * v).sum() + s.reshape(1)[0] - np.maximum(s, 0.5)
    s, v = np.array(0.3), np.arange(4.0)
    assert_same_array(irtoy.trace(fn, s, v).compile()(s, v), fn(s, v))


def test_ops_compute_eagerly_on_plain_arrays():
    x = np.array([[1.0, -2.0], [3.0, 4.0]])
    assert_same_array(ops.sum(ops.maximum(x, 0.0), axis=-1, keepdims=True),
                      np.maximum(x, 0).sum(-1, keepdims=True))
    assert_same_array(ops.scatter(np.ones(1), ops.normalize_index((1, slice(0, 1)), (2, 2)), (2, 2)),
                      np.array([[0.0, 0.0], [1.0, 0.0]]))


def test_bad_axes_and_shapes_name_the_op_and_shapes():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(irtoy.ShapeError, match="axis 2 is out of range"):
        irtoy.trace(lambda x: x.sum(axis=2), x)
    with pytest.raises(irtoy.ShapeError, match=r"reshape.*\(2, 3\).*\(4, -1\)"):
        irtoy.trace(lambda x: x.reshape(4, -1), x)
    with pytest.raises(irtoy.ShapeError, match=r"add\(f32\[2,3\], f32\[4\]\).*do not broadcast"):
        irtoy.trace(lambda x: x + np.ones(4, np.float32), x)
    with pytest.raises(irtoy.ShapeError, match=r"concatenate.*must match except on axis 0"):
        irtoy.trace(lambda x: np.concatenate([x, x.T]), x)
