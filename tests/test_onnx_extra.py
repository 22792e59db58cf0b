"""onnx and onnxruntime are an optional extra: `import irtoy` never imports them, and using
irtoy.onnx without them is one IrtoyError line saying what to install."""
import subprocess
import sys

import pytest

import irtoy
import irtoy.onnx


def run_python(code):
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_importing_irtoy_imports_neither_onnx_nor_onnxruntime():
    out = run_python("import sys, irtoy, irtoy.onnx, irtoy.backends\n"
                     "print(sorted(m for m in sys.modules if m.split('.')[0] in ('onnx', 'onnxruntime')))")
    assert out.strip() == "[]"


# Python made blind to onnx and onnxruntime, as without the extra.
WITHOUT_THE_EXTRA = """
import sys
class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('onnx', 'onnxruntime'):
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, Missing())
import numpy as np, irtoy, irtoy.onnx
"""


@pytest.mark.parametrize("use", [
    "irtoy.onnx.load('model.onnx')",
    "irtoy.onnx.export(irtoy.trace(np.exp, np.ones(2)), 'model.onnx')",
    "irtoy.onnx.Backend",
    "irtoy.trace(np.exp, np.ones(2)).compile(backend='onnxruntime')",
])
def test_without_the_extra_each_use_says_what_to_install(use):
    out = run_python(WITHOUT_THE_EXTRA + f"""
try:
    {use}
except irtoy.IrtoyError as e:
    print(type(e).__name__, '|', str(e))
""")
    assert out.count("\n") == 1 and "pip install 'irtoy[onnx]'" in out, out


def test_the_extra_is_declared_and_installed_by_make_setup():
    import pathlib
    import tomllib
    root = pathlib.Path(__file__).resolve().parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert {r.split(">")[0] for r in project["optional-dependencies"]["onnx"]} == {"onnx", "onnxruntime"}
    assert "onnx" in (root / "Makefile").read_text().split("pip install --quiet -e '.[")[1].split("]")[0].split(",")
    assert irtoy.onnx.Backend.supports_device("CPU")
