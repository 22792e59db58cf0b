"""Data-parallel training on the jax backend: each batch split over two (simulated) devices
gives the one-device losses and weights, the compiled step holds XLA's all-reduce, and fit,
evaluate, predict, save and load work as on one device; two processes joined by
jax.distributed train as one process does.

tests/conftest.py asks XLA for two CPU devices (XLA_FLAGS) before JAX starts.
"""
import os
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

import irtoy
from irtoy import nn


def spiral_model(**options):
    net = nn.Sequential([nn.Dense(2, 32), nn.ReLU(), nn.BatchNorm(32), nn.Dense(32, 3)])
    return nn.Model(net, loss=nn.SoftmaxCrossEntropy(), optimizer=nn.Adam(lr=1e-2), backend="jax", seed=0,
                    **options)


@pytest.fixture(scope="module")
def data():
    return nn.datasets.spiral(n_per_class=35, classes=3, noise=0.2, seed=0)     # 105 samples


@pytest.fixture(scope="module")
def trained(data):
    """(one-device model, two-device model, their histories) after the same training."""
    assert len(jax.devices()) >= 2, "XLA_FLAGS=--xla_force_host_platform_device_count=2 was not set before JAX"
    x, y = data
    one, two = spiral_model(), spiral_model(devices=2)
    # batches of 20: five split over the devices, and a last one of 5 that does not divide
    h1 = one.fit(x, y, epochs=3, batch_size=20, shuffle=False, verbose=0)
    h2 = two.fit(x, y, epochs=3, batch_size=20, shuffle=False, verbose=0)
    return one, two, h1, h2


def test_two_devices_give_the_one_device_losses_and_weights(trained):
    one, two, h1, h2 = trained
    np.testing.assert_allclose(h2["loss"], h1["loss"], rtol=1e-5)
    for a, b in zip(irtoy.pytree.flatten(two.params)[0], irtoy.pytree.flatten(one.params)[0]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(irtoy.pytree.flatten(two.opt_state)[0], irtoy.pytree.flatten(one.opt_state)[0]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_compiled_step_sums_gradients_with_an_all_reduce(trained, data):
    one, two, _, _ = trained
    x, y = data
    sharded = two.compiled_step(x[:20], y[:20]).executable
    assert sharded.mesh is not None and sharded.mesh.devices.size == 2
    assert "all-reduce" in sharded.optimized_hlo()
    assert "all-reduce" not in one.compiled_step(x[:20], y[:20]).executable.optimized_hlo()


def test_evaluate_predict_save_and_load_work_on_two_devices(trained, data, tmp_path):
    one, two, _, _ = trained
    x, y = data
    for a, b in zip(two.evaluate(x, y, batch_size=50).values(), one.evaluate(x, y, batch_size=50).values()):
        np.testing.assert_allclose(a, b, rtol=1e-5)
    np.testing.assert_allclose(two.predict(x, batch_size=50), one.predict(x, batch_size=50), rtol=1e-5, atol=1e-6)
    two.save(tmp_path / "two.npz")
    loaded = nn.Model.load(tmp_path / "two.npz", spiral_model().net, backend="jax", devices=jax.devices()[:2])
    np.testing.assert_allclose(loaded.predict(x, batch_size=50), two.predict(x, batch_size=50), rtol=1e-6)


def test_devices_need_the_jax_backend():
    with pytest.raises(irtoy.IrtoyError, match=r"devices=2 needs backend='jax'"):
        nn.Model(nn.Dense(2, 3), loss=nn.MSE(), backend="numba", devices=2)


def test_more_devices_than_jax_sees_says_how_to_simulate_them(data):
    x, y = data
    model = spiral_model(devices=len(jax.devices()) + 1)
    with pytest.raises(irtoy.IrtoyError, match=r"JAX sees 2 device\(s\).*xla_force_host_platform_device_count=3"):
        model.fit(x, y, epochs=1, batch_size=21, verbose=0)


@pytest.mark.parametrize("devices", ["abc", [0, 1], 2.5])
def test_devices_that_are_not_a_count_or_jax_devices_are_refused_listing_them(devices):
    traced = irtoy.trace(lambda x: x * 2, np.ones(4, np.float32))
    with pytest.raises(irtoy.IrtoyError, match=r"give a number of devices, or a list of JAX devices.*CpuDevice"):
        traced.compile("jax", devices=devices)


# -- two hosts -------------------------------------------------------------------------------

def host_data():
    """The data every host trains on: 63 samples, so the last batch of 20 does not divide."""
    return nn.datasets.spiral(n_per_class=21, classes=3, noise=0.2, seed=1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_hosts_train_as_one_process_does(tmp_path):
    here = os.path.dirname(os.path.abspath(__file__))
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}       # one CPU device per host
    env["PYTHONPATH"] = here
    port = free_port()
    hosts = [subprocess.Popen([sys.executable, os.path.join(here, "data_parallel_host.py"), str(i), str(port),
                               str(tmp_path / f"host{i}.npz")], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for i in (0, 1)]
    for host in hosts:
        output = host.communicate(timeout=300)[0]
        assert host.returncode == 0, output
    one = spiral_model()
    one.fit(*host_data(), epochs=2, batch_size=20, verbose=0)
    for i in (0, 1):
        host = nn.Model.load(tmp_path / f"host{i}.npz", spiral_model().net, backend="jax")
        for a, b in zip(irtoy.pytree.flatten(host.params)[0], irtoy.pytree.flatten(one.params)[0]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
