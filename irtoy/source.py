"""Where in the user's code are we? The `file:line` every node and every error names.

Nodes record the line of the user's code that made them; errors append it with `located`.
The innermost frame outside irtoy's compiler (and NumPy) is the user's line; irtoy's nn
library is written like user code, so its frames count as the user's unless asked otherwise.
"""
import contextlib
import linecache
import os
import sys

import numpy as np

_IRTOY_DIR = os.path.dirname(os.path.abspath(__file__))
_INTERNAL_DIRS = tuple(os.path.join(d, "") for d in (
    _IRTOY_DIR,
    os.path.join(os.path.dirname(_IRTOY_DIR), "passes"),      # a checkout's passes/ and backends/,
    os.path.join(os.path.dirname(_IRTOY_DIR), "backends"),    # installed as irtoy.passes/.backends
    os.path.dirname(os.path.abspath(np.__file__)),
    os.path.dirname(os.path.abspath(contextlib.__file__)),
))
_USER_DIRS = (os.path.join(_IRTOY_DIR, "nn", ""),)


def _is_internal(filename):
    return filename.startswith(_INTERNAL_DIRS) and not filename.startswith(_USER_DIRS)


def user_src(library_too=False):
    """'file:line' of the innermost frame outside irtoy's core (and NumPy); with
    library_too, outside irtoy's nn library as well (where the user made a layer)."""
    internal = (lambda f: f.startswith(_INTERNAL_DIRS)) if library_too else _is_internal
    frame = sys._getframe(1)
    while frame is not None and internal(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:
        return None
    filename = frame.f_code.co_filename
    try:
        rel = os.path.relpath(filename)
        filename = rel if not rel.startswith("..") else os.path.basename(filename)
    except ValueError:
        filename = os.path.basename(filename)
    return f"{filename}:{frame.f_lineno}"


def source_line(src):
    """The text of the user's line for a 'file:line', for error messages."""
    if not src:
        return ""
    filename, _, line = src.rpartition(":")
    return linecache.getline(filename, int(line)).strip() if line.isdigit() else ""

