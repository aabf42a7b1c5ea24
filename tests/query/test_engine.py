"""The planner and operators: plans (EXPLAIN/PROFILE), joins, limits, prepared statements, the
clauses added with the logical plan, LOAD CSV confinement and schema-aware planning."""
import os

import pytest

import lpgdb


@pytest.fixture
def db():
    d = lpgdb.connect(":memory:")
    d.execute("UNWIND range(1, 30) AS i CREATE (:P {id: i, g: i % 3})")
    d.execute("MATCH (a:P), (b:P) WHERE b.id = a.id + 1 CREATE (a)-[:NEXT]->(b)")
    yield d
    d.close()


def test_explain_returns_the_plan_without_running_and_profile_counts_rows(db):
    r = db.execute("EXPLAIN MATCH (n:P) CREATE (:Q)")
    assert r.fetchall() == [] and "Create" in r.plan.operators
    assert db.execute("MATCH (q:Q) RETURN count(*)").fetchall() == [(0,)]      # nothing ran
    r = db.execute("PROFILE MATCH (a:P)-[:NEXT]->(b) WHERE a.g = 0 RETURN count(*)")
    assert r.fetchall() == [(9,)]
    d = r.plan.to_dict()
    assert d["operator"] == "ProduceResults" and "rows" in d
    assert "rows=" in str(r.plan) and "Expand" in str(r.plan)
    assert db.execute("MATCH (n:P) RETURN n").plan is not None


def test_an_equality_between_pattern_parts_is_a_hash_join_with_the_product_s_answer(db):
    q = "MATCH (a:P), (b:P) WHERE a.g = b.g AND a.id < b.id RETURN count(*)"
    r = db.execute(q)
    assert "ValueHashJoin" in r.plan.operators and "CartesianProduct" not in r.plan.operators
    want = sum(1 for a in range(1, 31) for b in range(1, 31) if a % 3 == b % 3 and a < b)
    assert r.fetchall() == [(want,)]
    # nulls and NaN never join (Cypher's = is not true for them)
    db.execute("CREATE (:X {v: null}), (:X {v: 0.0/0.0}), (:Y {v: 0.0/0.0}), (:Y)")
    assert db.execute("MATCH (x:X), (y:Y) WHERE x.v = y.v RETURN count(*)").fetchall() == [(0,)]


def test_an_index_or_a_key_serves_the_anchor_and_explain_says_so(db):
    assert "NodeByLabelScan" in db.execute("EXPLAIN MATCH (n:P {id: 3}) RETURN n").plan.operators
    db.execute("CREATE INDEX FOR (n:P) ON (n.id)")
    assert db.indexes() == [("P", ("id",))]
    r = db.execute("MATCH (n:P {id: $id}) RETURN n.g", {"id": 5})
    assert "NodeIndexSeek" in r.plan.operators and r.fetchall() == [(2,)]
    with pytest.raises(lpgdb.OperationalError, match="already exists"):
        db.execute("CREATE INDEX FOR (n:P) ON (n.id)")
    db.execute("CREATE INDEX IF NOT EXISTS FOR (n:P) ON (n.id)")
    db.execute("DROP INDEX P_id")
    assert db.indexes() == []
    with pytest.raises(lpgdb.OperationalError, match="no index named"):
        db.execute("DROP INDEX P_id")
    db.execute("DROP INDEX P_id IF EXISTS")
    with pytest.raises(lpgdb.NotSupportedError, match="graph type"):
        db.execute("CREATE CONSTRAINT FOR (n:P) REQUIRE n.id IS UNIQUE")


def test_count_distinct_reach_matches_the_general_plan(db):
    db.execute("MATCH (a:P {id: 1}), (b:P {id: 3}) CREATE (a)-[:NEXT]->(b), (b)-[:NEXT]->(a)")
    db.execute("CREATE INDEX FOR (n:P) ON (n.id)")
    q = "MATCH (a:P {id: 1})-[:NEXT]->()-[:NEXT]->(c) WHERE c <> a RETURN count(DISTINCT c)"
    r = db.execute(q)
    assert "CountDistinctReach" in r.plan.operators
    general = db.execute("MATCH (a:P {id: 1})-[:NEXT]->()-[:NEXT]->(c) WHERE c <> a "
                         "WITH DISTINCT c RETURN count(*)").fetchall()
    assert r.fetchall() == general == [(2,)]


def test_prepared_statements_reuse_their_plan(db):
    st = db.prepare("MATCH (n:P {id: $id}) RETURN n.g AS g")
    assert [st.execute({"id": i}).fetchone()["g"] for i in (1, 2, 3)] == [1, 2, 0]
    assert st.readonly and "NodeByLabelScan" in st.explain().operators
    w = db.prepare("CREATE (:W {v: $v})")
    w.execute({"v": 1})
    assert db.execute("MATCH (w:W) RETURN w.v").fetchall() == [(1,)]


POINT_QUERIES = [
    "MATCH (p:Q {k: $k}) RETURN p.name",
    "MATCH (p:Q {k: $k}) RETURN p.name, p.born, p.tags, p.missing",
    "MATCH (p:Q {k: $k}) RETURN p, p.name + '!' AS x, $k AS k",
    "MATCH (p:Q {k: $k, name: 'b'}) RETURN p.name",
    "MATCH (p:Q {k: $k}) RETURN p.name SKIP 1 LIMIT 1",
    "MATCH (p:Q) WHERE p.k = $k RETURN p.name, p.born",
    "MATCH (p:Q) WHERE $k = p.k AND p.name <> 'b' RETURN p.name",
    "MATCH (a:Q), (b:Q) WHERE a.k = $k AND b.k = 3 AND a.name = b.name RETURN a.name",
]


@pytest.mark.parametrize("q", POINT_QUERIES)
def test_point_lookups_answer_as_the_scan_does(q):
    """A projection over an index seek runs as one function (operators._point); its rows are
    those of the same query on a database without the index (a label scan and a filter),
    including temporal and list values, absent properties, a key several nodes share, and a
    node the transaction itself created or deleted."""
    import datetime as dt
    with lpgdb.connect(":memory:") as with_index, lpgdb.connect(":memory:") as without:
        for d in (with_index, without):
            d.execute("UNWIND range(1, 20) AS i CREATE (:Q {k: i % 7, name: toString(i), "
                      "born: date({year: 2000 + i, month: 1, day: 1}), tags: [i, i + 1]})")
            d.execute("CREATE (:Q {k: 3, name: 'b'}), (:Q {k: 'three', name: 'c'})")
            with d.transaction() as tx:        # a Python timedelta reads back as a Duration
                tx.create_node("Q", {"k": 3, "name": "d", "born": dt.timedelta(hours=5)})
        with_index.create_index("Q", "k")
        for k in (3, 3.0, 0, 99, "three", None, float("nan"), [3], True, dt.date(2000, 1, 1)):
            got = sorted(map(repr, with_index.execute(q, {"k": k}).fetchall()))
            want = sorted(map(repr, without.execute(q, {"k": k}).fetchall()))
            if "SKIP" in q:
                assert len(got) == len(want)
            else:
                assert got == want, k
        assert "NodeIndexSeek" in with_index.execute(q, {"k": 3}).plan.operators
        with with_index.transaction() as tx:
            tx.execute("CREATE (:Q {k: 55, name: 'new'})")
            tx.execute("MATCH (p:Q {k: 3, name: 'b'}) DELETE p")
            assert tx.execute("MATCH (p:Q {k: 55}) RETURN p.name").fetchall() == [("new",)]
            assert ("b",) not in tx.execute("MATCH (p:Q {k: 3}) RETURN p.name").fetchall()
            tx.rollback()


def test_aggregates_of_node_properties_read_per_batch_answer_as_row_by_row():
    """avg(n.age) over many nodes reads the property of a batch of nodes in one native call
    (operators._property_columns); the answers are those of the same aggregates over values
    projected first (row by row), with absent properties, temporal and list values, several
    groups, and inside a transaction that changed some of the nodes."""
    import datetime as dt
    with lpgdb.connect(":memory:") as d:
        d.execute("UNWIND range(1, 1500) AS i CREATE (:N {g: i % 3, v: CASE WHEN i % 5 = 0 THEN null ELSE i END, "
                  "on: date({year: 2000, month: 1, day: 1}) + duration({days: i}), xs: [i, i], "
                  "h: CASE WHEN i % 13 = 0 THEN null ELSE i % 11 END})")
        with d.transaction() as tx:
            tx.create_node("N", {"g": 0, "v": 2.5, "on": dt.date(1999, 1, 1), "d": dt.timedelta(hours=5)})
        batched = ("MATCH (n:N) RETURN n.g AS g, avg(n.v), sum(n.v), count(n.v), min(n.on), max(n.on), "
                   "collect(n.xs)[0..3], collect(n.d) ORDER BY g")
        by_row = ("MATCH (n:N) WITH n, n.v AS v, n.on AS on, n.xs AS xs, n.d AS du RETURN n.g AS g, avg(v), "
                  "sum(v), count(v), min(on), max(on), collect(xs)[0..3], collect(du) ORDER BY g")
        want = d.execute(by_row).fetchall()
        assert d.execute(batched).fetchall() == want and len(want) == 3
        with d.snapshot() as s:
            assert s.execute(batched).fetchall() == want
        with d.transaction() as tx:
            tx.execute("MATCH (n:N) WHERE n.g = 1 SET n.v = 0")
            assert tx.execute(batched).fetchall() == tx.execute(by_row).fetchall()
            tx.rollback()
        # a hash join's keys (a.h = b.h) are read the same way; a transaction reads row by row
        join = "MATCH (a:N), (b:N) WHERE a.g = 0 AND b.g = 1 AND a.h = b.h RETURN count(*), sum(a.v), min(b.on)"
        assert "ValueHashJoin" in d.execute(join).plan.operators
        with d.transaction() as tx:
            want = tx.execute(join).fetchall()
            tx.rollback()
        assert d.execute(join).fetchall() == want and want[0][0] > 0


def test_limits_stop_runaway_queries_and_keep_nothing():
    with lpgdb.connect(":memory:", query_memory=50 * 2**20) as d:
        with pytest.raises(lpgdb.OperationalError, match="memory limit"):
            d.execute("UNWIND range(1, 1000000000) AS x RETURN count(*)")
        with pytest.raises(lpgdb.OperationalError, match="memory limit"):
            d.execute("UNWIND range(1, 1000000) AS x RETURN collect(x)")
        with pytest.raises(lpgdb.OperationalError, match="timed out"):
            d.execute("UNWIND range(1, 1000000) AS x CREATE (:T {x: x})", timeout=0.0)
        assert d.execute("MATCH (t:T) RETURN count(*)").fetchall() == [(0,)]      # nothing written
        with pytest.raises(lpgdb.OperationalError, match="timed out"):
            d.execute("RETURN size([x IN range(1, 1000000) | x * 2])", timeout=0.0)
        with pytest.raises(lpgdb.OperationalError, match="max_rows"):
            d.execute("UNWIND range(1, 100) AS x RETURN x", max_rows=10)
        assert len(d.execute("UNWIND range(1, 10) AS x RETURN x", max_rows=10)) == 10
    with lpgdb.connect(":memory:", query_timeout=0.0) as d:   # the database's default applies
        with pytest.raises(lpgdb.OperationalError, match="timed out"):
            d.execute("UNWIND range(1, 100000) AS x RETURN count(*)")
        assert d.execute("RETURN 1", timeout=None).fetchall() == [(1,)]
    with pytest.raises(lpgdb.InterfaceError):
        lpgdb.connect(":memory:", query_timeout=-1)


def test_a_clique_path_enumeration_stops_on_its_limit():
    with lpgdb.connect(":memory:", query_memory=20 * 2**20) as d:
        d.execute("UNWIND range(1, 12) AS i CREATE (:C {i: i})")
        d.execute("MATCH (a:C), (b:C) WHERE a.i < b.i CREATE (a)-[:E]->(b)")
        with pytest.raises(lpgdb.OperationalError, match="memory limit|timed out"):
            d.execute("MATCH p = (a)-[*]-(b) RETURN p", timeout=30)


def test_new_clauses_foreach_call_count_collect_shortest_path():
    with lpgdb.connect(":memory:") as d:
        d.execute("FOREACH (x IN range(1, 4) | CREATE (:A {x: x}))")
        d.execute("MATCH (a:A), (b:A) WHERE b.x = a.x + 1 CREATE (a)-[:K]->(b)")
        assert d.execute("MATCH (a:A) RETURN a.x, COUNT { (a)-->() } AS n ORDER BY a.x").fetchall() == \
            [(1, 1), (2, 1), (3, 1), (4, 0)]
        assert d.execute("RETURN COLLECT { MATCH (a:A) RETURN a.x ORDER BY a.x DESC } AS l").fetchall() == \
            [([4, 3, 2, 1],)]
        assert d.execute("CALL { MATCH (a:A) RETURN max(a.x) AS m } RETURN m + 1").fetchall() == [(5,)]
        assert d.execute("MATCH p = shortestPath((a:A {x: 1})-[*]-(b:A {x: 4})) RETURN length(p)").fetchall() \
            == [(3,)]
        d.execute("MATCH (a:A {x: 1}), (b:A {x: 3}) CREATE (a)-[:K]->(b)")
        assert d.execute("MATCH p = allShortestPaths((a:A {x: 1})-[*]->(b:A {x: 4})) RETURN length(p)").fetchall() \
            == [(2,)]
        d.execute("CALL { UNWIND range(1, 10) AS i CREATE (:B {i: i}) } IN TRANSACTIONS OF 3 ROWS")
        assert d.execute("MATCH (b:B) RETURN count(*)").fetchall() == [(10,)]
        with d.transaction() as tx:
            with pytest.raises(lpgdb.OperationalError, match="IN TRANSACTIONS"):
                tx.execute("CALL { CREATE (:B) } IN TRANSACTIONS")
            tx.rollback()


def test_load_csv_is_off_by_default_and_confined_to_import_dir(tmp_path):
    imp = tmp_path / "import"
    imp.mkdir()
    (imp / "people.csv").write_text("name,age\nAda,36\nBob,\n", encoding="utf-8")
    (tmp_path / "secret.csv").write_text("x\n1\n", encoding="utf-8")
    with lpgdb.connect(":memory:") as d:
        with pytest.raises(lpgdb.OperationalError, match="import_dir"):
            d.execute("LOAD CSV FROM 'people.csv' AS r RETURN r")
    with lpgdb.connect(":memory:", import_dir=str(imp)) as d:
        rows = d.execute("LOAD CSV WITH HEADERS FROM 'file:///people.csv' AS r RETURN r.name, r.age").fetchall()
        assert rows == [("Ada", "36"), ("Bob", None)]
        assert d.execute("LOAD CSV FROM 'people.csv' AS r RETURN r").fetchall()[0] == (["name", "age"],)
        for bad in ("../secret.csv", str(tmp_path / "secret.csv"), "file:///../secret.csv", "http://x/y.csv"):
            with pytest.raises(lpgdb.OperationalError):
                d.execute("LOAD CSV FROM $u AS r RETURN r", {"u": bad})
        os.symlink(tmp_path / "secret.csv", imp / "link.csv")
        with pytest.raises(lpgdb.OperationalError, match="outside"):
            d.execute("LOAD CSV FROM 'link.csv' AS r RETURN r")
        # a NUL in the URL raised ValueError (embedded null byte) from realpath (the odd-arguments sweep)
        for bad in ("people.csv\x00", "file:///\x00"):
            with pytest.raises(lpgdb.OperationalError, match="NUL"):
                d.execute("LOAD CSV FROM $u AS r RETURN r", {"u": bad})


def test_errors_after_parsing_have_a_position_and_right_keeps_the_whole_string():
    with lpgdb.connect(":memory:") as d:
        with pytest.raises(lpgdb.SemanticError) as e:
            d.execute("MATCH (n)\nRETURN nope")
        assert (e.value.line, e.value.column) == (2, 8) and "^" in str(e.value)
        with pytest.raises(lpgdb.SemanticError) as e:
            d.execute("RETURN 1 + frob(2)")
        assert e.value.column == 12 and e.value.code == "UnknownFunction"
        assert d.execute("RETURN right('Bob', 5), right('Bob', 2), left('Bob', 5)").fetchall() == [("Bob", "ob", "Bob")]


SCHEMA = """CREATE GRAPH TYPE g STRICT {
  (personType : Person {name STRING}),
  (customerType : Person & Customer {name STRING}),
  (cityType : City {name STRING}),
  (:personType)-[livesType : LIVES_IN]->(:cityType)
}"""


def test_schema_aware_planning_prunes_impossible_patterns_and_says_why():
    with lpgdb.connect(":memory:") as d:
        d.set_schema(SCHEMA)
        d.execute("CREATE (:Person {name: 'Ada'})-[:LIVES_IN]->(:City {name: 'Oslo'}), (:Person:Customer {name: 'Cy'})")
        r = d.execute("MATCH (n:Persn) RETURN n")
        assert r.fetchall() == [] and "EmptyResult" in r.plan.operators
        n = r.notifications[0]
        assert n["code"] == "lpgdb.Schema.UnknownLabel" and n["position"] == {"offset": 6, "line": 1, "column": 7}
        r = d.execute("MATCH (c:City)-[:LIVES_IN]->(p:Person) RETURN p")
        assert r.fetchall() == [] and r.notifications[0]["code"] == "lpgdb.Schema.ImpossibleEdge"
        r = d.execute("MATCH (p:Person {age: 3}) RETURN p")
        assert r.fetchall() == [] and r.notifications[0]["code"] == "lpgdb.Schema.UnknownProperty"
        r = d.execute("MATCH (p:Customer:Person) RETURN p.name")
        assert r.fetchall() == [("Cy",)] and "label test dropped" in str(r.plan)
        assert d.execute("MATCH (p:Person)-[:LIVES_IN]->(c) RETURN c.name").notifications == []


def test_call_subquery_with_a_scope_clause_imports_only_what_it_names():
    # CALL (a) { } (openCypher / Neo4j 5): the subquery sees the variables listed, CALL (*) { }
    # all of them, CALL () { } none; a name it does not import is a new variable inside (as in
    # Neo4j), and one used without being imported is an error, never the outer value
    with lpgdb.connect(":memory:") as d:
        d.execute("CREATE (:A {x: 1}), (:A {x: 2}), (:B {y: 10})")
        q = "MATCH (a:A) CALL (a) { RETURN a.x * 2 AS y } RETURN a.x, y ORDER BY a.x"
        assert d.execute(q).fetchall() == [(1, 2), (2, 4)]
        q = "MATCH (a:A), (b:B) CALL (*) { RETURN a.x + b.y AS s } RETURN s ORDER BY s"
        assert d.execute(q).fetchall() == [(11,), (12,)]
        # `a` is not imported: MATCH (a) inside binds a new a over every node, per outer row
        q = "MATCH (a:A) CALL () { MATCH (a) RETURN count(a) AS n } RETURN a.x, n ORDER BY a.x"
        assert d.execute(q).fetchall() == [(1, 3), (2, 3)]
        q = "MATCH (a:A), (b:B) CALL (b) { MATCH (a:A) WHERE a.x < b.y RETURN count(*) AS n } RETURN a.x, n"
        assert sorted(d.execute(q).fetchall()) == [(1, 2), (2, 2)]
        with pytest.raises(lpgdb.SemanticError, match="'a'"):
            d.execute("MATCH (a:A) CALL () { RETURN a.x AS y } RETURN y")
        with pytest.raises(lpgdb.SemanticError, match="'z'"):
            d.execute("MATCH (a:A) CALL (z) { RETURN 1 AS y } RETURN y")
        d.execute("MATCH (a:A) CALL (a) { SET a.seen = true }")
        assert d.execute("MATCH (a:A) RETURN count(a.seen)").value() == [2]
        q = "UNWIND [1, 2, 3] AS i CALL (i) { CREATE (:C {i: i}) } IN TRANSACTIONS OF 2 ROWS"
        d.execute(q)
        assert d.execute("MATCH (c:C) RETURN sum(c.i)").value() == [6]
