"""The validator's fast paths give the answers of the slow ones.

- ``Shape.record_ok``'s exact-class fast accept equals ``record_failures`` == [];
- ``Shape.record_within`` is sound (a record one shape accepts, a containing shape accepts);
- ``GraphType.strict_implies`` (endpoints of untouched nodes judged by their labels) never
  accepts an endpoint the properties would refuse;
- batched key probes (``Transaction.untouched_key_nodes``) see the transaction's own holders,
  committed holders, and holders the transaction moved away;
- ``validate_commit`` without the engine's after-images (a plain view) agrees with it.
"""
import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lpgdb
from lpgdb import SchemaViolationError
from lpgdb.schema import parse_schema, validate
from lpgdb.schema.types import VALUE_TYPES, PropertyRule, Shape, _LabelCache

TYPE_NAMES = ["INT", "INT8", "UINT8", "STRING", "BOOL", "DOUBLE", "DATE", "DATETIME", "ANY"]
KEYS = ["a", "b", "c"]
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-300, 300), st.sampled_from([2 ** 63, -1.5, 2.0]),
                   st.text(max_size=2), st.sampled_from([dt.date(2020, 1, 2),
                                                         dt.datetime(2020, 1, 2, 3, 4)]))


@st.composite
def shapes(draw):
    keys = draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=3))
    rules = tuple(PropertyRule(k, VALUE_TYPES[draw(st.sampled_from(TYPE_NAMES))], draw(st.booleans()))
                  for k in sorted(keys))
    return Shape(frozenset(), False, rules, draw(st.booleans()))


RECORDS = st.dictionaries(st.sampled_from(KEYS + ["d"]), VALUES, max_size=4)


@settings(max_examples=400, deadline=None)
@given(shapes(), RECORDS)
def test_fast_record_check_equals_the_failure_list(shape, props):
    assert shape.record_ok(props) == (shape.record_failures(props) == [])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shapes(), shapes(), st.lists(RECORDS, max_size=8))
def test_record_within_is_sound(a, b, records):
    if a.record_within(b):
        for r in records:
            if a.record_ok(r):
                assert b.record_ok(r), (a, b, r)


def test_record_within_on_simple_cases():
    def shape(*rules, open=False):
        return Shape(frozenset(), False, tuple(PropertyRule(k, VALUE_TYPES[t], req) for k, t, req in rules),
                     open)
    person = shape(("age", "INT", True), ("id", "INT", True))
    assert person.record_within(person)
    assert shape(("id", "INT8", True)).record_within(shape(("id", "INT", True)))
    assert not shape(("id", "INT", True)).record_within(shape(("id", "INT8", True)))
    assert not shape(("id", "INT", False)).record_within(shape(("id", "INT", True)))
    assert shape(("id", "INT", True)).record_within(shape(("id", "INT", False)))
    assert not shape(("id", "INT", True), open=True).record_within(shape(("id", "INT", True)))
    assert shape(("id", "INT", True)).record_within(shape(open=True))
    assert not shape(open=True).record_within(shape(("x", "INT", False), open=True))
    assert shape(open=True).record_within(shape(("x", "ANY", False), open=True))


TWO_A = """
CREATE GRAPH TYPE g STRICT {
  (aType: A {k INT}),
  (a2Type: A {k STRING}),
  (bType: B OPEN {OPTIONAL k INT, OPEN}),
  (:aType)-[rType: R]->(:aType | bType)
}
"""


def test_untouched_endpoint_of_another_type_with_the_same_labels_is_refused():
    with lpgdb.connect(":memory:") as db:
        db.set_schema(TWO_A)
        with db.transaction() as tx:
            good = tx.create_node("A", {"k": 1})
            other = tx.create_node("A", {"k": "x"})            # a2Type: same labels, not aType
            b = tx.create_node(["B", "C"], {"k": 2, "z": 1})   # open type, extra label and key
        with db.transaction() as tx:
            tx.create_edge(good, "R", good)
            tx.create_edge(good, "R", b)
        for src, dst in ((other, good), (good, other)):
            tx = db.transaction()
            tx.create_edge(src, "R", dst)
            with pytest.raises(SchemaViolationError) as ei:
                tx.commit()
            assert [v.kind for v in ei.value.violations] == ["bad_endpoint"]
        with db.transaction() as tx:                          # the endpoint changes in the same tx
            tx.update_node(good, set={"k": 5})
            tx.create_edge(good, "R", good)
        tx = db.transaction()
        tx.update_node(good, set={"k": "now a string"})        # its existing edges break
        with pytest.raises(SchemaViolationError) as ei:
            tx.commit()
        assert {v.kind for v in ei.value.violations} == {"bad_endpoint"}
        assert db.check() == []


def test_strict_implies_needs_every_concrete_candidate_within_the_endpoint():
    gt = parse_schema(TWO_A)
    r = gt.edge_types["rType"]
    assert not gt.strict_implies(r.source, frozenset({"A"}))      # a2Type is not within aType
    assert gt.strict_implies(r.target, frozenset({"B", "C"}))
    assert not gt.strict_implies(r.source, frozenset({"Z"}))      # no type at all: look


KEYED = "CREATE GRAPH TYPE g LOOSE { FOR (x:A) EXCLUSIVE x.k }"


def _refused(db, *writes):
    tx = db.transaction()
    for w in writes:
        w(tx)
    try:
        tx.commit()
    except SchemaViolationError as e:
        return sorted(v.kind for v in e.violations)
    return []


def test_batched_key_probe_sees_every_kind_of_holder():
    with lpgdb.connect(":memory:") as db:
        db.set_schema(KEYED)
        with db.transaction() as tx:
            a = tx.create_node("A", {"k": 1})
            tx.create_node("A", {"k": 2})
        assert _refused(db, lambda tx: tx.create_node("A", {"k": 1.0})) == ["key_duplicate"]
        assert _refused(db, lambda tx: tx.create_node("A", {"k": 3}),
                        lambda tx: tx.create_node("A", {"k": 3})) == ["key_duplicate", "key_duplicate"]
        assert _refused(db, lambda tx: tx.update_node(a, set={"k": 9}),       # a gives 1 away
                        lambda tx: tx.create_node("A", {"k": 1})) == []
        assert _refused(db, lambda tx: tx.create_node("A", {"k": True})) == []   # True is not 1
        assert _refused(db, lambda tx: tx.create_node("A", {"k": "1"})) == []
        assert db.check() == []


def test_float_key_beyond_the_int64_range_is_probed():
    with lpgdb.connect(":memory:") as db:
        db.set_schema(KEYED)
        with db.transaction() as tx:
            tx.create_node("A", {"k": 1e30})
        assert _refused(db, lambda tx: tx.create_node("A", {"k": 1e30})) == ["key_duplicate"]


class _PlainWriteSet:
    """A write set without the engine's after-images: the validator reads through the view."""

    def __init__(self, ws):
        self.nodes_written = ws.nodes_written
        self.nodes_deleted = ws.nodes_deleted
        self.edges_written = ws.edges_written
        self.edges_deleted = ws.edges_deleted


class _PlainView:
    """The transaction's public reads only (no node_labels / untouched_key_nodes)."""

    def __init__(self, tx):
        self._tx = tx

    def node(self, i):
        return self._tx.node(i)

    def edge(self, i):
        return self._tx.edge(i)

    def nodes(self, label=None):
        return self._tx.nodes(label)

    def edges(self, label=None):
        return self._tx.edges(label)

    def edges_of(self, i, direction="out", label=None):
        return self._tx.edges_of(i, direction, label)

    def key_nodes(self, name, key):
        return self._tx.key_nodes(name, key)


SOCIAL = """
CREATE GRAPH TYPE g STRICT {
  (personType: Person {id INT, name STRING}),
  (:personType)-[knowsType: KNOWS {since INT}]->(:personType),
  FOR (x:personType) IDENTIFIER x.id
}
"""


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["node", "edge", "update", "delete"]),
                          st.integers(0, 5), st.integers(0, 5),
                          st.sampled_from([1, "x", None, 2.0])), min_size=1, max_size=8))
def test_validation_without_engine_fast_paths_agrees(ops):
    with lpgdb.connect(":memory:") as db:
        db.set_schema(SOCIAL)
        with db.transaction() as tx:
            ids = [tx.create_node("Person", {"id": i, "name": "p"}) for i in range(4)]
            tx.create_edge(ids[0], "KNOWS", ids[1], {"since": 1})
        tx = db.transaction()
        for kind, a, b, val in ops:
            live = [n.id for n in tx.nodes()]
            if kind == "node" or not live:
                props = {"id": a, "name": "q"} if val != "x" else {"id": "bad", "name": "q"}
                live.append(tx.create_node("Person", props))
            elif kind == "edge":
                since = {"since": 3} if val is not None else {}
                tx.create_edge(live[a % len(live)], "KNOWS", live[b % len(live)], since)
            elif kind == "update":
                tx.update_node(live[a % len(live)], set={"id": val if val != 2.0 else b})
            else:
                tx.delete_node(live[a % len(live)], detach=True)
        gt = db.schema
        ws = tx._write_set()
        fast = validate.validate_commit(gt, tx, ws)
        plain = validate.validate_commit(gt, _PlainView(tx), _PlainWriteSet(ws))
        full = validate.validate_all(gt, tx)
        assert [(v.kind, v.id, v.message) for v in fast] == [(v.kind, v.id, v.message) for v in plain]
        assert {v.kind for v in fast} == {v.kind for v in full}
        tx.rollback()


def test_label_cache_is_bounded():
    c = _LabelCache()
    for i in range(_LabelCache.LIMIT + 10):
        c.put(frozenset([str(i)]), i)
    assert len(c) <= _LabelCache.LIMIT
    assert c[frozenset([str(_LabelCache.LIMIT + 9)])] == _LabelCache.LIMIT + 9
