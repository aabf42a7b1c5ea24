"""Streamed bulk loads (storage/stream.py): a load far larger than its spill budget, over several
partitions and into a database that already holds data, reads back exactly as a model says;
damage to the spill is CorruptionError and leaves the database as it was."""
import os
import random

import pytest

import lpgdb
from lpgdb import core
from lpgdb.storage import stream

PART = 1 << core.PART_SHIFT


def _write(tmp, rng, nodes, edges, first_pid=0):
    """persons.csv / knows.csv; the model: {pid: (name, labels)} and [(src pid, type, dst pid, w)]."""
    people, knows = os.path.join(tmp, "p.csv"), os.path.join(tmp, "k.csv")
    model_nodes, model_edges = {}, []
    with open(people, "w") as f:
        f.write("pid:ID(P),name,:LABEL\n")
        for i in range(nodes):
            pid = first_pid + i
            labels = ("Person", "Big") if rng.random() < 0.1 else ("Person",)
            model_nodes[pid] = (f"n{pid}", labels)
            f.write(f"{pid},n{pid},{';'.join(labels)}\n")
    pids = list(model_nodes)
    with open(knows, "w") as f:
        f.write(":START_ID(P),:END_ID(P),w:int,note,:TYPE\n")
        for j in range(edges):
            a, b = rng.choice(pids), rng.choice(pids)
            t = "KNOWS" if rng.random() < 0.7 else "LIKES"
            note = f"e{j}" if j % 3 else ""           # an absent property on a third of them
            model_edges.append((a, t, b, j, note or None))
            f.write(f"{a},{b},{j},{note},{t}\n")
    return people, knows, model_nodes, model_edges


def _check(db, model_nodes, model_edges, prior):
    """Everything the load put in, through the snapshot API: every edge with its endpoints,
    type and properties (the out-adjacency), every node's in-degree per type, each edge by id
    (the edge locators), counts and label statistics."""
    with db.snapshot() as s:
        assert s.node_count() == len(model_nodes) + prior[0]
        assert s.edge_count() == len(model_edges) + prior[1]
        assert s.node_count("Big") == sum("Big" in ls for _n, ls in model_nodes.values())
        for t in ("KNOWS", "LIKES"):
            assert s.edge_count(t) == sum(e[1] == t for e in model_edges)
        ids = s.node_ids("Person")
        names = s.property_many(ids, "name")
        node_of = {int(name[1:]): nid for nid, name in zip(ids, names) if name != "old"}   # pid -> id
        assert sorted(node_of) == sorted(model_nodes) and len(node_of) == len(model_nodes)
        for pid in list(model_nodes)[::97]:
            assert s.node(node_of[pid]).labels == frozenset(model_nodes[pid][1])
        pid_of = {v: k for k, v in node_of.items()}
        out, inn = set(), set()
        for t in ("KNOWS", "LIKES"):
            nbrs, eids, fi = s.expand(ids, "out", t)
            out.update((eid, ids[i], nbr, t) for nbr, eid, i in zip(nbrs, eids, fi))
            nbrs, eids, fi = s.expand(ids, "in", t)
            inn.update((eid, nbr, ids[i], t) for nbr, eid, i in zip(nbrs, eids, fi))
        assert out == inn and len(out) == len(model_edges)
        first = min(eid for eid, *_ in out)            # edge ids are consecutive in file order
        want = {(first + j, node_of[a], node_of[b], t) for j, (a, t, b, _w, _n) in enumerate(model_edges)}
        assert out == want
        for j in range(0, len(model_edges), 7):        # each edge by id: the edge locators, properties
            e = s.edge(first + j)
            a, t, b, w, note = model_edges[j]
            assert (pid_of[e.src], e.label, pid_of[e.dst], e["w"], e.get("note")) == (a, t, b, w, note)


@pytest.mark.parametrize("seed", [1, 2])
def test_a_load_far_larger_than_its_spill_budget_reads_back_as_the_model(tmp_path, monkeypatch, seed):
    rng = random.Random(seed)
    monkeypatch.setattr(stream, "BUDGET", 4096)               # hundreds of spill writes
    monkeypatch.setattr(lpgdb.ingest.neo4j, "CHUNK_ROWS", 997)     # 21 edge batches
    people, knows, model_nodes, model_edges = _write(str(tmp_path), rng, PART + 3000, 20_000)
    flushes = []
    real_flush = stream.Stream.flush
    monkeypatch.setattr(stream.Stream, "flush", lambda self: (flushes.append(self.end), real_flush(self))[1])
    path = str(tmp_path / "db")
    with lpgdb.connect(path) as db:
        with db.transaction() as tx:                   # prior data: partition 0 and edge range 0 are merged
            a = tx.create_node(["Old"], {"k": 1})
            b = tx.create_node(["Old"], {"k": 2})
            tx.create_edge(a, "OLD", b, {"w": -1})
        db.create_index("Person", "name")               # its key files come from the spilled keys
        db.checkpoint()
        with db.transaction() as tx:                   # and an overlay that the stream checkpoints first
            tx.create_edge(b, "OLD", a, {"w": -2})
            tx.create_node(["Person"], {"name": "old"})
        db.bulk_load(nodes=people, edges=knows)
        assert len(flushes) > 15 and flushes[-1] > 300 * 4096     # the spill: >500x the budget
        assert os.listdir(os.path.join(path, "tmp")) == []        # the spill file is gone
        _check(db, model_nodes, model_edges, (3, 2))
        with db.snapshot() as s:
            assert sorted(e["w"] for e in s.edges("OLD")) == [-2, -1]
            for pid in list(model_nodes)[::331] + [max(model_nodes)]:
                assert [s.node(n)["name"] for n in s.key_lookup("Person", "name", f"n{pid}")] == [f"n{pid}"]
            assert len(s.key_lookup("Person", "name", "old")) == 1
    with lpgdb.connect(path) as db:                    # from the files alone
        _check(db, model_nodes, model_edges, (3, 2))
        with db.snapshot() as s:
            assert len(s.key_lookup("Person", "name", f"n{max(model_nodes)}")) == 1
        db.verify()


def test_bulk_import_streams_one_load_and_writes_each_partition_once(tmp_path, monkeypatch):
    rng = random.Random(5)
    people, knows, model_nodes, model_edges = _write(str(tmp_path), rng, PART + 10, 5000)
    monkeypatch.setattr(lpgdb.database, "IMPORT_SPILL_MAX", 2048)
    monkeypatch.setattr(lpgdb.ingest.neo4j, "CHUNK_ROWS", 500)
    built = []
    real = core.Store.build_part
    monkeypatch.setattr(core.Store, "build_part", lambda self, snap, p, *a: (built.append(p), real(self, snap, p, *a))[1])
    path = str(tmp_path / "new")
    assert lpgdb.bulk_import(path, nodes=people, edges=knows) == (len(model_nodes), len(model_edges))
    assert sorted(built) == [0, 1]                     # each partition built once (the close has nothing left)
    with lpgdb.connect(path) as db:
        _check(db, model_nodes, model_edges, (0, 0))


def test_a_damaged_spill_is_corruption_and_the_database_is_as_before(tmp_path, monkeypatch):
    rng = random.Random(3)
    monkeypatch.setattr(stream, "BUDGET", 4096)
    people, knows, _model_nodes, _model_edges = _write(str(tmp_path), rng, 3000, 20_000)
    real_read = stream.Stream._read

    def damaged(self, key):
        if self.fd is not None and self.chunks.get(key):
            off, n = self.chunks[key][-1][:2]
            os.pwrite(self.fd, bytes([os.pread(self.fd, 1, off + n // 2)[0] ^ 0x40]), off + n // 2)
        return real_read(self, key)
    monkeypatch.setattr(stream.Stream, "_read", damaged)
    path = str(tmp_path / "db")
    with lpgdb.connect(path) as db:
        with db.transaction() as tx:
            tx.create_node(["Old"], {"k": 1})
        with pytest.raises(lpgdb.CorruptionError, match="spill"):
            db.bulk_load(nodes=people, edges=knows)
        assert os.listdir(os.path.join(path, "tmp")) == []
        with db.snapshot() as s:
            assert (s.node_count(), s.edge_count()) == (1, 0)
        monkeypatch.setattr(stream.Stream, "_read", real_read)
        db.bulk_load(nodes=people, edges=knows)        # the handle is usable: the load again
        with db.snapshot() as s:
            assert (s.node_count(), s.edge_count()) == (3001, 20_000)


def test_malformed_spill_records_are_refused_by_the_builder(tmp_path):
    """The C builder checks every record it is handed (the CRC catches damage first; this is
    the second line): a slot, neighbour or edge id out of range, a truncated record, ids out of
    order within a slot, a bad property map; node records with a slot out of range or out of
    order, an unknown label set, a bad map."""
    import struct
    with lpgdb.connect(str(tmp_path / "db")) as db:
        with db.transaction() as tx:
            for i in range(4):
                tx.create_node(["N"], {})
        st = db._engine.state.store
        snap = db._engine.state.applied_lsn

        def rec(slot, typ, nbr, eid, props=b""):
            return struct.pack("<IIQQI", slot, typ, nbr, eid, len(props)) + props
        good = rec(0, 0, 1, 0, b"\x81\xa1w\x01") + rec(1, 0, 2, 1)
        st.register_rows(b"\x81\xa1w\x01", [0, 4])
        st.build_part(snap, 0, 4, (good, b"", b""), 4).close()      # well formed: builds
        for bad in (rec(4, 0, 1, 0), rec(0, 0, 4, 0), rec(0, 0, 1, 1 << 40), good[:-3],
                    rec(0, 0, 1, 5) + rec(0, 0, 2, 3), rec(0, 0, 1, 0, b"\x81\xa1"),
                    rec(0, 0, 1, 0, b"\xc1")):
            with pytest.raises(core.Corrupt):
                st.build_part(snap, 0, 4, (bad, b"", b""), 4)
        with pytest.raises(core.Corrupt):                            # plen in the in-direction
            st.build_part(snap, 0, 4, (b"", rec(0, 0, 1, 0, b"\x80"), b""), 4)

        def node(slot, lset, props=b""):
            return struct.pack("<III", slot, lset, len(props)) + props
        st.build_part(snap, 0, 4, (b"", b"", node(0, 0, b"\x81\xa1w\x01") + node(2, 0)), 4).close()
        for bad in (node(4, 0), node(1, 0) + node(0, 0), node(0, 1 << 20), node(0, 0, b"\x81")[:-1],
                    node(0, 0, b"\xc1"), node(0, 0)[:-2]):
            with pytest.raises(core.Corrupt):                        # the streamed nodes' records
                st.build_part(snap, 0, 4, (b"", b"", bad), 4)
        with pytest.raises(core.Corrupt):                            # an edge locator source
            st.build_eloc(snap, 0, 4, 0, struct.pack("<QI", 9, 0), 4)
        with pytest.raises(core.Corrupt):
            st.build_eloc(snap, 0, 4, 0, b"\x00" * 13, 4)


def _fixed(records):
    import struct
    return b"".join(struct.pack("<IIQQI", slot, typ, nbr, eid, len(props)) + props
                    for slot, typ, nbr, eid, props in records)


def test_spilled_edge_runs_are_packed_and_unpack_to_the_builders_records():
    """Edges routed by lpg_spill come back from each packed buffer as exactly the fixed records
    the builder reads (model: one record per edge by source partition with its properties, one
    by target partition without), in about half the bytes."""
    rng = random.Random(9)
    n = 5000
    src = [rng.randrange(3 * PART) for _ in range(n)]
    dst = [rng.randrange(3 * PART) if i % 5 else (1 << 40) - 1 for i in range(n)]     # large ids too
    types = [rng.choice([0, 1, 70000]) for _ in range(n)]
    props = [bytes([0x81, 0xa1, 0x77, rng.randrange(128)]) if i % 3 else b"" for i in range(n)]
    offs = [0]
    for p in props:
        offs.append(offs[-1] + len(p))
    first = (1 << 40) - n - 7
    sp = core.Spill()
    sp.edges(first, types, src, dst, b"".join(props), offs)
    want = {}
    for i in range(n):
        want.setdefault((src[i] >> core.PART_SHIFT, 0), []).append(
            (src[i] & (PART - 1), types[i], dst[i], first + i, props[i]))
        want.setdefault((dst[i] >> core.PART_SHIFT, 1), []).append(
            (dst[i] & (PART - 1), types[i], src[i], first + i, b""))
    packed = fixed = 0
    for (p, d), recs in want.items():
        data, unpacked = sp.buffer(p, d)
        expect = _fixed(recs)
        assert unpacked == len(expect)
        out = bytearray(unpacked)
        core.spill_unpack(d, bytes(data), out)
        assert bytes(out) == expect, (p, d)
        packed, fixed = packed + len(data), fixed + len(expect)
    assert packed < 0.7 * fixed, (packed, fixed)
    sp.clear()
    sp.edges(3, [0], [5], [6], b"", [0, 0])           # after a clear, ids start again from 0
    data, unpacked = sp.buffer(0, 0)
    out = bytearray(unpacked)
    core.spill_unpack(0, bytes(data), out)
    assert bytes(out) == _fixed([(5, 0, 6, 3, b"")])
    sp.close()


def test_malformed_packed_runs_are_corrupt_never_a_crash():
    from hypothesis import given, settings, strategies as st
    good = b"\x05\x00\x06\x03\x00"                     # slot 5, type 0, nbr 6, eid 3, no properties
    out = bytearray(28)
    core.spill_unpack(1, good, out)
    assert bytes(out) == _fixed([(5, 0, 6, 3, b"")])
    for bad, cap in ((good[:-1], 28), (good, 27), (good, 29), (good + b"\x01", 28),
                     (b"\x80" * 11 + b"\x00\x00\x00\x00", 28),                 # an overlong varint
                     (b"\xff" * 9 + b"\x7f\x00\x00\x00\x00", 28),              # > 2^64
                     (b"\x80\x80\x80\x80\x10\x00\x00\x00\x00", 28),            # slot > 2^32
                     (b"\x00\x00\x00\x80\x80\x80\x80\x80\x80\x01\x00", 28),    # edge id > 2^40
                     (b"\x00\x00\x00\x00\x05ab", 28 + 5)):                     # properties cut short
        with pytest.raises(core.Corrupt):
            core.spill_unpack(0, bad, bytearray(cap))
    with pytest.raises(core.Corrupt):
        core.spill_unpack(3, b"x" * 12, bytearray(11))  # stored as they are: sizes must agree

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=80), st.integers(0, 200), st.integers(0, 1))
    def fuzz(data, cap, d):
        out = bytearray(cap)
        try:
            core.spill_unpack(d, data, out)
        except core.Corrupt:
            return
        assert cap >= 28 * (1 if data else 0)
    fuzz()


def test_a_packed_chunk_damaged_past_its_checksum_is_corruption(tmp_path, monkeypatch):
    """Damage that a checksum cannot see (the chunk's CRC recomputed after the damage): the
    unpacker or the builder refuses the records; CorruptionError naming the spill, nothing
    committed."""
    rng = random.Random(4)
    people, knows, _mn, _me = _write(str(tmp_path), rng, 2000, 20_000)
    real_read = stream.Stream._read

    def damaged(self, key):
        if key[1] == 0 and self.chunks.get(key):
            off, n, _crc, unpacked = self.chunks[key][0]
            data = bytearray(os.pread(self.fd, n, off))
            data[n // 2:n // 2 + 3] = b"\xff\xff\xff"
            os.pwrite(self.fd, bytes(data), off)
            self.chunks[key][0] = (off, n, core.crc32c(bytes(data)), unpacked)
        return real_read(self, key)
    monkeypatch.setattr(stream.Stream, "_read", damaged)
    path = str(tmp_path / "db")
    with lpgdb.connect(path) as db:
        with pytest.raises(lpgdb.CorruptionError, match="spill"):
            db.bulk_load(nodes=people, edges=knows)
        with db.snapshot() as s:
            assert (s.node_count(), s.edge_count()) == (0, 0)
