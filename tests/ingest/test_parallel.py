"""The threaded import path: CSV parsed by a reader thread ahead of the load (ingest/load.py
``read_ahead``) and partition files built on two threads (storage/checkpoint.py ``_each``).

It must give exactly what the serial path gives, raise the error the serial path raises (a
failure on either thread, found by the other), leave no thread behind, and a failure on a
build thread must leave the database as it was."""
import os
import random
import tempfile
import threading

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import lpgdb
import lpgdb.database
import lpgdb.transaction
from lpgdb import core
from lpgdb.ingest import load as ingest_load
from lpgdb.ingest import neo4j
from lpgdb.storage import checkpoint, stream

PART = 1 << core.PART_SHIFT


def _site_of_file_writes() -> str:
    """The I/O site (io.Simulator) of the data file writes of checkpoint.build_files."""
    import inspect
    src, start = inspect.getsourcelines(checkpoint._write_file)
    return f"checkpoint._write_file:{start + next(i for i, ln in enumerate(src) if 'io.write_file' in ln)}"


_WRITE_FILE_SITE = _site_of_file_writes()


def _threads_left() -> list:
    return [t.name for t in threading.enumerate() if t.name.startswith(("lpgdb-ingest-reader", "lpgdb-build"))]


def _dump(path: str):
    """Everything in the database through the public API: nodes (labels, properties) and edges
    (endpoints by their node's properties, type, properties), in id order."""
    with lpgdb.connect(path, readonly=True) as db, db.snapshot() as s:
        nodes = {n.id: (sorted(n.labels), sorted(dict(n).items())) for n in s.nodes()}
        edges = [(nodes[e.src], e.label, nodes[e.dst], sorted(dict(e).items())) for e in s.edges()]
        return list(nodes.values()), edges, s.node_count(), s.edge_count()


def _write_csv(d: str, nodes: list, edges: list) -> tuple:
    people, knows = os.path.join(d, "p.csv"), os.path.join(d, "k.csv")
    with open(people, "w") as f:
        f.write("pid:ID(P),name,age:int,:LABEL\n")
        for pid, name, age, labels in nodes:
            f.write(f"{pid},{name},{age},{labels}\n")
    with open(knows, "w") as f:
        f.write(":START_ID(P),:END_ID(P),w:int,note\n")
        for a, b, w, note in edges:
            f.write(f"{a},{b},{w},{note}\n")
    return people, knows


def _import(path, people, knows, read_ahead, build_threads, chunk):
    """(result or the error's type and text, threads left) of one bulk_import."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ingest_load, "READ_AHEAD", read_ahead)
        mp.setattr(checkpoint, "BUILD_THREADS", build_threads)
        mp.setattr(neo4j, "CHUNK_ROWS", chunk)
        mp.setattr(lpgdb.database, "IMPORT_SPILL_MAX", 4096)       # many spill flushes
        try:
            out = ("ok", lpgdb.bulk_import(path, nodes=people, edges={"KNOWS": knows}))
        except lpgdb.Error as e:
            out = (type(e).__name__, str(e))
    return out, _threads_left()


@st.composite
def loads(draw):
    n = draw(st.integers(1, 60))
    nodes = [(f"p{i}", draw(st.sampled_from(["", "ann", "bo b"])), draw(st.sampled_from(["", "7", "-3"])),
              draw(st.sampled_from(["A", "A;B", ""]))) for i in range(n)]
    m = draw(st.integers(0, 200))
    edges = [(f"p{draw(st.integers(0, n - 1))}", f"p{draw(st.integers(0, n - 1))}", str(j),
              draw(st.sampled_from(["", "x", "y z"]))) for j in range(m)]
    bad = draw(st.sampled_from([None, "dangling", "int", "dup"]))
    if bad == "dangling" and edges:              # an edge to an id no node file declares
        k = draw(st.integers(0, m - 1))
        edges[k] = (edges[k][0], "nobody", *edges[k][2:])
    elif bad == "int" and edges:                 # a bad int cell late in the file
        k = draw(st.integers(0, m - 1))
        edges[k] = (edges[k][0], edges[k][1], "12x", edges[k][3])
    elif bad == "dup":                           # an id given twice
        nodes.append(nodes[draw(st.integers(0, n - 1))])
    else:
        bad = None
    return nodes, edges, draw(st.integers(1, 40)), draw(st.integers(1, 3)), bad


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(loads())
def test_the_threaded_import_gives_what_the_serial_one_gives(case):
    """Random CSVs, random chunk sizes, with and without bad rows: the threaded path (reader
    thread ``depth`` batches ahead, two build threads) gives the same database, or the same
    error (type and text, with file and line) and no database, and leaves no thread behind."""
    nodes, edges, chunk, depth, bad = case
    with tempfile.TemporaryDirectory() as d:
        people, knows = _write_csv(d, nodes, edges)
        serial, left = _import(os.path.join(d, "serial"), people, knows, 0, 1, chunk)
        assert left == []
        threaded, left = _import(os.path.join(d, "threaded"), people, knows, depth, 2, chunk)
        assert left == []
        assert threaded == serial
        assert serial[0] == ("ok" if bad is None else "CsvError"), serial
        if serial[0] == "ok":
            assert _dump(os.path.join(d, "threaded")) == _dump(os.path.join(d, "serial"))
        else:
            assert serial[0] == "CsvError"
            assert not os.path.exists(os.path.join(d, "threaded"))


def test_two_build_threads_write_the_partitions_the_serial_build_writes(tmp_path):
    """Three partitions built on two threads: the same data files, byte for byte."""
    rng = random.Random(7)
    n = 2 * PART + 500
    nodes = [(f"p{i}", f"n{i}", str(i % 90), "A") for i in range(n)]
    edges = [(f"p{rng.randrange(n)}", f"p{rng.randrange(n)}", str(j), "x" if j % 2 else "") for j in range(4000)]
    people, knows = _write_csv(str(tmp_path), nodes, edges)
    images = []
    for name, depth, threads in (("serial", 0, 1), ("threaded", 2, 2)):
        path = str(tmp_path / name)
        out, left = _import(path, people, knows, depth, threads, 5000)
        assert out == ("ok", (n, 4000)) and left == []
        data = os.path.join(path, "data")
        images.append({f: open(os.path.join(data, f), "rb").read() for f in sorted(os.listdir(data))})
    assert len([f for f in images[0] if f.startswith("part")]) >= 3, sorted(images[0])
    assert images[0] == images[1]


def test_a_failure_on_the_loading_thread_stops_and_joins_the_reader(tmp_path, monkeypatch):
    """The spill write fails while the reader is parsing ahead: the write's error is raised,
    the reader is stopped and joined, the database is as before and takes the load again."""
    rng = random.Random(3)
    n = 500
    nodes = [(f"p{i}", "x", "1", "A") for i in range(n)]
    edges = [(f"p{rng.randrange(n)}", f"p{rng.randrange(n)}", str(j), "") for j in range(20_000)]
    people, knows = _write_csv(str(tmp_path), nodes, edges)
    monkeypatch.setattr(neo4j, "CHUNK_ROWS", 300)
    monkeypatch.setattr(stream, "BUDGET", 4096)
    real_flush, calls = stream.Stream.flush, []

    def failing(self):
        calls.append(1)
        if len(calls) == 5:
            raise lpgdb.OperationalError("injected: the spill write failed")
        return real_flush(self)
    monkeypatch.setattr(stream.Stream, "flush", failing)
    path = str(tmp_path / "db")
    with lpgdb.connect(path) as db:
        with db.transaction() as tx:
            tx.create_node(["Old"], {"k": 1})
        with pytest.raises(lpgdb.OperationalError, match="injected"):
            db.bulk_load(nodes=people, edges={"KNOWS": knows})
        assert _threads_left() == []
        assert os.listdir(os.path.join(path, "tmp")) == []
        with db.snapshot() as s:
            assert (s.node_count(), s.edge_count()) == (1, 0)
        monkeypatch.setattr(stream.Stream, "flush", real_flush)
        db.bulk_load(nodes=people, edges={"KNOWS": knows})
        with db.snapshot() as s:
            assert (s.node_count(), s.edge_count()) == (n + 1, 20_000)


def test_an_error_of_the_reader_thread_is_raised_with_its_line(tmp_path, monkeypatch):
    """A bad cell in the 40th chunk: the reader's CsvError (file, line) is raised by the load
    after the 39 chunks before it were taken; the database is as before."""
    n = 100
    nodes = [(f"p{i}", "x", "1", "A") for i in range(n)]
    edges = [(f"p{j % n}", f"p{(j * 7) % n}", str(j) if j != 3950 else "3x", "") for j in range(5000)]
    people, knows = _write_csv(str(tmp_path), nodes, edges)
    monkeypatch.setattr(neo4j, "CHUNK_ROWS", 100)
    taken = []
    real_log = lpgdb.transaction.Transaction._log_bulk_batch
    monkeypatch.setattr(lpgdb.transaction.Transaction, "_log_bulk_batch",
                        lambda self, batch: (taken.append(batch.kind), real_log(self, batch))[1])
    path = str(tmp_path / "db")
    with lpgdb.connect(path) as db:
        with pytest.raises(neo4j.CsvError, match=r"k\.csv:3952:3: .*bad value '3x'"):
            db.bulk_load(nodes=people, edges={"KNOWS": knows})
        assert _threads_left() == []
        assert taken == ["nodes"] + ["edges"] * 39         # every chunk before the bad one, none after
        with db.snapshot() as s:
            assert (s.node_count(), s.edge_count()) == (0, 0)


def test_a_fault_on_a_build_thread_leaves_the_database_as_it_was(tmp_path, monkeypatch):
    """Partition 1 fails on a build thread (EIO writing its file, or a damaged spill read
    there): the typed error is raised, every build thread is joined, no file of the load stays,
    and the database reads as before, reopens so, and takes the load again."""
    from lpgdb.storage import io as sio
    rng = random.Random(11)
    n = PART + 200
    nodes = [(f"p{i}", "x", "1", "A") for i in range(n)]
    edges = [(f"p{rng.randrange(n)}", f"p{rng.randrange(n)}", str(j), "") for j in range(3000)]
    people, knows = _write_csv(str(tmp_path), nodes, edges)
    path = str(tmp_path / "db")
    with lpgdb.connect(path) as db:
        with db.transaction() as tx:
            tx.create_node(["Old"], {"k": 1})
        db.checkpoint()
        files_before = sorted(os.listdir(os.path.join(path, "data")))
        on_thread = []
        real_build = core.Store.build_part

        def spy(self, snap, p, *a):
            on_thread.append(threading.current_thread().name)
            return real_build(self, snap, p, *a)
        monkeypatch.setattr(core.Store, "build_part", spy)
        real_runs = stream.Stream.part_runs

        def damaged(self, p):
            runs = real_runs(self, p)
            if p != 1 or runs is None:
                return runs
            return lambda d: (_ for _ in ()).throw(lpgdb.CorruptionError("injected: spill damaged")) if d == 0 \
                else runs(d)
        for fault in ("eio", "corrupt"):
            sim = None
            if fault == "eio":
                sim = sio.Simulator(path, real_sync=False)
                sim.fail("write", _WRITE_FILE_SITE, nth=2, error="EIO")   # the second file build_files writes
                sio.install(sim)
            else:
                monkeypatch.setattr(stream.Stream, "part_runs", damaged)
            try:
                with pytest.raises((lpgdb.OperationalError, lpgdb.CorruptionError), match="I/O error|injected"):
                    db.bulk_load(nodes=people, edges={"KNOWS": knows})
            finally:
                if sim is not None:
                    sio.uninstall()
                monkeypatch.undo()
                monkeypatch.setattr(core.Store, "build_part", spy)
            assert _threads_left() == []
            assert sorted(os.listdir(os.path.join(path, "data"))) == files_before, fault
            assert os.listdir(os.path.join(path, "tmp")) == []
            with db.snapshot() as s:
                assert (s.node_count(), s.edge_count()) == (1, 0)
        assert any(name.startswith("lpgdb-build") for name in on_thread), on_thread
        db.bulk_load(nodes=people, edges={"KNOWS": knows})
    with lpgdb.connect(path) as db, db.snapshot() as s:
        assert (s.node_count(), s.edge_count()) == (n + 1, 3000)


def test_each_joins_every_thread_and_raises_the_earliest_failure():
    done, lock = [], threading.Lock()

    def fn(i):
        if i in (3, 5):
            raise ValueError(f"item {i}")
        with lock:
            done.append(i)
    with pytest.raises(ValueError, match="item 3"):
        checkpoint._each(fn, list(range(8)), 2)
    assert _threads_left() == []
    assert 3 not in done and set(done) <= {0, 1, 2, 4, 5, 6, 7}
    done.clear()
    checkpoint._each(lambda i: done.append(i), list(range(20)), 2)
    assert sorted(done) == list(range(20))
    assert _threads_left() == []
