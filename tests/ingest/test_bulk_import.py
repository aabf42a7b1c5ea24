"""lpgdb.bulk_import: a new database from CSV sources, one streamed bulk load (spilled in many runs), renamed into place."""
import os

import pytest

import lpgdb
import lpgdb.database
import lpgdb.ingest.neo4j

PEOPLE = "pid:ID(P),name,age:int\n" + "".join(f"{i},n{i},{i % 50}\n" for i in range(1, 301))
KNOWS = ":START_ID(P),:END_ID(P),:TYPE,since:int\n" + "".join(
    f"{1 + i % 300},{1 + (i * 7) % 300},{'KNOWS' if i % 3 else 'LIKES'},{1990 + i % 30}\n" for i in range(1000))


def graph(db):
    with db.snapshot() as s:
        nodes = sorted((sorted(n.labels), sorted(n.properties.items())) for n in s.nodes())
        edges = sorted((s.node(e.src)["pid"], sorted(e.labels), s.node(e.dst)["pid"], sorted(e.properties.items()))
                       for e in s.edges())
    return nodes, edges


@pytest.fixture
def files(tmp_path):
    (tmp_path / "p.csv").write_text(PEOPLE)
    (tmp_path / "k.csv").write_text(KNOWS)
    return str(tmp_path / "p.csv"), str(tmp_path / "k.csv")


def test_the_same_graph_as_one_bulk_load_in_many_spill_runs(tmp_path, files, monkeypatch):
    want_db = lpgdb.connect(":memory:")
    want_db.bulk_load(nodes={"Person": files[0]}, edges=files[1])
    want = graph(want_db)
    # batches of 40 rows, the spill buffer written out every 2 KiB
    from lpgdb.storage import attach
    monkeypatch.setattr(attach, "ATTACH_MIN_ROWS", 1)                      # streamed however small
    monkeypatch.setattr(lpgdb.database, "IMPORT_SPILL_MAX", 2048)
    monkeypatch.setattr(lpgdb.ingest.neo4j, "CHUNK_ROWS", 40)
    path = tmp_path / "new"
    assert lpgdb.bulk_import(path, nodes={"Person": files[0]}, edges=files[1], memory_bytes=1 << 20) == (300, 1000)
    assert [x for x in os.listdir(tmp_path) if x.startswith(".")] == []       # no temporary directory left
    db = lpgdb.connect(path, create=False)
    try:
        assert graph(db) == want
        with db.snapshot() as s:
            assert s.edge_count("LIKES") == 334                 # i % 3 == 0 for i < 1000
            db.verify()
        with db.transaction() as tx:                       # an ordinary database from now on
            tx.create_node("Person", {"pid": "x"})
    finally:
        db.close()


def test_into_an_empty_directory_and_never_over_a_database(tmp_path, files):
    (tmp_path / "empty").mkdir()
    assert lpgdb.bulk_import(tmp_path / "empty", nodes={"Person": files[0]}) == (300, 0)
    with pytest.raises(lpgdb.OperationalError):
        lpgdb.bulk_import(tmp_path / "empty", nodes={"Person": files[0]})
    db = lpgdb.connect(tmp_path / "empty", create=False)
    with db.snapshot() as s:
        assert s.node_count() == 300                      # untouched by the refused second import
    db.close()


def test_a_bad_row_after_some_spill_runs_leaves_no_database(tmp_path, files, monkeypatch):
    monkeypatch.setattr(lpgdb.database, "IMPORT_SPILL_MAX", 2048)
    monkeypatch.setattr(lpgdb.ingest.neo4j, "CHUNK_ROWS", 40)
    bad = tmp_path / "bad.csv"
    bad.write_text(KNOWS + "1,2,KNOWS,not-a-number\n")
    with pytest.raises(lpgdb.DataError) as e:
        lpgdb.bulk_import(tmp_path / "new", nodes={"Person": files[0]}, edges=str(bad))
    assert "bad.csv:1002" in str(e.value)
    assert not os.path.exists(tmp_path / "new")
    assert [x for x in os.listdir(tmp_path) if x.startswith(".")] == []


def test_rows_of_python_values_and_bad_arguments_are_refused(tmp_path, files):
    with pytest.raises(lpgdb.InterfaceError, match="db.bulk_load"):
        lpgdb.bulk_import(tmp_path / "a", nodes=[("Person", {"x": 1})])
    with pytest.raises(lpgdb.InterfaceError, match="memory_bytes"):
        lpgdb.bulk_import(tmp_path / "a", nodes=files[0], memory_bytes=10)
    with pytest.raises(lpgdb.InterfaceError, match="path"):
        lpgdb.bulk_import(42, nodes=files[0])
    assert not os.path.exists(tmp_path / "a")


def test_nodes_streamed_with_an_index_give_the_same_graph(tmp_path, files, monkeypatch):
    """bulk_import streams its nodes, their index keys and its edges through the spill file (many
    spill writes here), then builds each file once: same graph, same index as one bulk_load."""
    from lpgdb.storage import attach, stream
    want_db = lpgdb.connect(":memory:")
    want_db.bulk_load(nodes={"Person": files[0]}, edges=files[1])
    want = graph(want_db)
    monkeypatch.setattr(attach, "ATTACH_MIN_ROWS", 1)                      # streamed however small
    monkeypatch.setattr(lpgdb.database, "IMPORT_SPILL_MAX", 1024)
    monkeypatch.setattr(lpgdb.ingest.neo4j, "CHUNK_ROWS", 40)
    flushes = []
    real = stream.Stream.flush

    def spy(self):
        flushes.append(self.end)
        real(self)
    monkeypatch.setattr(stream.Stream, "flush", spy)
    path = tmp_path / "new"
    assert lpgdb.bulk_import(path, nodes={"Person": files[0]}, edges=files[1], memory_bytes=1 << 20,
                             indexes=[("Person", "pid")]) == (300, 1000)
    assert len(flushes) >= 10
    db = lpgdb.connect(path, create=False)
    try:
        assert graph(db) == want
        with db.snapshot() as s:
            for i in range(1, 301):
                (nid,) = s.key_lookup("Person", "pid", str(i))
                assert s.node(nid)["name"] == f"n{i}"
            assert s.key_lookup("Person", "pid", "301") == []
        db.verify()
    finally:
        db.close()
