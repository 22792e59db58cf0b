"""irtoy.debug_nans: the interpreter names the first node that made a NaN or an infinity."""
import os
import subprocess
import sys

import numpy as np
import pytest

import irtoy


def loss(x, y):
    scale = np.log(y)                   # -inf where y == 0: the node to be named
    return np.sum(np.exp(x) * scale)


def test_the_first_node_making_a_nan_or_inf_is_named_with_its_op_shapes_and_line():
    compiled = irtoy.trace(loss, np.ones(4), np.ones(4)).compile("numpy")
    x, y = np.ones(4), np.array([1.0, 2.0, 0.0, 3.0])
    assert not np.isfinite(compiled(x, y))           # off: the result just is not finite
    with irtoy.debug_nans():
        with pytest.raises(irtoy.NonFiniteError) as info:
            compiled(x, y)
    message = str(info.value)
    assert "log made 1 NaN or infinite value(s) from finite inputs (float64[4]) -> float64[4]" in message
    assert "the first an infinity at index [2]" in message
    assert f"test_debugging.py:{loss.__code__.co_firstlineno + 1}" in message
    assert isinstance(info.value, irtoy.IrtoyError) and isinstance(info.value, FloatingPointError)
    assert not np.isfinite(compiled(x, y))           # off again after the block


def test_a_non_finite_argument_is_not_blamed_on_the_nodes_it_flows_through():
    compiled = irtoy.trace(loss, np.ones(4), np.ones(4)).compile("numpy")
    with irtoy.debug_nans():
        assert np.isnan(compiled(np.array([1.0, np.nan, 0.0, 1.0]), np.ones(4)))
        compiled(np.ones(4), np.ones(4))             # finite all along: no error


def test_the_flag_stays_on_until_turned_off():
    compiled = irtoy.trace(loss, np.ones(4), np.ones(4)).compile("numpy")
    try:
        irtoy.debug_nans(True)
        with pytest.raises(irtoy.NonFiniteError, match="log made"):
            compiled(np.ones(4), np.zeros(4))
    finally:
        irtoy.debug_nans(False)
    assert not np.isfinite(compiled(np.ones(4), np.zeros(4)))


def test_the_environment_variable_turns_it_on():
    program = ("import numpy as np, irtoy\n"
               "f = irtoy.trace(lambda x: np.sqrt(x) + 1, np.ones(3)).compile('numpy')\n"
               "try:\n    f(-np.ones(3))\nexcept irtoy.NonFiniteError as e:\n    print('caught', e)\n")
    env = {**os.environ, "IRTOY_DEBUG_NANS": "1"}
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env, timeout=300)
    assert result.stdout.startswith("caught sqrt made 3 NaN"), result.stdout + result.stderr
