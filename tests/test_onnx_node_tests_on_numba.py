"""ONNX's node tests on numba: every node test the interpreter passes (tests/test_onnx_node_tests.py)
gives ONNX's expected outputs from numba's fused kernels too, except those computing in float16,
which Numba lacks on the CPU: each of those is listed in tests/onnx_expected_failures.py and
checked to be refused with the numba backend's error saying so.

`make test` runs this module once, in its bounds-checked pass (NUMBA_BOUNDSCHECK=1), so a kernel
indexing out of bounds fails here even where its numbers come out right.
"""
import pytest

import irtoy
import irtoy.onnx
import node_test_counts
from onnx_expected_failures import NUMBA_EXPECTED_FAILURES
from test_onnx_node_tests import NODE_TESTS, REASON_OF, run_case

pytestmark = pytest.mark.usefixtures("numba_kernel_cache")
PASSING = sorted(name for name in NODE_TESTS if name not in REASON_OF)
NUMBA_REASON_OF = {name: reason for reason, (_, names) in NUMBA_EXPECTED_FAILURES.items() for name in names}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", PASSING)
def test_node_on_numba(name):
    reason = NUMBA_REASON_OF.get(name)
    if reason is None:
        rep = run_case(NODE_TESTS[name], irtoy.onnx.NumbaBackend)
        node_test_counts.count("numba backend", "passed", len(PASSING), bool(rep.static_names))
        return
    with pytest.raises(irtoy.IrtoyError, match=NUMBA_EXPECTED_FAILURES[reason][0]):
        run_case(NODE_TESTS[name], irtoy.onnx.NumbaBackend)
    node_test_counts.count("numba backend", reason, len(PASSING))


def test_the_numba_failures_are_tests_the_interpreter_passes():
    assert set(NUMBA_REASON_OF) <= set(PASSING)
