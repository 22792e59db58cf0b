"""Specs: only shapes and dtypes NumPy could make and irtoy can compute on, sizes exact."""
import numpy as np
import pytest

import irtoy
from irtoy import Spec

HUGE = Spec((2**30, 2**30), np.float32)        # 4 EiB: traced, never allocated


@pytest.mark.parametrize("shape, message", [
    ((3.7, 2), r"sizes must be integers, not 3\.7 \(in shape \(3\.7, 2\)\)"),
    ((3.0, 2), r"sizes must be integers, not 3\.0"),                      # floats are refused, as NumPy does
    ((np.float32(2),), r"sizes must be integers, not np\.float32\(2\.0\)"),
    (("3",), r"sizes must be integers, not '3'"),
    ((-3, 2), r"sizes are never negative: -3 in shape \(-3, 2\)"),
    ((2**32, 2**32), r"f32\[4294967296,4294967296\] would take 73786976294838206464 bytes, more than any NumPy "
                     r"array can hold"),
    ((0, 2**40, 2**40), r"would take \d+ bytes, more than any NumPy array can hold"),   # NumPy's own rule
])
def test_specs_refuse_sizes_no_numpy_array_has(shape, message):
    with pytest.raises(irtoy.ShapeError, match=message):
        Spec(shape)


def test_specs_take_integer_sizes_of_any_integer_type():
    spec = Spec((np.int64(3), np.uint8(2), True, 0))
    assert spec.shape == (3, 2, 1, 0) and all(type(d) is int for d in spec.shape)
    assert Spec(3) == Spec([3]) == Spec(np.int32(3)) == Spec((3,))             # as np.zeros(3)
    with pytest.raises(irtoy.ShapeError, match=r"a shape is an int or a sequence of ints, not 3\.5"):
        Spec(3.5)


@pytest.mark.parametrize("dtype, message", [
    (object, r"dtype object is not supported"),
    (str, r"dtype <U0 is not supported"),
    ("datetime64[s]", r"dtype datetime64\[s\] is not supported"),
    ("not-a-dtype", r"'not-a-dtype' is not a dtype"),
])
def test_specs_refuse_dtypes_irtoy_cannot_compute_with(dtype, message):
    with pytest.raises(irtoy.ShapeError, match=message):
        Spec((2,), dtype)


def test_byte_order_is_not_part_of_a_spec():
    assert Spec((3, 4), ">f4") == Spec((3, 4), np.float32) == Spec.of(np.zeros((3, 4), ">f4"))
    assert Spec((3,), ">f4").dtype.isnative


def test_huge_specs_trace_with_exact_sizes():
    def fn(x):
        return x.reshape(-1), x.size, x.reshape(2**20, -1, 2), x[0], x.sum(axis=0), x.T

    traced = irtoy.trace(fn, HUGE)
    flat, size, reshaped, row, total, transposed = [traced.graph.spec(n) for n in traced.graph.outputs]
    assert flat == Spec((2**60,)) and reshaped == Spec((2**20, 2**39, 2))
    assert row == total == Spec((2**30,)) and transposed == HUGE
    assert traced.graph[traced.graph.outputs[1]]["value"] == 2**60        # x.size, exactly


@pytest.mark.parametrize("shape", [(2**32, 2**32 + 1, -1), (2**32, 2**32 + 1)],
                         ids=["with-minus-one", "without"])
def test_reshape_counts_elements_exactly(shape):
    # 2**32 * (2**32 + 1) wraps around to 2**32 in int64: the size of x, but no reshape of it
    with pytest.raises(irtoy.ShapeError, match=r"reshape\(i8\[4294967296\].*: cannot reshape"
                                               r".*\n  at \S*test_spec\.py:\d+"):
        irtoy.trace(lambda x: x.reshape(shape), Spec((2**32,), np.int8))


def test_reshape_refuses_sizes_that_are_not_integers():
    with pytest.raises(irtoy.ShapeError, match=r"reshape\(f32\[2,3\], 3\.0, 2\): sizes must be integers, not "
                                               r"\(3\.0, 2\)\n  at \S*test_spec\.py:\d+"):
        irtoy.trace(lambda x: x.reshape(3.0, 2), np.zeros((2, 3), np.float32))


def test_a_spec_too_large_for_numpy_made_by_an_op_names_the_op_and_line():
    with pytest.raises(irtoy.ShapeError, match=r"concatenate\(f32\[1073741824,1073741824\], f32\[1073741824,"
                                               r"1073741824\]\): f32\[2147483648,1073741824\] would take "
                                               r"9223372036854775808 bytes.*\n  at \S*test_spec\.py:\d+"):
        irtoy.trace(lambda x: np.concatenate([x, x]), HUGE)
    with pytest.raises(irtoy.ShapeError, match=r"cast\(f32\[1073741824,1073741824\].*\): f64\[1073741824,"
                                               r"1073741824\] would take \d+ bytes.*\n  at \S*test_spec\.py:\d+"):
        irtoy.trace(lambda x: x.astype(np.float64), HUGE)


@pytest.mark.parametrize("fn, arg", [
    (np.log1p, np.array([1 + 1j])),                      # a complex argument
    (lambda x: x.astype(np.complex64), np.ones(2)),      # a cast to complex
    (lambda x: x * np.array([1j]), np.ones(2)),          # a complex constant
    (lambda x: np.fft.fft(x), np.ones(4)),               # np.fft
], ids=["argument", "cast", "constant", "fft"])
def test_complex_numbers_are_refused_saying_traced_arrays_are_real(fn, arg):
    with pytest.raises(irtoy.IrtoyError, match=r"(?s)(not complex ones|complex numbers are not supported).*\n  at "):
        irtoy.trace(fn, arg)
