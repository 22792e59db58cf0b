"""Pytrees: nested dicts, lists and tuples of arrays, flattened to a list and rebuilt.

A traced function may take `params = {"w": ..., "b": ...}` and return `(loss, grads)`. The
graph itself only knows a flat, ordered list of inputs and outputs; a `TreeDef` remembers the
nesting so the compiled function takes and returns exactly what the user's function did.
Dict keys are visited in sorted order (as JAX does), so two dicts with the same keys always
flatten the same way. Keys of several types (`{1: a, "b": c}`) are sorted by type name first,
then by value within each type; keys that even so cannot be ordered (objects without `<`)
are refused, naming the dict.
"""
from dataclasses import dataclass

from irtoy.errors import TraceError, located
from irtoy.source import user_src


@dataclass(frozen=True)
class TreeDef:
    """The structure of a pytree: `kind` is "leaf", "dict", "list" or "tuple"."""
    kind: str
    keys: tuple = ()        # dict keys, in sorted order
    children: tuple = ()    # TreeDefs of the children

    @property
    def num_leaves(self):
        if self.kind == "leaf":
            return 1
        return sum(c.num_leaves for c in self.children)

    def __repr__(self):
        if self.kind == "leaf":
            return "*"
        if self.kind == "dict":
            return "{" + ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.keys, self.children)) + "}"
        inner = ", ".join(repr(c) for c in self.children)
        return f"[{inner}]" if self.kind == "list" else f"({inner}{',' if len(self.children) == 1 else ''})"


LEAF = TreeDef("leaf")


def flatten(tree, name="the argument"):
    """Return (leaves, treedef); leaves in a fixed order (dict keys sorted). An error names
    the dict by its path from `name`."""
    leaves = []
    treedef = _flatten(tree, leaves, name)
    return leaves, treedef


def _flatten(tree, leaves, path):
    if isinstance(tree, dict):
        keys = sorted_keys(tree, path)
        return TreeDef("dict", keys, tuple(_flatten(tree[k], leaves, f"{path}[{k!r}]") for k in keys))
    if isinstance(tree, (list, tuple)) and not hasattr(tree, "_fields"):
        kind = "list" if isinstance(tree, list) else "tuple"
        return TreeDef(kind, (), tuple(_flatten(t, leaves, f"{path}[{i}]") for i, t in enumerate(tree)))
    leaves.append(tree)
    return LEAF


def sorted_keys(tree, path):
    """The keys of dict `tree` in flatten order: sorted, and if their types cannot be compared,
    sorted by type name and then by value; a TraceError naming dict `path` if neither works."""
    try:
        return tuple(sorted(tree))
    except TypeError:
        pass
    try:
        return tuple(sorted(tree, key=lambda k: (type(k).__name__, k)))
    except TypeError:
        types = sorted({type(k).__name__ for k in tree})
        raise TraceError(f"the keys of the dict {path} cannot be put in order: keys of one type must be "
                         f"sortable, as numbers and strings are, and these ({', '.join(types)}) are not"
                         f"{located(user_src())}") from None


def unflatten(treedef, leaves):
    """Rebuild the pytree described by `treedef` from a flat sequence of leaves."""
    it = iter(leaves)
    tree = _build(treedef, it)
    return tree


def _build(treedef, it):
    if treedef.kind == "leaf":
        return next(it)
    children = [_build(c, it) for c in treedef.children]
    if treedef.kind == "dict":
        return dict(zip(treedef.keys, children))
    return children if treedef.kind == "list" else tuple(children)


def leaf_paths(tree, prefix=""):
    """Readable names of the leaves, in flatten order: `params['w']`, `xs[0]`, `x`."""
    if isinstance(tree, dict):
        return [p for k in sorted_keys(tree, prefix) for p in leaf_paths(tree[k], f"{prefix}[{k!r}]")]
    if isinstance(tree, (list, tuple)) and not hasattr(tree, "_fields"):
        return [p for i, t in enumerate(tree) for p in leaf_paths(t, f"{prefix}[{i}]")]
    return [prefix]
