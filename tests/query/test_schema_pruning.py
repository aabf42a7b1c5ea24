"""Schema-aware pruning (planner.py) is used only where the graph is known to conform.

The planner plans a pattern the enforced STRICT graph type rules out as ``EmptyResult`` (no data
read) with a notification.  A transaction's buffered writes are checked only at commit, so
while it holds any the graph may not conform: a query in that transaction must read the data
(and still say what the schema rules out), and a plan pruned for the committed graph must not
be reused there."""
import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

import lpgdb

SCHEMA = """CREATE GRAPH TYPE g STRICT {
  (personType : Person {name STRING}),
  (customerType : Person & Customer {name STRING}),
  (cityType : City {name STRING}),
  (:personType)-[livesType : LIVES_IN]->(:cityType)
}"""


@pytest.fixture
def db():
    d = lpgdb.connect(":memory:")
    d.set_schema(SCHEMA)
    d.execute("CREATE (:Person {name: 'Ada'})-[:LIVES_IN]->(:City {name: 'Oslo'})")
    yield d
    d.close()


def _codes(res):
    return [n["code"] for n in res.notifications]


# (a write the schema refuses at commit, a query the schema rules out, what the query finds
# in the transaction holding the write, the notification)
CASES = [
    ("CREATE (:Robot {name: 'R2'})", "MATCH (n:Robot) RETURN n.name", [("R2",)], "lpgdb.Schema.UnknownLabel"),
    ("MATCH (c:City) CREATE (c)-[:LIVES_IN]->(:Person {name: 'Bo'})",
     "MATCH (c:City)-[:LIVES_IN]->(p:Person) RETURN p.name", [("Bo",)], "lpgdb.Schema.ImpossibleEdge"),
    ("CREATE (:Person {name: 'Cy', age: 3})", "MATCH (p:Person {age: 3}) RETURN p.name", [("Cy",)],
     "lpgdb.Schema.UnknownProperty"),
    ("CREATE (:Person {name: 'Cy', age: 3})", "MATCH (p:Person) WHERE p.age = 3 RETURN p.name", [("Cy",)],
     "lpgdb.Schema.UnknownProperty"),
    ("CREATE (:Person {name: 'Cy', age: 3})", "MATCH (p:Person) WHERE p.age > 2 RETURN p.name", [("Cy",)],
     "lpgdb.Schema.UnknownProperty"),
    ("CREATE (:Person {name: 'Cy', age: 3})", "MATCH (p:Person) WHERE 4 >= p.age RETURN p.name", [("Cy",)],
     "lpgdb.Schema.UnknownProperty"),
    ("CREATE (:Person {name: 'Cy', age: 3})", "MATCH (p:Person) WHERE p.age <> 4 RETURN p.name", [("Cy",)],
     "lpgdb.Schema.UnknownProperty"),
]


@pytest.mark.parametrize("write, query, found, code", CASES)
def test_a_query_after_an_unchecked_write_in_its_transaction_reads_the_data(db, write, query, found, code):
    pruned = db.execute(query)                 # the committed graph conforms: pruned, plan cached
    assert pruned.fetchall() == [] and "EmptyResult" in pruned.plan.operators and code in _codes(pruned)
    tx = db.transaction()
    assert tx.schema_holds
    assert tx.execute(query).fetchall() == []          # nothing written yet: the pruned plan holds
    tx.execute(write)
    assert not tx.schema_holds
    res = tx.execute(query)
    assert res.fetchall() == found
    assert "EmptyResult" not in res.plan.operators and code in _codes(res)   # still says why
    stmt = db.prepare(query)                   # the prepared path runs on the committed graph
    assert stmt.execute().fetchall() == [] and db.execute(query).fetchall() == []
    with pytest.raises(lpgdb.SchemaViolationError):
        tx.commit()
    assert db.execute(query).fetchall() == [] and stmt.execute().fetchall() == []


def test_a_write_query_reads_its_own_unchecked_writes(db):
    q = "CREATE (:Robot {name: 'R2'}) WITH 1 AS one MATCH (n:Robot) RETURN count(n) AS c"
    with db.transaction() as tx:
        res = tx.execute(q)
        assert res.fetchall() == [(1,)] and "lpgdb.Schema.UnknownLabel" in _codes(res)
        tx.rollback()
    with pytest.raises(lpgdb.SchemaViolationError):
        db.execute(q)
    assert db.execute("MATCH (n) RETURN count(n)").fetchall() == [(2,)]


def test_an_implied_label_is_tested_while_writes_are_unchecked(db):
    """Every Customer is a Person by the types, so the label test is dropped from the scan;
    a Customer written without Person (refused at commit) must not match :Customer:Person."""
    db.execute("UNWIND range(1, 5) AS i CREATE (:Person {name: 'p' + toString(i)})")   # Customer: the smaller scan
    q = "MATCH (p:Customer:Person) RETURN p.name"
    assert "label test dropped" in str(db.execute(q).plan)
    with db.transaction() as tx:
        tx.create_node("Customer", {"name": "Eve"})
        assert tx.execute(q).fetchall() == []
        assert tx.execute("MATCH (p:Customer) RETURN p.name").fetchall() == [("Eve",)]
        tx.rollback()


def test_any_write_leaves_the_transaction_unchecked_until_it_ends(db):
    """A transaction that wrote anything (an update too) holds unchecked writes; the next
    transaction, with none, plans pruned again."""
    q = "MATCH (n:Robot) RETURN count(n)"
    with db.transaction() as tx:
        tx.create_node("Robot", {"name": "x"})
        assert tx.execute(q).fetchall() == [(1,)]
        tx.rollback()
    with db.transaction() as tx:
        tx.execute("MATCH (c:City) SET c.name = 'Bergen'")
        assert not tx.schema_holds
    with db.transaction() as tx:
        assert tx.schema_holds
        res = tx.execute(q)
        assert res.fetchall() == [(0,)] and "EmptyResult" in res.plan.operators


def test_schema_holds_on_readers_and_without_a_schema():
    with lpgdb.connect(":memory:") as d:
        with d.snapshot() as s:
            assert s.schema_holds
        with d.transaction() as tx:
            tx.create_node("X")
            assert not tx.schema_holds
            assert tx.execute("MATCH (n:X) RETURN count(n)").fetchall() == [(1,)]


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(writes=st.lists(st.tuples(st.sampled_from(["Person", "Robot", "City"]),
                                 st.sampled_from([None, 1, 2])), max_size=4),
       query=st.sampled_from(["MATCH (n:Robot) RETURN n.k", "MATCH (n:Person) WHERE n.k >= 1 RETURN n.k",
                              "MATCH (n:Person {k: 2}) RETURN n.k", "MATCH (n:City) WHERE n.k < 3 RETURN n.k"]))
def test_in_a_transaction_a_query_answers_what_the_data_holds(writes, query):
    """Model: the nodes a transaction wrote, filtered by the query's label and condition,
    whatever the schema says (the committed graph is empty)."""
    label = query.split(":")[1].split(")")[0].split(" ")[0]
    cond = {"Robot": lambda k: True, "Person": (lambda k: k is not None and k >= 1) if ">=" in query
            else (lambda k: k == 2), "City": lambda k: k is not None and k < 3}[label]
    with lpgdb.connect(":memory:") as d:
        d.set_schema(SCHEMA)
        d.execute(query)                        # a pruned plan, cached
        with d.transaction() as tx:
            for lab, k in writes:
                tx.create_node(lab, {"name": "x"} if k is None else {"name": "x", "k": k})
            want = sorted(((k,) for lab, k in writes if lab == label and cond(k)), key=repr)
            assert sorted(tx.execute(query).fetchall(), key=repr) == want
            tx.rollback()
