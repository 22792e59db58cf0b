"""Every example's training step exports to ONNX, passes onnx.checker, and takes the same step
in onnxruntime as on the interpreter: each example's models (its own `make_model` or
`make_models`) are built twice, with backend="numpy" and backend="onnxruntime", and trained one
step on the same batch; the loss, the optimizer state (Adam's moments hold the gradient)
and the new weights must agree. Adam's first step moves each weight by about lr times the
gradient's sign, which for a gradient near float32's noise (Adam's epsilon is 1e-8) is
itself noise: weights agree to within 2% of the learning rate. The two examples that are
functions, not models, export their value and gradient.
"""
import importlib.util
from pathlib import Path

import numpy as np
import onnx
import pytest

import irtoy
import irtoy.onnx
from irtoy import nn, pytree
from test_onnx_export import assert_exports_exactly

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
RNG = np.random.default_rng(0)


def images(n):
    return RNG.uniform(0, 1, (n, 28, 28)).astype(np.float32)


def labels(n, classes):
    return RNG.integers(0, classes, n)


# A batch like the example's data, for each example that trains an nn.Model.
BATCHES = {
    "spiral": lambda module: nn.datasets.spiral(n_per_class=10, classes=3, seed=0),
    "data_parallel": lambda module: nn.datasets.spiral(n_per_class=10, classes=3, seed=0),
    "iris": lambda module: (RNG.normal(size=(20, 4)).astype(np.float32), labels(20, 3)),
    "rnn": lambda module: module.marked_sums(25, seed=0),
    "autoencoder": lambda module: (lambda x: (x, x))(images(16).reshape(16, 784)),
    "fashion_mlp": lambda module: (images(16), labels(16, 10)),
    "conv_residual": lambda module: (images(4), labels(4, 10)),
}
# The examples that are a function: how to trace their value and gradient.
FUNCTIONS = {
    "mlp": lambda module: irtoy.trace(module.loss, *module.example_args).value_and_grad(wrt=0),
    "scalar_function": lambda module: irtoy.trace(module.f, 0.3, -1.2, 2.5).value_and_grad(wrt=(0, 1, 2)),
}


def load_example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def example_models(module, backend):
    if hasattr(module, "make_models"):
        return module.make_models(backend)
    return {module.__name__: module.make_model(backend)}


def test_every_example_is_checked_here():
    assert {path.stem for path in EXAMPLES.glob("*.py")} == set(BATCHES) | set(FUNCTIONS)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", sorted(BATCHES))
def test_an_example_training_step_runs_in_onnxruntime_as_on_the_interpreter(name, tmp_path):
    module = load_example(name)
    x, y = BATCHES[name](module)
    on_interpreter, on_onnxruntime = example_models(module, "numpy"), example_models(module, "onnxruntime")
    for title, model in on_interpreter.items():
        ort_model = on_onnxruntime[title]
        path = tmp_path / "step.onnx"
        irtoy.onnx.export(model.compiled_step(x, y), path)
        onnx.checker.check_model(onnx.load(path), full_check=True)
        assert ort_model.compiled_step(x, y).backend == "onnxruntime"

        losses = [m.fit(x, y, epochs=1, batch_size=len(x), shuffle=False, verbose=0)["loss"][0]
                  for m in (model, ort_model)]
        np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5, err_msg=title)
        for what in ("params", "state", "opt_state"):
            want, _ = pytree.flatten(getattr(model, what))
            got, _ = pytree.flatten(getattr(ort_model, what))
            assert len(got) == len(want)
            for g, w in zip(got, want):
                assert g.dtype == w.dtype and g.shape == w.shape
                atol = 0.02 * model.optimizer.lr if what == "params" else 1e-6
                np.testing.assert_allclose(g, w, rtol=1e-4, atol=atol, err_msg=f"{title}: {what}")


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_an_example_function_exports_its_value_and_gradient(name):
    module = load_example(name)
    traced = FUNCTIONS[name](module)
    args = module.example_args if name == "mlp" else (0.3, -1.2, 2.5)
    assert_exports_exactly(traced, *args)
