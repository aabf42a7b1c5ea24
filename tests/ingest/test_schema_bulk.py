"""Schema checks of bulk loads: the columnar decision (schema/bulk.py) against the row path."""
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import lpgdb
from lpgdb.schema import bulk

pa = pytest.importorskip("pyarrow")

SCHEMAS = [
    """CREATE GRAPH TYPE g STRICT { (p: P {id INT64, name STRING}), (q: Q {v INT8}),
       (:p)-[r: R {w INT64}]->(:q), FOR (x:p) EXCLUSIVE MANDATORY SINGLETON x.id }""",
    """CREATE GRAPH TYPE g STRICT { (p: P {id INT64, OPTIONAL name STRING}), (q: Q {OPTIONAL v INT8}),
       (:p)-[r: R {OPTIONAL w INT64}]->(:p|q), FOR (x:P) EXCLUSIVE x.id }""",
    """CREATE GRAPH TYPE g LOOSE { (p: P {id INT64}), FOR (x:P) EXCLUSIVE MANDATORY x.id }""",
    """CREATE GRAPH TYPE g STRICT { (p: P {id INT64, OPTIONAL name STRING}), (q: Q {OPTIONAL v INT8}),
       (:p)-[r: R {OPTIONAL w INT64}]->(:q), FOR (x:p) COUNT 0..1 OF y WITHIN (x)-[:R]->(y) }""",
    """CREATE GRAPH TYPE g STRICT { (p: P {id INT64, OPTIONAL name STRING}), (q: Q {OPTIONAL v INT8}),
       (:p)-[r: R {OPTIONAL w INT64}]->(:q), FOR (x:p) EXCLUSIVE MANDATORY (x.id, x.name) }""",
]

_CERTAINLY_VALID = bulk.certainly_valid
columnar = []      # which inputs the columnar path decided (checked to happen at all below)
maybe = lambda s: st.one_of(st.none(), s)  # noqa: E731
NODE = st.tuples(st.sampled_from(["P", "Q", "X"]), maybe(st.integers(0, 6)), maybe(st.sampled_from(["a", "b"])),
                 maybe(st.integers(-200, 200)))


# mostly valid rows, so that the columnar path decides many inputs: P with a fresh id and a
# name, Q with a small v, and once in a while one of the random rows above
GOOD = st.one_of(st.builds(lambda i, nm: ("P", i, nm, None), st.integers(0, 10 ** 6), st.sampled_from(["a", "b"])),
                 st.builds(lambda v: ("Q", None, None, v), maybe(st.integers(-128, 127))))


@st.composite
def loads(draw):
    nodes = draw(st.lists(st.one_of(GOOD, GOOD, GOOD, NODE), min_size=1, max_size=12))
    n = len(nodes)
    ps = [i for i, x in enumerate(nodes) if x[0] == "P"] or [0]
    qs = [i for i, x in enumerate(nodes) if x[0] == "Q"] or [0]
    good = st.tuples(st.sampled_from(ps), st.sampled_from(qs), st.just("R"), st.integers(0, 3))
    anything = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.sampled_from(["R", "S"]),
                         maybe(st.integers(0, 3)))
    edges = draw(st.lists(st.one_of(good, good, good, anything), max_size=12))
    return draw(st.sampled_from(range(len(SCHEMAS)))), nodes, edges


def tables(nodes, edges):
    cols = {":ID": list(range(len(nodes))), ":LABEL": [x[0] for x in nodes],
            "id": pa.array([x[1] for x in nodes], pa.int64()), "name": pa.array([x[2] for x in nodes], pa.string()),
            "v": pa.array([x[3] for x in nodes], pa.int64())}
    ecols = {":START_ID": [e[0] for e in edges], ":END_ID": [e[1] for e in edges], ":TYPE": [e[2] for e in edges],
             "w": pa.array([e[3] for e in edges], pa.int64())}
    return pa.table(cols), (pa.table(ecols) if edges else None)


def verdict(fn):
    try:
        fn()
        return True, ()
    except lpgdb.SchemaViolationError as e:
        return False, tuple(sorted({v.kind for v in e.violations}))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(loads())
def test_bulk_verdicts_and_kinds_equal_validating_the_loaded_graph(monkeypatch, load):
    k, nodes, edges = load
    decided = []       # (the patch is the same for every input: it records this input's calls)
    real = _CERTAINLY_VALID     # not bulk.certainly_valid: the previous input's patch, one more deep
    monkeypatch.setattr(bulk, "certainly_valid", lambda *a: decided.append(real(*a)) or decided[-1])
    nt, et = tables(nodes, edges)
    a = lpgdb.connect(":memory:")
    a.set_schema(SCHEMAS[k])
    got = verdict(lambda: a.bulk_load(nodes=nt, edges=et))
    b = lpgdb.connect(":memory:")
    b.bulk_load(nodes=nt, edges=et)
    want = verdict(lambda: b.set_schema(SCHEMAS[k]))
    assert got == want
    if decided and decided[0]:
        assert want == (True, ())             # the columnar path only ever says "valid" truly
    columnar.append(bool(decided and decided[0]))
    with a.snapshot() as s:
        assert s.node_count() == (len(nodes) if got[0] else 0)


@pytest.mark.soak
@settings(max_examples=2000, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(loads())
def test_soak_bulk_verdicts(monkeypatch, load):
    test_bulk_verdicts_and_kinds_equal_validating_the_loaded_graph.hypothesis.inner_test(monkeypatch, load)


def test_the_property_test_exercised_the_columnar_path():
    assert not columnar or any(columnar), "no random load was decided by the columnar checks"


def test_the_columnar_path_is_taken_for_a_key_schema(monkeypatch, tmp_path):
    decided = []
    real = bulk.certainly_valid
    monkeypatch.setattr(bulk, "certainly_valid", lambda *a: decided.append(real(*a)) or decided[-1])
    db = lpgdb.connect(str(tmp_path / "db"))
    db.set_schema(SCHEMAS[0])
    n = pa.table({":ID": [1, 2, 3], ":LABEL": ["P", "P", "Q"], "id": pa.array([5, 6, None], pa.int64()),
                  "name": ["a", "b", None], "v": pa.array([None, None, 7], pa.int64())})
    e = pa.table({":START_ID": [1, 2], ":END_ID": [3, 3], ":TYPE": ["R", "R"], "w": [1, 2]})
    db.bulk_load(nodes=n, edges=e)
    assert decided == [True] and db.check() == []
    # a key already stored: the row path reports it, exactly
    with pytest.raises(lpgdb.SchemaViolationError) as err:
        db.bulk_load(nodes=pa.table({":LABEL": ["P"], "id": [6], "name": ["c"]}))
    assert decided == [True, False] and [v.kind for v in err.value.violations] == ["key_duplicate"]
    db.close()
