"""irtoy.nn initializers: shapes and dtypes, reproducible seeds, and the variances the
Glorot and He schemes promise (checked on samples large enough to be within a few percent)."""
import numpy as np
import pytest

from irtoy import nn
from irtoy.nn import initializers

SHAPES = [(3,), (4, 5), (6, 2, 3, 3)]


@pytest.mark.parametrize("name", sorted(initializers.BY_NAME))
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_every_initializer_gives_float32_arrays_of_the_asked_shape_reproducibly(name, shape):
    init = initializers.get(name)
    first = init(np.random.default_rng(5), shape)
    assert first.shape == shape and first.dtype == np.float32
    np.testing.assert_array_equal(first, init(np.random.default_rng(5), shape))
    assert init(np.random.default_rng(5), shape, np.float64).dtype == np.float64


def test_fans_of_dense_weights_and_convolution_kernels():
    assert initializers.fans((784, 400)) == (784, 400)
    assert initializers.fans((16, 3, 5, 5)) == (3 * 25, 16 * 25)       # (out, in, kh, kw)
    assert initializers.fans((7,)) == (7, 7)


VARIANCES = {
    "glorot_uniform": lambda fan_in, fan_out: 2 / (fan_in + fan_out),
    "glorot_normal": lambda fan_in, fan_out: 2 / (fan_in + fan_out),
    "he_uniform": lambda fan_in, fan_out: 2 / fan_in,
    "he_normal": lambda fan_in, fan_out: 2 / fan_in,
}


@pytest.mark.parametrize("name", sorted(VARIANCES))
@pytest.mark.parametrize("shape", [(300, 100), (32, 16, 3, 3)], ids=str)
def test_glorot_and_he_have_their_variance(name, shape):
    w = initializers.get(name)(np.random.default_rng(0), shape).astype(np.float64)
    expected = VARIANCES[name](*initializers.fans(shape))
    assert abs(w.mean()) < 0.05 * np.sqrt(expected)
    assert w.var() == pytest.approx(expected, rel=0.05)
    if name.endswith("uniform"):
        assert np.abs(w).max() <= np.sqrt(3 * expected) * (1 + 1e-6)      # uniform on [-limit, limit]


def test_the_parametrised_initializers():
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(initializers.constant(0.25)(rng, (2, 3)), np.full((2, 3), 0.25, np.float32))
    np.testing.assert_array_equal(initializers.zeros(rng, (2,)), [0, 0])
    np.testing.assert_array_equal(initializers.ones(rng, (2,)), [1, 1])
    w = initializers.normal(std=0.5, mean=2.0)(rng, (200, 200))
    assert w.mean() == pytest.approx(2.0, abs=0.01) and w.std() == pytest.approx(0.5, rel=0.02)
    w = initializers.uniform(0.3)(rng, (200, 200))
    assert -0.3 <= w.min() < -0.29 and 0.29 < w.max() <= 0.3


def test_unknown_initializer_names_are_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="unknown initializer 'glorot'.*glorot_uniform.*he_normal"):
        initializers.get("glorot")


def test_a_seeded_layer_starts_the_same_in_any_model_and_an_unseeded_one_follows_the_model_seed():
    def dense_weights(layer_seed, model_seed):
        net = nn.Sequential([nn.Dense(2, 3), nn.Dense(3, 4, seed=layer_seed)])
        params, _, _ = net.init(np.random.default_rng(model_seed), (2,))
        return params["dense1"]["w"], params["dense2"]["w"]

    first_a, seeded_a = dense_weights(7, model_seed=0)
    first_b, seeded_b = dense_weights(7, model_seed=1)
    np.testing.assert_array_equal(seeded_a, seeded_b)
    assert not np.array_equal(first_a, first_b)
    np.testing.assert_array_equal(first_a, dense_weights(7, model_seed=0)[0])
    assert not np.array_equal(seeded_a, dense_weights(8, model_seed=0)[1])


def test_model_seed_makes_the_initial_weights_reproducible():
    def initial(seed):
        model = nn.Model(nn.Sequential([nn.Dense(2, 3), nn.Dense(3, 1)]), loss=nn.MSE(), seed=seed, backend="numpy")
        return model.build((2,)).params

    for layer in ("dense1", "dense2"):
        np.testing.assert_array_equal(initial(3)[layer]["w"], initial(3)[layer]["w"])
        assert not np.array_equal(initial(3)[layer]["w"], initial(4)[layer]["w"])
