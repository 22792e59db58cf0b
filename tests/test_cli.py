"""The `irtoy` command on the examples: exit codes, files written, one-line errors."""
import os
import re
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
    result = irtoy("demo", "--out", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout
    # 40 short epochs: a handful of progress lines, not 40 bars
    assert len(re.findall(r"^epoch \d+/40: ", result.stdout, re.M)) == 6 and "\r" not in result.stdout
    assert "numba" in result.stdout and "speedup" in result.stdout
    assert (tmp_path / "demo" / "index.html").exists()


def one_line_error(capsys, argv):
    """Run `irtoy argv` in this process: exit code 1 and one line on stderr, which is returned."""
    from irtoy.cli import main
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err.strip()


@pytest.fixture
def tanh_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.py").write_text("import numpy as np\ndef f(x):\n    return np.tanh(x)\nexample_args = (np.ones(3),)\n")
    (tmp_path / "afile").write_text("a regular file")
    return tmp_path


@pytest.mark.parametrize("argv, message", [
    (["render", "f.py:f", "-o", "x.xyz"], "irtoy render: cannot draw x.xyz: graphviz knows no format 'xyz'"),
    (["render", "f.py:f", "-o", "afile/x.svg"], "irtoy render: cannot write afile/x.svg: afile is a file, not a folder"),
    (["render", "f.py:f", "-o", "."], "irtoy render: cannot write .: it is a folder"),
    (["report", "f.py:f", "--out", "afile/report"],
     "irtoy report: cannot write afile/report/index.html: afile is a file, not a folder"),
    (["report", "f.py:f", "--spec", "f32[100000,100000]", "--out", "big"],
     r"irtoy report: cannot profile f for the report: running it on arguments f32\[100000,100000\] needs more memory"),
], ids=["unknown_format", "under_a_file", "onto_a_folder", "report_under_a_file", "report_too_large"])
def test_outputs_that_cannot_be_written_end_with_one_line(tanh_file, capsys, argv, message):
    assert re.match(message, one_line_error(capsys, argv))
    assert not (tanh_file / "big").exists()


def test_a_read_only_folder_ends_with_one_line_naming_the_path(tanh_file, capsys, monkeypatch):
    import tempfile

    def refused(*args, dir=None, **kwargs):
        raise PermissionError(13, "Permission denied", dir)
    monkeypatch.setattr(tempfile, "mkstemp", refused)      # what a read-only folder does (root ignores chmod)
    assert one_line_error(capsys, ["render", "f.py:f", "-o", "ro/x.svg"]) == \
        "irtoy render: cannot write ro/x.svg: Permission denied"


@pytest.mark.parametrize("top_level, message", [
    ("import sys\nsys.exit(3)\n", "irtoy render: stop.py failed to import: it called sys.exit(3)"),
    ("raise KeyboardInterrupt\n", "irtoy render: stop.py failed to import: KeyboardInterrupt"),
    ("def f(x):\n    raise SystemExit(4)\nexample_args = (1.0,)\n",
     "irtoy render: stop.py:f failed while being traced: it called sys.exit(4)"),
], ids=["sys_exit", "keyboard_interrupt", "exit_while_tracing"])
def test_a_user_file_that_exits_or_is_interrupted_ends_with_one_line(tmp_path, top_level, message):
    (tmp_path / "stop.py").write_text(top_level)
    result = irtoy("render", "stop.py:f", "-o", "x.svg", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == message
