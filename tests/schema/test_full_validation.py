"""Full validation of stored data (set_schema, check) through the one-pass scan gives exactly the
violations of the element-by-element check, and stops early when asked (issue 11 item 4)."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lpgdb
from lpgdb import SchemaViolationError
from lpgdb.schema import parse_schema, validate
from tests.schema.test_incremental_model import _op, graph_types


class _ElementByElement:
    """A reader without ``scan_records``: validate_stored takes the element-by-element path."""

    def __init__(self, reader):
        self._reader = reader

    def __getattr__(self, name):
        if name == "scan_records":
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
