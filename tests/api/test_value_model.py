"""One value model (issue 11, "Shape of the schema code"): lpgdb.values decides a value's kind and
its key form, and every module that needs either asks it."""
import datetime as dt
import enum
import zoneinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

import lpgdb
from lpgdb import values
from lpgdb.cli import csvio
from lpgdb.query import runtime
from lpgdb.schema import infer
from lpgdb.schema.types import VALUE_TYPES
from lpgdb.storage import records
from lpgdb.values import Duration, LocalDateTime, LocalTime, Time, DateTime


class _Color(enum.IntEnum):
    RED = 1


UTC2 = dt.timezone(dt.timedelta(hours=2))
SAMPLES = [
    (True, "bool"), (0, "int"), (2 ** 64 - 1, "int"), (_Color.RED, "int"), (1.5, "float"),
    ("s", "str"), (b"b", "bytes"), (dt.date(2024, 1, 2), "date"),
    (dt.time(1, 2), "localtime"), (dt.time(1, 2, tzinfo=UTC2), "time"),
    (dt.datetime(2024, 1, 2, 3), "localdatetime"), (dt.datetime(2024, 1, 2, tzinfo=UTC2), "datetime"),
    (dt.datetime(2024, 1, 2, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")), "datetime"),
    (dt.timedelta(days=1), "duration"), (LocalTime(1), "localtime"), (Time(1, 3600), "time"),
    (LocalDateTime(dt.date(2024, 1, 1), 1), "localdatetime"),
    (DateTime(dt.date(2024, 1, 1), 1, 0, None), "datetime"), (Duration(1, 2, 3), "duration"),
    ([1, 2], "list"), ((1,), "list"),
]


@pytest.mark.parametrize("value, kind", SAMPLES, ids=[k + str(i) for i, (_v, k) in enumerate(SAMPLES)])
def test_kind(value, kind):
    assert values.kind(value) == kind


@pytest.mark.parametrize("value", [None, object(), {"a": 1}, bytearray(b"x"), 1j, {1}])
def test_values_that_are_not_property_values_have_no_kind(value):
    assert values.kind(value) is None


@pytest.mark.parametrize("value, kind", [(v, k) for v, k in SAMPLES if k != "list"])
def test_every_module_agrees_with_values_kind(value, kind):
    """Schema value types, inference, the query language's type names and CSV columns all
    follow values.kind."""
    schema_kind = {"localtime": "time", "localdatetime": "datetime"}.get(kind, kind)
    accepting = {vt.kind for vt in VALUE_TYPES.values() if vt.kind != "any" and vt.accepts(value)}
    assert accepting == {schema_kind}
    big = kind == "int" and value >= 2 ** 63
    expected_infer = {"bool": "BOOL", "int": "UINT64" if big else "INT", "float": "DOUBLE",
                      "str": "STRING", "bytes": "BYTES", "date": "DATE", "duration": "DURATION"}.get(
        kind, "TIME" if schema_kind == "time" else "DATETIME")
    assert infer._kind(value) == expected_infer
    assert csvio._kind(value) == csvio._CSV_TYPE[kind]
    assert runtime.type_name(value) == runtime._TYPE_NAMES[kind]


def test_key_equality_is_decided_once():
    kb = records.key_bytes
    assert kb((1.0,)) == kb((1,)) and kb((1.0, "a")) == kb((1, "a"))
    assert kb((True,)) != kb((1,)) and kb(("1",)) != kb((1,))
    assert kb((dt.timedelta(days=1, seconds=2),)) == kb((Duration(0, 1, 2 * 10 ** 9),))
    assert kb((LocalTime(3_000),)) == kb((dt.time(0, 0, 0, 3),))       # canonical forms
    assert kb(([1.0, 2],)) == kb(([1, 2],))
    with pytest.raises(lpgdb.DataError, match="NaN"):
        kb((float("nan"),))
    c = values.comparable
    assert c(1) == c(1.0) and c(True) != c(1) and c("1") != c(1)
    assert c(dt.timedelta(days=1)) == c(Duration(0, 1, 0))
    assert c(dt.time(1)) != c(dt.time(1, tzinfo=UTC2))               # local and zoned never equal


@given(st.one_of(st.integers(-2 ** 63, 2 ** 64 - 1), st.floats(allow_nan=False), st.booleans(), st.text(max_size=5)))
def test_key_bytes_equal_exactly_when_comparable_forms_are(v):
    for w in (v, float(v) if type(v) is int and abs(v) < 2 ** 53 else v, str(v), bool(v)):
        same_key = records.key_bytes((v,)) == records.key_bytes((w,))
        assert same_key == (values.comparable(v) == values.comparable(w)), (v, w)


def test_a_key_constraint_sees_one_and_one_point_zero_as_one_key():
    db = lpgdb.connect(":memory:")
    db.set_schema("CREATE GRAPH TYPE g LOOSE { FOR (x:A) EXCLUSIVE x.k }")
    with db.transaction() as tx:
        tx.create_node("A", {"k": 1})
        tx.create_node("A", {"k": dt.timedelta(days=1)})
    for dup in (1.0, Duration(0, 1, 0)):
        with pytest.raises(lpgdb.SchemaViolationError) as e:
            with db.transaction() as tx:
                tx.create_node("A", {"k": dup})
        assert e.value.counts == {"key_duplicate": 1}
    with db.transaction() as tx:
        tx.create_node("A", {"k": True})               # True is not the key 1
    db.close()


def test_storage_keeps_the_schema_text_and_key_specs_not_the_graph_type():
    db = lpgdb.connect(":memory:")
    ddl = "CREATE GRAPH TYPE g STRICT { (p: P {id INT}), FOR (x:p) KEY x.id }"
    db.set_schema(ddl)
    catalog = db._engine.state.catalog
    assert catalog.schema == (ddl, None)
    assert not hasattr(catalog, "graph_type") and not hasattr(db._engine.state, "graph_type")
    assert [s.name for s in catalog.schema_specs] == ["FOR (x:p) IDENTIFIER (x.id)"]
    assert db.schema is lpgdb.schema.load(ddl, None) and db.schema == lpgdb.parse_schema(ddl)
    db.close()


def test_find_nodes_matches_by_key_equality_with_or_without_an_index():
    """A scan compares values by the rule the index's key bytes follow (values.equal): a list
    [1, True] is not [1.0, 1], a timedelta is the Duration of the same parts, NaN matches
    nothing."""
    db = lpgdb.connect(":memory:")
    props = {"x": [1, True], "d": dt.timedelta(days=1), "n": float("nan"), "k": 2}
    with db.transaction() as tx:
        tx.create_node("L", props)
        tx.create_node("M", props)
    db.create_index("L", "x")
    db.create_index("L", "d")
    with db.snapshot() as s:
        for want, found in [({"x": [1.0, 1]}, False), ({"x": [1.0, True]}, True),
                            ({"d": Duration(0, 1, 0)}, True), ({"n": float("nan")}, False),
                            ({"k": 2.0}, True), ({"k": "2"}, False)]:
            got = [sorted(n.labels) for lab in ("L", "M") for n in s.find_nodes(lab, **want)]
            assert got == ([["L"], ["M"]] if found else []), want
    assert values.equal(1, 1.0) and not values.equal(True, 1) and not values.equal(float("nan"), float("nan"))
    db.close()


@given(st.timedeltas(), st.integers(-2, 2), st.integers(-3, 3), st.integers(-2 * 10 ** 14, 2 * 10 ** 14))
def test_a_duration_equals_the_timedelta_of_the_same_parts(td, months, days, ns):
    # API.md: DURATION is datetime.timedelta. A query returns a stored timedelta as a Duration
    # (its days and nanoseconds kept apart), so Duration == timedelta when they have the same
    # parts, with equal hashes -- the key equality values.comparable already uses
    d = Duration(0, td.days, (td.seconds * 1_000_000 + td.microseconds) * 1000)
    assert d == td and td == d and not (d != td) and hash(d) == hash(td)
    assert {d: 1}[td] == 1 and len({d, td}) == 1
    other = Duration(months, days, ns)
    same = months == 0 and (days, ns) == (d.days, d.ns)
    assert (other == td) is same and (td != other) is not same
    if other == td:
        assert hash(other) == hash(td)
    assert Duration(0, 0, 86_400 * 10 ** 9) != dt.timedelta(days=1)     # PT24H is not P1D


def test_a_stored_timedelta_read_by_a_query_equals_it():
    td = dt.timedelta(days=1, seconds=3, microseconds=7)
    with lpgdb.connect(":memory:") as db:
        with db.transaction() as tx:
            tx.create_node("P", {"d": td})
        assert db.execute("MATCH (p:P) RETURN p.d").value() == [td]
        assert db.execute("RETURN duration('P1DT3.000007S') AS d").value() == [td]
        assert db.execute("MATCH (p:P) WHERE p.d = $d RETURN count(*)", {"d": td}).value() == [1]
