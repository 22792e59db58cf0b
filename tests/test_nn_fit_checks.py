"""Model.fit checks its data once: bad arguments are IrtoyErrors naming the argument, NaN and
infinite values are refused with their count and first position, and a loss that becomes
NaN or infinite stops training naming the epoch and the batch."""
import numpy as np
import pytest

import irtoy
from irtoy import nn

X, Y = nn.datasets.spiral(n_per_class=10, classes=3, seed=1)


def classifier(backend="numpy", lr=0.02):
    net = nn.Sequential([nn.Dense(2, 8), nn.Tanh(), nn.Dense(8, 3)])
    return nn.Model(net, loss=nn.SoftmaxCrossEntropy(), optimizer=nn.SGD(lr), backend=backend)


@pytest.mark.parametrize("x, y, options, message", [
    ([[1.0, 2.0], [3.0]], Y, {}, r"^x cannot be used as an array of numbers"),
    (X, ["a", "b"] * 15, {}, r"^y holds <U1 values, not numbers"),
    (X, [[0], [1, 2]] * 15, {}, r"^y cannot be used as an array of numbers"),
    (X, Y[:-1], {}, r"fit: x has 30 samples but y has 29"),
    (np.float32(1.0), Y, {}, r"fit: x must hold samples along its first axis"),
    (X, 2, {}, r"y must hold one target per sample"),
    (X, Y, {"batch_size": 0}, r"fit: batch_size must be a positive integer, got 0"),
    (X, Y, {"batch_size": 2.5}, r"fit: batch_size must be a positive integer, got 2.5"),
    (X, Y, {"epochs": "3"}, r"fit: epochs must be a non-negative integer, got '3'"),
    (X, Y, {"validation_data": X}, r"fit: validation_data must be a pair \(x, y\)"),
], ids=["ragged_x", "string_y", "ragged_y", "lengths", "scalar_x", "scalar_y", "batch_size_zero",
        "batch_size_float", "epochs_string", "validation_not_a_pair"])
def test_bad_arguments_are_irtoy_errors_naming_the_argument(x, y, options, message):
    model = classifier()
    with pytest.raises(irtoy.IrtoyError, match=message):
        model.fit(x, y, verbose=False, **options)
    assert model.steps == 0


@pytest.mark.parametrize("where", ["x", "y"])
def test_nan_or_inf_in_the_data_is_refused_with_count_and_first_position(where):
    x, y = X.copy(), np.eye(3, dtype=np.float32)[Y]
    if where == "x":
        x[7, 1], x[20, 0] = np.nan, np.inf
        message = r"fit: x holds 2 NaN or infinite value\(s\), the first nan at x\[7, 1\]"
    else:
        y[4, 2] = -np.inf
        message = r"fit: y holds 1 NaN or infinite value\(s\), the first -inf at y\[4, 2\]"
    model = classifier()
    with pytest.raises(irtoy.NonFiniteError, match=message + "; clean the data, or pass allow_nonfinite=True"):
        model.fit(x, y, verbose=False)
    assert model.steps == 0
    model.fit(x, y, epochs=1, batch_size=10, verbose=False, allow_nonfinite=True)      # asked for: trains on
    assert model.steps == 3


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_loss_that_becomes_inf_stops_training_naming_epoch_and_batch(backend):
    x = np.ones((30, 2), np.float32)
    x[10:20] = 1e30                     # finite, but its squared error overflows float32
    model = nn.Model(nn.Sequential([nn.Dense(2, 1)]), loss=nn.MSE(), optimizer=nn.SGD(1e-3), backend=backend)
    model.fit(x[:10], np.zeros(10), epochs=1, batch_size=10, verbose=False)
    with pytest.raises(irtoy.NonFiniteError, match=r"fit: the loss became inf at epoch 2, batch 2 of 3 \(step 3\)"):
        model.fit(x, np.zeros(30), epochs=2, batch_size=10, verbose=False, shuffle=False)
    assert model.steps == 3


def test_evaluate_and_predict_name_their_bad_arguments():
    model = classifier()
    model.fit(X, Y, verbose=False)
    with pytest.raises(irtoy.ShapeError, match=r"evaluate: x has 30 samples but y has 29"):
        model.evaluate(X, Y[:-1])
    with pytest.raises(irtoy.IrtoyError, match=r"^x cannot be used as an array of numbers"):
        model.predict([[1.0, 2.0], [3.0]])
