"""The examples run as a user runs them (`python examples/NAME.py`), with small settings, on
both backends, and print the accuracy or error they promise."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from irtoy.nn import datasets

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
BACKENDS = ["numpy", "numba"]
needs_fashion = pytest.mark.skipif(
    not (datasets.FASHION_MNIST_DIR / "train-labels-idx1-ubyte.gz").exists()
    and not (datasets.FASHION_MNIST_DIR / "train-labels-idx1-ubyte").exists(),
    reason="Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")


def run_example(name, *args, cwd):
    """Run examples/NAME.py in `cwd` and return its standard output; it must exit cleanly."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{name}.py failed:\n{done.stdout}\n{done.stderr[-3000:]}"
    return done.stdout


def number_after(text, label):
    found = re.search(re.escape(label) + r"\s*([0-9.]+)", text)
    assert found, f"no {label!r} in the output:\n{text}"
    return float(found.group(1))


@pytest.mark.parametrize("backend", BACKENDS)
def test_spiral_example_reaches_95_percent_and_draws(tmp_path, backend):
    out = run_example("spiral", "--backend", backend, "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert number_after(out, "final training accuracy:") >= 0.95
    assert len(re.findall(r"^epoch \d+/60: ", out, re.M)) == 6      # 60 short epochs: a handful of lines
    drawn = os.listdir(tmp_path / "out")
    assert "spiral_boundary.png" in drawn or "matplotlib is not installed" in out


@pytest.mark.parametrize("backend", BACKENDS)
def test_iris_example_classifies_held_out_flowers_with_both_models(tmp_path, backend):
    out = run_example("iris", "--backend", backend, cwd=tmp_path)
    lines = out.strip().splitlines()
    assert lines[0].startswith("MLP") and lines[1].startswith("linear SVM")
    for line in lines:
        assert number_after(line, "test accuracy") >= 0.9


@pytest.mark.parametrize("backend", BACKENDS)
def test_rnn_example_beats_the_linear_baseline(tmp_path, backend):
    out = run_example("rnn", "--backend", backend, cwd=tmp_path)
    linear = number_after(out, "flattened sequence: test accuracy")
    rnn = number_after(out.split("SimpleRNN")[1], "test accuracy")
    assert rnn >= 0.85 and rnn >= linear + 0.15


@needs_fashion
@pytest.mark.parametrize("backend", BACKENDS)
def test_autoencoder_example_rebuilds_images_better_than_the_average_image(tmp_path, backend):
    out = run_example("autoencoder", "--backend", backend, "--limit", "2000", "--epochs", "3",
                      "--out", str(tmp_path), cwd=tmp_path)
    error = number_after(out, "test reconstruction error per pixel:")
    baseline = number_after(out, "(the average image:")
    assert error < 0.6 * baseline


@needs_fashion
@pytest.mark.parametrize("backend", BACKENDS)
def test_fashion_example_prints_accuracy_every_epoch(tmp_path, backend):
    out = run_example("fashion_mlp", "--backend", backend, "--epochs", "2", "--limit", "5000",
                      "--out", str(tmp_path), cwd=tmp_path)
    epochs = re.findall(r"epoch (\d): .*test accuracy ([0-9.]+)", out)
    assert [e for e, _ in epochs] == ["1", "2"]
    assert number_after(out, "final test accuracy:") >= 0.75
    assert (tmp_path / "fashion_mlp.npz").exists()


def test_data_parallel_example_trains_over_two_devices(tmp_path):
    env_flags = os.environ.get("XLA_FLAGS", "")
    assert "xla_force_host_platform_device_count=2" in env_flags     # tests/conftest.py sets it
    out = run_example("data_parallel", "--epochs", "30", cwd=tmp_path)
    assert "2 device(s) on 1 host(s)" in out
    assert number_after(out, "accuracy") >= 0.9
