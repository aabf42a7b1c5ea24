"""Continuous archiving and point-in-time restore."""
import datetime as dt
import os
import time

import pytest

import lpgdb


def _nodes(path):
    with lpgdb.connect(path, readonly=True) as db, db.snapshot() as s:
        db.verify()
        return sorted(n["i"] for n in s.nodes("N"))


def test_point_in_time_restore_by_time_and_lsn(tmp_path):
    path, arch = str(tmp_path / "db"), str(tmp_path / "archive")
    db = lpgdb.connect(path, archive=arch, wal_segment_size=64 * 1024)
    marks = {}
    for i in range(60):
        with db.transaction() as tx:
            tx.create_node("N", {"i": i, "pad": "x" * 2000})
            if i % 7 == 0 and i:
                tx.delete_node(next(tx.find_nodes("N", i=i - 7)).id)
        if i in (9, 30, 59):
            marks[i] = (dt.datetime.now(), db._engine.wal.end_lsn)
            time.sleep(0.002)
        if i % 15 == 14:
            db.checkpoint()
    db.close()
    assert len(os.listdir(os.path.join(arch, "base"))) >= 2    # the first and the last checkpoint

    def expected(k):
        alive = set()
        for i in range(k + 1):
            alive.add(i)
            if i % 7 == 0 and i:
                alive.discard(i - 7)
        return sorted(alive)

    for k in (9, 30, 59):
        when, lsn = marks[k]
        lpgdb.restore(arch, str(tmp_path / f"t{k}"), until=when)
        assert _nodes(str(tmp_path / f"t{k}")) == expected(k)
        lpgdb.restore(arch, str(tmp_path / f"l{k}"), until=lsn)
        assert _nodes(str(tmp_path / f"l{k}")) == expected(k)
    lpgdb.restore(arch, str(tmp_path / "all"))
    assert _nodes(str(tmp_path / "all")) == expected(59)
    # the restored database is writable and independent (a new history)
    with lpgdb.connect(str(tmp_path / "t30")) as r:
        with r.transaction() as tx:
            tx.create_node("N", {"i": 1000})
    assert _nodes(str(tmp_path / "t30")) == expected(30) + [1000]


def test_restore_refuses_a_point_before_the_archive(tmp_path):
    path, arch = str(tmp_path / "db"), str(tmp_path / "archive")
    with lpgdb.connect(path) as db:                 # history from before archiving started
        with db.transaction() as tx:
            tx.create_node("N", {"i": 0})
    between = dt.datetime.now()
    time.sleep(0.002)
    with lpgdb.connect(path) as db:
        with db.transaction() as tx:
            tx.create_node("N", {"i": 1})
    with lpgdb.connect(path, archive=arch) as db:  # the first base: everything so far
        with db.transaction() as tx:
            tx.create_node("N", {"i": 2})
    with pytest.raises(lpgdb.OperationalError, match="no base"):
        lpgdb.restore(arch, str(tmp_path / "r"), until=between)
    lpgdb.restore(arch, str(tmp_path / "r"), until=dt.datetime.now())
    assert _nodes(str(tmp_path / "r")) == [0, 1, 2]
    with pytest.raises(lpgdb.InterfaceError):
        lpgdb.restore(path, str(tmp_path / "r2"), until=between)   # a database, not an archive


def test_restore_to_every_commit_of_a_history_across_checkpoints(tmp_path):
    """Issue 9 B3: replay that crosses a checkpoint (and segment boundaries, and commits
    fragmented over several segments) restores every archived commit boundary exactly."""
    import random
    rng = random.Random(14)
    path, arch = str(tmp_path / "db"), str(tmp_path / "archive")
    db = lpgdb.connect(path, archive=arch, wal_segment_size=64 * 1024)
    model, ids, history = {}, {}, []
    for i in range(26):
        with db.transaction() as tx:
            for _ in range(rng.randint(1, 3)):
                if ids and rng.random() < 0.3:
                    k = rng.choice(sorted(ids))
                    tx.delete_node(ids.pop(k), detach=True)
                    del model[k]
                else:
                    k = len(history) * 10 + len(ids)
                    pad = "x" * rng.choice((10, 3000, 90_000))   # 90 KB spans segments
                    ids[k] = tx.create_node("N", {"i": k, "pad": pad})
                    model[k] = len(pad)
        with db.snapshot() as s:
            history.append((s.lsn, dict(model)))
        if rng.random() < 0.2:
            db.checkpoint()
    db.close()
    for n, (lsn, expect) in enumerate(history):
        dest = str(tmp_path / f"r{n}")
        lpgdb.restore(arch, dest, until=lsn)
        with lpgdb.connect(dest, readonly=True) as r, r.snapshot() as s:
            got = {node["i"]: len(node["pad"]) for node in s.nodes("N")}
        assert got == expect, f"restore to commit {n} (LSN {lsn})"
