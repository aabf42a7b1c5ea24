"""Issue 13 item 2 (API side): a schema KEY / EXCLUSIVE constraint is an index that
db.indexes(), key_lookup, find_nodes and the query planner see, whenever it is exact for a label."""
import pytest

import lpgdb
from lpgdb import query as lq

KEYED = """CREATE GRAPH TYPE social STRICT {
  (personType: Person {personId INT, name STRING}),
  (cityType: City {name STRING}),
  (:personType)-[livesType: LIVES_IN]->(:cityType),
  FOR (p:personType) KEY p.personId }"""


class _Counting:
    def __init__(self, inner):
        self._inner, self.calls = inner, {}

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def wrapper(*a, **k):
            self.calls[name] = self.calls.get(name, 0) + 1
            return attr(*a, **k)
        return wrapper


@pytest.fixture
def keyed():
    db = lpgdb.connect(":memory:")
    db.set_schema(KEYED)
    with db.transaction() as tx:
        ids = [tx.create_node("Person", {"personId": i, "name": f"p{i}"}) for i in range(500)]
    yield db, ids
    db.close()


def test_a_key_constraint_is_listed_and_used_by_key_lookup_find_nodes_and_queries(keyed):
    db, ids = keyed
    (info,) = db.indexes()
    assert info == ("Person", ("personId",)) and info.kind == "schema" and "personId" in info.constraint
    with db.snapshot() as s:
        assert s.key_lookup("Person", "personId", 123) == [ids[123]]
        assert s.key_lookup("Person", "personId", 123.0) == [ids[123]]      # 123 = 123.0
        assert s.key_lookup("Person", "personId", 10 ** 6) == []
        assert s.key_lookup("Person", "name", "p1") is None                  # not a key
        assert s.key_lookup("City", "personId", 1) is None
        assert [n.id for n in s.find_nodes("Person", personId=7)] == [ids[7]]
        view = _Counting(s)
        res = lq.execute("MATCH (p:Person {personId: $id}) RETURN p.name", {"id": 42}, view, readonly=True)
        assert res.fetchall() == [("p42",)]
        assert view.calls.get("key_lookup") == 1 and "nodes" not in view.calls   # no label scan
    assert db.execute("MATCH (p:Person) WHERE p.personId = 499 RETURN p.name").value() == ["p499"]


def test_a_transaction_finds_its_own_not_yet_validated_writes_through_the_key(keyed):
    db, ids = keyed
    with db.transaction() as tx:
        n = tx.create_node("Person", {"personId": 900})      # no name yet: does not conform
        assert tx.key_lookup("Person", "personId", 900) == [n]
        assert tx.execute("MATCH (p:Person {personId: 900}) RETURN id(p)").value() == [n]
        tx.update_node(ids[3], set={"personId": 3000})
        assert tx.key_lookup("Person", "personId", 3) == [] and tx.key_lookup("Person", "personId", 3000) == [ids[3]]
        tx.delete_node(ids[4])
        assert tx.key_lookup("Person", "personId", 4) == []
        tx.update_node(n, set={"name": "late"})
    with db.snapshot() as s:
        assert s.key_lookup("Person", "personId", 900) == [n] and s.key_lookup("Person", "personId", 3000) == [ids[3]]


@pytest.mark.parametrize("ddl, served", [
    # another concrete type also carries Person: a Person need not be a personType, so no index
    ("""CREATE GRAPH TYPE g STRICT { (personType: Person {personId INT}),
        (robotType: Person & Robot {personId INT, serial INT}), FOR (p:personType) KEY p.personId }""", None),
    # LOOSE: stored nodes need not conform to any type
    ("""CREATE GRAPH TYPE g LOOSE { (personType: Person {personId INT}), FOR (p:personType) KEY p.personId }""",
     None),
    # a WHERE narrows the scope
    ("""CREATE GRAPH TYPE g STRICT { (personType: Person {personId INT, vip BOOL}),
        FOR (p:personType) WHERE p.vip EXCLUSIVE p.personId }""", None),
    # a label scope is exact in any mode
    ("""CREATE GRAPH TYPE g LOOSE { (personType: Person {personId INT}), FOR (p:Person) EXCLUSIVE p.personId }""",
     "Person"),
    # the other Person type never has personId (closed record): the key still covers every Person with one
    ("""CREATE GRAPH TYPE g STRICT { (personType: Person {personId INT}), (ghostType: Person & Ghost {boo INT}),
        FOR (p:personType) KEY p.personId }""", "Person"),
])
def test_a_schema_index_serves_a_label_only_when_it_is_exact(ddl, served):
    with lpgdb.connect(":memory:") as db:
        db.set_schema(ddl)
        (info,) = db.indexes()
        assert info.label == served and info.kind == "schema"
        with db.transaction() as tx:
            a = tx.create_node("Person", {"personId": 1})
            if "Robot" in ddl:
                r = tx.create_node(["Person", "Robot"], {"personId": 1, "serial": 9})
            if "vip" in ddl:
                tx.update_node(a, set={"vip": False})
        with db.snapshot() as s:
            got = s.key_lookup("Person", "personId", 1)
            assert (got is None) == (served is None)
            # the answer never misses a node, index or not
            want = sorted(n.id for n in s.nodes("Person") if n.get("personId") == 1)
            assert sorted(db.execute("MATCH (p:Person {personId: 1}) RETURN id(p)").value()) == want
            if "Robot" in ddl:
                assert r in want


def test_user_indexes_are_listed_first_and_compare_as_plain_tuples(keyed):
    db, _ = keyed
    db.create_index("City", "name")
    assert db.indexes() == [("City", ("name",)), ("Person", ("personId",))]
    assert [i.kind for i in db.indexes()] == ["user", "schema"]
    db.drop_schema()
    assert db.indexes() == [("City", ("name",))]
