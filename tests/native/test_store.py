"""core.Store (native/store.c, build.c): base files + overlay against a plain-dict model.

A hypothesis state machine writes nodes, edges, properties and keys, commits, checkpoints into a
new generation (files built by the C builders, reopened as the new base), and after every step
compares every read path with the model, at the current LSN and at older snapshots the current
generation still serves.  Old generations keep answering for their snapshots after checkpoints.
"""
import datetime as dt
from array import array

import hypothesis.strategies as st
import msgpack
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from lpgdb import core, errors
from lpgdb.core import ffi, lib
from lpgdb.storage import records
from tests.native.storegen import Gen, checkpoint

LABELSETS = [[], [1], [2], [1, 2]]       # label set id -> label ids
TYPES = 3
KEY_INDEX = 1                             # a hash index on property "k"

values = st.one_of(
    st.integers(-2**63, 2**63 - 1), st.integers(2**63, 2**64 - 1), st.floats(allow_nan=False),
    st.booleans(), st.text(max_size=6), st.binary(max_size=6), st.dates(),
    st.lists(st.integers(-5, 5), max_size=3))
prop_maps = st.dictionaries(st.sampled_from(["a", "b", "k", "name"]), values, max_size=3)


def key_of(props):
    k = props.get("k")
    if k is None or isinstance(k, float):
        return None
    return records.key_bytes((k,))


class StoreModel(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.gen = Gen(0, 0, LABELSETS, [], {}, {}, ([], []))
        self.gens = [(0, self.gen)]            # (first LSN served, generation)
        self.lsn = 0
        self.next_node = self.next_edge = 0
        self.nodes = {}                        # id -> (lset, props)
        self.edges = {}                        # id -> (type, src, dst, props)
        self.history = {0: ({}, {})}           # lsn -> (nodes, edges) copies
        self.pending = []

    # -- writes (one commit = the pending ops, applied at commit) --
    @rule(lset=st.integers(0, 3), props=prop_maps, bulk=st.booleans())
    def create_node(self, lset, props, bulk):
        """A new node: node_put, or (bulk) nodes_bulk, whose version lives in the store's arena
        (later versions supersede it, trimming frees around it, the store frees it)."""
        self.pending.append(("node", self.next_node, lset, props, bulk))
        self.next_node += 1

    @precondition(lambda self: self.nodes)
    @rule(data=st.data(), lset=st.integers(0, 3), props=prop_maps)
    def update_node(self, data, lset, props):
        nid = data.draw(st.sampled_from(sorted(self.nodes)))
        self.pending.append(("node", nid, lset, props))

    @precondition(lambda self: self.nodes)
    @rule(data=st.data())
    def delete_node(self, data):
        nid = data.draw(st.sampled_from(sorted(self.nodes)))
        for eid, (_t, s, d, _p) in sorted(self.edges.items()):
            if nid in (s, d):
                self.pending.append(("edel", eid))
        self.pending.append(("ndel", nid))

    @precondition(lambda self: self.nodes)
    @rule(data=st.data(), t=st.integers(0, TYPES - 1), props=prop_maps)
    def create_edge(self, data, t, props):
        ids = sorted(self.nodes)
        s, d = data.draw(st.sampled_from(ids)), data.draw(st.sampled_from(ids))
        self.pending.append(("edge", self.next_edge, t, s, d, props))
        self.next_edge += 1

    @precondition(lambda self: self.edges)
    @rule(data=st.data(), props=prop_maps)
    def update_edge(self, data, props):
        eid = data.draw(st.sampled_from(sorted(self.edges)))
        t, s, d, _p = self.edges[eid]
        self.pending.append(("edge", eid, t, s, d, props))

    @precondition(lambda self: self.edges)
    @rule(data=st.data())
    def delete_edge(self, data):
        self.pending.append(("edel", data.draw(st.sampled_from(sorted(self.edges)))))

    @rule()
    def commit(self):
        if not self.pending:
            return
        self.lsn += 1
        lsn, s = self.lsn, self.gen.store
        floor = min(l for l, _g in self.gens[-1:]) if False else lsn   # no readers pinned
        floor = self.gens[-1][0]     # keep every version since the generation began
        done = set()
        run = []                     # consecutive edge writes: one edge_put_many (one edge: edge_put)

        def flush():
            if len(run) == 1:
                s.edge_put(*run[0], lsn, floor)
            elif run:
                maps = [r[4] for r in run]
                offs = [0]
                for m in maps:
                    offs.append(offs[-1] + len(m))
                s.edge_put_many([r[0] for r in run], [r[1] for r in run], [r[2] for r in run],
                                [r[3] for r in run], b"".join(maps), offs, lsn, floor)
            run.clear()
        for op in self.pending:
            if op[0] != "edge":
                flush()
            if op[0] == "node":
                _k, nid, lset, props = op[:4]
                if nid in done:
                    continue
                old = self.nodes.get(nid)
                if nid < s.node_base and not s.touched(nid):
                    if old is not None and key_of(old[1]) is not None:
                        s.key_base_dead(KEY_INDEX, key_of(old[1]))
                    old = None
                if old is not None and key_of(old[1]) is not None:
                    s.key_del(KEY_INDEX, key_of(old[1]), nid, lsn)
                packed = records.pack_props(props)
                if op[4:] == (True,):
                    s.nodes_bulk(nid, [lset], packed, [0, len(packed)], lsn)
                else:
                    s.node_put(nid, lset, packed, lsn, floor)
                if key_of(props) is not None:
                    s.key_put(KEY_INDEX, key_of(props), nid, lsn)
                self.nodes[nid] = (lset, props)
            elif op[0] == "ndel":
                nid = op[1]
                if nid not in self.nodes:
                    continue
                old = self.nodes.pop(nid)
                if nid < s.node_base and not s.touched(nid):
                    if key_of(old[1]) is not None:
                        s.key_base_dead(KEY_INDEX, key_of(old[1]))
                elif key_of(old[1]) is not None:
                    s.key_del(KEY_INDEX, key_of(old[1]), nid, lsn)
                s.node_put(nid, core.NODE_DELETED, b"", lsn, floor)
                done.add(nid)
            elif op[0] == "edge":
                _k, eid, t, src, dst, props = op
                if src not in self.nodes or dst not in self.nodes or eid in done:
                    continue
                run.append((eid, t, src, dst, records.pack_props(props)))
                self.edges[eid] = (t, src, dst, props)
            elif op[0] == "edel":
                if op[1] in self.edges:
                    s.edge_del(op[1], lsn)
                    del self.edges[op[1]]
                    done.add(op[1])
        flush()
        s.commit_end(lsn, floor)
        self.pending = []
        self.history[lsn] = (dict(self.nodes), dict(self.edges))

    @rule(split=st.integers(0, 2))
    def checkpoint(self, split):
        self.commit()
        label_ids = {0, 1, 2}
        old_nsub = self.gen.key_index.get(KEY_INDEX, 0)
        self.gen = checkpoint(self.gen, self.lsn, self.next_node, self.next_edge, LABELSETS, label_ids,
                              range(TYPES), [KEY_INDEX], {KEY_INDEX: max(old_nsub, split)})
        self.gens.append((self.lsn, self.gen))
        self.gens = self.gens[-3:]

    # -- reads --
    @rule(data=st.data())
    def keys_fresh(self, data):
        """lpg_store_keys_fresh (the schema fast path's key check) against the model, at the
        current LSN and at the oldest snapshot the generation serves: rows tagged 0 (checked)
        or 1 (masked off), keys equal by value (1 = 1.0), committed keys held."""
        held = [p["k"] for _l, p in self.nodes.values() if type(p.get("k")) in (int, str)]
        kval = st.one_of(st.integers(-3, 3), st.sampled_from([1.0, 2.0, 2.5, -0.0, True, "x", b"y",
                                                              float("nan"), dt.date(2020, 1, 1)]),
                         *([st.sampled_from(held)] if held else []))
        rows = data.draw(st.lists(st.tuples(st.integers(0, 1), st.fixed_dictionaries(
            {}, optional={"k": kval, "a": st.integers(0, 2)})), max_size=6))
        maps = [records.pack_props(p) for _t, p in rows]
        offs = [0]
        for m in maps:
            offs.append(offs[-1] + len(m))
        tags = array("I", [t for t, _p in rows])
        for snap in sorted({self.gens[-1][0], self.lsn}):
            keys = {key_of(p) for _l, p in self.history[snap][0].values()} - {None}
            got = self.gen.store.keys_fresh(KEY_INDEX, snap, b"".join(maps), array("Q", offs), tags,
                                            b"\x01\x00", "k")
            assert got == _keys_verdict([p for t, p in rows if t == 0], keys), (snap, rows)


    def check_at(self, gen, snap):
        nodes, edges = self.history[snap]
        s = gen.store
        for nid in range(self.next_node + 1):
            got = s.node(snap, nid)
            want = nodes.get(nid)
            if want is None:
                assert got is None, (snap, nid)
            else:
                assert got is not None and got[0] == want[0], (snap, nid, got, want)
                assert records.unpack_props(bytes(got[1])) == want[1]
        for eid in range(self.next_edge + 1):
            got = s.edge(snap, eid)
            want = edges.get(eid)
            if want is None:
                assert got is None, (snap, eid)
            else:
                assert got[:3] == want[:3] and records.unpack_props(bytes(got[3])) == want[3], (snap, eid)
        live = sorted(nodes)
        assert s.label_scan(0, snap) == live and s.label_count(0, snap) == len(live)
        for lab in (1, 2):
            members = [n for n in live if lab in LABELSETS[nodes[n][0]]]
            assert s.label_scan(lab, snap) == members and s.label_count(lab, snap) == len(members)
        for types in (None, [0], [1, 2]):
            want = sorted(e for e, v in edges.items() if types is None or v[0] in types)
            assert s.edge_scan(types, snap) == want and s.edge_count(types, snap) == len(want)
        for n in live:
            for d in ("out", "in", "both"):
                want = sorted((e, v[2] if v[1] == n else v[1]) for e, v in edges.items()
                              if (d in ("out", "both") and v[1] == n) or (d in ("in", "both") and v[2] == n))
                got = sorted(s.edges_of(n, d, None, snap))
                assert got == want, (snap, n, d)
                assert s.degree(n, d, None, snap) == len(want)
        if live:
            seed = live[0]
            frontier = {seed}
            for _ in range(2):
                frontier = {v[2] for e, v in edges.items() if v[1] in frontier}
            assert s.count_reach(seed, 2, "out", None, snap) == len(frontier - {seed})
        keys = {}
        for n in live:
            kb = key_of(nodes[n][1])
            if kb is not None:
                keys.setdefault(kb, []).append(n)
        for kb, ids in keys.items():
            assert s.key_get(KEY_INDEX, kb, snap) == sorted(ids), (snap, kb)
        for n in live:      # the point lookup (key bytes built in C) agrees with key_get
            k = nodes[n][1].get("k")
            got = s.key_point(KEY_INDEX, k, snap)
            if type(k) not in (int, str) or (type(k) is int and not -2**63 <= k < 2**63):
                assert got is None      # the caller builds the key bytes itself
                continue
            want = s.key_get(KEY_INDEX, records.key_bytes((k,)), snap)
            assert got is not None and got[0] == want, (snap, k, got, want)
            assert got[1] == s.node_ver(snap, want[0])[1]
        assert s.key_point(KEY_INDEX, "absent", snap) == ([], None)
        assert s.key_point(KEY_INDEX, -2**63, snap)[0] == sorted(
            n for n in live if nodes[n][1].get("k") == -2**63 and type(nodes[n][1]["k"]) is int)
        assert s.key_get(KEY_INDEX, records.key_bytes(("absent",)), snap) == []
        if keys:
            firsts = s.key_first_many(KEY_INDEX, list(keys), snap)
            assert firsts == [min(v) for v in keys.values()]

    @invariant()
    def reads_match(self):
        self.gen.store.check()
        self.check_at(self.gen, self.lsn)
        first = self.gens[-1][0]
        if first < self.lsn:
            self.check_at(self.gen, first)
        if len(self.gens) > 1:   # an older generation still serves the snapshots it began with
            lsn0, g0 = self.gens[-2]
            self.check_at(g0, lsn0)


def _keys_verdict(rows, committed) -> int:
    """What keys_fresh must say of the checked rows' "k" values, by values.py's key equality."""
    kbs = []
    for p in rows:
        v = p.get("k")
        if v is None:
            continue
        if isinstance(v, dt.date) or v != v or (type(v) is int and v > 2**63 - 1):
            return core.KEYS_PYTHON     # C leaves dates, NaN and uint64 ints past int64 to Python
        kbs.append(records.key_bytes((v,)))
    if len(set(kbs)) < len(kbs):
        return core.KEYS_TWICE
    return core.KEYS_HELD if any(kb in committed for kb in kbs) else core.KEYS_FRESH


def test_keys_fresh_checks_what_it_is_handed():
    """Offsets out of order or past the blob, tags of another length, a malformed map: typed
    errors, nothing read out of bounds; no rows: fresh."""
    gen = Gen(0, 0, LABELSETS, [], {}, {}, ([], []))
    s = gen.store
    m = records.pack_props({"k": 1})
    one = array("I", [0])
    assert s.keys_fresh(KEY_INDEX, 0, b"", array("Q", [0]), array("I"), b"\x01", "k") == core.KEYS_FRESH
    assert s.keys_fresh(KEY_INDEX, 0, m + m, array("Q", [0, len(m), 2 * len(m)]), array("I", [0, 0]), b"\x01",
                        "k") == core.KEYS_TWICE
    assert s.keys_fresh(KEY_INDEX, 0, m + m, array("Q", [0, len(m), 2 * len(m)]), array("I", [0, 7]), b"\x01",
                        "k") == core.KEYS_FRESH       # tag 7 is past the mask: not checked
    for offs in ([0, len(m) + 1], [len(m), 0], [3, 2]):
        with pytest.raises(errors.InterfaceError):
            s.keys_fresh(KEY_INDEX, 0, m, array("Q", offs), one, b"\x01", "k")
    with pytest.raises(errors.InterfaceError):
        s.keys_fresh(KEY_INDEX, 0, m, array("Q", [0, len(m)]), array("I", [0, 0]), b"\x01", "k")
    with pytest.raises(errors.InterfaceError):
        s.keys_fresh(KEY_INDEX, 0, m, [0, len(m)], one, b"\x01", "k")
    for bad in (b"\x81\xa1k", b"\xc1", m[:-1]):      # a map cut short, not a map, a value cut short
        with pytest.raises(errors.InterfaceError):
            s.keys_fresh(KEY_INDEX, 0, bad, array("Q", [0, len(bad)]), one, b"\x01", "k")


TestStoreModel = StoreModel.TestCase
TestStoreModel.settings = settings(max_examples=60, stateful_step_count=30, deadline=None,
                                   suppress_health_check=list(HealthCheck))


def test_reads_refuse_bad_arguments():
    s = core.Store(0, 0)
    assert s.node(0, 2**41) is None
    with pytest.raises(errors.InterfaceError):
        s.set_labelset(0, [0])             # label 0 is "every node", never part of a label set
    s.set_labelset(0, [])
    with pytest.raises(errors.InterfaceError):
        s.node_put(0, 5, b"", 1, 1)        # unknown label set
    with pytest.raises(errors.InterfaceError):
        s.expand([1], "sideways", None, 0)
    with pytest.raises(errors.NotFoundError):
        s.edge_del(3, 1)


def test_edge_put_many_checks_its_columns_before_writing():
    s = core.Store(0, 0)
    s.set_labelset(0, [])
    s.node_put_many([0, 1], [0, 0], b"", [0, 0, 0], 1, 1)
    m = records.pack_props({"w": 1})
    with pytest.raises(errors.InterfaceError, match="differ in length"):
        s.edge_put_many([0, 1], [0], [0, 1], [1, 0], m + m, [0, len(m), 2 * len(m)], 1, 1)
    with pytest.raises(errors.Error):      # an offset past the blob: refused before any write
        s.edge_put_many([0, 1], [0, 0], [0, 1], [1, 0], m, [0, len(m), 2 * len(m)], 1, 1)
    with pytest.raises(errors.Error):      # offsets going back
        s.edge_put_many([0, 1], [0, 0], [0, 1], [1, 0], m + m, [0, len(m) + 1, len(m)], 1, 1)
    s.commit_end(1, 1)
    assert s.edge_count(None, 1) == 0
    s.edge_put_many([0, 1], [0, 2], [0, 1], [1, 0], m + b"", [0, len(m), len(m)], 2, 2)
    s.commit_end(2, 2)
    assert s.edge(2, 0)[:3] == (0, 0, 1) and s.edge(2, 1)[:3] == (2, 1, 0)
    assert bytes(s.edge(2, 0)[3]) == m and bytes(s.edge(2, 1)[3]) == b""


KEY_EDGES = [0, 1, 31, 32, 127, 128, 255, 256, 65535, 65536, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**63 - 1]


@pytest.mark.parametrize("value", [v for x in KEY_EDGES for v in (x, -x, -x - 1) if -2**63 <= v < 2**63]
                         + ["", "a", "x" * 31, "x" * 32, "é" * 200, "y" * 255, "y" * 256, "z" * 65530,
                            "\u2603 snow", "\x00nul"], ids=lambda v: f"{type(v).__name__}-{str(v)[:12]}")
def test_point_lookup_builds_the_key_bytes_records_builds(value):
    """key_point's C-built canonical key bytes equal records.key_bytes((value,)): the entry
    stored under the Python-built bytes is found (every msgpack int and str header width)."""
    s = core.Store(0, 0)
    s.set_labelset(0, [])
    s.node_put(5, 0, records.pack_props({"k": value}), 1, 1)
    s.key_put(KEY_INDEX, records.key_bytes((value,)), 5, 1)
    s.commit_end(1, 1)
    assert s.key_point(KEY_INDEX, value, 1) == ([5], 1)
    assert s.key_point(KEY_INDEX, value, 0) == ([], None)         # before the commit
    other = value + 1 if type(value) is int and value < 2**63 - 1 else (value + "!" if type(value) is str else 0)
    assert s.key_point(KEY_INDEX, other, 1) == ([], None)


def test_point_lookup_leaves_other_kinds_to_the_caller():
    s = core.Store(0, 0)
    for v in (True, 1.0, 2**63, -2**63 - 1, b"x", None, "\ud800", (1,)):
        assert s.key_point(KEY_INDEX, v, 1) is None
    big = core.Store(0, 0)
    big.set_labelset(0, [])
    for nid in range(12):           # more ids than the point lookup returns in one call
        big.node_put(nid, 0, records.pack_props({"k": 7}), 1, 1)
        big.key_put(KEY_INDEX, records.key_bytes((7,)), nid, 1)
    big.commit_end(1, 1)
    assert big.key_point(KEY_INDEX, 7, 1) is None
    assert big.key_get(KEY_INDEX, records.key_bytes((7,)), 1) == list(range(12))


def test_key_put_many_matches_one_at_a_time():
    """key_put_many (one lock, the table reserved once, home slots prefetched) stores what
    key_put of each row would: many batches through several table growths, rows without a key
    skipped, then every key found under its node and nothing else."""
    many, one = core.Store(0, 0), core.Store(0, 0)
    rows = 5000
    keys = [records.key_bytes((i * 7919 % 100003,)) if i % 5 else None for i in range(rows)]
    for lo in range(0, rows, 700):
        part = keys[lo:lo + 700]
        blob = b"".join(k or b"" for k in part)
        koffs, at = [0], 0
        for k in part:
            at += len(k or b"")
            koffs.append(at)
        many.key_put_many(KEY_INDEX, blob, array("Q", koffs), bytes(1 if k else 0 for k in part), lo, 1)
        for i, k in enumerate(part):
            if k:
                one.key_put(KEY_INDEX, k, lo + i, 1)
    for s in (many, one):
        s.commit_end(1, 1)
    for i, k in enumerate(keys):
        if k:
            assert many.key_get(KEY_INDEX, k, 1) == one.key_get(KEY_INDEX, k, 1) == [i]
    assert many.key_get(KEY_INDEX, records.key_bytes((100004,)), 1) == []


def test_key_put_many_checks_offsets_before_writing_and_refuses_a_live_duplicate():
    s = core.Store(0, 0)
    a, b = records.key_bytes(("a",)), records.key_bytes(("b",))
    with pytest.raises(errors.Error):     # the second key's end is past the blob: nothing written
        s.key_put_many(KEY_INDEX, a + b, array("Q", [0, len(a), len(a + b) + 1]), b"\x01\x01", 0, 1)
    s.commit_end(1, 1)
    assert s.key_get(KEY_INDEX, a, 1) == []
    s.key_put_many(KEY_INDEX, a + b, array("Q", [0, len(a), len(a + b)]), b"\x01\x01", 0, 2)
    with pytest.raises(errors.Error):     # node 0 already holds key a
        s.key_put_many(KEY_INDEX, a, array("Q", [0, len(a)]), b"\x01", 0, 3)
    s.commit_end(2, 2)
    assert s.key_get(KEY_INDEX, a, 2) == [0] and s.key_get(KEY_INDEX, b, 2) == [1]


def test_u32_take():
    idx = array("I", [2, 0, 1, 2])
    assert core.u32_take([0, 1, 2], idx) is idx                 # the identity table
    assert list(core.u32_take([7], array("I", [0, 0, 0]))) == [7, 7, 7]
    assert list(core.u32_take([5, 9, 11], idx)) == [11, 5, 9, 11]
    assert list(core.u32_take([5, 9, 11], memoryview(idx))) == [11, 5, 9, 11]
    with pytest.raises(errors.InterfaceError, match="past the table"):
        core.u32_take([5, 9], idx)


def _point(s, q, value, snap):
    """lpg_store_point1 of an int key: (rc, the msgpack answer decoded, or None)."""
    r = lib.lpg_store_point1(s._h, q, 1, value, ffi.NULL, 0, snap)
    return r.rc, (msgpack.unpackb(ffi.buffer(r.out, r.rc)) if r.rc > 0 else None)


def test_point1_projects_a_row_and_checks_its_projection():
    """The projection C makes of a point read's row (view.PointRead): the named scalars copied
    (nil for an absent name), LPG_ETOOSMALL for several nodes or a value Python must decode,
    and LPG_EINVAL for a projection whose lengths do not add up (nothing is read past it)."""
    s = core.Store(0, 0)
    s.set_labelset(0, [])
    rows = {5: {"k": 1, "a": "x", "b": 2.5, "c": True}, 6: {"k": 2, "a": [1]}, 7: {"k": 3}, 8: {"k": 3}}
    for nid, props in rows.items():
        s.node_put(nid, 0, records.pack_props(props), 1, 1)
        s.key_put(KEY_INDEX, records.key_bytes((props["k"],)), nid, 1)
    s.commit_end(1, 1)
    q = core.PointQuery(KEY_INDEX, ("c", "a", "nope", "b"))
    rc, got = _point(s, q.c, 1, 1)
    assert rc > 0 and got == [5, 1, True, "x", None, 2.5]     # node 5, its version (LSN 1)
    assert _point(s, q.c, 1, 0)[0] == 0                       # not yet committed at snap 0
    assert _point(s, q.c, 9, 1)[0] == 0                       # no node holds the key
    assert _point(s, q.c, 2, 1)[0] == lib.LPG_ETOOSMALL       # a list: decoded in Python
    assert _point(s, q.c, 3, 1)[0] == lib.LPG_ETOOSMALL       # two nodes
    names = ffi.new("uint8_t[]", b"\x05\x00\x00\x00ab")      # a name of 5 bytes in 6
    bad = ffi.new("lpg_pointq *", {"index": KEY_INDEX, "nnames": 1, "names_len": 6, "names": names})
    assert _point(s, bad, 1, 1)[0] == lib.LPG_EINVAL
    bad.nnames, bad.names_len = 14, 0                          # more names than an answer holds
    assert _point(s, bad, 1, 1)[0] == lib.LPG_EINVAL
    bad.nnames, bad.names_len, bad.names = 1, 4, ffi.NULL
    assert _point(s, bad, 1, 1)[0] == lib.LPG_EINVAL
    assert lib.lpg_store_point1(ffi.NULL, q.c, 1, 1, ffi.NULL, 0, 1).rc == lib.LPG_EINVAL
    assert lib.lpg_store_point1(s._h, ffi.NULL, 1, 1, ffi.NULL, 0, 1).rc == lib.LPG_EINVAL
    assert lib.lpg_store_point1(s._h, q.c, 3, 1, ffi.NULL, 0, 1).rc == lib.LPG_EINVAL
    with pytest.raises(ValueError):
        core.PointQuery(KEY_INDEX, tuple(f"p{i}" for i in range(14)))
