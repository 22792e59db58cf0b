"""A scalar function of three inputs, traced, printed, run and drawn.

    y = (sin(x1 + 1) + cos(2 x2)) tan(log x3) + (sin(x2 + 1) + cos(2 x1)) exp(1 + sin x3)

This is the classic first example of back-propagation on a computational graph. Run it with

    python examples/scalar_function.py [output folder]

and it prints the graph as text, checks the compiled function against plain NumPy, and draws
the graph to scalar_function.svg in the output folder (default: examples-out/).
"""
import os
import sys

import numpy as np

import irtoy


def f(x1, x2, x3):
    a = np.sin(x1 + 1.0) + np.cos(2.0 * x2)
    b = np.tan(np.log(x3))
    c = np.sin(x2 + 1.0) + np.cos(2.0 * x1)
    d = np.exp(1.0 + np.sin(x3))
    return a * b + c * d


def main(out_dir="examples-out"):
    x1, x2, x3 = np.float64(0.3), np.float64(-1.2), np.float64(2.5)
    traced = irtoy.trace(f, x1, x2, x3)
    print(traced)

    compiled = traced.compile(backend="numpy")
    y = compiled(x1, x2, x3)
    print(f"\ny(0.3, -1.2, 2.5) = {float(y):.6f}   (plain NumPy: {float(f(x1, x2, x3)):.6f})")
    assert np.isclose(y, f(x1, x2, x3))

    path = traced.render(os.path.join(out_dir, "scalar_function.svg"))
    print(f"drew the graph to {path}")


if __name__ == "__main__":
    main(*sys.argv[1:])
