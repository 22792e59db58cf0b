"""The disk cache of generated kernels, so a second process compiling a graph is fast.

Numba caches compiled functions next to their source file, keyed by the file's path and
modification time; it cannot cache source that was only exec'd. So each generated kernel is
written to `<cache dir>/numba/irtoy_<key>.py` and imported from there, and Numba keeps its
machine code beside it in `__pycache__`. The key is a hash of the kernel's code (which
spells out its ops, index arithmetic and argument types, so it stands for the part of the
graph it computes), of the versions of irtoy, Numba, NumPy and Python, and of irtoy's own
kernel helpers (math.py), so an upgrade never loads stale machine code. Kernels are
shared: any graph that needs the same code loads the same machine code.

    * The cache directory is per user (IRTOY_CACHE_DIR overrides it).
    * Files are written whole or not at all (irtoy.files.atomic_write), and only when absent
      or different, so the file Numba keyed its cache on is never touched again.
    * A file whose content is not exactly the expected source (corrupt, truncated, foreign)
      is rewritten; machine code Numba fails to load is deleted and compiled again.
    * Two processes compiling the same graph take turns on a lock file: the second waits,
      then loads what the first compiled.
"""
import contextlib
import glob
import hashlib
import importlib.util
import os
import platform
import sys
import threading
import warnings

import numba
import numpy as np

from irtoy.version import __version__ as irtoy_version
from irtoy.files import atomic_write

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


@contextlib.contextmanager
def _file_lock(path):
    if fcntl is None:
        yield
        return
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load(source):
    """The imported module of kernel `source`, compiled by Numba or loaded from the disk cache.

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
            os.makedirs(folder, exist_ok=True)
            path = os.path.join(folder, f"irtoy_{key}.py")
            os.makedirs(os.path.join(folder, "locks"), exist_ok=True)
            with _file_lock(os.path.join(folder, "locks", f"{key}.lock")):
                module, how = _load_file(path, key, source)
        except OSError as e:
            warnings.warn(f"irtoy cannot use its kernel cache in {folder} ({e}); compiling without "
                          f"a disk cache. Set IRTOY_CACHE_DIR to a writable folder.", RuntimeWarning)
            module, how = _load_without_cache(key, source)
        _LOADED[memo] = module
        return module, how


def _load_file(path, key, source):
    current = None
    if os.path.exists(path):
        with open(path, "rb") as f:
            current = f.read()
    if current != source.encode("utf-8"):
        if current is not None:
            _forget_machine_code(path)
        atomic_write(path, source)
    try:
        module = _import(path, key)
    except Exception:
        if not _machine_code_files(path):
            raise
        # Numba's files for this kernel exist but did not load: drop them, compile afresh
        _forget_machine_code(path)
        module = _import(path, key)
    stats = getattr(module.kernel, "stats", None)      # None: NUMBA_DISABLE_JIT=1, plain Python
    return module, "disk" if stats is not None and not stats.cache_misses else "compiled"


def _machine_code_files(path):
    folder, name = os.path.split(path)
    stem = os.path.splitext(name)[0]
    return glob.glob(os.path.join(folder, "__pycache__", f"{stem}.*.nb[ic]"))


def _forget_machine_code(path):
    for f in _machine_code_files(path):
        with contextlib.suppress(OSError):
            os.unlink(f)


def _import(path, key):
    name = f"irtoy_generated_{key}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _load_without_cache(key, source):
    import tempfile
    folder = tempfile.mkdtemp(prefix="irtoy-numba-")
    path = os.path.join(folder, f"irtoy_{key}.py")
    atomic_write(path, source)
    return _import(path, key), "compiled"
