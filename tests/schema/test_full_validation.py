"""Full validation of stored data (set_schema, check) through the one-pass scan gives exactly the
violations of the element-by-element check, and stops early when asked (issue 11 item 4)."""
import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lpgdb
from lpgdb import SchemaViolationError
from lpgdb.schema import parse_schema, validate
from lpgdb.storage.view import canonical_key
from tests.schema.test_incremental_model import _op, graph_types


class _ElementByElement:
    """A reader without ``scan_view``: validate_stored takes the element-by-element path."""

    def __init__(self, reader):
        self._reader = reader

    def __getattr__(self, name):
        if name == "scan_view":
            raise AttributeError(name)
        return getattr(self._reader, name)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph_types(), st.data())
def test_the_scan_finds_exactly_what_the_element_by_element_check_finds(ddl, data):
    gt = parse_schema(ddl)
    with lpgdb.connect(":memory:") as db:
        nodes, edges = [], []
        for _ in range(data.draw(st.integers(1, 3))):
            with db.transaction() as tx:
                for _ in range(data.draw(st.integers(1, 10))):
                    _op(data.draw, tx, nodes, edges)
        with db.snapshot() as snap:
            scanned = validate.validate_stored(gt, snap)
            slow = validate.validate_stored(gt, _ElementByElement(snap))
            assert scanned.violations == slow.violations and scanned.complete
            if slow.violations:
                k = data.draw(st.integers(1, len(slow.violations)))
                first = validate.validate_stored(gt, snap, limit=k)
                assert not first.complete or k == len(slow.violations)
                key = lambda v: (v.kind, v.element, v.id, v.type_name)   # noqa: E731
                assert [key(v) for v in first.violations] == [key(v) for v in slow.violations[:k]]


def _people(db, n, extra=None):
    with db.transaction() as tx:
        for i in range(n):
            tx.create_node("Person", {"id": i % 7, "name": f"p{i}", **(extra or {})})


SCHEMA = "CREATE GRAPH TYPE g STRICT { (p: Person {id INT, name STRING}), FOR (x:p) KEY x.id }"


def test_a_failing_set_schema_stops_at_its_bound_with_counts():
    with lpgdb.connect(":memory:") as db:
        _people(db, 60, {"email": "x"})
        with pytest.raises(SchemaViolationError) as e:
            db.set_schema(SCHEMA, max_violations=10)
        err = e.value
        assert len(err.violations) == 10 and not err.complete
        assert err.counts == {"closed_extra_property": 10}
        assert str(err).startswith("10+ schema violations (closed_extra_property: 10); validation stopped early:")
        assert db.schema is None                                   # the old (no) schema stays
        with pytest.raises(SchemaViolationError) as e:
            db.set_schema(SCHEMA, max_violations=None)
        assert e.value.complete and e.value.counts == {"closed_extra_property": 60}   # out of the KEY scope
        with pytest.raises(lpgdb.InterfaceError, match="max_violations"):
            db.set_schema(SCHEMA, max_violations=0)


def test_check_on_stored_data_uses_the_scan_and_can_stop_early():
    with lpgdb.connect(":memory:") as db:
        _people(db, 7)
        db.set_schema(SCHEMA)
        assert db.check() == []
        db.drop_schema()
        _people(db, 14)
        db.set_schema("CREATE GRAPH TYPE g STRICT { (p: Person {id INT, name STRING}) }")
        assert db.check() == []
        db.drop_schema()
        with pytest.raises(SchemaViolationError):
            db.set_schema(SCHEMA)
        found = validate.validate_stored(parse_schema(SCHEMA), db.snapshot(), limit=3)
        assert [v.kind for v in found.violations] == ["key_duplicate"] * 3 and not found.complete


def test_index_specs_name_the_label_their_scope_implies():
    gt = parse_schema("CREATE GRAPH TYPE g STRICT { (p: Person {id INT}), (c: City | Town {id INT}),"
                      " FOR (x:p) KEY x.id, FOR (x:c) KEY x.id, FOR (x:Thing) EXCLUSIVE x.id }")
    assert [s.label for s in gt.index_specs()] == ["Person", None, "Thing"]


# ---- value classes: the grouped scan against the element-by-element check ----------------------
# Integers at every bound of the integer value types, the other kinds, and values that need
# Python (uint64 past int64, NaN, temporal values, lists): the scan groups rows by value class, so
# a class that merged two values a type tells apart would show up here as a different verdict.
_BOUNDS = [-2 ** 63, -2 ** 31 - 1, -2 ** 31, -2 ** 15 - 1, -2 ** 15, -129, -128, -1, 0, 1, 127, 128, 255, 256,
           2 ** 15 - 1, 2 ** 15, 2 ** 16 - 1, 2 ** 16, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 63 - 1,
           2 ** 63, 2 ** 64 - 1]
_OTHER = [1.0, 1.5, -0.0, float("nan"), 2.0 ** 63, True, False, "1", "x", b"x",
          dt.date(2020, 1, 2), dt.datetime(2020, 1, 2, 3, 4), dt.datetime(2020, 1, 2, tzinfo=dt.timezone.utc),
          dt.time(1, 2), dt.timedelta(days=1), [1, 2], ["a"]]
VALUE = st.one_of(st.sampled_from(_BOUNDS), st.sampled_from(_OTHER))
VTYPES = ["INT8", "UINT8", "INT16", "UINT16", "INT32", "UINT32", "INT", "UINT64", "DOUBLE", "STRING", "BOOL",
          "DATE", "DATETIME", "TIME", "DURATION", "BYTES", "ANY"]


@st.composite
def typed_schemas(draw):
    a, b = draw(st.sampled_from(VTYPES)), draw(st.sampled_from(VTYPES))
    opt = draw(st.sampled_from(["", "OPTIONAL "]))
    cons = draw(st.lists(st.sampled_from(["FOR (x:tType) EXCLUSIVE MANDATORY SINGLETON x.a",
                                          "FOR (x:T) EXCLUSIVE x.b", "FOR (x:tType) MANDATORY x.b",
                                          "FOR (x:T) WHERE x.b IS NOT NULL EXCLUSIVE x.a"]),
                         unique=True, max_size=2))
    mode = draw(st.sampled_from(["STRICT", "LOOSE"]))
    body = ", ".join([f"(tType: T {{a {a}, {opt}b {b}}})", "(uType: U OPEN {OPEN})",
                      "(:tType)-[eType: E {OPTIONAL w " + draw(st.sampled_from(VTYPES)) + "}]->(:tType | uType)"]
                     + cons)
    return f"CREATE GRAPH TYPE g {mode} {{ {body} }}"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed_schemas(), st.data())
def test_the_scan_classes_values_as_the_types_do(ddl, data):
    gt = parse_schema(ddl)
    with lpgdb.connect(":memory:") as db:
        with db.transaction() as tx:
            ids = []
            for _ in range(data.draw(st.integers(1, 12))):
                props = data.draw(st.dictionaries(st.sampled_from(["a", "b"]), VALUE, max_size=2))
                ids.append(tx.create_node(data.draw(st.sampled_from(["T", "U", ["T", "U"]])), props))
            for _ in range(data.draw(st.integers(0, 8))):
                props = data.draw(st.dictionaries(st.just("w"), VALUE, max_size=1))
                tx.create_edge(data.draw(st.sampled_from(ids)), "E", data.draw(st.sampled_from(ids)), props)
        with db.snapshot() as snap:
            assert validate.validate_stored(gt, snap).violations == \
                validate.validate_stored(gt, _ElementByElement(snap)).violations
            view = snap.scan_view()
            for spec in gt.index_specs():        # the KEY index build's keys, a chunk at a time
                for nids, lsets, blob, offs in view.node_chunks():
                    got = spec.key_rows(view.labelsets, lsets, blob, offs)
                    if got is None:
                        continue
                    keys, koffs, flags = got
                    for i, nid in enumerate(nids):
                        node = snap.node(nid)
                        k = spec.key_of(node.labels, node.properties)
                        assert (k is None) == (flags[i] == 0)
                        if flags[i] == 1:
                            assert keys[koffs[i]:koffs[i + 1]] == canonical_key(k)


def test_key_duplicates_come_in_node_order_whichever_side_compares_them():
    """0 is compared by its key bytes in C, 2**63 (past int64) by Python's GQL equality; the scan
    collects the two kinds in separate passes, and must still report in node order, as the
    element-by-element check does (a hypothesis example found the two orders differing)."""
    gt = parse_schema("CREATE GRAPH TYPE g STRICT { (tType: T {a INT8, b INT8}), FOR (x:T) EXCLUSIVE x.b }")
    with lpgdb.connect(":memory:") as db:
        with db.transaction() as tx:
            for b in (2 ** 63, 0, 2 ** 63, 0):
                tx.create_node("T", {"a": 1, "b": b})
        with db.snapshot() as snap:
            scan = validate.validate_stored(gt, snap).violations
            assert scan == validate.validate_stored(gt, _ElementByElement(snap)).violations
            assert [v.id for v in scan if v.kind == "key_duplicate"] == [2, 3]


KEY_VALUES = st.one_of(st.integers(-2 ** 63, 2 ** 63 - 1), st.sampled_from([1.0, 2.5, -0.0, float("nan"), True,
                                                                          dt.date(2020, 1, 1), 2 ** 64 - 1]),
                       st.text(max_size=3), st.binary(max_size=2))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["a", "b", "c"]), KEY_VALUES, max_size=3), min_size=1, max_size=8),
       st.sampled_from([("a",), ("a", "b"), ("c", "a", "b")]))
def test_key_bytes_of_several_properties_made_in_c_are_the_index_key_bytes(rows, names):
    """bulk._tuple_keys (the vectorized validator's and the index build's keys of one or several
    properties): for each row holding every part, the canonical key bytes of the tuple
    (records.key_bytes), or flag 2 (a part C leaves to Python) / 3 (NaN); 0 when a part is
    missing."""
    from array import array
    from itertools import accumulate
    from lpgdb.schema.bulk import _tuple_keys
    from lpgdb.storage import records
    maps = [records.pack_props(r) for r in rows]
    offs = array("Q", [0])
    offs.extend(accumulate(map(len, maps)))
    keys, koffs, flags = _tuple_keys(b"".join(maps), offs, array("I", bytes(4 * len(rows))), b"\x01", names)
    for i, r in enumerate(rows):
        if not all(n in r for n in names):
            assert flags[i] == 0
        elif any(type(r[n]) is float and r[n] != r[n] for n in names):
            assert flags[i] == 3
        elif flags[i] == 1:
            assert keys[koffs[i]:koffs[i + 1]] == records.key_bytes(tuple(r[n] for n in names))
        else:
            assert flags[i] == 2 and any(type(r[n]) not in (int, float, str, bool, bytes) or type(r[n]) is int
                                         and r[n] >= 2 ** 63 for n in names)


COUNT_SCHEMAS = st.sampled_from([
    "CREATE GRAPH TYPE g LOOSE { FOR (x:A) COUNT 2..3 OF y WITHIN (x)-[:R]->(y) }",
    "CREATE GRAPH TYPE g LOOSE { FOR (x:A) COUNT 2.. OF e WITHIN (x)-[e:R]-() }",
    "CREATE GRAPH TYPE g LOOSE { FOR (x:B) COUNT 2..2 OF y WITHIN (y)-[:S]-(x) }",
    "CREATE GRAPH TYPE g LOOSE { FOR (x:A) COUNT 3.. OF y WITHIN (x)<-[]-(y), FOR (x:A) MANDATORY e WITHIN (x)-[e]->() }",
])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(COUNT_SCHEMAS, st.data())
def test_count_of_two_or_more_counted_from_the_expansion_finds_what_the_element_check_finds(ddl, data):
    """COUNT n.. OF with n >= 2 over one edge step: the scan counts the distinct far ends (or
    edges) of the in-scope nodes from one batched expansion (parallel edges and self-loops
    included) and checks element by element only the nodes that break a bound."""
    gt = parse_schema(ddl)
    with lpgdb.connect(":memory:") as db:
        nodes, edges = [], []
        for _ in range(data.draw(st.integers(1, 3))):
            with db.transaction() as tx:
                for _ in range(data.draw(st.integers(1, 14))):
                    _op(data.draw, tx, nodes, edges)
        with db.snapshot() as snap:
            assert validate.validate_stored(gt, snap).violations == \
                validate.validate_stored(gt, _ElementByElement(snap)).violations


def test_edge_keys_are_checked_by_group_with_the_element_checks_violations(monkeypatch):
    """An EXCLUSIVE / MANDATORY over an edge's own properties, scoped by edge labels, is decided
    by the scan (edge rows grouped in C, keys made in C), not the element-by-element check; its
    violations are that check's, in its order."""
    ddl = """CREATE GRAPH TYPE g LOOSE { FOR ()-[e:R]->() EXCLUSIVE e.k, FOR ()-[e:R & !S]->() MANDATORY (e.k, e.w),
             FOR ()-[e]->() SINGLETON e.w }"""
    gt = parse_schema(ddl)
    with lpgdb.connect(":memory:") as db:
        with db.transaction() as tx:
            a, b = tx.create_node("A", {}), tx.create_node("B", {})
            for i, (labels, props) in enumerate([("R", {"k": 1}), ("R", {"k": 1.0, "w": 2}), (["R", "S"], {"k": 2}),
                                                 ("S", {"k": 1}), ("R", {"k": "1", "w": 1}), ("R", {"k": 2, "w": 3}),
                                                 ("R", {"w": 5}), ("R", {"k": dt.date(2020, 1, 1), "w": 1}),
                                                 ("R", {"k": dt.date(2020, 1, 1), "w": 1})]):
                tx.create_edge(a if i % 2 else b, labels, b, props)
        with db.snapshot() as snap:
            slow = validate.validate_stored(gt, _ElementByElement(snap)).violations
            checked = []
            real = validate._Validator.check_constraint
            monkeypatch.setattr(validate._Validator, "check_constraint",
                                lambda self, c, affected: checked.append(c.name) or real(self, c, affected))
            scan = validate.validate_stored(gt, snap).violations
    assert scan == slow and checked == []
    assert sorted({v.kind for v in scan}) == ["key_duplicate", "key_missing"]
    assert [v.id for v in scan if v.kind == "key_duplicate"] == [1, 5, 8]
