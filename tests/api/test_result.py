"""Node/Edge as read-only mappings, pickling, and the Result conversions users know from other
libraries (Kùzu, DuckDB, Neo4j, PEP 249).  The optional libraries skip cleanly when absent."""
import datetime as dt
import json
import pickle
import sys
import warnings

import pytest

import lpgdb


@pytest.fixture
def graph():
    db = lpgdb.connect(":memory:")
    db.execute("CREATE (:Person {name: 'Ada', age: 36})-[:KNOWS {since: 2020}]->(:Person:Admin {name: 'Bob'})")
    yield db
    db.close()


def test_node_and_edge_are_read_only_mappings(graph):
    row = graph.execute("MATCH (a {name: 'Ada'})-[r]->(b) RETURN a, r, b").fetchone()
    a, r, b = row
    assert "name" in a and "nope" not in a and a["age"] == 36
    assert dict(a) == {"name": "Ada", "age": 36} and sorted(a) == ["age", "name"] and len(a) == 2
    assert a.get("nope", 7) == 7 and dict(a.items()) == dict(a) and sorted(a.values(), key=str) == [36, "Ada"]
    assert dict(r) == {"since": 2020} and "since" in r and r.get("x") is None and list(r.keys()) == ["since"]
    assert b.labels == {"Person", "Admin"}
    with pytest.raises(TypeError):
        a["name"] = "Eve"                # read-only
    with pytest.raises(AttributeError):
        a.id = 5
    assert lpgdb.Node(9, frozenset(), {})  # an element without properties is still true
    assert a != dict(a) and a == a and hash(a) == hash(lpgdb.Node(a.id, a.labels, dict(a)))


def test_graph_values_and_results_pickle(graph):
    res = graph.execute("MATCH p = (a)-[r]->(b) RETURN a, r, b, p, [a, 1] AS l")
    back = pickle.loads(pickle.dumps(res))
    assert back.columns == res.columns and back.fetchall() == res.fetchall()
    a, r, b, p, lst = back.to_dicts()[0].values()
    assert isinstance(a, lpgdb.Node) and a["name"] == "Ada" and r.src == a.id and r.label == "KNOWS"
    assert isinstance(p, lpgdb.Path) and p.nodes == (a, b) and p.edges == (r,) and lst == [a, 1]
    row = pickle.loads(pickle.dumps(graph.execute("MATCH (a {name: 'Ada'}) RETURN a").fetchone()))
    assert row["a"] == a and row.keys() == ["a"]


def test_result_json_form(graph):
    graph.execute("CREATE (:T {d: date('2020-02-29'), t: localtime('12:00:01.5'), b: $b, f: $f, x: $x})",
                  {"b": b"\x00\xff", "f": float("inf"), "x": dt.timedelta(days=1, seconds=1)})
    res = graph.execute("MATCH (a:Person {name: 'Ada'})-[r]->(b), (t:T) RETURN a.name AS n, r, t")
    data = json.loads(res.to_json())
    assert data["columns"] == ["n", "r", "t"]
    n, r, t = data["rows"][0]
    assert n == "Ada" and r["labels"] == ["KNOWS"] and r["properties"] == {"since": 2020}
    assert t["properties"] == {"d": "2020-02-29", "t": "12:00:01.5", "b": "AP8=", "f": "Infinity", "x": "P1DT1S"}
    assert res.to_jsonable() == data


def test_neo4j_and_pep249_accessors(graph):
    res = graph.execute("MATCH (p:Person) RETURN p.name AS name, p.age AS age ORDER BY name")
    assert res.data() == [{"name": "Ada", "age": 36}, {"name": "Bob", "age": None}]
    assert res.value() == ["Ada", "Bob"] and res.value("age") == [36, None] and res.value("zz", 0) == [0, 0]
    assert res.values("age", "name") == [[36, "Ada"], [None, "Bob"]]
    assert [d[0] for d in res.description] == ["name", "age"] and res.rowcount == 2
    assert res.fetchmany() == [("Ada", 36)] and res.fetchmany(5) == [("Bob", None)] and res.fetchmany(5) == []
    one = graph.execute("MATCH (p:Person {name: 'Ada'}) RETURN p.age AS age")
    assert one.single()["age"] == 36 and one.single().value() == 36
    with pytest.warns(UserWarning):
        assert res.single()["name"] == "Ada"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(lpgdb.InterfaceError):
            graph.execute("MATCH (n:Nobody) RETURN n").single(strict=True)
    assert graph.execute("CREATE (:X)").description is None


def test_cursor_execute_and_executemany(graph):
    with graph.cursor() as cur:
        assert cur.rowcount == -1 and cur.description is None
        cur.executemany("CREATE (:City {name: $n})", [{"n": "Oslo"}, {"n": "Rome"}])
        assert cur.execute("MATCH (c:City) RETURN c.name ORDER BY c.name") is cur
        assert cur.rowcount == 2 and cur.description[0][0] == "c.name"
        assert cur.fetchone() == ("Oslo",) and cur.fetchall() == [("Rome",)] and cur.fetchone() is None
        with pytest.raises(lpgdb.SemanticError):   # one bad run: nothing of executemany is written
            cur.executemany("CREATE (:City {name: $n})", [{"n": "Paris"}, {}])
        assert [r[0] for r in cur.execute("MATCH (c:City) RETURN count(c)")] == [2]
    with pytest.raises(lpgdb.InterfaceError):
        cur.fetchall()


def test_dataframes_arrow_and_polars(graph):
    pd = pytest.importorskip("pandas")
    res = graph.execute("MATCH (p:Person) RETURN p.name AS name, p.age AS age, p ORDER BY name")
    df = res.get_as_df()
    assert isinstance(df, pd.DataFrame) and list(df.columns) == ["name", "age", "p"]
    assert list(df["name"]) == ["Ada", "Bob"] and df["p"][0]["name"] == "Ada" and res.df().shape == (2, 3)
    pa = pytest.importorskip("pyarrow")
    t = res.get_as_arrow()
    assert isinstance(t, pa.Table) and t.column_names == ["name", "age", "p"]
    assert t.column("age").to_pylist() == [36, None]
    assert t.column("p").to_pylist()[1]["labels"] == ["Admin", "Person"] and res.arrow().num_rows == 2
    mixed = graph.execute("UNWIND [1, 'a'] AS x RETURN x")
    with pytest.raises(lpgdb.DataError, match="column 'x'"):
        mixed.arrow()
    pl = pytest.importorskip("polars")
    frame = res.pl()
    assert isinstance(frame, pl.DataFrame) and frame["name"].to_list() == ["Ada", "Bob"]


def test_networkx_graph_of_a_result(graph):
    nx = pytest.importorskip("networkx")
    res = graph.execute("MATCH p = (a)-[r:KNOWS]->(b) RETURN p")
    g = res.get_as_networkx()
    assert isinstance(g, nx.MultiDiGraph) and g.number_of_nodes() == 2 and g.number_of_edges() == 1
    (src, dst, key, attrs), = g.edges(keys=True, data=True)
    assert g.nodes[src]["name"] == "Ada" and g.nodes[dst]["_labels"] == ["Admin", "Person"]
    assert attrs == {"since": 2020, "_labels": ["KNOWS"]}
    assert isinstance(res.get_as_networkx(directed=False), nx.MultiGraph)


def test_a_missing_optional_library_names_the_extra(graph, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)    # makes "import pandas" fail
    with pytest.raises(lpgdb.InterfaceError, match=r'lpgdb\[pandas\]'):
        graph.execute("RETURN 1").df()


def test_notifications_are_objects_with_the_contract_attributes():
    # API.md v2: Result.notifications is a list of objects with .code, .title, .description and
    # .position; they also read by key (Neo4j's dict form) and compare equal to that dict
    with lpgdb.connect(":memory:") as db:
        db.set_schema("CREATE GRAPH TYPE g STRICT { (PT :Person {name STRING}) }")
        text = "MATCH (p:Person)\nMATCH (q:Persn) RETURN q"
        r = db.execute(text)
        assert r.fetchall() == []
        [n] = r.notifications
        assert isinstance(n, lpgdb.Notification)
        assert n.code == "lpgdb.Schema.UnknownLabel" and n.severity == "WARNING" and n.category == "SCHEMA"
        assert n.title and "Persn" in n.description
        pos = n.position
        assert (pos.offset, pos.line, pos.column) == (text.index("(q:Persn)"), 2, 7)
        assert n["code"] == n.code and n["position"]["line"] == 2
        assert dict(n) == {"code": n.code, "title": n.title, "description": n.description,
                           "severity": "WARNING", "category": "SCHEMA",
                           "position": {"offset": pos.offset, "line": 2, "column": 7}}
        assert n == dict(n) and pickle.loads(pickle.dumps(n)) == n
        assert pickle.loads(pickle.dumps(r)).notifications == [n]
        with pytest.raises((AttributeError, TypeError)):
            n.code = "x"                       # shared by every Result of one plan: immutable
        assert db.execute(text).notifications[0].code == "lpgdb.Schema.UnknownLabel"
