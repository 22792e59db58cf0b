"""ONNX tensors and element types as NumPy arrays and dtypes irtoy computes with."""
import numpy as np

from irtoy.errors import IrtoyError
from irtoy.onnx.engine import require
from irtoy.ops.spec import DTYPE_SHORT

DTYPES = set(DTYPE_SHORT)       # the dtypes irtoy computes with


def tensor_array(tensor, what):
    """A TensorProto as a NumPy array irtoy can hold (no strings, no 8-bit floats)."""
    onnx = require("onnx")
    if tensor.data_type == onnx.TensorProto.STRING:
        raise IrtoyError(f"{what} holds strings; irtoy computes on numbers only")
    try:
        array = onnx.numpy_helper.to_array(tensor)
    except Exception as e:      # a damaged tensor: sizes that do not match its data
        raise IrtoyError(f"{what} cannot be read: {e}") from None
    if array.dtype.kind not in "biuf":
        raise IrtoyError(f"{what} has dtype {array.dtype}, which irtoy does not compute with")
    return array


def onnx_dtype(elem_type, what):
    """The NumPy dtype of an ONNX element type, or an IrtoyError naming `what`."""
    onnx = require("onnx")
    try:
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type))
    except (KeyError, TypeError, ValueError):
        dtype = None
    if dtype is None or dtype.kind not in "biuf" or dtype.name not in DTYPES:
        name = onnx.TensorProto.DataType.Name(elem_type) if elem_type in onnx.TensorProto.DataType.values() \
            else str(elem_type)
        raise IrtoyError(f"{what} has element type {name}, which irtoy does not compute with")
    return dtype
