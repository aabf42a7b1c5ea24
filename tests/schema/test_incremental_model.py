"""Property test: the commit-time (incremental) verdict always equals a full re-validation.

Random graph types built from a pool of types and constraints (keys, participation, COUNT, denial,
foreign key, check, edge keys, two-hop patterns) under STRICT or LOOSE, then random transactions.
Before each commit the transaction's own view (the would-be state) is fully validated; the commit
must be refused exactly when that full check finds violations, with the same violation kinds."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lpgdb
from lpgdb import SchemaViolationError
from lpgdb.schema import validate

TYPES = [
    "(aType: A {k INT, OPTIONAL v STRING})",
    "(bType: B OPEN {OPTIONAL k INT, OPEN})",
    "(abType: aType & B)",
    "(plainType OPEN {OPEN})",
    "(:aType | abType)-[rType: R {OPTIONAL k INT}]->(:bType | abType | aType)",
    "(OPEN {OPEN})-[sType: S]->(OPEN {OPEN})",
    "(:bType)-[rsType: R & S]->(:aType)",
]
CONSTRAINTS = [
    "FOR (x:A) EXCLUSIVE x.k",
    "FOR (x:aType) IDENTIFIER x.k",
    "FOR (x:B) EXCLUSIVE (x.k, x.v)",
    "FOR (x:A) MANDATORY y WITHIN (x)-[:R]->(y)",
    "FOR (x:B) COUNT 0..2 OF y WITHIN (y)-[:R]->(x)",
    "FOR (x:A) SINGLETON e WITHIN (x)-[e:S]-()",
    "FOR (x:B) MANDATORY y WITHIN (y:A) WHERE y.k = x.k",
    "FOR (x:A) MANDATORY x.k >= 0",
    "FOR ()-[e:R]->() EXCLUSIVE e.k",
    "FOR (x:A) COUNT 0 OF (x)-[:R]->(y)-[:S]->(x)",
    "FOR (x:B) WHERE x.k > 1 COUNT 1.. OF y WITHIN (x)<-[:R]-(z)-[:S]->(y)",
    "FOR (x:bType) EXCLUSIVE y WITHIN (x)-[:R]->(y:A)",
    "FOR ()-[e:rType]->() MANDATORY e.k",
]


@st.composite
def graph_types(draw):
    types = draw(st.lists(st.sampled_from(range(len(TYPES))), unique=True, max_size=len(TYPES)))
    if 4 in types or 6 in types:                       # edge types need their endpoint types
        types = sorted(set(types) | {0, 1, 2})
    cons = draw(st.lists(st.sampled_from(CONSTRAINTS), unique=True, min_size=1, max_size=3))
    if any("aType" in c or "bType" in c or "rType" in c for c in cons):
        types = sorted(set(types) | {0, 1, 2, 4})
    mode = draw(st.sampled_from(["STRICT", "LOOSE"]))
    body = ",\n  ".join([TYPES[i] for i in sorted(types)] + cons)
    return f"CREATE GRAPH TYPE g {mode} {{\n  {body}\n}}"


LABELS = st.sets(st.sampled_from(["A", "B"]), max_size=2)
VALUES = st.one_of(st.none(), st.integers(-1, 3), st.sampled_from([1.0, 2.5, True]))
PROPS = st.fixed_dictionaries({"k": VALUES}, optional={"v": st.sampled_from(["x", "y"]),
                                                        "w": st.integers(0, 1)})


def _op(draw, tx, nodes, edges):
    kind = draw(st.sampled_from(["node", "node", "edge", "edge", "edge", "del_edge", "del_node",
                                 "update", "labels", "update_edge"]))
    if kind == "node" or not nodes:
        props = {k: v for k, v in draw(PROPS).items() if v is not None}
        nodes.append(tx.create_node(sorted(draw(LABELS)), props))
    elif kind == "edge":
        a, b = draw(st.sampled_from(nodes)), draw(st.sampled_from(nodes))
        labels = draw(st.sampled_from([["R"], ["S"], ["R", "S"]]))
        props = {"k": draw(st.integers(0, 2))} if draw(st.booleans()) else {}
        edges.append(tx.create_edge(a, labels, b, props))
    elif kind == "del_edge" and edges:
        e = edges.pop(draw(st.integers(0, len(edges) - 1)))
        if tx.has_edge(e) if hasattr(tx, "has_edge") else True:
            try:
                tx.delete_edge(e)
            except lpgdb.NotFoundError:
                pass
    elif kind == "del_node":
        n = nodes.pop(draw(st.integers(0, len(nodes) - 1)))
        tx.delete_node(n, detach=True)
    elif kind == "update":
        n = draw(st.sampled_from(nodes))
        tx.update_node(n, set={"k": draw(VALUES)}, remove=draw(st.sets(st.sampled_from(["v", "w"]))))
    elif kind == "labels":
        n = draw(st.sampled_from(nodes))
        add = sorted(draw(LABELS))   # a label both added and removed is refused (InterfaceError)
        tx.update_node(n, add_labels=add, remove_labels=sorted(set(draw(LABELS)) - set(add)))
    elif kind == "update_edge" and edges:
        e = draw(st.sampled_from(edges))
        try:
            tx.update_edge(e, set={"k": draw(st.one_of(st.none(), st.integers(0, 2)))})
        except lpgdb.NotFoundError:
            pass


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph_types(), st.data())
def test_incremental_verdict_equals_full_revalidation(ddl, data):
    with lpgdb.connect(":memory:") as db:
        gt = db.set_schema(ddl)
        accepted = 0
        for _ in range(12):
            with db.snapshot() as s:
                nodes = [n.id for n in s.nodes()]
                edges = [e.id for e in s.edges()]
            tx = db.transaction()
            for _ in range(data.draw(st.integers(1, 6))):
                _op(data.draw, tx, nodes, edges)
            full = validate.validate_all(gt, tx)
            try:
                tx.commit()
                refused = []
            except SchemaViolationError as e:
                refused = e.violations
            assert bool(refused) == bool(full), (ddl, [v.message for v in full or refused])
            assert {v.kind for v in refused} == {v.kind for v in full}, (
                ddl, [v.message for v in full], [v.message for v in refused])
            accepted += not refused
            assert db.check() == []


# ---- the same property over arbitrary generated schemas (the round-trip generator's) -----------

from tests.schema.test_roundtrip import LABELS as GEN_LABELS  # noqa: E402
from tests.schema.test_roundtrip import schemas  # noqa: E402

GEN_PROPS = st.dictionaries(st.sampled_from(["p0_0", "p1_0", "p1_1", "p2_0", "q0_0", "id", "name",
                                             "age", "k", "b", "c", "count"]),
                            st.one_of(st.integers(-2, 2), st.sampled_from(["a", 1.5, True])),
                            max_size=3)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schemas(), st.data())
def test_incremental_equals_full_on_generated_schemas(ddl, data):
    gt = lpgdb.parse_schema(ddl)
    with lpgdb.connect(":memory:") as db:
        db.set_schema(str(gt))
        for _ in range(6):
            with db.snapshot() as s:
                nodes = [n.id for n in s.nodes()]
            tx = db.transaction()
            for _ in range(data.draw(st.integers(1, 4))):
                if nodes and data.draw(st.booleans()):
                    a, b = data.draw(st.sampled_from(nodes)), data.draw(st.sampled_from(nodes))
                    tx.create_edge(a, data.draw(st.sets(st.sampled_from(["R", "S"]), max_size=2)), b,
                                   data.draw(GEN_PROPS))
                elif nodes and data.draw(st.booleans()):
                    tx.delete_node(data.draw(st.sampled_from(nodes)), detach=True)
                    nodes = [n.id for n in tx.nodes()]
                else:
                    nodes.append(tx.create_node(sorted(data.draw(st.sets(st.sampled_from(GEN_LABELS),
                                                                         max_size=2))),
                                                data.draw(GEN_PROPS)))
            full = validate.validate_all(gt, tx)
            try:
                tx.commit()
                refused = []
            except SchemaViolationError as e:
                refused = e.violations
            assert {v.kind for v in refused} == {v.kind for v in full}, (
                ddl, [v.message for v in full], [v.message for v in refused])
            assert db.check() == []
