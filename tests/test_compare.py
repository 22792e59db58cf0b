"""irtoy.compare (interpreter against numba, with the raw figures) and `irtoy bench`.

Timings are only checked to exist and be positive; what is asserted is the structure users
read and the agreement of the backends.
"""
import numpy as np
import pytest

import irtoy
from irtoy import backends, cli
from irtoy.benchmarks import suite, timing
from irtoy.compare import compare_backends, largest_difference


def layer(x, w):
    return np.tanh(x @ w).sum(axis=0)


def test_compare_times_every_installed_backend_and_checks_they_agree():
    x, w = np.ones((4, 3), np.float32), np.full((3, 2), 0.5, np.float32)
    result = compare_backends(layer, (x, w), seconds=0.05)
    # jax and onnxruntime: the extras the test setup installs
    assert [r["backend"] for r in result.rows] == ["numpy", "numba", "jax", "onnxruntime"]
    numpy_row, numba_row = result.rows[:2]
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


def drift(x):
    """A long float32 mean minus a number close to it: float32 rounding of the sum shows."""
    return x.mean() - 1000.0, (x > 1000.0).sum()


class Outputs:
    """An executable of a stand-in backend that returns what `run` computes."""
    def __init__(self, run):
        self.run, self.stages = run, {}


def with_stand_in_backends(monkeypatch, **runs):
    """Make `irtoy.backends.get(name)` return, for each name in `runs`, a backend whose
    executable computes `runs[name](flat inputs)`."""
    builtin = backends.get
    monkeypatch.setattr(backends, "get", lambda name: (lambda graph, **options: Outputs(runs[name]))
                        if name in runs else builtin(name))


def test_results_are_judged_against_float64_so_float32_rounding_is_not_an_error(monkeypatch):
    x = (1000 + np.random.default_rng(0).standard_normal(100_000)).astype(np.float32)
    exact = [np.float32(x.astype(np.float64).mean() - 1000.0), np.int64((x > 1000).sum())]
    with_stand_in_backends(monkeypatch, exact=lambda flat: exact,
                           wrong=lambda flat: [exact[0] * np.float32(1.5), exact[1]],
                           miscounted=lambda flat: [exact[0], exact[1] + 1])
    result = compare_backends(drift, (x,), backends=("numpy", "exact", "wrong", "miscounted"), seconds=0.01)
    interpreted = irtoy.trace(drift, x).compile()(x)
    # Judged against the float32 interpreter, as before, the exact answer looked wrong: the
    # interpreter's float32 sum is itself off by many tolerances.
    assert largest_difference(interpreted[0], exact[0]) > 10
    assert result.row("numpy")["agrees"] and result.row("numpy")["error"] > 10
    assert result.row("exact")["agrees"] and result.row("exact")["error"] == 0
    assert not result.row("wrong")["agrees"] and not result.row("miscounted")["agrees"]
    assert result.row("miscounted")["error"] == float("inf")
    text = str(result)
    assert "float64 run of the interpreter" in text and "units of the tolerance" in text
    assert [line.split()[-1] for line in text.splitlines()[2:6]] == ["yes", "yes", "NO", "NO"]


def test_a_well_rounded_output_must_stay_within_the_tolerance(monkeypatch):
    x = np.linspace(1, 2, 1000, dtype=np.float32)
    right = irtoy.trace(np.exp, x).compile()(x)
    with_stand_in_backends(monkeypatch, close=lambda flat: [right * np.float32(1 + 5e-5)],
                           off=lambda flat: [right * np.float32(1 + 5e-4)])
    result = compare_backends(np.exp, (x,), backends=("numpy", "close", "off"), seconds=0.01)
    assert result.row("numpy")["error"] < 0.1 and result.row("close")["agrees"]
    assert not result.row("off")["agrees"] and 4 < result.row("off")["error"] < 6


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
    assert row.case == "B4" and row.numba > 0 and row.numpy > 0
    text = "\n".join(lines)
    header = text.splitlines()[2].split()
    assert header == ["case", "what", "NumPy", "by", "hand", "interpreter", "numba", "jax", "onnxruntime"]
    assert "B4" in text and "x)" in text and "ratios are time / NumPy time" in text
    table = text.split("(medians")[0]
    assert "target" not in table and " NO" not in table     # figures, not a verdict on the machine


def test_bench_times_the_jax_and_onnxruntime_backends_beside_numba(monkeypatch):
    monkeypatch.setattr(timing, "PATIENCE", 0.0)
    for case in ("B1-small", "B5"):
        (row,) = suite.run([case], seconds=0.0, out=lambda line: None)
        # the test setup installs both extras
        assert row.numba > 0 and row.extras["jax"] > 0 and row.extras["onnxruntime"] > 0
        assert row.cells()[-1].endswith("x)") and row.cells()[-2].endswith("x)")


def test_bench_runs_the_gather_case(monkeypatch):
    monkeypatch.setattr(timing, "PATIENCE", 0.0)
    (row,) = suite.run(["B6"], seconds=0.0, out=lambda line: None)
    assert row.case == "B6" and row.numpy > 0 and row.interpreter > 0 and row.numba > 0, row


def test_bench_shows_a_failed_case_and_goes_on(monkeypatch):
    def broken(seconds):
        raise ValueError("the baseline disagrees")
    monkeypatch.setitem(suite.CASES, "B9", broken)
    lines = []
    failed, = suite.run(["B9"], seconds=0.0, out=lines.append)
    assert failed.what == "FAILED" and "ValueError: the baseline disagrees" in "\n".join(lines)


def test_the_command_line_runs_bench_and_reports_bad_input_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr(timing, "PATIENCE", 0.0)
    assert cli.main(["bench", "B9"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no benchmark case B9" in err
    with pytest.raises(SystemExit) as exit_:
        cli.main(["bench", "--help"])
    assert exit_.value.code == 0 and "B1-small" in capsys.readouterr().out
