"""Arguments that are ndarray subclasses (np.matrix, masked arrays) are taken as the plain
arrays they hold, alike on the interpreter and the numba backend."""
import numpy as np
import pytest

import irtoy


def f(x, y):
    return np.tanh(x * y).sum(axis=0) + (x @ y).reshape(-1)[:2] * 2.0


PLAIN = (np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.5, -1.0], [2.0, 0.25]]))
SUBCLASSES = {
    "matrix": lambda a: np.matrix(a),
    "masked": lambda a: np.ma.masked_array(a, mask=[[0, 1], [0, 0]]),
    "masked_nothing": lambda a: np.ma.masked_array(a),
}


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("kind", list(SUBCLASSES))
def test_subclass_arguments_give_the_plain_arrays_results(backend, kind):
    compiled = irtoy.trace(f, *PLAIN).compile(backend)
    expected = compiled(*PLAIN)
    result = compiled(*(SUBCLASSES[kind](a) for a in PLAIN))
    assert type(result) is np.ndarray
    np.testing.assert_array_equal(result, expected)
