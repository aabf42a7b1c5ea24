"""The fast runners of cached read plans (``PreparedQuery.fast``: ``RETURN $x + 1`` with no
view, and the point plan ``MATCH (n:L {k: $p}) RETURN n.a`` through storage's ``PointRead``)
against the general path, which answers the same query on a pinned view with a reader and a
Context: same columns, rows (and value types), plan and notifications, through random writes,
checkpoints, index and schema changes, a transaction's own uncommitted writes and snapshots
held open across all of them."""
import datetime as dt

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import lpgdb

POINT = ["MATCH (p:P {k: $k}) RETURN p.name, p.k", "MATCH (p:P {k: $k}) RETURN p.name AS n"]
FREE = ["RETURN $k AS x, 1 AS one", "RETURN 1"]
KEYS = st.one_of(st.integers(-2, 2), st.sampled_from(["a", "é", 2**62, True, 1.0]))
NAMES = st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=3),
                  st.sampled_from([dt.date(2020, 1, 2), [1, 2], 1.5, b"x"]))
PROBES = [0, 1, -2, "a", "é", "zz", 2**62, 1.0, True, None]
# every schema accepts every node this test writes, except that NO_P has no type for label P
# (a query on P is then planned as returning nothing, with a notification)
SCHEMAS = {"OPEN": "CREATE GRAPH TYPE g STRICT { (pType: P {OPEN}), (qType: Q {OPEN}) }",
           "NO_P": "CREATE GRAPH TYPE g STRICT { (qType: Q {OPEN}) }"}


def _typed(rows):
    return [[(type(v).__name__, v) for v in r] for r in rows]


def _shape(res):
    """Everything a caller can see of a Result: columns, rows with their value types, the
    plan's operators and the notifications."""
    rows = res.fetchall()
    assert all(type(r).__mro__[1] is lpgdb.Row or type(r) is lpgdb.Row for r in rows)
    assert [r.keys() for r in rows] == [res.columns] * len(rows)
    return (res.columns, _typed(rows), res.plan.operators if res.plan is not None else None,
            res.notifications)


def _eq(a, b):
    """Cypher's equality of two stored keys: 1 = 1.0, but true <> 1 and 1 <> '1'."""
    num = (int, float)
    if type(a) in num and type(b) in num:
        return a == b
    return type(a) is type(b) and a == b


class FastVsGeneral(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.db = lpgdb.connect(":memory:")
        self.db.create_index("P", "k")
        self.indexed = True
        self.schema = None
        self.model = {}                 # node id -> (label, props), committed
        self.held = []                  # (snapshot, model copy, schema name at its start)

    def teardown(self):
        for s, _m, _sc in self.held:
            s.close()
        self.db.close()

    def _write(self, fn):
        try:
            with self.db.transaction() as tx:
                return fn(tx)
        except lpgdb.SchemaViolationError:
            return None                 # refused whole: nothing changed

    @rule(k=KEYS, name=NAMES, label=st.sampled_from(["P", "Q"]))
    def create(self, k, name, label):
        props = {"k": k} if name is None else {"k": k, "name": name}
        nid = self._write(lambda tx: tx.create_node(label, props))
        if nid is not None:
            self.model[nid] = (label, props)

    @precondition(lambda self: self.model)
    @rule(data=st.data(), k=KEYS)
    def rekey(self, data, k):
        nid = data.draw(st.sampled_from(sorted(self.model)))
        self._write(lambda tx: tx.update_node(nid, set={"k": k}))
        label, props = self.model[nid]
        self.model[nid] = (label, {**props, "k": k})

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def delete(self, data):
        nid = data.draw(st.sampled_from(sorted(self.model)))
        self._write(lambda tx: tx.delete_node(nid, detach=True))
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

    @rule(name=st.sampled_from([None, "OPEN", "NO_P"]))
    def change_schema(self, name):
        if name is None:
            self.db.drop_schema()
        else:
            try:
                self.db.set_schema(SCHEMAS[name])
            except lpgdb.SchemaViolationError:
                return                  # P nodes exist: NO_P refused, the old schema kept
        self.schema = name

    @precondition(lambda self: len(self.held) < 3)
    @rule()
    def hold_snapshot(self):
        self.held.append((self.db.snapshot(), dict(self.model), self.schema))

    @precondition(lambda self: self.held)
    @rule()
    def release_snapshot(self):
        self.held.pop(0)[0].close()

    @rule(k=KEYS, name=NAMES, commit=st.booleans())
    def uncommitted_writes(self, k, name, commit):
        """A transaction's query sees its own writes; db.execute (the fast runner) does not."""
        props = {"k": k, "name": name}
        try:
            with self.db.transaction() as tx:
                nid = tx.create_node("P", props)
                pending = {**self.model, nid: ("P", props)}
                for q in POINT:
                    for v in (k, 0):
                        mine = tx.execute(q, {"k": v}).fetchall()
                        assert _typed(mine) == _typed(self.want(q, pending, v)), (q, v)
                        assert _typed(self.db.execute(q, {"k": v}).fetchall()) == \
                            _typed(self.want(q, self.model, v)), (q, v)
                if not commit:
                    tx.rollback()
        except lpgdb.SchemaViolationError:
            return
        if commit:
            self.model[nid] = ("P", props)

    def want(self, q, model, k):
        if self.schema == "NO_P":
            return []
        rows = [props for nid, (label, props) in sorted(model.items()) if label == "P" and _eq(props["k"], k)]
        if q == POINT[0]:
            return [(p.get("name"), p["k"]) for p in rows]
        return [(p.get("name"),) for p in rows]

    @invariant()
    def fast_agrees_with_general(self):
        db = self.db
        for q in POINT + FREE:
            stmt = db.prepare(q)
            for k in PROBES:
                params = {"k": k} if "$k" in q else None
                general = _shape(db.execute(q, params, timeout=60))       # options: the general path
                with db.snapshot() as s:
                    assert _shape(s.execute(q, params)) == general, (q, k)
                assert _shape(db.execute(q, params)) == general, (q, k)
                assert _shape(stmt.execute(params)) == general, (q, k)
                fast = db._statements[q]._fast
                if fast is not None:
                    got = fast(params, db.query_defaults)
                    if got is not None:
                        assert _shape(got) == general, (q, k)
                if q in POINT:
                    want = self.want(q, self.model, k)
                    assert general[1] == _typed(want), (q, k, general, want)
        for s, m, _sc in self.held:     # held snapshots see neither later commits nor later schemas
            for k in (0, "a"):
                assert _typed(s.execute(POINT[0], {"k": k}).fetchall()) == \
                    _typed([(p.get("name"), p["k"]) for nid, (label, p) in sorted(m.items())
                            if label == "P" and _eq(p["k"], k)] if _sc != "NO_P" else [])


TestFastVsGeneral = FastVsGeneral.TestCase
TestFastVsGeneral.settings = settings(max_examples=10, stateful_step_count=15, deadline=None,
                                      suppress_health_check=list(HealthCheck))


def test_the_fast_runners_answer_the_common_calls():
    """The runners are made, answer, and hand back to the general path where they must (the
    model test above compares what they answer with the general path)."""
    db = lpgdb.connect(":memory:")
    with db.transaction() as tx:
        for i in range(5):
            tx.create_node("P", {"k": i, "name": f"n{i}"})
    db.create_index("P", "k")
    for q, params, want in [(POINT[1], {"k": 3}, [("n3",)]), (FREE[0], {"k": 3}, [(3, 1)]), (FREE[1], None, [(1,)])]:
        db.execute(q, params)
        fast = db._statements[q]._fast
        assert fast is not None, q
        got = fast(params, db.query_defaults)
        if got is None:          # a point runner hands every 64th run to the size check
            got = fast(params, db.query_defaults)
        assert got.fetchall() == want, q
        assert db.execute(q, params).fetchall() == want
    fast = db._statements[POINT[1]]._fast
    assert fast({"k": 3.0}, db.query_defaults) is None           # not an int or a str: general path
    assert db.execute(POINT[1], {"k": 3.0}).fetchall() == [("n3",)]
    assert fast({"k": 3}, {**db.query_defaults, "max_rows": 0}) is None   # the general path raises
    db.create_index("Q", "k")                                    # a catalog change: no longer valid
    assert fast({"k": 3}, db.query_defaults) is None
    assert db.execute(POINT[1], {"k": 3}).fetchall() == [("n3",)]
    assert db._statements[POINT[1]]._fast is not fast            # remade for the new plan
    with db.transaction() as tx:
        tx.create_node("P", {"k": 3, "name": "again"})
    assert sorted(db.execute(POINT[1], {"k": 3}).fetchall()) == [("again",), ("n3",)]   # two nodes
    db.close()
    with pytest.raises(lpgdb.InterfaceError):
        db.execute(POINT[1], {"k": 3})
    with pytest.raises(lpgdb.InterfaceError):
        db.execute("RETURN 1")


def test_the_point_runner_leaves_the_size_check_to_the_general_path():
    """A plan made with statistics is remade when the graph grows past 4x; the point runner
    hands one run in _SIZE_CHECK_EVERY to the general path, whose next plan_for checks it."""
    db = lpgdb.connect(":memory:")
    db.create_index("P", "k")
    with db.transaction() as tx:
        for i in range(10):
            tx.create_node("P", {"k": i, "name": f"n{i}"})
    q = "MATCH (p:P {k: $k}) RETURN p.name AS size_check"
    assert db.execute(q, {"k": 1}).fetchall() == [("n1",)]
    pq = db._statements[q]._pq
    first = pq._last
    assert first[1].used_stats and db._statements[q]._fast is not None
    db.bulk_load(nodes=(("P", {"k": i, "name": f"n{i}"}) for i in range(10, 1000)))
    for i in range(3 * 64):
        assert db.execute(q, {"k": i}).fetchall() == [(f"n{i}",)]
    assert pq._last is not first and pq._last[2] >= 1000       # remade at the new size
    db.close()
