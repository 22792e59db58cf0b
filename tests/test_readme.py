"""The README's tour runs as written: its ```python blocks, top to bottom, in one fresh
interpreter, as a reader pasting them into one session would run them.

Each block is compiled under the name README.md with its own line numbers, so a failure
points at the README line that broke. Shell blocks (```bash, ```sh, or none) are not run.
"""
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"

RUNNER = textwrap.dedent("""
    import json, sys
    session = {"__name__": "__main__"}      # what the reader's interpreter holds
    for line, source in json.load(sys.stdin):
        print(f"-- README.md block at line {line}", flush=True)
        exec(compile("\\n" * (line - 1) + source, "README.md", "exec"), session)
""")


def python_blocks(text):
    """[(first line number, source)] of each ```python block of `text`, in order."""
    blocks = []
    for found in re.finditer(r"^```python\n(.*?)^```", text, re.S | re.M):
        first_line = text.count("\n", 0, found.start(1)) + 1
        blocks.append((first_line, found.group(1)))
    return blocks


def test_only_python_blocks_are_taken_with_their_line_numbers():
    text = "# t\n```python\nx = 1\n```\n\n```bash\nmake test\n```\n```\nirtoy demo\n```\n```python\ny = x\n```\n"
    assert python_blocks(text) == [(3, "x = 1\n"), (13, "y = x\n")]


def test_every_python_block_of_the_readme_runs_in_order_in_one_interpreter(tmp_path):
    blocks = python_blocks(README.read_text())
    done = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(blocks), cwd=tmp_path,
                          env={**os.environ, "MPLBACKEND": "Agg"},
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, f"a README block failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    assert done.stdout.count("-- README.md block") == len(blocks) >= 5
    written = {p.name for p in tmp_path.iterdir()}
    assert {"grad.svg", "fused.svg", "step.svg", "fashion.npz"} <= written, written
