"""Installing irtoy (`pip install -e .`, what `make setup` runs) prints no warnings from
setuptools about irtoy's own configuration: the license is an SPDX expression with its file,
and the data folders are packages with their files named as package data.

The test installs the checkout into a temporary folder with the setuptools of this
environment (no build isolation, no index: it needs no network), with pip's configuration
from the environment and config files left out, so it sees only what the build prints.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Every editable install that maps folders into a package (passes/ -> irtoy.passes) gets this
# note from setuptools: it describes the install mode and names nothing in irtoy to change.
EDITABLE_NOTE = "BuildBackendWarning: Editable installation."


def test_an_editable_install_prints_no_setuptools_warnings(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                           "--target", str(tmp_path), "-e", str(ROOT)],
                          env=env, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    warned = [line for line in output.splitlines() if re.search("warn|deprecat", line, re.I)]
    assert all(EDITABLE_NOTE in line for line in warned), "\n".join(warned)
    (metadata,) = tmp_path.glob("irtoy-*.dist-info/METADATA")
    assert "License-Expression: MIT AND BSD-2-Clause" in metadata.read_text()
    assert (metadata.parent / "licenses" / "LICENSE").read_text().startswith("MIT License")
