"""irtoy.nn losses: values against formulas written out in NumPy, gradients against finite
differences (float64), stability for extreme logits, and the weight penalties."""
import numpy as np
import pytest

import irtoy
from irtoy import nn
from irtoy.nn import losses
from nn_checks import assert_gradients_match

RNG = np.random.default_rng(0)
BATCH, CLASSES = 5, 4
SCORES = RNG.normal(size=(BATCH, CLASSES)) * 2
LABELS = np.array([0, 3, 1, 1, 2])
ONE_HOT = np.eye(CLASSES)[LABELS]
SOFT = RNG.dirichlet(np.ones(CLASSES), BATCH)            # probability rows, as in label smoothing
BINARY = RNG.integers(0, 2, (BATCH, CLASSES)).astype(np.float64)
REGRESSION = RNG.normal(size=(BATCH, CLASSES))


def reference_softmax_cross_entropy(logits, targets):
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -(targets * log_probs).sum(axis=1).mean()


def reference_sigmoid_cross_entropy(logits, targets):
    p = 1 / (1 + np.exp(-logits))
    return -(targets * np.log(p) + (1 - targets) * np.log(1 - p)).sum(axis=1).mean()


def reference_huber(outputs, targets, delta):
    total = 0.0
    for a in np.abs(outputs - targets).ravel():
        total += 0.5 * a * a if a <= delta else delta * (a - 0.5 * delta)
    return total / len(outputs)


def reference_hinge(scores, labels, margin):
    """The multi-class SVM loss with an explicit loop over samples and classes."""
    total = 0.0
    for row, label in zip(scores, labels):
        for j, score in enumerate(row):
            if j != label:
                total += max(0.0, score - row[label] + margin)
    return total / len(scores)


CASES = {
    "softmax_ce_one_hot": (nn.SoftmaxCrossEntropy(), SCORES, ONE_HOT, reference_softmax_cross_entropy),
    "softmax_ce_soft": (nn.SoftmaxCrossEntropy(), SCORES, SOFT, reference_softmax_cross_entropy),
    "sigmoid_ce": (nn.SigmoidCrossEntropy(), SCORES, BINARY, reference_sigmoid_cross_entropy),
    "sigmoid_ce_soft": (nn.SigmoidCrossEntropy(), SCORES, SOFT, reference_sigmoid_cross_entropy),
    "mse": (nn.MSE(), SCORES, REGRESSION, lambda o, t: 0.5 * ((o - t) ** 2).sum(axis=1).mean()),
    "mae": (nn.MAE(), SCORES, REGRESSION, lambda o, t: np.abs(o - t).sum(axis=1).mean()),
    "huber": (nn.Huber(delta=1.5), SCORES, REGRESSION, lambda o, t: reference_huber(o, t, 1.5)),
    "hinge": (nn.Hinge(), SCORES, ONE_HOT, lambda s, t: reference_hinge(s, t.argmax(axis=1), 1.0)),
    "hinge_margin": (nn.Hinge(margin=0.5), SCORES, ONE_HOT, lambda s, t: reference_hinge(s, t.argmax(axis=1), 0.5)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_loss_value_matches_the_written_out_formula(name):
    loss, outputs, targets, reference = CASES[name]
    value = irtoy.trace(loss, outputs, targets).compile()(outputs, targets)
    assert value.shape == ()
    np.testing.assert_allclose(value, reference(outputs, targets), rtol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_loss_gradient_matches_finite_differences(name):
    loss, outputs, targets, _ = CASES[name]
    if name.startswith(("mae", "huber", "hinge")):
        check_away_from_kinks(name, outputs, targets)
    assert_gradients_match(lambda o: loss(o, targets), outputs)


def check_away_from_kinks(name, outputs, targets):
    """Finite differences straddling a kink would disagree with any one-sided derivative."""
    if name.startswith("mae"):
        gaps = np.abs(outputs - targets)
    elif name.startswith("huber"):
        gaps = np.abs(np.abs(outputs - targets) - CASES[name][0].delta)
    else:
        margin = CASES[name][0].margin
        true_scores = (outputs * targets).sum(axis=1, keepdims=True)
        gaps = np.abs(outputs - true_scores + margin)
    assert gaps.min() > 1e-4


def test_huber_uses_both_of_its_pieces_in_these_checks():
    a = np.abs(SCORES - REGRESSION)
    assert (a <= 1.5).any() and (a > 1.5).any()


def test_hinge_gradient_lowers_each_violating_score_and_raises_the_true_one():
    grads = irtoy.grad(nn.Hinge())(SCORES, ONE_HOT)
    violated = np.maximum(SCORES - (SCORES * ONE_HOT).sum(axis=1, keepdims=True) + 1, 0) * (1 - ONE_HOT) > 0
    np.testing.assert_allclose(grads * BATCH, violated - ONE_HOT * violated.sum(axis=1, keepdims=True))


@pytest.mark.parametrize("scale", [1e3, 1e4])
def test_cross_entropies_stay_finite_for_extreme_logits_in_float32(scale):
    logits = (np.array([[1.0, -1.0, 0.5], [-1.0, 0.0, 1.0]]) * scale).astype(np.float32)
    targets = np.eye(3, dtype=np.float32)[[1, 2]]
    softmax_ce = irtoy.value_and_grad(nn.SoftmaxCrossEntropy())
    value, grads = softmax_ce(logits, targets)
    expected = reference_softmax_cross_entropy(logits.astype(np.float64) - logits.max(axis=1, keepdims=True),
                                               targets)
    assert np.isfinite(value) and np.all(np.isfinite(grads))
    np.testing.assert_allclose(value, expected, rtol=1e-6)
    value, grads = irtoy.value_and_grad(nn.SigmoidCrossEntropy())(logits, targets)
    as64 = logits.astype(np.float64)
    expected = (np.logaddexp(0, as64) - as64 * targets).sum(axis=1).mean()     # log(1 + e^x) - x t
    assert np.isfinite(value) and np.all(np.isfinite(grads))
    np.testing.assert_allclose(value, expected, rtol=1e-6)


# -- weight penalties ----------------------------------------------------------------------------------

PARAMS = {"dense1": {"w": RNG.normal(size=(3, 2)), "b": RNG.normal(size=2)},
          "conv1": {"w": RNG.normal(size=(2, 1, 2, 2)), "b": RNG.normal(size=2)},
          "batchnorm1": {"gamma": RNG.normal(size=2), "beta": RNG.normal(size=2)}}


def test_penalties_count_weight_matrices_and_kernels_but_not_biases_or_scales():
    weights = [PARAMS["dense1"]["w"], PARAMS["conv1"]["w"]]
    np.testing.assert_allclose(losses.l2_penalty(PARAMS, 0.1), 0.1 * sum((w ** 2).sum() for w in weights))
    np.testing.assert_allclose(losses.l1_penalty(PARAMS, 0.1), 0.1 * sum(np.abs(w).sum() for w in weights))


@pytest.mark.parametrize("penalty", [losses.l1_penalty, losses.l2_penalty])
def test_penalty_gradient_matches_finite_differences(penalty):
    assert_gradients_match(lambda p: penalty(p, 0.3), PARAMS)


def test_model_adds_the_penalties_to_its_loss():
    net = nn.Sequential([nn.Dense(3, 2)])
    x, y = RNG.normal(size=(4, 3)).astype(np.float32), RNG.normal(size=(4, 2)).astype(np.float32)
    plain = nn.Model(net, loss=nn.MSE(), backend="numpy")
    penalised = nn.Model(net, loss=nn.MSE(), backend="numpy", l2=0.5, l1=0.25)
    plain.build((3,))
    penalised.build((3,))
    w = plain.params["dense1"]["w"]
    expected = plain.evaluate(x, y)["loss"] + 0.5 * (w ** 2).sum() + 0.25 * np.abs(w).sum()
    np.testing.assert_allclose(penalised.evaluate(x, y)["loss"], expected, rtol=1e-6)
