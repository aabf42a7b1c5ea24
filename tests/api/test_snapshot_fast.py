"""The snapshot's point-read fast paths (``key_lookup`` -> ``node``, whose Node is kept with the
row version it was made from, and ``degree``) against a plain-dict model and against the
general read path of a transaction, through random writes, deletes, edge changes, checkpoints,
reopens (lazily opened files) and index changes, with snapshots held open across them."""
import shutil
import tempfile

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import lpgdb

KEYS = st.one_of(st.integers(-2, 2), st.sampled_from(["a", "é", 2**62]))


class SnapshotReadsVsModel(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="lpgdb-fast-")
        self.path = self.dir + "/db"
        self.db = lpgdb.connect(self.path)
        self.db.create_index("P", "k")
        self.indexed = True
        self.nodes = {}                 # node id -> (labels, props)
        self.edges = {}                 # edge id -> (src, label, dst)
        self.held = []                  # (snapshot, nodes copy, edges copy)

    def teardown(self):
        for h in self.held:
            h[0].close()
        self.db.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(k=KEYS, name=st.one_of(st.none(), st.text(max_size=2)), label=st.sampled_from(["P", "Q"]))
    def create(self, k, name, label):
        props = {"k": k} if name is None else {"k": k, "name": name}
        with self.db.transaction() as tx:
            nid = tx.create_node(label, props)
        self.nodes[nid] = (frozenset([label]), props)

    @precondition(lambda self: self.nodes)
    @rule(data=st.data(), k=KEYS)
    def update(self, data, k):
        nid = data.draw(st.sampled_from(sorted(self.nodes)))
        with self.db.transaction() as tx:
            tx.update_node(nid, set={"k": k})
        labels, props = self.nodes[nid]
        self.nodes[nid] = (labels, {**props, "k": k})

    @precondition(lambda self: self.nodes)
    @rule(data=st.data(), label=st.sampled_from(["KNOWS", "LIKES"]))
    def connect(self, data, label):
        a = data.draw(st.sampled_from(sorted(self.nodes)))
        b = data.draw(st.sampled_from(sorted(self.nodes)))
        with self.db.transaction() as tx:
            eid = tx.create_edge(a, label, b)
        self.edges[eid] = (a, label, b)

    @precondition(lambda self: self.edges)
    @rule(data=st.data())
    def disconnect(self, data):
        eid = data.draw(st.sampled_from(sorted(self.edges)))
        with self.db.transaction() as tx:
            tx.delete_edge(eid)
        del self.edges[eid]

    @precondition(lambda self: self.nodes)
    @rule(data=st.data())
    def delete(self, data):
        nid = data.draw(st.sampled_from(sorted(self.nodes)))
        with self.db.transaction() as tx:
            tx.delete_node(nid, detach=True)
        del self.nodes[nid]
        self.edges = {e: v for e, v in self.edges.items() if nid not in (v[0], v[2])}

    @rule()
    def checkpoint(self):
        self.db.checkpoint()

    @precondition(lambda self: not self.held)
    @rule()
    def reopen(self):
        self.db.close()
        self.db = lpgdb.connect(self.path)      # the data files open at their first read

    @rule()
    def toggle_index(self):
        if self.indexed:
            self.db.drop_index("P", "k")
        else:
            self.db.create_index("P", "k")
        self.indexed = not self.indexed

    @precondition(lambda self: len(self.held) < 2)
    @rule()
    def hold_snapshot(self):
        self.held.append((self.db.snapshot(), dict(self.nodes), dict(self.edges)))

    @precondition(lambda self: self.held)
    @rule()
    def release_snapshot(self):
        self.held.pop(0)[0].close()

    def check(self, s, nodes, edges, indexed):
        for k in [-1, 0, 2, "a", "é", 2**62, "zz"]:
            want = [nid for nid, (labels, props) in sorted(nodes.items()) if "P" in labels and props["k"] == k]
            ids = s.key_lookup("P", "k", k)
            if indexed:
                assert ids == want, (k, ids, want)
            else:       # no index at the snapshot's LSN (a held one may see one made later)
                assert ids is None or ids == want, (k, ids, want)
            if ids:
                n = s.node(ids[0])
                assert (n.id, n.labels, dict(n)) == (ids[0], *nodes[ids[0]])
        for nid, (labels, props) in nodes.items():
            n = s.node(nid)
            assert (n.id, n.labels, dict(n), n.get("name")) == (nid, labels, props, props.get("name"))
            for label in ("KNOWS", "LIKES", None):
                want = sum(1 for a, lab, _b in edges.values() if a == nid and label in (None, lab))
                assert s.degree(nid, "out", label) == want
            want_in = sum(1 for _a, lab, b in edges.values() if b == nid and lab == "KNOWS")
            assert s.degree(nid, "in", "KNOWS") == want_in

    @invariant()
    def reads_match(self):
        with self.db.snapshot() as s:
            self.check(s, self.nodes, self.edges, self.indexed)
            with self.db.transaction() as tx:    # the general path: same answers, equal Nodes
                for nid in self.nodes:
                    assert tx.node(nid) == s.node(nid)
                    assert tx.degree(nid, "both") == s.degree(nid, "both")
        for s, nodes, edges in self.held:        # held snapshots never see later commits (an
            self.check(s, nodes, edges, False)   # index dropped since: they scan, None)


TestSnapshotReadsVsModel = SnapshotReadsVsModel.TestCase
TestSnapshotReadsVsModel.settings = settings(max_examples=15, stateful_step_count=18, deadline=None,
                                             suppress_health_check=list(HealthCheck))


def test_a_held_snapshot_keeps_its_node_versions_while_newer_ones_are_read(tmp_path):
    db = lpgdb.connect(str(tmp_path / "db"))
    db.create_index("P", "k")
    with db.transaction() as tx:
        a = tx.create_node("P", {"k": 1, "name": "old"})
    for checkpoint in (False, True):
        old = db.snapshot()
        assert old.node(a)["name"] == "old" and old.node(old.key_lookup("P", "k", 1)[0])["name"] == "old"
        with db.transaction() as tx:
            tx.update_node(a, set={"name": "new"})
        if checkpoint:
            db.checkpoint()
        with db.snapshot() as s:
            assert s.node(s.key_lookup("P", "k", 1)[0])["name"] == "new"
            assert s.node(a) is s.node(a)            # one Node per row version
        assert old.node(a)["name"] == "old"          # its own version, not the newer Node
        assert old.node(old.key_lookup("P", "k", 1)[0])["name"] == "old"
        old.close()
        with db.transaction() as tx:
            tx.update_node(a, set={"name": "old"})
    db.close()
