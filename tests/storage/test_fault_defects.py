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


# -- 2: names and values longer than 64 KiB through a checkpoint and a reopen -------------------
@pytest.mark.parametrize("n", [65535, 65536, 65537, 200_000])
def test_long_names_and_values_checkpoint_and_reopen(tmp_path, n):
    """A property name of more than 64 KiB was committed, but every checkpoint then failed
    (InternalError: the native store read property names back into a 64 KiB buffer), so the
    log could never be retired.  Long names (property, label, edge type) and long values must
    checkpoint, reopen and read back."""
    path = str(tmp_path / "db")
    prop, label, etype, value = "p" * (n - 1) + "q", "L" * n, "T" * n, "v" * n
    with lpgdb.connect(path, wal_segment_size=SEG) as db:
        with db.transaction() as tx:
            a = tx.create_node(label, {prop: 1, "s": value})
            b = tx.create_node("C", {"i": 0})
            tx.create_edge(a, etype, b, {prop: 2})
        db.checkpoint()
        assert db._engine.meta.checkpoint_lsn == db._engine.wal.end_lsn   # the log is retired
        with db.transaction() as tx:                # one more, replayed over the checkpoint
            tx.create_node(label, {prop: 3})
    for _round in range(2):                         # reopen from the log, then from the files
        with lpgdb.connect(path, wal_segment_size=SEG) as db, db.snapshot() as s:
            nodes = sorted(s.nodes(label), key=lambda x: x[prop])
            assert [x[prop] for x in nodes] == [1, 3]
            assert nodes[0]["s"] == value
            (e,) = list(s.edges(etype))
            assert e[prop] == 2
            db.checkpoint()


# -- replicas --------------------------------------------------------------------------------------
def _shipped(db):
    import time
    for _ in range(2000):
        st = db.archive_status()
        if st.state == "ok" and st.lag_bytes == 0 and st.pending_bases == 0:
            return
        time.sleep(0.01)
    raise AssertionError("the archive did not catch up")


def _nids(db):
    with db.snapshot() as s:
        return sorted(n["i"] for n in s.nodes("N"))


def _archived(tmp_path, extra, pad=0, seg=64 * 1024):
    """A writer archiving to a directory; a replica bootstrapped at its first base (5 commits);
    then ``extra(db)`` runs on the writer and everything is shipped.  Returns the paths and the
    ids the replica must end up with."""
    arch, path, rpath = (str(tmp_path / x) for x in ("arch", "db", "rep"))
    db = lpgdb.connect(path, archive=arch, archive_interval=0.01, wal_segment_size=seg)
    for i in range(5):
        with db.transaction() as tx:
            tx.create_node("N", {"i": i})
    db.checkpoint()
    _shipped(db)
    lpgdb.connect(rpath, readonly=True, follow=arch, follow_interval=3600).close()
    extra(db)
    _shipped(db)
    want = _nids(db)
    db.close()
    return arch, rpath, want


def test_replica_replay_failing_midway_then_checkpoint_keeps_it_openable(tmp_path, monkeypatch):
    """A replica applying shipped log over several segments failed to read one segment (EIO):
    the commits of the segments before it were already applied to its state, but its position
    stayed where it was, so the next poll applied them again ("malformed commit record: bad
    NODES_COLS") and the replica's checkpoint at close wrote that state under the old position:
    the replica no longer opened (CorruptionError).  It must resume after what it applied."""
    from lpgdb.storage import wal

    def more(db):
        for i in range(5, 80):
            with db.transaction() as tx:
                tx.create_node("N", {"i": i, "pad": "x" * 2000})   # several 64 KiB segments
    arch, rpath, want = _archived(tmp_path, more)
    real, hits = wal._read_segment, []

    def flaky(wal_dir, seg_no, *a):
        if seg_no == 1 and not hits and os.path.dirname(wal_dir) == rpath:
            hits.append(seg_no)
            raise io._error(OSError(errno.EIO, "injected"), "open", f"{wal_dir}/segment {seg_no}")
        return real(wal_dir, seg_no, *a)
    monkeypatch.setattr(wal, "_read_segment", flaky)
    rep = lpgdb.connect(rpath, readonly=True, follow=arch, follow_interval=3600,
                        checkpoint_wal_bytes=32 * 1024)
    assert hits and rep._replica.last_error is not None      # the first poll failed midway
    rep._replica.poll()                                      # the retry goes on from there
    assert _nids(rep) == want
    rep.close()
    with lpgdb.connect(rpath, readonly=True, follow=arch, follow_interval=3600) as rep:
        assert _nids(rep) == want
        rep.verify()


def test_replica_checkpoints_the_log_it_follows(tmp_path):
    """A replica checkpoints like a writer once its log passes ``checkpoint_wal_bytes``; its
    engine refused (check_writable: "the database is a replica ...; it is read-only"), so every
    poll from then on raised after applying, the poll thread backed off towards 30 s, and the
    replica's log grew without bound."""
    def more(db):
        for i in range(5, 60):
            with db.transaction() as tx:
                tx.create_node("N", {"i": i, "pad": "x" * 2000})
    arch, rpath, want = _archived(tmp_path, more)
    with lpgdb.connect(rpath, readonly=True, follow=arch, follow_interval=3600,
                       checkpoint_wal_bytes=32 * 1024) as rep:
        r = rep._replica
        assert r.last_error is None, r.last_error
        r.poll()
        eng = r.engine
        assert eng.wal.end_lsn - eng.meta.checkpoint_lsn <= 32 * 1024
        assert _nids(rep) == want
    with lpgdb.connect(rpath, readonly=True, follow=arch, follow_interval=3600) as rep:
        assert _nids(rep) == want
        rep.verify()


def test_follower_refresh_failing_midway_resumes_after_what_it_applied(tmp_path, monkeypatch):
    """The same for a local read-only follower: a refresh that failed to read a segment midway
    left the commits before it applied but its position unchanged; every later refresh then
    raised CorruptionError (they were applied twice) until the follower was reopened."""
    from lpgdb.storage import wal
    path = str(tmp_path / "db")
    w = lpgdb.connect(path, wal_segment_size=64 * 1024, checkpoint_wal_bytes=1 << 40)
    ro = lpgdb.connect(path, readonly=True)
    for i in range(80):
        with w.transaction() as tx:
            tx.create_node("N", {"i": i, "pad": "x" * 2000})
    real, hits = wal._read_segment, []

    def flaky(wal_dir, seg_no, *a):
        if seg_no == 1 and not hits:
            hits.append(seg_no)
            raise io._error(OSError(errno.EIO, "injected"), "open", f"{wal_dir}/segment {seg_no}")
        return real(wal_dir, seg_no, *a)
    monkeypatch.setattr(wal, "_read_segment", flaky)
    with pytest.raises(lpgdb.OperationalError, match="I/O error"):
        ro.refresh()
    ro.refresh()
    assert _nids(ro) == list(range(80))
    ro.close()
    w.close()


def _attach_load(db):
    from lpgdb.storage import attach
    old = attach.ATTACH_MIN_ROWS
    attach.ATTACH_MIN_ROWS = 1            # the bulk load is attached: replicas load its base
    try:
        db.bulk_load(nodes=[(["N"], {"i": i}) for i in range(5, 20)])
    finally:
        attach.ATTACH_MIN_ROWS = old
    for i in range(20, 25):
        with db.transaction() as tx:
            tx.create_node("N", {"i": i})


@pytest.mark.parametrize("where", ["fetch_base", "meta", "unlink"])
def test_replica_whose_rebase_fails_stays_openable(tmp_path, monkeypatch, where):
    """A replica reaching a bulk attach record loads the archived base after it (``_rebase``).
    When writing that base failed (an I/O error while fetching it into the replica, or while
    switching to it), the attach record was already in the replica's log: at the next open the
    replay met it without its files (NeedsBase) and the replica did not open any more.  And
    the switch deleted the log before META named the new base: a failure in between left META
    naming log that was gone.  The failure must be reported, retried, and brick nothing."""
    from lpgdb.storage import archive, checkpoint, replica
    arch, rpath, want = _archived(tmp_path, _attach_load)
    calls = []

    def failing(real):
        def f(*a, **kw):
            calls.append(a)
            if len(calls) == 1 or where == "unlink" and len(calls) == 2:
                raise io._error(OSError(errno.EIO, "injected"), where, str(a[0]))
            return real(*a, **kw)
        return f
    if where == "fetch_base":
        monkeypatch.setattr(archive, "fetch_base", failing(archive.fetch_base))
    elif where == "meta":           # switching META to the base (one slot, or both)
        monkeypatch.setattr(checkpoint, "write_meta_pair", failing(checkpoint.write_meta_pair))
        monkeypatch.setattr(checkpoint, "write_meta", failing(checkpoint.write_meta))
    else:
        real_unlink = io.unlink
        monkeypatch.setattr(io, "unlink", lambda p, **kw: (
            failing(real_unlink)(p, **kw) if p.endswith(".wal") and rpath in p else real_unlink(p, **kw)))
    rep = lpgdb.connect(rpath, readonly=True, follow=arch, follow_interval=3600)
    assert calls and "I/O error" in (rep._replica.last_error or "")
    rep.close()
    monkeypatch.undo()
    with lpgdb.connect(rpath, readonly=True, follow=arch, follow_interval=3600) as rep:
        assert rep._replica.last_error is None, rep._replica.last_error
        assert _nids(rep) == want
        rep.verify()


# -- archives: an object whose directory fsync failed ----------------------------------------------
def test_dir_store_retry_makes_an_existing_object_durable(tmp_path):
    """DirStore.put_if_absent links the object into place, then fsyncs its directory.  When that
    fsync failed, the archiver retried: the link now said EEXIST and put_if_absent returned False
    without an fsync, so the retry counted the object as stored while its name was still not
    durable; a base written after it could then name a data object a power cut takes away (the
    archive restores nothing from that base, and a replica bootstrapping from it fails).  An
    existing object's directory is fsynced too."""
    from lpgdb.storage.store import DirStore
    root = str(tmp_path / "arch")
    os.makedirs(root)
    probe = io.Simulator(root)
    with io.installed(probe):
        DirStore(root).put_if_absent("probe/obj", b"")
    (site,) = [s for k, s in probe.sites() if k == "dirsync" and s.startswith("store.put_if_absent")]
    sim = io.Simulator(root, record=True, real_sync=False)
    sim.fail("dirsync", site, nth=1)           # the fsync after the object's link
    store = DirStore(root)
    with io.installed(sim):
        with pytest.raises(lpgdb.OperationalError, match="I/O error"):
            store.put_if_absent("data/obj", b"payload")
        assert store.put_if_absent("data/obj", b"payload") is False     # the archiver's retry
    img = str(tmp_path / "image")
    sim.image(img, mode="drop_all")                                     # a power cut now
    with open(os.path.join(img, "data", "obj"), "rb") as f:
        assert f.read() == b"payload"


def test_replica_closed_after_fetching_log_it_could_not_apply_reopens(tmp_path, monkeypatch):
    """A replica's poll fetched log over several segments, then could not read it back to apply
    it (EIO).  At close, the engine gave back the space beyond the applied position of the log
    (trim_tail, a writer's preallocation): that punched out the fetched frames of the first
    segment while those of the next stayed, and the next open took the hole for damage to synced
    log (CorruptionError: a later valid frame proves it was synced)."""
    from lpgdb.storage import wal

    def more(db):
        for i in range(5, 80):
            with db.transaction() as tx:
                tx.create_node("N", {"i": i, "pad": "x" * 2000})
    arch, rpath, want = _archived(tmp_path, more)
    real = wal._read_segment

    def failing(wal_dir, *a):
        if os.path.dirname(wal_dir) == rpath:
            raise io._error(OSError(errno.EIO, "injected"), "map", wal_dir)
        return real(wal_dir, *a)
    monkeypatch.setattr(wal, "_read_segment", failing)
    rep = lpgdb.connect(rpath, readonly=True, follow=arch, follow_interval=3600)
    assert "I/O error" in (rep._replica.last_error or "")
    rep.close()
    monkeypatch.undo()
    with lpgdb.connect(rpath, readonly=True, follow=arch, follow_interval=3600) as rep:
        assert rep._replica.last_error is None, rep._replica.last_error
        assert _nids(rep) == want
        rep.verify()


def test_replica_backup_runs_under_the_replica_lock(tmp_path, monkeypatch):
    """db.backup() on a replica checkpoints its engine and copies the image; it ran without the
    replica's lock, beside the poll thread that applies shipped log and loads bases into the
    same engine (a checkpoint of a state being changed).  (Before replicas could checkpoint it
    failed instead: "the database is a replica ...; it is read-only".)"""
    from lpgdb.storage.engine import Engine

    def more(db):
        for i in range(5, 10):
            with db.transaction() as tx:
                tx.create_node("N", {"i": i})
    arch, rpath, want = _archived(tmp_path, more)
    rep = lpgdb.connect(rpath, readonly=True, follow=arch, follow_interval=3600)
    held = []
    real = Engine.checkpoint

    def checkpoint(self):
        held.append(rep._replica._lock.locked())
        return real(self)
    monkeypatch.setattr(Engine, "checkpoint", checkpoint)
    rep.backup(str(tmp_path / "bak"))
    rep.close()
    assert held and all(held)
    with lpgdb.connect(str(tmp_path / "bak"), readonly=True) as b:
        assert _nids(b) == want
