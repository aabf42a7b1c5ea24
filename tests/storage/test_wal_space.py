"""WAL space: segments are allocated a step at a time ahead of the log, a checkpoint gives back the
log below it, close gives back what was allocated beyond the end, and a clean reopen needs no
fdatasync.  Disk full while allocating refuses the commit before any of it is written."""
import errno
import os

import pytest

import lpgdb
from lpgdb.storage import io, wal

SEG = 4 << 20          # four allocation steps


def _path_of(fd):
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


def _punches(tmp_path) -> bool:
    """Whether this file system frees the blocks of a punched range."""
    p = str(tmp_path / "probe")
    fd = os.open(p, os.O_RDWR | os.O_CREAT)
    try:
        os.pwrite(fd, b"x" * (1 << 20), 0)
        os.fsync(fd)
        io.discard(fd, 0, 1 << 20)
        return os.fstat(fd).st_blocks * 512 < (1 << 19)
    finally:
        os.close(fd)
        os.unlink(p)


def _wal_allocated(path) -> int:
    d = os.path.join(path, "wal")
    return sum(os.stat(os.path.join(d, n)).st_blocks * 512 for n in os.listdir(d))


def _fill(db, first, n, pad=2000):
    for i in range(first, first + n):
        with db.transaction() as tx:
            tx.create_node("C", {"i": i, "pad": "p" * pad})


def _ids(path):
    with lpgdb.connect(path) as db, db.snapshot() as s:
        db.verify()
        return sorted(n["i"] for n in s.nodes("C"))


def test_segment_is_allocated_in_steps_and_given_back(tmp_path):
    if not _punches(tmp_path):
        pytest.skip("this file system does not punch holes")
    path = str(tmp_path / "db")
    db = lpgdb.connect(path, wal_segment_size=SEG, checkpoint_wal_bytes=1 << 30)
    _fill(db, 0, 5)
    seg = os.path.join(path, "wal", wal.segment_name(0))
    assert os.path.getsize(seg) == SEG                        # full size: LSNs are positions
    assert _wal_allocated(path) <= wal.ALLOC_STEP + 4096      # but only the first step allocated
    _fill(db, 5, 700)                                         # ~1.4 MiB of log: a second step
    assert wal.ALLOC_STEP < _wal_allocated(path) <= 2 * wal.ALLOC_STEP + 4096
    db.checkpoint()                                           # the log below it is given back
    assert _wal_allocated(path) <= wal.ALLOC_STEP
    db.close()                                                # and what lies beyond the end
    assert _wal_allocated(path) <= 64 << 10
    assert _ids(path) == list(range(705))
    db = lpgdb.connect(path, wal_segment_size=SEG, checkpoint_wal_bytes=1 << 30)
    _fill(db, 705, 600)                                       # appends into the trimmed segment
    db._engine.close(checkpoint_on_close=False)               # a crash: the log is replayed
    db._closed = True
    assert _ids(path) == list(range(1305))


def test_disk_full_while_allocating_refuses_the_commit_and_keeps_the_handle(tmp_path, monkeypatch):
    path = str(tmp_path / "db")
    db = lpgdb.connect(path, wal_segment_size=SEG, checkpoint_wal_bytes=1 << 30)
    _fill(db, 0, 3)
    w = db._engine.wal
    real = os.pwrite
    hits = []

    def full(fd, data, off):              # the zero-fill of the next allocation step fails
        if _path_of(fd).endswith(".wal") and off >= w._alloc.get(0, SEG) and not any(bytes(data)):
            hits.append(off)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data, off)

    n = 3
    with monkeypatch.context() as m:
        m.setattr(os, "pwrite", full)
        with pytest.raises(lpgdb.OperationalError, match="disk full"):
            while True:                   # commits fit until the first step is used up
                _fill(db, n, 1)
                n += 1
    assert hits and 3 < n
    end = w.end_lsn
    _fill(db, n, 1)                       # space again: the same handle goes on
    assert w.end_lsn > end
    db.close()
    assert _ids(path) == list(range(n + 1))


def test_clean_reopen_does_not_sync_the_log(tmp_path, monkeypatch):
    path = str(tmp_path / "db")
    db = lpgdb.connect(path, wal_segment_size=SEG)
    _fill(db, 0, 3)
    db._engine.close(checkpoint_on_close=False)    # log not checkpointed, but synced (sync="full")
    db._closed = True
    synced = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (synced.append(_path_of(fd)), real(fd))[1])
    db = lpgdb.connect(path, wal_segment_size=SEG)
    assert not [p for p in synced if p.endswith(".wal")], synced   # SHM witnessed the sync
    assert db.snapshot().node_count("C") == 3
    db.close()
    os.unlink(os.path.join(path, "SHM"))          # no witness: recovery syncs what it replayed
    synced.clear()
    db = lpgdb.connect(path, wal_segment_size=SEG)
    db.close()
    # (after the close's checkpoint the log is empty; the segment holding it is synced anyway)
    assert [p for p in synced if p.endswith(".wal")], synced
