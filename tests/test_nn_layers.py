"""irtoy.nn layers: gradients against finite differences, batch norm's two modes, shape errors.

Each layer's `apply` is NumPy code: the checks run it on float64 arrays for the reference and
trace it for irtoy's gradient (see nn_checks). The layer's output is weighted by fixed random
numbers before summing, so every output entry matters to the gradient (a plain sum of a
softmax would be constant).
"""
import numpy as np
import pytest

import irtoy
from irtoy import nn
from irtoy.nn import activations
from irtoy.nn.layers import Context
from nn_checks import assert_gradients_match, check_layer_gradients, setup_layer


LAYERS = {
    "dense": (lambda: nn.Dense(3, 4), (3,)),
    "dense_on_sequences": (lambda: nn.Dense(3, 2), (5, 3)),
    "dense_he_normal": (lambda: nn.Dense(3, 2, weight_init="he_normal", bias_init=nn.initializers.normal(0.5)), (3,)),
    "flatten": (lambda: nn.Flatten(), (3, 2, 2)),
    "reshape": (lambda: nn.Reshape((2, 6)), (12,)),
    "relu": (lambda: nn.ReLU(), (5,)),
    "leaky_relu": (lambda: nn.LeakyReLU(0.2), (5,)),
    "sigmoid": (lambda: nn.Sigmoid(), (5,)),
    "tanh": (lambda: nn.Tanh(), (5,)),
    "softplus": (lambda: nn.Softplus(), (5,)),
    "softmax": (lambda: nn.Softmax(), (5,)),
    "softmax_axis1": (lambda: nn.Softmax(axis=1), (3, 2)),
    "simple_rnn": (lambda: nn.SimpleRNN(3, 4), (5, 3)),
    "simple_rnn_sequences": (lambda: nn.SimpleRNN(2, 3, return_sequences=True), (4, 2)),
    "residual_identity": (lambda: nn.Residual(nn.Sequential([nn.Dense(3, 3), nn.Tanh()])), (3,)),
    "residual_projection": (lambda: nn.Residual(nn.Dense(3, 5), shortcut=nn.Dense(3, 5)), (3,)),
    "sequential": (lambda: nn.Sequential([nn.Dense(4, 6), nn.Tanh(), nn.Dense(6, 3), nn.Softmax()]), (4,)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_gradient_matches_finite_differences(name):
    make, sample_shape = LAYERS[name]
    check_layer_gradients(make(), sample_shape)


def test_activations_are_stable_and_right_for_large_inputs():
    x = np.array([-800.0, -50.0, -1.0, 0.0, 1.0, 50.0, 800.0])
    with np.errstate(over="ignore"):
        naive_sigmoid = 1 / (1 + np.exp(-x[1:-1]))
    np.testing.assert_allclose(activations.sigmoid(x)[1:-1], naive_sigmoid, rtol=1e-15)
    np.testing.assert_array_equal(activations.sigmoid(x)[[0, -1]], [0.0, 1.0])
    np.testing.assert_allclose(activations.softplus(x), np.logaddexp(0, x), rtol=1e-15, atol=1e-15)
    logits = np.array([[1000.0, 1001.0, 999.0]])
    np.testing.assert_allclose(activations.softmax(logits), activations.softmax(logits - 1000.0), rtol=1e-15)
    compiled = irtoy.trace(lambda v: activations.softplus(v) + activations.sigmoid(v), x.astype(np.float32)).compile()
    assert np.all(np.isfinite(compiled(x.astype(np.float32))))


@pytest.mark.parametrize("name", ["sigmoid", "softplus"])
def test_stable_activation_gradients_hold_far_from_zero(name):
    fn = getattr(activations, name)
    x = np.array([-60.0, -20.0, -3.0, 3.0, 20.0, 60.0])
    assert_gradients_match(lambda x: np.sum(fn(x) * np.arange(1.0, 7.0)), x)


# -- batch normalisation -----------------------------------------------------------------------------

def batchnorm_setup(sample_shape, seed=1):
    layer = nn.BatchNorm(momentum=0.2)
    rng = np.random.default_rng(seed)
    channels = sample_shape[0]
    params = {"gamma": rng.uniform(0.5, 2.0, channels), "beta": rng.normal(size=channels)}
    state = {"mean": rng.normal(size=channels), "var": rng.uniform(0.5, 2.0, channels)}
    x = rng.normal(loc=3.0, scale=2.0, size=(6,) + sample_shape)
    return layer, params, state, x


@pytest.mark.parametrize("sample_shape", [(3,), (2, 3, 2)], ids=["features", "channels"])
@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_batchnorm_gradient_matches_finite_differences(sample_shape, training):
    layer, params, state, _ = batchnorm_setup(sample_shape)
    check_layer_gradients(layer, sample_shape, training=training, params=params, state=state, batch=5)


def per_channel(x):
    """x as (channels, everything else): what batch norm averages over for each channel."""
    return np.moveaxis(x, 1, 0).reshape(x.shape[1], -1)


def channel_shape(x):
    return (1, -1) + (1,) * (x.ndim - 2)


@pytest.mark.parametrize("sample_shape", [(3,), (2, 3, 2)], ids=["features", "channels"])
def test_batchnorm_training_uses_batch_statistics_and_updates_the_running_ones(sample_shape):
    layer, params, state, x = batchnorm_setup(sample_shape)
    y, new_state = irtoy.trace(lambda p, s, x: layer.apply(p, s, x, Context(training=True)),
                               params, state, x).compile()(params, state, x)
    rows = per_channel(x)
    mean, biased_var, unbiased_var = rows.mean(axis=1), rows.var(axis=1), rows.var(axis=1, ddof=1)
    expected = ((x - mean.reshape(channel_shape(x))) / np.sqrt(biased_var.reshape(channel_shape(x)) + 1e-5)
                * params["gamma"].reshape(channel_shape(x)) + params["beta"].reshape(channel_shape(x)))
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
    # each channel of the output has the batch mean beta and (almost exactly) standard deviation gamma
    np.testing.assert_allclose(per_channel(y).mean(axis=1), params["beta"], atol=1e-12)
    np.testing.assert_allclose(per_channel(y).std(axis=1), params["gamma"], rtol=1e-4)
    np.testing.assert_allclose(new_state["mean"], 0.8 * state["mean"] + 0.2 * mean, rtol=1e-12)
    np.testing.assert_allclose(new_state["var"], 0.8 * state["var"] + 0.2 * unbiased_var, rtol=1e-12)


@pytest.mark.parametrize("sample_shape", [(3,), (2, 3, 2)], ids=["features", "channels"])
def test_batchnorm_inference_uses_the_running_statistics_and_keeps_them(sample_shape):
    layer, params, state, x = batchnorm_setup(sample_shape)
    y, new_state = irtoy.trace(lambda p, s, x: layer.apply(p, s, x, Context(training=False)),
                               params, state, x).compile()(params, state, x)
    shape = channel_shape(x)
    expected = ((x - state["mean"].reshape(shape)) / np.sqrt(state["var"].reshape(shape) + 1e-5)
                * params["gamma"].reshape(shape) + params["beta"].reshape(shape))
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    for key in state:
        np.testing.assert_array_equal(new_state[key], state[key])
    # a single sample is normalised the same way alone as in the batch: no batch statistics
    alone = layer.apply(params, state, x[:1], Context(training=False))[0]
    np.testing.assert_allclose(alone, y[:1], rtol=1e-12)


# -- structure ------------------------------------------------------------------------------------

def test_sequential_names_layers_by_type_and_position_and_nests_their_parameters():
    net = nn.Sequential([nn.Dense(2, 3), nn.ReLU(), nn.Dense(3, 3), nn.BatchNorm(), nn.Dense(3, 1)])
    assert [layer.name for layer in net.layers] == ["dense1", "relu1", "dense2", "batchnorm1", "dense3"]
    params, state, out_shape = net.init(np.random.default_rng(0), (2,))
    assert sorted(params) == ["batchnorm1", "dense1", "dense2", "dense3"]
    assert params["dense2"]["w"].shape == (3, 3) and params["dense3"]["b"].shape == (1,)
    assert sorted(state) == ["batchnorm1"] and out_shape == (1,)


def test_layer_names_must_be_unique():
    first, second = nn.Dense(2, 2), nn.Dense(2, 2)
    first.name = second.name = "hidden"
    with pytest.raises(ValueError, match="unique.*hidden"):
        nn.Sequential([first, second])


def test_traced_layers_are_grouped_in_scopes_named_after_them():
    net = nn.Sequential([nn.Dense(2, 3), nn.Tanh(), nn.Dense(3, 1)])
    params, state, _ = net.init(np.random.default_rng(0), (2,))
    traced = irtoy.trace(lambda p, x: net.apply(p, state, x, Context(training=False))[0],
                         params, np.zeros((4, 2), np.float32))
    scopes = {traced.graph.nx.nodes[n].get("scope") for n in traced.graph.order()
              if traced.graph.nx.nodes[n]["op"] in ("matmul", "tanh")}
    assert scopes == {"dense1", "tanh1", "dense2"}


def test_simple_rnn_matches_an_explicit_loop():
    layer = nn.SimpleRNN(2, 3, return_sequences=True, seed=4)
    params, _, x, _ = setup_layer(layer, (4, 2), batch=3)
    states = irtoy.trace(lambda p, x: layer.apply(p, {}, x, Context(False))[0], params, x).compile()(params, x)
    h = np.zeros((3, 3))
    for t in range(4):
        h = np.tanh(x[:, t] @ params["wx"] + h @ params["wh"] + params["b"])
        np.testing.assert_allclose(states[:, t], h, rtol=1e-12)
    last = nn.SimpleRNN(2, 3, seed=4)
    np.testing.assert_allclose(last.apply(params, {}, x, Context(False))[0], h, rtol=1e-12)


# -- errors a user can make ---------------------------------------------------------------------------

def test_dense_with_the_wrong_number_of_input_features_names_the_layer_its_line_and_the_shapes():
    net = nn.Sequential([nn.Dense(4, 8), nn.ReLU(), nn.Dense(5, 2)])
    with pytest.raises(irtoy.ShapeError, match=r"dense2 \(made at \S*test_nn_layers.py:\d+: net = nn.Sequential\("
                                               r"\[nn.Dense\(4, 8\), nn.ReLU\(\), nn.Dense\(5, 2\)\]\)\): "
                                               r"expects inputs with 5 features, but gets shape \(8,\)"):
        net.init(np.random.default_rng(0), (4,))
    model = nn.Model(nn.Sequential([nn.Dense(3, 2)]), loss=nn.MSE(), backend="numpy")
    with pytest.raises(irtoy.ShapeError, match=r"dense1 \(made at .*\): expects inputs with 3 features, but gets shape \(2,\)"):
        model.fit(np.zeros((4, 2), np.float32), np.zeros((4, 2), np.float32), verbose=False)


def test_other_layers_refuse_shapes_that_do_not_fit():
    rng = np.random.default_rng(0)
    with pytest.raises(irtoy.ShapeError, match=r"reshape1 \(made at .*\): cannot reshape \(12,\) into \(5, 2\)"):
        nn.Sequential([nn.Reshape((5, 2))]).init(rng, (12,))
    with pytest.raises(irtoy.ShapeError, match=r"simplernn1 \(made at .*\): expects inputs \(T, 3\) per sample, gets \(4, 2\)"):
        nn.Sequential([nn.SimpleRNN(3, 5)]).init(rng, (4, 2))
    with pytest.raises(irtoy.ShapeError, match=r"maps \(3,\) to \(5,\).*skip path gives \(3,\)"):
        nn.Residual(nn.Dense(3, 5)).init(rng, (3,))


def test_batch_norm_refuses_scalar_samples_naming_itself():
    with pytest.raises(irtoy.ShapeError, match=r"batchnorm1 \(made at .*\): normalizes features or channels"):
        nn.Sequential([nn.BatchNorm()]).init(np.random.default_rng(0), ())
