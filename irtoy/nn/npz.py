"""Reading the arrays of a saved model's .npz file, which may be damaged or forged.

`np.load` trusts the sizes a file states: a member's .npy header claiming a shape of
terabytes makes it allocate that much before reading a byte. Here every member is checked
against the bytes the file really holds before anything is allocated for it: the header's
shape times the item size must be exactly the member's size, and the member must be stored
(Model.save never compresses), so its size is bounded by the file's. Nothing is unpickled.
Every problem is an IrtoyError naming the file and the member.
"""
import math
import os
import zipfile

import numpy as np
from numpy.lib import format as npy

from irtoy.errors import IrtoyError


def read_arrays(path):
    """{name: array} for every .npy member of the .npz file at `path`, or IrtoyError."""
    if os.path.isdir(path):
        raise IrtoyError(f"{path} is a folder, not a model file")
    try:
        with zipfile.ZipFile(path) as archive:
            return {info.filename[:-4]: _read_member(path, archive, info) for info in archive.infolist()
                    if info.filename.endswith(".npy")}
    except IrtoyError:
        raise
    except FileNotFoundError:
        raise IrtoyError(f"no such model file: {path}") from None
    except OSError as e:
        raise IrtoyError(f"cannot read the model file {path}: {e.strerror or e}") from None
    except Exception as e:
        # zipfile, zlib and NumPy's header parser raise many kinds of errors on damaged
        # bytes (BadZipFile, EOFError, ValueError, SyntaxError, ...): all mean the same here.
        raise IrtoyError(f"{path} is damaged, not a model file irtoy can read: {type(e).__name__}: {e}") from None


def _read_member(path, archive, info):
    where = f"{path}: member {info.filename}"
    if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
        raise IrtoyError(f"{where} is compressed, but model files store their arrays uncompressed")
    if info.header_offset + info.compress_size > os.path.getsize(path):
        raise IrtoyError(f"{where} claims {info.compress_size} bytes, more than the file holds")
    with archive.open(info) as member:
        version = npy.read_magic(member)
        if version not in ((1, 0), (2, 0)):
            raise IrtoyError(f"{where} has .npy format version {version}, not 1.0 or 2.0")
        read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        shape, fortran_order, dtype = read_header(member)
        if dtype.hasobject:
            raise IrtoyError(f"{where} holds Python objects, which a model file never does")
        data_size = math.prod(shape) * dtype.itemsize
        if member.tell() + data_size != info.file_size:
            raise IrtoyError(f"{where} claims {dtype}{list(shape)} ({data_size} bytes), but the member holds "
                             f"{info.file_size - member.tell()} bytes of data")
        data = member.read(data_size)
    array = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran_order else "C")
    return array.copy()         # writeable, and owning its memory like np.load's arrays
