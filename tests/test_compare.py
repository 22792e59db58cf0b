"""irtoy.compare (interpreter against numba, with the raw figures) and `irtoy bench`.

Timings are only checked to exist and be positive; what is asserted is the structure users
read and the agreement of the backends.
"""
import numpy as np
import pytest

import irtoy
from irtoy import cli
from irtoy.benchmarks import suite, timing
from irtoy.compare import compare_backends, largest_difference


def layer(x, w):
    return np.tanh(x @ w).sum(axis=0)


def test_compare_times_both_backends_and_checks_they_agree():
    x, w = np.ones((4, 3), np.float32), np.full((3, 2), 0.5, np.float32)
    result = compare_backends(layer, (x, w), seconds=0.05)
    assert [r["backend"] for r in result.rows] == ["numpy", "numba"]
    numpy_row, numba_row = result.rows
    assert numpy_row["compile_cached"] is None and numba_row["compile_cached"] > 0
    assert all(r["median"] > 0 and r["p25"] <= r["median"] <= r["p75"] and r["agrees"] for r in result.rows)
    assert numpy_row["speedup"] == 1.0
    text = str(result)
    assert text.splitlines()[0] == "layer:" and "compile (cold)" in text and "numba" in text


def test_compare_accepts_a_traced_or_compiled_function():
    x, w = np.ones((2, 3)), np.ones((3, 2))
    traced = irtoy.trace(layer, x, w)
    assert irtoy.compare is not None
    for target in (traced, traced.compile("numpy")):
        result = compare_backends(target, (x, w), backends=("numpy",), seconds=0.01)
        assert result.row("numpy")["agrees"]


def test_largest_difference_is_in_units_of_the_tolerance():
    a = np.array([1.0, 2.0], np.float32)
    assert largest_difference(a, a) == 0
    assert largest_difference(a, a * (1 + 5e-5)) < 1 < largest_difference(a, a * (1 + 5e-4))
    assert largest_difference((a, np.int64(3)), (a, np.int64(4))) == float("inf")


def test_bench_prints_a_table_with_ratios(monkeypatch):
    monkeypatch.setattr(timing, "PATIENCE", 0.0)
    lines = []
    rows = suite.run(["B4"], seconds=0.0, out=lines.append)
    (row,) = rows
    assert row.case == "B4" and row.numba > 0 and row.numpy > 0 and row.met in (True, False)
    text = "\n".join(lines)
    assert "B4" in text and "x)" in text and "target" in text


def test_the_command_line_runs_bench_and_reports_bad_input_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr(timing, "PATIENCE", 0.0)
    assert cli.main(["bench", "B9"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no benchmark case B9" in err
    with pytest.raises(SystemExit) as exit_:
        cli.main(["bench", "--help"])
    assert exit_.value.code == 0 and "B1-small" in capsys.readouterr().out
