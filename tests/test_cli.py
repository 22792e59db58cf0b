"""The `irtoy` command on the examples: exit codes, files written, one-line errors."""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MLP = os.path.join(ROOT, "examples", "mlp.py")


def irtoy(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "irtoy", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=600)


def test_render_a_stage_of_a_function_in_a_file(tmp_path):
    result = irtoy("render", f"{MLP}:loss", "--stage", "grad", "-o", str(tmp_path / "grad.svg"))
    assert result.returncode == 0, result.stderr
    text = ET.tostring(ET.parse(tmp_path / "grad.svg").getroot(), encoding="unicode")
    assert "backward" in text and "matmul" in text


def test_render_with_specs_from_the_command_line(tmp_path):
    (tmp_path / "f.py").write_text("import numpy as np\ndef f(x, w):\n    return np.tanh(x @ w)\n")
    result = irtoy("render", "f.py:f", "--spec", "f32[4,6]", "--spec", "f32[6,2]", "-o", "f.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "f.png").read_bytes().startswith(b"\x89PNG")


def test_report_of_a_function_in_a_file(tmp_path):
    result = irtoy("report", f"{MLP}:loss", "--out", str(tmp_path / "report"))
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "report" / "index.html").read_text()
    for stage in ("traced", "grad", "optimized", "fused"):
        assert f'id="stage-{stage}"' in html
    assert "njit" in html          # the generated numba source is shown


@pytest.mark.parametrize("args, message", [
    (["render", "missing.py:f", "-o", "x.svg"], "no such file: missing.py"),
    (["report", f"{MLP}:nothing"], "has no function 'nothing'"),
    (["render", "bad.py:f", "-o", "x.svg"], r"bool\(\) \(a Python branch\) needs a concrete value"),
    (["render", "bad.py:g", "-o", "x.svg"], "failed while being traced: KeyError"),
    (["render", "bad.py:h", "-o", "x.svg"], "h needs example arguments"),
    (["render", f"{MLP}:loss", "--spec", "f32[2", "-o", "x.svg"], "cannot read the spec"),
])
def test_bad_input_ends_with_one_line_and_no_traceback(tmp_path, args, message):
    (tmp_path / "bad.py").write_text("import numpy as np\n"
                                     "def f(x):\n    return x if x.sum() > 0 else -x\n"
                                     "def g(x):\n    return {}['missing']\n"
                                     "def h(x):\n    return x\n"
                                     "example_args_f = (np.ones(3),)\nexample_args_g = (np.ones(3),)\n")
    result = irtoy(*args, cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    import re
    assert re.search(message, lines[0]), lines[0]


def test_demo_trains_prints_the_table_and_writes_the_report(tmp_path):
    result = irtoy("demo", "--epochs", "3", "--out", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout
    assert "numba" in result.stdout and "speedup" in result.stdout
    assert (tmp_path / "demo" / "index.html").exists()
