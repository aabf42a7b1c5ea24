"""db.backup() from a read-only handle beside a running writer (no lock): the copy is the
writer's last checkpoint plus the durable log after it, and survives concurrent checkpoints."""
import multiprocessing as mp

import lpgdb


def _writer(path, ready, stop, checkpoint_every):
    with lpgdb.connect(path, checkpoint_wal_bytes=1 << 40) as db:
        i = 0
        while not stop.is_set():
            with db.transaction() as tx:
                tx.create_node("N", {"i": i})
            i += 1
            if i == 50:
                ready.set()
            if checkpoint_every and i % checkpoint_every == 0:
                db.checkpoint()


def _count(path):
    with lpgdb.connect(path, readonly=True) as db, db.snapshot() as s:
        return s.node_count(), sorted(n["i"] for n in s.nodes("N"))


def test_backup_from_a_follower_while_the_writer_commits_and_checkpoints(tmp_path):
    path = str(tmp_path / "db")
    lpgdb.connect(path).close()
    ctx = mp.get_context("fork")
    ready, stop = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_writer, args=(path, ready, stop, 7))
    p.start()
    try:
        assert ready.wait(60)
        with lpgdb.connect(path, readonly=True) as ro:
            for k in range(6):
                dest = str(tmp_path / f"bk{k}")
                ro.backup(dest)
                n, values = _count(dest)
                assert n >= 50 and values == list(range(n))       # a prefix of the commits, no gap
                lpgdb.restore(dest, str(tmp_path / f"r{k}"))       # verified on the way
                assert _count(str(tmp_path / f"r{k}"))[0] == n
    finally:
        stop.set()
        p.join(60)
    with lpgdb.connect(path, readonly=True) as ro:
        ro.backup(str(tmp_path / "final"))
    assert _count(str(tmp_path / "final")) == _count(path)


def test_cli_backup_opens_read_only(tmp_path, capsys):
    from lpgdb.cli import main
    path = str(tmp_path / "db")
    ctx = mp.get_context("fork")
    lpgdb.connect(path).close()
    ready, stop = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_writer, args=(path, ready, stop, 0))
    p.start()
    try:
        assert ready.wait(60)
        assert main(["backup", path, str(tmp_path / "bk")]) == 0
    finally:
        stop.set()
        p.join(60)
    assert _count(str(tmp_path / "bk"))[0] >= 50


def test_backup_from_a_follower_copies_again_when_the_writer_checkpoints_during_the_log_copy(
        tmp_path, monkeypatch):
    # the writer gives back the log below a new checkpoint (wal.drop_segments_below) after its
    # META switch; a follower that read META before that and copies the log after it must not
    # keep the zeros it read there (its copy would not open: CorruptionError)
    from lpgdb.storage.engine import Engine
    path = str(tmp_path / "db")
    w = lpgdb.connect(path, checkpoint_wal_bytes=1 << 40)
    for i in range(100):
        with w.transaction() as tx:
            tx.create_node("N", {"i": i})
    ro = lpgdb.connect(path, readonly=True)
    copy_log, calls = Engine._copy_log, []

    def checkpoint_first(self, wal_dir, meta, end):
        if not calls:
            calls.append(meta.checkpoint_lsn)
            w.checkpoint()
        return copy_log(self, wal_dir, meta, end)
    monkeypatch.setattr(Engine, "_copy_log", checkpoint_first)
    ro.backup(str(tmp_path / "bk"))
    ro.close()
    w.close()
    assert calls and _count(str(tmp_path / "bk")) == (100, list(range(100)))
