"""Regression tests for the failure-path defects of the fault-path review: a disk error, a
failed checkpoint or one bad value must never make a database unopenable or silently lose
acknowledged data.  Each test failed against the engine before its fix."""
import errno
import os

import pytest

import lpgdb
from lpgdb.storage import io

SEG = 128 * 1024


def _fail_os(monkeypatch, name, err, match):
    """Make ``os.<name>`` raise ``err`` for file descriptors whose path ``match``es."""
    real = getattr(os, name)

    def fake(fd, *args, **kw):
        try:
            p = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            p = ""
        if match(p):
            raise OSError(err, os.strerror(err))
        return real(fd, *args, **kw)
    monkeypatch.setattr(os, name, fake)


def _ids(path, label="C"):
    with lpgdb.connect(path, wal_segment_size=SEG) as db, db.snapshot() as s:
        return sorted(n["i"] for n in s.nodes(label))


# -- 1: the log's fsync failing at close() under sync="normal"/"off" --------------------------
@pytest.mark.parametrize("sync", ["normal", "off"])
def test_close_reports_a_failed_final_log_sync(tmp_path, monkeypatch, sync):
    """Commits acknowledged without an fdatasync (sync="normal"/"off") are made durable at
    close; when that fdatasync fails, close() must say so (they may be lost), not log a warning
    and return as if everything were safe.  The database still reopens."""
    path = str(tmp_path / "db")
    db = lpgdb.connect(path, sync=sync, wal_segment_size=SEG)
    for i in range(3):
        with db.transaction() as tx:
            tx.create_node("C", {"i": i})
    _fail_os(monkeypatch, "fdatasync", errno.EIO, lambda p: p.endswith(".wal"))
    with pytest.raises(lpgdb.OperationalError, match="may not be durable") as ei:
        db.close()
    assert ei.value.reason == "io_error"
    assert db.closed
    monkeypatch.undo()
    # nothing was erased: the commits were acknowledged, and the bytes are still in the file
    assert _ids(path) == [0, 1, 2]


def test_close_after_synced_commits_raises_nothing(tmp_path, monkeypatch):
    """sync="full": every acknowledged commit is durable; a failing fdatasync at close (the
    checkpoint's) loses nothing acknowledged, so close() only logs it."""
    path = str(tmp_path / "db")
    db = lpgdb.connect(path, sync="full", wal_segment_size=SEG)
    with db.transaction() as tx:
        tx.create_node("C", {"i": 0})
    _fail_os(monkeypatch, "fdatasync", errno.EIO, lambda p: p.endswith(".wal"))
    db.close()
    monkeypatch.undo()
    assert _ids(path) == [0]
