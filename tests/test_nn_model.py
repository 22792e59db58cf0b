"""irtoy.nn.Model: training that learns on both backends, targets, batch norm state, the
training step's graph, the progress bar, saving and loading, and the errors users meet.

Compiling for the numba backend costs seconds, so the spiral model is trained once per
backend (module fixture) and shared by the tests that look at it; everything else runs on
the interpreter with tiny models.
"""
import io
import json
import os

import numpy as np
import pytest

import irtoy
from irtoy import nn
from irtoy.errors import IrtoyError
from irtoy.nn.layers import Context

BACKENDS = ["numpy", "numba"]


def spiral_net():
    return nn.Sequential([nn.Dense(2, 64), nn.ReLU(), nn.Dense(64, 64), nn.ReLU(), nn.Dense(64, 3)])


@pytest.fixture(scope="module")
def spiral():
    return nn.datasets.spiral(n_per_class=100, classes=3, noise=0.2, seed=0)


@pytest.fixture(scope="module")
def spiral_runs(spiral):
    """backend -> (model, history) of the spiral model, trained on first use."""
    runs = {}

    def run(backend):
        if backend not in runs:
            x, y = spiral
            model = nn.Model(spiral_net(), loss=nn.SoftmaxCrossEntropy(), optimizer=nn.Adam(lr=1e-2),
                             backend=backend, seed=0)
            history = model.fit(x, y, epochs=30, batch_size=30, verbose=False)   # 10 equal batches: one compile
            runs[backend] = model, history
        return runs[backend]
    return run


@pytest.mark.parametrize("backend", BACKENDS)
def test_spiral_model_learns(spiral_runs, spiral, backend):
    model, history = spiral_runs(backend)
    assert history["accuracy"][-1] > 0.9
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    result = model.evaluate(*spiral)
    assert result["accuracy"] > 0.9
    predicted = model.predict(spiral[0]).argmax(axis=1)
    assert np.mean(predicted == spiral[1]) == pytest.approx(result["accuracy"])


def test_both_backends_compute_the_same_training_step(spiral):
    """One step from the same weights on the same batch: the same new weights, loss and count.

    (SGD, whose step is proportional to the gradient: Adam's first step, lr * g / (|g| + eps),
    turns float32 rounding in gradients near 1e-8 into differences of order lr.)"""
    x, y = spiral[0][::10], spiral[1][::10]
    outputs = {}
    for backend in BACKENDS:
        model = nn.Model(spiral_net(), loss=nn.SoftmaxCrossEntropy(), optimizer=nn.SGD(0.5, momentum=0.9),
                         backend=backend)
        step = model.compiled_step(x, y)
        outputs[backend] = step(*model._train_args(x.astype(np.float32), model.targets(y)))
    (params_a, _, opt_a, loss_a, correct_a), (params_b, _, opt_b, loss_b, correct_b) = outputs.values()
    assert int(correct_a) == int(correct_b)
    np.testing.assert_allclose(loss_a, loss_b, rtol=1e-6)
    for a, b in zip(irtoy.pytree.flatten((params_a, opt_a))[0], irtoy.pytree.flatten((params_b, opt_b))[0]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_both_backends_train_the_spiral_model_alike(spiral_runs, spiral):
    (model_a, history_a), (model_b, history_b) = spiral_runs("numpy"), spiral_runs("numba")
    np.testing.assert_allclose(history_a["loss"][:5], history_b["loss"][:5], rtol=1e-4)
    np.testing.assert_allclose(history_a["loss"], history_b["loss"], rtol=0.05)
    assert abs(history_a["accuracy"][-1] - history_b["accuracy"][-1]) <= 0.02
    agree = np.mean(model_a.predict(spiral[0]).argmax(1) == model_b.predict(spiral[0]).argmax(1))
    assert agree >= 0.98


# -- targets ------------------------------------------------------------------------------------------

def small_classifier(backend="numpy", optimizer=None, **options):
    net = nn.Sequential([nn.Dense(2, 8), nn.Tanh(), nn.Dense(8, 3)])
    return nn.Model(net, loss=nn.SoftmaxCrossEntropy(), optimizer=optimizer or nn.Adam(lr=0.02),
                    backend=backend, **options)


SMALL = nn.datasets.spiral(n_per_class=10, classes=3, seed=1)


def test_integer_labels_and_one_hot_rows_train_alike():
    """Labels reach the loss as labels (a gather of their log-probabilities), one-hot rows as
    rows (a product): the same sums in another order, so equal up to float32 rounding."""
    x, y = SMALL
    by_label, by_row = small_classifier(), small_classifier()
    history_label = by_label.fit(x, y, epochs=3, batch_size=8, verbose=False)
    history_row = by_row.fit(x, np.eye(3, dtype=np.float32)[y], epochs=3, batch_size=8, verbose=False)
    assert by_label.compiled_step(x[:8], y[:8]).traced.graph.count_ops().get("gather", 0) >= 1
    np.testing.assert_allclose(history_label["loss"], history_row["loss"], rtol=1e-6)
    assert history_label["accuracy"] == history_row["accuracy"]
    for layer in by_label.params:
        for k in by_label.params[layer]:
            np.testing.assert_allclose(by_label.params[layer][k], by_row.params[layer][k], rtol=1e-5, atol=1e-6)
    label_metrics, row_metrics = by_label.evaluate(x, y), by_row.evaluate(x, np.eye(3)[y])
    assert label_metrics["accuracy"] == row_metrics["accuracy"]
    np.testing.assert_allclose(label_metrics["loss"], row_metrics["loss"], rtol=1e-6)


def test_a_prediction_per_time_step_takes_a_label_per_step_and_scores_the_fraction_right():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 5, 2)).astype(np.float32)
    labels = (np.cumsum(x[:, :, 0], axis=1) > 0).astype(np.int64)        # (12, 5): the running sum's sign
    net = nn.Sequential([nn.SimpleRNN(2, 6, return_sequences=True), nn.Dense(6, 2)])
    model = nn.Model(net, loss=nn.SoftmaxCrossEntropy(), optimizer=nn.Adam(0.05), backend="numpy")
    history = model.fit(x, labels, epochs=3, batch_size=4, verbose=False)
    assert 0 <= history["accuracy"][-1] <= 1
    steps_right = model.predict(x).argmax(axis=-1) == labels
    assert model.evaluate(x, labels)["accuracy"] == pytest.approx(steps_right.mean())
    assert model.evaluate(x, labels) == model.evaluate(x, np.eye(2)[labels])


def test_bad_labels_are_refused_with_the_range_or_the_shapes():
    x, y = SMALL
    model = small_classifier()
    with pytest.raises(IrtoyError, match=r"labels must be in 0\.\.2 for a model with 3 outputs, got 0\.\.5"):
        model.fit(x, np.where(y == 2, 5, y), verbose=False)
    with pytest.raises(IrtoyError, match=r"labels must be in 0\.\.2 .* got -1\.\.1"):
        model.fit(x, y - 1, verbose=False)
    with pytest.raises(IrtoyError, match=r"targets of shape \(1,\) .* outputs of shape \(3,\).*integer dtype"):
        model.fit(x, y.astype(np.float32), verbose=False)
    with pytest.raises(IrtoyError, match=r"targets of shape \(4,\) per sample .* outputs of shape \(3,\)"):
        model.evaluate(x, np.eye(4)[y])
    with pytest.raises(ValueError, match="x has 30 samples but y has 29"):
        model.fit(x, y[:-1], verbose=False)


def test_data_of_another_sample_shape_than_the_model_was_built_for_is_refused():
    x, y = SMALL
    model = small_classifier()
    model.fit(x, y, verbose=False)
    with pytest.raises(irtoy.ShapeError, match=r"built for samples of shape \(2,\).*samples of shape \(3,\)"):
        model.predict(np.zeros((4, 3), np.float32))
    with pytest.raises(irtoy.ShapeError, match=r"samples of shape \(\) \(one sample\? give it a batch axis: x\[None\]\)"):
        model.predict(np.zeros(2, np.float32))


# -- fit, evaluate, predict -------------------------------------------------------------------------

def test_fit_keeps_a_history_with_validation_and_evaluate_predict_agree_with_numpy():
    x, y = SMALL
    model = small_classifier()
    history = model.fit(x[:20], y[:20], epochs=2, batch_size=8, validation_data=(x[20:], y[20:]), verbose=False)
    assert sorted(history) == ["accuracy", "loss", "time", "val_accuracy", "val_loss"]
    assert all(len(v) == 2 for v in history.values())
    assert model.steps == 6 and model.epochs == 2          # 20 samples in batches of 8: 3 steps an epoch
    val = model.evaluate(x[20:], y[20:])
    assert history["val_loss"][-1] == val["loss"] and history["val_accuracy"][-1] == val["accuracy"]
    # the network applied to float64 arrays by NumPy itself
    logits, _ = model.net.apply(model.params, model.state, x.astype(np.float64), Context(training=False))
    predicted = model.predict(x, batch_size=7)              # several batches, the last one short
    np.testing.assert_allclose(predicted, logits, rtol=1e-5, atol=1e-6)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected_loss = -log_probs[np.arange(10) + 20, y[20:]].mean()
    assert val["loss"] == pytest.approx(expected_loss, rel=1e-5)
    assert val["accuracy"] == np.mean(logits[20:].argmax(1) == y[20:])


def test_a_regression_model_reports_loss_only():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype(np.float32)
    t = x @ np.array([1.0, -2.0, 0.5], np.float32) + 0.3
    model = nn.Model(nn.Sequential([nn.Dense(3, 1)]), loss=nn.MSE(), optimizer=nn.SGD(0.1), backend="numpy")
    history = model.fit(x, t, epochs=40, batch_size=8, verbose=False)
    assert history["accuracy"][-1] is None and history["loss"][-1] < 1e-3
    assert list(model.evaluate(x, t)) == ["loss"]
    np.testing.assert_allclose(model.params["dense1"]["w"].ravel(), [1.0, -2.0, 0.5], atol=0.02)


def test_batchnorm_running_statistics_are_state_updated_by_fit_and_used_by_predict():
    rng = np.random.default_rng(2)
    x = rng.normal(loc=[2.0, -1.0, 0.5], scale=[1.0, 3.0, 0.2], size=(16, 3)).astype(np.float32)
    y = rng.integers(0, 2, 16)
    model = nn.Model(nn.Sequential([nn.BatchNorm(momentum=0.1), nn.Dense(3, 2)]), loss=nn.SoftmaxCrossEntropy(),
                     backend="numpy")
    model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=False)     # three full-batch steps
    mean, var = np.zeros(3), np.ones(3)
    for _ in range(3):      # the batch norm sees x itself: it is the first layer
        mean = 0.9 * mean + 0.1 * x.mean(axis=0)
        var = 0.9 * var + 0.1 * x.var(axis=0, ddof=1)
    np.testing.assert_allclose(model.state["batchnorm1"]["mean"], mean, rtol=1e-5)
    np.testing.assert_allclose(model.state["batchnorm1"]["var"], var, rtol=1e-5)
    # predict normalises with the running statistics, sample by sample
    params = model.params
    normalised = (x - mean) / np.sqrt(var + 1e-5) * params["batchnorm1"]["gamma"] + params["batchnorm1"]["beta"]
    expected = normalised @ params["dense1"]["w"] + params["dense1"]["b"]
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.predict(x[:1]), expected[:1], rtol=1e-4, atol=1e-5)
    # while training, the same input is normalised with its own batch statistics instead
    training_out, _ = model.net.apply(params, model.state, x, Context(training=True))
    assert not np.allclose(training_out, expected, atol=1e-2)


def test_the_training_step_is_one_graph_with_forward_backward_and_update_nodes(tmp_path):
    x, y = SMALL
    model = small_classifier()
    step = model.compiled_step(x[:8], y[:8])
    graph = step.stages["traced"]
    roles = {graph.nx.nodes[n]["role"] for n in graph.order()}
    assert {"input", "forward", "backward", "update"} <= roles
    update_scopes = {graph.nx.nodes[n]["scope"] for n in graph.order() if graph.nx.nodes[n]["role"] == "update"}
    assert update_scopes == {"optimizer"}
    def train_steps_compiled():
        return len([key for key in model._compiled if key[0] == "train"])

    model.fit(x, y, epochs=1, batch_size=8, verbose=False)
    assert train_steps_compiled() == 2      # one for batches of 8, one for the last 6
    model.fit(x, y, epochs=2, batch_size=8, verbose=False)
    assert train_steps_compiled() == 2      # and reused from then on
    path = model.render_step(tmp_path / "step.dot")
    assert "optimizer" in open(path).read()


def test_render_step_draws_the_step_of_the_batch_size_not_the_short_last_batch(tmp_path):
    x, y = SMALL                                        # 30 samples: batches of 8, 8, 8 and 6
    model = small_classifier()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    drawn = open(model.render_step(tmp_path / "step.dot")).read()
    assert "f32[8,2]" in drawn and "f32[6,2]" not in drawn
    drawn = open(model.render_step(tmp_path / "given.dot", x=x[:5], y=y[:5])).read()
    assert "f32[5,2]" in drawn and "f32[8,2]" not in drawn
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)     # the last fit's batch size, from now on
    assert "f32[16,2]" in open(model.render_step(tmp_path / "again.dot")).read()


# -- saving and loading ---------------------------------------------------------------------------------

def trained_model(optimizer=None, epochs=2):
    x, y = SMALL
    net = nn.Sequential([nn.Dense(2, 8), nn.BatchNorm(), nn.Tanh(), nn.Dense(8, 3)])
    model = nn.Model(net, loss=nn.SoftmaxCrossEntropy(), optimizer=optimizer or nn.Adam(lr=0.02), backend="numpy",
                     l2=1e-3)
    model.fit(x, y, epochs=epochs, batch_size=8, verbose=False)
    return model


def fresh_net():
    return nn.Sequential([nn.Dense(2, 8), nn.BatchNorm(), nn.Tanh(), nn.Dense(8, 3)])


@pytest.mark.parametrize("optimizer", [lambda: nn.Adam(lr=0.02),
                                       lambda: nn.SGD(lr=nn.Cosine(0.1, epochs=4), momentum=0.9, nesterov=True)],
                         ids=["adam", "sgd_cosine"])
def test_a_saved_model_loads_with_the_same_predictions_and_trains_on_identically(tmp_path, optimizer):
    x, y = SMALL
    model = trained_model(optimizer())
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = nn.Model.load(path, fresh_net(), backend="numpy")
    assert (loaded.steps, loaded.epochs, loaded.l2) == (model.steps, model.epochs, model.l2)
    assert repr(loaded.optimizer) == repr(model.optimizer)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    # the optimizer's buffers, the step count and the shuffling continue where they were
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=False)
    history_loaded = loaded.fit(x, y, epochs=2, batch_size=8, verbose=False)
    assert history["loss"] == history_loaded["loss"]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_the_file_holds_arrays_and_json_metadata_only(tmp_path):
    model = trained_model()
    path = model.save(tmp_path / "model.npz")
    with np.load(path, allow_pickle=False) as data:
        names = set(data.files)
        meta = json.loads(str(data["__metadata__"]))
        assert all(data[k].dtype != object for k in data.files)
    assert {"params/dense1/w", "params/batchnorm1/gamma", "state/batchnorm1/mean", "optimizer/m/dense2/b",
            "optimizer/v/dense1/w"} <= names
    assert meta["format"] == "irtoy.nn.Model" and meta["net"]["layers"][0] == {
        "type": "Dense", "name": "dense1", "in_features": 2, "out_features": 8, "weight_init": "glorot_uniform",
        "bias_init": "zeros", "seed": None}
    assert meta["optimizer"] == {"type": "Adam", "config": {"lr": 0.02, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}}


def test_a_file_from_another_network_is_refused_naming_the_difference(tmp_path):
    path = trained_model().save(tmp_path / "model.npz")
    wider = nn.Sequential([nn.Dense(2, 16), nn.BatchNorm(), nn.Tanh(), nn.Dense(16, 3)])
    with pytest.raises(IrtoyError, match=r"different network: net\.layers\[0\]\.out_features is 8 in the file "
                                         r"but 16 in the model"):
        nn.Model.load(path, wider, backend="numpy")
    shorter = nn.Sequential([nn.Dense(2, 8), nn.Tanh(), nn.Dense(8, 3)])
    with pytest.raises(IrtoyError, match=r"net\.layers has 4 entries in the file but 3 in the model"):
        nn.Model.load(path, shorter, backend="numpy")
    relu = nn.Sequential([nn.Dense(2, 8), nn.BatchNorm(), nn.ReLU(), nn.Dense(8, 3)])
    with pytest.raises(IrtoyError, match=r"net\.layers\[2\]\.name is 'tanh1' in the file but 'relu1'"):
        nn.Model.load(path, relu, backend="numpy")


def rewrite(path, change):
    """Rewrite a saved model file after `change(arrays, metadata)` edits its contents."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays.pop("__metadata__")))
    change(arrays, meta)
    np.savez(path, __metadata__=np.array(json.dumps(meta)), **arrays)


@pytest.mark.parametrize("change, message", [
    (lambda arrays, meta: arrays.update({"params/dense2/w": np.zeros((8, 4), np.float32)}),
     r"params/dense2/w is float32\[8, 4\] in the file but float32\[8, 3\] in this model"),
    (lambda arrays, meta: arrays.update({"state/batchnorm1/var": np.ones(8, np.float64)}),
     r"state/batchnorm1/var is float64\[8\] in the file but float32\[8\] in this model"),
    (lambda arrays, meta: arrays.pop("optimizer/v/dense1/b"), r"lacks optimizer/v/dense1/b \(8,\)"),
    (lambda arrays, meta: meta.update(version=99), "irtoy.nn.Model v99 file, not irtoy.nn.Model v1"),
], ids=["shape", "dtype", "missing", "version"])
def test_a_file_whose_contents_do_not_fit_the_model_is_refused(tmp_path, change, message):
    path = trained_model(epochs=1).save(tmp_path / "model.npz")
    rewrite(path, change)
    with pytest.raises(IrtoyError, match=message):
        nn.Model.load(path, fresh_net(), backend="numpy")


def test_loading_never_unpickles(tmp_path):
    path = trained_model().save(tmp_path / "model.npz")
    rewrite(path, lambda arrays, meta: arrays.update({"params/dense1/b": np.array([{"x": 1}] * 8, dtype=object)}))
    with pytest.raises(IrtoyError, match="params/dense1/b.npy holds Python objects"):
        nn.Model.load(path, fresh_net(), backend="numpy")
    np.savez(path, weights=np.zeros(3))
    with pytest.raises(IrtoyError, match="has no irtoy metadata"):
        nn.Model.load(path, fresh_net(), backend="numpy")
    (tmp_path / "text.npz").write_text("not a zip file")
    with pytest.raises(IrtoyError, match="not a model file irtoy can read"):
        nn.Model.load(tmp_path / "text.npz", fresh_net(), backend="numpy")


class Interrupted(Exception):
    pass


def half_writing_fdopen(real_fdopen):
    """os.fdopen whose files write half of what they are given, then fail (a crash mid-write)."""
    class HalfWriter(io.RawIOBase):
        def __init__(self, f):
            self.f = f

        def write(self, data):
            self.f.write(data[:len(data) // 2])
            self.f.flush()
            raise Interrupted("the disk filled up")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    return lambda fd, mode="r", *args, **kwargs: HalfWriter(real_fdopen(fd, mode, *args, **kwargs))


@pytest.mark.parametrize("failure", ["mid_write", "before_rename"])
def test_an_interrupted_save_leaves_the_old_file_whole_and_no_temporary_file(tmp_path, monkeypatch, failure):
    x, _ = SMALL
    path = tmp_path / "model.npz"
    model = trained_model()
    model.save(path)
    before = path.read_bytes()
    model.fit(x, SMALL[1], epochs=1, batch_size=8, verbose=False)      # new weights to save
    if failure == "mid_write":
        monkeypatch.setattr(os, "fdopen", half_writing_fdopen(os.fdopen))
    else:
        def crash(*args):
            raise Interrupted("killed before the rename")
        monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(Interrupted):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]
    nn.Model.load(path, fresh_net(), backend="numpy")      # still a good file


def test_saving_an_unbuilt_model_says_there_is_nothing_to_save(tmp_path):
    with pytest.raises(IrtoyError, match="nothing to save"):
        small_classifier().save(tmp_path / "model.npz")
    assert not (tmp_path / "model.npz").exists()
