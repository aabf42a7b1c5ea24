"""Log shipping to an object store (issue 14): a real S3 API (moto's server on loopback) and
the directory store; crashes, outages, racing writers, replicas; issue 9 B4."""
import os
import signal
import subprocess
import sys
import time

import pytest

import lpgdb
from lpgdb.storage import archive as _archive
from lpgdb.storage.store import DirStore, open_store


def _ids(path_or_db):
    if isinstance(path_or_db, str):
        with lpgdb.connect(path_or_db, readonly=True) as db, db.snapshot() as s:
            return sorted(n["i"] for n in s.nodes("N"))
    with path_or_db.snapshot() as s:
        return sorted(n["i"] for n in s.nodes("N"))


def _commit(db, i, pad=0):
    with db.transaction() as tx:
        tx.create_node("N", {"i": i, "pad": "x" * pad})


def _wait(cond, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _caught_up(db):
    st = db.archive_status()
    return st.state == "ok" and st.lag_bytes == 0 and st.pending_bases == 0


@pytest.fixture(params=["s3", "dir"])
def any_archive(request, tmp_path):
    if request.param == "dir":
        return str(tmp_path / "archive")
    return request.getfixturevalue("s3_url")


def test_ships_within_the_interval_and_restores_points_in_time(tmp_path, any_archive):
    path = str(tmp_path / "db")
    db = lpgdb.connect(path, archive=any_archive, archive_interval=0.05, wal_segment_size=64 * 1024)
    lsns = []
    for i in range(30):
        _commit(db, i, pad=5000 if i % 3 else 10)     # crosses segments
        with db.snapshot() as s:
            lsns.append(s.lsn)
        if i == 12:
            db.checkpoint()
    # no checkpoint, no close: the active segment's tail is shipped by the thread
    _wait(lambda: _caught_up(db), what="the archiver to catch up")
    st = db.archive_status()
    assert st.shipped_lsn >= lsns[-1] and st.last_error is None and st.newest_base_lsn is not None
    for k in (12, 29):
        dest = str(tmp_path / f"r{k}")
        lpgdb.restore(any_archive, dest, lsn=lsns[k])
        assert _ids(dest) == list(range(k + 1))
    db.close()
    lpgdb.restore(any_archive, str(tmp_path / "all"))
    assert _ids(str(tmp_path / "all")) == list(range(30))
    with pytest.raises(lpgdb.OperationalError, match="ends at LSN"):
        lpgdb.restore(any_archive, str(tmp_path / "beyond"), lsn=lsns[-1] + 10**9)


_WRITER = r"""
import sys, lpgdb
db = lpgdb.connect(sys.argv[1], archive=sys.argv[2], archive_interval=0.05,
                   wal_segment_size=64 * 1024, checkpoint_wal_bytes=200 * 1024)
i = 0
while True:
    with db.transaction() as tx:
        tx.create_node("N", {"i": i, "pad": "x" * 3000})
    print(i, flush=True)
    i += 1
"""


def test_writer_killed_mid_upload_then_restore(tmp_path, s3_url):
    """SIGKILL while commits, checkpoints and uploads run: the archive restores a prefix of the
    acknowledged commits; the writer's next open ships the rest (no gap: issue 9 B4)."""
    path = str(tmp_path / "db")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, path, s3_url], stdout=subprocess.PIPE,
                            env=env, text=True)
    acked, store = -1, open_store(s3_url)
    for line in proc.stdout:
        acked = int(line)
        if acked >= 60 and acked % 10 == 0 and _archive.list_bases(store) and _archive.list_pieces(store):
            break                                 # the archive has started: kill mid-stream
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    lpgdb.restore(s3_url, str(tmp_path / "r1"))
    got = _ids(str(tmp_path / "r1"))
    assert got == list(range(len(got))) and len(got) > 0     # a prefix: nothing torn, no hole
    with lpgdb.connect(path, archive=s3_url) as db:            # restart: ships what was left
        local = _ids(db)
        assert local[:acked + 1] == list(range(acked + 1))
    lpgdb.restore(s3_url, str(tmp_path / "r2"))
    assert _ids(str(tmp_path / "r2")) == local


_DIES_MID_PUT = r"""
import os, signal, sys, lpgdb
from lpgdb.storage.store import DirStore

class DiesMidPut(DirStore):
    puts = 0
    def put_if_absent(self, name, data):
        if name.startswith("wal/"):
            DiesMidPut.puts += 1
            if DiesMidPut.puts == int(sys.argv[3]):      # half an object on disk, then SIGKILL
                with open(os.path.join(self.path, "wal", ".tmp-partial"), "wb") as f:
                    f.write(data[: len(data) // 2])
                os.kill(os.getpid(), signal.SIGKILL)
        return super().put_if_absent(name, data)

db = lpgdb.connect(sys.argv[1], archive=DiesMidPut(sys.argv[2]), archive_interval=0.01,
                   wal_segment_size=64 * 1024)
i = 0
while True:
    with db.transaction() as tx:
        tx.create_node("N", {"i": i, "pad": "x" * 2000})
    print(i, flush=True)
    i += 1
"""


def test_writer_killed_inside_an_upload_then_restore(tmp_path):
    """The directory store, killed exactly while an object is half written: restore sees a
    prefix, and the restarted writer ships the rest (the partial object is never listed)."""
    path, arch = str(tmp_path / "db"), str(tmp_path / "archive")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, "-c", _DIES_MID_PUT, path, arch, "6"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    acked = [int(x) for x in proc.stdout.split()]
    lpgdb.restore(arch, str(tmp_path / "r1"))
    got = _ids(str(tmp_path / "r1"))
    assert got == list(range(len(got))) and len(got) <= len(acked)
    with lpgdb.connect(path, archive=arch) as db:
        local = _ids(db)
    assert local[:len(acked)] == list(range(len(acked)))
    lpgdb.restore(arch, str(tmp_path / "r2"))
    assert _ids(str(tmp_path / "r2")) == local


def test_network_outage_never_blocks_commits_and_shows_as_lag(tmp_path, cuttable_s3):
    url, proxy = cuttable_s3
    path = str(tmp_path / "db")
    db = lpgdb.connect(path, archive=url, archive_interval=0.05, wal_segment_size=64 * 1024)
    _commit(db, 0)
    _wait(lambda: _caught_up(db), what="first upload")
    proxy.down()
    for i in range(1, 40):
        _commit(db, i, pad=4000)                 # commits go on while uploads fail
        if i == 20:
            db.checkpoint()                       # and so do checkpoints
    _wait(lambda: db.archive_status().state == "retrying", what="the archiver to notice")
    st = db.archive_status()
    assert st.lag_bytes > 0 and st.lag_seconds > 0 and "archive" in st.last_error
    assert os.listdir(os.path.join(path, "wal"))  # unshipped log is kept locally
    proxy.up()
    _wait(lambda: _caught_up(db), timeout=60, what="the archiver to recover")
    lpgdb.restore(url, str(tmp_path / "r"))
    assert _ids(str(tmp_path / "r")) == list(range(40))
    db.close()


def test_two_writers_race_for_one_archive(tmp_path, any_archive):
    """Two copies of one database (same id) ship to one archive: put-if-absent lets exactly
    one history in; the other writer is fenced (its commits go on locally)."""
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    with lpgdb.connect(a) as db:
        _commit(db, 0)
    import shutil
    shutil.copytree(a, b)
    dba = lpgdb.connect(a, archive=any_archive, archive_interval=0.02)
    dbb = lpgdb.connect(b, archive=any_archive, archive_interval=0.02)
    for i in range(1, 30):
        _commit(dba, 100 + i)
        _commit(dbb, 200 + i)
    _wait(lambda: {dba.archive_status().state, dbb.archive_status().state} & {"fenced"},
          what="one writer to be fenced")
    states = {dba.archive_status().state, dbb.archive_status().state}
    assert "fenced" in states and states != {"fenced"}
    winner = dba if dba.archive_status().state != "fenced" else dbb
    fenced = dbb if winner is dba else dba
    assert "another" in fenced.archive_status().last_error
    _commit(fenced, 999)                          # a fenced writer still commits locally
    _wait(lambda: _caught_up(winner), what="the winner to catch up")
    expect = _ids(winner)
    dba.close()
    dbb.close()
    lpgdb.restore(any_archive, str(tmp_path / "r"))
    assert _ids(str(tmp_path / "r")) == expect
    # the loser cannot come back later either: its history differs from the archive's
    with pytest.raises(lpgdb.OperationalError, match="another history|beyond"):
        lpgdb.connect(str(tmp_path / ("b" if winner is dba else "a")), archive=any_archive)


def test_an_archive_of_another_database_is_refused(tmp_path):
    any_archive = str(tmp_path / "archive")     # the identity check is the same for every store
    with lpgdb.connect(str(tmp_path / "one"), archive=any_archive) as db:
        _commit(db, 1)
    with pytest.raises(lpgdb.OperationalError, match="belongs to database"):
        lpgdb.connect(str(tmp_path / "two"), archive=any_archive)
    lpgdb.restore(any_archive, str(tmp_path / "r"))   # a restored copy is a new database ...
    with pytest.raises(lpgdb.OperationalError, match="belongs to database"):
        lpgdb.connect(str(tmp_path / "r"), archive=any_archive)   # ... with its own archive


def test_replica_follows_while_the_writer_checkpoints_and_restarts(tmp_path, any_archive):
    path, rpath = str(tmp_path / "db"), str(tmp_path / "replica")
    kw = dict(archive=any_archive, archive_interval=0.02, wal_segment_size=64 * 1024,
              checkpoint_wal_bytes=100 * 1024)
    db = lpgdb.connect(path, **kw)
    for i in range(10):
        _commit(db, i, pad=2000)
    _wait(lambda: _caught_up(db), what="first shipment")
    rep = lpgdb.connect(rpath, readonly=True, follow=any_archive, follow_interval=0.02)
    assert _ids(rep) == list(range(10))
    with pytest.raises(lpgdb.OperationalError, match="read-only"):
        rep.transaction()
    n = 10
    for round_ in range(2):
        for _ in range(15):
            _commit(db, n, pad=6000)             # automatic checkpoints and new segments
            n += 1
        db.checkpoint()
        db.close()                                # the writer restarts
        db = lpgdb.connect(path, **kw)
        _commit(db, n)
        n += 1
        _wait(lambda: _ids(rep) == list(range(n)), what=f"the replica to follow (round {round_})")
    lag = rep.replica_lag
    assert lag.lsn == 0 and lag.seconds >= 0
    db.close()
    rep.close()
    with lpgdb.connect(rpath, readonly=True, follow=any_archive) as rep:   # reopens locally
        assert _ids(rep) == list(range(n))
        rep.verify()


class FlakyStore(DirStore):
    """A directory store whose uploads can be switched off (the archive is unreachable)."""
    down = False

    def put_if_absent(self, name, data):
        if self.down:
            raise lpgdb.OperationalError("archive unreachable (test)")
        return super().put_if_absent(name, data)


def test_unshipped_segments_survive_a_crash_and_a_reopen(tmp_path):
    """Issue 9 B4: segments retired by checkpoints while the archive was unreachable are kept,
    and shipped by the next open; restore then reaches every commit (no gap)."""
    path, store = str(tmp_path / "db"), FlakyStore(str(tmp_path / "archive"))
    db = lpgdb.connect(path, archive=store, archive_interval=0.02, wal_segment_size=64 * 1024)
    _commit(db, 0)
    _wait(lambda: _caught_up(db), what="first shipment")
    store.down = True
    lsns = {}
    for i in range(1, 40):
        _commit(db, i, pad=5000)
        with db.snapshot() as s:
            lsns[i] = s.lsn
        if i % 10 == 0:
            db.checkpoint()
    # crash: no final checkpoint or shipment
    db._engine.archiver._stopping = True
    db._engine.close(checkpoint_on_close=False)
    db._closed = True
    store.down = False
    with lpgdb.connect(path, archive=store, archive_interval=0.02) as db:
        _wait(lambda: _caught_up(db), what="the reopened writer to ship")
    assert db.archive_status is not None
    for k in (1, 9, 10, 25, 39):
        dest = str(tmp_path / f"r{k}")
        lpgdb.restore(store, dest, lsn=lsns[k])
        assert _ids(dest) == list(range(k + 1))


def test_archiving_off_for_a_while_leaves_a_reported_gap(tmp_path):
    path, arch = str(tmp_path / "db"), str(tmp_path / "archive")
    with lpgdb.connect(path, archive=arch, wal_segment_size=64 * 1024) as db:
        _commit(db, 0)
        with db.snapshot() as s:
            before = s.lsn
    with lpgdb.connect(path, wal_segment_size=64 * 1024) as db:      # not archived
        for i in range(1, 30):
            _commit(db, i, pad=5000)
            if i == 15:
                with db.snapshot() as s:
                    inside = s.lsn
    with lpgdb.connect(path, archive=arch) as db:
        _commit(db, 30)
        assert db.archive_status().gap is not None
    lpgdb.restore(arch, str(tmp_path / "r0"), lsn=before)
    assert _ids(str(tmp_path / "r0")) == [0]
    with pytest.raises(lpgdb.OperationalError, match="gap"):
        lpgdb.restore(arch, str(tmp_path / "r1"), lsn=inside)
    lpgdb.restore(arch, str(tmp_path / "r2"))
    assert _ids(str(tmp_path / "r2")) == list(range(31))


def test_store_protocol_and_names(tmp_path):
    st = open_store(str(tmp_path / "s"))
    assert st.put_if_absent("a/b.x", b"1") and not st.put_if_absent("a/b.x", b"2")
    assert st.get("a/b.x") == b"1" and st.list("a/") == ["a/b.x"]
    st.delete("a/b.x")
    st.delete("a/b.x")
    with pytest.raises(lpgdb.NotFoundError):
        st.get("a/b.x")
    for bad in ("../x", "/abs", "a//b", "a/../b", ""):
        with pytest.raises(lpgdb.OperationalError):
            st.put_if_absent(bad, b"")
    with pytest.raises(lpgdb.InterfaceError):
        lpgdb.connect(str(tmp_path / "db"), archive="ftp://x/y")
    with pytest.raises(lpgdb.InterfaceError):
        lpgdb.connect(str(tmp_path / "db2"), follow=str(tmp_path / "s"))   # needs readonly=True


def test_damaged_piece_is_reported_not_replayed(tmp_path):
    path, arch = str(tmp_path / "db"), str(tmp_path / "archive")
    with lpgdb.connect(path, archive=arch) as db:
        for i in range(5):
            _commit(db, i)
    pieces = _archive.list_pieces(open_store(arch))
    victim = os.path.join(arch, "wal", f"{pieces[-1]:016x}.piece")
    data = bytearray(open(victim, "rb").read())
    data[-3] ^= 0xFF
    os.chmod(victim, 0o644)
    open(victim, "wb").write(bytes(data))
    with pytest.raises(lpgdb.CorruptionError, match="damaged"):
        lpgdb.restore(arch, str(tmp_path / "r"))
    assert not os.path.exists(str(tmp_path / "r")) and not os.path.exists(str(tmp_path / "r.tmp-restore"))


def test_cli_replica_follows_until_interrupted(tmp_path):
    path, arch, rdir = str(tmp_path / "db"), str(tmp_path / "archive"), str(tmp_path / "replica")
    db = lpgdb.connect(path, archive=arch, archive_interval=0.02)
    _commit(db, 0)
    _wait(lambda: _caught_up(db), what="first shipment")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, "-m", "lpgdb", "replica", arch, rdir, "--interval", "0.02",
                             "--report", "0.05"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert "a replica of" in proc.stdout.readline()
        _commit(db, 1)
        for line in proc.stdout:                      # progress lines until it has commit 1
            with lpgdb.connect(rdir, readonly=True) as r:   # a local follower beside the replica
                if _ids(r) == [0, 1]:
                    break
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        db.close()
    assert _ids(rdir) == [0, 1]


def test_replica_serves_its_copy_while_the_archive_is_unreachable(tmp_path, cuttable_s3):
    url, proxy = cuttable_s3
    path, rpath = str(tmp_path / "db"), str(tmp_path / "replica")
    db = lpgdb.connect(path, archive=url, archive_interval=0.02)
    _commit(db, 0)
    _wait(lambda: _caught_up(db), what="first shipment")
    with lpgdb.connect(rpath, readonly=True, follow=url, follow_interval=0.02) as rep:
        assert _ids(rep) == [0]
    proxy.down()
    _commit(db, 1)
    with lpgdb.connect(rpath, readonly=True, follow=url, follow_interval=0.02) as rep:
        assert _ids(rep) == [0] and rep.replica_lag.seconds == float("inf")
        proxy.up()
        _wait(lambda: _ids(rep) == [0, 1], timeout=60, what="the replica to catch up")
        assert rep.replica_lag.seconds < 60
    db.close()


def test_restore_keeps_schema_and_indexes(tmp_path):
    path, arch = str(tmp_path / "db"), str(tmp_path / "archive")
    with lpgdb.connect(path, archive=arch) as db:
        db.set_schema("CREATE GRAPH TYPE g STRICT { (PT: P {name STRING}), FOR (p:P) EXCLUSIVE MANDATORY SINGLETON p.name }")
        db.create_index("P", "name")
        with db.transaction() as tx:
            tx.create_node("P", {"name": "a"})
    lpgdb.restore(arch, str(tmp_path / "r"))
    with lpgdb.connect(str(tmp_path / "r")) as r:
        assert r.schema is not None and ("P", ("name",)) in r.indexes()
        with pytest.raises(lpgdb.SchemaViolationError):
            with r.transaction() as tx:
                tx.create_node("P", {"name": "a"})        # the key still holds


def test_retention_deletes_history_no_restore_in_the_window_needs(tmp_path):
    path, arch = str(tmp_path / "db"), str(tmp_path / "archive")
    store = open_store(arch)
    db = lpgdb.connect(path, archive=arch, archive_interval=0.02, archive_retention=0.3,
                       wal_segment_size=64 * 1024)
    marks = []
    for round_ in range(3):
        for i in range(3):
            _commit(db, round_ * 10 + i, pad=4000)
        db.checkpoint()
        _wait(lambda: _caught_up(db), what="shipment")
        with db.snapshot() as s:
            marks.append(s.lsn)
        if round_ == 0:        # a replica that then stays away while retention passes it by
            lpgdb.connect(str(tmp_path / "replica"), readonly=True, follow=arch).close()
        time.sleep(0.4)
    _commit(db, 99)
    db.checkpoint()
    _wait(lambda: _caught_up(db), what="the last shipment")
    db.close()
    bases = _archive.list_bases(store)
    assert len(bases) <= 3 and bases[0] >= marks[1]      # the older ones are gone
    with pytest.raises(lpgdb.OperationalError, match="no base"):
        lpgdb.restore(arch, str(tmp_path / "old"), lsn=marks[0])
    lpgdb.restore(arch, str(tmp_path / "all"))
    assert _ids(str(tmp_path / "all")) == [r * 10 + i for r in range(3) for i in range(3)] + [99]
    with lpgdb.connect(str(tmp_path / "replica"), readonly=True, follow=arch) as rep:
        assert _ids(rep) == _ids(str(tmp_path / "all"))   # reloaded from a newer base
        rep.verify()
    names = set(store.list("data/"))                    # every data object still named is there
    for b in bases:
        for f in _archive.read_base(store, b, _archive.read_identity(store))["files"]:
            assert f[3] in names
