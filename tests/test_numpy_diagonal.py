"""np.diagonal (and x.diagonal()) against NumPy, finite differences and numba."""
import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import irtoy
from numpy_checks import check_like_numpy
from op_cases import FLOATS, array

pytestmark = pytest.mark.usefixtures("numba_kernel_cache")


@st.composite
def diagonal_case(draw):
    x = draw(array(draw(st.sampled_from(FLOATS)), draw(hnp.array_shapes(min_dims=2, max_dims=4, max_side=4))))
    axis1, axis2 = draw(st.lists(st.integers(-x.ndim, x.ndim - 1), min_size=2, max_size=2,
                                 unique_by=lambda a: a % x.ndim))
    offset = draw(st.integers(-5, 5))
    return lambda x: np.diagonal(x, offset, axis1, axis2), x


@given(diagonal_case())
def test_diagonal_matches_numpy_and_finite_differences(case):
    check_like_numpy(*case)


@settings(max_examples=2, derandomize=True, deadline=None)
@given(diagonal_case())
def test_diagonal_on_numba_matches_the_interpreter(case):
    check_like_numpy(*case, grad=False, numba=True)


def test_diagonal_method_takes_numpys_keywords():
    x = np.arange(12.0).reshape(3, 4)
    check_like_numpy(lambda x: x.diagonal(offset=-1, axis1=1, axis2=0), x)


def test_diagonal_of_one_axis_is_refused_naming_it():
    with pytest.raises(irtoy.ShapeError, match=r"diagonal\(f64\[3\]\): diagonal needs an array of at least 2"):
        irtoy.trace(np.diagonal, np.ones(3))
