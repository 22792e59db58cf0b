"""ONNX's own node tests (1,884 one-op models with expected outputs) on irtoy's interpreter.

Every test either gives ONNX's expected outputs (values within the test's tolerance, same
shapes and dtypes) or is in tests/onnx_expected_failures.py, grouped by reason, and is then
checked to be refused with an IrtoyError saying that reason: a wrong answer fails either way.
The counts are printed at the end of every run ("ONNX node tests on the interpreter: ...",
tests/node_test_counts.py), with how many of the passing tests were compiled for the values of
inputs that give a shape or axes (ONNX's tests often pass those as inputs; irtoy's shapes are
static, so irtoy.onnx.Backend specialises). tests/test_onnx_node_tests_on_numba.py runs the
passing ones again on numba.
"""
import numpy as np
import onnx
import onnx.backend.test
import pytest
from onnx.backend.test.loader import load_model_tests

import irtoy
import irtoy.onnx
import node_test_counts
from onnx_expected_failures import EXPECTED_FAILURES

NODE_TESTS = {case.name: case for case in load_model_tests(kind="node")}
REASON_OF = {name: reason for reason, (_, names) in EXPECTED_FAILURES.items() for name in names}


def run_case(case, backend=irtoy.onnx.Backend):
    rep = backend.prepare(case.model)
    for inputs, expected in case.data_sets:
        inputs = [onnx.numpy_helper.to_array(a) if isinstance(a, onnx.TensorProto) else a for a in inputs]
        expected = [onnx.numpy_helper.to_array(a) if isinstance(a, onnx.TensorProto) else a for a in expected]
        outputs = rep.run(inputs)
        assert len(outputs) == len(expected)
        for got, want in zip(outputs, expected):
            assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
            np.testing.assert_allclose(got, want, rtol=case.rtol, atol=case.atol)
    return rep


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", sorted(NODE_TESTS))
def test_node(name):
    reason = REASON_OF.get(name)
    if reason is None:
        rep = run_case(NODE_TESTS[name])
        node_test_counts.count("interpreter", "passed", len(NODE_TESTS), bool(rep.static_names))
        return
    with pytest.raises(irtoy.IrtoyError, match=EXPECTED_FAILURES[reason][0]):
        run_case(NODE_TESTS[name])
    node_test_counts.count("interpreter", reason, len(NODE_TESTS))


def test_the_expected_failures_name_real_tests_once():
    listed = [name for _, names in EXPECTED_FAILURES.values() for name in names]
    assert len(listed) == len(set(listed))
    assert set(listed) <= set(NODE_TESTS), set(listed) - set(NODE_TESTS)


def test_onnx_own_runner_runs_on_both_backends():
    """onnx.backend.test.BackendTest takes irtoy.onnx.Backend and NumbaBackend as they are."""
    import unittest
    for backend in (irtoy.onnx.Backend, irtoy.onnx.NumbaBackend):
        runner = onnx.backend.test.BackendTest(backend, __name__)
        runner.include(r"^test_(relu|gemm_default_matrix_bias|softmax_axis_1)_cpu$")
        suite = unittest.TestSuite(unittest.defaultTestLoader.loadTestsFromTestCase(case)
                                   for case in runner.test_cases.values())
        result = unittest.TextTestRunner(verbosity=0).run(suite)
        ran = result.testsRun - len(result.skipped)         # the runner skips what `include` leaves out
        assert ran == 3 and result.wasSuccessful(), (result.errors, result.failures)


def test_run_node_and_run_model_on_both_backends():
    node = onnx.helper.make_node("Gemm", ["a", "b", "c"], ["y"], transB=1, alpha=2.0)
    a, b, c = np.ones((2, 3), np.float32), np.arange(12, dtype=np.float32).reshape(4, 3), np.float32(1.0)
    for backend in (irtoy.onnx.Backend, irtoy.onnx.NumbaBackend):
        (y,) = backend.run_node(node, [a, b, c])
        np.testing.assert_allclose(y, 2 * a @ b.T + 1)
    model = NODE_TESTS["test_relu"].model
    x = np.linspace(-1, 1, 60, dtype=np.float32).reshape(3, 4, 5)
    (y,) = irtoy.onnx.Backend.run_model(model, [x])
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    with pytest.raises(irtoy.IrtoyError, match="irtoy has no import rule for the ONNX op DFT"):
        irtoy.onnx.Backend.run_node(onnx.helper.make_node("DFT", ["x"], ["y"]), [x])
