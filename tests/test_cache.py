"""The numba backend's disk cache: a second process loads kernels instead of compiling them,
damaged or foreign entries are compiled again, and processes compiling at once coexist.

Other processes are real subprocesses with IRTOY_CACHE_DIR pointing at a fresh folder; the
damage tests reload in this process, as a new process would (forgetting_loaded). Whether a
kernel came from disk is what the executable reports (`loaded_from`): no timings are asserted.
"""
import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import irtoy
from irtoy.backends.numba import cache

PROGRAM = """
import json, sys
import numpy as np
import irtoy

def fn(x, w):
    h = np.tanh(x @ w + 0.5)
    return h.sum(axis=1), (h * h).max()

def outcome():
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    w = np.linspace(0, 2, 20, dtype=np.float32).reshape(4, 5)
    compiled = irtoy.trace(fn, x, w).compile("numba")
    rows, peak = compiled(x, w)
    return {"loaded_from": compiled.executable.loaded_from, "rows": rows.tolist(), "peak": float(peak)}

if __name__ == "__main__":
    print(json.dumps(outcome()))
"""


def expected():
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    w = np.linspace(0, 2, 20, dtype=np.float32).reshape(4, 5)
    h = np.tanh(x @ w + np.float32(0.5))
    return h.sum(axis=1), (h * h).max()


def start(folder):
    env = dict(os.environ, IRTOY_CACHE_DIR=str(folder))
    return subprocess.Popen([sys.executable, "-c", PROGRAM], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(process):
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    rows, peak = expected()
    np.testing.assert_allclose(result["rows"], rows, rtol=1e-5)
    np.testing.assert_allclose(result["peak"], peak, rtol=1e-5)
    return result


def run(folder):
    return finish(start(folder))


def kernel_files(folder):
    return sorted(glob.glob(os.path.join(folder, "numba", "irtoy_*.py")))


def machine_code(folder):
    return sorted(glob.glob(os.path.join(folder, "numba", "__pycache__", "irtoy_*.nb[ic]")))


def test_a_second_process_loads_the_kernels_from_disk(tmp_path):
    assert run(tmp_path)["loaded_from"] == "compiled"
    assert kernel_files(tmp_path) and machine_code(tmp_path)
    stamps = {f: os.stat(f).st_mtime_ns for f in kernel_files(tmp_path)}
    assert run(tmp_path)["loaded_from"] == "disk"
    assert {f: os.stat(f).st_mtime_ns for f in kernel_files(tmp_path)} == stamps   # never rewritten


def run_here(folder):
    """PROGRAM's compile and call in this process, loading kernels from `folder` as a new
    process would (the kernels this process already loaded are not reused)."""
    namespace = {"__name__": "cache_test"}
    exec(PROGRAM, namespace)
    with cache.using_cache_dir(folder), cache.forgetting_loaded():
        result = namespace["outcome"]()
    rows, peak = expected()
    np.testing.assert_allclose(result["rows"], rows, rtol=1e-5)
    np.testing.assert_allclose(result["peak"], peak, rtol=1e-5)
    return result


def test_corrupt_kernel_sources_are_written_again(tmp_path):
    run_here(tmp_path)
    sources = kernel_files(tmp_path)
    good = {f: open(f).read() for f in sources}
    with open(sources[0], "w") as f:
        f.write("this is not python (")
    with open(sources[-1], "w") as f:
        f.write(good[sources[-1]][: len(good[sources[-1]]) // 2])      # truncated
    assert run_here(tmp_path)["loaded_from"] == "compiled"
    assert {f: open(f).read() for f in sources} == good


def test_corrupt_machine_code_is_compiled_again(tmp_path):
    run_here(tmp_path)
    for f in machine_code(tmp_path):
        with open(f, "r+b") as handle:
            data = handle.read()
            handle.seek(0)
            handle.write(bytes(b ^ 0x5A for b in data[: len(data) // 2]))
    assert run_here(tmp_path)["loaded_from"] == "compiled"
    assert run_here(tmp_path)["loaded_from"] == "disk"


def test_a_foreign_file_under_a_kernels_name_is_replaced(tmp_path):
    run_here(tmp_path)
    victim = kernel_files(tmp_path)[0]
    good = open(victim).read()
    with open(victim, "w") as f:
        f.write("def kernel(*args):\n    raise SystemExit('not irtoy code')\n")
    assert run_here(tmp_path)["loaded_from"] == "compiled"
    assert open(victim).read() == good


def test_processes_compiling_the_same_graph_at_once_both_succeed(tmp_path):
    processes = [start(tmp_path) for _ in range(3)]
    results = [finish(p) for p in processes]
    assert "compiled" in {r["loaded_from"] for r in results}
    assert run(tmp_path)["loaded_from"] == "disk"
    assert not glob.glob(os.path.join(tmp_path, "numba", ".tmp-*"))        # no half-written files


def test_in_process_compiles_reuse_loaded_kernels(tmp_path, monkeypatch):
    monkeypatch.setenv("IRTOY_CACHE_DIR", str(tmp_path))
    traced = irtoy.trace(lambda x: np.exp(x) * 3, np.ones(5, np.float32))
    assert traced.compile("numba").executable.loaded_from == "compiled"
    assert traced.compile("numba").executable.loaded_from == "memory"
    with cache.forgetting_loaded():
        assert traced.compile("numba").executable.loaded_from == "disk"


def test_the_cache_folder_is_per_user_unless_overridden(monkeypatch, tmp_path):
    monkeypatch.setenv("IRTOY_CACHE_DIR", str(tmp_path / "mine"))
    assert cache.cache_dir() == str(tmp_path / "mine" / "numba")
    monkeypatch.delenv("IRTOY_CACHE_DIR")
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert cache.cache_dir() == str(tmp_path / "xdg" / "irtoy" / "numba")
    with cache.using_cache_dir(tmp_path / "elsewhere"):
        assert cache.cache_dir() == str(tmp_path / "elsewhere" / "numba")


def test_the_key_covers_the_code_and_the_versions(monkeypatch):
    key = cache.cache_key("def kernel(): pass\n")
    assert cache.cache_key("def kernel(): pass\n") == key
    assert cache.cache_key("def kernel(): return\n") != key
    monkeypatch.setattr(cache, "_VERSIONS", "irtoy 0.0.0; numba 0.0")
    assert cache.cache_key("def kernel(): pass\n") != key


def test_an_unwritable_cache_folder_warns_and_still_compiles(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("IRTOY_CACHE_DIR", str(blocked))
    traced = irtoy.trace(lambda x: np.sqrt(x) + 2, np.ones(3))
    with pytest.warns(RuntimeWarning, match="IRTOY_CACHE_DIR"):
        compiled = traced.compile("numba")
    np.testing.assert_allclose(compiled(np.full(3, 4.0)), np.full(3, 4.0))
