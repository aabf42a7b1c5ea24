"""The point-lookup paths (key lookups by index, and ``MATCH (n:L {k: $v}) RETURN n.a`` run by
``PreparedQuery.fast``) against a plain-dict model, through random writes, deletes,
checkpoints and index changes, and with snapshots held open across them."""
import datetime as dt

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import lpgdb
from lpgdb.query import literals

Q = "MATCH (p:P {k: $k}) RETURN p.name, p.k"
KEYS = st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b", "é"]), st.sampled_from([2**62, -2**63, 2**63]))
NAMES = st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=3), st.sampled_from([dt.date(2020, 1, 2), [1, 2], 1.5]))


def _eq(a, b):
    return type(a) is type(b) and a == b


class PointVsModel(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.db = lpgdb.connect(":memory:")
        self.db.create_index("P", "k")
        self.indexed = True
        self.model = {}                 # node id -> (labels, props)
        self.held = []                  # (snapshot, model copy at its start)

    def teardown(self):
        for s, _m in self.held:
            s.close()
        self.db.close()

    @rule(k=KEYS, name=NAMES, label=st.sampled_from(["P", "Q"]))
    def create(self, k, name, label):
        props = {"k": k} if name is None else {"k": k, "name": name}
        with self.db.transaction() as tx:
            nid = tx.create_node(label, props)
        self.model[nid] = (frozenset([label]), props)

    @precondition(lambda self: self.model)
    @rule(data=st.data(), k=KEYS)
    def rekey(self, data, k):
        nid = data.draw(st.sampled_from(sorted(self.model)))
        with self.db.transaction() as tx:
            tx.update_node(nid, set={"k": k})
        labels, props = self.model[nid]
        self.model[nid] = (labels, {**props, "k": k})

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def delete(self, data):
        nid = data.draw(st.sampled_from(sorted(self.model)))
        with self.db.transaction() as tx:
            tx.delete_node(nid, detach=True)
        del self.model[nid]

    @rule()
    def checkpoint(self):
        self.db.checkpoint()

    @rule()
    def toggle_index(self):
        if self.indexed:
            self.db.drop_index("P", "k")
        else:
            self.db.create_index("P", "k")
        self.indexed = not self.indexed

    @precondition(lambda self: len(self.held) < 3)
    @rule()
    def hold_snapshot(self):
        self.held.append((self.db.snapshot(), dict(self.model)))

    @precondition(lambda self: self.held)
    @rule()
    def release_snapshot(self):
        s, _m = self.held.pop(0)
        s.close()

    def want(self, model, k):
        return [(props.get("name"), props["k"]) for nid, (labels, props) in sorted(model.items())
                if "P" in labels and _eq(props["k"], k)]

    @invariant()
    def lookups_match(self):
        stmt = self.db.prepare(Q)
        for k in [-3, 0, 3, "a", "é", "zz", 2**62, -2**63, 2**63, True, 1.0]:
            want = self.want(self.model, k if type(k) is not float else int(k))
            got = self.db.execute(Q, {"k": k}).fetchall()
            assert [tuple(r) for r in got] == want, (k, got, want)
            assert [tuple(r) for r in stmt.execute({"k": k}).fetchall()] == want
            with self.db.snapshot() as s:
                ids = s.key_lookup("P", "k", k)
                if self.indexed:
                    assert [(s.node(i).get("name"), s.node(i)["k"]) for i in ids] == want
                else:
                    assert ids is None
        for s, m in self.held:               # held snapshots never see later commits
            for k in [0, "a", 2**62]:
                ids = s.key_lookup("P", "k", k)
                want = [nid for nid, (labels, props) in sorted(m.items()) if "P" in labels and _eq(props["k"], k)]
                if ids is not None:
                    assert ids == want
                    assert [s.node(i)["k"] for i in ids] == [k] * len(want)
                assert [tuple(r) for r in s.execute(Q, {"k": k}).fetchall()] == self.want(m, k)


TestPointVsModel = PointVsModel.TestCase
TestPointVsModel.settings = settings(max_examples=12, stateful_step_count=20, deadline=None,
                                     suppress_health_check=list(HealthCheck))


def _db(**kw):
    db = lpgdb.connect(":memory:", **kw)
    with db.transaction() as tx:
        for i in range(1, 21):
            tx.create_node("P", {"k": i, "name": f"n{i}"})
    db.create_index("P", "k")
    return db


def test_the_point_plan_is_used_for_the_shape_and_only_for_it():
    db = _db()
    for q in ("MATCH (p:P {k: $k}) RETURN p.name", "MATCH (p:P {k: $k}) RETURN p.name AS n, p.k"):
        db.execute(q, {"k": 3})
        assert db._statements[q]._pq._last[1].point is not None, q
    db.execute("MATCH (p:P {k: 3}) RETURN p.name")    # its statement: the shape's (literals.py)
    assert db._statements["MATCH (p:P {k: $autolit_i0}) RETURN p.name"]._pq._last[1].point is not None
    stmt = db.prepare("MATCH (p:P {k: 3}) RETURN p.name")     # prepared as written: a literal key
    assert stmt.execute().fetchall() == [("n3",)] and stmt._pq._last[1].point is None
    for q in ("MATCH (p:P {k: $k}) RETURN p", "MATCH (p:P {k: $k}) WHERE p.name = 'x' RETURN p.name",
              "MATCH (p:P {k: $k}) RETURN p.name ORDER BY p.name",
              "MATCH (p:P {k: $k, name: 'n3'}) RETURN p.name", "MATCH (p:P {k: $k}) RETURN p.name LIMIT 1"):
        db.execute(q, {"k": 3})
        stmt = db._statements.get(q) or db._statements[literals.shape(q)[0]]   # its shape's ('x')
        assert stmt._pq._last[1].point is None, q
    assert db.execute("MATCH (p:P {k: $k, name: 'n3'}) RETURN p.name", {"k": 3}).fetchall() == [("n3",)]


def test_point_runs_keep_the_limits_and_errors_of_the_general_path():
    db = _db(max_rows=0)
    with pytest.raises(lpgdb.OperationalError):
        db.execute("MATCH (p:P {k: $k}) RETURN p.name", {"k": 3})
    assert db.execute("MATCH (p:P {k: $k}) RETURN p.name", {"k": 99}).fetchall() == []
    db = _db(query_memory=10)
    with pytest.raises(lpgdb.OperationalError):
        db.execute("MATCH (p:P {k: $k}) RETURN p.name", {"k": 3})
    db = _db()
    q = "MATCH (p:P {k: $k}) RETURN p.name"
    assert db.execute(q, {"k": 3}).fetchall() == [("n3",)]
    with pytest.raises(lpgdb.SemanticError):
        db.execute(q, {"j": 3})                       # missing parameter
    with pytest.raises(lpgdb.InterfaceError):
        db.execute(q, {3: 3})
    assert db.execute(q, {"k": 3, "other": 1}).fetchall() == [("n3",)]
    assert db.execute(q, {"k": 3.0}).fetchall() == [("n3",)]
    assert db.execute(q, {"k": None}).fetchall() == []
    assert db.execute(q, {"k": float("nan")}).fetchall() == []
    stmt = db.prepare(q)
    db.execute("MATCH (p:P {k: 3}) SET p.name = date('2020-01-02')")
    assert stmt.execute({"k": 3}).fetchall() == [(dt.date(2020, 1, 2),)]
    db.drop_index("P", "k")                          # the plan is remade: a label scan
    assert stmt.execute({"k": 4}).fetchall() == [("n4",)]
    assert "NodeIndexSeek" not in db.execute("EXPLAIN " + q, {"k": 4}).plan.operators
    db.close()
    with pytest.raises(lpgdb.InterfaceError):
        stmt.execute({"k": 4})
