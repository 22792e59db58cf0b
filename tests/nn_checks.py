"""Gradient checks shared by the irtoy.nn tests: irtoy's gradients against finite differences.

Layers and losses are NumPy code, so one function runs both on plain float64 arrays (the
reference, differentiated numerically here) and on tracers (differentiated by irtoy's
autodiff pass). Central differences with step 1e-6 in float64 are good to about 1e-9
relative, so the two must agree to rtol 1e-5 / atol 1e-7.
"""
import numpy as np

import irtoy
from graph_programs import central_differences
from irtoy import pytree
from irtoy.nn.layers import Context

STEP, RTOL, ATOL = 1e-6, 1e-5, 1e-7


def as_float64(tree):
    """A copy of a pytree of arrays in float64."""
    leaves, treedef = pytree.flatten(tree)
    return pytree.unflatten(treedef, [np.array(leaf, dtype=np.float64) for leaf in leaves])


def numerical_gradients(fn, args, step=STEP):
    """d fn(*args) / d every leaf of args, by central differences, in the structure of args."""
    leaves, treedef = pytree.flatten(tuple(args))

    def value(*moved_leaves):
        return float(fn(*pytree.unflatten(treedef, moved_leaves)))

    grads = central_differences(value, leaves, step)
    return pytree.unflatten(treedef, grads)


def assert_gradients_match(fn, *args, rtol=RTOL, atol=ATOL):
    """irtoy's value and gradient of scalar `fn` with respect to every argument match NumPy's
    value and central differences."""
    value, grads = irtoy.trace(fn, *args).value_and_grad(wrt=tuple(range(len(args)))).compile("numpy")(*args)
    np.testing.assert_allclose(value, fn(*args), rtol=1e-12, atol=1e-12)
    expected = numerical_gradients(fn, args)
    got_leaves, got_tree = pytree.flatten(grads)
    expected_leaves, expected_tree = pytree.flatten(expected)
    assert got_tree == expected_tree
    for path, got, want in zip(pytree.leaf_paths(tuple(args), "args"), got_leaves, expected_leaves):
        assert got.shape == want.shape and got.dtype == np.float64, path
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f"gradient of {path}")


def away_from_zero(x, gap=0.05):
    """x with entries near 0 pushed out of (-gap, gap), off the kinks of relu and friends."""
    return np.where(np.abs(x) < gap, np.sign(x + 1e-12) * (gap + np.abs(x)), x)


def setup_layer(layer, sample_shape, batch=4, seed=0, x=None):
    """Float64 parameters and state for `layer`, an input batch (random unless given), and
    output weights."""
    rng = np.random.default_rng(seed)
    params, state, out_shape = layer.init(rng, sample_shape)
    params, state = as_float64(params), as_float64(state)
    batch = batch if x is None else len(x)
    drawn = away_from_zero(rng.normal(size=(batch,) + tuple(sample_shape)))
    x = drawn if x is None else x
    weights = rng.uniform(0.5, 1.5, (batch,) + tuple(out_shape))
    return params, state, x, weights


def check_layer_gradients(layer, sample_shape, training=True, params=None, state=None, batch=4, seed=0, x=None):
    """The gradient of `layer`'s weighted output, with respect to its parameters (if any) and
    input, against finite differences."""
    init_params, init_state, x, weights = setup_layer(layer, sample_shape, batch, seed, x)
    params = init_params if params is None else params
    state = init_state if state is None else state
    ctx = Context(training=training)

    def objective(params, x):
        y, _ = layer.apply(params, state, x, ctx)
        return np.sum(y * weights)

    if params:
        assert_gradients_match(objective, params, x)
    else:
        assert_gradients_match(lambda x: objective({}, x), x)
