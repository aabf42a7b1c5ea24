"""The read boundary (storage/view.py): what the layers above storage may use, and its answers."""
import ast
import os

import lpgdb

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# the graph's structures and files: only storage itself may name them (the layers above read
# through view.py, open and commit through engine.py, build records through records.py)
_INTERNAL = {"graph", "core", "checkpoint", "wal", "files", "overlay", "store_native"}


def _storage_imports(path):
    tree = ast.parse(open(path, encoding="utf-8").read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            mod = node.module
            parts = mod.split(".")
            if "storage" in parts:
                rest = parts[parts.index("storage") + 1:]
                if rest:
                    yield rest[0]
                else:
                    yield from (a.name for a in node.names)
            if parts[-1] == "core" or mod.endswith("_native"):
                yield "core"


def test_nothing_above_storage_reaches_into_its_internals():
    bad = []
    for d, _dirs, files in os.walk(os.path.join(ROOT, "lpgdb")):
        if os.path.join("lpgdb", "storage") in d:
            continue
        for f in files:
            if f.endswith(".py") and f != "core.py":
                path = os.path.join(d, f)
                for mod in _storage_imports(path):
                    if mod in _INTERNAL:
                        bad.append((os.path.relpath(path, ROOT), mod))
    assert not bad, f"modules above storage import storage internals: {bad}"


def test_statistics_and_batched_degrees(tmp_path):
    with lpgdb.connect(str(tmp_path / "g")) as db:
        with db.transaction() as tx:
            a = tx.create_node("A")
            b = tx.create_node(["A", "B"])
            c = tx.create_node("C")
            tx.create_edge(a, "R", b)
            tx.create_edge(a, "R", c)
            tx.create_edge(b, "S", c)
            assert tx.degree_many([a, b, c], "out") == [2, 1, 0]
            assert tx.statistics().labels == {}    # the committed graph only
        with db.snapshot() as s:
            st = s.statistics()
            assert (st.nodes, st.edges) == (3, 3)
            assert st.labels == {"A": 2, "B": 1, "C": 1}
            assert st.edge_labels == {"R": 2, "S": 1}
            assert s.degree_many([a, b, c], "in") == [0, 1, 2]
            assert s.degree_many([a, b, c], "both", "R") == [2, 1, 1]


def test_columnar_reads_match_the_row_reads(tmp_path):
    with lpgdb.connect(str(tmp_path / "g")) as db:
        with db.transaction() as tx:
            ids = [tx.create_node("P", {"age": i, "name": f"n{i}"} if i % 3 else {"name": "x"}) for i in range(50)]
            tx.create_node("Q", {"age": 99})
            for i in range(49):
                tx.create_edge(ids[i], "R", ids[i + 1])
            assert tx.property_many(ids[:4], "age") == [None, 1, 2, None]   # the transaction's writes
        db.checkpoint()
        with db.transaction() as tx:
            tx.update_node(ids[1], set={"age": 100})
        with db.snapshot() as s:
            pids = s.node_ids("P")
            assert pids == sorted(n.id for n in s.nodes("P"))
            assert s.property_many(pids, "age") == [s.node(i).get("age") for i in pids]
            assert s.property_many(pids + [10**9], "name")[-1] is None
            assert s.degree_many(pids, "out", "R") == [s.degree(i, "out", "R") for i in pids]
