"""The kernel cache runs and unpickles nothing it did not verify: planted pickles and .pyc
files, cache folders others may write to, and locks held by others or by nobody.

Planted files would create a marker file when run; every test asserts no marker appears,
the right warning is given and the results are right. Locks are held by real subprocesses;
lock timeouts are short, so nothing hangs.
"""
import glob
import importlib.util
import marshal
import os
import pickle
import subprocess
import sys
import time

import numba
import numpy as np
import pytest

import irtoy
from irtoy.backends.numba import cache
from test_cache import kernel_files, machine_code, run_here


class Planted:
    """Unpickling this creates `marker`, as a malicious pickle would run anything."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


def test_a_planted_pickle_in_numbas_files_is_deleted_not_loaded(tmp_path):
    folder, marker = tmp_path / "cache", tmp_path / "marker"
    run_here(folder)
    assert machine_code(folder)
    for f in machine_code(folder):
        with open(f, "wb") as handle:
            handle.write(pickle.dumps(Planted(marker)))
    with pytest.warns(RuntimeWarning, match="deletes machine code it did not write"):
        assert run_here(folder)["loaded_from"] == "compiled"
    assert not marker.exists()
    assert run_here(folder)["loaded_from"] == "disk"        # what irtoy saw Numba write loads


def test_machine_code_without_a_manifest_is_not_loaded(tmp_path):
    folder, marker = tmp_path / "cache", tmp_path / "marker"
    run_here(folder)
    for manifest in glob.glob(os.path.join(folder, "numba", "*.manifest")):
        os.unlink(manifest)
    for f in machine_code(folder):
        with open(f, "wb") as handle:
            handle.write(pickle.dumps(Planted(marker)))
    with pytest.warns(RuntimeWarning, match="deletes machine code"):
        assert run_here(folder)["loaded_from"] == "compiled"
    assert not marker.exists()


def test_machine_code_numba_keeps_elsewhere_is_checked_too(tmp_path, monkeypatch):
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "numba-cache"))     # NUMBA_CACHE_DIR
    folder, marker = tmp_path / "cache", tmp_path / "marker"
    run_here(folder)
    assert not machine_code(folder)
    elsewhere = glob.glob(os.path.join(tmp_path, "numba-cache", "**", "irtoy_*.nb[ic]"), recursive=True)
    assert elsewhere
    for f in elsewhere:
        with open(f, "wb") as handle:
            handle.write(pickle.dumps(Planted(marker)))
    with pytest.warns(RuntimeWarning, match="deletes machine code it did not write"):
        assert run_here(folder)["loaded_from"] == "compiled"
    assert not marker.exists()
    assert run_here(folder)["loaded_from"] == "disk"


def test_a_planted_pyc_is_never_run(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    folder, marker = tmp_path / "cache", tmp_path / "marker"
    run_here(folder)
    for source in kernel_files(folder):
        planted = (f"open({str(marker)!r}, 'w').close()\n"
                   f"exec(compile(open(__file__).read(), __file__, 'exec'))\n")    # results stay right
        code = compile(planted, source, "exec")
        stat = os.stat(source)
        header = importlib.util.MAGIC_NUMBER + (0).to_bytes(4, "little") + \
            int(stat.st_mtime).to_bytes(4, "little") + (stat.st_size & 0xFFFFFFFF).to_bytes(4, "little")
        with open(importlib.util.cache_from_source(source), "wb") as f:
            f.write(header + marshal.dumps(code))
    assert run_here(folder)["loaded_from"] == "disk"        # Numba's verified machine code still loads
    assert not marker.exists()


def test_the_cache_folder_is_created_private(tmp_path):
    folder = tmp_path / "cache"
    run_here(folder)
    for sub in ("numba", "numba/__pycache__", "numba/locks"):
        assert os.stat(folder / sub).st_mode & 0o777 == 0o700


def test_a_cache_folder_others_may_write_to_is_refused(tmp_path):
    folder, marker = tmp_path / "cache", tmp_path / "marker"
    run_here(folder)
    for f in machine_code(folder):
        with open(f, "wb") as handle:
            handle.write(pickle.dumps(Planted(marker)))
    os.chmod(folder / "numba", 0o770)
    with pytest.warns(RuntimeWarning, match=r"numba is writable by group or others \(mode 770\)"):
        assert run_here(folder)["loaded_from"] == "compiled"
    assert not marker.exists()


def test_an_entry_others_may_write_to_is_refused(tmp_path):
    folder = tmp_path / "cache"
    run_here(folder)
    victim = machine_code(folder)[0]
    os.chmod(victim, 0o666)
    with pytest.warns(RuntimeWarning, match=f"{os.path.basename(victim)} is writable by group or others"):
        assert run_here(folder)["loaded_from"] == "compiled"


def test_a_cache_owned_by_another_user_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    run_here(folder)
    me = os.geteuid()
    monkeypatch.setattr(os, "geteuid", lambda: me + 1)      # as if another user owned the files
    with pytest.warns(RuntimeWarning, match=f"is owned by another user \\(uid {me}\\)"):
        assert run_here(folder)["loaded_from"] == "compiled"


HOLD_LOCKS = """
import fcntl, os, sys, time
handles = []
for path in sys.argv[2:]:
    handle = open(path, "a+b")
    fcntl.flock(handle, fcntl.LOCK_EX)
    handle.truncate(0)
    handle.write(f"{os.getpid()}\\n".encode())
    handle.flush()
    handles.append(handle)
if sys.argv[1] == "dead-holder":    # a forked child keeps the locks; the recorded holder exits
    child = os.fork()
    if child:
        print(child, flush=True)
        os._exit(0)
    sys.stdout.close()
else:
    print(os.getpid(), flush=True)
time.sleep(60)
"""


def hold_locks(folder, how):
    """A process holding every kernel lock in `folder`; returns (process, pid of the holder)."""
    locks = sorted(glob.glob(os.path.join(folder, "numba", "locks", "*.lock")))
    assert locks
    process = subprocess.Popen([sys.executable, "-c", HOLD_LOCKS, how, *locks], stdout=subprocess.PIPE, text=True)
    return process, int(process.stdout.readline())


def test_a_lock_whose_holder_is_gone_is_taken_over(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    run_here(folder)
    process, child = hold_locks(folder, "dead-holder")
    try:
        process.wait(timeout=30)
        monkeypatch.setenv("IRTOY_CACHE_LOCK_TIMEOUT", "20")
        started = time.monotonic()
        with pytest.warns(RuntimeWarning, match=f"takes over .*its holder, process {process.pid}, no longer exists"):
            assert run_here(folder)["loaded_from"] == "disk"
        assert time.monotonic() - started < 20
    finally:
        os.kill(child, 9)


def test_a_lock_held_too_long_is_given_up_and_the_kernel_compiled_without_the_cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    run_here(folder)
    process, holder = hold_locks(folder, "live-holder")
    try:
        monkeypatch.setenv("IRTOY_CACHE_LOCK_TIMEOUT", "0.5")
        started = time.monotonic()
        with pytest.warns(RuntimeWarning) as caught:
            assert run_here(folder)["loaded_from"] == "compiled"
        assert time.monotonic() - started < 60
        messages = [str(w.message) for w in caught]
        assert any(f"waiting for the kernel cache lock" in m and f"held by process {holder}" in m for m in messages)
        assert any(f"still held by process {holder} after 0.5 s" in m and "without the disk cache" in m
                   for m in messages)
    finally:
        process.kill()
        process.wait()


UNUSABLE_CACHE = """
import glob, os, sys
import numpy as np
import irtoy
first = irtoy.trace(lambda x: np.exp(x) * 3, np.ones(5)).compile("numba")
second = irtoy.trace(lambda x: np.sqrt(x) - 1, np.ones(5)).compile("numba")
assert np.allclose(second(np.full(5, 4.0)), 1.0)
print(len(glob.glob(os.path.join(sys.argv[1], "irtoy-numba-*"))))
"""


def test_compiling_without_the_cache_leaves_no_temporary_folders(tmp_path):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder should be")
    env = dict(os.environ, IRTOY_CACHE_DIR=str(blocked), TMPDIR=str(temporary))
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", UNUSABLE_CACHE, str(temporary)], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1"]          # one folder for the process, not one per kernel
    assert os.listdir(temporary) == []          # and removed at exit
