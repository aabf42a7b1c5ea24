"""Executing queries through the public API: reads, writes, results, errors, timeout."""
import pytest

import lpgdb
from lpgdb import query as lq


@pytest.fixture
def db():
    d = lpgdb.connect(":memory:")
    d.execute("CREATE (a:Person {name: 'Ada', age: 36})-[:KNOWS {since: 2020}]->(b:Person {name: 'Bob', age: 25}),"
              " (b)-[:KNOWS {since: 2021}]->(c:Person {name: 'Cy', age: 41}), (a)-[:LIKES]->(c)")
    yield d
    d.close()


def test_match_return_with_parameters_and_row_access(db):
    res = db.execute("MATCH (a:Person {name: $n})-[k:KNOWS]->(b) RETURN b.name AS name, k.since", {"n": "Ada"})
    assert res.columns == ["name", "k.since"]
    row = res.fetchone()
    assert row == ("Bob", 2020) and row["name"] == "Bob" and row[1] == 2020
    assert res.fetchone() is None


def test_nodes_edges_and_paths_come_back_as_graph_values(db):
    row = db.execute("MATCH p = (a {name: 'Ada'})-[r:KNOWS]->(b) RETURN a, r, p").fetchone()
    a, r, p = row
    assert isinstance(a, lpgdb.Node) and a["name"] == "Ada" and a.labels == {"Person"}
    assert isinstance(r, lpgdb.Edge) and r.label == "KNOWS" and r.src == a.id
    assert isinstance(p, lpgdb.Path) and len(p) == 1 and p.start == a


def test_graph_values_can_be_passed_as_parameters(db):
    ada = db.execute("MATCH (a {name: 'Ada'}) RETURN a").fetchone()[0]
    res = db.execute("MATCH (a)-[:KNOWS]->(b) WHERE a = $who RETURN b.name", {"who": ada})
    assert res.fetchall() == [("Bob",)]


def test_aggregation_order_skip_limit(db):
    res = db.execute("MATCH (p:Person) RETURN count(*) AS n, avg(p.age) AS avg, collect(p.name) AS names")
    n, avg, names = res.fetchone()
    assert n == 3 and avg == pytest.approx(34.0) and sorted(names) == ["Ada", "Bob", "Cy"]
    res = db.execute("MATCH (p:Person) RETURN p.name ORDER BY p.age DESC SKIP 1 LIMIT 1")
    assert res.fetchall() == [("Ada",)]


def test_optional_match_var_length_and_distinct(db):
    res = db.execute("MATCH (a:Person) OPTIONAL MATCH (a)-[:KNOWS*1..2]->(x) "
                     "RETURN a.name, count(DISTINCT x) AS reach ORDER BY a.name")
    assert res.fetchall() == [("Ada", 2), ("Bob", 1), ("Cy", 0)]


def test_unwind_list_comprehension_quantifiers_case():
    with lpgdb.connect(":memory:") as d:
        res = d.execute("UNWIND [1, 2, 3, null] AS x RETURN [y IN range(1, x) WHERE y % 2 = 1 | y * 10] AS l, "
                        "all(y IN [x] WHERE y > 0) AS pos, CASE WHEN x IS NULL THEN 'none' ELSE 'some' END AS c")
        assert res.to_dicts()[0] == {"l": [10], "pos": True, "c": "some"}
        assert res.to_dicts()[3] == {"l": None, "pos": None, "c": "none"}


def test_writes_set_remove_merge_delete(db):
    db.execute("MATCH (p:Person {name: 'Bob'}) SET p.age = 26, p:Admin REMOVE p.nothing")
    assert db.execute("MATCH (p:Admin) RETURN p.age").fetchall() == [(26,)]
    db.execute("MERGE (p:Person {name: 'Dee'}) ON CREATE SET p.new = true")
    db.execute("MERGE (p:Person {name: 'Dee'}) ON MATCH SET p.seen = true")
    assert db.execute("MATCH (p {name: 'Dee'}) RETURN p.new, p.seen").fetchall() == [(True, True)]
    db.execute("MATCH (p:Person {name: 'Cy'}) DETACH DELETE p")
    assert db.execute("MATCH (p:Person) RETURN count(*)").fetchone()[0] == 3


def test_delete_connected_node_without_detach_fails_and_changes_nothing(db):
    with pytest.raises(lpgdb.IntegrityError):
        db.execute("MATCH (p:Person {name: 'Ada'}) DELETE p")
    assert db.execute("MATCH (p) RETURN count(*)").fetchone()[0] == 3


def test_exists_subqueries_see_outer_variables(db):
    res = db.execute("MATCH (p:Person) WHERE exists { (p)-[:KNOWS]->(q) WHERE q.age > 30 } RETURN p.name")
    assert res.fetchall() == [("Bob",)]
    res = db.execute("MATCH (p:Person) WHERE exists { MATCH (p)-->(q) WITH p, count(q) AS n WHERE n = 2 "
                     "RETURN true } RETURN p.name")
    assert res.fetchall() == [("Ada",)]


def test_union_and_union_all():
    with lpgdb.connect(":memory:") as d:
        assert d.execute("RETURN 1 AS x UNION RETURN 1 AS x").fetchall() == [(1,)]
        assert d.execute("RETURN 1 AS x UNION ALL RETURN 1 AS x").fetchall() == [(1,), (1,)]


def test_runtime_type_error_is_a_data_error_with_code():
    with lpgdb.connect(":memory:") as d:
        with pytest.raises(lpgdb.DataError) as ei:
            d.execute("WITH [1] AS l RETURN l['a']")
        assert ei.value.tck_type == "TypeError" and ei.value.phase == "runtime"


def test_missing_parameter_is_reported():
    with lpgdb.connect(":memory:") as d:
        with pytest.raises(lpgdb.SemanticError, match=r"\$who"):
            d.execute("RETURN $who")


def test_write_on_a_snapshot_is_refused(db):
    with db.snapshot() as s:
        with pytest.raises(lpgdb.ProgrammingError, match="read-only"):
            lq.execute("CREATE ()", {}, s, readonly=True)


def test_timeout_stops_a_long_query():
    with lpgdb.connect(":memory:") as d:
        with d.transaction() as tx:
            with pytest.raises(lpgdb.OperationalError, match="timed out"):
                lq.execute("UNWIND range(1, 100000000) AS x RETURN count(*)", {}, tx, timeout=0.0)
            tx.rollback()


def test_temporal_values_construct_compare_and_round_trip_through_storage():
    with lpgdb.connect(":memory:") as d:
        row = d.execute("RETURN date({year: 1984, week: 10, dayOfWeek: 3}) AS d, duration({months: 0.75}) AS x, "
                        "time('12:31:14.645876123+01:00') AS t, date('2015-07-21') < date('2015-07-22') AS lt, "
                        "date('1984-10-31') + duration('P1M') AS plus").fetchone()
        assert [str(v) for v in row] == ["1984-03-07", "P22DT19H51M49.5S", "12:31:14.645876123+01:00", "True",
                                         "1984-11-30"]
        d.execute("CREATE (:E {on: date('2020-02-29'), at: localdatetime('2020-02-29T10:00:00.5')})")
        assert d.execute("MATCH (e:E) RETURN toString(e.on), e.at.second, e.at.millisecond").fetchone() == \
            ("2020-02-29", 0, 500)
        d.execute("CREATE (:E {t: localtime('12:00:00.000000001'), d: duration('P1Y-2DT-0.5S')})")
        assert d.execute("MATCH (e:E) WHERE e.t IS NOT NULL RETURN toString(e.t), e.t.nanosecond, "
                         "toString(e.d), e.d.months").fetchone() == \
            ("12:00:00.000000001", 1, "P1Y-2DT-0.5S", 12)


def test_temporal_results_are_python_datetime_values_when_exact():
    import datetime as dt
    from lpgdb.query.temporal import LocalTime
    with lpgdb.connect(":memory:") as d:
        row = d.execute("RETURN date('2020-01-02'), datetime('2020-01-02T03:04:05.5+01:00'), "
                        "localtime('12:00:00.000000001')").fetchone()
        assert row[0] == dt.date(2020, 1, 2)
        assert row[1] == dt.datetime(2020, 1, 2, 3, 4, 5, 500000, tzinfo=dt.timezone(dt.timedelta(hours=1)))
        assert isinstance(row[2], LocalTime) and str(row[2]) == "12:00:00.000000001"


def test_stored_temporal_properties_match_query_values_with_and_without_an_index():
    import datetime as dt
    with lpgdb.connect(":memory:") as d:
        d.execute("CREATE (:P {born: date('2000-01-01')}), (:P {born: date('2001-01-01')})")
        for _ in range(2):
            assert d.execute("MATCH (p:P {born: date('2000-01-01')}) RETURN count(*)").fetchone()[0] == 1
            assert d.execute("MATCH (p:P {born: $d}) RETURN count(*)", {"d": dt.date(2001, 1, 1)}).fetchone()[0] == 1
            assert d.execute("MATCH (p:P) WHERE p.born < date('2000-06-01') RETURN count(*)").fetchone()[0] == 1
            d.create_index("P", "born")


def test_temporal_clock_truncation_and_differences():
    with lpgdb.connect(":memory:") as d:
        assert d.execute("RETURN duration.between(datetime(), datetime.statement()) AS z").fetchone()[0].ns == 0
        assert str(d.execute("RETURN duration.between(date('1984-10-11'), date('2015-06-24'))").fetchone()[0]) \
            == "P30Y8M13D"
        assert str(d.execute("RETURN date.truncate('quarter', date('2020-05-05'), {day: 2})").fetchone()[0]) \
            == "2020-04-02"


OUT_OF_RANGE_TEMPORALS = [
    "localtime('25:00')", "localtime('24:00')", "localtime('23:60')", "localtime('23:59:60')",
    "localtime('2500')", "localtime('236000')", "time('25:00+01:00')", "localdatetime('2020-01-01T24:00')",
    "datetime('2020-01-01T12:60Z')", "time('12:00+25:00')", "time('12:00+18:01')", "time('12:00+05:60')",
    "datetime('2020-01-01T00:00-19:00')", "date('2020-02-30')", "date('2020-13-01')", "date('2020-00-10')",
    "date('2020-01-32')", "date('2019-366')", "date('2020-400')", "date('2020-Q1-92')", "date('2019-Q1-91')",
    "date('2020-Q4-93')", "date('2020-W54')", "localtime({hour: 24})", "localtime({minute: 60})",
    "date({year: 2020, ordinalDay: 367})", "date({year: 2020, quarter: 5})",
    "date({date: date('2020-01-01'), dayOfQuarter: 92})", "time({hour: 1, timezone: '+19:00'})",
    "date.truncate('month', date('2020-05-17'), {day: 40})", "datetime({epochSeconds: 10000000000000000})",
]


@pytest.mark.parametrize("expr", OUT_OF_RANGE_TEMPORALS)
def test_out_of_range_temporal_fields_are_data_errors_not_wrapped(expr):
    """'25:00' used to come back as 01:00 and '2020-400' as 2021-02-03; '24:00' in a
    localdatetime and an offset of +25:00 escaped as a bare ValueError."""
    with lpgdb.connect(":memory:") as d:
        with pytest.raises(lpgdb.DataError) as e:
            d.execute(f"RETURN {expr}").fetchall()
        assert e.value.code == "InvalidArgumentValue"


def test_temporal_fields_at_their_limits_are_accepted():
    with lpgdb.connect(":memory:") as d:
        row = d.execute("RETURN localtime('23:59:59.999999999'), time('00:00-18:00'), date('2020-366'), "
                        "date('2020-Q1-91'), date('2020-Q4-92'), date({year: 2021, quarter: 2, dayOfQuarter: 91}), "
                        "datetime('2020-12-31T23:59:59+18:00')").fetchone()
        assert [str(v) for v in row] == [
            "23:59:59.999999999", "00:00:00-18:00", "2020-12-31", "2020-03-31", "2020-12-31", "2021-06-30",
            "2020-12-31 23:59:59+18:00"]


def test_the_timeout_error_quotes_the_timeout_given():
    """It used to print what was left after parsing (``0.2751405379985954 s``)."""
    with lpgdb.connect(":memory:") as d:
        q = "UNWIND range(1, 100000) AS x UNWIND range(1, 100000) AS y RETURN count(*)"     # 10**10 rows
        for t in (0.1 + 0.2, 0):        # 0.30000000000000004 (a first-seen text), then a cached one
            with pytest.raises(lpgdb.OperationalError, match=rf"timed out after {t:g} s;") as e:
                d.execute(q, timeout=t)
            assert e.value.reason == "query_timeout"
        with d.transaction() as tx:
            with pytest.raises(lpgdb.OperationalError, match=r"timed out after 0\.3 s;"):
                tx.execute(q, timeout=0.1 + 0.2)


def test_registered_procedure_can_be_called():
    lq.register_procedure("test.squares", [("n", "INTEGER")], [("x", "INTEGER")],
                          lambda n: [(i * i,) for i in range(n)])
    try:
        with lpgdb.connect(":memory:") as d:
            assert d.execute("CALL test.squares(3) YIELD x RETURN sum(x)").fetchall() == [(5,)]
            assert d.execute("CALL test.squares($n)", {"n": 2}).fetchall() == [(0,), (1,)]
    finally:
        lq.unregister_procedure("test.squares")


@pytest.mark.parametrize("typ, good, bad", [
    ("INTEGER", [3, -1], [1.5, True, "3"]),
    ("FLOAT", [1.5, 2], [True, "1.5"]),
    ("NUMBER", [1, 2.5], [False, [1]]),
    ("STRING", ["a", ""], [1, b"a"]),
    ("BOOLEAN", [True, False], [0, "true"]),
    ("LIST", [[1, "a"], []], [{"a": 1}, "ab"]),
    ("MAP", [{"a": 1}, {}], [[1], 1]),
    ("ANY", [1, "a", [1], {"a": 1}], []),
])
def test_procedure_arguments_are_checked_by_their_declared_type(typ, good, bad):
    lq.register_procedure("test.echo", [("v", typ)], [("out", "ANY")], lambda v: [(v,)])
    try:
        with lpgdb.connect(":memory:") as d:
            for v in good:
                got = d.execute("CALL test.echo($v) YIELD out RETURN out", {"v": v}).fetchall()
                want = float(v) if typ == "FLOAT" else v
                assert got == [(want,)] and type(got[0][0]) is type(want)
            for v in bad:
                with pytest.raises(lpgdb.Error, match=f"argument 'v' expects {typ}"):
                    d.execute("CALL test.echo($v) YIELD out RETURN out", {"v": v}).fetchall()
            with pytest.raises(lpgdb.Error, match="must not be null"):
                d.execute("CALL test.echo($v) YIELD out RETURN out", {"v": None}).fetchall()
            with pytest.raises(lpgdb.Error, match="got null"):    # known before running
                d.execute("CALL test.echo(null) YIELD out RETURN out").fetchall()
    finally:
        lq.unregister_procedure("test.echo")
