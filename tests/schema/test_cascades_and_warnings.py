"""Issue 13 items 6 and 8: violations do not cascade, every SchemaViolationError summarises by
kind, and names taken as labels that look like misspelled type names give warnings."""
import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lpgdb
from lpgdb import SchemaViolationError, Violation, parse_schema
from lpgdb.schema import validate

SOCIAL = """CREATE GRAPH TYPE g STRICT {
  (personType: Person {name STRING}),
  (cityType: City {name STRING}),
  (:personType)-[knowsType: KNOWS]->(:personType),
  (:personType)-[livesType: LIVES_IN]->(:cityType) }"""


@pytest.fixture
def social():
    db = lpgdb.connect(":memory:")
    db.set_schema(SOCIAL)
    with db.transaction() as tx:
        a = tx.create_node("Person", {"name": "a"})
        c = tx.create_node("City", {"name": "c"})
    yield db, a, c
    db.close()


def test_one_bad_property_is_reported_once_not_on_each_edge(social):
    db, a, c = social
    with pytest.raises(SchemaViolationError) as ei:
        with db.transaction() as tx:
            b = tx.create_node("Person", {"name": "b", "email": "b@x"})
            for s, label, d in ((a, "KNOWS", b), (b, "KNOWS", a), (b, "LIVES_IN", c)):
                tx.create_edge(s, label, d)
    (v,) = ei.value.violations
    assert (v.kind, v.id) == ("closed_extra_property", b)
    assert "3 edges at it (0, 1, 2)" in v.message and "knowsType, livesType" in v.message
    assert ei.value.counts == {"closed_extra_property": 1}
    assert db.snapshot().node_count() == 2                 # nothing was written


def test_an_edge_wrong_on_its_own_is_still_reported(social):
    db, a, c = social
    with pytest.raises(SchemaViolationError) as ei:
        with db.transaction() as tx:
            b = tx.create_node("Person", {"name": "b", "email": "b@x"})
            tx.create_edge(b, "LIVES_IN", c)            # a consequence of b's extra property
            e = tx.create_edge(b, "LIVES_IN", a)        # wrong anyway: a person is not a city
    assert [(v.kind, v.id) for v in ei.value.violations] == [("closed_extra_property", b),
                                                              ("bad_endpoint", e)]
    assert "1 edge at it (0)" in ei.value.violations[0].message


def test_set_schema_on_stored_data_folds_cascades_the_same_way():
    db = lpgdb.connect(":memory:")
    with db.transaction() as tx:
        a = tx.create_node("Person", {"name": "a", "email": "x"})
        b = tx.create_node("Person", {"name": "b"})
        for _ in range(7):
            tx.create_edge(a, "KNOWS", b)
    with pytest.raises(SchemaViolationError) as ei:
        db.set_schema(SOCIAL)
    assert [v.kind for v in ei.value.violations] == ["closed_extra_property"]
    assert "7 edges at it (0, 1, 2, 3, 4, ...)" in ei.value.violations[0].message
    db.close()


def _graphs():
    """Small random graphs of persons and cities, some with bad properties or labels."""
    node = st.tuples(st.sampled_from([("Person",), ("City",), ("Person", "City"), ("Other",)]),
                     st.sampled_from([{"name": "n"}, {"name": 1}, {"name": "n", "email": "e"}, {}]))
    return st.tuples(st.lists(node, min_size=1, max_size=6),
                     st.lists(st.tuples(st.integers(0, 5), st.sampled_from(["KNOWS", "LIVES_IN"]),
                                        st.integers(0, 5)), max_size=8))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_graphs())
def test_folding_keeps_the_verdict_and_only_drops_explained_edges(graph):
    """Against validation without folding: the same verdict; every violation kept (messages
    aside); and every edge violation dropped is a bad_endpoint at a node with a violation."""
    nodes, edges = graph
    db = lpgdb.connect(":memory:")
    with db.transaction() as tx:
        ids = [tx.create_node(labels, props) for labels, props in nodes]
        for s, label, d in edges:
            tx.create_edge(ids[s % len(ids)], label, ids[d % len(ids)])
    gt = parse_schema(SOCIAL)
    with db.snapshot() as snap:
        folded = validate.validate_all(gt, snap)
        original = validate._Validator._cascade_roots
        validate._Validator._cascade_roots = lambda self, e, types: []
        try:
            unfolded = validate.validate_all(gt, snap)
        finally:
            validate._Validator._cascade_roots = original
    db.close()
    assert bool(folded) == bool(unfolded)
    key = lambda v: (v.kind, v.element, v.id, v.type_name)   # noqa: E731
    assert {key(v) for v in folded} <= {key(v) for v in unfolded}
    roots = {v.id for v in folded if v.element == "node"}
    snap_edges = {e: (ids[s % len(ids)], ids[d % len(ids)]) for e, (s, _l, d) in enumerate(edges)}
    for v in unfolded:
        if key(v) not in {key(x) for x in folded}:
            assert v.kind == "bad_endpoint" and set(snap_edges[v.id]) & roots


# ---- the error's summary ---------------------------------------------------------------------------

def test_the_message_counts_each_kind_and_shows_the_first_examples():
    vs = [Violation("closed_extra_property", "node", i, "personType", f"Person {i}: email is not allowed")
          for i in range(64_000)] + [Violation("key_duplicate", "node", 1, "k", "Person 1: id = 1 twice")]
    e = SchemaViolationError(vs)
    lines = str(e).splitlines()
    assert lines[0] == "64,001 schema violations (closed_extra_property: 64,000, key_duplicate: 1):"
    assert lines[1:5] == [f"  closed_extra_property: Person {i}: email is not allowed" for i in range(3)] + [
        "  ... and 63,997 more closed_extra_property"]
    assert lines[5:] == ["  key_duplicate: Person 1: id = 1 twice"]
    assert len(e.violations) == 64_001 and e.complete
    assert e.counts == {"closed_extra_property": 64_000, "key_duplicate": 1}
    again = pickle.loads(pickle.dumps(SchemaViolationError(vs[:5])))
    assert again.violations == vs[:5] and again.counts == {"closed_extra_property": 5}


def test_a_bounded_error_says_it_stopped_early():
    e = SchemaViolationError([Violation("missing_property", "node", 1, "t", "m")],
                             counts={"missing_property": 10}, complete=False)
    assert str(e).startswith("10+ schema violations (missing_property: 10); validation stopped early:")
    assert "... and 9 more missing_property" in str(e)


# ---- warnings for names that look like misspelled types ---------------------------------------------

@pytest.mark.parametrize("ddl, warning", [
    ("CREATE GRAPH TYPE g STRICT { (p: Person {name STRING}), (:pp)-[k: KNOWS]->(:p) }",
     "edge type 'k': endpoint 'pp' is not a type, and no node type has the label 'pp'; it is taken as "
     "a label. Did you mean p?"),
    ("CREATE GRAPH TYPE g STRICT { (personType: Person {id INT}), FOR (x:persontype) KEY x.id }",
     "constraint FOR (x:persontype) IDENTIFIER (x.id): scope 'persontype' is not a type, and no node "
     "type has the label 'persontype'; it is taken as a label. Did you mean personType?"),
    ("CREATE GRAPH TYPE g LOOSE { (c: City), (p: Person), (:p)-[l: LIVES_IN]->(:c),"
     " FOR (x:p) MANDATORY y WITHIN (x)-[:LIVESIN]->(y:City) }",
     "constraint FOR (x:p) MANDATORY y WITHIN (x)-[:LIVESIN]->(y:City): pattern 'LIVESIN' is not a "
     "type, and no edge type has the label 'LIVESIN'; it is taken as a label. Did you mean LIVES_IN?"),
    ("CREATE GRAPH TYPE g STRICT { (a: A), (:A)-[r: R]->(:Nowhere) }",
     "edge type 'r': endpoint 'Nowhere' is not a type, and no node type has the label 'Nowhere'; it "
     "is taken as a label"),
])
def test_names_that_look_like_misspelled_types_give_warnings(ddl, warning):
    assert warning in parse_schema(ddl).warnings


@pytest.mark.parametrize("ddl", [
    SOCIAL,
    "CREATE GRAPH TYPE g LOOSE { FOR (x:Article) COUNT 0 OF (y:Person)-[:AuthorOf]->(x) }",
    "CREATE GRAPH TYPE g STRICT { (personType: Person {id INT}), FOR (x:Person) KEY x.id }",
    "CREATE GRAPH TYPE g STRICT { (a: A | B), (:A)-[r: R]->(:B) }",
])
def test_labels_that_types_carry_and_loose_label_constraints_give_no_warning(ddl):
    assert not [w for w in parse_schema(ddl).warnings if "is not a type" in w]


def test_warnings_do_not_take_part_in_equality():
    a = parse_schema("CREATE GRAPH TYPE g STRICT { (p: P), FOR (x:pp) MANDATORY x.k }")
    assert a.warnings and a == parse_schema(str(a))
