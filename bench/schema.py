"""Issue 11 item 4 figures: set_schema and check() on stored data, before and after, paired.

    python -m bench.schema --baseline /path/to/other/tree --reps 3 --results bench/results

The graph: N persons (id, name, age) and 3N KNOWS edges (since), the social workload's shape,
bulk loaded once into an on-disk database without a schema (default N = 200,000: 200k nodes,
600k edges, the issue's size). Each measurement runs in a fresh child process on a fresh copy of
that database, with PYTHONPATH at one source tree (``--baseline``: another checkout, built, to
compare against; this tree otherwise), the trees interleaved per repetition so that load drift
on a shared machine hits them alike:

    pass        db.set_schema(SOCIAL_SCHEMA)  (STRICT, EXCLUSIVE MANDATORY SINGLETON Person.id)
    fail_type   set_schema of a STRICT type whose `name` is INT64 (every node fails)
    fail_key    set_schema of SOCIAL_SCHEMA with the KEY on `age` (duplicates everywhere)
    check       db.check() with SOCIAL_SCHEMA enforced (set_schema untimed, before)
    count       set_schema of SOCIAL_SCHEMA plus FOR (x:personType) COUNT 0..100 OF y WITHIN
                (x)-[:KNOWS]->(y) (a participation constraint: degree counts)
    composite   set_schema of SOCIAL_SCHEMA with the KEY on (x.id, x.name) (a key of two
                properties: its key bytes made in C, part by part)

Reported per mode and tree: wall seconds and CPU seconds of the call (medians), extra memory =
the child's peak RSS minus its RSS just before the call (the open is lazy, so this is the call's
own peak), and what the call answered (violations found, complete or not).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

MODES = ("pass", "fail_type", "fail_key", "check", "count", "composite")


def _schemas():
    from bench.adapters.base import SOCIAL_SCHEMA
    return {"pass": SOCIAL_SCHEMA, "check": SOCIAL_SCHEMA,
            "fail_type": SOCIAL_SCHEMA.replace("name STRING", "name INT64"),
            "fail_key": SOCIAL_SCHEMA.replace("SINGLETON x.id", "SINGLETON x.age"),
            "count": SOCIAL_SCHEMA.replace("SINGLETON x.id\n", "SINGLETON x.id,\n  FOR (x:personType) COUNT 0..100 "
                                                                "OF y WITHIN (x)-[:KNOWS]->(y)\n"),
            "composite": SOCIAL_SCHEMA.replace("SINGLETON x.id", "SINGLETON (x.id, x.name)")}


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def _make(dbdir: str, n: int) -> None:
    import numpy as np
    import pyarrow as pa

    import lpgdb
    rng = np.random.default_rng(7)
    ids = np.arange(n, dtype=np.int64)
    persons = pa.table({"id:ID(Person)": ids, "name": pa.array([f"person{i}" for i in range(n)]),
                        "age:int": rng.integers(18, 90, n)})
    m = 3 * n
    knows = pa.table({":START_ID(Person)": rng.integers(0, n, m), ":END_ID(Person)": rng.integers(0, n, m),
                      "since:int": rng.integers(1990, 2024, m)})
    with lpgdb.connect(dbdir) as db:
        db.bulk_load(nodes={"Person": persons}, edges={"KNOWS": knows}, id_type="integer")
        db.checkpoint()


def _child(mode: str, dbdir: str) -> dict:
    import lpgdb
    ddl = _schemas()[mode]
    db = lpgdb.connect(dbdir)
    if mode == "check":
        db.set_schema(ddl)
    rss0 = _rss_mb()
    c0, t0 = time.process_time(), time.perf_counter()
    out: dict = {}
    try:
        if mode == "check":
            out["violations"] = len(db.check())
        else:
            db.set_schema(ddl)
            out["violations"] = 0
    except lpgdb.SchemaViolationError as e:
        out["violations"] = len(e.violations)
        out["complete"] = getattr(e, "complete", True)
        out["counts"] = getattr(e, "counts", None)
    out["s"] = time.perf_counter() - t0
    out["cpu_s"] = time.process_time() - c0
    out["extra_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss0
    db.close()
    return out


def _run(tree: str, mode: str, master: str, root: str) -> dict:
    dbdir = os.path.join(root, "run")
    shutil.rmtree(dbdir, ignore_errors=True)
    shutil.copytree(master, dbdir)
    try:
        env = dict(os.environ, PYTHONPATH=tree + os.pathsep + ROOT)
        # the script by path: the tree on PYTHONPATH may have a bench package without this module
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", mode, dbdir],
                           capture_output=True, text=True, env=env, cwd=ROOT, timeout=3600)
        if r.returncode != 0:
            return {"error": (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1]}
        return json.loads(r.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(dbdir, ignore_errors=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.schema")
    p.add_argument("--child", nargs=2, metavar=("MODE", "DBDIR"), help=argparse.SUPPRESS)
    p.add_argument("--make", nargs=2, metavar=("DBDIR", "N"), help=argparse.SUPPRESS)
    p.add_argument("--nodes", type=int, default=200_000)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--baseline", help="another built source tree to compare against")
    p.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "lpgdb-bench-schema"))
    p.add_argument("--results", help="directory for schema.md / schema.json")
    a = p.parse_args(argv)
    if a.child:
        print(json.dumps(_child(*a.child)))
        return 0
    if a.make:
        _make(a.make[0], int(a.make[1]))
        return 0
    os.makedirs(a.data, exist_ok=True)
    master = os.path.join(a.data, f"graph-{a.nodes}")
    if not os.path.exists(master):      # made by this tree (the baseline must read its format)
        env = dict(os.environ, PYTHONPATH=ROOT)
        subprocess.run([sys.executable, "-m", "bench.schema", "--make", master + ".tmp", str(a.nodes)],
                       check=True, env=env, cwd=ROOT)
        os.rename(master + ".tmp", master)
    trees = {"this": ROOT}
    if a.baseline:
        trees = {"baseline": os.path.abspath(a.baseline), "this": ROOT}
    modes = a.modes.split(",")
    runs = {(t, m): [] for t in trees for m in modes}
    loads = [os.getloadavg()[0]]
    root = tempfile.mkdtemp(prefix="runs-", dir=a.data)
    try:
        for _ in range(a.reps):
            for m in modes:
                for t, path in trees.items():
                    runs[(t, m)].append(_run(path, m, master, root))
                    loads.append(os.getloadavg()[0])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    lines = [f"### set_schema / check on stored data: {a.nodes:,} persons, {3 * a.nodes:,} KNOWS edges; "
             f"{a.reps} interleaved repetitions, medians; load avg {min(loads):.1f}-{max(loads):.1f} on "
             f"{os.cpu_count()} CPUs", "",
             "| mode | tree | wall s | CPU s | extra MB | violations reported | ratio to baseline (wall) |",
             "|---|---|---|---|---|---|---|"]
    med = {}
    for m in modes:
        for t in trees:
            good = [r for r in runs[(t, m)] if "error" not in r]
            if not good:
                lines.append(f"| {m} | {t} | failed: {runs[(t, m)][0].get('error')} | | | | |")
                continue
            s = statistics.median(r["s"] for r in good)
            med[(t, m)] = s
            v = good[0]["violations"]
            note = f"{v:,}" + ("" if good[0].get("complete", True) else " (stopped early)")
            ratio = (f"{med[('baseline', m)] / s:.1f}x faster" if t == "this" and ("baseline", m) in med else "")
            lines.append(f"| {m} | {t} | {s:.2f} | {statistics.median(r['cpu_s'] for r in good):.2f} | "
                         f"{statistics.median(r['extra_mb'] for r in good):.0f} | {note} | {ratio} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.results:
        os.makedirs(a.results, exist_ok=True)
        with open(os.path.join(a.results, "schema.md"), "w") as f:
            f.write(text)
        with open(os.path.join(a.results, "schema.json"), "w") as f:
            json.dump({"runs": {f"{t}/{m}": r for (t, m), r in runs.items()}, "loads": loads,
                       "trees": trees, "nodes": a.nodes}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
