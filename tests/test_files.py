"""irtoy.files.atomic_write: whole files or none, durable renames, no temporaries left behind
by writers that were killed."""
import os
import subprocess
import sys

import pytest

from irtoy import files


def gone_pid():
    """The pid of a process that has exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "model.npz"
    stale = tmp_path / f".tmp-{gone_pid()}-abc123-model.npz"
    stale.write_bytes(b"x" * 1000)
    alive = tmp_path / f".tmp-{os.getppid()}-def456-model.npz"      # a writer still at work
    alive.write_bytes(b"y")
    other = tmp_path / f".tmp-{gone_pid()}-abc123-other.txt"
    other.write_bytes(b"z")
    files.atomic_write(target, b"weights")
    assert target.read_bytes() == b"weights"
    assert not stale.exists()
    assert alive.exists()
    assert other.exists()           # only the target's own temporaries are looked at
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, other.name, "model.npz"])


def test_the_file_is_flushed_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync folder" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync file")
        real_fsync(fd)

    def replace(src, dst):
        events.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    files.atomic_write(tmp_path / "report.html", "<html></html>")
    assert events == ["fsync file", "rename", "fsync folder"]
    assert (tmp_path / "report.html").read_text() == "<html></html>"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "drawing.svg"
    target.write_text("old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        files.atomic_write(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["drawing.svg"]
