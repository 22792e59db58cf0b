"""irtoy.nn optimizers and schedules: the first steps against PyTorch's documented formulas.

The references below are written from the pseudo-code in PyTorch's documentation of
torch.optim.SGD, RMSprop, Adam and RAdam, one parameter at a time, with the step count t
kept explicitly. irtoy's update is traced in float64 and compiled, fed the
hyperparameters the optimizer computes for each step, and must agree to rounding.
"""
import math

import numpy as np
import pytest

import irtoy
from irtoy import nn

STEPS = 8       # RAdam switches from its momentum-only steps to rectified ones at step 6


def make_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"dense1": {"w": rng.normal(size=(3, 2)), "b": rng.normal(size=2)}, "scale": rng.normal(size=())}


def make_gradients(seed=1):
    """A different gradient for every step (one of them constant in time, one sign-flipping)."""
    rng = np.random.default_rng(seed)
    steps = [make_params(int(rng.integers(1 << 30))) for _ in range(STEPS)]
    for t, grads in enumerate(steps):
        grads["scale"] = np.array(0.3 if t % 2 else -0.5)
    return steps


def leaves(tree, prefix=""):
    if isinstance(tree, dict):
        return {k: v for key in tree for k, v in leaves(tree[key], f"{prefix}/{key}").items()}
    return {prefix: tree}


def irtoy_steps(optimizer, params, gradients, epoch=0):
    """The parameters after each step of `optimizer`'s traced and compiled update."""
    state = optimizer.init(params)
    compiled, history = None, []
    for t, grads in enumerate(gradients, start=1):
        hyper = {k: np.float64(v) for k, v in optimizer.hyperparameters(t, epoch).items()}
        if compiled is None:
            compiled = irtoy.trace(optimizer.update, params, grads, state, hyper).compile("numpy")
        params, state = compiled(params, grads, state, hyper)
        history.append(params)
    return history


# -- PyTorch's formulas, one step of one parameter; `state` starts empty -----------------------------

def torch_sgd(p, g, state, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    if weight_decay:
        g = g + weight_decay * p
    if momentum:
        buf = g if "buf" not in state else momentum * state["buf"] + g      # dampening 0
        state["buf"] = buf
        g = g + momentum * buf if nesterov else buf
    return p - lr * g


def torch_rmsprop(p, g, state, lr, alpha=0.99, eps=1e-8):
    state["v"] = alpha * state.get("v", 0.0) + (1 - alpha) * g * g
    return p - lr * g / (np.sqrt(state["v"]) + eps)


def moments(g, state, beta1, beta2):
    """Advance the step count and the two moving averages; return t, m, v."""
    state["t"] = t = state.get("t", 0) + 1
    state["m"] = m = beta1 * state.get("m", 0.0) + (1 - beta1) * g
    state["v"] = v = beta2 * state.get("v", 0.0) + (1 - beta2) * g * g
    return t, m, v


def torch_adam(p, g, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    t, m, v = moments(g, state, beta1, beta2)
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


def torch_radam(p, g, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    t, m, v = moments(g, state, beta1, beta2)
    m_hat = m / (1 - beta1 ** t)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t)
    if rho_t <= 5:
        return p - lr * m_hat
    adaptive = math.sqrt(1 - beta2 ** t) / (np.sqrt(v) + eps)
    rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
    return p - lr * m_hat * rect * adaptive


def reference_steps(step, p, gradients, lr, **options):
    """p after each of the steps `step` takes with these gradients."""
    state, history = {}, []
    for g in gradients:
        p = step(p, g, state, lr, **options)
        history.append(p)
    return history


CASES = {
    "sgd": (lambda: nn.SGD(lr=0.1), torch_sgd, dict(lr=0.1)),
    "sgd_momentum": (lambda: nn.SGD(lr=0.1, momentum=0.9), torch_sgd, dict(lr=0.1, momentum=0.9)),
    "sgd_nesterov": (lambda: nn.SGD(lr=0.05, momentum=0.8, nesterov=True), torch_sgd,
                     dict(lr=0.05, momentum=0.8, nesterov=True)),
    "sgd_weight_decay": (lambda: nn.SGD(lr=0.1, weight_decay=0.01), torch_sgd, dict(lr=0.1, weight_decay=0.01)),
    "sgd_nesterov_weight_decay": (lambda: nn.SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
                                  torch_sgd, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    "rmsprop": (lambda: nn.RMSProp(lr=0.01), torch_rmsprop, dict(lr=0.01)),
    "rmsprop_alpha": (lambda: nn.RMSProp(lr=0.003, alpha=0.9, eps=1e-6), torch_rmsprop,
                      dict(lr=0.003, alpha=0.9, eps=1e-6)),
    "adam": (lambda: nn.Adam(lr=1e-3), torch_adam, dict(lr=1e-3)),
    "adam_betas": (lambda: nn.Adam(lr=0.01, beta1=0.5, beta2=0.9, eps=1e-6), torch_adam,
                   dict(lr=0.01, beta1=0.5, beta2=0.9, eps=1e-6)),
    "radam": (lambda: nn.RAdam(lr=1e-3), torch_radam, dict(lr=1e-3)),
    "radam_beta2": (lambda: nn.RAdam(lr=0.01, beta2=0.99), torch_radam, dict(lr=0.01, beta2=0.99)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_first_steps_match_pytorchs_formulas(name):
    make_optimizer, reference, options = CASES[name]
    params, gradients = make_params(), make_gradients()
    got = irtoy_steps(make_optimizer(), params, gradients)
    for path, start in leaves(params).items():
        expected = reference_steps(reference, start, [leaves(g)[path] for g in gradients], **options)
        for t in range(STEPS):
            np.testing.assert_allclose(leaves(got[t])[path], expected[t], rtol=1e-12, atol=1e-15,
                                       err_msg=f"{name}: {path} after step {t + 1}")


def test_radam_takes_both_kinds_of_step_within_these_checks():
    radam = nn.RAdam()
    assert [radam.hyperparameters(t)["adaptive"] for t in range(1, STEPS + 1)] == [0.0] * 5 + [1.0] * 3


def test_the_optimizer_state_has_one_zero_buffer_per_slot_and_parameter():
    params = make_params()
    assert nn.SGD().init(params) == {}
    state = nn.Adam().init(params)
    assert sorted(state) == ["m", "v"]
    for slot in state.values():
        assert leaves(slot).keys() == leaves(params).keys()
        assert all(not value.any() and value.shape == leaves(params)[k].shape for k, value in leaves(slot).items())
    assert sorted(nn.SGD(momentum=0.9).init(params)) == ["velocity"]
    assert sorted(nn.RMSProp().init(params)) == ["square_avg"]


def test_a_schedule_sets_the_learning_rate_for_each_epoch():
    sgd = nn.SGD(lr=nn.StepDecay(0.1, every=2, gamma=0.5))
    params, gradients = make_params(), make_gradients()[:1]
    for epoch, lr in [(0, 0.1), (1, 0.1), (2, 0.05), (5, 0.025)]:
        (after,) = irtoy_steps(sgd, params, gradients, epoch=epoch)
        np.testing.assert_allclose(after["dense1"]["w"], params["dense1"]["w"] - lr * gradients[0]["dense1"]["w"],
                                   rtol=1e-14)


# -- through Model.fit: hyperparameters per step and per epoch reach the compiled step ------------------

@pytest.mark.parametrize("make_optimizer, reference, options", [
    (lambda: nn.Adam(lr=0.05), torch_adam, {}),
    (lambda: nn.RAdam(lr=nn.ExponentialDecay(0.05, gamma=0.8)), torch_radam, {}),
    (lambda: nn.SGD(lr=nn.ExponentialDecay(0.1, gamma=0.5), momentum=0.9, nesterov=True), torch_sgd,
     dict(momentum=0.9, nesterov=True)),
], ids=["adam", "radam_decay", "nesterov_decay"])
def test_model_fit_takes_the_same_steps_as_the_reference(make_optimizer, reference, options):
    """One full batch per epoch, so each epoch is one step with that epoch's learning rate."""
    rng = np.random.default_rng(3)
    x, t = rng.normal(size=(8, 3)).astype(np.float32), rng.normal(size=(8, 2)).astype(np.float32)
    optimizer = make_optimizer()
    model = nn.Model(nn.Sequential([nn.Dense(3, 2, bias_init=nn.initializers.normal(0.3))]), loss=nn.MSE(),
                     optimizer=optimizer, backend="numpy")
    model.build((3,))
    w, b = (model.params["dense1"][k].astype(np.float64) for k in ("w", "b"))
    x64, t64 = x.astype(np.float64), t.astype(np.float64)
    w_state, b_state = {}, {}
    for epoch in range(7):
        model.fit(x, t, epochs=1, batch_size=8, shuffle=False, verbose=False)
        residual = (x64 @ w + b - t64) / len(x)     # d loss / d outputs for the batch-mean MSE
        lr = optimizer.schedule(epoch)
        w, b = (reference(w, x64.T @ residual, w_state, lr, **options),
                reference(b, residual.sum(axis=0), b_state, lr, **options))
        np.testing.assert_allclose(model.params["dense1"]["w"], w, rtol=2e-5, atol=1e-6, err_msg=f"epoch {epoch}")
        np.testing.assert_allclose(model.params["dense1"]["b"], b, rtol=2e-5, atol=1e-6, err_msg=f"epoch {epoch}")
    assert model.steps == model.epochs == 7


# -- schedules ---------------------------------------------------------------------------------------

def test_schedules_give_the_documented_rates():
    assert [nn.Constant(0.1)(e) for e in (0, 7)] == [0.1, 0.1]
    assert [nn.StepDecay(1.0, every=3, gamma=0.1)(e) for e in range(7)] == pytest.approx(
        [1, 1, 1, 0.1, 0.1, 0.1, 0.01])
    assert [nn.ExponentialDecay(0.8, gamma=0.5)(e) for e in range(4)] == pytest.approx([0.8, 0.4, 0.2, 0.1])
    cosine = nn.Cosine(1.0, epochs=4, min_lr=0.2)
    assert [cosine(e) for e in range(6)] == pytest.approx(
        [1.0, 0.2 + 0.4 * (1 + math.cos(math.pi / 4)), 0.6, 0.2 + 0.4 * (1 + math.cos(3 * math.pi / 4)), 0.2, 0.2])


def test_optimizers_accept_a_number_or_a_schedule():
    assert nn.Adam(lr=0.01).hyperparameters(1)["lr"] == 0.01
    assert nn.Adam(lr=nn.Cosine(0.01, epochs=2)).hyperparameters(1, epoch=2)["lr"] == pytest.approx(0.0)
