"""nn.Embedding and SoftmaxCrossEntropy on integer labels: against NumPy, their gradients,
on numba, and a small model with an embedding that learns."""
import numpy as np
import pytest

import irtoy
from irtoy import nn
from irtoy.nn.layers import Context
from numpy_checks import assert_same_array

pytestmark = pytest.mark.usefixtures("numba_kernel_cache")


def _log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def test_embedding_looks_up_rows_and_casts_whole_float_inputs():
    layer = nn.Embedding(10, 3, seed=0)
    params, state, shape = layer.init(np.random.default_rng(0), (4,))
    assert shape == (4, 3) and params["table"].shape == (10, 3) and params["table"].dtype == np.float32
    assert np.abs(params["table"]).max() <= 0.05
    tokens = np.array([[1, 9, 9, 0], [-1, 2, 3, 4]])

    def apply(params, x):
        return layer.apply(params, {}, x, Context(training=True))[0]
    for x in (tokens, tokens.astype(np.float32)):
        out = irtoy.trace(apply, params, x).compile("numpy")(params, x)
        assert_same_array(out, params["table"][tokens])


def test_embedding_gradient_adds_up_the_rows_looked_up():
    layer = nn.Embedding(5, 2)
    params = {"table": np.arange(10.0).reshape(5, 2)}
    tokens = np.array([[0, 3, 3], [3, 1, 0]])
    weights = np.random.default_rng(0).normal(size=(2, 3, 2))

    def loss(params, x):
        return np.sum(layer.apply(params, {}, x, Context(training=True))[0] * weights)
    (grad,) = irtoy.trace(loss, params, tokens).grad(wrt=(0,)).compile("numpy")(params, tokens)
    expected = np.zeros((5, 2))
    np.add.at(expected, tokens, weights)
    assert_same_array(grad["table"], expected)


@pytest.mark.parametrize("shape", [(6, 4), (2, 3, 5)])
def test_softmax_cross_entropy_takes_integer_labels_as_one_hot_rows(shape):
    rng = np.random.default_rng(1)
    logits = rng.normal(size=shape)
    labels = rng.integers(0, shape[-1], size=shape[:-1])
    one_hot = np.eye(shape[-1])[labels]
    loss = nn.SoftmaxCrossEntropy()
    expected = -np.sum(np.take_along_axis(_log_softmax(logits), labels[..., None], -1)) / shape[0]
    by_labels = irtoy.trace(lambda z, y: irtoy.value_and_grad(lambda z: loss(z, y))(z), logits, labels)
    by_rows = irtoy.trace(lambda z, y: irtoy.value_and_grad(lambda z: loss(z, y))(z), logits, one_hot)
    assert "gather" in by_labels.graph.count_ops() and "gather" not in by_rows.graph.count_ops()
    (value, grad), (row_value, row_grad) = by_labels.compile("numpy")(logits, labels), \
        by_rows.compile("numpy")(logits, one_hot)
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    np.testing.assert_allclose(row_value, expected, rtol=1e-12)
    np.testing.assert_allclose(grad, row_grad, rtol=1e-12, atol=1e-15)
    numba_value, numba_grad = by_labels.compile("numba", debug=False)(logits, labels)
    np.testing.assert_allclose(numba_value, value, rtol=1e-11)
    np.testing.assert_allclose(numba_grad, grad, rtol=1e-11, atol=1e-15)


def test_softmax_cross_entropy_refuses_labels_of_the_wrong_shape():
    with pytest.raises(irtoy.ShapeError, match=r"labels of shape \(6, 1\) do not fit logits of shape \(6, 4\)"):
        irtoy.trace(nn.SoftmaxCrossEntropy(), np.ones((6, 4)), np.zeros((6, 1), np.int64))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_model_with_an_embedding_learns(backend):
    """Sequences of 4 tokens of 12; the class is the first token's parity: the model must learn
    which rows of the table are which."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 12, size=(240, 4))
    y = x[:, 0] % 2
    net = nn.Sequential([nn.Embedding(12, 8, seed=0), nn.Flatten(), nn.Dense(32, 2)])
    model = nn.Model(net, loss=nn.SoftmaxCrossEntropy(), optimizer=nn.Adam(lr=3e-2), backend=backend, seed=0)
    history = model.fit(x, y, epochs=15, batch_size=40, verbose=False)
    assert history["accuracy"][-1] > 0.95
    assert model.evaluate(x, y)["accuracy"] > 0.95


def test_the_benchmarks_embedding_step_matches_its_numpy_baseline():
    from irtoy.benchmarks.workloads import embedding_setup, embedding_sgd_step, embedding_sgd_step_numpy
    params, data = embedding_setup(rows=30, dim=4, classes=3, batch=8, length=5, count=1)
    tokens, labels = data[0]
    tokens[0, :3] = 7                   # repeated rows: their gradients add up
    loss, new = irtoy.trace(embedding_sgd_step, params, tokens, labels).compile("numpy")(params, tokens, labels)
    expected_loss, expected = embedding_sgd_step_numpy(params, tokens, labels)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-5)
    for k in params:
        np.testing.assert_allclose(new[k], expected[k], rtol=1e-5, atol=1e-7)
    assert not np.allclose(new["table"][7], params["table"][7])
    untouched = np.setdiff1d(np.arange(30), tokens)
    np.testing.assert_array_equal(new["table"][untouched], params["table"][untouched])
