"""A compiled backend against the interpreter (the ground truth): the checks each backend's
tests share, given how that backend compiles (`compile(traced) -> Compiled`).

Tolerances: float64 within 1e-11 relative (libm or XLA against NumPy's own math, a few ulp);
float32 within 2e-5 relative plus 1e-5 absolute (fastmath contraction, float64 sums);
`scale` widens the absolute part for gradients, whose terms cancel.
"""
import numpy as np

import irtoy
from irtoy import pytree

TOLERANCE = {np.dtype(np.float32): (2e-5, 1e-5), np.dtype(np.float64): (1e-11, 1e-12)}


def assert_same(expected, got, scale=1.0):
    leaves_e, tree_e = pytree.flatten(expected)
    leaves_g, tree_g = pytree.flatten(got)
    assert tree_e == tree_g
    for e, g in zip(leaves_e, leaves_g):
        e, g = np.asarray(e), np.asarray(g)
        assert e.shape == g.shape and e.dtype == g.dtype, (e.dtype, e.shape, g.dtype, g.shape)
        if e.dtype.kind in "fc":
            rtol, atol = TOLERANCE.get(e.dtype, (1e-3, 1e-3))
            np.testing.assert_allclose(g, e, rtol=rtol, atol=atol * scale)
        else:
            np.testing.assert_array_equal(g, e)


def same_as_interpreter(traced, args, compile, scale=1.0):
    assert_same(traced.compile("numpy")(*args), compile(traced)(*args), scale)


def check_op_case(op, case, compile):
    """The op's drawn case gives the interpreter's result."""
    traced = irtoy.trace(case.fn, *case.args)
    assert op in traced.graph.count_ops()
    same_as_interpreter(traced, case.args, compile)


def check_op_gradient(case, compile):
    """The gradient graph of the case's weighted sum gives the interpreter's value and gradient."""
    wrt = tuple(i for i, a in enumerate(case.args) if a.dtype.kind == "f")
    out = np.asarray(case.fn(*case.args))
    if not wrt or out.dtype.kind != "f":
        return
    weights = np.random.default_rng(0).uniform(0.5, 1.5, out.shape).astype(out.dtype)

    def loss(*xs):
        return np.sum(case.fn(*xs) * weights)

    same_as_interpreter(irtoy.trace(loss, *case.args).value_and_grad(wrt=wrt), case.args, compile, scale=10.0)


def check_program(program, compile):
    """A random program and its gradients with respect to every input, in float64."""
    args = program.inputs()
    traced = irtoy.trace(program.fn, *args).value_and_grad(wrt=tuple(range(len(args))))
    same_as_interpreter(traced, args, compile, scale=10.0)
