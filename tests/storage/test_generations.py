"""The on-disk store across checkpoints: generations, snapshots pinning their files, open cost.

Issue 10's tests: a snapshot opened before two checkpoints still reads everything it saw; a
database far larger than the overlay budget (checkpoint_mem_bytes) is built through many
checkpoints and read back completely; open maps files instead of loading them; old files are
deleted when a checkpoint replaces them, while open snapshots keep reading them.
"""
import datetime as dt
import os
import random
import subprocess
import sys
import textwrap

import lpgdb


_HERE = os.path.dirname(os.path.dirname(os.path.abspath(lpgdb.__file__)))   # the lpgdb under test, whatever the cwd

def _dump(s):
    nodes = {n.id: (n.labels, dict(n.properties)) for n in s.nodes()}
    edges = {e.id: (e.labels, e.src, e.dst, dict(e.properties)) for e in s.edges()}
    adj = {n: sorted(e.id for e in s.edges_of(n, "both")) for n in nodes}
    return nodes, edges, adj


def _data_files(path):
    return sorted(os.listdir(os.path.join(path, "data")))


def test_snapshot_reads_everything_across_two_checkpoints(tmp_path):
    path = str(tmp_path / "g")
    db = lpgdb.connect(path)
    db.create_index("P", "k")
    with db.transaction() as tx:
        ids = [tx.create_node(["P"] if i % 2 else ["P", "Q"], {"k": i, "name": f"n{i}", "when": dt.date(2020, 1, 1 + i % 28)})
               for i in range(300)]
        for i in range(600):
            tx.create_edge(ids[i % 300], "R" if i % 3 else "S", ids[(i * 7) % 300], {"w": i})
    db.checkpoint()
    with db.transaction() as tx:                      # an overlay on top of the first files
        tx.update_node(ids[5], set={"name": "five"}, add_labels=["Z"])
        tx.delete_node(ids[6], detach=True)
    old = db.snapshot()
    before = _dump(old)
    before_keys = {i: old.key_lookup("P", "k", i) for i in range(300)}
    files_before = _data_files(path)
    for round_ in range(2):                           # two checkpoints rewrite every file
        with db.transaction() as tx:
            for i in range(0, 300, 7):
                if i != 6:
                    tx.update_node(ids[i], set={"k": 1000 + i + round_})
            tx.create_edge(ids[1], "R", ids[2], {"round": round_})
            for e in list(tx.edges_of(ids[3], "out"))[:1]:
                tx.delete_edge(e.id)
        db.checkpoint()
    assert not set(files_before) & set(_data_files(path))   # the old files are gone from data/
    assert _dump(old) == before                               # ... and still read through the snapshot
    assert {i: old.key_lookup("P", "k", i) for i in range(300)} == before_keys
    assert old.node_count("Q") == 149 and old.node_count("Z") == 1
    with db.snapshot() as new:
        assert new.key_lookup("P", "k", 0) == [] and new.key_lookup("P", "k", 1001) == [ids[0]]
        assert new.edge_count() == len(before[1]) + 2 - 2
    old.close()
    db.close()
    with lpgdb.connect(path) as db2, db2.snapshot() as s:
        assert s.key_lookup("P", "k", 1001) == [ids[0]]
        assert s.node(ids[5])["name"] == "five" and "Z" in s.node(ids[5]).labels
        assert not s.has_node(ids[6])


def test_a_graph_larger_than_the_overlay_budget_reads_back_completely(tmp_path):
    """checkpoint_mem_bytes=64 KiB: the loads checkpoint every few commits, so nearly all of the
    graph lives in files and is read back from them (and from many generations of them)."""
    path = str(tmp_path / "g")
    rng = random.Random(5)
    model_nodes, model_edges = {}, {}
    with lpgdb.connect(path, checkpoint_mem_bytes=64 << 10) as db:
        db.create_index("N", "k")
        for batch in range(12):
            with db.transaction() as tx:
                for _ in range(250):
                    props = {"k": rng.randrange(10**6), "s": "x" * rng.randrange(30), "f": rng.random()}
                    nid = tx.create_node("N", props)
                    model_nodes[nid] = props
                ids = sorted(model_nodes)
                for _ in range(500):
                    a, b = rng.choice(ids), rng.choice(ids)
                    eid = tx.create_edge(a, "E", b, {"b": batch})
                    model_edges[eid] = (a, b, batch)
        assert db._engine.meta.manifest_seq >= 5      # it checkpointed many times
    with lpgdb.connect(path) as db, db.snapshot() as s:
        assert s.node_count() == len(model_nodes) and s.edge_count("E") == len(model_edges)
        for nid, props in model_nodes.items():
            n = s.node(nid)
            assert dict(n.properties) == props
            assert nid in s.key_lookup("N", "k", props["k"])
        for eid, (a, b, batch) in model_edges.items():
            e = s.edge(eid)
            assert (e.src, e.dst, e["b"]) == (a, b, batch)
        for nid in list(model_nodes)[:200]:
            assert sorted(s.neighbors(nid, "out")) == sorted(b for a, b, _ in model_edges.values() if a == nid)


def test_open_maps_files_and_adds_little_memory(tmp_path):
    """Open reads only headers: the anonymous memory it adds stays far below the data's size.
    (A bound on memory, measured in a fresh process, not a timing.)"""
    path = str(tmp_path / "g")
    with lpgdb.connect(path) as db:
        db.bulk_load(nodes=(("N", {"k": i, "s": "v" * 40}) for i in range(60_000)))
        db.bulk_load(edges=((i % 60_000, "E", (i * 31) % 60_000, {"w": i}) for i in range(240_000)))
    data = sum(os.path.getsize(os.path.join(path, "data", f)) for f in os.listdir(os.path.join(path, "data")))
    code = textwrap.dedent(f"""
        import lpgdb, re
        def anon():
            return int(re.search(r"RssAnon:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) * 1024
        a = anon()
        db = lpgdb.connect({path!r})
        s = db.snapshot()
        b = anon()
        assert s.node_count() == 60000 and s.node(59999)["k"] == 59999
        print(b - a)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": _HERE}, timeout=120)
    assert out.returncode == 0, out.stderr
    added = int(out.stdout.split()[-1])
    assert data > 4 << 20 and added < data / 4, (added, data)


def test_a_record_writing_a_node_twice_keeps_only_its_last_version(tmp_path):
    # White-box: a commit's NODE_PUTs of new ids go to C as one batch (graph._apply); a record
    # that writes the same new node twice must index only its last version, and one that
    # creates and deletes a node leaves nothing of it, in the live engine and after replaying
    # the record at open (transactions coalesce their writes, hand-built records need not).
    from lpgdb.storage import records
    path = str(tmp_path / "g")
    db = lpgdb.connect(path)
    db.create_index("P", "k")
    with db.transaction() as tx:
        first = tx.create_node("P", {"k": 0})
    new = first + 1
    ops = [records.op_node_put(new, ["P"], {"k": 1}), records.op_node_put(new + 1, ["P"], {"k": 5}),
           records.op_node_put(new, ["P"], {"k": 2}), records.op_node_put(new + 2, ["P"], {"k": 7}),
           records.op_node_del(new + 2), records.op_node_put(first, ["P"], {"k": 3}),
           records.op_node_put(first, ["P"], {"k": 4})]
    db._engine.make_durable(db._engine.commit(ops))

    def check(d):
        with d.snapshot() as s:
            assert s.key_lookup("P", "k", 1) == []
            assert s.key_lookup("P", "k", 2) == [new]
            assert s.key_lookup("P", "k", 5) == [new + 1]
            assert s.node(new)["k"] == 2
            assert s.key_lookup("P", "k", 7) == []
            assert not s.has_node(new + 2)
            assert [s.key_lookup("P", "k", v) for v in (0, 3, 4)] == [[], [], [first]]
    check(db)
    db.close()
    db = lpgdb.connect(path)          # the record is replayed from the log
    check(db)
    db.checkpoint()
    db.close()
    db = lpgdb.connect(path)
    check(db)
    db.close()


def test_bulk_records_of_the_older_form_still_apply_and_replay(tmp_path):
    # bulk_load logs NODES_COLS / EDGES_COLS ops; logs written before that hold NODES_BULK /
    # EDGES_BULK ops (a list of one property map per row), which must still apply and replay.
    from array import array
    from lpgdb.storage import records
    path = str(tmp_path / "g")
    db = lpgdb.connect(path)
    db.create_index("P", "k")
    with db.transaction() as tx:
        first = tx.create_node("P", {"k": -1})
    n0, e0 = first + 1, 0
    props = [records.pack_props({"k": i, "s": f"n{i}"}) for i in range(5)] + [b""]
    nodes = [records.NODES_BULK, n0, [["P"], ["Q"]], array("I", [0] * 5 + [1]).tobytes(), props]
    edges = [records.EDGES_BULK, e0, [["R"]], array("I", [0, 0]).tobytes(),
             array("Q", [n0, n0 + 1]).tobytes(), array("Q", [n0 + 1, n0 + 5]).tobytes(),
             [records.pack_props({"w": 7}), b""]]
    db._engine.make_durable(db._engine.commit([nodes, edges]))

    def check(d):
        with d.snapshot() as s:
            assert [s.key_lookup("P", "k", i) for i in range(5)] == [[n0 + i] for i in range(5)]
            assert s.node(n0 + 2)["s"] == "n2" and s.node(n0 + 5).labels == {"Q"}
            assert sorted((e.src, e.dst, dict(e.properties)) for e in s.edges()) == \
                [(n0, n0 + 1, {"w": 7}), (n0 + 1, n0 + 5, {})]
    check(db)
    db.close()
    db = lpgdb.connect(path)          # replayed from the log
    check(db)
    db.checkpoint()
    db.close()
    db = lpgdb.connect(path)
    check(db)
    db.close()
