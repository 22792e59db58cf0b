"""Finding a function to trace from the command line: `path/to/file.py:function`.

The `irtoy report` and `irtoy render` commands take such a target. Its example arguments
come from `--spec 'f32[4,6]'` options, else from a module-level `example_args_<function>` or
`example_args` tuple in the user's file. Every problem is a `UsageError` whose message fits
on one line, so the command can print it without a traceback.
"""
import importlib.util
import os
import re
import sys

import numpy as np

from irtoy.errors import IrtoyError
from irtoy.ir import DTYPE_SHORT, Spec

DTYPE_BY_SHORT = {short: np.dtype(name) for name, short in DTYPE_SHORT.items()}


class UsageError(IrtoyError):
    """The command line names something that is not there, or cannot be used."""


def parse_spec(text):
    """'f32[4,6]' -> Spec((4, 6), float32); 'f64[]' is a scalar."""
    match = re.fullmatch(r"\s*(\w+)\[([\d,\s]*)\]\s*", text)
    if not match or match.group(1) not in DTYPE_BY_SHORT:
        raise UsageError(f"cannot read the spec {text!r}: write it like 'f32[4,6]' (dtypes: "
                         f"{', '.join(sorted(DTYPE_BY_SHORT))})")
    dims = [d for d in match.group(2).replace(" ", "").split(",") if d]
    return Spec(tuple(int(d) for d in dims), DTYPE_BY_SHORT[match.group(1)])


def load_module(path):
    """Import a user's Python file by path (this runs its top-level code, as `python file` would)."""
    if not os.path.isfile(path):
        raise UsageError(f"no such file: {path}")
    name = "irtoy_target_" + re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, folder)            # so the file can import its neighbours
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit, KeyboardInterrupt) as e:
        # sys.exit() or an interrupt in the user's top-level code ends the import, not irtoy silently
        raise UsageError(f"{path} failed to import: {describe_exception(e)}") from None
    finally:
        sys.path.remove(folder)
    return module


def describe_exception(e):
    """An exception from user code in one line: 'KeyError: 'x'', 'called sys.exit(3)'."""
    if isinstance(e, SystemExit):
        return f"it called sys.exit({e.code!r})"
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def load_target(target, specs=()):
    """(function, example arguments) for 'file.py:function'."""
    path, sep, name = target.rpartition(":")
    if not sep or not path or not name:
        raise UsageError(f"name a function as FILE.py:FUNCTION, not {target!r}")
    module = load_module(path)
    fn = getattr(module, name, None)
    if not callable(fn):
        raise UsageError(f"{path} has no function {name!r}")
    if specs:
        return fn, tuple(parse_spec(s) for s in specs)
    for attr in (f"example_args_{name}", "example_args"):
        if hasattr(module, attr):
            args = getattr(module, attr)
            return fn, tuple(args) if isinstance(args, (tuple, list)) else (args,)
    raise UsageError(f"{name} needs example arguments: pass --spec 'f32[4,6]' per argument, or define "
                     f"example_args_{name} = (...) or example_args = (...) in {path}")
