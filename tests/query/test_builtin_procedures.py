"""CALL db.labels() / db.relationshipTypes() / db.propertyKeys() and SHOW INDEXES: what the graph
the query reads holds, a transaction's own uncommitted writes included."""
import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import lpgdb

LABELS = st.frozensets(st.sampled_from(["A", "B", "C"]), max_size=2)
PROPS = st.dictionaries(st.sampled_from(["k", "m", "n"]), st.integers(0, 3), max_size=2)


def _col(res):
    return [r[0] for r in res]


class Metadata(RuleBasedStateMachine):
    """A model of the graph (nodes: labels and properties, edges: type and properties), committed
    and as the open transaction sees it; the procedures must answer from the right one."""

    def __init__(self):
        super().__init__()
        self.db = lpgdb.connect(":memory:")
        self.tx = self.db.transaction()
        self.nodes, self.edges = {}, {}          # the transaction's view
        self.committed = ({}, {})

    def teardown(self):
        if self.tx.status == "active":
            self.tx.rollback()
        self.db.close()

    @rule(labels=LABELS, props=PROPS)
    def create_node(self, labels, props):
        self.nodes[self.tx.create_node(labels, props)] = (labels, props)

    @precondition(lambda self: self.nodes)
    @rule(data=st.data(), typ=st.sampled_from(["R", "S"]), props=PROPS)
    def create_edge(self, data, typ, props):
        a = data.draw(st.sampled_from(sorted(self.nodes)))
        b = data.draw(st.sampled_from(sorted(self.nodes)))
        self.edges[self.tx.create_edge(a, typ, b, props)] = (typ, a, b, props)

    @precondition(lambda self: self.nodes)
    @rule(data=st.data())
    def delete_node(self, data):
        nid = data.draw(st.sampled_from(sorted(self.nodes)))
        self.tx.delete_node(nid, detach=True)
        del self.nodes[nid]
        self.edges = {e: v for e, v in self.edges.items() if nid not in (v[1], v[2])}

    @precondition(lambda self: self.nodes)
    @rule(data=st.data(), labels=LABELS, props=PROPS)
    def relabel(self, data, labels, props):
        nid = data.draw(st.sampled_from(sorted(self.nodes)))
        old, _ = self.nodes[nid]
        self.tx.execute("MATCH (n) WHERE id(n) = $id SET n = $p", {"id": nid, "p": props})
        self.tx.update_node(nid, remove_labels=old - labels, add_labels=labels - old)
        self.nodes[nid] = (labels, props)

    @precondition(lambda self: self.edges)
    @rule(data=st.data())
    def delete_edge(self, data):
        eid = data.draw(st.sampled_from(sorted(self.edges)))
        self.tx.delete_edge(eid)
        del self.edges[eid]

    @rule(commit=st.booleans())
    def end(self, commit):
        if commit:
            self.tx.commit()
            self.committed = (dict(self.nodes), dict(self.edges))
        else:
            self.tx.rollback()
            self.nodes, self.edges = dict(self.committed[0]), dict(self.committed[1])
        self.tx = self.db.transaction()

    @staticmethod
    def want(nodes, edges):
        labels = sorted({lab for ls, _ in nodes.values() for lab in ls})
        types = sorted({t for t, *_ in edges.values()})
        keys = sorted({k for _, p in nodes.values() for k in p} | {k for *_, p in edges.values() for k in p})
        return labels, types, keys

    @invariant()
    def procedures_answer_from_the_graph_read(self):
        q = ["CALL db.labels()", "CALL db.relationshipTypes()", "CALL db.propertyKeys()"]
        assert [_col(self.tx.execute(x)) for x in q] == list(self.want(self.nodes, self.edges))
        with self.db.snapshot() as s:
            assert [_col(s.execute(x)) for x in q] == list(self.want(*self.committed))


TestMetadata = Metadata.TestCase
TestMetadata.settings = settings(max_examples=15, stateful_step_count=12, deadline=None,
                                 suppress_health_check=list(HealthCheck))


def test_the_columns_yield_and_use_in_a_larger_query():
    with lpgdb.connect(":memory:") as db:
        db.execute("CREATE (:Person {name: 'Ada'})-[:KNOWS {since: 1}]->(:Person:Admin {name: 'Bob'})")
        res = db.execute("CALL db.labels()")
        assert res.columns == ["label"] and res.fetchall() == [("Admin",), ("Person",)]
        assert db.execute("CALL db.relationshipTypes()").columns == ["relationshipType"]
        assert db.execute("CALL db.propertyKeys()").columns == ["propertyKey"]
        assert db.execute("CALL db.labels() YIELD label WHERE label STARTS WITH 'P' "
                          "MATCH (n) WHERE label IN labels(n) RETURN label, count(n) AS c").fetchall() == \
            [("Person", 2)]
        assert db.execute("CALL db.propertyKeys() YIELD propertyKey AS k RETURN collect(k) AS ks").fetchall() == \
            [(["name", "since"],)]
        with pytest.raises(lpgdb.SemanticError):
            db.execute("CALL db.labels() YIELD nope")
        with pytest.raises(lpgdb.SemanticError):
            db.execute("CALL db.labels(1)")


KEYED = """CREATE GRAPH TYPE g STRICT {
  (personType: Person {id INT, name STRING}),
  FOR (p:personType) EXCLUSIVE MANDATORY SINGLETON p.id
}"""


def test_show_indexes_lists_user_indexes_and_the_key_constraints_that_serve_as_indexes():
    with lpgdb.connect(":memory:") as db:
        assert db.execute("SHOW INDEXES").fetchall() == []
        db.execute("CREATE INDEX FOR (n:Person) ON (n.name)")
        old = db.snapshot()
        db.set_schema(KEYED)
        res = db.execute("SHOW INDEXES")
        assert res.columns == ["name", "type", "entityType", "labelsOrTypes", "properties", "owningConstraint"]
        rows = res.fetchall()
        assert rows[0] == ("Person_name", "HASH", "NODE", ["Person"], ["name"], None)
        assert rows[1][:5] == (None, "HASH", "NODE", ["Person"], ["id"]) and "EXCLUSIVE" in rows[1][5]
        assert len(rows) == len(db.indexes()) == 2
        assert db.execute("SHOW INDEX YIELD name, properties WHERE name IS NOT NULL "
                          "RETURN name, properties").fetchall() == [("Person_name", ["name"])]
        assert db.execute("show indexes yield *").fetchall() == rows
        # a snapshot shows the indexes of its time
        assert old.execute("SHOW INDEXES").fetchall() == [("Person_name", "HASH", "NODE", ["Person"], ["name"], None)]
        old.close()
        db.execute("DROP INDEX Person_name")
        assert [r[0] for r in db.execute("SHOW INDEXES")] == [None]


def test_show_is_only_a_keyword_where_a_clause_starts():
    with lpgdb.connect(":memory:") as db:
        db.execute("CREATE (:show {show: 1})")
        assert db.execute("MATCH (show:show) RETURN show.show AS show").fetchall() == [(1,)]
        with pytest.raises(lpgdb.QuerySyntaxError):
            db.execute("SHOW LABELS")
