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
FREE = ["RETURN $k AS x, true AS one", "RETURN 1"]     # (no literal a text hides: literals.py)
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
        # a second database running the same texts (one shared PreparedQuery per text): its
        # answers stay its own, whatever happens to the first
        self.other = lpgdb.connect(":memory:")
        self.other.create_index("P", "k")
        with self.other.transaction() as tx:
            for k in (0, 1, "a"):
                tx.create_node("P", {"k": k, "name": f"other {k}"})

    def teardown(self):
        for s, _m, _sc in self.held:
            s.close()
        self.db.close()
        self.other.close()

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
    @rule(data=st.data(), name=NAMES)
    def rename(self, data, name):
        """The key stays, the value read changes: an answer kept for the key is stale."""
        nid = data.draw(st.sampled_from(sorted(self.model)))
        self._write(lambda tx: tx.update_node(nid, set={"name": name}))
        label, props = self.model[nid]
        props = {k: v for k, v in props.items() if k != "name"}
        self.model[nid] = (label, props if name is None else {**props, "name": name})

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
        """A transaction's query sees its own writes; db.execute (the fast runner) does not.
        Its writes are checked at commit, so until then it reads them as they are: a P node
        under NO_P too (not a plan pruned by the schema), and the commit is refused."""
        props = {"k": k, "name": name}
        try:
            with self.db.transaction() as tx:
                nid = tx.create_node("P", props)
                pending = {**self.model, nid: ("P", props)}
                for q in POINT:
                    for v in (k, 0):
                        mine = tx.execute(q, {"k": v}).fetchall()
                        assert _typed(mine) == _typed(self.want(q, pending, v, checked=False)), (q, v)
                        assert _typed(self.db.execute(q, {"k": v}).fetchall()) == \
                            _typed(self.want(q, self.model, v)), (q, v)
                if not commit:
                    tx.rollback()
        except lpgdb.SchemaViolationError:
            return
        if commit:
            self.model[nid] = ("P", props)

    def want(self, q, model, k, checked=True):
        """The rows of ``q`` on the graph ``model``; ``checked``: the graph is known to conform
        to the schema (committed), so a query on P under NO_P is planned as returning nothing."""
        if checked and self.schema == "NO_P":
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
                    mine = [(f"other {o}", o) if q == POINT[0] else (f"other {o}",) for o in (0, 1, "a")
                            if _eq(o, k)]
                    assert _typed(self.other.execute(q, params).fetchall()) == _typed(mine), (q, k)
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
    for q, params, want in [(POINT[1], {"k": 3}, [("n3",)]), (FREE[0], {"k": 3}, [(3, True)]), (FREE[1], None, [(1,)])]:
        db.execute(q, params)
        fast = db._statements[q]._fast
        assert fast is not None, q
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


def test_a_point_plan_reads_no_statistics_and_a_scan_is_replanned_as_the_graph_grows():
    """The point plan is an index seek at any size (the planner reads no counts for a seek), so
    its fast runner needs no size check; a plan made with statistics is remade when the graph
    grows past 4x (plan_for counts its runs and checks the size every _SIZE_CHECK_EVERY)."""
    db = lpgdb.connect(":memory:")
    db.create_index("P", "k")
    with db.transaction() as tx:
        for i in range(10):
            tx.create_node("P", {"k": i, "name": f"n{i}"})
    point = "MATCH (p:P {k: $k}) RETURN p.name AS size_check"
    scan = "MATCH (p:P) WHERE p.name = $n RETURN p.k"
    assert db.execute(point, {"k": 1}).fetchall() == [("n1",)]
    assert db.execute(scan, {"n": "n1"}).fetchall() == [(1,)]
    pq, sq = db._statements[point]._pq, db._statements[scan]._pq
    first, sfirst = pq._last, sq._last
    assert not first[1].used_stats and sfirst[1].used_stats
    assert db._statements[point]._fast is not None
    db.bulk_load(nodes=(("P", {"k": i, "name": f"n{i}"}) for i in range(10, 1000)))
    for i in range(3 * 64):
        assert db.execute(point, {"k": i}).fetchall() == [(f"n{i}",)]
        assert db.execute(scan, {"n": f"n{i}"}).fetchall() == [(i,)]
    assert pq._last is first                                   # the seek is kept
    assert sq._last is not sfirst and sq._last[2] >= 1000       # remade at the new size
    db.close()


def test_two_databases_running_one_text_keep_their_fast_runners():
    """The PreparedQuery of a text is shared by every database of the process; each database's
    statement keeps the fast runner of its own catalog's plan, so alternating two databases
    neither rebuilds the runners nor mixes their answers."""
    dbs = [lpgdb.connect(":memory:") for _ in range(2)]
    for j, db in enumerate(dbs):
        db.create_index("P", "k")
        with db.transaction() as tx:
            for i in range(5):
                tx.create_node("P", {"k": i, "name": f"db{j}-{i}"})
    q = POINT[1]
    for db in dbs:
        db.execute(q, {"k": 0})
    runners = [db._statements[q]._fast for db in dbs]
    assert all(r is not None for r in runners)
    assert dbs[0]._statements[q]._pq is dbs[1]._statements[q]._pq
    for i in range(5):
        for j, db in enumerate(dbs):
            assert db.execute(q, {"k": i}).fetchall() == [(f"db{j}-{i}",)]
            assert runners[j]({"k": i}, db.query_defaults).fetchall() == [(f"db{j}-{i}",)]
    assert [db._statements[q]._fast for db in dbs] == runners       # not rebuilt
    with dbs[1].transaction() as tx:                                # a write to one of them
        tx.create_node("P", {"k": 7, "name": "new"})
    assert dbs[1].execute(q, {"k": 7}).fetchall() == [("new",)]
    assert dbs[0].execute(q, {"k": 7}).fetchall() == []
    for db in dbs:
        db.close()
