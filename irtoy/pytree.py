"""Pytrees: nested dicts, lists and tuples of arrays, flattened to a list and rebuilt.

A traced function may take `params = {"w": ..., "b": ...}` and return `(loss, grads)`. The
graph itself only knows a flat, ordered list of inputs and outputs; a `TreeDef` remembers the
nesting so the compiled function takes and returns exactly what the user's function did.
Dict keys are visited in sorted order (as JAX does), so two dicts with the same keys always
flatten the same way.
"""
from dataclasses import dataclass


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


def flatten(tree):
    """Return (leaves, treedef); leaves in a fixed order (dict keys sorted)."""
    leaves = []
    treedef = _flatten(tree, leaves)
    return leaves, treedef


def _flatten(tree, leaves):
    if isinstance(tree, dict):
        keys = tuple(sorted(tree))
        return TreeDef("dict", keys, tuple(_flatten(tree[k], leaves) for k in keys))
    if isinstance(tree, (list, tuple)) and not hasattr(tree, "_fields"):
        kind = "list" if isinstance(tree, list) else "tuple"
        return TreeDef(kind, (), tuple(_flatten(t, leaves) for t in tree))
    leaves.append(tree)
    return LEAF


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
        return [p for k in sorted(tree) for p in leaf_paths(tree[k], f"{prefix}[{k!r}]")]
    if isinstance(tree, (list, tuple)) and not hasattr(tree, "_fields"):
        return [p for i, t in enumerate(tree) for p in leaf_paths(t, f"{prefix}[{i}]")]
    return [prefix]
