"""Pytrees: dicts, lists and tuples flattened in one fixed order, whatever their keys."""
import numpy as np
import pytest

import irtoy
from irtoy import pytree

X = np.arange(6, dtype=np.float32).reshape(2, 3)


def test_dict_keys_of_several_types_flatten_in_one_order_whatever_the_insertion_order():
    one = {1: "a", "b": "c", 0: "d", "a": "e"}
    other = {"a": "e", 0: "d", "b": "c", 1: "a"}
    assert pytree.flatten(one) == pytree.flatten(other)
    leaves, tree = pytree.flatten(one)
    assert tree.keys == (0, 1, "a", "b") and leaves == ["d", "a", "e", "c"]     # by type name, then value
    assert pytree.unflatten(tree, leaves) == one
    assert pytree.leaf_paths(one, "d") == ["d[0]", "d[1]", "d['a']", "d['b']"]


def test_a_function_of_a_dict_with_keys_of_several_types_traces_and_compiles():
    def fn(d):
        return {"sum": d[1] + d["b"], 2: d["b"] * 2}

    f = irtoy.trace(fn, {1: X, "b": X + 1}).compile()
    out = f({"b": X, 1: X * 3})
    np.testing.assert_array_equal(out["sum"], X * 4)
    np.testing.assert_array_equal(out[2], X * 2)


def test_keys_that_cannot_be_ordered_are_refused_naming_the_dict_and_line():
    unordered = {(1, "a"): X, (1, 2): X}         # tuples of one type, but "a" < 2 fails
    with pytest.raises(irtoy.TraceError, match=r"the keys of the dict params\['layer'\] cannot be put in order: "
                                               r"keys of one type must be sortable.*\(tuple\) are not"
                                               r"\n  at \S*test_pytree\.py:\d+"):
        irtoy.trace(lambda params: params["layer"][(1, 2)], {"layer": unordered})
    f = irtoy.trace(lambda params: params["layer"][(1, 2)], {"layer": {(1, 2): X}}).compile()
    with pytest.raises(irtoy.TraceError, match=r"the keys of the dict \(args, kwargs\)\[0\]\[0\]\['layer'\] cannot "
                                               r"be put in order"):
        f({"layer": unordered})
    with pytest.raises(irtoy.TraceError, match=r"the keys of the dict the result cannot be put in order"):
        irtoy.trace(lambda x: {(1, "a"): x, (1, 2): x}, X)
