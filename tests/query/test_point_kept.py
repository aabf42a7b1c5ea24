"""The answers ``db.execute`` keeps for point queries and hands out again at the same snapshot
(view.PointRead: an answer made or confirmed at the visible LSN is returned with no probe while
that LSN stays visible), and the runner of plans that read no graph, against a plain-dict
model: a file database through random writes (creates, deletes, key and value updates, writes
rolled back), checkpoints and reopens, each key asked several times between writes."""
import shutil
import tempfile

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import lpgdb

Q = "MATCH (p:P {k: $k}) RETURN p.name"
FREE = "RETURN $k AS k, 1 AS one"
KEYS = st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b", 2**62]))
NAMES = st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=2))
PROBES = [-3, 0, 1, 3, "a", "b", "zz", 2**62]


def _eq(a, b):
    return type(a) is type(b) and a == b


class KeptVsModel(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="lpgdb-kept-")
        self.path = self.dir + "/g.lpg"
        self.db = lpgdb.connect(self.path)
        self.db.create_index("P", "k")
        self.model = {}                 # node id -> props of a P node, committed
        self.stmt = self.db.prepare(Q)

    def teardown(self):
        self.db.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def want(self, k):
        return [(p.get("name"),) for nid, p in sorted(self.model.items()) if _eq(p["k"], k)]

    def ask(self, k):
        """The same key several times at one snapshot (made, then kept), by both entry points."""
        want = self.want(k)
        for _ in range(2):
            assert [tuple(r) for r in self.db.execute(Q, {"k": k}).fetchall()] == want, (k, want)
            assert [tuple(r) for r in self.stmt.execute({"k": k}).fetchall()] == want, (k, want)

    @rule(k=KEYS, name=NAMES)
    def create(self, k, name):
        props = {"k": k} if name is None else {"k": k, "name": name}
        with self.db.transaction() as tx:
            nid = tx.create_node("P", props)
        self.model[nid] = props

    @precondition(lambda self: self.model)
    @rule(data=st.data(), k=KEYS)
    def rekey(self, data, k):
        nid = data.draw(st.sampled_from(sorted(self.model)))
        old = self.model[nid]["k"]
        self.ask(old)                   # kept for the old key and the new one, then the write
        self.ask(k)
        with self.db.transaction() as tx:
            tx.update_node(nid, set={"k": k})
        self.model[nid] = {**self.model[nid], "k": k}
        self.ask(old)
        self.ask(k)

    @precondition(lambda self: self.model)
    @rule(data=st.data(), name=NAMES)
    def rename(self, data, name):
        """The key stays and the value read changes: what was kept for the key is stale."""
        nid = data.draw(st.sampled_from(sorted(self.model)))
        k = self.model[nid]["k"]
        self.ask(k)
        with self.db.transaction() as tx:
            tx.update_node(nid, set={"name": name})
        props = {x: v for x, v in self.model[nid].items() if x != "name"}
        self.model[nid] = props if name is None else {**props, "name": name}
        self.ask(k)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def delete(self, data):
        nid = data.draw(st.sampled_from(sorted(self.model)))
        k = self.model[nid]["k"]
        self.ask(k)
        with self.db.transaction() as tx:
            tx.delete_node(nid, detach=True)
        del self.model[nid]
        self.ask(k)

    @rule(k=KEYS)
    def rolled_back(self, k):
        """A write rolled back leaves the visible LSN, and every kept answer, as they were."""
        self.ask(k)
        tx = self.db.transaction()
        tx.create_node("P", {"k": k, "name": "never"})
        assert [tuple(r) for r in tx.execute(Q, {"k": k}).fetchall()][-1] == ("never",)
        tx.rollback()
        self.ask(k)

    @rule()
    def checkpoint(self):
        self.db.checkpoint()

    @rule()
    def reopen(self):
        self.db.close()
        self.db = lpgdb.connect(self.path)
        self.stmt = self.db.prepare(Q)

    @invariant()
    def every_key_agrees(self):
        for k in PROBES:
            self.ask(k)
            for params in ({"k": k}, {"k": k, "x": 1}):
                assert self.db.execute(FREE, params).fetchall() == [(k, 1)]
        with self.db.snapshot() as s:
            for k in PROBES:
                assert [tuple(r) for r in s.execute(Q, {"k": k}).fetchall()] == self.want(k)


TestKeptVsModel = KeptVsModel.TestCase
TestKeptVsModel.settings = settings(max_examples=12, stateful_step_count=20, deadline=None,
                                    suppress_health_check=list(HealthCheck))
