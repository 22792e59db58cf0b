"""The table of supported NumPy functions is generated from the records and stays current, and a
function irtoy lacks is refused naming it and what to write instead."""
import os

import numpy as np
import pytest

import irtoy
from irtoy import cli, numpy_dispatch, supported

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_docs_table_is_the_generated_one():
    with open(os.path.join(ROOT, "docs", "numpy.md")) as f:
        assert f.read() == supported.markdown(), "docs/numpy.md is stale: run `irtoy ops --markdown > docs/numpy.md`"


def test_every_row_names_a_function_that_traces_to_its_irtoy_function():
    names = {numpy_dispatch.numpy_name(f): f for f in numpy_dispatch.FUNCTIONS}
    for numpy_name, _, irtoy_name, _, _ in supported.rows():
        if numpy_name != "(irtoy only)":
            function = numpy_dispatch.FUNCTIONS[names[numpy_name]]
            assert f"irtoy.ops.{function.__name__}" == irtoy_name or function is getattr(irtoy.ops,
                                                                                         irtoy_name.split(".")[-1])


def test_irtoy_ops_prints_the_table(capsys):
    assert cli.main(["ops"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["NumPy", "array", "method", "irtoy", "what", "it", "is", "gradient"]
    assert "numpy.concatenate" in out and "irtoy.ops.concatenate" in out


@pytest.mark.parametrize("fn, name, hint", [
    (lambda x: np.unique(x), "numpy.unique", r"its result.s shape depends on the values.*np\.where"),
    (lambda x: np.fft.rfft(x), "numpy.fft.rfft", "complex numbers are not supported"),
    (lambda x: np.searchsorted(x, 0.5), "numpy.searchsorted", r"count the edges below each value instead: np\.sum\(x\[\.\.\., None\] >= edges"),
    (lambda x: np.interp(0.5, x, x), "numpy.interp", "`irtoy ops` lists them"),
], ids=["unique", "fft", "searchsorted", "interp"])
def test_a_missing_function_is_refused_naming_it_and_the_rewrite(fn, name, hint):
    with pytest.raises(irtoy.TraceError, match=rf"(?s){name} has no irtoy op, so it cannot be traced; .*{hint}"
                                                r".*\n  at \S*test_supported\.py:\d+"):
        irtoy.trace(fn, np.linspace(0, 1, 4))
