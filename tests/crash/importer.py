"""Kill a bulk load from CSV at random points; check that the load is all there or not at all.

Used by test_kill_import.py.  A database holds a little prior data (nodes, an edge, an index on
the key the load fills); the load is one ``db.bulk_load`` of a node group and an edge group
(Neo4j admin-import CSV, through the native reader), the same call ``lpgdb import`` makes: a
streamed load (storage/stream.py) whose spill file is written every 8 KiB, so kills land
between spill writes, in the build of each file and around the ATTACH record.

``python -m tests.crash.importer ROOT NODES EDGES TRIALS SEED [new]`` (a lean process, so that forks
are cheap): writes the CSV files and the base database under ROOT, counts the I/O calls of an
uninterrupted load (open, load, close: its commit and the checkpoint at close included), then
per trial copies the base database, forks a writer that dies by SIGKILL at one of those calls
(io.Simulator ``on_call``: TRIALS distinct random ones and the last two, or every one when
TRIALS is 0 or at least the number of calls), reopens the copy and checks it (:func:`check`), and prints one
JSON line per trial: ``{"kill_at", "status", "outcome"}`` with outcome "none", "all" or
"BAD: <why>".  The last line is ``{"calls": n}``.  With ``new``, the load is ``lpgdb.bulk_import``
into a new database (one streamed load spilled every 8 KiB, renamed into place at the
end): "none" means no database at its path.
"""
import json
import os
import random
import shutil
import signal
import sys

import lpgdb
from lpgdb.storage import attach, checkpoint, faults, io, stream

PRIOR = 5        # prior "Old" nodes, a chain of OLD edges between them


def write_csv(root: str, nodes: int, edges: int, seed: int = 7):
    """persons.csv (pid, name, age) and knows.csv (src, dst, since); returns (paths, expected)
    where expected holds what a complete load must show."""
    rng = random.Random(seed)
    people = os.path.join(root, "persons.csv")
    knows = os.path.join(root, "knows.csv")
    ids = rng.sample(range(1, 50 * nodes + 1), nodes)
    with open(people, "w") as f:
        f.write("pid:ID(P),name,age:int\n")
        for i, pid in enumerate(ids):
            f.write(f"{pid},n{pid},{i % 90}\n")
    since_sum = 0
    out_deg = {}
    with open(knows, "w") as f:
        f.write(":START_ID(P),:END_ID(P),since:int\n")
        for _ in range(edges):
            a, b, s = rng.choice(ids), rng.choice(ids), rng.randrange(1990, 2030)
            f.write(f"{a},{b},{s}\n")
            since_sum += s
            out_deg[a] = out_deg.get(a, 0) + 1
    probe = rng.sample(ids, min(20, len(ids)))
    expected = {"nodes": nodes, "edges": edges, "since_sum": since_sum,
                "probe": {str(p): [f"n{p}", ids.index(p) % 90, out_deg.get(p, 0)] for p in probe}}
    return (people, knows), expected


def make_base(path: str) -> None:
    db = lpgdb.connect(path)
    db.create_index("Person", "pid")
    with db.transaction() as tx:
        ids = [tx.create_node(["Old"], {"k": k}) for k in range(PRIOR)]
        for a, b in zip(ids, ids[1:]):
            tx.create_edge(a, "OLD", b, {})
    db.close()


def load(db, files) -> None:
    db.bulk_load(nodes={"Person": files[0]}, edges={"KNOWS": files[1]}, id_type="integer")


def load_new(path, files) -> None:
    """bulk_import streamed in batches of 500 rows, spilled every 8 KiB (run in a forked child only)."""
    import lpgdb.database
    import lpgdb.ingest.neo4j
    lpgdb.database.IMPORT_SPILL_MAX, lpgdb.ingest.neo4j.CHUNK_ROWS = 8192, 500
    lpgdb.bulk_import(path, nodes={"Person": files[0]}, edges={"KNOWS": files[1]}, id_type="integer",
                      memory_bytes=1 << 20)


def check(path: str, expected: dict, prior: bool = True) -> str:
    """'none' or 'all' when the database at ``path`` holds the prior data and none or all of the
    load (and still takes a commit); otherwise 'BAD: ...'.  Without ``prior`` (a load into a
    new database, lpgdb.bulk_import): 'none' when there is no database at ``path``."""
    if not prior and not os.path.exists(path):
        return "none"
    db = lpgdb.connect(path, create=prior)
    try:
        with db.snapshot() as s:
            old = sorted(n["k"] for n in s.find_nodes("Old"))
            if prior and (old != list(range(PRIOR)) or s.edge_count("OLD") != PRIOR - 1):
                return f"BAD: prior data changed: Old {old}, OLD edges {s.edge_count('OLD')}"
            if not prior and (old or s.edge_count("OLD")):
                return f"BAD: a new database holds nodes it was not given: Old {old}"
            n, m = s.node_count("Person"), s.edge_count("KNOWS")
            if (n, m) == (0, 0):
                outcome = "none"
            elif (n, m) == (expected["nodes"], expected["edges"]):
                since = sum(e["since"] for e in s.edges("KNOWS"))
                if since != expected["since_sum"]:
                    return f"BAD: all edges but the sum of since is {since}, not {expected['since_sum']}"
                for pid, (name, age, deg) in expected["probe"].items():
                    found = list(s.find_nodes("Person", pid=int(pid)))
                    if len(found) != 1 or found[0]["name"] != name or found[0]["age"] != age:
                        return f"BAD: pid {pid} reads {[dict(x.properties) for x in found]}"
                    if s.degree(found[0].id, "out", "KNOWS") != deg:
                        return f"BAD: pid {pid} has out-degree {s.degree(found[0].id, 'out', 'KNOWS')}, not {deg}"
                outcome = "all"
            else:
                return f"BAD: part of the load: {n} of {expected['nodes']} nodes, {m} of {expected['edges']} edges"
        with db.transaction() as tx:       # not bricked: it takes a commit, and keeps it
            tx.create_node(["After"], {})
    finally:
        db.close()
    db = lpgdb.connect(path)
    try:
        with db.snapshot() as s:
            if s.node_count("After") != 1:
                return "BAD: a commit after recovery was lost at the next open"
        named = {os.path.basename(r) for r, _c, _s in checkpoint.manifest_files(db._engine.manifest)}
        stray = sorted(set(os.listdir(os.path.join(path, "data"))) - named)
        if stray:
            return f"BAD: data files no manifest names were left after an open: {stray[:3]}"
    finally:
        db.close()
    return outcome


def _child(path: str, files, kill_at=None, report_fd=None, new=False) -> None:
    code = 3
    try:
        sim = io.Simulator(os.path.dirname(path), real_sync=False,
                           on_call=(lambda n, _k, _s: faults.die() if n == kill_at else None))
        io.install(sim)
        if new:
            load_new(path, files)
        else:
            db = lpgdb.connect(path)
            load(db, files)
            db.close()
        if report_fd is not None:
            os.write(report_fd, str(sim.n).encode())
        code = 0
    finally:
        os._exit(code)


def _fork(path, files, kill_at=None, new=False):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _child(path, files, kill_at, w, new)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    data = b""
    while chunk := os.read(r, 4096):
        data += chunk
    os.close(r)
    return status, data.decode()


def main(root: str, nodes: int, edges: int, trials: int, seed: int, new: bool = False) -> int:
    # every bulk load of this process commits through bulk attach (data files + one ATTACH
    # record), as a load of ATTACH_MIN_ROWS rows or more does (a bulk_import piece too)
    attach.ATTACH_MIN_ROWS = 1
    stream.BUDGET = 8192          # a streamed load's spill file is written many times
    files, expected = write_csv(root, nodes, edges)
    base = os.path.join(root, "base", "db")
    if new:
        os.makedirs(os.path.dirname(base))
    else:
        make_base(base)
    trial_dir = os.path.join(root, "trial")
    shutil.copytree(os.path.dirname(base), trial_dir)
    status, out = _fork(os.path.join(trial_dir, "db"), files, new=new)
    if status != 0 or not out:
        print(json.dumps({"error": f"the uninterrupted load failed (status {status})"}))
        return 1
    calls = int(out)
    outcome = check(os.path.join(trial_dir, "db"), expected, prior=not new)
    print(json.dumps({"kill_at": None, "status": status, "outcome": outcome}), flush=True)
    rng = random.Random(seed)
    points = list(range(1, calls + 1)) if trials <= 0 or trials >= calls else \
        sorted(set(rng.sample(range(1, calls + 1), trials)) | {calls - 1, calls})   # the last steps too
    for kill_at in points:
        shutil.rmtree(trial_dir)
        shutil.copytree(os.path.dirname(base), trial_dir)
        status, _ = _fork(os.path.join(trial_dir, "db"), files, kill_at, new)
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        outcome = check(os.path.join(trial_dir, "db"), expected, prior=not new) if killed or status == 0 \
            else f"BAD: writer exited with status {status}"
        print(json.dumps({"kill_at": kill_at, "status": status, "outcome": outcome}), flush=True)
    print(json.dumps({"calls": calls}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]),
                  len(sys.argv) > 6 and sys.argv[6] == "new"))
