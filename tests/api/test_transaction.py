"""Transactions and snapshots through the public API (API.md)."""
import datetime as dt

import pytest

import lpgdb


def _fraud(db):
    with db.transaction() as tx:
        a = tx.create_node(["Person", "Customer"], {"name": "Jane", "customerId": 1})
        b = tx.create_node("Account", {"iban": "DE01"})
        e = tx.create_edge(a, "Owns", b, {"since": dt.date(2021, 3, 5)})
    return a, b, e


def test_create_and_read_back(db):
    a, b, e = _fraud(db)
    with db.snapshot() as s:
        n = s.node(a)
        assert n.labels == frozenset({"Person", "Customer"})
        assert n["name"] == "Jane" and n.properties["customerId"] == 1
        ed = s.edge(e)
        assert (ed.src, ed.dst, ed.label, ed["since"]) == (a, b, "Owns", dt.date(2021, 3, 5))
        assert s.neighbors(a) == [b] and s.neighbors(b, "in") == [a] and s.neighbors(b) == []
        assert s.neighbors(a, "both") == [b]
        assert s.degree(a) == 1 and s.degree(a, "in") == 0 and s.degree(b, "both") == 1
        assert s.degree(a, "out", "Nope") == 0
        assert [x.id for x in s.edges_of(b, "in", "Owns")] == [e]
        assert s.node_count() == 2 and s.node_count("Person") == 1 and s.node_count("Nope") == 0
        assert s.edge_count() == 1 and s.edge_count("Owns") == 1
        assert [x.id for x in s.nodes("Account")] == [b]
        assert [x.id for x in s.find_nodes("Person", name="Jane")] == [a]
        assert list(s.find_nodes("Person", name="Bob")) == []


def test_read_your_writes_and_rollback(db):
    a, b, e = _fraud(db)
    tx = db.transaction()
    c = tx.create_node("Account", {"iban": "DE02"})
    e2 = tx.create_edge(a, "Owns", c)
    tx.delete_edge(e)
    tx.update_node(a, set={"name": "Jane Doe", "customerId": None}, add_labels=["VIP"])
    assert sorted(tx.neighbors(a)) == [c]
    assert tx.node(a)["name"] == "Jane Doe" and "customerId" not in tx.node(a).properties
    assert "VIP" in tx.node(a).labels
    assert tx.node_count("Account") == 2 and tx.edge_count() == 1
    assert [x.id for x in tx.nodes("VIP")] == [a]
    tx.rollback()
    with pytest.raises(lpgdb.InterfaceError):
        tx.node(a)
    with db.snapshot() as s:
        assert s.node(a)["name"] == "Jane" and s.node_count() == 2
        assert s.neighbors(a) == [b]
        with pytest.raises(lpgdb.NotFoundError):
            s.edge(e2)


def test_exception_in_with_rolls_back(db):
    with pytest.raises(RuntimeError):
        with db.transaction() as tx:
            tx.create_node("A")
            raise RuntimeError("boom")
    assert db.snapshot().node_count() == 0


def test_snapshot_is_isolated_from_later_commits(db):
    a, b, e = _fraud(db)
    s = db.snapshot()
    with db.transaction() as tx:
        tx.update_node(a, set={"name": "New"})
        tx.delete_node(b, detach=True)
        tx.create_node("Late")
    assert s.node(a)["name"] == "Jane" and s.node(b)["iban"] == "DE01"
    assert s.edge_count() == 1 and s.node_count() == 2 and s.neighbors(a) == [b]
    s.close()
    with db.snapshot() as s2:
        assert s2.node(a)["name"] == "New" and s2.node_count() == 2 and s2.edge_count() == 0


def test_delete_node_with_edges_needs_detach(db):
    a, b, e = _fraud(db)
    with db.transaction() as tx:
        with pytest.raises(lpgdb.IntegrityError):
            tx.delete_node(a)
        tx.delete_node(a, detach=True)
        assert tx.edge_count() == 0
    with db.snapshot() as s:
        with pytest.raises(lpgdb.NotFoundError):
            s.node(a)
        assert s.edge_count() == 0 and s.degree(b, "in") == 0


def test_errors_are_typed_and_change_nothing(db):
    a, b, e = _fraud(db)
    with db.transaction() as tx:
        with pytest.raises(lpgdb.NotFoundError):
            tx.create_edge(a, "Owns", 999)
        with pytest.raises(KeyError):
            tx.node(12345)
        with pytest.raises(lpgdb.InterfaceError):
            tx.node("x")
        with pytest.raises(lpgdb.DataError):
            tx.create_node("A", {"x": object()})
        with pytest.raises(lpgdb.DataError):
            tx.create_node("A", {"x": 2 ** 70})
        with pytest.raises(lpgdb.InterfaceError):
            tx.create_node(5)
        with pytest.raises(lpgdb.InterfaceError):
            tx.neighbors(a, "sideways")
        with pytest.raises(lpgdb.NotFoundError):
            tx.update_edge(999, set={"x": 1})
    with db.snapshot() as s:
        assert s.node_count() == 2 and s.edge_count() == 1


def test_finished_transaction_refuses_calls(db):
    tx = db.transaction()
    tx.create_node("A")
    tx.commit()
    for call in (tx.commit, tx.rollback, lambda: tx.create_node("B"), lambda: tx.node(0)):
        with pytest.raises(lpgdb.InterfaceError):
            call()
    assert db.snapshot().node_count() == 1


_ITERATORS = {
    "nodes": lambda r, a: r.nodes(),
    "edges": lambda r, a: r.edges("Owns"),
    "find_nodes": lambda r, a: r.find_nodes("Person", name="Jane"),
    "edges_of": lambda r, a: r.edges_of(a, "both"),
}


@pytest.mark.parametrize("how", ["commit", "rollback", "failed commit", "closed snapshot"])
@pytest.mark.parametrize("name", sorted(_ITERATORS))
def test_iterators_of_a_finished_reader_refuse_at_call_time(db, how, name):
    # API.md: after commit, rollback or a failed commit "any call -> InterfaceError": a read
    # that returns an iterator checks when it is called, not at the iterator's first next(),
    # and one taken before the end refuses to go on (it would read a view that moved on)
    a, _b, _e = _fraud(db)
    db.set_schema("CREATE GRAPH TYPE g STRICT { (PT :Person OPEN {name STRING, OPEN}), "
                  "(AT :Account {iban STRING}), (:PT)-[OT :Owns {since DATE}]->(:AT) }")
    call = _ITERATORS[name]
    r = db.snapshot() if how == "closed snapshot" else db.transaction()
    live = call(r, a)
    if how == "closed snapshot":
        r.close()
    elif how == "failed commit":
        r.create_node("Person", {"name": 5})
        with pytest.raises(lpgdb.SchemaViolationError):
            r.commit()
    else:
        getattr(r, how)()
    with pytest.raises(lpgdb.InterfaceError):
        call(r, a)
    with pytest.raises(lpgdb.InterfaceError):
        next(live)


def test_update_refuses_a_property_or_label_both_set_and_removed(db):
    # update_node(set={"x": 5}, remove=["x"]) kept x=5 while add_labels/remove_labels of one label
    # removed it: a contradiction either way, so it is refused and the element is unchanged
    a, _b, e = _fraud(db)
    with db.transaction() as tx:
        for call in (lambda: tx.update_node(a, set={"name": "X"}, remove=["name"]),
                     lambda: tx.update_node(a, add_labels=["VIP"], remove_labels=("VIP",)),
                     lambda: tx.update_edge(e, set={"since": dt.date(2020, 1, 1)}, remove={"since"})):
            with pytest.raises(lpgdb.InterfaceError, match="both"):
                call()
        tx.update_node(a, set={"name": None}, remove=["name"])      # both remove it: no contradiction
        assert "name" not in tx.node(a)
    with db.snapshot() as s:
        assert "VIP" not in s.node(a).labels and s.edge(e)["since"] == dt.date(2021, 3, 5)


def test_one_write_transaction_per_thread(db):
    tx = db.transaction()
    with pytest.raises(lpgdb.InterfaceError):
        db.transaction()
    tx.rollback()
    db.transaction().rollback()


def test_edge_label_sets(db):
    with db.transaction() as tx:
        a, b = tx.create_node("N"), tx.create_node("N")
        e0 = tx.create_edge(a, set(), b)
        e2 = tx.create_edge(a, {"X", "Y"}, b)
    with db.snapshot() as s:
        assert s.edge(e0).labels == frozenset() and s.edge(e0).label is None
        assert s.edge(e2).labels == frozenset({"X", "Y"}) and s.edge(e2).label is None
        assert s.neighbors(a, "out", "X") == [b] and s.degree(a) == 2 and s.edge_count("Y") == 1


def test_self_loop_counted_once_for_both(db):
    with db.transaction() as tx:
        a = tx.create_node("N")
        e = tx.create_edge(a, "L", a)
        assert [x.id for x in tx.edges_of(a, "both")] == [e]
    with db.snapshot() as s:
        assert s.degree(a, "both") == 1 and s.degree(a, "out") == 1 and s.degree(a, "in") == 1


VALUES = [True, False, 0, -1, 2 ** 63 - 1, -(2 ** 63), 2 ** 64 - 1, 1.5, float("inf"), "", "héllo ✓",
          b"\x00\xff", dt.date(1999, 12, 31), dt.time(13, 14, 15, 16), dt.datetime(2020, 1, 2, 3, 4, 5, 6),
          dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
          dt.time(1, 2, tzinfo=dt.timezone.utc), dt.timedelta(days=-3, seconds=5), [1, 2, 3], ["a"], []]


def test_all_value_types_round_trip_through_disk(db_path):
    with lpgdb.connect(db_path) as db:
        with db.transaction() as tx:
            ids = [tx.create_node("V", {"v": v}) for v in VALUES]
    with lpgdb.connect(db_path) as db, db.snapshot() as s:
        for i, v in zip(ids, VALUES):
            got = s.node(i)["v"]
            assert got == v and type(got) is type(v)


def test_closed_database(db_path):
    db = lpgdb.connect(db_path)
    s = db.snapshot()
    db.close()
    db.close()  # idempotent
    with pytest.raises(lpgdb.InterfaceError):
        db.transaction()
    with pytest.raises(lpgdb.InterfaceError):
        s.node_count()


def test_user_index_used_by_find_nodes(db):
    with db.transaction() as tx:
        ids = [tx.create_node("Person", {"id": i, "name": f"p{i}"}) for i in range(50)]
    db.create_index("Person", "id")
    with db.snapshot() as s:
        assert s.key_lookup("Person", "id", 7) == [ids[7]]
        assert s.key_lookup("Person", "id", 7.0) == [ids[7]]  # numeric key equality
        assert s.key_lookup("Person", "name", "p7") is None
        assert [n.id for n in s.find_nodes("Person", id=7)] == [ids[7]]
    with db.transaction() as tx:
        tx.update_node(ids[7], set={"id": 1000})
        assert [n.id for n in tx.find_nodes("Person", id=1000)] == [ids[7]]
        assert list(tx.find_nodes("Person", id=7)) == []
    with db.snapshot() as s:
        assert s.key_lookup("Person", "id", 1000) == [ids[7]] and s.key_lookup("Person", "id", 7) == []
    assert db.indexes() == [("Person", ("id",))]


def test_fast_paths_see_the_transactions_own_writes(db):
    a, b, e = _fraud(db)
    with db.transaction() as tx:
        c = tx.create_node("Account", {"iban": "DE09"})
        m = tx.create_edge(b, "Moves", c)
        tx.delete_edge(e)
        d = tx.create_edge(a, "Owns", c)
        assert sorted(zip(*tx.expand([a, b], "out"))) == sorted([(c, d, 0), (c, m, 1)])
        assert tx.expand([c], "in", "Owns")[0] == [a]
        assert tx.count_reach(a, 1) == 1 and tx.count_reach(b, 1, "both") == 1
    with db.snapshot() as s:
        assert s.expand([a], "out")[0] == [c] and s.count_reach(a, 1) == 1


def test_readers_in_other_threads_never_see_a_torn_or_missing_version(db):
    import threading
    with db.transaction() as tx:
        a = tx.create_node("Counter", {"v": 0})
        b = tx.create_node("Counter", {"v": 0})
    stop = threading.Event()
    problems = []

    def reader():
        last = -1
        while not stop.is_set():
            with db.snapshot() as s:
                va, vb = s.node(a)["v"], s.node(b)["v"]   # NotFoundError would be a bug
                if va != vb or va < last:
                    problems.append((va, vb, last))
                last = va

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(1, 150):
            with db.transaction() as tx:     # both updated in one commit: never seen apart
                tx.update_node(a, set={"v": i})
                tx.update_node(b, set={"v": i})
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert problems == []


def test_snapshot_taken_while_a_commit_waits_for_its_fsync(db):
    # White-box: stop the commit path between "logged and applied" and "durable" (the window
    # in which other threads take snapshots during a group fsync).
    with db.transaction() as tx:
        a = tx.create_node("N", {"v": 1})
    tx = db.transaction()
    tx.update_node(a, set={"v": 2})
    lsn = db._engine.commit(tx._ops())
    tx._finish("committed")
    with db.snapshot() as s:
        assert s.node(a)["v"] == 1          # not durable yet: not visible, and still readable
    db._engine.make_durable(lsn)
    with db.snapshot() as s:
        assert s.node(a)["v"] == 2


def test_a_failing_query_leaves_nothing_of_itself_in_the_transaction(db):
    with db.transaction() as tx:
        a = tx.create_node("A", {"k": 1})
        tx.execute("CREATE (:B {k: 1})")
        before = (sorted(n.id for n in tx.nodes()), [e.id for e in tx.edges()])
        # writes, then fails on a runtime error half way through its rows
        with pytest.raises(lpgdb.DataError):
            tx.execute("UNWIND [1, 2, 0, 4] AS i MATCH (a:A) CREATE (a)-[:R]->(:C {v: 10 / i}) "
                       "SET a.k = a.k + 1 WITH a, i RETURN toInteger('x') + i")
        with pytest.raises(lpgdb.OperationalError):            # a limit: the same
            tx.execute("MATCH (a:A) SET a.k = 5 DETACH DELETE a WITH 1 AS x UNWIND range(1, 1000000000) AS y "
                       "CREATE (:D)", timeout=0.05)
        assert (sorted(n.id for n in tx.nodes()), [e.id for e in tx.edges()]) == before
        assert tx.node(a)["k"] == 1
        new = tx.create_node("E")                             # ids continue where they were
        assert new == max(before[0]) + 1
        tx.execute("MATCH (a:A) CREATE (a)-[:R]->(:C)")       # the transaction goes on
    with db.snapshot() as s:
        assert sorted(sorted(n.labels)[0] for n in s.nodes()) == ["A", "B", "C", "E"]
        assert s.node(a)["k"] == 1 and s.edge_count("R") == 1
