"""The disk cache of generated kernels, so a second process compiling a graph is fast.

Numba caches compiled functions next to their source file, keyed by the file's path and
modification time; it cannot cache source that was only exec'd. So each generated kernel is
written to `<cache dir>/numba/irtoy_<key>.py`, compiled from there, and Numba keeps its
machine code beside it in `__pycache__`. The key is a hash of the kernel's code (which
spells out its ops, index arithmetic and argument types, so it stands for the part of the
graph it computes), of the versions of irtoy, Numba, NumPy and Python, and of irtoy's own
kernel helpers (math.py), so an upgrade never loads stale machine code. Kernels are
shared: any graph that needs the same code loads the same machine code.

Nothing in the cache is executed or unpickled unless irtoy verified it first:

    * The cache directory is per user (IRTOY_CACHE_DIR overrides it) and created private
      (0700). A folder or file in it owned by another user or writable by others is refused
      with a RuntimeWarning, and that kernel is compiled without the disk cache (as ssh
      and pip refuse such files).
    * A kernel's module is compiled from the source text irtoy checked, never imported, so
      no `.pyc` planted in `__pycache__` is ever run.
    * Numba's `.nbi`/`.nbc` files are pickles: after each compile irtoy records their
      sha256 in `irtoy_<key>.manifest`, and before Numba loads them checks them against it.
      Files that do not match are deleted (with a warning) and the kernel compiled again.
    * Files are written whole or not at all (irtoy.files.atomic_write), and only when absent
      or different, so the file Numba keyed its cache on is never touched again.
    * Two processes compiling the same graph take turns on a lock file holding the holder's
      pid. A waiter says whom it waits for after a few seconds, takes over a lock whose
      holder is gone, and gives up after IRTOY_CACHE_LOCK_TIMEOUT seconds (60 by default),
      compiling without the disk cache.
"""
import atexit
import contextlib
import glob
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
import types
import warnings

import numba
import numba.core.caching
import numpy as np

from irtoy.version import __version__ as irtoy_version
from irtoy.files import atomic_write, process_exists

try:
    import fcntl
except ImportError:         # Windows: no advisory locks; atomic writes still keep files whole
    fcntl = None

_LOADED = {}                # key -> imported module, for this process
_LOCK = threading.Lock()
_override = threading.local()


def cache_dir():
    """Where generated modules live: IRTOY_CACHE_DIR, else the platform's per-user cache."""
    chosen = getattr(_override, "path", None) or os.environ.get("IRTOY_CACHE_DIR")
    if chosen:
        return os.path.join(os.path.abspath(chosen), "numba")
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~\\AppData\\Local")
        return os.path.join(base, "irtoy", "Cache", "numba")
    if sys.platform == "darwin":
        return os.path.expanduser("~/Library/Caches/irtoy/numba")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "irtoy", "numba")


@contextlib.contextmanager
def using_cache_dir(path):
    """Compile into `path` instead (for this thread), e.g. an empty folder to time a cold compile."""
    previous = getattr(_override, "path", None)
    _override.path = os.fspath(path)
    try:
        yield
    finally:
        _override.path = previous


@contextlib.contextmanager
def forgetting_loaded():
    """Load kernels again from disk (for this thread), as a new process would."""
    previous = getattr(_override, "fresh", False)
    _override.fresh = True
    try:
        yield
    finally:
        _override.fresh = previous


def _helpers_fingerprint():
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "math.py"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


_VERSIONS = None


def versions():
    global _VERSIONS
    if _VERSIONS is None:
        _VERSIONS = (f"irtoy {irtoy_version}; numba {numba.__version__}; numpy {np.__version__}; "
                     f"python {platform.python_version()}; helpers {_helpers_fingerprint()}")
    return _VERSIONS


def cache_key(source):
    return hashlib.sha256((versions() + "\n" + source).encode("utf-8")).hexdigest()[:32]


class _Unusable(Exception):
    """The disk cache cannot be used for this kernel; the message says where and why."""


def _check_private(path):
    """Refuse `path` unless this user owns it and nobody else may write to it."""
    if not hasattr(os, "geteuid"):         # Windows: per-user folders, no POSIX modes to check
        return
    info = os.stat(path)
    if info.st_uid != os.geteuid():
        raise _Unusable(f"{path} is owned by another user (uid {info.st_uid}); remove it or set "
                        f"IRTOY_CACHE_DIR to a folder of your own")
    if info.st_mode & 0o022:
        raise _Unusable(f"{path} is writable by group or others (mode {info.st_mode & 0o777:o}); "
                        f"`chmod go-w` it or remove it")


def _private_folder(path):
    """Create `path` (mode 0700) if absent; refuse it if it is not private."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    _check_private(path)
    return path


def _lock_timeout():
    return float(os.environ.get("IRTOY_CACHE_LOCK_TIMEOUT", 60))


def _who(holder):
    return f"process {holder}" if holder is not None else "another process"


def _holder(handle):
    handle.seek(0)
    text = handle.read().decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


@contextlib.contextmanager
def _file_lock(path, timeout=None):
    """Hold the lock file `path` (its content: the holder's pid) while the block runs.

    Waits at most `timeout` seconds (IRTOY_CACHE_LOCK_TIMEOUT, else 60), then raises
    _Unusable. A lock whose recorded holder no longer exists (its descriptor lives on in a
    forked child, say) is taken over: its file is removed and a fresh one locked.
    """
    if fcntl is None:
        yield
        return
    timeout = _lock_timeout() if timeout is None else timeout
    started = time.monotonic()
    notice_at = min(5.0, timeout / 2)
    handle = None
    while handle is None:
        handle = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+b")
        try:
            _check_private(path)
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except _Unusable:
            handle.close()
            raise
        except BlockingIOError:
            holder = _holder(handle)
            if holder is not None and not process_exists(holder) and _same_file(handle, path):
                warnings.warn(f"irtoy takes over the kernel cache lock {path}: its holder, "
                              f"process {holder}, no longer exists", RuntimeWarning)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                handle.close()
                handle = None
                continue
            waited = time.monotonic() - started
            if waited >= timeout:
                handle.close()
                raise _Unusable(f"the lock {path} is still held by {_who(holder)} after "
                                f"{timeout:g} s (IRTOY_CACHE_LOCK_TIMEOUT)")
            if notice_at is not None and waited >= notice_at:
                warnings.warn(f"irtoy is waiting for the kernel cache lock {path}, held by "
                              f"{_who(holder)} (giving up after {timeout:g} s)", RuntimeWarning)
                notice_at = None
            handle.close()
            handle = None
            time.sleep(0.05)
            continue
        if not _same_file(handle, path):    # taken over and removed while we locked it
            handle.close()
            handle = None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n".encode("ascii"))
        handle.flush()
        yield
    finally:
        with contextlib.suppress(OSError):
            handle.truncate(0)
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _same_file(handle, path):
    try:
        return os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
    except FileNotFoundError:
        return False


def load(source):
    """The module of kernel `source`, compiled by Numba or loaded from the disk cache.

    Returns (module, how) with how one of "memory", "disk" or "compiled" (as Numba's own
    statistics of the kernel say).
    """
    folder = cache_dir()
    key = cache_key(source)
    memo = (folder, key)
    with _LOCK:
        if memo in _LOADED and not getattr(_override, "fresh", False):
            return _LOADED[memo], "memory"
        try:
            os.makedirs(os.path.dirname(folder), mode=0o700, exist_ok=True)
            _private_folder(folder)
            _private_folder(os.path.join(folder, "__pycache__"))
            locks = _private_folder(os.path.join(folder, "locks"))
            with _file_lock(os.path.join(locks, f"{key}.lock")):
                module, how = _load_file(os.path.join(folder, f"irtoy_{key}.py"), key, source)
        except _Unusable as e:
            warnings.warn(f"irtoy cannot trust or use its kernel cache: {e}; compiling this kernel "
                          f"without the disk cache.", RuntimeWarning)
            module, how = _load_without_cache(key, source)
        except OSError as e:
            warnings.warn(f"irtoy cannot use its kernel cache in {folder} ({e}); compiling without "
                          f"a disk cache. Set IRTOY_CACHE_DIR to a writable folder.", RuntimeWarning)
            module, how = _load_without_cache(key, source)
        _LOADED[memo] = module
        return module, how


def _load_file(path, key, source):
    current = None
    if os.path.exists(path):
        _check_private(path)
        with open(path, "rb") as f:
            current = f.read()
    if current != source.encode("utf-8"):
        if current is not None:
            _forget_machine_code(path)
        atomic_write(path, source)
        os.chmod(path, 0o600)
    _verify_machine_code(path)
    try:
        module = _compile_module(path, key, source)
    except Exception:
        if not _machine_code_files(path):
            raise
        # Numba's files for this kernel exist but did not load: drop them, compile afresh
        _forget_machine_code(path)
        module = _compile_module(path, key, source)
    stats = getattr(module.kernel, "stats", None)      # None: NUMBA_DISABLE_JIT=1, plain Python
    if stats is not None and not stats.cache_misses:
        return module, "disk"                           # Numba wrote nothing: the manifest holds
    _record_machine_code(path)
    return module, "compiled"


def _machine_code_folder(path):
    """Where Numba keeps the machine code of the module at `path`: `__pycache__` beside it,
    unless NUMBA_CACHE_DIR or an unwritable folder sends it elsewhere. Asked of Numba's own
    cache locators, in Numba's order, so irtoy checks the files Numba will load."""
    for locator in numba.core.caching.CacheImpl._locator_classes:
        found = locator.from_function(_any_function, path)  # of a function, they read its line
        if found is not None:
            return _private_folder(found.get_cache_path())
    raise _Unusable(f"Numba has no cache folder for {path}")


def _any_function():
    pass


def _machine_code_files(path):
    stem = os.path.splitext(os.path.basename(path))[0]
    return sorted(glob.glob(os.path.join(glob.escape(_machine_code_folder(path)), f"{stem}.*.nb[ic]")))


def _manifest_path(path):
    return os.path.splitext(path)[0] + ".manifest"


def _hashes(files):
    hashes = {}
    for f in files:
        with open(f, "rb") as handle:
            hashes[os.path.basename(f)] = hashlib.sha256(handle.read()).hexdigest()
    return hashes


def _verify_machine_code(path):
    """Delete Numba's files for this kernel unless they are exactly what irtoy saw it write."""
    files = _machine_code_files(path)
    if not files:
        return
    manifest = _manifest_path(path)
    recorded = None
    if os.path.exists(manifest):
        _check_private(manifest)
        with open(manifest, encoding="utf-8") as f:
            with contextlib.suppress(ValueError):
                recorded = json.load(f)
    for f in files:
        _check_private(f)
    if recorded != _hashes(files):
        warnings.warn(f"irtoy deletes machine code it did not write or that was changed "
                      f"({', '.join(files)}): it does not match {manifest}; compiling the kernel "
                      f"again.", RuntimeWarning)
        _forget_machine_code(path)


def _record_machine_code(path):
    """Remember the hashes of Numba's files for this kernel, as they are after its compile."""
    files = _machine_code_files(path)
    for f in files:
        os.chmod(f, 0o600)
    hashes = json.dumps(_hashes(files), indent=1, sort_keys=True)
    manifest = _manifest_path(path)
    if not os.path.exists(manifest) or open(manifest, encoding="utf-8").read() != hashes:
        atomic_write(manifest, hashes)
        os.chmod(manifest, 0o600)


def _forget_machine_code(path):
    for f in _machine_code_files(path):
        with contextlib.suppress(OSError):
            os.unlink(f)


def _compile_module(path, key, source):
    """Run `source` as module `path`: compiled from the text given, so nothing on disk but the
    source's path (which Numba keys its cache on) is used: no `.pyc` is looked up."""
    name = f"irtoy_generated_{key}"
    module = types.ModuleType(name)
    module.__file__ = path
    code = compile(source, path, "exec", dont_inherit=True)
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


_SCRATCH = None


def _scratch_folder():
    """This process's private folder for kernels compiled without the disk cache; removed at
    exit (Numba reads a kernel's file when it compiles it, so it must outlive the load)."""
    global _SCRATCH
    if _SCRATCH is None:
        _SCRATCH = tempfile.mkdtemp(prefix="irtoy-numba-")
        atexit.register(shutil.rmtree, _SCRATCH, ignore_errors=True)
    return _SCRATCH


def _load_without_cache(key, source):
    path = os.path.join(_scratch_folder(), f"irtoy_{key}.py")
    atomic_write(path, source)
    return _compile_module(path, key, source), "compiled"
