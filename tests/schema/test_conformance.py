"""Every PG-Schema conformance case through the real engine, both ways round:
(1) schema first, then the graph loaded in one transaction; (2) graph first, then set_schema."""
import pytest

import lpgdb
from lpgdb import SchemaViolationError
from tests.schema.cases import case_ids, decode_props, edge_labels, load_cases

CASES = [c for c in load_cases() if not (c.get("parse_error") or c.get("schema_error"))]


def _load(tx, graph):
    ids = {}
    for n in graph["nodes"]:
        ids[n["id"]] = tx.create_node(n.get("labels", []), decode_props(n.get("props")))
    for e in graph["edges"]:
        tx.create_edge(ids[e["src"]], edge_labels(e), ids[e["dst"]], decode_props(e.get("props")))


def _check_verdict(case, violations):
    kinds = sorted({v.kind for v in violations})
    assert (not violations) == case["valid"], [v.message for v in violations]
    assert kinds == sorted(case["violations"]), [v.message for v in violations]
    for v in violations:
        assert v.element in ("node", "edge") and v.message and isinstance(v.id, int)


@pytest.mark.parametrize("case", CASES, ids=case_ids(CASES))
def test_case_schema_then_commit(case):
    with lpgdb.connect(":memory:") as db:
        db.set_schema(case["schema"], case.get("graph_type"))
        tx = db.transaction()
        _load(tx, case["graph"])
        if case["valid"]:
            tx.commit()
            assert db.check() == []
            with db.snapshot() as s:
                assert s.node_count() == len(case["graph"]["nodes"])
        else:
            with pytest.raises(SchemaViolationError) as ei:
                tx.commit()
            _check_verdict(case, ei.value.violations)
            with db.snapshot() as s:       # nothing of the transaction was written
                assert s.node_count() == 0 and s.edge_count() == 0


@pytest.mark.parametrize("case", CASES, ids=case_ids(CASES))
def test_case_graph_then_set_schema(case):
    with lpgdb.connect(":memory:") as db:
        with db.transaction() as tx:
            _load(tx, case["graph"])
        if case["valid"]:
            gt = db.set_schema(case["schema"], case.get("graph_type"))
            assert db.schema == gt
            assert db.check() == []
        else:
            with pytest.raises(SchemaViolationError) as ei:
                db.set_schema(case["schema"], case.get("graph_type"))
            _check_verdict(case, ei.value.violations)
            assert db.schema is None
