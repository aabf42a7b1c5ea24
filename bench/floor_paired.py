"""Issue 12's per-call targets, paired: W0 (``db.execute("RETURN 1")``) and W3u (a key lookup
written as a query) against SQLite in the same process, in many short alternating rounds.

    python -m bench.floor_paired [--rounds 50] [--calls 2000] [--runs 5] [--out FILE.json]
    python -m bench.floor_paired --callgrind [--calls 2000]

What is compared (10,000 nodes ``(:P {id: 7i, name: "n<i>"})`` with a user index on P.id, and
with W3c more; SQLite ``p(id INTEGER PRIMARY KEY, name TEXT)`` in memory):

    W0   lpgdb  db.execute("RETURN 1")
         SQLite con.execute("SELECT 1").fetchone()
    W3u  lpgdb  db.execute("MATCH (p:P {id: $id}) RETURN p.name", {"id": k}).fetchone()
         SQLite con.execute("SELECT name FROM p WHERE id = ?", (k,)).fetchone()
               (sqlite3 keeps the prepared statement in its statement cache)
         2,000 keys, the same in every round: lpgdb answers a key read before at the same
         snapshot from the answer it kept (storage's PointRead)
    W3w  W3u with one committed write of another node before every block (untimed): the
         snapshot moved, so each kept answer is first confirmed by a C index probe
    W3c  W3u over keys never read before (a fresh shuffled 2,000 per block): the whole
         lookup (index probe, row read and decode)
    W3p  lpgdb  db.prepare(...).execute({"id": k}).fetchone() beside W3u's SQLite loop
    W3t  the key written into the text, as string-building applications do:
         lpgdb  db.execute(f"MATCH (p:P {{id: {k}}}) RETURN p.name").fetchone()
         SQLite con.execute(f"SELECT name FROM p WHERE id = {k}").fetchone()
               going round W3u's 2,000 keys from block to block: each text is new to both
               statement caches (lpgdb keeps 512 texts, sqlite3 128), so SQLite compiles every
               text and lpgdb shapes it
               (lpgdb/query/literals.py: the literal becomes a hidden parameter)

Both systems answer the same keys in the same order (every answer checked, W3c's after the
timed rounds so that they stay cold).

Clock mode (default): each round times one block of ``--calls`` calls of each system, back to
back, the order alternating between rounds (lpgdb first in even rounds), after two warm-up
rounds; the garbage collector is off while a block runs (collected between rounds).  A round's
ratio is SQLite's block time / lpgdb's (> 1: lpgdb faster), so a change of the machine's load
between rounds hits both sides of a ratio alike; reported: the median of the rounds' ratios and
their interquartile range, by CPU time (``time.process_time_ns``, primary) and by wall time.
``--runs N`` repeats the whole thing in N fresh processes and reports each run and the spread of
the N medians, with the 1-minute load average before and after.

Callgrind mode (``--callgrind``): instructions per call, independent of the load.  Each child
process (under ``valgrind --tool=callgrind``) builds both databases and runs every loop
(warm-up included); the baseline runs each loop ``--calls`` times, and one further run per loop
runs that loop ``5 x --calls`` times: the loop's instructions per call are the difference
divided by the difference in calls (``PYTHONHASHSEED=0``).  W3w's write comes before every
2,000 calls there, so 4 writes fall in the difference (about 1% of a call's count).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "bench"

import lpgdb  # noqa: E402

NODES = 10_000
KEYS = 2_000
Q = "MATCH (p:P {id: $id}) RETURN p.name"
SQ = "SELECT name FROM p WHERE id = ?"
WORKLOADS = ("W0", "W3u", "W3p", "W3t", "W3w", "W3c")   # run in this order: W3c's kept answers and rows
# (100,000) grow the heap and slowed a workload run after them (W3p: 1.70x after W3c, 2.36x before)
REF = "sqlite"


class Pair:
    """lpgdb and SQLite holding the same persons: ``NODES`` with ids 7i (W3u's 2,000 keys are
    among them) and ``cold`` more, looked up once each by W3c, in a seeded shuffled order."""

    def __init__(self, cold: int = 0):
        n = NODES + cold
        self.db = db = lpgdb.connect(":memory:")
        db.bulk_load(nodes=(("P", {"id": i * 7, "name": f"n{i}"}) for i in range(n)))
        db.create_index("P", "id")
        db.bulk_load(nodes=[("Q", {"n": 0})])       # W3w writes this node between rounds
        self.con = con = sqlite3.connect(":memory:", isolation_level=None)
        con.execute("CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT)")
        con.executemany("INSERT INTO p VALUES (?, ?)", ((i * 7, f"n{i}") for i in range(n)))
        con.execute("CREATE TABLE q(n INTEGER)")
        con.execute("INSERT INTO q VALUES (0)")
        self.keys = [(i * 7919) % NODES * 7 for i in range(KEYS)]
        self.cold = [i * 7 for i in range(NODES, n)]
        random.Random(12).shuffle(self.cold)
        self.q = db.execute("MATCH (q:Q) RETURN id(q)").value()[0]
        self.writes = 0

    def loops(self) -> dict:
        """{(workload, system): (before, fn)}: ``fn(n)`` makes ``n`` calls (W3u, W3w: cycling
        through the 2,000 keys; W3c: the next ``n`` cold keys of that system); ``before()`` (or
        None), untimed, runs before each timed block: W3w's one committed write of another
        node (so the LSN moved and no answer is known at the new snapshot)."""
        db, con, keys = self.db, self.con, self.keys
        stmt = db.prepare(Q)
        nk = len(keys)

        def seq(n):
            return (keys * (n // nk + 1))[:n] if n > nk else keys[:n]

        def cold_seq():
            it = iter(self.cold)
            return lambda n: [next(it) for _ in range(n)]

        def w0(n):
            ex = db.execute
            for _ in range(n):
                ex("RETURN 1")

        def w0_sqlite(n):
            ex = con.execute
            for _ in range(n):
                ex("SELECT 1").fetchone()

        def w3(ks):
            def run(n):
                ex = db.execute
                for k in ks(n):
                    ex(Q, {"id": k}).fetchone()
            return run

        def w3p(n):
            ex = stmt.execute
            for k in seq(n):
                ex({"id": k}).fetchone()

        def ring():
            at = [0]                 # where the last block stopped: the texts go round all the keys

            def next_keys(n):
                start = at[0]
                at[0] = (start + n) % nk
                return [keys[(start + i) % nk] for i in range(n)]
            return next_keys

        def w3t(ks):
            def run(n):
                ex = db.execute
                for k in ks(n):
                    ex(f"MATCH (p:P {{id: {k}}}) RETURN p.name").fetchone()
            return run

        def w3t_sqlite(ks):
            def run(n):
                ex = con.execute
                for k in ks(n):
                    ex(f"SELECT name FROM p WHERE id = {k}").fetchone()
            return run

        def w3_sqlite(ks):
            def run(n):
                ex = con.execute
                for k in ks(n):
                    ex(SQ, (k,)).fetchone()
            return run

        def write():
            self.writes += 1
            with db.transaction() as tx:
                tx.update_node(self.q, set={"n": self.writes})

        def write_sqlite():
            con.execute("UPDATE q SET n = ?", (self.writes,))

        return {("W0", "lpgdb"): (None, w0), ("W0", REF): (None, w0_sqlite),
                ("W3u", "lpgdb"): (None, w3(seq)), ("W3u", REF): (None, w3_sqlite(seq)),
                ("W3w", "lpgdb"): (write, w3(seq)), ("W3w", REF): (write_sqlite, w3_sqlite(seq)),
                ("W3c", "lpgdb"): (None, w3(cold_seq())), ("W3c", REF): (None, w3_sqlite(cold_seq())),
                ("W3p", "lpgdb"): (None, w3p),
                ("W3t", "lpgdb"): (None, w3t(ring())), ("W3t", REF): (None, w3t_sqlite(ring()))}

    def check(self, keys) -> None:
        """Both systems give the same answers for ``keys`` (lpgdb's execute and prepare agree)."""
        db, con = self.db, self.con
        stmt = db.prepare(Q)
        for k in keys:
            want = con.execute(SQ, (k,)).fetchone()[0]
            got = (db.execute(Q, {"id": k}).fetchone()[0], stmt.execute({"id": k}).fetchone()[0])
            got += (db.execute(f"MATCH (p:P {{id: {k}}}) RETURN p.name").fetchone()[0],)
            if got != (want, want, want):
                raise SystemExit(f"answers differ for id {k}: lpgdb {got}, SQLite {want!r}")
        if db.execute("RETURN 1").fetchone()[0] != con.execute("SELECT 1").fetchone()[0]:
            raise SystemExit("RETURN 1 and SELECT 1 differ")

    def close(self):
        self.db.close()
        self.con.close()


def pair_of(w: str):
    """The two loop keys of workload ``w``: (lpgdb's, SQLite's); W3p's reference is W3u's."""
    return (w, "lpgdb"), ("W3u" if w == "W3p" else w, REF)


def _quartiles(xs):
    q = statistics.quantiles(xs, n=4)
    return q[0], statistics.median(xs), q[2]


def one_run(rounds: int, calls: int, workloads) -> dict:
    """One process's paired rounds: per workload the rounds' ratios (CPU and wall)."""
    p = Pair((rounds + 2) * calls if "W3c" in workloads else 0)
    p.check(p.keys)
    fns = p.loops()
    load0 = os.getloadavg()[0]
    out = {}
    cpu, wall = time.process_time_ns, time.perf_counter_ns
    for w in workloads:
        pair = [(s, fns[k]) for s, k in zip(("lpgdb", REF), pair_of(w))]
        got = {s: [] for s, _ in pair}
        for r in range(-2, rounds):              # two warm-up rounds
            gc.collect()
            order = pair if r % 2 == 0 else pair[::-1]
            for s, (before, fn) in order:
                if before is not None:
                    before()
                gc.disable()
                c0, w0 = cpu(), wall()
                fn(calls)
                c1, w1 = cpu(), wall()
                gc.enable()
                if r >= 0:
                    got[s].append((c1 - c0, w1 - w0))
        res = {}
        for i, clock in enumerate(("cpu", "wall")):
            ratios = [b[i] / a[i] for a, b in zip(got["lpgdb"], got[REF]) if a[i] > 0]
            q1, med, q3 = _quartiles(ratios)
            res[clock] = {"ratio_median": med, "ratio_q1": q1, "ratio_q3": q3,
                          "us_per_call": {s: statistics.median(x[i] for x in v) / calls / 1e3
                                          for s, v in got.items()}}
        out[w] = res
    if "W3c" in workloads:
        p.check(p.cold[:(rounds + 2) * calls])
    p.close()
    return {"rounds": rounds, "calls": calls, "load": [load0, os.getloadavg()[0]], "workloads": out}


def _print_run(i, r):
    parts = []
    for w, res in r["workloads"].items():
        c, wl = res["cpu"], res["wall"]
        us = c["us_per_call"]
        parts.append(f"{w} {c['ratio_median']:.2f}x [{c['ratio_q1']:.2f}-{c['ratio_q3']:.2f}] "
                     f"(lpgdb {us['lpgdb']:.2f} us, SQLite {us[REF]:.2f} us; wall {wl['ratio_median']:.2f}x)")
    print(f"run {i}: " + "; ".join(parts) + f"; load {r['load'][0]:.1f} -> {r['load'][1]:.1f}", flush=True)


def clock_mode(args) -> dict:
    runs = []
    for i in range(args.runs):
        if args.runs == 1:
            r = one_run(args.rounds, args.calls, args.workloads)
        else:       # a fresh process per run
            cmd = [sys.executable, "-m", "bench.floor_paired", "--rounds", str(args.rounds),
                   "--calls", str(args.calls), "--workloads", ",".join(args.workloads), "--json"]
            r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        runs.append(r)
        _print_run(i + 1, r)
    summary = {}
    for w in args.workloads:
        meds = [r["workloads"][w]["cpu"]["ratio_median"] for r in runs]
        walls = [r["workloads"][w]["wall"]["ratio_median"] for r in runs]
        summary[w] = {"cpu_medians": meds, "cpu_median_of_runs": statistics.median(meds),
                      "cpu_min": min(meds), "cpu_max": max(meds), "wall_medians": walls}
        if len(runs) > 1:
            print(f"{w}: CPU ratio median of {len(runs)} runs {statistics.median(meds):.2f}x, "
                  f"spread {min(meds):.2f}-{max(meds):.2f}x (wall {min(walls):.2f}-{max(walls):.2f}x)")
    loads = [x for r in runs for x in r["load"]]
    print(f"load average {min(loads):.1f}-{max(loads):.1f}")
    return {"mode": "clock", "runs": runs, "summary": summary}


# ---- callgrind mode ---------------------------------------------------------------------------

def child(counts: dict, cold: int) -> None:
    """Build (with ``cold`` more nodes: the same in every run of one measurement, so that the
    difference of two runs is only their loops), warm every loop named in ``counts``, then run
    each ``counts[key]`` times (under callgrind)."""
    p = Pair(cold)
    fns = p.loops()

    def run(key, n):        # W3w: its write before every block of KEYS calls (~1% of a call)
        before, fn = fns[key]
        for i in range(0, n, KEYS):
            if before is not None:
                before()
            fn(min(KEYS, n - i))
    for key in counts:
        run(key, KEYS)
    gc.collect()
    for key, n in counts.items():
        run(key, n)


def _instructions(counts: dict, cold: int) -> int:
    spec = ",".join(f"{w}:{s}={n}" for (w, s), n in counts.items())
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                        sys.executable, "-m", "bench.floor_paired", "--child", spec, "--cold", str(cold)],
                       check=True, capture_output=True, env=env)
        with open(out) as f:
            m = re.search(r"^(?:totals|summary): (\d+)", f.read(), re.M)
    return int(m.group(1))


def callgrind_mode(args) -> dict:
    keys = list(dict.fromkeys(k for w in args.workloads for k in pair_of(w)))
    n1, n2 = args.calls, 5 * args.calls
    cold = KEYS + n2 if "W3c" in args.workloads else 0
    base = _instructions({k: n1 for k in keys}, cold)
    per = {k: (_instructions({**{j: n1 for j in keys}, k: n2}, cold) - base) / (n2 - n1) for k in keys}
    out = {}
    for w in args.workloads:
        a, b = (per[k] for k in pair_of(w))
        out[w] = {"lpgdb": a, REF: b, "ratio": b / a}
        print(f"{w}: lpgdb {a / 1e3:.2f}k instructions per call, SQLite {b / 1e3:.2f}k: {b / a:.2f}x")
    return {"mode": "callgrind", "calls": [n1, n2], "workloads": out}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=50)
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--runs", type=int, default=1, help="fresh processes (clock mode)")
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--callgrind", action="store_true")
    p.add_argument("--out")
    p.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--cold", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child({tuple(k.split(":")): int(n) for k, n in (x.split("=") for x in args.child.split(","))}, args.cold)
        return 0
    asked = set(args.workloads.split(","))
    if not asked <= set(WORKLOADS):
        p.error(f"--workloads: choose among {','.join(WORKLOADS)}")
    args.workloads = [w for w in WORKLOADS if w in asked]      # always in this order (W3c last)
    if args.json:
        json.dump(one_run(args.rounds, args.calls, args.workloads), sys.stdout)
        return 0
    res = callgrind_mode(args) if args.callgrind else clock_mode(args)
    res["lpgdb_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                         text=True, cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
