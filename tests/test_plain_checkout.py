"""`import irtoy` from a checkout that was never installed says, in one line, what to run.

irtoy.passes and irtoy.backends are the repository's passes/ and backends/ folders, mapped
into irtoy by the install; without it the import would fail deep inside the package. Each
test copies the package to a temporary folder and imports it in a fresh interpreter that
sees neither the repository nor the installed (editable) irtoy: `-I -S` skips
site-packages and its .pth files, and the code puts back only what the test chooses.
"""
import shutil
import subprocess
import sys
from pathlib import Path

import numpy

ROOT = Path(__file__).resolve().parents[1]
DEPENDENCIES = str(Path(numpy.__file__).resolve().parents[1])     # site-packages: numpy, networkx, ...
NOT_INSTALLED = ("ImportError: irtoy is not installed: irtoy.passes and irtoy.backends are the repository's "
                 "passes/ and backends/ folders, importable only once installed; run `make setup` in the "
                 "repository (then use .venv/bin/python), or `pip install -e .`")


def copy_package(folder, layout):
    """irtoy/ alone, as a plain checkout has it, or with passes/ and backends/ inside it, as an
    installed copy has them."""
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "irtoy", folder / "irtoy", ignore=ignore)
    if layout == "installed":
        shutil.copytree(ROOT / "passes", folder / "irtoy" / "passes", ignore=ignore)
        shutil.copytree(ROOT / "backends", folder / "irtoy" / "backends", ignore=ignore)


def import_irtoy(*path):
    code = f"import sys; sys.path[:0] = {list(map(str, path))!r}; import irtoy; print(irtoy.__file__)"
    return subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=300)


def test_a_plain_checkout_says_to_install_it(tmp_path):
    copy_package(tmp_path, "checkout")
    result = import_irtoy(tmp_path, DEPENDENCIES)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == NOT_INSTALLED


def test_an_installed_copy_imports(tmp_path):
    copy_package(tmp_path, "installed")
    result = import_irtoy(tmp_path, DEPENDENCIES)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / "irtoy" / "__init__.py")


def test_a_missing_dependency_is_reported_as_itself(tmp_path):
    copy_package(tmp_path, "installed")
    result = import_irtoy(tmp_path)                     # no site-packages: no numpy
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ModuleNotFoundError: No module named"), result.stderr
    assert "make setup" not in result.stderr
