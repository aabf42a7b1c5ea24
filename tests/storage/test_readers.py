"""Readers pin by reference: a snapshot holds the engine's shared view of its LSN, and the view's
life is the pin (graph.py, "readers").  White-box where it must be: the trim floor and the
freeing of retired generations are what the pin protects."""
import gc
import threading

import pytest

import lpgdb


def _state(db):
    return db._engine.state


def _counter(db):
    with db.transaction() as tx:
        a = tx.create_node("C", {"v": 0})
        b = tx.create_node("C", {"v": 0})
    return a, b


def _bump(db, a, b, v):
    with db.transaction() as tx:
        tx.update_node(a, set={"v": v})
        tx.update_node(b, set={"v": v})


def test_a_snapshot_holds_the_trim_floor_until_closed(db):
    a, b = _counter(db)
    s = db.snapshot()
    for v in range(1, 6):
        _bump(db, a, b, v)
    st = _state(db)
    assert st.trim_floor() == s.lsn < st.visible_lsn
    assert s.node(a)["v"] == 0 and s.node(b)["v"] == 0     # its versions were kept
    s.close()
    assert st.trim_floor() == st.visible_lsn
    with db.snapshot() as s2:
        assert s2.node(a)["v"] == 5


def test_a_snapshot_dropped_unclosed_releases_its_pin(db):
    a, b = _counter(db)
    s = db.snapshot()
    lsn = s.lsn
    _bump(db, a, b, 1)
    st = _state(db)
    assert st.trim_floor() == lsn
    del s
    gc.collect()
    assert st.trim_floor() == st.visible_lsn > lsn


def test_two_snapshots_of_one_lsn_share_the_view_and_the_pin(db):
    a, b = _counter(db)
    s1, s2 = db.snapshot(), db.snapshot()
    assert s1.lsn == s2.lsn
    _bump(db, a, b, 1)
    st = _state(db)
    s1.close()
    assert st.trim_floor() == s2.lsn            # the other reader still pins it
    assert s2.node(a)["v"] == 0
    s2.close()
    assert st.trim_floor() == st.visible_lsn


def test_a_closed_snapshot_refuses_every_read(db):
    a, b = _counter(db)
    db.create_index("C", "v")
    s = db.snapshot()
    it = s.nodes("C")
    assert next(it).id == a
    lsn = s.lsn
    s.close()
    s.close()                                   # idempotent
    assert s.lsn == lsn
    for read in (lambda: s.node(a), lambda: s.key_lookup("C", "v", 0), lambda: s.degree(a),
                 lambda: s.node_raw(a), lambda: s.node_count(), lambda: list(s.nodes()),
                 lambda: s.execute("MATCH (n) RETURN n"), lambda: next(it)):
        with pytest.raises(lpgdb.InterfaceError, match="closed"):
            read()


def test_an_old_snapshot_reads_everything_after_two_checkpoints_then_frees_its_generation(db):
    a, b = _counter(db)
    s = db.snapshot()
    old = _state(db)
    for v in (1, 2):
        _bump(db, a, b, v)
        db.checkpoint()
    assert _state(db) is not old and old.retired and not old._freed
    assert [(n.id, n["v"]) for n in s.nodes("C")] == [(a, 0), (b, 0)]
    assert s.key_lookup("C", "v", 0) is None                 # no index then
    s.close()
    assert old._freed                                          # its last reader went
    with db.snapshot() as s2:
        assert [n["v"] for n in s2.nodes("C")] == [2, 2]


def test_readers_in_threads_across_commits_and_checkpoints(db):
    a, b = _counter(db)
    stop = threading.Event()
    problems = []
    states = []

    def reader():
        last = -1
        while not stop.is_set():
            with db.snapshot() as s:
                va, vb = s.node(a)["v"], s.node(b)["v"]
                if va != vb or va < last:
                    problems.append((va, vb, last))
                last = va

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for v in range(1, 41):
            _bump(db, a, b, v)
            if v % 10 == 0:
                states.append(_state(db))
                db.checkpoint()
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert problems == []
    gc.collect()
    assert all(st.retired and st._freed for st in states)      # every replaced generation freed
    st = _state(db)
    assert st.trim_floor() == st.visible_lsn                    # no pin left behind
    with db.snapshot() as s:
        assert s.node(a)["v"] == s.node(b)["v"] == 40
