"""Literal auto-parameterization (lpgdb/query/literals.py): ``db.execute`` runs texts that
differ only in their literals on one shared prepared query, and must answer exactly as the
text prepared as written (``db.prepare(text).execute()``, which never shapes): same columns,
same rows, or the same error with the same message."""
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import lpgdb
from lpgdb import query as Q
from lpgdb.query import literals


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    d = lpgdb.connect(str(tmp_path_factory.mktemp("lit") / "db"))
    d.set_schema("""CREATE GRAPH TYPE g LOOSE {
        (pT: Person {id INT, name STRING, age INT}),
        (:pT)-[kT: KNOWS {w FLOAT}]->(:pT),
        FOR (p:pT) EXCLUSIVE MANDATORY SINGLETON p.id }""")
    with d.transaction() as tx:
        ids = [tx.create_node("Person", {"id": i, "name": f"p{i}'x" if i % 7 == 0 else f"p{i}",
                                         "age": (i * 37) % 90}) for i in range(60)]
        for i in range(60):
            tx.create_edge(ids[i], "KNOWS", ids[(i * 3 + 1) % 60], {"w": i / 4})
    yield d
    d.close()


def cypher_str(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def cypher_num(x) -> str:
    return repr(x)


TEMPLATES = [
    "MATCH (n:Person {{id: {i}}}) RETURN n.name, n.age",
    "MATCH (n:Person) WHERE n.age > {i} AND n.name STARTS WITH {s} RETURN n.id ORDER BY n.id",
    "RETURN {i} + {f} AS x, {s} + 'x' AS y, {i} AS z",
    "RETURN {s} AS s, size({s}) AS n, toUpper({s}) AS u",
    "UNWIND [{i}, {j}, {f}] AS x RETURN x * 2 AS y ORDER BY y",
    "MATCH (a:Person)-[:KNOWS*1..2]->(b) WHERE a.id = {i} RETURN count(b) AS c",
    "RETURN {i} / {j} AS q, {i} % {j} AS r",
    "RETURN substring({s}, {j}) AS t, left({s}, {i}) AS l",
    "MATCH (a:Person)-[k:KNOWS]->(b) WHERE k.w >= {f} AND b.id <> {j} RETURN a.id, b.id ORDER BY a.id LIMIT 5",
    "WITH {i} AS a, {s} AS b RETURN a, b, a = {j} AS same",
    "RETURN [x IN range({j}, {j} + 3) | x * {i}] AS xs",
    "RETURN {s} CONTAINS {t} AS c, {s} ENDS WITH {t} AS e",
    "MATCH (n:Person) WHERE n.id IN [{i}, {j}, 3] RETURN n.name ORDER BY n.name",
    "RETURN -{i} AS neg, -{f} AS negf",
    "MATCH (n:Person) WHERE {s} RETURN n.id",            # typed as the literal: a compile-time error
    "WITH {i} AS x WHERE {j} RETURN x",
]

ints = st.integers(-(2 ** 63), 2 ** 63 - 1) | st.integers(-5, 70)
floats = st.floats(allow_nan=False, allow_infinity=False, width=64)
texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from("'\"\\`$/*"), max_size=8)


def outcome(run):
    try:
        res = run()
        return ("ok", tuple(res.columns), [tuple(r) for r in res.fetchall()])
    except lpgdb.Error as e:
        return ("error", type(e).__name__, str(e))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(template=st.sampled_from(TEMPLATES), i=ints, j=st.integers(-5, 70), f=floats, s=texts, t=texts)
def test_shaped_text_answers_as_written(db, template, i, j, f, s, t):
    text = template.format(i=i, j=j, f=cypher_num(f), s=cypher_str(s), t=cypher_str(t))
    shaped = [outcome(lambda: db.execute(text)) for _ in range(2)]   # the 2nd: its fast runner, if any
    as_written = outcome(lambda: db.prepare(text).execute())
    db._statements.pop(text, None)     # db.execute would run db.prepare's statement, kept as written
    assert shaped == [as_written, as_written], text


def test_texts_of_one_shape_share_one_prepared_query():
    a, ha = Q.prepare_shaped("MATCH (n:Person {id: 1}) WHERE n.name <> 'a' RETURN n.age")
    b, hb = Q.prepare_shaped("MATCH (n:Person {id: 987}) WHERE n.name <> 'b\\'c' RETURN n.age")
    assert a is b
    assert ha == {"autolit_i0": 1, "autolit_s1": "a"}
    assert hb == {"autolit_i0": 987, "autolit_s1": "b'c"}


def test_literal_kinds_are_separate_shapes():
    """1 and 1.0 and '1' type differently in the semantic check: they never share a query."""
    qs = {Q.prepare_shaped(f"RETURN {lit} + 1 AS x")[0] for lit in ("1", "1.0", "'1'")}
    assert len(qs) == 3


@pytest.mark.parametrize("text", [
    "RETURN 1",                                # the column is named '1'
    "RETURN 'x', 2 AS two",                    # a column named after a literal
    "EXPLAIN MATCH (n {id: 1}) RETURN n",      # a plan shows the text's own literals
    "RETURN $autolit_i0 + 1 AS x",             # the user's own name: never confused with one
    "MATCH (n) RETURN n",                      # nothing to hide
])
def test_texts_kept_as_written(text):
    pq, hidden = Q.prepare_shaped(text)
    assert hidden is None and pq.source == text


@pytest.mark.parametrize("text, kept", [
    ("MATCH (a)-[*1..3]->(b) RETURN count(*) AS c", ["1..3"]),
    ("MATCH (a)-[*..4]->(b) RETURN count(*) AS c", ["..4"]),
    ("MATCH (n) RETURN n.id AS i SKIP 5 LIMIT 10", ["SKIP 5", "LIMIT 10"]),
    ("RETURN [1, 2, 3][1..2] AS s", ["[1..2]"]),
    ("MATCH (n) // 12 in a comment\nRETURN n.x AS x", ["// 12 in a comment"]),
    ("MATCH (`n 1`) RETURN `n 1`.`a 2` + $p3 AS x", ["`n 1`", "$p3"]),
])
def test_what_stays_a_literal(text, kept):
    shaped = (literals.shape(text) or (text, {}))[0]
    for part in kept:
        assert part in shaped


def test_shape_values_are_the_parsers():
    shaped, hidden = literals.shape("RETURN 0x1F AS a, .5 AS b, 1e3 AS c, 'a\\tb\\u00e9' AS d, \"q\\\"\" AS e, -7 AS f")
    assert list(hidden.values()) == [31, 0.5, 1000.0, "a\tb\u00e9", 'q"', 7]
    assert "-$autolit_i5" in shaped


def test_error_reports_the_text_as_written(db):
    with pytest.raises(lpgdb.QuerySyntaxError) as written:
        db.prepare("RETURN 1 + 'a' AS x, 2 +* 3 AS y").execute()
    with pytest.raises(lpgdb.QuerySyntaxError) as shaped:
        db.execute("RETURN 1 + 'a' AS x, 2 +* 3 AS y")
    assert str(shaped.value) == str(written.value)
    with pytest.raises(lpgdb.DataError, match="division by zero"):
        db.execute("MATCH (n:Person {id: 3}) RETURN n.age / 0 AS z")


def test_writes_bind_the_literals(tmp_path):
    with lpgdb.connect(str(tmp_path / "w")) as d:
        for i in range(5):
            d.execute(f"CREATE (:T {{v: {i}, s: 'n{i}', f: {i}.5}})")
        got = d.execute("MATCH (t:T) RETURN t.v, t.s, t.f ORDER BY t.v").fetchall()
        assert got == [(i, f"n{i}", i + 0.5) for i in range(5)]


def test_string_built_point_queries_take_the_point_runner(tmp_path):
    with lpgdb.connect(str(tmp_path / "p")) as d:
        with d.transaction() as tx:
            for i in range(20):
                tx.create_node("P", {"k": i, "name": f"n{i}"})
        d.create_index("P", "k")
        shaped = "MATCH (p:P {k: $autolit_i0}) RETURN p.name"
        for i in range(20):
            text = f"MATCH (p:P {{k: {i}}}) RETURN p.name"
            assert d.execute(text).fetchall() == [(f"n{i}",)]
            stmt = d._statements[shaped]                  # one statement for the shape
            assert text not in d._statements and stmt._pq._last[1].point is not None
            assert stmt._fast is not None                 # from the 2nd text on: by its runner
            assert d.execute(text).fetchall() == [(f"n{i}",)]
        assert d.execute("MATCH (p:P {k: 'x'}) RETURN p.name").fetchall() == []


def test_notification_positions_are_in_the_text_as_written(tmp_path):
    """A shaped run's plan notes point into the shaped text; the user reads their own text's
    offsets (the notification of 'Robot', a label in no type, after literals of other lengths)."""
    db = lpgdb.connect(str(tmp_path / "strict"))
    db.set_schema("CREATE GRAPH TYPE g STRICT { (pT: Person {id INT, name STRING}) }")
    db.execute("CREATE (:Person {id: 1, name: 'a'})")
    for text in ["MATCH (a:Person {id: 123456789}) WHERE a.name = 'a much longer string than its name'\n"
                 "MATCH (r:Robot) RETURN a.id, r",
                 "MATCH (a:Person {name: ''}), (r:Robot {id: 1}) RETURN a.id, r"]:
        assert Q.prepare_shaped(text)[1] is not None          # (the text is shaped)
        shaped = [db.execute(text).notifications for _ in range(2)]   # the general path, then the runner's
        as_written = db.prepare(text).execute().notifications
        assert as_written and all(n["position"] is not None for n in as_written)
        for got in shaped:
            assert [dict(n) | {"position": dict(n["position"])} for n in got] == \
                   [dict(n) | {"position": dict(n["position"])} for n in as_written], text
            assert text[got[0]["position"]["offset"]:].startswith("(r:Robot")


def test_original_offset_maps_through_every_literal():
    text = "RETURN 'a', 12345, x, '', 7 AS q"
    spans: list = []
    shaped, _ = literals.shape(text, spans)
    for word in ("RETURN", "x", "AS q"):
        assert literals.original_offset(shaped.index(word), spans) == text.index(word)
    inside = shaped.index("$autolit_i1") + 4
    assert literals.original_offset(inside, spans) == text.index("12345")
