"""The type of every value in irtoy: an array's shape and dtype.

`Spec((128, 784), np.float32)` prints as f32[128,784]. Users pass Specs to `irtoy.trace` in
place of example arrays; the ops' shape rules compute them; the IR stores them on every node.
"""
import numpy as np

DTYPE_SHORT = {"float16": "f16", "float32": "f32", "float64": "f64", "int8": "i8", "int16": "i16",
               "int32": "i32", "int64": "i64", "uint8": "u8", "uint16": "u16", "uint32": "u32",
               "uint64": "u64", "bool": "bool"}


class Spec:
    """Shape and dtype of an array."""
    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype=np.float32):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)

    @classmethod
    def of(cls, value):
        """The Spec of an array or Python scalar."""
        value = np.asarray(value)
        return cls(value.shape, value.dtype)

    def __eq__(self, other):
        return isinstance(other, Spec) and self.shape == other.shape and self.dtype == other.dtype

    def __hash__(self):
        return hash((self.shape, self.dtype))

    def __str__(self):
        return f"{DTYPE_SHORT.get(self.dtype.name, self.dtype.name)}[{','.join(map(str, self.shape))}]"

    __repr__ = __str__
