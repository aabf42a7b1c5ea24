"""A user index and a schema KEY index over the same nodes and key are one index (issue 11)."""
import lpgdb

KEY = "CREATE GRAPH TYPE g STRICT { (p: Person {id INT64, OPTIONAL name STRING}), FOR (x:p) EXCLUSIVE MANDATORY SINGLETON x.id }"
OTHER = "CREATE GRAPH TYPE g STRICT { (p: Person {id INT64, OPTIONAL name STRING}) }"


def held(db):
    """(maintained index ids, user index -> (id, shared)) of the writer's catalog."""
    cat = db._engine.state.catalog
    return ({s.index_id for s in cat.all_specs()},
            {k: (u.index_id, u.shared) for k, u in cat.user_indexes.items()})


def ids_of(db, v):
    with db.snapshot() as s:
        return s.key_lookup("Person", "id", v)


def test_user_index_and_key_share_one_index_across_changes_and_reopen(tmp_path):
    path = str(tmp_path / "db")
    db = lpgdb.connect(path)
    with db.transaction() as tx:
        a = tx.create_node("Person", {"id": 1, "name": "a"})
    db.create_index("Person", "id")                      # no schema yet: its own entries
    own = held(db)[1][("Person", ("id",))]
    assert own[1] is False
    db.set_schema(KEY)                                   # now the KEY index serves it
    maintained, users = held(db)
    assert users[("Person", ("id",))][1] is True and len(maintained) == 1
    assert users[("Person", ("id",))][0] in maintained and own[0] not in maintained
    with db.transaction() as tx:
        b = tx.create_node("Person", {"id": 2})
    assert ids_of(db, 1) == [a] and ids_of(db, 2) == [b]
    assert ("Person", ("id",)) in db.indexes() and [i.kind for i in db.indexes()] == ["user", "schema"]
    db.close()
    db = lpgdb.connect(path)                             # the manifest keeps the sharing
    assert held(db)[1][("Person", ("id",))][1] is True and ids_of(db, 2) == [b]
    with db.transaction() as tx:
        c = tx.create_node("Person", {"id": 3})
    db.set_schema(OTHER)                                 # no KEY any more: its own entries again
    maintained, users = held(db)
    assert users[("Person", ("id",))][1] is False and users[("Person", ("id",))][0] in maintained
    assert [ids_of(db, v) for v in (1, 2, 3)] == [[a], [b], [c]]
    db.checkpoint()
    db.close()
    db = lpgdb.connect(path)
    assert [ids_of(db, v) for v in (1, 2, 3)] == [[a], [b], [c]]
    db.set_schema(KEY)
    db.drop_index("Person", "id")                        # dropping the shared user index keeps the KEY
    assert held(db)[1] == {} and len(held(db)[0]) == 1
    with db.snapshot() as s:
        assert s.find_nodes("Person", id=3) and [n.id for n in s.find_nodes("Person", id=3)] == [c]
    db.create_index("Person", "id")                      # created while the KEY exists: shared at once
    assert held(db)[1][("Person", ("id",))][1] is True and ids_of(db, 3) == [c]
    db.verify()
    db.close()
