"""The engine against a plain-dict model (design/storage.md §3.3 harness E).

Every write op of the API, commit, rollback, checkpoint, clean reopen, crash-like reopen (no
checkpoint, WAL replay) and long-lived snapshots; after every step every read path must agree
with the model: node/edge lookups, label scans, counts, neighbors in all directions, degree,
find_nodes, and the native invariant checks.
"""
import copy
import shutil
import tempfile

from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import lpgdb

LABELS = st.frozensets(st.sampled_from(["A", "B", "C"]), max_size=2)
KEYS = st.sampled_from(["k", "m", "n"])
VALUES = st.one_of(st.integers(-5, 5), st.text(max_size=3), st.booleans(), st.floats(allow_nan=False),
                   st.lists(st.integers(0, 3), max_size=2))
PROPS = st.dictionaries(KEYS, VALUES, max_size=3)


class EngineVsModel(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="lpgdb-model-")
        self.path = self.dir + "/db"
        self.db = lpgdb.connect(self.path, sync="off", wal_segment_size=64 * 1024)
        self.committed = {"nodes": {}, "edges": {}}
        self.model = copy.deepcopy(self.committed)
        self.tx = None
        self.snap = None          # (snapshot, model at its time)

    def teardown(self):
        if self.snap:
            self.snap[0].close()
        self.db.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- helpers -------------------------------------------------------------------------------
    def _tx(self):
        if self.tx is None:
            self.tx = self.db.transaction()
        return self.tx

    def _end_tx(self, commit):
        if self.tx is not None:
            if commit:
                self.tx.commit()
                self.committed = copy.deepcopy(self.model)
            else:
                self.tx.rollback()
                self.model = copy.deepcopy(self.committed)
            self.tx = None

    # -- writes -------------------------------------------------------------------------------
    @rule(labels=LABELS, props=PROPS)
    def create_node(self, labels, props):
        nid = self._tx().create_node(labels, props)
        assert nid not in self.model["nodes"]
        self.model["nodes"][nid] = (labels, dict(props))

    @precondition(lambda self: self.model["nodes"])
    @rule(data=st.data(), labels=LABELS, props=PROPS)
    def create_edge(self, data, labels, props):
        ids = sorted(self.model["nodes"])
        s, d = data.draw(st.sampled_from(ids)), data.draw(st.sampled_from(ids))
        eid = self._tx().create_edge(s, labels, d, props)
        self.model["edges"][eid] = (labels, s, d, dict(props))

    @precondition(lambda self: self.model["nodes"])
    @rule(data=st.data(), set_=PROPS, remove=st.lists(KEYS, max_size=2), add=LABELS, rem=LABELS)
    def update_node(self, data, set_, remove, add, rem):
        nid = data.draw(st.sampled_from(sorted(self.model["nodes"])))
        if add & rem or any(set_.get(k) is not None for k in remove):
            try:    # set and removed, or added and removed: refused, nothing changes
                self._tx().update_node(nid, set=set_, remove=remove, add_labels=add, remove_labels=rem)
            except lpgdb.InterfaceError as e:
                assert "both" in str(e)
                return
            raise AssertionError("a contradictory update_node was accepted")
        self._tx().update_node(nid, set=set_, remove=remove, add_labels=add, remove_labels=rem)
        labels, props = self.model["nodes"][nid]
        props = dict(props)
        for k in remove:
            props.pop(k, None)
        props.update(set_)
        self.model["nodes"][nid] = ((labels | add) - rem, props)

    @precondition(lambda self: self.model["edges"])
    @rule(data=st.data(), set_=PROPS, unset=KEYS)
    def update_edge(self, data, set_, unset):
        eid = data.draw(st.sampled_from(sorted(self.model["edges"])))
        changes = dict(set_)
        changes.setdefault(unset, None)
        self._tx().update_edge(eid, set=changes)
        labels, s, d, props = self.model["edges"][eid]
        props = dict(props)
        for k, v in changes.items():
            if v is None:
                props.pop(k, None)
            else:
                props[k] = v
        self.model["edges"][eid] = (labels, s, d, props)

    @precondition(lambda self: self.model["edges"])
    @rule(data=st.data())
    def delete_edge(self, data):
        eid = data.draw(st.sampled_from(sorted(self.model["edges"])))
        self._tx().delete_edge(eid)
        del self.model["edges"][eid]

    @precondition(lambda self: self.model["nodes"])
    @rule(data=st.data(), detach=st.booleans())
    def delete_node(self, data, detach):
        nid = data.draw(st.sampled_from(sorted(self.model["nodes"])))
        incident = [e for e, (_l, s, d, _p) in self.model["edges"].items() if nid in (s, d)]
        if incident and not detach:
            try:
                self._tx().delete_node(nid)
            except lpgdb.IntegrityError:
                return
            raise AssertionError("delete_node without detach succeeded on a node with edges")
        self._tx().delete_node(nid, detach=detach)
        for e in incident:
            del self.model["edges"][e]
        del self.model["nodes"][nid]

    # -- transaction control and storage events ------------------------------------------------
    @rule()
    def commit(self):
        self._end_tx(True)

    @rule()
    def rollback(self):
        self._end_tx(False)

    @rule()
    def checkpoint(self):
        self._end_tx(True)
        self.db.checkpoint()

    @rule(crash=st.booleans())
    def reopen(self, crash):
        self._end_tx(True)
        if self.snap:
            self.snap[0].close()
            self.snap = None
        if crash:   # no checkpoint at close: everything since the last one comes from the WAL
            self.db._engine.close(checkpoint_on_close=False)
            self.db._closed = True
        else:
            self.db.close()
        self.db = lpgdb.connect(self.path, sync="off", wal_segment_size=64 * 1024)

    @rule()
    def take_snapshot(self):
        if self.snap:
            self.snap[0].close()
        self.snap = (self.db.snapshot(), copy.deepcopy(self.committed))

    # -- invariants ----------------------------------------------------------------------------
    def _check(self, view, model):
        nodes, edges = model["nodes"], model["edges"]
        assert view.node_count() == len(nodes) and view.edge_count() == len(edges)
        assert [n.id for n in view.nodes()] == sorted(nodes)
        for n in view.nodes():
            assert (n.labels, dict(n.properties)) == nodes[n.id]
        for lab in "ABC":
            assert [n.id for n in view.nodes(lab)] == sorted(i for i, (ls, _) in nodes.items() if lab in ls)
            assert view.edge_count(lab) == sum(1 for e in edges.values() if lab in e[0])
        got_edges = {e.id: (e.labels, e.src, e.dst, dict(e.properties)) for e in view.edges()}
        assert got_edges == edges
        for nid in nodes:
            for direction in ("out", "in", "both"):
                want = sorted(e for e, (_l, s, d, _p) in edges.items()
                              if (direction != "in" and s == nid) or (direction != "out" and d == nid))
                assert sorted(e.id for e in view.edges_of(nid, direction)) == want
                assert view.degree(nid, direction) == len(want)
                assert view.degree(nid, direction, "A") == sum(1 for e in want if "A" in edges[e][0])
            assert sorted(view.neighbors(nid, "out")) == sorted(d for (_l, s, d, _p) in edges.values() if s == nid)
        for nid, (labels, props) in nodes.items():
            for k, v in props.items():
                for lab in labels:
                    assert nid in [n.id for n in view.find_nodes(lab, **{k: v})]

    @invariant()
    def engine_matches_model(self):
        with self.db.snapshot() as s:
            self._check(s, self.committed)
        if self.tx is not None:
            self._check(self.tx, self.model)
        if self.snap:
            self._check(self.snap[0], self.snap[1])
        self.db.verify()


EngineVsModel.TestCase.settings = settings(max_examples=75, stateful_step_count=40, deadline=None)
TestEngineVsModel = EngineVsModel.TestCase
