"""Writing files whole or not at all.

Every file irtoy writes (drawings, reports, saved models, cached kernels) goes through
`atomic_write`: the bytes go to a temporary file in the same folder, which is then renamed
over the target. A crash leaves either the old file or the new one, never half of one.
"""
import os
import tempfile


def atomic_write(path, data):
    """Write `data` (bytes or str) to `path` atomically; return the path."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        os.chmod(tmp, 0o666 & ~_umask())        # mkstemp makes 0600 files; give the usual mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
