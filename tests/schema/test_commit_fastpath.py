"""The commit fast path (lpgdb/schema/fastpath.py) against the general validator.

``fastpath.accepts`` may only say True when ``validate_commit(..., fast=False)`` finds no
violation; for the graph types it compiles (constraints over a node's own properties, no
patterns) it must also accept every commit the general validator accepts, or it would be a
fast path that never runs. Random graph types, random transactions with values at the integer
bounds and of every kind that a key may mix (1 and 1.0, True), checked before each commit, and
the commit's verdict and Violation records compared with the general validator's.
"""
import datetime

import pytest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lpgdb
from lpgdb import SchemaViolationError
from lpgdb.schema import fastpath, validate

TYPES = [
    "(pType: P {id INT32, OPTIONAL name STRING})",
    "(qType: Q OPEN {OPTIONAL id INT, OPEN})",
    "(pqType: pType & Q)",
    "(fType: F {x DOUBLE, OPTIONAL d DATE})",
    "(:pType | pqType)-[kType: K {OPTIONAL since INT}]->(:pType | qType | pqType)",
    "(OPEN {OPEN})-[lType: L]->(OPEN {OPEN})",
]
COMPILED = [
    "FOR (x:pType) IDENTIFIER x.id",
    "FOR (x:P) EXCLUSIVE x.id",
    "FOR (x:Q) EXCLUSIVE (x.id, x.name)",
    "FOR (x:Q) MANDATORY x.id",
    "FOR (x:P & !Q) EXCLUSIVE x.name",
    "FOR (x:fType) IDENTIFIER x.x",
    "FOR (x:Q) WHERE x.id >= 2 MANDATORY x.name",
    "FOR (x:pqType | fType) SINGLETON x.id",
]
GENERAL_ONLY = [
    "FOR (x:P) MANDATORY y WITHIN (x)-[:K]->(y)",
    "FOR ()-[e:K]->() EXCLUSIVE e.since",
]


@st.composite
def graph_types(draw):
    types = draw(st.lists(st.sampled_from(range(len(TYPES))), unique=True, max_size=len(TYPES)))
    cons = draw(st.lists(st.sampled_from(COMPILED), unique=True, max_size=3))
    if draw(st.integers(0, 5)) == 0:
        cons.append(draw(st.sampled_from(GENERAL_ONLY)))
    if 4 in types or any("Type" in c for c in cons):
        types = sorted(set(types) | {0, 1, 2, 3, 4})
    mode = draw(st.sampled_from(["STRICT", "STRICT", "LOOSE"]))
    body = ",\n  ".join([TYPES[i] for i in sorted(types)] + cons)
    return f"CREATE GRAPH TYPE g {mode} {{\n  {body}\n}}"


LABELS = st.sampled_from([["P"], ["P"], ["Q"], ["P", "Q"], ["F"], [], ["X"]])
VALUES = st.one_of(st.none(), st.integers(-2, 3),
                   st.sampled_from([2 ** 31 - 1, 2 ** 31, -2 ** 31, -2 ** 31 - 1, 1.0, 2.5, True,
                                    "a", "b", datetime.date(2020, 1, 1)]))
PROPS = st.fixed_dictionaries({}, optional={"id": VALUES, "name": st.sampled_from(["a", "b", 1]),
                                            "x": VALUES, "d": VALUES, "w": VALUES})


def _props(draw):
    return {k: v for k, v in draw(PROPS).items() if v is not None}


def _op(draw, tx, nodes, edges):
    kind = draw(st.sampled_from(["node", "node", "node", "edge", "edge", "update", "labels",
                                 "del_edge", "del_node"]))
    if kind == "node" or not nodes:
        nodes.append(tx.create_node(draw(LABELS), _props(draw)))
    elif kind == "edge":
        a, b = draw(st.sampled_from(nodes)), draw(st.sampled_from(nodes))
        props = {"since": draw(st.sampled_from([1, 2, 2.5]))} if draw(st.booleans()) else {}
        edges.append(tx.create_edge(a, draw(st.sampled_from(["K", "L", ["K", "L"]])), b, props))
    elif kind == "update":
        tx.update_node(draw(st.sampled_from(nodes)), set={draw(st.sampled_from(["id", "name", "x"])): draw(VALUES)})
    elif kind == "labels":
        add = draw(LABELS)      # a label both added and removed is refused (InterfaceError)
        tx.update_node(draw(st.sampled_from(nodes)), add_labels=add,
                       remove_labels=[x for x in draw(LABELS) if x not in add])
    elif kind == "del_edge" and edges:
        e = edges.pop(draw(st.integers(0, len(edges) - 1)))
        try:
            tx.delete_edge(e)
        except lpgdb.NotFoundError:
            pass
    elif kind == "del_node":
        tx.delete_node(nodes.pop(draw(st.integers(0, len(nodes) - 1))), detach=True)


@pytest.mark.parametrize("grouped", [False, True], ids=["row by row", "grouped in C"])
def test_fast_path_agrees_with_the_general_validator(grouped):
    """The written nodes checked one by one, or by group in C (from GROUPED_FROM nodes on)."""
    old_from = fastpath.GROUPED_FROM
    fastpath.GROUPED_FROM = 1 if grouped else 10 ** 9
    try:
        _agree()
    finally:
        fastpath.GROUPED_FROM = old_from


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph_types(), st.data())
def _agree(ddl, data):
    _check(ddl, data)


def _check(ddl, data):
    db = lpgdb.connect(":memory:")
    db.set_schema(ddl)
    gt = db.schema
    compiled = fastpath.checker(gt) is not None
    nodes, edges = [], []
    for _ in range(data.draw(st.integers(1, 6))):
        tx = db.transaction()
        keep_n, keep_e = list(nodes), list(edges)
        for _ in range(data.draw(st.integers(1, 5))):
            _op(data.draw, tx, nodes, edges)
        puts = []
        tx._ops(puts)
        ws = tx._write_set(puts)
        general = validate.validate_commit(gt, tx, ws, fast=False)
        fast = fastpath.accepts(gt, tx, ws)
        if fast:
            assert general == [], (ddl, general)
        if compiled:
            assert fast == (general == []), (ddl, general)
        try:
            tx.commit()
        except SchemaViolationError as e:
            assert e.violations == general
            nodes, edges = keep_n, keep_e
        else:
            assert general == []
    db.close()


W8_SCHEMA = """CREATE GRAPH TYPE socialGraphType STRICT {
  (personType: Person {id INT64, name STRING, age INT64}),
  (:personType)-[knowsType: KNOWS {since INT64}]->(:personType),
  FOR (x:personType) EXCLUSIVE MANDATORY SINGLETON x.id
}"""


def test_the_w8_commits_are_decided_by_the_fast_path(monkeypatch):
    """W8's transactions (persons, then KNOWS edges between persons found by key) never reach
    the general validator; a duplicate key, a wrong type and a bad endpoint do, and are refused
    with its violations."""
    db = lpgdb.connect(":memory:")
    db.create_index("Person", "id")
    db.set_schema(W8_SCHEMA)
    general = []
    real = validate._Validator
    monkeypatch.setattr(validate, "_Validator", lambda *a, **k: general.append(1) or real(*a, **k))
    with db.transaction() as tx:
        for i in range(100):
            tx.create_node("Person", {"id": i, "name": f"p{i}", "age": 30})
    with db.transaction() as tx:
        for i in range(99):
            a, b = tx.key_lookup("Person", "id", i)[0], tx.key_lookup("Person", "id", i + 1)[0]
            tx.create_edge(a, "KNOWS", b, {"since": 2020})
    assert general == []
    for bad in ({"id": 5, "name": "x", "age": 1}, {"id": 500, "name": "x", "age": 1.5}):
        try:
            with db.transaction() as tx:
                tx.create_node("Person", bad)
        except SchemaViolationError as e:
            assert [v.kind for v in e.violations] == (["key_duplicate"] if bad["id"] == 5 else ["property_type"])
        else:
            raise AssertionError("not refused")
    try:
        with db.transaction() as tx:
            tx.create_edge(tx.key_lookup("Person", "id", 1)[0], "KNOWS", tx.create_node("Person", {"id": 7, "name": "y", "age": 2}), {})
    except SchemaViolationError as e:
        assert {v.kind for v in e.violations} == {"missing_property", "key_duplicate"}
    assert len(general) == 3
    assert db.check() == []
    db.close()


def test_a_key_index_kept_like_a_user_index_answers_lookups(tmp_path):
    """The W8 schema's KEY index holds exactly what a user index on Person(id) would, so the
    engine reads its keys from the stored maps (KeySpecs.plain): lookups by equal keys (3 and
    3.0) find the node, before and after a checkpoint and a reopen, and a node without the label
    or the key is not in it."""
    import lpgdb.schema as S
    assert S.key_specs(W8_SCHEMA).plain == {S.key_specs(W8_SCHEMA)[0].name: ("Person", "id")}
    path = str(tmp_path / "g.lpg")
    db = lpgdb.connect(path, create=True)
    assert S.key_specs(W8_SCHEMA.replace("STRICT", "LOOSE")).plain == {}   # a type scope: STRICT only
    db.set_schema(W8_SCHEMA)
    with db.transaction() as tx:
        ids = [tx.create_node("Person", {"id": i, "name": "n", "age": 1}) for i in range(5)]
    for reopen in (False, True):
        with db.snapshot() as s:
            assert s.key_lookup("Person", "id", 3) == [ids[3]]
            assert s.key_lookup("Person", "id", 3.0) == [ids[3]]
            assert s.key_lookup("Person", "id", 9) == []
        if not reopen:
            db.checkpoint()
            db.close()
            db = lpgdb.connect(path)
    with db.transaction() as tx:
        tx.update_node(ids[3], set={"id": 30})
    with db.snapshot() as s:
        assert s.key_lookup("Person", "id", 3) == [] and s.key_lookup("Person", "id", 30) == [ids[3]]
    db.close()


# key values: the INT64 W8 declares under STRICT (which refuses others), and under LOOSE
# values equal to them of other kinds (1.0, -0.0) or not numbers at all
KEYS = {"STRICT": st.integers(0, 30),
        "LOOSE": st.one_of(st.integers(0, 6), st.sampled_from([1.0, 2.0, 2.5, -0.0, "a", True]))}


@pytest.mark.parametrize("mode", ["STRICT", "LOOSE"])
def test_the_key_check_in_one_native_call_agrees_with_the_general_validator(tmp_path, monkeypatch, mode):
    """The grouped fast path (a commit's new nodes as the record's one column run, their keys
    compared and probed in one native call; new edges typed by group) against the general
    validator, on W8's graph type: keys repeated within a transaction, equal across kinds
    (1 = 1.0, 0 = -0.0), held by committed nodes, moved by updates, freed by deletes and
    taken again in the same transaction, across checkpoints and reopens, with a snapshot from
    before the latest commits held open."""
    monkeypatch.setattr(fastpath, "GROUPED_FROM", 1)
    ddl = W8_SCHEMA.replace("STRICT", mode)
    run = [0]

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                     HealthCheck.function_scoped_fixture])
    @given(st.data())
    def agree(data):
        run[0] += 1
        path = str(tmp_path / f"g{run[0]}.lpg")
        db = lpgdb.connect(path, create=True)
        if data.draw(st.booleans()):
            db.create_index("Person", "id")
        db.set_schema(ddl)
        gt = db.schema
        nodes, held = [], None
        for _ in range(data.draw(st.integers(1, 8))):
            step = data.draw(st.sampled_from(["tx", "tx", "tx", "checkpoint", "reopen", "snapshot"]))
            if step == "checkpoint":
                db.checkpoint()
                continue
            if step == "reopen":
                if held is not None:
                    held.close()
                    held = None
                db.close()
                db = lpgdb.connect(path)
                gt = db.schema
                continue
            if step == "snapshot":
                if held is not None:
                    held.close()
                held = db.snapshot()
                continue
            tx = db.transaction()
            keep = list(nodes)
            # mostly the shapes the grouped path takes: new nodes only, or new edges only
            shape = data.draw(st.sampled_from(["nodes", "nodes", "edges", "edges", "mixed"])) if nodes else "nodes"
            for _ in range(data.draw(st.integers(1, 8))):
                kind = data.draw(st.sampled_from(
                    {"nodes": ["node"] * 15 + ["bad"], "edges": ["edge"],
                     "mixed": ["node", "bad", "update", "delete", "edge"]}[shape]))
                if kind in ("node", "bad") or not nodes:
                    props = {"id": data.draw(KEYS[mode]), "name": "n", "age": 1}
                    if kind == "bad":
                        props[data.draw(st.sampled_from(["age", "name", "extra"]))] = 2.5
                    if data.draw(st.sampled_from(["id"] * 19 + ["no id"])) == "no id":
                        del props["id"]
                    nodes.append(tx.create_node("Person", props))
                elif kind == "update":
                    tx.update_node(data.draw(st.sampled_from(nodes)), set={"id": data.draw(KEYS[mode])})
                elif kind == "delete":
                    tx.delete_node(nodes.pop(data.draw(st.integers(0, len(nodes) - 1))), detach=True)
                else:
                    since = data.draw(st.sampled_from([2020, 2021, 2022, "x"]))
                    tx.create_edge(data.draw(st.sampled_from(nodes)), "KNOWS", data.draw(st.sampled_from(nodes)),
                                   {"since": since})
            puts, node_runs, edge_runs = [], [], []
            tx._ops(puts, node_runs, edge_runs)
            ws = tx._write_set(puts, node_runs, edge_runs)
            general = validate.validate_commit(gt, tx, ws, fast=False)
            fast = fastpath.accepts(gt, tx, ws)
            assert fast == (general == []), (ddl, general)
            try:
                tx.commit()
            except SchemaViolationError as e:
                assert e.violations == general
                nodes = keep
            else:
                assert general == []
        assert db.check() == []
        if held is not None:
            held.close()
        db.close()

    agree()
