"""The planner anchors on indexed equality and expands from there instead of scanning."""
import random

import pytest

import lpgdb
from lpgdb import query as lq


class _CountingView:
    """Delegates to a snapshot and counts the read calls the query engine makes."""

    def __init__(self, inner):
        self._inner = inner
        self.calls = {}

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def wrapper(*a, **k):
            self.calls[name] = self.calls.get(name, 0) + 1
            return attr(*a, **k)
        return wrapper


@pytest.fixture(scope="module")
def social():
    rng = random.Random(7)
    db = lpgdb.connect(":memory:")
    db.create_index("Person", "id")
    ids = rng.sample(range(1, 2 ** 31), 2000)
    with db.transaction() as tx:
        nodes = [tx.create_node("Person", {"id": pid, "name": f"p{pid}"}) for pid in ids]
        edges = set()
        while len(edges) < 8000:
            a, b = rng.sample(nodes, 2)
            if (a, b) not in edges:
                edges.add((a, b))
                tx.create_edge(a, "KNOWS", b)
    yield db, ids, nodes, edges
    db.close()


def test_two_hop_count_uses_the_key_index_and_matches_a_direct_computation(social):
    db, ids, nodes, edges = social
    out = {}
    for a, b in edges:
        out.setdefault(a, []).append(b)
    pid = ids[5]
    start = nodes[5]
    want = len({c for b in out.get(start, []) for c in out.get(b, [])})
    with db.snapshot() as s:
        view = _CountingView(s)
        res = lq.execute("MATCH (a:Person {id: $id})-[:KNOWS]->()-[:KNOWS]->(c) RETURN count(DISTINCT c)",
                         {"id": pid}, view, readonly=True)
    assert res.fetchall() == [(want,)]
    assert view.calls.get("key_lookup") == 1
    assert "nodes" not in view.calls and "node_ids" not in view.calls   # no label scan, no full scan
    hops = view.calls.get("edges_of", 0) + view.calls.get("expand", 0)
    assert hops <= 1 + len(out.get(start, []))           # one expansion per reached node


def test_where_equality_is_also_used_as_an_anchor(social):
    db, ids, nodes, edges = social
    with db.snapshot() as s:
        view = _CountingView(s)
        res = lq.execute("MATCH (a:Person) WHERE a.id = $id RETURN a.name", {"id": ids[9]}, view)
    assert res.fetchall() == [(f"p{ids[9]}",)]
    assert "nodes" not in view.calls and "node_ids" not in view.calls


def test_without_an_index_the_label_scan_still_answers(social):
    db, ids, nodes, edges = social
    with db.snapshot() as s:
        view = _CountingView(s)
        res = lq.execute("MATCH (a:Person {name: $n}) RETURN a.id", {"n": f"p{ids[3]}"}, view)
    assert res.fetchall() == [(ids[3],)]
    assert view.calls.get("nodes", 0) + view.calls.get("node_ids", 0) == 1


_KEYED = """CREATE GRAPH TYPE g STRICT {
  (personType: Person {personId INT, name STRING}),
  FOR (p:personType) KEY p.personId
}"""


def test_a_schema_key_constraint_is_an_index_seek():
    with lpgdb.connect(":memory:") as db:
        db.set_schema(_KEYED)
        db.execute("UNWIND range(1, 300) AS i CREATE (:Person {personId: i, name: 'p' + toString(i)})")
        q = "MATCH (p:Person {personId: $id}) RETURN p.name"
        plan = db.execute("EXPLAIN " + q, {"id": 1}).plan
        assert "NodeIndexSeek" in plan.operators and "NodeByLabelScan" not in plan.operators
        assert "KEY/EXCLUSIVE constraint serves as the index" in str(plan)
        with db.snapshot() as s:
            view = _CountingView(s)
            assert lq.execute(q, {"id": 42}, view, readonly=True).fetchall() == [("p42",)]
        assert view.calls.get("key_lookup") == 1 and "node_ids" not in view.calls
        with db.transaction() as tx:          # the transaction's own writes are found too
            tx.execute("CREATE (:Person {personId: 1000, name: 'new'})")
            assert tx.execute(q, {"id": 1000}).fetchall() == [("new",)]
            tx.rollback()
        assert db.execute(q, {"id": 1000}).fetchall() == []


@pytest.mark.parametrize("direction", ["out", "in", "both"])
def test_degree_count_rewrite_agrees_with_the_expansion(direction):
    """WITH n, count(*) AS d over one anonymous expansion is planned as the nodes' degrees and
    answers exactly what the row-by-row expansion answers (self loops, other types, writes of
    the transaction included)."""
    rng = random.Random(3)
    arrow = {"out": "-[:R]->", "in": "<-[:R]-", "both": "-[:R]-"}[direction]
    fast = f"MATCH (n:N){arrow}() WITH n, count(*) AS d WHERE d >= $t RETURN n.k AS k, d ORDER BY k"
    slow = f"MATCH (n:N){arrow}(x) WHERE x IS NOT NULL WITH n, count(*) AS d WHERE d >= $t RETURN n.k AS k, d ORDER BY k"
    with lpgdb.connect(":memory:") as db:
        with db.transaction() as tx:
            ids = [tx.create_node("N", {"k": i}) for i in range(60)] + [tx.create_node("M") for _ in range(5)]
            for _ in range(400):
                tx.create_edge(rng.choice(ids), rng.choice(["R", "R", "S"]), rng.choice(ids))
            tx.create_edge(ids[0], "R", ids[0])
        assert "DegreeCount" in db.execute("EXPLAIN " + fast, {"t": 1}).plan.operators
        assert "DegreeCount" not in db.execute("EXPLAIN " + slow, {"t": 1}).plan.operators
        for t in (0, 1, 7, 7.5, "x", None):
            assert db.execute(fast, {"t": t}).fetchall() == db.execute(slow, {"t": t}).fetchall()
        with db.transaction() as tx:
            tx.create_edge(ids[1], "R", ids[2])
            tx.delete_node(ids[3], detach=True)
            assert tx.execute(fast, {"t": 2}).fetchall() == tx.execute(slow, {"t": 2}).fetchall()
            tx.rollback()


def test_a_count_of_distinct_reach_keeps_the_with_where():
    with lpgdb.connect(":memory:") as db:
        db.execute("CREATE (a:P {id: 1})-[:R]->(:P)-[:R]->(:P), (a)-[:R]->(:P)-[:R]->(:P)")
        db.create_index("P", "id")
        q = "MATCH (a:P {id: 1})-[:R]->()-[:R]->(c) WHERE c <> a WITH count(DISTINCT c) AS n WHERE n > $m RETURN n"
        assert "CountDistinctReach" in db.execute("EXPLAIN " + q, {"m": 0}).plan.operators
        assert db.execute(q, {"m": 1}).fetchall() == [(2,)]
        assert db.execute(q, {"m": 2}).fetchall() == []


def test_a_followers_plan_cache_does_not_outlive_its_catalog_across_a_reload(tmp_path):
    """A read-only follower that reloads after the writer's checkpoint builds a new catalog. Plan
    caches are keyed by the catalog's version, which used to restart at 0 for every new catalog:
    the follower then reused the plan made under the old schema, where label X was in no type
    (a plan that returns nothing without reading), and counted 0 X nodes where there was 1."""
    path = str(tmp_path / "g")
    w = lpgdb.connect(path)
    w.set_schema("CREATE GRAPH TYPE g STRICT { (pType: P {k INT}) }")
    w.checkpoint()
    f = lpgdb.connect(path, readonly=True)
    q = "MATCH (n:X) RETURN count(*)"
    assert f.execute(q).fetchall() == [(0,)]
    w.set_schema("CREATE GRAPH TYPE g STRICT { (pType: P {k INT}), (xType: X {k INT}) }")
    with w.transaction() as tx:
        tx.create_node("X", {"k": 1})
    w.checkpoint()
    f.refresh()
    assert f.execute(q).fetchall() == w.execute(q).fetchall() == [(1,)]
    f.close()
    w.close()


def test_a_snapshot_older_than_a_schema_change_plans_with_the_schema_of_its_time():
    """The planner prunes a label that no type of the schema has (nothing can match it). A
    snapshot taken while X nodes existed, before they were deleted and a schema without X was
    set, still holds them: it must not be planned with the newer schema (it counted 0)."""
    db = lpgdb.connect(":memory:")
    with db.transaction() as tx:
        tx.create_node("X", {"k": 1})
        tx.create_node("P", {"k": 2})
    old = db.snapshot()
    q = "MATCH (n:X) RETURN count(*)"
    assert old.execute(q).fetchall() == [(1,)]             # a plan cached before the change
    with db.transaction() as tx:
        for n in tx.find_nodes("X"):
            tx.delete_node(n.id)
    db.set_schema("CREATE GRAPH TYPE g STRICT { (pType: P {k INT}) }")
    assert db.execute(q).fetchall() == [(0,)]              # planned with the new schema
    assert old.execute(q).fetchall() == [(1,)]
    assert len(list(old.nodes("X"))) == 1
    assert old.graph_type is None
    with db.snapshot() as now:
        assert now.graph_type is not None
    old.close()
    db.close()
