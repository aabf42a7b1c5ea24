"""Opening, locking, modes and persistence through the public API."""
import multiprocessing as mp
import os

import pytest

import lpgdb


def test_create_false_on_missing_is_operational_error(tmp_path):
    with pytest.raises(lpgdb.OperationalError):
        lpgdb.connect(str(tmp_path / "nope"), create=False)
    with pytest.raises(lpgdb.OperationalError):
        lpgdb.connect(str(tmp_path / "nope"), readonly=True)


def test_refuses_a_non_database_directory(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "file.txt").write_text("hi")
    with pytest.raises(lpgdb.OperationalError):
        lpgdb.connect(str(tmp_path / "x"))


def test_bad_arguments(tmp_path):
    with pytest.raises(lpgdb.InterfaceError):
        lpgdb.connect(str(tmp_path / "a"), sync="sometimes")
    with pytest.raises(lpgdb.InterfaceError):
        lpgdb.connect(123)


def _try_open(path, q):
    try:
        lpgdb.connect(path).close()
        q.put("opened")
    except lpgdb.OperationalError as e:
        q.put("locked: " + str(e))


def test_second_writer_process_is_refused(db_path):
    with lpgdb.connect(db_path):
        q = mp.get_context("fork").Queue()
        p = mp.get_context("fork").Process(target=_try_open, args=(db_path, q))
        p.start()
        p.join(30)
        assert q.get(timeout=5).startswith("locked")
    # after close another process may open it
    q = mp.get_context("fork").Queue()
    p = mp.get_context("fork").Process(target=_try_open, args=(db_path, q))
    p.start()
    p.join(30)
    assert q.get(timeout=5) == "opened"


def test_second_writer_in_same_process_is_refused(db_path):
    with lpgdb.connect(db_path):
        with pytest.raises(lpgdb.OperationalError):
            lpgdb.connect(db_path)


@pytest.mark.parametrize("sync", ["full", "normal", "off"])
def test_persists_across_reopen(db_path, sync):
    with lpgdb.connect(db_path, sync=sync) as db:
        with db.transaction() as tx:
            a = tx.create_node("A", {"x": 1})
            tx.create_edge(a, "R", tx.create_node("B"))
    with lpgdb.connect(db_path, sync=sync) as db, db.snapshot() as s:
        assert s.node(a)["x"] == 1 and s.neighbors(a) == [a + 1]


def test_reader_follows_writer(db_path):
    w = lpgdb.connect(db_path)
    with w.transaction() as tx:
        a = tx.create_node("A", {"v": 1})
    r = lpgdb.connect(db_path, readonly=True)
    assert r.snapshot().node(a)["v"] == 1
    with pytest.raises(lpgdb.OperationalError):
        r.transaction()
    with w.transaction() as tx:
        tx.update_node(a, set={"v": 2})
        b = tx.create_node("B")
    assert r.snapshot().node(a)["v"] == 1   # not yet refreshed
    r.refresh()
    assert r.snapshot().node(a)["v"] == 2 and r.snapshot().node_count() == 2
    w.checkpoint()                          # retires the WAL the reader has already applied
    with w.transaction() as tx:
        tx.delete_node(b)
    r.refresh()
    assert r.snapshot().node_count() == 1
    w.close()
    r.refresh()
    assert r.snapshot().node(a)["v"] == 2
    r.close()


def test_a_write_query_on_a_read_only_handle_is_operational_error(db_path):
    # a write through a read-only handle is OperationalError(reason="read_only"), whichever way
    # the query comes (as db.transaction() is); EXPLAIN of a write writes nothing and runs
    lpgdb.connect(db_path).close()
    with lpgdb.connect(db_path, readonly=True) as r:
        writes = (lambda: r.execute("CREATE (:A)"), lambda: r.execute("MATCH (n) DETACH DELETE n"),
                  lambda: r.prepare("CREATE (:A {v: $v})").execute({"v": 1}),
                  lambda: r.cursor().execute("CREATE (:A)"),
                  lambda: r.cursor().executemany("CREATE (:A {v: $v})", [{"v": 1}]))
        for write in writes:
            with pytest.raises(lpgdb.OperationalError) as e:
                write()
            assert e.value.reason == "read_only" and "readonly" in str(e.value)
        assert "Create" in str(r.execute("EXPLAIN CREATE (:A)").plan)
        with r.snapshot() as s:   # a snapshot never writes, on any handle: the query is wrong there
            with pytest.raises(lpgdb.SemanticError):
                s.execute("CREATE (:A)")
            assert "Create" in str(s.execute("EXPLAIN CREATE (:A)").plan)
        assert r.execute("MATCH (n) RETURN count(n)").value() == [0]


def test_in_memory_database():
    db = lpgdb.connect(":memory:")
    with db.transaction() as tx:
        a = tx.create_node("A")
    assert db.snapshot().node(a).labels == {"A"}
    db.close()


def test_wal_segments_and_fragmented_commits(db_path):
    big = "x" * 20000
    with lpgdb.connect(db_path, wal_segment_size=64 * 1024) as db:
        for i in range(20):
            with db.transaction() as tx:
                for j in range(5):
                    tx.create_node("N", {"i": i, "j": j, "pad": big})  # 100 KB commit > segment
        assert len(os.listdir(os.path.join(db_path, "wal"))) > 10
        engine = db._engine
        engine.close(checkpoint_on_close=False)   # crash-like: no checkpoint
        db._closed = True
    with lpgdb.connect(db_path) as db, db.snapshot() as s:
        assert s.node_count() == 100
        assert sorted((n["i"], n["j"]) for n in s.nodes("N")) == [(i, j) for i in range(20) for j in range(5)]


def test_checkpoint_then_replay(db_path):
    db = lpgdb.connect(db_path)
    with db.transaction() as tx:
        ids = [tx.create_node("N", {"i": i}) for i in range(10)]
        for a, b in zip(ids, ids[1:]):
            tx.create_edge(a, "NEXT", b, {"w": a})
    db.checkpoint()
    with db.transaction() as tx:
        tx.delete_node(ids[0], detach=True)
        tx.update_node(ids[1], set={"i": 100})
    db._engine.close(checkpoint_on_close=False)
    db._closed = True
    with lpgdb.connect(db_path) as db2, db2.snapshot() as s:
        assert s.node_count() == 9 and s.edge_count() == 8
        assert s.node(ids[1])["i"] == 100 and s.edge(1)["w"] == ids[1]
        db2.verify()


def test_sync_normal_flushes_in_the_background(db_path):
    import time
    with lpgdb.connect(db_path, sync="normal") as db:
        with db.transaction() as tx:
            tx.create_node("A")
        wal = db._engine.wal
        deadline = time.monotonic() + 60      # a bound for a loaded machine, not a speed check (every 0.1 s)
        while wal.durable_lsn < wal.end_lsn and time.monotonic() < deadline:
            time.sleep(0.02)
        assert wal.durable_lsn == wal.end_lsn   # synced without another commit or a close


def test_group_commit_from_many_threads(db_path, monkeypatch):
    import threading
    syncs = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (syncs.append(fd), real(fd))[1])
    with lpgdb.connect(db_path) as db:
        errors = []

        def worker(t):
            try:
                for i in range(40):
                    with db.transaction() as tx:
                        tx.create_node("T", {"t": t, "i": i})
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)
        threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert not errors
        with db.snapshot() as s:
            got = sorted((n["t"], n["i"]) for n in s.nodes("T"))
        assert got == [(t, i) for t in range(8) for i in range(40)]
        assert db._engine.wal.durable_lsn == db._engine.wal.end_lsn
    # commits that overlapped another thread's fdatasync shared the next one
    assert len(syncs) < 320


def _child_writer(path, n, opened, go, done):
    db = lpgdb.connect(path)
    opened.set()
    go.wait(30)
    for i in range(n):
        with db.transaction() as tx:
            tx.create_node("W", {"i": i})
    done.set()
    go.clear()
    import time
    while not go.is_set():      # keep the writer (and its lock) alive until told to stop
        time.sleep(0.01)
    db.close()


def test_readonly_process_follows_a_writer_process(db_path):
    import time
    ctx = mp.get_context("fork")
    lpgdb.connect(db_path).close()
    opened, go, done = ctx.Event(), ctx.Event(), ctx.Event()
    p = ctx.Process(target=_child_writer, args=(db_path, 50, opened, go, done))
    p.start()
    try:
        assert opened.wait(30)
        r = lpgdb.connect(db_path, readonly=True)
        with pytest.raises(lpgdb.OperationalError):
            lpgdb.connect(db_path)          # the child holds the writer lock
        go.set()
        seen = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r.refresh()
            with r.snapshot() as s:
                got = sorted(n["i"] for n in s.nodes("W"))
            assert got == list(range(len(got)))   # always a prefix of the writer's commits
            seen.append(len(got))
            if done.is_set() and len(got) == 50:
                break
            time.sleep(0.005)
        assert seen[-1] == 50
        go.set()
        p.join(30)
        r.refresh()
        assert r.snapshot().node_count("W") == 50
        r.close()
    finally:
        go.set()
        p.join(30)


def test_prepared_query_is_not_built_directly():
    """lpgdb.PreparedQuery is public (API.md) but made by db.prepare(): building one from
    anything else is an InterfaceError, not an AttributeError (found by test_odd_sweep)."""
    for args in (("A", "A"), (None, None)):
        with pytest.raises(lpgdb.InterfaceError, match=r"db\.prepare"):
            lpgdb.PreparedQuery(*args)
