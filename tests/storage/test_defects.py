"""Regression tests for the storage defects of issue 9 (B1 B2 B5 B6 B7 B8 B9 B13 B14 B15 B16
B18).  Each failed against the engine before its fix.  Faults are injected by patching ``os``
functions (so the tests do not depend on how the engine reaches them), except where the
power-loss simulator of ``storage/io.py`` is the point."""
import errno
import math
import os
import signal
import struct

import pytest

import lpgdb
from lpgdb import core
from lpgdb.storage import checkpoint, io, records, wal

SEG = 128 * 1024


def _path_of(target):
    if isinstance(target, int):
        try:
            return os.readlink(f"/proc/self/fd/{target}")
        except OSError:
            return ""
    return os.fspath(target)


def _fail_os(monkeypatch, name, err, match, times=None):
    """Make ``os.<name>`` raise ``err`` for paths (or fds) that ``match``."""
    real = getattr(os, name)
    state = {"n": 0}

    def fake(*args, **kw):
        if match(_path_of(args[0])) and (times is None or state["n"] < times):
            state["n"] += 1
            raise OSError(err, os.strerror(err))
        return real(*args, **kw)
    monkeypatch.setattr(os, name, fake)
    return state


def _crash(db):
    """Drop a writer as a killed process would: no checkpoint, no clean close."""
    db._engine.close(checkpoint_on_close=False)
    db._closed = True


def _ids(path, label="C"):
    with lpgdb.connect(path, wal_segment_size=SEG) as db, db.snapshot() as s:
        db.verify()
        return sorted(n["i"] for n in s.nodes(label))


def _commit(db, i, label="C", **extra):
    with db.transaction() as tx:
        tx.create_node(label, {"i": i, **extra})


# -- B1: one ordinary write must not brick the database ----------------------------------------
@pytest.mark.parametrize("bad", [float("nan"), "x" * 70_000], ids=["nan", "huge"])
def test_b1_unindexable_value_is_refused_before_the_log(tmp_path, bad):
    path = str(tmp_path / "db")
    db = lpgdb.connect(path, wal_segment_size=SEG)
    db.create_index("C", "v")
    _commit(db, 0, v=1)
    with pytest.raises(lpgdb.DataError, match=r"C\(v\)"):
        _commit(db, 1, v=bad)
    _commit(db, 2, v=2)                       # the handle is fine
    assert sorted(n["i"] for n in db.snapshot().nodes("C")) == [0, 2]
    _crash(db)
    assert _ids(path) == [0, 2]              # and the log holds nothing of the refused commit


@pytest.mark.parametrize("bad", [float("nan"), "x" * 70_000], ids=["nan", "huge"])
def test_b1_create_index_over_stored_unindexable_value_is_refused(tmp_path, bad):
    path = str(tmp_path / "db")
    db = lpgdb.connect(path, wal_segment_size=SEG)
    _commit(db, 0, v=bad)
    with pytest.raises(lpgdb.DataError, match="node 0"):
        db.create_index("C", "v")
    assert db.indexes() == []
    _commit(db, 1, v=1)
    _crash(db)
    assert _ids(path) == [0, 1]
    with lpgdb.connect(path) as db:
        assert db.indexes() == []


def test_b1_set_schema_over_a_huge_key_is_refused(tmp_path):
    path = str(tmp_path / "db")
    db = lpgdb.connect(path, wal_segment_size=SEG)
    with db.transaction() as tx:
        tx.create_node("P", {"id": "k" * 70_000})
    ddl = "CREATE GRAPH TYPE g LOOSE { (p: P {id STRING}), FOR (x:p) KEY x.id }"
    with pytest.raises(lpgdb.DataError, match="more than the 65536"):
        db.set_schema(ddl)
    assert db.schema is None
    with pytest.raises(lpgdb.DataError):     # nor through a commit under an enforced KEY
        db2_ddl = "CREATE GRAPH TYPE g LOOSE { (q: Q {id STRING}), FOR (x:q) KEY x.id }"
        db.set_schema(db2_ddl)
        with db.transaction() as tx:
            tx.create_node("Q", {"id": "q" * 70_000})
    _crash(db)
    with lpgdb.connect(path) as db, db.snapshot() as s:
        assert s.node_count("P") == 1 and s.node_count("Q") == 0


def test_b1_recover_truncate_is_a_real_option(tmp_path):
    path = str(tmp_path / "db")
    db = lpgdb.connect(path, wal_segment_size=SEG)
    for i in range(6):
        _commit(db, i)
    _crash(db)
    seg = os.path.join(path, "wal", wal.segment_name(0))
    with open(seg, "r+b") as f:               # damage the 3rd frame: later frames vouch for it
        data = f.read()
        off = 4096
        for _ in range(2):
            (length,) = struct.unpack_from("<I", data, off + 4)
            off += 32 + ((length + 7) & ~7)
        f.seek(off + 40)
        f.write(bytes([data[off + 40] ^ 0xFF]))   # a changed byte (it lies in the commit time)
    with pytest.raises(lpgdb.CorruptionError, match="recover='truncate'"):
        lpgdb.connect(path)
    with lpgdb.connect(path, recover="truncate") as db2, db2.snapshot() as s:
        assert sorted(n["i"] for n in s.nodes("C")) == [0, 1]
    assert _ids(path) == [0, 1]              # the damage is gone for good
    with pytest.raises(lpgdb.InterfaceError):
        lpgdb.connect(path, recover="yes")


# -- B2 / B8: work after durability never fails an acknowledged commit ---------------------------
def test_b2_failed_checkpoint_leaves_the_handle_usable(tmp_path, monkeypatch):
    path = str(tmp_path / "db")
    db = lpgdb.connect(path, wal_segment_size=SEG)
    for i in range(3):
        _commit(db, i)
    with monkeypatch.context() as m:
        _fail_os(m, "write", errno.ENOSPC, lambda p: p.startswith(os.path.join(path, "tmp", "")))
        with pytest.raises(lpgdb.OperationalError, match="disk full"):
            db.checkpoint()
    for i in range(3, 6):
        _commit(db, i)
    db.checkpoint()
    _commit(db, 6)
    _crash(db)
    assert _ids(path) == list(range(7))
    assert os.listdir(os.path.join(path, "tmp")) == []


def test_b8_failed_auto_checkpoint_does_not_fail_the_commit(tmp_path, monkeypatch):
    path = str(tmp_path / "db")
    db = lpgdb.connect(path, wal_segment_size=SEG, checkpoint_wal_bytes=1)
    _commit(db, 0)
    with monkeypatch.context() as m:
        _fail_os(m, "write", errno.ENOSPC, lambda p: p.startswith(path) and "/wal/" not in p)
        for i in range(1, 4):
            _commit(db, i)                    # every commit triggers a checkpoint that fails
    _commit(db, 4)
    _crash(db)
    assert _ids(path) == [0, 1, 2, 3, 4]      # each exactly once


def test_b8_shm_publish_cannot_fail_and_readers_see_every_acknowledged_commit(tmp_path, monkeypatch):
    """SHM is published by a store into a shared mapping: no write call that a device error
    could fail, so a reader opened after a commit returned sees it (with a pwrite that failed,
    it lagged one commit behind until the next publish: found by the soak sweep of
    tests/crash/test_io_faults.py)."""
    path = str(tmp_path / "db")
    db = lpgdb.connect(path, wal_segment_size=SEG)
    with monkeypatch.context() as m:
        for name in ("pwrite", "write"):
            _fail_os(m, name, errno.EIO, lambda p: p.endswith("SHM"))
        for i in range(3):
            _commit(db, i)
            with lpgdb.connect(path, readonly=True) as r, r.snapshot() as s:
                assert sorted(n["i"] for n in s.nodes("C")) == list(range(i + 1))
    _crash(db)
    assert _ids(path) == [0, 1, 2]


# -- B5: recovery syncs what it replayed before vouching for it --------------------------------
def test_b5_recovery_fdatasyncs_the_replayed_log(tmp_path, monkeypatch):
    path = str(tmp_path / "db")
    db = lpgdb.connect(path, wal_segment_size=SEG, sync="off")
    for i in range(3):
        _commit(db, i)
    _crash(db)
    synced = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (synced.append(_path_of(fd)), real(fd))[1])
    db = lpgdb.connect(path, wal_segment_size=SEG)
    assert any(p.endswith(".wal") for p in synced), synced
    db.close()


def test_b5_power_loss_after_recovery_of_an_unsynced_log(tmp_path):
    """Commits written unsynced, a process crash, recovery, new commits: a power cut at any
    moment after that must never read as damage (the new frames vouch for the old ones)."""
    root = str(tmp_path / "root")
    os.mkdir(root)
    path = os.path.join(root, "db")
    images = []
    acked = {"n": 0}

    def shot(n, kind, site):
        if kind in ("write", "sync") and "wal" in site:
            for _ in range(8):
                dest = str(tmp_path / f"img{len(images)}")
                sim.image(dest, len(images))
                images.append((dest, acked["n"]))

    sim = io.Simulator(root, record=True, real_sync=False)
    with io.installed(sim):
        db = lpgdb.connect(path, wal_segment_size=SEG, sync="off")
        for i in range(3):
            _commit(db, i)
        _crash(db)                            # a process crash: the page cache keeps it all
        db = lpgdb.connect(path, wal_segment_size=SEG)
        sim.on_call = shot
        for i in range(3, 6):
            _commit(db, i)
            acked["n"] = i + 1
        sim.on_call = None
        _crash(db)
    assert len(images) >= 48
    for dest, n in images:
        got = _ids(os.path.join(dest, "db"))  # never CorruptionError
        assert got == list(range(len(got))) and len(got) >= n, (dest, got, n)


# -- B6: short writes and short files are errors, never struct.error ----------------------------
def test_b6_short_wal_write_is_an_error_and_poisons(tmp_path, monkeypatch):
    path = str(tmp_path / "db")
    db = lpgdb.connect(path, wal_segment_size=SEG)
    _commit(db, 0)
    real = os.pwrite
    with monkeypatch.context() as m:
        m.setattr(os, "pwrite", lambda fd, data, off: real(fd, bytes(data)[:len(data) // 2], off)
                  if _path_of(fd).endswith(".wal") and off >= 4096 else real(fd, data, off))
        with pytest.raises(lpgdb.OperationalError, match="disk full"):
            _commit(db, 1)
    with pytest.raises(lpgdb.OperationalError, match="reopen"):
        _commit(db, 2)
    _crash(db)
    assert _ids(path) == [0]


def test_b6_truncated_segment_is_corruption(tmp_path):
    path = str(tmp_path / "db")
    db = lpgdb.connect(path, wal_segment_size=SEG)
    for i in range(3):
        _commit(db, i)
    _crash(db)
    seg = os.path.join(path, "wal", wal.segment_name(0))
    os.truncate(seg, 5000)
    with pytest.raises(lpgdb.CorruptionError) as ei:
        lpgdb.connect(path)
    assert ei.value.path == seg


# -- B7: a follower never fails because the writer checkpointed under it ------------------------
@pytest.mark.parametrize("where", ["files", "log"])
def test_b7_follower_survives_a_checkpoint_during_its_load(tmp_path, monkeypatch, where):
    path = str(tmp_path / "db")
    w = lpgdb.connect(path, wal_segment_size=SEG)
    for i in range(4):
        _commit(w, i)
    w.checkpoint()
    for i in range(4, 300):
        _commit(w, i, pad="p" * 1500)          # several segments after the checkpoint
    state = {"done": False}
    real_load, real_read = checkpoint.load, wal._read_segment

    def race():
        if not state["done"]:
            state["done"] = True
            w.checkpoint()                     # retires the files and segments being read

    def load(*a, **kw):
        if where == "files":
            race()
        return real_load(*a, **kw)

    def read_segment(*a, **kw):
        if where == "log":
            race()
        return real_read(*a, **kw)
    monkeypatch.setattr(checkpoint, "load", load)
    monkeypatch.setattr(wal, "_read_segment", read_segment)
    with lpgdb.connect(path, readonly=True) as r, r.snapshot() as s:
        assert s.node_count("C") == 300
    assert state["done"]
    w.close()


# -- B9: one damaged META slot never opens an older (or empty) state ---------------------------
def test_b9_one_damaged_meta_slot_after_one_checkpoint(tmp_path):
    path = str(tmp_path / "db")
    db = lpgdb.connect(path, wal_segment_size=SEG)
    for i in range(5):
        _commit(db, i)
    db.checkpoint()
    _commit(db, 5)
    _crash(db)
    files = sorted(os.listdir(os.path.join(path, "data")))
    cur = checkpoint.read_meta(os.path.join(path, "META"))
    with open(os.path.join(path, "META"), "r+b") as f:
        f.seek((cur.slot_seq % 2) * checkpoint.META_SLOT + 60)
        f.write(b"\xa5\x5a")
    try:
        db = lpgdb.connect(path, wal_segment_size=SEG)
    except lpgdb.CorruptionError:
        db = None
    if db is not None:
        with db.snapshot() as s:               # never an empty (older) database
            assert sorted(n["i"] for n in s.nodes("C")) == list(range(6))
        _crash(db)
    assert sorted(os.listdir(os.path.join(path, "data"))) == files   # nothing deleted


# -- B13 / B14: atomic creation, backup and restore; nobody else's files ------------------------
def test_b13_failed_creation_leaves_nothing_and_a_retry_works(tmp_path, monkeypatch):
    path = str(tmp_path / "db")
    with monkeypatch.context() as m:
        _fail_os(m, "pwrite", errno.EIO, lambda p: p.endswith("META"))
        with pytest.raises(lpgdb.OperationalError):
            lpgdb.connect(path)
    assert not os.path.exists(path) or os.listdir(path) == []
    with lpgdb.connect(path) as db:
        _commit(db, 0)
    assert _ids(path) == [0]
    assert sorted(os.listdir(tmp_path)) == ["db"]


def test_b13_failed_restore_leaves_nothing_and_a_retry_works(tmp_path, monkeypatch):
    path, bak, dest = (str(tmp_path / n) for n in ("db", "bak", "dest"))
    with lpgdb.connect(path) as db:
        for i in range(3):
            _commit(db, i)
        db.backup(bak)
    with monkeypatch.context() as m:
        for fn in ("link", "sendfile", "copy_file_range"):
            if hasattr(os, fn):
                _fail_os(m, fn, errno.EIO, lambda p: True)
        _fail_os(m, "pwrite", errno.ENOSPC, lambda p: dest in p or ".dest" in p)
        with pytest.raises(lpgdb.OperationalError):
            lpgdb.restore(bak, dest)
    assert sorted(os.listdir(tmp_path)) == ["bak", "db"]
    lpgdb.restore(bak, dest)
    assert _ids(dest) == [0, 1, 2]


def test_b14_backup_and_restore_leave_other_files_alone(tmp_path):
    path, dest = str(tmp_path / "db"), str(tmp_path / "copy")
    for name in ("copy.tmp", "copy.tmp-restore", "again.tmp", "again.tmp-restore"):
        os.mkdir(tmp_path / name)
        (tmp_path / name / "precious").write_bytes(b"mine")
    with lpgdb.connect(path) as db:
        _commit(db, 0)
        db.backup(dest)
    lpgdb.restore(dest, str(tmp_path / "again"))
    for name in ("copy.tmp", "copy.tmp-restore", "again.tmp", "again.tmp-restore"):
        assert (tmp_path / name / "precious").read_bytes() == b"mine"
    assert _ids(str(tmp_path / "again")) == [0]


def test_b14_archive_restore_leaves_other_files_alone(tmp_path):
    path, arch, dest = str(tmp_path / "db"), str(tmp_path / "arch"), str(tmp_path / "r")
    os.mkdir(tmp_path / "r.tmp-restore")
    (tmp_path / "r.tmp-restore" / "precious").write_bytes(b"mine")
    with lpgdb.connect(path, archive=arch) as db:
        _commit(db, 0)
    lpgdb.restore(arch, dest)
    assert (tmp_path / "r.tmp-restore" / "precious").read_bytes() == b"mine"
    assert _ids(dest) == [0]


# -- B15: a crafted directory cannot harm the host -----------------------------------------------
def _rewrite_manifest(path, change):
    """Apply ``change`` to the current manifest and re-point META at it (valid CRCs)."""
    meta = checkpoint.read_meta(os.path.join(path, "META"))
    mpath = os.path.join(path, "manifest", checkpoint.manifest_name(meta.manifest_seq))
    with open(mpath, "rb") as f:
        man = records.unpack(f.read())
    change(man)
    data = records.pack(man)
    with open(mpath, "wb") as f:
        f.write(data)
    _write_meta(path, meta, manifest_crc=core.crc32c(data), manifest_len=len(data))


def _write_meta(path, meta, **fields):
    """Write both META slots with ``fields`` changed, with valid CRCs (old and new layout)."""
    vals = dict(meta.__dict__, **fields)
    for seq in (vals["slot_seq"] + 1, vals["slot_seq"] + 2):
        body = struct.pack("<8sIQ16sQIQQQQ", b"LPGMETA\x00", 1, seq, vals["uuid"], vals["manifest_seq"],
                           vals["manifest_crc"], vals["manifest_len"], vals["checkpoint_lsn"],
                           vals["seg_size"], vals["created_ns"]).ljust(4092, b"\0")
        with open(os.path.join(path, "META"), "r+b") as f:
            f.seek((seq % 2) * 4096)
            f.write(body + struct.pack("<I", core.crc32c(body)))


def _checkpointed(tmp_path, n=3):
    path = str(tmp_path / "db")
    with lpgdb.connect(path, wal_segment_size=SEG) as db:
        for i in range(n):
            _commit(db, i)
    return path


def test_b15_manifest_file_names_cannot_escape(tmp_path):
    path = _checkpointed(tmp_path)
    victim = tmp_path / "x"

    def escape(man):
        (p, entry), = man["files"]["parts"].items()
        os.rename(os.path.join(path, "data", entry[0]), str(victim))
        entry[0] = "../../x"
    _rewrite_manifest(path, escape)
    with pytest.raises(lpgdb.CorruptionError, match="manifest"):
        with lpgdb.connect(path) as db:
            db.backup(str(tmp_path / "sub" / "deeper" / "bak"))
    assert not os.path.exists(tmp_path / "sub")


def test_b15_tmp_symlink_is_refused_and_nothing_is_deleted(tmp_path):
    path = _checkpointed(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep").write_bytes(b"important")
    os.rmdir(os.path.join(path, "tmp"))
    os.symlink(str(elsewhere), os.path.join(path, "tmp"))
    with pytest.raises(lpgdb.CorruptionError, match="tmp"):
        lpgdb.connect(path)
    assert (elsewhere / "keep").read_bytes() == b"important"


@pytest.mark.parametrize("seg_size", [0, 100, 1 << 45])
def test_b15_absurd_seg_size_is_corruption(tmp_path, seg_size):
    path = str(tmp_path / "db")
    lpgdb.connect(path).close()                # created, never written: no segment yet
    meta = checkpoint.read_meta(os.path.join(path, "META"))
    _write_meta(path, meta, seg_size=seg_size)
    pid = os.fork()
    if pid == 0:                               # a hang or a 32 TiB file must not take the test down
        signal.alarm(20)
        code = 0
        try:
            with lpgdb.connect(path) as db:
                _commit(db, 0)
            code = 1
        except lpgdb.CorruptionError:
            code = 0
        except BaseException:
            code = 2
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    assert os.listdir(os.path.join(path, "wal")) == []


# -- B16: stored property values are validated --------------------------------------------------
# Format 2 stores properties in typed columns and rebuilds a node's map in C from the property
# key dictionary, so the map's shape cannot be damaged; a value can.  Node 1's string value is
# turned into a msgpack-kind value holding each bad encoding (every CRC recomputed, so only the
# structural checks behind them can catch it): C refuses a malformed encoding, Python one that
# decodes to something no property holds.
@pytest.mark.parametrize("blob", [b"\x92\x91\x01\x02", b"\x81\xa1k\x81\xa1x\x01", b"\xc1", b"\x81\x01\x02",
                                  b"\xdd\xff\xff\xff\xff"], ids=["nested-list", "map", "invalid", "int-key", "huge"])
def test_b16_malformed_property_value_is_corruption(tmp_path, blob):
    from tests.native.storegen import recrc
    path = str(tmp_path / "db")
    with lpgdb.connect(path, wal_segment_size=SEG) as db:
        _commit(db, 0)
        _commit(db, 1, s="x" * len(blob))
    state = {}

    def swap(man):
        (p, entry), = man["files"]["parts"].items()
        fpath = os.path.join(path, "data", entry[0])
        with open(fpath, "rb") as f:
            data = bytearray(f.read())
        key = man["propkeys"].index("s")
        (_k, _a, _b, off, ln), = [x for x in core.File(bytes(data), 0).sections() if x[:2] == (4, key)]
        assert data[off] == 4                             # a STR column ...
        data[off] = 6                                     # ... read as msgpack values
        at = data.index(b"x" * len(blob), off, off + ln)
        data[at:at + len(blob)] = blob
        data = recrc(bytes(data))
        with open(fpath, "wb") as f:
            f.write(data)
        entry[1], entry[2] = core.crc32c(data), len(data)
        state["ok"] = True
    _rewrite_manifest(path, swap)
    assert state["ok"]
    with lpgdb.connect(path) as db, db.snapshot() as s:
        assert s.node(0)["i"] == 0
        with pytest.raises(lpgdb.CorruptionError):
            dict(s.node(1).properties)
        with pytest.raises(lpgdb.CorruptionError):
            list(s.nodes("C"))


# -- B18: deleting LOCK does not let a second writer in -------------------------------------------
def test_b18_deleting_lock_does_not_admit_a_second_writer(tmp_path):
    path = str(tmp_path / "db")
    db = lpgdb.connect(path)
    if os.path.exists(os.path.join(path, "LOCK")):
        os.unlink(os.path.join(path, "LOCK"))
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            lpgdb.connect(path).close()
            msg = b"opened"
        except lpgdb.OperationalError as e:
            msg = b"locked" if e.reason == "locked" else b"other"
        except BaseException:
            msg = b"crash"
        os.write(w, msg)
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    got = os.read(r, 100)
    os.close(r)
    db.close()
    assert got == b"locked"


@pytest.mark.parametrize("change", ["set", "drop"])
def test_schema_change_whose_log_sync_failed_is_not_shown(tmp_path, monkeypatch, change):
    """A set_schema / drop_schema whose WAL fdatasync fails is not acknowledged: the handle
    refuses further writes and still shows the schema of the last acknowledged commit (found
    by the soak sweep of test_io_faults: db.schema showed the failed commit's schema)."""
    path = str(tmp_path / "db")
    ddl = "CREATE GRAPH TYPE T LOOSE { (p: P {i INT}) }"
    db = lpgdb.connect(path, wal_segment_size=SEG)
    if change == "drop":
        db.set_schema(ddl)
    before = db.schema
    _fail_os(monkeypatch, "fdatasync", errno.EIO, lambda p: p.endswith(".wal"), times=1)
    with pytest.raises(lpgdb.OperationalError):
        if change == "set":
            db.set_schema(ddl)
        else:
            db.drop_schema()
    monkeypatch.undo()
    assert (db.schema is None) == (before is None)
    if before is not None:
        assert db.schema.name == before.name
    with pytest.raises(lpgdb.OperationalError):
        with db.transaction() as tx:
            tx.create_node(["P"], {"i": 1})
    _crash(db)
    with lpgdb.connect(path, wal_segment_size=SEG) as db2:
        assert db2.schema is None or db2.schema.name == "T"      # synced or not: either is legal
