"""Backends turn a finished graph into something that runs.

A backend is a callable `(graph, profile=False, debug=False) -> executable`, where the
executable has `run(list of arrays) -> list of arrays` for the graph's flat inputs and
outputs, and `stages`, a dict of any extra graphs it made (the numba backend's fusion plan).
The built-in ones are each module's `compile_graph`. Backends are found by name: the
built-in ones below, and any that another package declares in the entry-point group
`irtoy.backends` (naming its callable).
"""
import importlib
from importlib.metadata import entry_points

from irtoy.errors import IrtoyError

BUILTIN = {
    "numpy": "irtoy.backends.interpreter:compile_graph",
    "numba": "irtoy.backends.numba:compile_graph",
}


def available():
    """Names of every backend that can be asked for."""
    return sorted(set(BUILTIN) | {ep.name for ep in entry_points(group="irtoy.backends")})


def get(name):
    """The callable of the backend called `name` (for a built-in one, its `compile_graph`)."""
    if name in BUILTIN:
        module, _, attr = BUILTIN[name].partition(":")
        return getattr(importlib.import_module(module), attr)
    for ep in entry_points(group="irtoy.backends"):
        if ep.name == name:
            return ep.load()
    raise IrtoyError(f"no backend named {name!r}; available: {', '.join(available())}")


def usable():
    """Names of the backends that can run here: the built-in ones, and each one of the
    entry-point group whose own packages are installed (the jax backend needs JAX)."""
    names = []
    for name in available():
        try:
            get(name)
        except IrtoyError:      # an optional extra that is not installed
            continue
        names.append(name)
    return sorted(names, key=lambda n: (n not in BUILTIN, list(BUILTIN).index(n) if n in BUILTIN else 0, n))
