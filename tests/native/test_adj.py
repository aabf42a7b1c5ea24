"""lpg_adj through core.Adjacency: visibility, expansion, bulk path, gc/compact, bad input."""
from array import array
from collections import Counter

import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from lpgdb import errors
from lpgdb.core import LSN_INF, Adjacency

ID_CAP = 2**40


@pytest.fixture
def adj():
    a = Adjacency()
    yield a
    a.close()


def _triangle(a):
    # 0 -> 1 (type 1), 1 -> 2 (type 2), 2 -> 0 (type 1), 1 -> 1 (type 3, self-loop)
    a.add(10, 1, 0, 1, 5)
    a.add(11, 2, 1, 2, 5)
    a.add(12, 1, 2, 0, 6)
    a.add(13, 3, 1, 1, 7)


def test_get_respects_begin_and_end(adj):
    adj.add(0, 4, 1, 2, lsn=10)
    assert adj.get(0, 9) is None
    assert adj.get(0, 10) == (4, 1, 2)
    adj.remove(0, 20)
    assert adj.get(0, 19) == (4, 1, 2)
    assert adj.get(0, 20) is None
    assert adj.get(1, 100) is None
    adj.check()


def test_get_many(adj):
    _triangle(adj)
    adj.remove(11, 8)
    assert adj.get_many([10, 11, 12, 99], 7) == ([1, 2, 1, -1], [0, 1, 2, 0], [1, 2, 0, 0])
    assert adj.get_many(array("Q", [11, 13]), 8) == ([-1, 3], [0, 1], [0, 1])
    assert adj.get_many([], 8) == ([], [], [])
    with pytest.raises(errors.InterfaceError):
        adj.get_many([1, ID_CAP], 8)


def test_expand_directions_and_self_loop_once(adj):
    _triangle(adj)
    nbrs, eids, frm = adj.expand([1], "out", None, 10)
    assert sorted(zip(eids, nbrs)) == [(11, 2), (13, 1)]
    assert frm == [0, 0]
    assert sorted(adj.edges(1, "in", None, 10)) == [(10, 0), (13, 1)]
    assert sorted(adj.edges(1, "both", None, 10)) == [(10, 0), (11, 2), (13, 1)]
    assert adj.degree(1, "both", None, 10) == 3
    assert adj.degree(1, "out", None, 10) == 2
    assert adj.degree_many([0, 1, 2, 99], "in", None, 10) == [1, 2, 1, 0]


def test_expand_frontier_reports_origin_index(adj):
    _triangle(adj)
    nbrs, eids, frm = adj.expand(array("Q", [2, 0]), "out", None, 10)
    assert sorted(zip(frm, eids, nbrs)) == [(0, 12, 0), (1, 10, 1)]


def test_type_filter(adj):
    _triangle(adj)
    assert sorted(adj.neighbors(1, "both", [1], 10)) == [0]
    assert sorted(adj.neighbors(1, "both", (1, 2), 10)) == [0, 2]
    assert adj.neighbors(1, "both", [], 10) == []
    assert adj.scan([1], 10) == [10, 12]
    assert adj.count([1, 3], 10) == 3
    # a large filter takes the sorted/binary-search path in C
    assert sorted(adj.neighbors(1, "both", list(range(100, 140)) + [2], 10)) == [2]


def test_snapshot_hides_later_edges(adj):
    _triangle(adj)
    assert adj.scan(None, 5) == [10, 11]
    assert adj.count(None, 6) == 3
    assert adj.degree(1, "both", None, 5) == 2
    assert adj.neighbors(1, "both", None, 4) == []


def test_expand_grows_buffer_for_hub(adj):
    n = 5000
    adj.add_many(list(range(n)), [0] * n, [0] * n, list(range(1, n + 1)), 1)
    nbrs, eids, frm = adj.expand([0, 0], "out", None, 1)
    assert len(nbrs) == 2 * n and frm.count(1) == n
    assert sorted(nbrs[:n]) == list(range(1, n + 1))
    adj.check()


def test_accepts_ranges_tuples_and_arrays(adj):
    adj.add_many(range(3), (0, 1, 0), array("q", [0, 1, 2]), [1, 2, 0], 1)
    assert adj.degree_many(range(3), "out", None, 1) == [1, 1, 1]
    assert sorted(adj.expand(array("L", [0, 1]), "out", range(2), 1)[0]) == [1, 2]
    adj.check()


def test_count_reach_two_hops(adj):
    # 0 -> {1, 2}, 1 -> {3, 0}, 2 -> {3, 4}
    edges = [(0, 1), (0, 2), (1, 3), (1, 0), (2, 3), (2, 4)]
    for i, (s, d) in enumerate(edges):
        adj.add(i, 0, s, d, 1)
    assert adj.count_reach(0, 1, "out", None, 1) == 2
    assert adj.count_reach(0, 2, "out", None, 1) == 2  # {3, 4}; 0 itself is excluded
    assert adj.count_reach(0, 2, "out", None, 1, exclude_seed=False) == 3
    assert adj.count_reach(0, 0, "out", None, 1, exclude_seed=False) == 1
    assert adj.count_reach(0, 2, "both", None, 1) == 2  # {3, 4}: 1 and 2 are not adjacent
    assert adj.count_reach(77, 2, "out", None, 1) == 0


def test_add_many_bulk_then_delta_then_compact(adj):
    n = 2000
    srcs = [i % 97 for i in range(n)]
    dsts = [(i * 7) % 113 for i in range(n)]
    adj.add_many(array("Q", range(n)), array("I", [i % 3 for i in range(n)]), srcs, dsts, 1)
    adj.check()
    adj.add_many([n, n + 1], [0, 0], [5, 500], [500, 5], 2)  # small batch: delta path
    adj.check()
    out_deg = Counter(srcs)
    assert adj.degree(5, "out", None, 2) == out_deg[5] + 1
    assert adj.degree(500, "both", None, 2) == 2
    assert adj.stats()["delta"] == 4 and adj.stats()["held"] == n + 2
    adj.compact()
    adj.check()
    st_ = adj.stats()
    assert st_["delta"] == 0 and st_["nodes"] == 501 and st_["bytes"] >= (n + 2) * 48
    assert adj.degree(5, "out", None, 2) == out_deg[5] + 1
    assert adj.count(None, 2) == n + 2
    assert adj.count(None, 1) == n


def test_add_many_is_all_or_nothing(adj):
    adj.add(3, 0, 0, 1, 1)
    with pytest.raises(errors.IntegrityError):
        adj.add_many([1, 2, 3], [0, 0, 0], [0, 0, 0], [1, 1, 1], 2)
    with pytest.raises(errors.IntegrityError):
        adj.add_many([7, 8, 7], [0, 0, 0], [0, 0, 0], [1, 1, 1], 2)
    with pytest.raises(errors.IntegrityError):  # duplicate on the bulk path
        adj.add_many(list(range(20, 320)) + [20], [0] * 301, [0] * 301, [1] * 301, 2)
    assert adj.scan(None, 10) == [3]
    adj.check()
    with pytest.raises(errors.InterfaceError):
        adj.add_many([1, 2], [0], [0, 0], [1, 1], 2)


def test_remove_errors(adj):
    adj.add(0, 0, 0, 1, 5)
    with pytest.raises(errors.NotFoundError):
        adj.remove(1, 6)
    with pytest.raises(errors.InterfaceError):
        adj.remove(0, 4)  # before its begin
    adj.remove(0, 6)
    with pytest.raises(errors.NotFoundError):
        adj.remove(0, 7)
    with pytest.raises(errors.IntegrityError):
        adj.add(0, 0, 0, 1, 8)  # held until gc
    adj.gc(6)
    adj.check()
    assert adj.scan(None, LSN_INF - 1) == []
    adj.add(0, 2, 3, 4, 9)  # the slot is free again
    assert adj.get(0, 9) == (2, 3, 4)
    adj.check()


def test_gc_keeps_edges_visible_to_newer_snapshots(adj):
    for i in range(10):
        adj.add(i, 0, i, i + 1, 1)
    adj.remove(3, 5)
    adj.remove(4, 7)
    adj.compact()
    adj.gc(6)
    adj.check()
    assert adj.get(3, 6) is None and adj.get(4, 6) == (0, 4, 5)
    assert adj.scan(None, 6) == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    assert adj.neighbors(4, "out", None, 6) == [5]
    assert adj.neighbors(4, "in", None, 6) == []


@pytest.mark.parametrize("call", [
    lambda a: a.add(ID_CAP, 0, 0, 1, 1),
    lambda a: a.add(0, 0, ID_CAP, 1, 1),
    lambda a: a.add(0, 0, 0, ID_CAP, 1),
    lambda a: a.add(0, 2**32, 0, 1, 1),
    lambda a: a.add(-1, 0, 0, 1, 1),
    lambda a: a.add(0, 0, 0, 1, LSN_INF),
    lambda a: a.add(0, 0, 0, 1, 2**64),
    lambda a: a.add("x", 0, 0, 1, 1),
    lambda a: a.add_many([0, ID_CAP], [0, 0], [0, 0], [1, 1], 1),
    lambda a: a.add_many([0], [-1], [0], [1], 1),
    lambda a: a.get(ID_CAP, 1),
    lambda a: a.get(0, -1),
    lambda a: a.remove(ID_CAP, 1),
    lambda a: a.expand([ID_CAP], "out", None, 1),
    lambda a: a.expand([0], "sideways", None, 1),
    lambda a: a.expand(["a"], "out", None, 1),
    lambda a: a.neighbors(0, "out", [2**32], 1),
    lambda a: a.neighbors(0, "out", list(range(2**20 + 1)), 1),
    lambda a: a.degree(ID_CAP, "out", None, 1),
    lambda a: a.degree(0, 5, None, 1),
    lambda a: a.degree(None, "out", None, 1),
    lambda a: a.degree_many([0, ID_CAP], "in", None, 1),
    lambda a: a.count_reach(ID_CAP, 2, "out", None, 1),
    lambda a: a.count_reach(0, 2**20 + 1, "out", None, 1),
    lambda a: a.count_reach(0, -1, "out", None, 1),
    lambda a: a.scan(["x"], 1),
])
def test_bad_input_raises_interface_error(adj, call):
    adj.add(0, 0, 0, 1, 1)
    with pytest.raises(errors.InterfaceError):
        call(adj)
    adj.check()
    assert adj.scan(None, 1) == [0]


def test_closed_handle_raises_interface_error():
    a = Adjacency()
    a.add(0, 0, 0, 1, 1)
    a.close()
    a.close()
    for call in (lambda: a.add(1, 0, 0, 1, 1), lambda: a.get(0, 1), lambda: a.degree(0, "out", None, 1),
                 lambda: a.neighbors(0, "out", None, 1), lambda: a.check(), lambda: a.compact(),
                 lambda: a.gc(1), lambda: a.scan(None, 1), lambda: a.count(None, 1),
                 lambda: a.count_reach(0, 2, "out", None, 1), lambda: a.remove(0, 2),
                 lambda: a.expand([0], "out", None, 1), lambda: a.degree_many([0], "out", None, 1),
                 lambda: a.add_many([1], [0], [0], [1], 1), lambda: a.edges(0, "out", None, 1),
                 lambda: a.stats(), lambda: a.get_many([0], 1)):
        with pytest.raises(errors.InterfaceError):
            call()


def test_concurrent_readers_during_writes():
    import threading
    a = Adjacency()
    a.add_many(list(range(1000)), [0] * 1000, [i % 50 for i in range(1000)],
               [(i + 1) % 50 for i in range(1000)], 1)
    stop = threading.Event()
    failures = []

    def reader():
        while not stop.is_set():
            if a.count_reach(0, 2, "both", None, 1) < 1 or a.degree(0, "out", None, 1) != 20:
                failures.append("wrong answer at snapshot 1")

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for i in range(1000, 3000):
        a.add(i, 1, i % 50, (i * 3) % 50, 2 + i)
        if i % 500 == 0:
            a.compact()
        if i % 7 == 0:
            a.remove(i - 1, 3 + i)
    stop.set()
    for t in threads:
        t.join()
    assert failures == []
    a.check()
    a.close()


# ---- stateful comparison with a plain-Python model ---------------------------------------------

NODES = st.integers(0, 12)
TYPES = st.integers(0, 3)
DIRS = st.sampled_from(["out", "in", "both"])
FILTERS = st.one_of(st.none(), st.lists(TYPES, max_size=3))


class AdjacencyModel(RuleBasedStateMachine):
    """Adjacency against {eid: [type, src, dst, begin, end]}; check() after every step."""

    @initialize()
    def setup(self):
        self.a = Adjacency()
        self.m = {}
        self.lsn = 1
        self.next_eid = 0
        self.min_snap = 0  # snapshots older than the last gc horizon are no longer readable

    def teardown(self):
        self.a.close()

    def _tick(self):
        self.lsn += 1
        return self.lsn

    @rule(t=TYPES, s=NODES, d=NODES)
    def add(self, t, s, d):
        lsn = self._tick()
        self.a.add(self.next_eid, t, s, d, lsn)
        self.m[self.next_eid] = [t, s, d, lsn, LSN_INF]
        self.next_eid += 1

    @rule(batch=st.lists(st.tuples(TYPES, NODES, NODES), min_size=1, max_size=300))
    def add_many(self, batch):
        lsn = self._tick()
        eids = list(range(self.next_eid, self.next_eid + len(batch)))
        self.next_eid += len(batch) + 3  # leave holes in the id space
        self.a.add_many(eids, [b[0] for b in batch], [b[1] for b in batch], [b[2] for b in batch], lsn)
        for e, (t, s, d) in zip(eids, batch):
            self.m[e] = [t, s, d, lsn, LSN_INF]

    @precondition(lambda self: any(v[4] == LSN_INF for v in self.m.values()))
    @rule(data=st.data())
    def remove(self, data):
        live = sorted(e for e, v in self.m.items() if v[4] == LSN_INF)
        e = data.draw(st.sampled_from(live))
        lsn = self._tick()
        self.a.remove(e, lsn)
        self.m[e][4] = lsn

    @rule(e=st.integers(0, 400))
    def remove_missing(self, e):
        if e in self.m and self.m[e][4] == LSN_INF:
            return
        with pytest.raises(errors.NotFoundError):
            self.a.remove(e, self.lsn)

    @rule(data=st.data())
    def gc(self, data):
        h = data.draw(st.integers(self.min_snap, self.lsn))
        self.a.gc(h)
        self.min_snap = h
        self.m = {e: v for e, v in self.m.items() if v[4] > h}

    @rule()
    def compact(self):
        self.a.compact()

    def _visible(self, snap, types=None):
        return {e: v for e, v in self.m.items()
                if v[3] <= snap < v[4] and (types is None or v[0] in types)}

    def _model_edges(self, vis, node, direction):
        out = []
        for e, (t, s, d, b, en) in vis.items():
            if direction in ("out", "both") and s == node:
                out.append((e, d))
            if direction == "in" and d == node or direction == "both" and d == node and s != node:
                out.append((e, s))
        return sorted(out)

    @rule(data=st.data(), direction=DIRS, types=FILTERS, nodes=st.lists(NODES, max_size=5))
    def reads(self, data, direction, types, nodes):
        snap = data.draw(st.integers(self.min_snap, self.lsn + 1))
        vis = self._visible(snap, None if types is None else set(types))
        nbrs, eids, frm = self.a.expand(nodes, direction, types, snap)
        got = sorted(zip(frm, eids, nbrs))
        want = sorted((i, e, n) for i, node in enumerate(nodes)
                      for e, n in self._model_edges(vis, node, direction))
        assert got == want
        assert self.a.degree_many(nodes, direction, types, snap) == [
            len(self._model_edges(vis, node, direction)) for node in nodes]
        assert self.a.scan(types, snap) == sorted(vis)
        assert self.a.count(types, snap) == len(vis)
        probe = data.draw(st.lists(st.integers(0, self.next_eid + 2), max_size=5))
        want_many = ([], [], [])
        for e in probe:
            v = self.m.get(e)
            want_get = tuple(v[:3]) if v and v[3] <= snap < v[4] else None
            assert self.a.get(e, snap) == want_get
            for col, x in zip(want_many, want_get or (-1, 0, 0)):
                col.append(x)
        assert self.a.get_many(probe, snap) == want_many

    @rule(data=st.data(), seed=NODES, hops=st.integers(0, 3), direction=DIRS, types=FILTERS,
          exclude=st.booleans())
    def reach(self, data, seed, hops, direction, types, exclude):
        snap = data.draw(st.integers(self.min_snap, self.lsn + 1))
        vis = self._visible(snap, None if types is None else set(types))
        level = {seed}
        for _ in range(hops):
            level = {n for v in level for _, n in self._model_edges(vis, v, direction)}
        if exclude:
            level.discard(seed)
        assert self.a.count_reach(seed, hops, direction, types, snap, exclude) == len(level)

    @invariant()
    def invariants_hold(self):
        self.a.check()


AdjacencyModel.TestCase.settings = settings(max_examples=100, stateful_step_count=30, deadline=None)
test_adjacency_model = AdjacencyModel.TestCase


class AdjacencyModelSoak(AdjacencyModel):
    """The same machine with many more and longer runs (opt-in: -m slow)."""


AdjacencyModelSoak.TestCase.settings = settings(max_examples=2000, stateful_step_count=60, deadline=None)
test_adjacency_model_soak = pytest.mark.slow(AdjacencyModelSoak.TestCase)
