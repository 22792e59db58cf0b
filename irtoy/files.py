"""Writing files whole or not at all.

Every file irtoy writes (drawings, reports, saved models, cached kernels) goes through
`atomic_write`: the bytes go to a temporary file in the same folder, which is flushed to disk
and then renamed over the target, and the rename itself is flushed (the folder is fsynced). A
crash leaves either the old file or the new one, never half of one.

A writer killed before its rename leaves its temporary behind. Temporaries are named
`.tmp-<pid>-<random>-<target name>`, so the next write of the same target removes those
whose writer is gone, and a target written again and again never collects them.
"""
import contextlib
import glob
import os
import tempfile

from irtoy.errors import IrtoyError


def atomic_write(path, data):
    """Write `data` (bytes or str) to `path` atomically; return the path."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    _remove_stale_temporaries(folder, name)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".tmp-{os.getpid()}-", suffix=f"-{name}")
    try:
        os.chmod(tmp, 0o666 & ~_umask())        # mkstemp makes 0600 files; give the usual mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)
    return path


def checked_write(path, data, error=IrtoyError, action="write"):
    """atomic_write, with a path that cannot be written (a folder, a path under a regular
    file, a read-only folder, a full disk) told as `error`: "cannot {action} {path}: why"."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise error(f"cannot {action} {path}: it is a folder")
    folder = os.path.dirname(path)
    while folder and not os.path.exists(folder):
        folder = os.path.dirname(folder)
    if folder and not os.path.isdir(folder):
        raise error(f"cannot {action} {path}: {folder} is a file, not a folder")
    try:
        return atomic_write(path, data)
    except OSError as e:
        raise error(f"cannot {action} {path}: {e.strerror or e}") from None


def _remove_stale_temporaries(folder, name):
    """Delete temporaries for `name` left by writers that no longer exist."""
    for tmp in glob.glob(os.path.join(glob.escape(folder), f".tmp-*-*-{glob.escape(name)}")):
        pid = os.path.basename(tmp).split("-")[1]
        if pid.isdigit() and int(pid) != os.getpid() and not process_exists(int(pid)):
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def process_exists(pid):
    """Whether process `pid` still runs (on Windows, where that is not asked, assume so)."""
    if os.name != "posix":      # os.kill would end the process on Windows: keep its file
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:             # PermissionError: it exists, as another user
        return True
    return True


def _fsync_folder(folder):
    """Make the rename durable; folders cannot be opened for this on Windows."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
