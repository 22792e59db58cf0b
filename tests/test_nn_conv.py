"""Convolution and pooling layers, a residual conv block that trains, and dropout's behaviour.

Gradients are checked against central differences in float64 (nn_checks), on tiny images.
Where a ReLU or a max pool would put a kink near the checked point, the check uses smooth
layers (tanh) or inputs whose window maxima are clear.
"""
import numpy as np
import pytest

import irtoy
from irtoy import nn
from irtoy.nn.layers import Context
from nn_checks import as_float64, check_layer_gradients


def distinct_image(shape, seed=0):
    """Entries all different (0.1 apart), so every pooling window has one clear maximum."""
    order = np.random.default_rng(seed).permutation(int(np.prod(shape)))
    return ((order - order.size / 2) * 0.1).reshape(shape)


LAYERS = {
    "conv": (lambda: nn.Conv2D(2, 3, 3), (2, 5, 5)),
    "conv_strided_padded": (lambda: nn.Conv2D(2, 2, (3, 2), stride=2, padding=(1, 2)), (2, 5, 6)),
    "conv_1x1": (lambda: nn.Conv2D(3, 2, 1, weight_init="glorot_normal", bias_init=nn.initializers.normal(0.5)),
                 (3, 3, 4)),
    "conv_transpose": (lambda: nn.ConvTranspose2D(3, 2, 3), (3, 3, 3)),
    "conv_transpose_strided": (lambda: nn.ConvTranspose2D(2, 2, 3, stride=2, padding=1, output_padding=1), (2, 3, 2)),
    "avg_pool": (lambda: nn.AvgPool2D(2), (2, 4, 5)),
    "avg_pool_overlapping": (lambda: nn.AvgPool2D(3, stride=1), (2, 4, 5)),
    "residual_conv_block": (lambda: nn.Residual(nn.Sequential([nn.Conv2D(2, 2, 3, padding=1), nn.Tanh(),
                                                               nn.Conv2D(2, 2, 3, padding=1)])), (2, 4, 4)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_gradient_matches_finite_differences(name):
    make, sample_shape = LAYERS[name]
    check_layer_gradients(make(), sample_shape, batch=2)


@pytest.mark.parametrize("size, stride", [(2, None), (3, 1), ((2, 3), (1, 2))])
def test_max_pool_gradient_matches_finite_differences_where_maxima_are_clear(size, stride):
    x = distinct_image((2, 2, 5, 6))
    check_layer_gradients(nn.MaxPool2D(size, stride), (2, 5, 6), x=x)


def test_layers_give_the_shapes_they_announce():
    rng = np.random.default_rng(0)
    cases = [(nn.Conv2D(1, 4, 3, padding=1), (1, 28, 28), (4, 28, 28)),
             (nn.Conv2D(3, 8, 5, stride=2), (3, 32, 32), (8, 14, 14)),
             (nn.ConvTranspose2D(4, 2, 3, stride=2, padding=1, output_padding=1), (4, 7, 7), (2, 14, 14)),
             (nn.MaxPool2D(2), (4, 28, 28), (4, 14, 14)),
             (nn.AvgPool2D(3, stride=2), (4, 7, 7), (4, 3, 3))]
    for layer, sample, expected in cases:
        params, state, out = layer.init(rng, sample)
        assert out == expected, layer
        y, _ = layer.apply(as_float64(params), state, np.zeros((2,) + sample), Context(training=False))
        assert y.shape == (2,) + expected, layer


def test_conv2d_layer_is_the_convolution_plus_a_bias_per_channel():
    layer = nn.Conv2D(2, 3, 3, stride=2, padding=1, seed=5)
    params, _, _ = layer.init(None, (2, 6, 6))
    assert params["w"].shape == (3, 2, 3, 3) and params["w"].dtype == np.float32
    params["b"] = np.array([1.0, -2.0, 0.5], np.float32)
    x = np.random.default_rng(1).normal(size=(2, 2, 6, 6)).astype(np.float32)
    y, _ = layer.apply(params, {}, x, Context(training=False))
    expected = irtoy.ops.conv2d(x, params["w"], 2, 1) + params["b"].reshape(-1, 1, 1)
    np.testing.assert_array_equal(y, expected)
    # seeded layers start from the same weights whatever the model's generator
    again, _, _ = nn.Conv2D(2, 3, 3, stride=2, padding=1, seed=5).init(np.random.default_rng(99), (2, 6, 6))
    np.testing.assert_array_equal(again["w"], params["w"])


def test_layers_refuse_images_that_do_not_fit():
    rng = np.random.default_rng(0)
    with pytest.raises(irtoy.ShapeError, match=r"conv2d1 \(made at \S*test_nn_conv.py:\d+: .*Conv2D\(3, 4, 3\).*\): expects images with 3 channels, but gets shape \(1, 8, 8\)"):
        nn.Sequential([nn.Conv2D(3, 4, 3)]).init(rng, (1, 8, 8))
    with pytest.raises(irtoy.ShapeError, match=r"conv2d1 \(made at .*\): expects images \(channels, height, width\).*\(64,\)"):
        nn.Sequential([nn.Conv2D(1, 4, 3)]).init(rng, (64,))
    with pytest.raises(irtoy.ShapeError, match=r"maxpool2d1 \(made at .*\): a 4x4 pooling window does not fit in 3x3 images"):
        nn.Sequential([nn.MaxPool2D(4)]).init(rng, (2, 3, 3))
    with pytest.raises(ValueError, match="Conv2D stride must be an int or a pair"):
        nn.Conv2D(1, 1, 3, stride=0)
    with pytest.raises(ValueError, match=r"output_padding \(2, 2\) must be smaller than the stride \(2, 2\)"):
        nn.ConvTranspose2D(1, 1, 3, stride=2, output_padding=2)


# -- a ResNet-style block trains -----------------------------------------------------------------

def bars(n, size=8, seed=0):
    """Images with one bright bar, horizontal (class 0) or vertical (class 1), on noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 0.3, (n, 1, size, size)).astype(np.float32)
    y = rng.integers(0, 2, n)
    where = rng.integers(0, size, n)
    for i in range(n):
        if y[i] == 0:
            x[i, 0, where[i], :] += 1.5
        else:
            x[i, 0, :, where[i]] += 1.5
    return x, y


def residual_conv_net(seed=0):
    """conv -> ReLU -> [conv -> ReLU -> conv] + skip -> ReLU -> pool -> dense: the ResNet basic block."""
    block = nn.Sequential([nn.Conv2D(4, 4, 3, padding=1, seed=seed + 1), nn.ReLU(),
                           nn.Conv2D(4, 4, 3, padding=1, seed=seed + 2)])
    return nn.Sequential([nn.Conv2D(1, 4, 3, padding=1, seed=seed), nn.ReLU(), nn.Residual(block), nn.ReLU(),
                          nn.MaxPool2D(2), nn.Flatten(), nn.Dense(4 * 4 * 4, 2, seed=seed + 3)])


def test_a_residual_conv_block_trains():
    x, y = bars(256)
    model = nn.Model(residual_conv_net(), loss=nn.SoftmaxCrossEntropy(), optimizer=nn.Adam(lr=0.01),
                     backend="numpy", seed=0)
    history = model.fit(x, y, epochs=4, batch_size=32, verbose=False)
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    x_test, y_test = bars(200, seed=1)
    assert model.evaluate(x_test, y_test)["accuracy"] > 0.9


# -- dropout ---------------------------------------------------------------------------------------

def dropout_on(x, rate=0.5, seed=0, stream_layer=None):
    layer = stream_layer or nn.Dropout(rate)
    fn = irtoy.trace(lambda x, seed: layer.apply({}, {}, x, Context(training=True, seed=seed))[0], x, np.int64(seed))
    return fn.compile("numpy")(x, np.int64(seed))


def test_dropout_zeroes_a_fraction_rate_and_scales_the_rest_to_keep_the_expected_value():
    x = np.ones(100_000, np.float32)
    for rate in (0.2, 0.5):
        y = dropout_on(x, rate)
        assert set(np.unique(y)) == {0.0, np.float32(1 / (1 - rate))}
        assert abs(np.mean(y == 0) - rate) < 0.01
        assert abs(y.mean() - 1.0) < 0.02          # E[y] = x


def test_dropout_draws_the_same_mask_for_the_same_seed_and_another_for_another_seed():
    layer = nn.Dropout(0.5)
    x = np.ones(1000)
    first, again, other = (dropout_on(x, seed=s, stream_layer=layer) for s in (3, 3, 4))
    np.testing.assert_array_equal(first, again)
    assert np.mean((first == 0) == (other == 0)) < 0.6
    # two dropout layers given the same seed still draw different masks
    assert np.mean((dropout_on(x, seed=3) == 0) == (first == 0)) < 0.6


def test_dropout_draws_a_fresh_mask_every_training_step():
    """Weights after dropout only move where the input was kept: the moved set changes each step."""
    features = 400
    net = nn.Sequential([nn.Dropout(0.5), nn.Dense(features, 1, weight_init="zeros")])
    model = nn.Model(net, loss=nn.MSE(), optimizer=nn.SGD(0.1), backend="numpy", seed=0)
    x, y = np.ones((1, features), np.float32), np.ones((1, 1), np.float32)
    moved = []
    for _ in range(3):
        before = model.params["dense1"]["w"].copy() if model.params else np.zeros((features, 1), np.float32)
        model.fit(x, y, epochs=1, batch_size=1, verbose=False)
        moved.append((model.params["dense1"]["w"] != before).ravel())
    for mask in moved:
        assert 0.4 < mask.mean() < 0.6
    assert np.mean(moved[0] == moved[1]) < 0.7 and np.mean(moved[1] == moved[2]) < 0.7


def test_dropout_is_off_in_predict_and_evaluate():
    net = nn.Sequential([nn.Dense(5, 8, seed=1), nn.Dropout(0.5), nn.Dense(8, 3, seed=2)])
    model = nn.Model(net, loss=nn.MSE(), backend="numpy")
    x = np.random.default_rng(0).normal(size=(6, 5)).astype(np.float32)
    model.build((5,))
    expected = (x @ model.params["dense1"]["w"] + model.params["dense1"]["b"]) @ model.params["dense2"]["w"] \
        + model.params["dense2"]["b"]
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(model.predict(x), model.predict(x))
    loss = 0.5 * np.sum((expected - 1.0) ** 2) / len(x)
    assert model.evaluate(x, np.ones((6, 3), np.float32))["loss"] == pytest.approx(loss, rel=1e-5)


def test_dropout_masks_depend_on_position_not_on_build_order():
    def build():
        return nn.Sequential([nn.Dense(4, 8), nn.Dropout(0.5), nn.Dense(8, 8), nn.Dropout(0.5)])

    first, second = build(), build()
    x = np.ones((3, 4), np.float32)
    params, state, _ = first.init(np.random.default_rng(0), (4,))

    def masks(net):
        def fn(params, x, seed):
            return net.apply(params, state, x, nn.Context(training=True, seed=seed))[0]
        return irtoy.trace(fn, params, x, np.int64(5)).compile("numpy")(params, x, np.int64(5))

    np.testing.assert_array_equal(masks(first), masks(second))
    g = irtoy.trace(lambda p, x, s: first.apply(p, state, x, nn.Context(True, s))[0], params, x, np.int64(5)).graph
    streams = [g[n]["attrs"]["stream"] for n in g.nx if g[n]["op"] == "random_uniform"]
    assert len(set(streams)) == 2


def test_training_step_draws_each_dropout_mask_once():
    net = nn.Sequential([nn.Dense(4, 8), nn.ReLU(), nn.Dropout(0.5), nn.Dense(8, 3)])
    model = nn.Model(net, loss=nn.SoftmaxCrossEntropy(), optimizer=nn.SGD(0.1), backend="numpy")
    x, y = np.ones((6, 4), np.float32), np.arange(6) % 3
    step = model.compiled_step(x, y)
    assert step.stages["optimized"].count_ops()["random_uniform"] == 1
