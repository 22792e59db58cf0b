"""What a compiled function does with the arguments it is called with, on every backend.

A compiled function was traced for arguments of exact shapes and dtypes; each call's
arguments are checked against those before anything runs (a generated kernel trusts them),
and Python numbers are converted as the traced function would have taken them. Arrays in the
other byte order (big-endian data read from a file) are converted to native order, as
NumPy's ufuncs convert them: a copy, made only for such arrays.
"""
import numpy as np

from irtoy.errors import ShapeError, located
from irtoy.ir import Spec


def as_argument(value, dtype):
    """An argument as an array; a Python number becomes `dtype` when NumPy's same-kind casting
    allows it (2 or 2.0 where float32 was traced, but not 3.5 where int64 was), so a compiled
    function takes numbers as the traced function did without ever truncating them."""
    if isinstance(value, np.ndarray):
        return value if value.dtype.isnative else value.astype(value.dtype.newbyteorder("="))
    array = np.asarray(value)
    if isinstance(value, (bool, int, float)) and np.can_cast(array.dtype, dtype, "same_kind"):
        try:
            return np.asarray(value, dtype)
        except OverflowError:           # an int too large for the traced integer type
            pass
    return array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))


def check_argument(value, spec, name, function=None):
    """`value` as an array of exactly `spec`, or a ShapeError naming argument `name` (and the
    compiled `function`, when given)."""
    array = as_argument(value, spec.dtype)
    if array.shape != spec.shape or array.dtype != spec.dtype:
        prefix = f"{function}: " if function else ""
        try:
            given = Spec.of(value)
        except ShapeError as e:         # an object array, an int too large for NumPy
            raise ShapeError(f"{prefix}argument {name} was traced as {spec}, but this call passes "
                             f"a value irtoy cannot take: {e}") from None
        raise ShapeError(f"{prefix}argument {name} was traced as {spec}, but this call passes "
                         f"{given}; trace again for new shapes or dtypes")
    return array


def check_weak_int(value, weak_casts, name, function=None):
    """A Python int argument (weakly typed: it takes the dtype of the arrays it meets) must fit
    each integer dtype in `weak_casts` ((dtype, file:line) where it met those arrays), as
    NumPy 2 refuses `np.ones(2, np.int8) + 300` rather than wrap 300 to 44."""
    if not isinstance(value, int) or isinstance(value, bool):
        return
    for dtype, src in weak_casts:
        info = np.iinfo(dtype)
        if not info.min <= value <= info.max:
            prefix = f"{function}: " if function else ""
            raise ShapeError(f"{prefix}argument {name} is the Python int {value}, out of bounds for {dtype}, "
                             f"the dtype of the array it meets; as in NumPy 2, it is refused rather than "
                             f"wrapped: pass an int in [{info.min}, {info.max}]{located(src)}")
