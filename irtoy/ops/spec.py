"""The type of every value in irtoy: an array's shape and dtype.

`Spec((128, 784), np.float32)` prints as f32[128,784]. Users pass Specs to `irtoy.trace` in
place of example arrays; the ops' shape rules compute them; the IR stores them on every node.

A Spec only describes arrays NumPy could make and irtoy can compute on: sizes are
non-negative integers (a float size is refused, as NumPy refuses it, never truncated), the
array fits in memory NumPy can address (so any product of its sizes fits an int64), and the
dtype is bool or a number. Byte order is not part of a Spec: a big-endian float32 array is an
f32 array, converted to native order where it enters a graph, as NumPy's ufuncs convert it.
"""
import math
import operator

import numpy as np

from irtoy.errors import ShapeError

DTYPE_SHORT = {"float16": "f16", "float32": "f32", "float64": "f64", "int8": "i8", "int16": "i16",
               "int32": "i32", "int64": "i64", "uint8": "u8", "uint16": "u16", "uint32": "u32",
               "uint64": "u64", "bool": "bool"}
NUMERIC_KINDS = "biuf"                  # bool, signed and unsigned int, float (no complex numbers)
LARGEST_ARRAY = np.iinfo(np.intp).max   # bytes: NumPy's limit on an array's size


class Spec:
    """Shape and dtype of an array."""
    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype=np.float32):
        if isinstance(shape, (int, np.integer)):
            shape = (shape,)            # as np.zeros(3)
        try:
            shape = tuple(shape)
        except TypeError:
            raise ShapeError(f"a shape is an int or a sequence of ints, not {shape!r}") from None
        self.shape = tuple(_size(d, shape) for d in shape)
        self.dtype = native_dtype(dtype)
        # As NumPy counts, zero sizes aside: then every product of sizes fits an int64.
        nbytes = math.prod(d for d in self.shape if d) * self.dtype.itemsize
        if nbytes > LARGEST_ARRAY:
            raise ShapeError(f"{self} would take {nbytes} bytes, more than any NumPy array can hold")

    @classmethod
    def of(cls, value):
        """The Spec of an array or Python scalar."""
        array = np.asarray(value)
        return cls(array.shape, _computable_dtype(array, value))

    def __eq__(self, other):
        return isinstance(other, Spec) and self.shape == other.shape and self.dtype == other.dtype

    def __hash__(self):
        return hash((self.shape, self.dtype))

    def __str__(self):
        return f"{DTYPE_SHORT.get(self.dtype.name, self.dtype.name)}[{','.join(map(str, self.shape))}]"

    __repr__ = __str__


def _size(d, shape):
    """One size of `shape` as a Python int: integers only, never negative."""
    try:
        size = operator.index(d)
    except TypeError:
        raise ShapeError(f"sizes must be integers, not {d!r} (in shape {shape})") from None
    if size < 0:
        raise ShapeError(f"sizes are never negative: {d} in shape {shape}")
    return size


def new_array(value, dtype=None):
    """A copy of `value` as an array irtoy can compute with, in native byte order: a ShapeError
    for an object array or a Python int that does not fit (`dtype`, or any NumPy integer)."""
    try:
        array = np.array(value, dtype=dtype)
    except OverflowError:
        raise ShapeError(f"the Python int {value} does not fit {np.dtype(dtype).name}") from None
    return array.astype(_computable_dtype(array, value), copy=False)


def _computable_dtype(array, value):
    """The native dtype of `array`, made from `value`, or a ShapeError saying why irtoy cannot
    compute with it."""
    if array.dtype.kind == "O" and isinstance(value, int):
        raise ShapeError(f"the Python int {value} fits no NumPy integer type (int64 or uint64)")
    return native_dtype(array.dtype)


def native_dtype(dtype):
    """`dtype` in the machine's byte order, or a ShapeError when irtoy cannot compute with it."""
    try:
        dtype = np.dtype(dtype)
    except TypeError as e:
        raise ShapeError(f"{dtype!r} is not a dtype: {e}") from None
    if dtype.kind == "c":
        raise ShapeError(f"dtype {dtype} is not supported: traced arrays hold real numbers (bool, integer or "
                         f"floating point), not complex ones")
    if dtype.kind not in NUMERIC_KINDS:
        raise ShapeError(f"dtype {dtype} is not supported: irtoy computes on bool and numeric arrays only")
    return dtype if dtype.isnative else dtype.newbyteorder("=")
