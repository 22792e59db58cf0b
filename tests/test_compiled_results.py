"""What a compiled function returns: NumPy arrays, on every backend, in the traced function's
structure: a 0-d array where it returned a scalar (a sum, the gradient of a scalar argument),
never a NumPy or Python scalar, as JAX returns arrays."""
import numpy as np
import pytest

import irtoy

BACKENDS = ["numpy", "numba"]


def loss(x, scale):
    return np.sum(x * x) * scale


def leaves(tree):
    if isinstance(tree, dict):
        return [leaf for v in tree.values() for leaf in leaves(v)]
    if isinstance(tree, (list, tuple)):
        return [leaf for v in tree for leaf in leaves(v)]
    return [tree]


def assert_arrays(result, shapes):
    assert [type(leaf) for leaf in leaves(result)] == [np.ndarray] * len(shapes), result
    assert [leaf.shape for leaf in leaves(result)] == shapes


@pytest.mark.parametrize("backend", BACKENDS)
def test_value_and_gradients_are_arrays_and_scalars_are_0d_arrays(backend):
    x, scale = np.ones(3, np.float64), np.float64(2.0)
    f = irtoy.trace(loss, x, scale).value_and_grad(wrt=(0, 1)).compile(backend)
    value, (dx, dscale) = f(x, scale)
    assert_arrays((value, dx, dscale), [(), (3,), ()])
    assert float(value) == 6.0 and float(dscale) == 3.0 and dx.tolist() == [4.0, 4.0, 4.0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_returned_argument_a_reduction_and_a_dict_of_them_are_arrays(backend):
    def fn(x, s):
        return {"total": x.sum(), "s": s, "pair": [x, x.max()]}
    x = np.arange(4.0)
    result = irtoy.trace(fn, x, np.float64(1.0)).compile(backend)(x, np.float64(5.0))
    assert sorted(result) == ["pair", "s", "total"]
    assert_arrays([result["pair"], result["s"], result["total"]], [(4,), (), (), ()])
    assert float(result["s"]) == 5.0 and float(result["total"]) == 6.0


def test_irtoy_grad_of_a_scalar_argument_is_a_0d_array():
    dsquare = irtoy.grad(lambda s: s * s)
    assert_arrays(dsquare(np.float64(3.0)), [()])
    assert float(dsquare(np.float64(3.0))) == 6.0
    value, grad = irtoy.value_and_grad(lambda s, x: np.sum(s * x), wrt=(0, 1))(np.float64(2.0), np.ones(2))
    assert_arrays((value, grad), [(), (), (2,)])
