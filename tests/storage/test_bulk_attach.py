"""Bulk attach (issue 11, storage/attach.py): a bulk load committed as data files + one small
ATTACH record.  The log is still the database: recovery, followers, backup, point-in-time
restore, the archive and replicas all see the load exactly when they see the record."""
import os
import time

import pytest

import lpgdb
from lpgdb.errors import CorruptionError, OperationalError, SchemaViolationError
from lpgdb.storage import attach, checkpoint, records, wal

SCHEMA = """CREATE GRAPH TYPE G STRICT {
  (P: Person {pid INT64, name STRING, age INT64}),
  (:P)-[K: KNOWS {since INT64}]->(:P),
  FOR (x:Person) KEY x.pid
}"""


@pytest.fixture(autouse=True)
def _attach_every_bulk_load(monkeypatch):
    monkeypatch.setattr(attach, "ATTACH_MIN_ROWS", 1)


def _csv(d, nodes=300, edges=900, first=1, seed=3):
    import random
    rng = random.Random(seed)
    pids = list(range(first, first + nodes))
    p, k = os.path.join(d, f"p{first}.csv"), os.path.join(d, f"k{first}.csv")
    with open(p, "w") as f:
        f.write("pid:ID(P),name,age:int\n")
        for i in pids:
            f.write(f"{i},n{i},{i % 90}\n")
    with open(k, "w") as f:
        f.write(":START_ID(P),:END_ID(P),since:int\n")
        for j in range(edges):
            f.write(f"{rng.choice(pids)},{rng.choice(pids)},{1990 + j % 30}\n")
    return p, k


def _load(db, files):
    return db.bulk_load(nodes={"Person": files[0]}, edges={"KNOWS": files[1]}, id_type="integer")


def _state(db):
    """Everything a load shows: nodes with properties, edges with endpoints and properties,
    key lookups and degrees."""
    with db.snapshot() as s:
        nodes = sorted((n["pid"], n["name"], n["age"]) for n in s.nodes("Person"))
        edges = sorted((s.node(e.src)["pid"], s.node(e.dst)["pid"], e["since"]) for e in s.edges("KNOWS"))
        probe = []
        for pid in (1, 7, 150):
            found = list(s.find_nodes("Person", pid=pid))
            probe.append([(x["name"], s.degree(x.id, "out", "KNOWS"), s.degree(x.id, "in", "KNOWS"))
                          for x in found])
        return nodes, edges, probe, s.node_count("Old")


def _records(path):
    """The op codes of every record in the log."""
    meta = checkpoint.read_meta(os.path.join(path, "META"))
    out = []
    gen = wal.scan(os.path.join(path, "wal"), meta.uuid, meta.seg_size, 0)
    try:
        while True:
            _b, _e, _s, payload = next(gen)
            out.append([op[0] for op in records.decode_commit(payload)[1]])
    except StopIteration:
        return out
    except Exception:
        return out


def _named(path):
    """Names of the data files the current checkpoint names."""
    meta = checkpoint.read_meta(os.path.join(path, "META"))
    man = checkpoint.load_manifest(path, meta) if meta.manifest_len else None
    return {os.path.basename(r) for r, _c, _s in checkpoint.manifest_files(man)}


def _reference(tmp_path, files, prior=False):
    """The same load through the logged path (no attach)."""
    path = str(tmp_path / "ref")
    db = lpgdb.connect(path)
    old = attach.ATTACH_MIN_ROWS
    attach.ATTACH_MIN_ROWS = 1 << 62
    try:
        if prior:
            _prior(db)
        _load(db, files)
        return _state(db)
    finally:
        attach.ATTACH_MIN_ROWS = old
        db.close()


def _prior(db):
    db.create_index("Person", "pid")
    with db.transaction() as tx:
        a = tx.create_node(["Old"], {"k": 1})
        b = tx.create_node(["Person"], {"pid": 100000, "name": "x", "age": 1})
        tx.create_edge(a, "OLD", b, {})


def test_a_load_is_files_and_one_small_record_and_reads_as_the_logged_path(tmp_path):
    files = _csv(str(tmp_path))
    path = str(tmp_path / "db")
    db = lpgdb.connect(path)
    _prior(db)                       # a non-empty overlay: the attach checkpoints it first
    before = db._engine.wal.end_lsn
    nodes, edges = _load(db, files)
    assert (len(nodes), len(edges)) == (300, 900)
    assert db._engine.wal.end_lsn - before < 8192           # the WAL does not carry the load
    assert not db._engine.state.changed()                     # installed as the base
    got = _state(db)
    db.verify()
    db.close()
    assert got == _reference(tmp_path, files, prior=True)
    assert [records.ATTACH] in _records(path)
    with lpgdb.connect(path) as db:                          # reopen
        assert _state(db) == got
        db.verify()


def test_loading_again_merges_into_the_partitions_that_hold_data(tmp_path):
    d = str(tmp_path)
    a, b = _csv(d, 200, 500, first=1, seed=1), _csv(d, 200, 500, first=1001, seed=2)
    path = str(tmp_path / "db")
    with lpgdb.connect(path) as db:
        _load(db, a)
        _load(db, b)
        with db.transaction() as tx:     # a logged commit after the attaches
            tx.create_node(["Person"], {"pid": 5000, "name": "late", "age": 3})
        got = _state(db)
        with db.snapshot() as s:
            assert s.node_count("Person") == 401
            assert s.edge_count("KNOWS") == 1000
    with lpgdb.connect(path) as db:
        assert _state(db) == got
        db.verify()


def test_crash_after_the_record_before_the_meta_switch_recovers_the_load(tmp_path, monkeypatch):
    files = _csv(str(tmp_path))
    path = str(tmp_path / "db")
    db = lpgdb.connect(path)
    _prior(db)
    db.checkpoint()
    meta_before = checkpoint.read_meta(os.path.join(path, "META"))

    def fail(*a, **k):
        raise OperationalError("injected: META write")
    monkeypatch.setattr(checkpoint, "switch", fail)
    with pytest.raises(OperationalError, match="committed"):
        _load(db, files)
    with pytest.raises(OperationalError):                     # poisoned: reopen
        with db.transaction() as tx:
            tx.create_node(["X"], {})
    db.close()
    monkeypatch.undo()
    assert checkpoint.read_meta(os.path.join(path, "META")).checkpoint_lsn == meta_before.checkpoint_lsn
    with lpgdb.connect(path) as db:                          # replays the ATTACH record
        assert db._engine.meta.checkpoint_lsn > meta_before.checkpoint_lsn   # switched at open
        got = _state(db)
        db.verify()
    assert got == _reference(tmp_path, files, prior=True)
    assert set(os.listdir(os.path.join(path, "data"))) == _named(path)


def test_a_failure_before_the_record_leaves_the_database_as_it_was(tmp_path, monkeypatch):
    files = _csv(str(tmp_path))
    path = str(tmp_path / "db")
    db = lpgdb.connect(path)
    _prior(db)
    db.checkpoint()
    data_before = sorted(os.listdir(os.path.join(path, "data")))
    state_before = _state(db)
    real = checkpoint._write_file
    calls = []

    def fail_third(dirpath, tmpdir, name, data, written):
        calls.append(name)
        if len(calls) == 3:
            raise OperationalError("disk full: injected", reason="disk_full")
        return real(dirpath, tmpdir, name, data, written)
    monkeypatch.setattr(checkpoint, "_write_file", fail_third)
    with pytest.raises(OperationalError, match="disk full"):
        _load(db, files)
    monkeypatch.undo()
    assert sorted(os.listdir(os.path.join(path, "data"))) == data_before
    assert _state(db) == state_before                          # memory too
    _load(db, files)                                           # the handle is usable
    got = _state(db)
    db.close()
    with lpgdb.connect(path) as db:
        assert _state(db) == got


def test_orphan_files_of_a_load_that_never_committed_are_swept_at_open(tmp_path, monkeypatch):
    files = _csv(str(tmp_path))
    path = str(tmp_path / "db")
    db = lpgdb.connect(path)
    _prior(db)
    db.checkpoint()
    before = _state(db)
    data_before = sorted(os.listdir(os.path.join(path, "data")))
    # the files are durable in data/, then the process dies before the record is written
    from lpgdb.storage import wal as _wal

    def die(self, payload):
        raise SystemExit("killed")
    monkeypatch.setattr(_wal.WalWriter, "append", die)
    monkeypatch.setattr(checkpoint, "discard", lambda *a: None)   # a crash removes nothing
    with pytest.raises(SystemExit):
        _load(db, files)
    monkeypatch.undo()
    assert len(os.listdir(os.path.join(path, "data"))) > len(data_before)
    db._engine.close(checkpoint_on_close=False)
    db._closed = True
    with lpgdb.connect(path) as db2:
        assert _state(db2) == before
    assert sorted(os.listdir(os.path.join(path, "data"))) == data_before


def test_a_damaged_attached_file_is_corruption_at_replay(tmp_path, monkeypatch):
    files = _csv(str(tmp_path))
    path = str(tmp_path / "db")
    db = lpgdb.connect(path)
    monkeypatch.setattr(checkpoint, "switch", lambda *a, **k: (_ for _ in ()).throw(OperationalError("x")))
    with pytest.raises(OperationalError):
        _load(db, files)
    db.close()
    monkeypatch.undo()
    new = sorted(set(os.listdir(os.path.join(path, "data"))) - _named(path))
    assert new
    victim = os.path.join(path, "data", new[0])
    with open(victim, "r+b") as f:
        f.seek(200)
        b = f.read(1)
        f.seek(200)
        f.write(bytes([b[0] ^ 1]))
    with pytest.raises(CorruptionError, match="bulk attach"):
        lpgdb.connect(path)


def test_followers_see_the_load_when_the_record_is_durable(tmp_path):
    files = _csv(str(tmp_path))
    path = str(tmp_path / "db")
    db = lpgdb.connect(path)
    _prior(db)
    with db.transaction() as tx:
        tx.create_node(["Old"], {"k": 2})
    f = lpgdb.connect(path, readonly=True)          # replayed commits: a non-empty overlay
    with f.snapshot() as s:
        assert s.node_count("Person") == 1
    _load(db, files)
    want = _state(db)
    f.refresh()
    assert _state(f) == want
    f2 = lpgdb.connect(path, readonly=True)
    assert _state(f2) == want
    # a follower's backup holds the load
    f2.backup(str(tmp_path / "fbackup"))
    f.close()
    f2.close()
    db.close()
    with lpgdb.connect(str(tmp_path / "fbackup")) as b:
        assert _state(b) == want


def test_backup_and_restore_after_a_load(tmp_path):
    files = _csv(str(tmp_path))
    path = str(tmp_path / "db")
    with lpgdb.connect(path) as db:
        _prior(db)
        _load(db, files)
        want = _state(db)
        db.backup(str(tmp_path / "b"))
    lpgdb.restore(str(tmp_path / "b"), str(tmp_path / "r"))
    with lpgdb.connect(str(tmp_path / "r")) as db:
        assert _state(db) == want
        db.verify()


def test_archive_restore_before_and_after_the_attach_and_a_replica(tmp_path):
    files = _csv(str(tmp_path))
    path, arch = str(tmp_path / "db"), str(tmp_path / "arch")
    db = lpgdb.connect(path, archive=arch, archive_interval=0.05)
    _prior(db)
    with db.transaction() as tx:
        tx.create_node(["Old"], {"k": 2})
    lsn_before = db._engine.wal.end_lsn
    before = _state(db)
    rpath = str(tmp_path / "replica")
    deadline = time.time() + 20             # a replica starts from a base: wait for the first one
    while db.archive_status().newest_base_lsn is None and time.time() < deadline:
        time.sleep(0.02)
    rep = lpgdb.connect(rpath, readonly=True, follow=arch, follow_interval=0.02)
    _load(db, files)
    want = _state(db)
    with db.transaction() as tx:
        tx.create_node(["Old"], {"k": 3})
    deadline = time.time() + 20
    while db.archive_status().lag_bytes and time.time() < deadline:
        time.sleep(0.05)
    lsn_after = db._engine.wal.end_lsn
    db.close()
    lpgdb.restore(arch, str(tmp_path / "pre"), until=lsn_before)
    with lpgdb.connect(str(tmp_path / "pre")) as r:
        assert _state(r) == before
    lpgdb.restore(arch, str(tmp_path / "post"), until=lsn_after)
    with lpgdb.connect(str(tmp_path / "post")) as r:
        got = _state(r)
        assert got[:3] == want[:3] and got[3] == 3
        r.verify()
    deadline = time.time() + 20
    while time.time() < deadline:
        with rep.snapshot() as s:
            if s.node_count("Old") == 3:
                break
        time.sleep(0.05)
    got = _state(rep)
    assert got[:3] == want[:3] and got[3] == 3
    rep.close()


def test_a_refused_load_writes_nothing(tmp_path):
    d = str(tmp_path)
    files = _csv(d, 100, 200)
    path = str(tmp_path / "db")
    with lpgdb.connect(path) as db:
        db.set_schema(SCHEMA)
        _load(db, files)                                          # valid: attached
        assert [records.ATTACH] in _records(path)
        data = sorted(os.listdir(os.path.join(path, "data")))
        lsn = db._engine.wal.end_lsn
        before = _state(db)
        dup = _csv(d, 10, 5, first=50, seed=9)                 # pids 50..59 exist: KEY violated
        with pytest.raises(SchemaViolationError):
            _load(db, dup)
        assert sorted(os.listdir(os.path.join(path, "data"))) == data
        assert db._engine.wal.end_lsn == lsn
        assert _state(db) == before


def test_a_fault_at_every_io_call_site_of_an_attach_is_all_or_nothing(tmp_path):
    """EIO (and ENOSPC at writes) at every I/O call site of open + bulk attach + close: a typed
    error; the handle shows the state before (or is poisoned); after a reopen the database holds
    none of the load or all of it (all of it whenever the load was acknowledged or said it was
    committed), no stray data files, and takes a commit."""
    import shutil
    from lpgdb.storage import io as sio
    files = _csv(str(tmp_path), 200, 400)
    base = str(tmp_path / "base")
    with lpgdb.connect(base) as db:
        _prior(db)
        before = _state(db)
    after = _reference(tmp_path, files, prior=True)
    work = str(tmp_path / "w")

    def run(fault):
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(base, work)
        sim = sio.Simulator(work, real_sync=False)
        if fault:
            sim.fail(*fault[:2], error=fault[2])
        sio.install(sim)
        outcome = None
        try:
            try:
                db = lpgdb.connect(work)
            except lpgdb.Error:
                return sim, "open failed", None
            try:
                _load(db, files)
                outcome = "acked"
            except lpgdb.Error as e:
                outcome = "committed" if "is committed" in str(e) else "failed"
                got = _state(db)
                if outcome == "failed" and not db._engine._poisoned and not db._engine.wal.failed:
                    assert got == before, f"{fault}: the handle shows part of a failed load"
            try:
                db.close()
            except lpgdb.Error:
                pass
        finally:
            sio.uninstall()
        return sim, outcome, None

    sim, outcome, _ = run(None)
    assert outcome == "acked"
    sites = sim.sites()
    assert any("attach" in site or "build_files" in site for _k, site in sites)
    assert {k for k, site in sites if "stream" in site} >= {"open", "write", "read", "unlink"}, sites  # the spill
    faults = [(k, s, "EIO") for k, s in sites] + [(k, s, "ENOSPC") for k, s in sites if k in ("write", "pwrite")]
    seen = set()
    for fault in faults:
        _sim, outcome, _ = run(fault)
        with lpgdb.connect(work) as db:
            got = _state(db)
            assert got in (before, after), f"{fault}: part of the load after a reopen"
            if outcome in ("acked", "committed"):
                assert got == after, f"{fault}: an acknowledged load is gone after a reopen"
            seen.add("all" if got == after else "none")
            with db.transaction() as tx:
                tx.create_node(["After"], {})
        assert set(os.listdir(os.path.join(work, "data"))) == _named(work), f"{fault}: stray files"
        assert not os.listdir(os.path.join(work, "tmp")), f"{fault}: a spill file outlived the next open"
    assert seen == {"all", "none"}, seen
    assert len(faults) >= 30, sites


def test_bulk_import_writes_key_files_as_it_goes_and_lpgdb_import_takes_index(tmp_path, monkeypatch):
    import subprocess
    import sys
    import lpgdb.database
    files = _csv(str(tmp_path), 300, 900)
    monkeypatch.setattr(lpgdb.database, "IMPORT_SPILL_MAX", 4096)      # several spill flushes
    path = str(tmp_path / "new")
    n, m = lpgdb.bulk_import(path, nodes={"Person": files[0]}, edges={"KNOWS": files[1]}, id_type="integer",
                             indexes=[("Person", "pid")])
    assert (n, m) == (300, 900)
    with lpgdb.connect(path) as db:
        assert [i for i in db.indexes() if i.label == "Person"]
        assert any(f.startswith("key-") for f in os.listdir(os.path.join(path, "data")))
        got = _state(db)
        ref = _reference(tmp_path, files)
        assert got[:2] == ref[:2] and got[2] == ref[2]
        db.verify()
    with pytest.raises(lpgdb.InterfaceError):
        lpgdb.bulk_import(str(tmp_path / "x"), nodes={"Person": files[0]}, indexes=["Person.pid"])
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    r = subprocess.run([sys.executable, "-m", "lpgdb", "import", str(tmp_path / "cli"), f"--nodes=Person={files[0]}",
                        f"--edges=KNOWS={files[1]}", "--index", "Person.pid", "--id-type", "integer", "--no-progress"],
                       capture_output=True, text=True, cwd=root,
                       env=dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", "")))
    assert r.returncode == 0, r.stderr
    with lpgdb.connect(str(tmp_path / "cli")) as db:
        assert [i for i in db.indexes() if i.label == "Person"]
        with db.snapshot() as s:
            assert len(list(s.find_nodes("Person", pid=7))) == 1


def test_edges_between_existing_nodes_join_their_partitions_csr(tmp_path):
    path = str(tmp_path / "db")
    with lpgdb.connect(path) as db:
        with db.transaction() as tx:
            ids = [tx.create_node(["N"], {"i": i}) for i in range(50)]
            tx.create_edge(ids[0], "R", ids[1], {"w": -1})
        with db.transaction() as tx:          # a deletion and an update in the base
            tx.delete_node(ids[49])
            tx.update_node(ids[3], set={"i": 300})
        db.checkpoint()
        rows = [(ids[j % 49], "R", ids[(j * 7) % 49], {"w": j}) for j in range(3000)]
        _nids, eids = db.bulk_load(edges=rows)
        assert len(eids) == 3000
        assert [records.ATTACH] in _records(path)
        want = {}
        for s_, _l, d, p in [(ids[0], "R", ids[1], {"w": -1})] + rows:
            want[s_] = want.get(s_, 0) + 1
    with lpgdb.connect(path) as db, db.snapshot() as s:
        assert s.edge_count("R") == 3001
        for nid, deg in want.items():
            assert s.degree(nid, "out", "R") == deg
        assert sorted(e["w"] for e in s.edges("R")) == sorted([-1] + list(range(3000)))
        assert s.node(ids[3])["i"] == 300 and not s.has_node(ids[49])
        db.verify()


def _history(path, seed, attach_rows):
    """A random history of commits, deletions, bulk loads (rows and CSV), checkpoints and reopens;
    returns what a snapshot shows at the end."""
    import random
    rng = random.Random(seed)
    old = attach.ATTACH_MIN_ROWS
    attach.ATTACH_MIN_ROWS = attach_rows
    try:
        db = lpgdb.connect(path)
        if rng.random() < 0.5:
            db.create_index("N", "k")
        nodes = []
        for step in range(14):
            r = (0.0, 0.4)[step] if step < 2 else rng.random()    # nodes, then edges, first
            if r < 0.35:
                nids, _ = db.bulk_load(nodes=[(["N"], {"k": rng.randrange(10 ** 6), "s": f"v{j}"})
                                              for j in range(rng.randrange(1, 300))])
                nodes += list(nids)
            elif r < 0.55 and nodes:
                live = [n for n in nodes if n is not None]
                db.bulk_load(edges=[(rng.choice(live), rng.choice(["R", "S"]), rng.choice(live),
                                     {"w": rng.random()} if rng.random() < 0.7 else {})
                                    for _ in range(rng.randrange(1, 500))])
            elif r < 0.8 and nodes:
                with db.transaction() as tx:
                    for _ in range(rng.randrange(1, 6)):
                        i = rng.randrange(len(nodes))
                        if nodes[i] is None:
                            continue
                        if rng.random() < 0.3:
                            tx.delete_node(nodes[i], detach=True)
                            nodes[i] = None
                        else:
                            tx.update_node(nodes[i], set={"k": rng.randrange(10 ** 6)})
            elif r < 0.9:
                db.checkpoint()
            else:
                db.close()
                db = lpgdb.connect(path)
        with db.snapshot() as s:
            out = (sorted((n.id, n["k"], n["s"]) for n in s.nodes("N")),
                   sorted((e.id, e.src, e.dst, e.label, e.get("w"))
                          for e in s.edges()),
                   [s.degree(n, "in") for n in nodes if n is not None])
        db.verify()
        db.close()
        return out
    finally:
        attach.ATTACH_MIN_ROWS = old


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_histories_read_the_same_attached_or_logged(tmp_path, seed):
    a = _history(str(tmp_path / "attached"), seed, 1)
    b = _history(str(tmp_path / "logged"), seed, 1 << 62)
    assert a == b
    assert a[0] and a[1]                         # the history made nodes and edges


def test_power_loss_at_every_io_call_of_an_attach_is_all_or_nothing(tmp_path):
    """Power-loss images (tests/crash/test_power_loss.py's simulator: synced data stays, unsynced
    writes kept, dropped or torn, unsynced directory entries a random prefix) before every I/O
    call of a bulk attach: each opens (never CorruptionError) with none or all of the load, and
    an image taken after the load returned holds all of it."""
    import random
    import shutil
    from lpgdb.storage import io as sio
    files = _csv(str(tmp_path), 200, 400)
    root = str(tmp_path / "root")
    os.makedirs(root)
    path = os.path.join(root, "db")
    with lpgdb.connect(path) as db:
        _prior(db)
        before = _state(db)
    after = _reference(tmp_path, files, prior=True)
    rng = random.Random(5)
    seen = []

    def check(mode, label):
        dest = str(tmp_path / "img")
        shutil.rmtree(dest, ignore_errors=True)
        sim.image(dest, rng, mode=mode)
        try:
            with lpgdb.connect(os.path.join(dest, "db")) as db:
                got = _state(db)
                assert got in (before, after), f"{label}: part of the load"
                seen.append(got == after)
                return got
        finally:
            shutil.rmtree(dest, ignore_errors=True)

    def shot(n, kind, site):
        if armed:
            check(rng.choice(("random", "random", "drop_all", "keep_all")), f"call {n} ({kind} {site})")

    armed = False
    sim = sio.Simulator(root, record=True, real_sync=False, on_call=shot)
    with sio.installed(sim):
        db = lpgdb.connect(path)
        armed = True
        _load(db, files)
        armed = False
        assert check("drop_all", "after the load returned") == after
        db.close()
    assert len(seen) >= 30 and any(seen) and not all(seen)


def test_catalog_version_only_moves_forward_across_a_failed_attach(tmp_path, monkeypatch):
    files = _csv(str(tmp_path))
    path = str(tmp_path / "db")
    db = lpgdb.connect(path)
    db.create_index("Person", "pid")
    db.checkpoint()                                    # the attach fails in its own build
    v0 = db._engine.state.catalog.version

    def fail(*a, **k):
        raise OperationalError("disk full: injected", reason="disk_full")
    monkeypatch.setattr(checkpoint, "build_files", fail)
    with pytest.raises(OperationalError):
        _load(db, files)
    monkeypatch.undo()
    assert db._engine.state.catalog.version > v0      # a new catalog object, a newer version
    _load(db, files)
    with db.snapshot() as s:
        assert s.node_count("Person") == 300
    db.close()


def test_a_replica_meeting_the_attach_loads_a_later_base_when_the_one_at_its_end_is_gone(tmp_path):
    """A replica that replays up to just before an attach, and then meets the record when the base
    at the record's end is gone (retention removed it once a newer base was shipped), loads the
    newest base after the record instead of failing: it used to read exactly the base at the end,
    and its thread died of the NotFoundError."""
    from lpgdb.storage import archive, store as objstore
    files = _csv(str(tmp_path))
    path, arch, rpath = str(tmp_path / "db"), str(tmp_path / "arch"), str(tmp_path / "replica")
    db = lpgdb.connect(path, archive=arch, archive_interval=0.05)
    _prior(db)

    def shipped():
        deadline = time.time() + 20
        while db.archive_status().lag_bytes and time.time() < deadline:
            time.sleep(0.05)
        assert db.archive_status().lag_bytes == 0

    shipped()
    rep = lpgdb.connect(rpath, readonly=True, follow=arch, follow_interval=0.02)
    deadline = time.time() + 20
    while time.time() < deadline:
        with rep.snapshot() as s:
            if s.node_count("Old") == 1:
                break
        time.sleep(0.05)
    rep.close()                                        # it stops just before the attach
    bases_before = set(os.listdir(os.path.join(arch, "base")))
    _load(db, files)
    with db.transaction() as tx:
        tx.create_node(["Old"], {"k": 3})
    db.checkpoint()                                    # a newer base than the attach's
    shipped()
    want = _state(db)
    db.close()
    store = objstore.open_store(arch)
    new = sorted(archive.list_bases(store))
    assert len(new) >= 2
    for b in new[:-1]:                                 # retention: only the newest is kept
        if os.path.basename(archive.base_name(b)) not in bases_before:
            os.unlink(os.path.join(arch, archive.base_name(b)))
    rep = lpgdb.connect(rpath, readonly=True, follow=arch, follow_interval=0.02)
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            with rep.snapshot() as s:
                if s.node_count("Old") == 2:           # _prior's and the one after the load
                    break
            time.sleep(0.05)
        assert _state(rep) == want
    finally:
        rep.close()
