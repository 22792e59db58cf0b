"""The vectorizable float32 exp and tanh of the numba backend, inside real kernels (so under
the kernels' fastmath flags), against float64 NumPy rounded to float32: the bound the
module documents (1 ulp), NumPy's special values, and no flush of denormal results."""
import os
import subprocess
import sys

import numpy as np
import pytest

import irtoy

REFERENCE = {"exp": np.exp, "tanh": np.tanh}


def ulps(a, b):
    """Distance in units in the last place between float32 arrays (finite entries)."""
    def ordered(x):
        bits = x.view(np.int32).astype(np.int64)
        return np.where(bits < 0, -(bits & 0x7FFFFFFF), bits)
    return np.abs(ordered(a) - ordered(b))


@pytest.fixture(scope="module")
def kernels(pytestconfig, tmp_path_factory):
    """{name: function computing it with the numba backend on any float32 vector}."""
    cache = getattr(pytestconfig, "cache", None)
    folder = cache.mkdir("irtoy-numba-kernels") if cache else tmp_path_factory.mktemp("kernels")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IRTOY_CACHE_DIR", str(folder))

        def compiled(name):
            def run(x):     # the kernel does not depend on the length: only the driver is new
                return irtoy.trace(REFERENCE[name], x).compile("numba", debug=False)(x)
            run.source = irtoy.trace(REFERENCE[name], np.zeros(4, np.float32)).compile("numba", debug=False).source
            return run
        yield {name: compiled(name) for name in REFERENCE}


def sample(lo, hi, count=400_000, seed=0):
    """float32 values spread over [lo, hi] by their bit patterns (every exponent is hit)."""
    rng = np.random.default_rng(seed)
    top = int(np.float32(max(abs(lo), abs(hi))).view(np.int32))
    bits = rng.integers(0, top, count).astype(np.int32)
    values = bits.view(np.float32) * rng.choice(np.array([-1, 1], np.float32), count)
    return values[(values >= lo) & (values <= hi)]


@pytest.mark.parametrize("name, lo, hi", [("exp", -120.0, 120.0), ("tanh", -20.0, 20.0)])
def test_within_one_ulp_of_the_correctly_rounded_value(kernels, name, lo, hi):
    x = np.concatenate([sample(lo, hi), np.linspace(lo, hi, 20001, dtype=np.float32)])
    got = kernels[name](x)
    with np.errstate(over="ignore", under="ignore"):
        want = REFERENCE[name](x.astype(np.float64)).astype(np.float32)
    finite = np.isfinite(want)
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    assert ulps(got[finite], want[finite]).max() <= 1
    assert kernels[name].source.count(f"{name}_f32(") == 1      # the vectorizable version ran


def test_special_values_are_numpys(kernels):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 89.0, 88.73, -104.0, -150.0, 1e30, -1e30], np.float32)
    for name, fn in REFERENCE.items():
        with np.errstate(over="ignore", under="ignore"):
            np.testing.assert_array_equal(kernels[name](x), fn(x))
    assert np.signbit(kernels["tanh"](np.array([-0.0], np.float32)))[0]


def test_denormal_results_are_kept(kernels):
    x = np.array([-88.0, -95.0, -100.0, -103.0], np.float32)
    got = kernels["exp"](x)
    assert np.all((got > 0) & (got < np.finfo(np.float32).tiny))
    with np.errstate(under="ignore"):
        want = np.exp(x.astype(np.float64)).astype(np.float32)
    assert ulps(got, want).max() <= 1


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_the_integer_power_written_for_a_missing_compiler_runtime():
    """Where libgcc_s is missing, math.py gives LLVM's powi calls this function instead."""
    from irtoy.backends.numba.math import integer_power_callback
    for dtype, name in [(np.float32, "float32"), (np.float64, "float64")]:
        powi = integer_power_callback(name)
        for x, n in [(1.5, 4), (-2.0, 3), (0.5, -7), (3.0, 0), (0.0, -1), (-0.0, 3), (np.inf, -2), (2.0, -2**31)]:
            got = powi.ctypes(dtype(x), n)
            np.testing.assert_allclose(got, dtype(x) ** np.float64(n), rtol=1e-6)


def test_kernels_use_the_written_integer_power_where_the_runtime_is_missing(tmp_path):
    """In a process where libgcc_s cannot be loaded, LLVM's powi calls reach the callbacks."""
    code = """
import llvmlite.binding as llvm
import numpy as np
found = llvm.address_of_symbol
llvm.address_of_symbol = lambda name: None if name in ("__powisf2", "__powidf2") else found(name)
def no_library(path):
    raise RuntimeError("not here")
llvm.load_library_permanently = no_library
import irtoy
from irtoy.backends.numba import math
assert len(math._CALLBACKS) == 2
x, n = np.array([1.5, -2.0, 0.5], np.float32), np.array([3, -2, 7], np.int8)
got = irtoy.trace(lambda x, n: x ** n, x, n).compile("numba")(x, n)
np.testing.assert_allclose(got, x ** n, rtol=1e-6)
print("ok")
"""
    env = dict(os.environ, IRTOY_CACHE_DIR=str(tmp_path))        # compiled here, not loaded from a cache
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
