"""Issue 11 ingest figures, measured side by side in one run (paired, interleaved repetitions).

    python -m bench.ingest --size medium --reps 3          # W1 lpgdb / lpgdb+schema / Kùzu
    python -m bench.ingest --big-edges 10000000            # + 10M edges through `lpgdb import`

W1 here is the benchmark's persons.csv + knows.csv (bench/datagen.py) loaded into a new on-disk
database, each system in a fresh child process, the systems interleaved per repetition so that
load drift on a shared machine hits them alike:

    kuzu          CREATE NODE/REL TABLE, COPY Person, COPY KNOWS (durable when COPY returns)
    lpgdb         db.create_index("Person", "id"), then ONE db.bulk_load of both files through
                  lpgdb.CsvFiles (the CSV header given in code, as Kùzu's table declaration)
    lpgdb@schema  db.set_schema(SOCIAL_SCHEMA) (STRICT, KEY on Person.id), then the same load
    lpgdb@arrow   pyarrow.csv.read_csv of both files, then bulk_load of the two tables

Reported: seconds from the first call to the durable commit, edges/s = M / total seconds (the
same definition for every system), the CPU seconds of the child over the same span (all its
threads: Kùzu copies with several; on a loaded shared machine this ratio moves less than the
wall-clock one), Kùzu's edges/s over its KNOWS copy alone, peak RSS of the child.  ``--big-edges N`` also writes N edges over N/10 persons and times ``lpgdb import`` on
them (wall time and the child's peak RSS).  Results: bench/results/ingest.{md,json} with
``--results``.
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


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)       # every thread of the process
    return ru.ru_utime + ru.ru_stime


def _child(system: str, data: str, dbdir: str) -> dict:
    persons, knows = os.path.join(data, "persons.csv"), os.path.join(data, "knows.csv")
    out: dict = {}
    if system == "kuzu":
        import kuzu
        db = kuzu.Database(os.path.join(dbdir, "k.kuzu"))
        conn = kuzu.Connection(db)
        conn.execute("CREATE NODE TABLE Person(id INT64, name STRING, age INT64, PRIMARY KEY(id))")
        conn.execute("CREATE REL TABLE KNOWS(FROM Person TO Person, since INT64)")
        t0, c0 = time.perf_counter(), _cpu()
        conn.execute(f"COPY Person FROM '{persons}' (HEADER=true)")
        t1 = time.perf_counter()
        conn.execute(f"COPY KNOWS FROM '{knows}' (HEADER=true)")
        t2 = time.perf_counter()
        out.update(total_s=t2 - t0, edges_s=t2 - t1, cpu_s=_cpu() - c0)
        n = conn.execute("MATCH ()-[k:KNOWS]->() RETURN count(k)").get_next()[0]
    else:
        import lpgdb
        from bench.adapters.base import SOCIAL_SCHEMA
        db = lpgdb.connect(os.path.join(dbdir, "graph.lpg"))
        if system == "lpgdb@schema":
            db.set_schema(SOCIAL_SCHEMA)
        else:
            db.create_index("Person", "id")
        t0, c0 = time.perf_counter(), _cpu()
        if system == "lpgdb@arrow":
            import pyarrow.csv as pcsv
            p = pcsv.read_csv(persons).rename_columns(["id:ID(Person)", "name", "age"])
            k = pcsv.read_csv(knows).rename_columns([":START_ID(Person)", ":END_ID(Person)", "since"])
            db.bulk_load(nodes={"Person": p}, edges={"KNOWS": k})
        else:
            db.bulk_load(nodes={"Person": lpgdb.CsvFiles(persons, header="id:ID(Person),name,age:int")},
                         edges={"KNOWS": lpgdb.CsvFiles(knows, header=":START_ID(Person),:END_ID(Person),since:int")},
                         id_type="integer")
        out["total_s"] = time.perf_counter() - t0
        out["cpu_s"] = _cpu() - c0
        with db.snapshot() as s:
            n = s.edge_count("KNOWS")
        db.close()
    out["edges"] = n
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _run_child(system: str, data: str, root: str) -> dict:
    dbdir = tempfile.mkdtemp(prefix=system.replace("@", "_") + "-", dir=root)
    try:
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        r = subprocess.run([sys.executable, "-m", "bench.ingest", "--child", system, data, dbdir],
                           capture_output=True, text=True, env=env, cwd=ROOT, timeout=3600)
        if r.returncode != 0:
            return {"error": r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}"}
        return json.loads(r.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(dbdir, ignore_errors=True)


def _big(n_edges: int, root: str) -> dict:
    """N edges over N/10 persons as Neo4j-format CSV, then `lpgdb import` timed in a child."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv
    d = os.path.join(root, f"big-{n_edges}")
    os.makedirs(d, exist_ok=True)
    n = max(n_edges // 10, 1)
    rng = np.random.default_rng(42)
    persons, knows = os.path.join(d, "persons.csv"), os.path.join(d, "knows.csv")
    if not os.path.exists(knows):
        ids = rng.permutation(np.arange(1, 2 ** 31, (2 ** 31) // (n + 1), dtype=np.int64)[:n])
        pcsv.write_csv(pa.table({"id:ID(Person)": ids, "name": pa.array([f"p{i}" for i in range(n)]),
                                 "age:int": rng.integers(18, 90, n)}), persons)
        for part in range(0, n_edges, 5_000_000):
            m = min(5_000_000, n_edges - part)
            t = pa.table({":START_ID(Person)": ids[rng.integers(0, n, m)], ":END_ID(Person)": ids[rng.integers(0, n, m)],
                          "since:int": rng.integers(1990, 2024, m)})
            with open(knows, "ab") as f:
                pcsv.write_csv(t, f, pcsv.WriteOptions(include_header=part == 0))
    dbdir = tempfile.mkdtemp(prefix="import-", dir=root)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run([sys.executable, "-m", "lpgdb", "import", os.path.join(dbdir, "db"), "--nodes=Person=" + persons,
                        "--edges=KNOWS=" + knows, "--no-progress"], capture_output=True, text=True, env=env, timeout=7200)
    secs = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    rss = after.ru_maxrss / 1024
    shutil.rmtree(dbdir, ignore_errors=True)
    return {"edges": n_edges, "nodes": n, "s": secs, "cpu_s": cpu, "peak_rss_mb": rss, "exit": r.returncode,
            "out": (r.stdout + r.stderr).strip()[-300:], "bytes": os.path.getsize(knows) + os.path.getsize(persons)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ingest")
    p.add_argument("--child", nargs=3, metavar=("SYSTEM", "DATA", "DBDIR"), help=argparse.SUPPRESS)
    p.add_argument("--size", default="medium")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--systems", default="kuzu,lpgdb,lpgdb@schema,lpgdb@arrow")
    p.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "lpgdb-bench-data"))
    p.add_argument("--big-edges", type=int, default=0)
    p.add_argument("--results", help="directory for ingest.md / ingest.json")
    a = p.parse_args(argv)
    if a.child:
        print(json.dumps(_child(*a.child)))
        return 0
    from bench import datagen
    data = os.path.join(a.data, a.size)
    datagen.ensure(data, datagen.SIZES[a.size])
    meta = json.load(open(os.path.join(data, "meta.json")))
    root = tempfile.mkdtemp(prefix="lpgdb-ingest-", dir=a.data)
    systems = a.systems.split(",")
    runs: dict = {s: [] for s in systems}
    loads = [os.getloadavg()[0]]
    try:
        for _ in range(a.reps):
            for s in systems:
                runs[s].append(_run_child(s, data, root))
                loads.append(os.getloadavg()[0])
        big = _big(a.big_edges, a.data) if a.big_edges else None
    finally:
        shutil.rmtree(root, ignore_errors=True)
    m = meta.get("edges") or meta.get("m")
    lines = [f"### ingest, {a.size}: {meta.get('nodes')} persons, {m} KNOWS edges; {a.reps} interleaved "
             f"repetitions, medians; load avg {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} CPUs", "",
             "| system | load s | edges/s (M / total) | ratio to kuzu | CPU s (all threads) | CPU ratio | "
             "kuzu KNOWS-only edges/s | peak RSS MB | ok |",
             "|---|---|---|---|---|---|---|---|---|"]
    med, cmed = {}, {}
    for s in systems:
        good = [r for r in runs[s] if "error" not in r]
        if not runs[s]:
            continue
        if not good:
            lines.append(f"| {s} | failed: {runs[s][0].get('error')} | | | | | no |")
            continue
        t = statistics.median(r["total_s"] for r in good)
        med[s] = t
        cpu = statistics.median(r.get("cpu_s", float("nan")) for r in good)
        cmed[s] = cpu
        ok = all(r["edges"] == m for r in good)
        only = statistics.median(r["edges_s"] for r in good) if s == "kuzu" else None
        lines.append(f"| {s} | {t:.2f} | {m / t / 1e6:.2f} M | "
                     + (f"{med['kuzu'] / t:.2f}x" if "kuzu" in med and s != "kuzu" else "1.00x" if s == "kuzu" else "—")
                     + f" | {cpu:.2f} | "
                     + (f"{cmed['kuzu'] / cpu:.2f}x" if "kuzu" in cmed and s != "kuzu" else "1.00x" if s == "kuzu" else "—")
                     + f" | {'' if only is None else f'{m / only / 1e6:.2f} M'} | "
                     f"{statistics.median(r['rss_mb'] for r in good):.0f} | {'yes' if ok else 'NO'} |")
    if big:
        lines += ["", f"`lpgdb import` of {big['edges']:,} edges / {big['nodes']:,} nodes ({big['bytes'] / 2**20:.0f} MiB "
                  f"of CSV): {big['s']:.1f} s ({big['cpu_s']:.1f} s CPU), peak RSS {big['peak_rss_mb']:.0f} MB, "
                  f"exit {big['exit']}, load {os.getloadavg()[0]:.1f}"]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.results:
        os.makedirs(a.results, exist_ok=True)
        with open(os.path.join(a.results, "ingest.md"), "w") as f:
            f.write(text)
        with open(os.path.join(a.results, "ingest.json"), "w") as f:
            json.dump({"runs": runs, "big": big, "loads": loads, "meta": meta}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
