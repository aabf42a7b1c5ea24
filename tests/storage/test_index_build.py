"""create_index over stored nodes (GraphState._build + KeyTable): every layout of the label's node
ids (dense, with gaps, sparse), keys C reads and keys Python computes, nodes written in the same
transaction, before and after a checkpoint and a reopen; answers compared with a scan."""
import math

import pytest

import lpgdb


def _expect(db, label, prop):
    out = {}
    with db.snapshot() as s:
        for n in s.nodes(label):
            v = n.get(prop)
            if v is not None:
                out.setdefault(repr(v), set()).add(n.id)
    return out


def _check(db, label, prop, values):
    want = _expect(db, label, prop)
    with db.snapshot() as s:
        for v in values:
            got = {n.id for n in s.find_nodes(label, **{prop: v})}
            assert got == want.get(repr(v), set()), (v, got, want.get(repr(v)))


@pytest.mark.parametrize("layout", ["dense", "gaps", "sparse"])
def test_create_index_on_stored_nodes_answers_like_a_scan(tmp_path, layout):
    path = str(tmp_path / "db")
    db = lpgdb.connect(path)
    every = {"dense": 1, "gaps": 2, "sparse": 7}[layout]
    rows = []
    for i in range(3000):
        label = "A" if i % every == 0 else "B"
        v = ("k%d" % (i % 50)) if i % 3 else i % 50          # str keys and int keys
        rows.append((label, {"x": v, "i": i}))
    with db.transaction() as tx:
        for label, props in rows:
            tx.create_node(label, props)
    db.checkpoint()                                          # the nodes are in base files
    with db.transaction() as tx:                             # and some only in the overlay
        for i in range(3000, 3100):
            tx.create_node("A", {"x": [1, 2] if i % 2 else 2.5, "i": i})   # keys Python computes
    values = ["k%d" % j for j in range(50)] + list(range(50)) + [[1, 2], 2.5, "none"]
    with db.transaction() as tx:     # nodes written in the transaction that creates the index
        a = tx.create_node("A", {"x": "k7", "i": -1})
        b = tx.create_node("A", {"x": "k8", "i": -2})
        tx.update_node(1, set={"x": "k9"})
        tx._log_index("A", ("x",), True)                     # what db.create_index logs
    assert ("A", ("x",)) in db.indexes()
    _check(db, "A", "x", values)
    db.create_index("A", "i")          # no writes in its transaction: keys installed by chunks
    db.create_index("B", "x")
    _check(db, "A", "i", list(range(-2, 3100, 7)))
    _check(db, "B", "x", values)
    with db.transaction() as tx:                             # the index follows later writes
        tx.update_node(a, set={"x": "k9"})
        tx.delete_node(b)
    for _ in range(2):
        _check(db, "A", "x", values)
        _check(db, "A", "i", list(range(-2, 3100, 7)))
        _check(db, "B", "x", values)
        db.checkpoint()
    db.close()
    db = lpgdb.connect(path)
    _check(db, "A", "x", values)
    _check(db, "A", "i", list(range(-2, 3100, 7)))
    db.close()


def test_create_index_over_a_nan_is_refused_whole(tmp_path):
    db = lpgdb.connect(str(tmp_path / "db"))
    with db.transaction() as tx:
        for i in range(100):
            tx.create_node("A", {"x": float(i)})
        tx.create_node("A", {"x": math.nan})
    db.checkpoint()
    with pytest.raises(lpgdb.DataError, match="NaN|nan"):
        db.create_index("A", "x")
    assert not [ix for ix in db.indexes() if ix[0] == "A"]
    db.create_index("A", "y")                                # the handle is fine
    db.close()


def test_writes_to_checkpointed_nodes_under_an_index_made_after_the_checkpoint(tmp_path):
    # The index's entries for base nodes live in the overlay (it has no base files yet): an
    # update keeping the key, changing it, and a delete must move those entries, not add a
    # second one (that failed to apply: "Store.key_put: already exists", a bricked commit).
    path = str(tmp_path / "db")
    db = lpgdb.connect(path)
    with db.transaction() as tx:
        a, b, c = (tx.create_node("P", {"k": k}) for k in ("a", "b", "c"))
    db.checkpoint()
    for remake in (False, True):
        if remake:
            db.drop_index("P", "k")
        db.create_index("P", "k")
        with db.transaction() as tx:
            tx.update_node(a, set={"k": "a", "x": remake})       # same key
            tx.update_node(b, set={"k": "b2" if not remake else "b"})
        with db.snapshot() as s:
            assert s.key_lookup("P", "k", "a") == [a]
            assert s.key_lookup("P", "k", "b2") == ([b] if not remake else [])
            assert s.key_lookup("P", "k", "b") == ([] if not remake else [b])
        db.checkpoint()
        if not remake:
            db.drop_index("P", "k")
    with db.transaction() as tx:
        tx.delete_node(c)
    db.close()
    with lpgdb.connect(path) as db, db.snapshot() as s:
        assert (s.key_lookup("P", "k", "a"), s.key_lookup("P", "k", "b"), s.key_lookup("P", "k", "c")) == ([a], [b], [])
        assert s.node(a)["x"] is True
