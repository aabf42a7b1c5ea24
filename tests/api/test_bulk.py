"""db.bulk_load: the columnar load path must give exactly what row-by-row transactions give."""
import pytest

import lpgdb


def _load(db):
    nids, _ = db.bulk_load(nodes=[("Person", {"id": i, "name": f"p{i}"}) for i in range(100)]
                           + [(["Person", "VIP"], {"id": 100}), ((), {})])
    _, eids = db.bulk_load(edges=[(nids[i], "KNOWS", nids[(i * 7) % 100], {"w": i}) for i in range(100)]
                           + [(nids[100], {"A", "B"}, nids[101], None)])
    return nids, eids


def test_bulk_load_reads_back(db):
    nids, eids = _load(db)
    assert list(nids) == list(range(102)) and list(eids) == list(range(101))
    with db.snapshot() as s:
        assert s.node_count() == 102 and s.node_count("Person") == 101 and s.node_count("VIP") == 1
        assert s.node(nids[5])["name"] == "p5" and s.node(nids[101]).labels == frozenset()
        assert s.edge_count("KNOWS") == 100 and s.edge(eids[100]).labels == {"A", "B"}
        assert s.neighbors(nids[3]) == [nids[21]] and s.edge(eids[3])["w"] == 3
        for k in (0, 7, 50):
            assert s.degree(nids[k], "in") == sum(1 for i in range(100) if (i * 7) % 100 == k)
    db.verify()


def test_bulk_load_survives_crash_and_reopen(db_path):
    db = lpgdb.connect(db_path)
    nids, eids = _load(db)
    db._engine.close(checkpoint_on_close=False)
    db._closed = True
    with lpgdb.connect(db_path) as db2, db2.snapshot() as s:
        assert s.node_count() == 102 and s.edge_count() == 101 and s.edge(eids[7])["w"] == 7
    with lpgdb.connect(db_path) as db3, db3.snapshot() as s:   # and from the checkpoint files
        assert s.node_count() == 102 and s.edge_count() == 101 and s.neighbors(nids[3]) == [nids[21]]


def test_bulk_load_is_all_or_nothing(db):
    nids, _ = db.bulk_load(nodes=[("N", {})] * 3)
    with pytest.raises(lpgdb.NotFoundError):
        db.bulk_load(nodes=[("M", {})], edges=[(nids[0], "R", 999, {})])
    with pytest.raises(lpgdb.DataError):
        db.bulk_load(nodes=[("M", {"x": object()})])
    with pytest.raises(lpgdb.InterfaceError):
        db.bulk_load(edges=[(-1, "R", nids[0], {})])
    with db.snapshot() as s:
        assert s.node_count() == 3 and s.edge_count() == 0 and s.node_count("M") == 0
    with db.transaction() as tx:   # ids continue after the failed loads
        assert tx.create_node("Z") == 3


def test_bulk_load_maintains_indexes(db):
    db.create_index("Person", "id")
    nids, _ = _load(db)
    with db.snapshot() as s:
        assert s.key_lookup("Person", "id", 42) == [nids[42]]
