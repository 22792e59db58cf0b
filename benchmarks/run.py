"""Print the benchmark table: `python benchmarks/run.py [B1 B2 ...] [--seconds S]`.

The cases live in irtoy/bench.py, so the installed command `irtoy bench` runs the same suite.
"""
import sys

from irtoy.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
