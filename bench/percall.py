"""The per-call floor of the query path, in CPU time, beside SQLite in the same process:
``db.execute("RETURN 1")`` (W0), an indexed key lookup written as a query (W3u), the same
through ``db.prepare`` and through the native API.

    python -m bench.percall [--nodes 10000] [--reps 7]

Why CPU time: on a shared machine a loop of short calls measured by the wall clock mostly
measures the scheduler; ``time.process_time`` counts only this process's CPU.  Each
repetition runs until it has used 30 ms of CPU; the minimum over repetitions is reported.
To compare two trees (say, before and after a change), run this once with each on
PYTHONPATH, alternately, a few times.
"""
from __future__ import annotations

import argparse
import gc
import os
import sqlite3
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "bench"

import lpgdb  # noqa: E402

CALLS = 2000
Q = "MATCH (p:P {id: $id}) RETURN p.name"


def cpu_per_call(fn, reps: int) -> float:
    """µs of CPU per call of a loop of CALLS calls (min over ``reps`` repetitions)."""
    best = float("inf")
    for _ in range(reps):
        gc.collect()
        n, t0 = 0, time.process_time()
        while True:
            fn()
            n += 1
            t = time.process_time() - t0
            if t >= 0.03:
                break
        best = min(best, t / n)
    return best / CALLS * 1e6


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=10_000)
    p.add_argument("--reps", type=int, default=7)
    args = p.parse_args(argv)
    n = args.nodes
    db = lpgdb.connect(":memory:")
    db.bulk_load(nodes=(("P", {"id": i * 7, "name": f"n{i}"}) for i in range(n)))
    db.create_index("P", "id")
    con = sqlite3.connect(":memory:", isolation_level=None)
    con.execute("CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT)")
    con.executemany("INSERT INTO p VALUES (?, ?)", ((i * 7, f"n{i}") for i in range(n)))
    ids = [(i * 7919) % n * 7 for i in range(CALLS)]
    stmt = db.prepare(Q) if hasattr(db, "prepare") else None

    def w0():
        ex = db.execute
        for _ in range(CALLS):
            ex("RETURN 1")

    def w0_sqlite():
        ex = con.execute
        for _ in range(CALLS):
            ex("SELECT 1").fetchone()

    def w3u():
        ex = db.execute
        for i in ids:
            ex(Q, {"id": i}).fetchone()

    def w3_prepared():
        if stmt is None:
            return w3u()
        ex = stmt.execute
        for i in ids:
            ex({"id": i}).fetchone()

    def w3_api():
        for i in ids:
            with db.snapshot() as s:
                s.node(s.key_lookup("P", "id", i)[0])["name"]

    def w3_sqlite():
        ex = con.execute
        for i in ids:
            ex("SELECT name FROM p WHERE id = ?", (i,)).fetchone()

    w0(), w3u(), w3_prepared()
    assert db.execute(Q, {"id": 14}).fetchone()[0] == "n2"
    r = {name: cpu_per_call(fn, args.reps) for name, fn in
         [("W0", w0), ("W0 sqlite", w0_sqlite), ("W3u", w3u), ("W3 prepared", w3_prepared),
          ("W3 api", w3_api), ("W3 sqlite", w3_sqlite)]}
    print(" ".join(f"{k}={v:.2f}us" for k, v in r.items()))
    print(f"W0 {r['W0 sqlite'] / r['W0']:.2f}x SQLite's SELECT 1; W3u {r['W3 sqlite'] / r['W3u']:.2f}x, "
          f"prepared {r['W3 sqlite'] / r['W3 prepared']:.2f}x, API {r['W3 sqlite'] / r['W3 api']:.2f}x "
          f"SQLite's prepared lookup; load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
