"""Test settings: the graph checker runs after every pass, and hypothesis stays quick."""
import os

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("IRTOY_DEBUG", "1")
# Two CPU devices for JAX (read when JAX starts), so data-parallel training is tested on a
# machine with one CPU, as XLA's own tests simulate devices.
if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip()

settings.register_profile("irtoy", max_examples=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("irtoy")


def pytest_report_header(config):
    """Say whether Numba bounds-checks every kernel (NUMBA_BOUNDSCHECK=1: `make test`'s second run)."""
    from numba import config as numba_config
    return f"numba bounds checks on every kernel: {'yes' if numba_config.BOUNDSCHECK else 'no'}"


@pytest.fixture(scope="module")
def numba_kernel_cache(pytestconfig):
    """Kernels compiled by a test module live in pytest's cache folder, kept between runs,
    so a second run of the suite loads them instead of compiling again."""
    folder = pytestconfig.cache.mkdir("irtoy-numba-kernels")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IRTOY_CACHE_DIR", str(folder))
        yield folder


def pytest_terminal_summary(terminalreporter):
    """The ONNX node tests' counts, in every run that ran some (node_test_counts.py)."""
    import node_test_counts
    for line in node_test_counts.summary_lines():
        terminalreporter.write_line(line)


def pytest_sessionfinish(session):
    """An xdist worker sends its node test counts to the main process."""
    if hasattr(session.config, "workeroutput"):
        import node_test_counts
        session.config.workeroutput["onnx_node_tests"] = node_test_counts.as_dict()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """The main process adds up the counts of each xdist worker as it finishes."""
    import node_test_counts
    node_test_counts.add(getattr(node, "workeroutput", {}).get("onnx_node_tests", {}))
