"""Damaged database images (design/storage.md §3.3 harness C): every mutation of a copied database
either opens to a prefix of the committed history or raises CorruptionError, never a wrong
answer or a crash."""
import os
import shutil

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import lpgdb
from lpgdb.storage import wal

N_COMMITS = 12


def _build(path, *, checkpoint_at=None):
    db = lpgdb.connect(path, wal_segment_size=256 * 1024)
    for i in range(N_COMMITS):
        with db.transaction() as tx:
            n = tx.create_node("C", {"i": i, "pad": "p" * (i * 37 % 300)})
            if i:
                tx.create_edge(n, "PREV", n - 1, {"i": i})
        if checkpoint_at is not None and i == checkpoint_at:
            db.checkpoint()
    db._engine.close(checkpoint_on_close=False)  # leave the WAL as a crash would
    db._closed = True


def _state(path):
    with lpgdb.connect(path) as db, db.snapshot() as s:
        db.verify()
        got = sorted(n["i"] for n in s.nodes("C"))
        edges = sorted(e["i"] for e in s.edges("PREV"))
    return got, edges


def _assert_prefix(got, edges, at_least=0):
    k = len(got)
    assert got == list(range(k)), got
    assert edges == list(range(1, k)), edges
    assert k >= at_least


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    base = tmp_path_factory.mktemp("pristine")
    plain, ckpt = str(base / "plain"), str(base / "ckpt")
    _build(plain)
    _build(ckpt, checkpoint_at=5)
    return {"plain": plain, "ckpt": ckpt}


def _copy(src, tmp_path, name="copy"):
    dst = str(tmp_path / name)
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    return dst


def _wal_file(path):
    segs = wal.list_segments(os.path.join(path, "wal"))
    return os.path.join(path, "wal", wal.segment_name(segs[-1]))


def _written_end(path):
    """Where the frames of WAL segment ``path`` end: the end of the frame that holds its last
    non-zero byte (a record may end in zero bytes: a columnar op's offsets, then padding)."""
    with open(path, "rb") as f:
        buf = f.read()
    base = wal.parse_segment_name(os.path.basename(path)) * len(buf)
    last = len(buf.rstrip(b"\0"))
    for off in range(last & ~7, wal.SEG_HEADER - 1, -8):
        frame = wal.decode_frame(buf, off, base + off, len(buf))
        if frame is not None and frame.end - base >= last:
            return frame.end - base
    return last


def test_pristine_images_hold_everything(pristine, tmp_path):
    for name in pristine:
        _assert_prefix(*_state(_copy(pristine[name], tmp_path, name)), at_least=N_COMMITS)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(1, 400), which=st.sampled_from(["plain", "ckpt"]))
def test_truncated_tail_opens_to_a_prefix(pristine, tmp_path, cut, which):
    path = _copy(pristine[which], tmp_path)
    os.unlink(os.path.join(path, "SHM"))   # a torn tail: the durable LSN never reached SHM
    f = _wal_file(path)
    end = _written_end(f)
    with open(f, "r+b") as fh:
        fh.seek(max(4096, end - cut))
        fh.write(b"\0" * cut)
    got, edges = _state(path)
    _assert_prefix(got, edges, at_least=1)
    _assert_prefix(*_state(path))  # recovery is idempotent: reopen gives the same
    assert _state(path) == (got, edges)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), which=st.sampled_from(["plain", "ckpt"]))
def test_bit_flip_anywhere_is_detected_or_harmless(pristine, tmp_path, data, which):
    path = _copy(pristine[which], tmp_path)
    files = []
    for sub in ("wal", "data", "manifest"):
        files += [os.path.join(path, sub, n) for n in os.listdir(os.path.join(path, sub))]
    f = data.draw(st.sampled_from(sorted(files)), label="file")
    size = _written_end(f) if f.endswith(".wal") else os.path.getsize(f)
    off = data.draw(st.integers(0, max(0, size - 1)), label="offset")
    bit = data.draw(st.integers(0, 7), label="bit")
    with open(f, "r+b") as fh:
        fh.seek(off)
        b = fh.read(1)
        fh.seek(off)
        fh.write(bytes([b[0] ^ (1 << bit)]))
    try:
        got, edges = _state(path)
    except lpgdb.CorruptionError as e:
        assert e.path is not None
        return
    _assert_prefix(got, edges)   # never a different graph


def test_damage_in_synced_history_is_corruption(pristine, tmp_path):
    path = _copy(pristine["plain"], tmp_path)
    f = _wal_file(path)
    with open(f, "r+b") as fh:       # the first frame's payload: later frames prove it was synced
        fh.seek(4096 + 40)
        b = fh.read(1)
        fh.seek(4096 + 40)
        fh.write(bytes([b[0] ^ 0x10]))
    with pytest.raises(lpgdb.CorruptionError) as ei:
        _state(path)
    assert ei.value.path.endswith(".wal") and ei.value.offset == 4096


def test_one_meta_slot_damaged_opens_from_the_other(pristine, tmp_path):
    path = _copy(pristine["ckpt"], tmp_path)
    from lpgdb.storage import checkpoint
    cur = checkpoint.read_meta(os.path.join(path, "META"))
    with open(os.path.join(path, "META"), "r+b") as fh:
        fh.seek((cur.slot_seq % 2) * 4096 + 100)
        fh.write(b"\xff\xff")
    # the older slot names an older checkpoint whose files were retired: either the older
    # checkpoint is still complete (prefix) or its files are gone (CorruptionError) - never wrong
    try:
        _assert_prefix(*_state(path))
    except lpgdb.CorruptionError:
        pass


def test_both_meta_slots_damaged(pristine, tmp_path):
    path = _copy(pristine["plain"], tmp_path)
    with open(os.path.join(path, "META"), "r+b") as fh:
        fh.write(b"\xff" * 8192)
    with pytest.raises(lpgdb.CorruptionError, match="restore"):
        _state(path)


def test_missing_partition_file(pristine, tmp_path):
    path = _copy(pristine["ckpt"], tmp_path)
    for n in os.listdir(os.path.join(path, "data")):
        os.unlink(os.path.join(path, "data", n))
    with pytest.raises(lpgdb.CorruptionError):
        _state(path)


def test_wal_garbage_after_tail_is_cut(pristine, tmp_path):
    path = _copy(pristine["plain"], tmp_path)
    f = _wal_file(path)
    end = _written_end(f)
    with open(f, "r+b") as fh:
        fh.seek((end + 7) & ~7)
        fh.write(os.urandom(3000))
    db = lpgdb.connect(path)
    with open(f, "rb") as fh:  # recovery erased the torn tail, so it cannot resurface later
        assert not fh.read()[(end + 7) & ~7:].strip(b"\0")
    db.close()
    _assert_prefix(*_state(path), at_least=N_COMMITS)


def test_failed_fdatasync_poisons_the_handle_and_loses_only_unacknowledged(tmp_path):
    from lpgdb.storage import io
    path = str(tmp_path / "db")
    db = lpgdb.connect(path)
    with db.transaction() as tx:
        tx.create_node("C", {"i": 0})
    sim = io.Simulator(path)
    sim.fail("sync", error="EIO")
    with io.installed(sim):
        with pytest.raises(lpgdb.OperationalError, match="fdatasync failed"):
            with db.transaction() as tx:
                tx.create_node("C", {"i": 1})
        with pytest.raises(lpgdb.OperationalError, match="reopen"):
            db.transaction()
    assert db.snapshot().node_count("C") == 1     # the failed commit was never visible
    assert tx.status == "failed"
    db._engine.close(checkpoint_on_close=False)
    db._closed = True
    got, _edges = _state(path)
    assert got == [0]                              # ... and does not reappear after recovery
