"""A snapshot's one-call point reads (storage/view.py ``PinnedReads``: ``key_lookup`` and
``degree``) against the general read path of a transaction on the same committed graph, for
base rows and nodes written since the checkpoint alike, and for the arguments the one-call path
hands on (values that are not an int or a str, ints past int64, strings that are not UTF-8,
several nodes under a key, no user index, labels without edges, bad directions, ids that are not
nodes); and the errors after a snapshot or its database is closed.  (tests/api/
test_snapshot_fast.py checks the common calls against a model through random histories.)"""
import pytest

import lpgdb

KEYS = [0, 1, 2, -1, 1.0, 2.5, True, False, 2**62, 2**63 - 1, 2**63, -2**63, -2**63 - 1, 2**70,
        "a", "é", "", "zz", "\ud800", None, float("nan"), b"a", [1], (1,)]
IDS = [0, 1, 3, 7, 99, -1, 2**40, 2**64, 2**70, True, "1", None, 1.0]
DIRECTIONS = ["out", "in", "both", "sideways", None]
LABELS = [None, "KNOWS", "LIKES", "NONE", 5, ["KNOWS"]]


def _outcome(fn, *args):
    """What a read returns, or the type of the error it raises."""
    try:
        return ("ok", fn(*args))
    except lpgdb.Error as e:
        return ("error", type(e).__name__)


def _graph(db, checkpoint):
    """Eight P nodes (keys 0, 1 twice, 2**62, "a", "é", 2**63 - 1 and one with no key), two Q
    nodes, KNOWS and LIKES edges; with ``checkpoint`` the first half is checkpointed and the rest
    (plus an update of a checkpointed node) stays in the overlay."""
    keys = [0, 1, 1, 2**62, "a", "é", 2**63 - 1, None]
    with db.transaction() as tx:
        ids = [tx.create_node("P", {} if k is None else {"k": k, "name": f"n{i}"}) for i, k in enumerate(keys[:4])]
        ids += [tx.create_node("Q", {"k": 1})]
        for a, b in zip(ids, ids[1:]):
            tx.create_edge(a, "KNOWS", b)
        tx.create_edge(ids[0], "LIKES", ids[0])
    if checkpoint:
        db.checkpoint()
    with db.transaction() as tx:
        ids += [tx.create_node("P", {} if k is None else {"k": k}) for k in keys[4:]]
        ids += [tx.create_node("Q", {"k": "a"})]
        tx.update_node(ids[1], set={"name": "updated"})        # an overlay version of a base row
        tx.create_edge(ids[5], "KNOWS", ids[1])
    return ids


@pytest.mark.parametrize("checkpoint", [False, True])
@pytest.mark.parametrize("index", [True, False])
def test_key_lookup_agrees_with_the_general_path(tmp_path, checkpoint, index):
    db = lpgdb.connect(str(tmp_path / "db"))
    _graph(db, checkpoint)
    if index:                      # (a schema KEY index: tests/api/test_key_indexes.py)
        db.create_index("P", "k")
    for reopen in (False, True):
        if reopen:                 # the data files are opened lazily, at the first read
            db.close()
            db = lpgdb.connect(str(tmp_path / "db"))
        with db.snapshot() as s, db.transaction() as tx:
            for k in KEYS:
                got = _outcome(s.key_lookup, "P", "k", k)
                assert got == _outcome(tx.key_lookup, "P", "k", k), (k, got)
                if got[0] == "ok" and got[1]:
                    assert [s.node(i) for i in got[1]] == [tx.node(i) for i in got[1]]
            for label, prop in [("P", "name"), ("Q", "k"), ("X", "k"), (5, "k"), ("P", None), ([1], "k")]:
                assert _outcome(s.key_lookup, label, prop, 1) == _outcome(tx.key_lookup, label, prop, 1)
    db.close()


@pytest.mark.parametrize("checkpoint", [False, True])
def test_degree_agrees_with_the_general_path(tmp_path, checkpoint):
    db = lpgdb.connect(str(tmp_path / "db"))
    _graph(db, checkpoint)
    with db.snapshot() as s, db.transaction() as tx:
        seen = set()
        for nid in IDS + [s.node(0)]:
            for direction in DIRECTIONS:
                for label in LABELS:
                    got = _outcome(s.degree, nid, direction, label)
                    assert got == _outcome(tx.degree, nid, direction, label), (nid, direction, label, got)
                    seen.add(got[0] if got[0] == "error" else got[1] > 0)
        assert seen == {"error", True, False}
        assert s.degree(1) == tx.degree(1) == 1 and s.degree(1, "in") == 2
    db.close()


def test_point_reads_after_close_raise_interface_error(tmp_path):
    db = lpgdb.connect(str(tmp_path / "db"))
    db.create_index("P", "k")
    _graph(db, True)
    reads = [lambda s: s.key_lookup("P", "k", 0), lambda s: s.key_lookup("P", "k", 2.5),
             lambda s: s.degree(0), lambda s: s.degree(0, "in", "NONE"), lambda s: s.node(0)]
    with db.snapshot() as s:
        assert [r(s) for r in reads] == [[0], [], 2, 0, s.node(0)]
    for r in reads:
        with pytest.raises(lpgdb.InterfaceError):
            r(s)
    s = db.snapshot()
    s.key_lookup("P", "k", 0)
    db.close()
    for r in reads:
        with pytest.raises(lpgdb.InterfaceError):
            r(s)
