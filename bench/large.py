"""The opt-in large run (issue 10): lpgdb with a graph far larger than its memory budget.

    python -m bench --size large                 # 10M nodes / 100M edges
    python -m bench.large --nodes 1000000 --edges 10000000 --results /tmp/x   # a smaller rehearsal

What it does, each step in its own process so every figure is that process's own:

0. **csv**: the persons and KNOWS edges are generated from a seed (numpy) and written as
   Neo4j-format CSV files of 5M rows each (pyarrow's CSV writer; timed apart, not part of the
   load) into ``--data``/NODES-EDGES-sSEED/, once: a later run of the same size reuses them.
   Person i has id ``7i + 3``, name ``Person i``, age ``18 + i % 73``; edge k joins two
   persons drawn uniformly at random (duplicates possible: a multigraph), since
   ``1990 + k % 36``.
1. **load**: ``lpgdb.bulk_import`` builds the database from them, with
   ``indexes=[("Person", "id")]`` (the key index is written with the data: no index pass).
2. **update**: a writer opens the loaded database, commits 100 transactions of 100 writes
   (age updates of random persons and new KNOWS edges between them), then ``checkpoint()``
   (an incremental checkpoint of a small overlay over a large graph) and ``close()``.
3. **crash**: a writer commits ``--crash-mb`` of log (transactions of 1,000 new persons,
   automatic checkpoints off) and is killed with SIGKILL; **recover**: a fresh process opens
   it (the replay of that log: MB/s), checks the last persons, checkpoints and closes.
4. **reads** in a fresh process: a writer's open and close, then a read-only open (the time
   and the anonymous memory it added), 20,000 key lookups (each checked: the id maps to its
   person), 2,000 1-hop degrees (checked by the parent against degrees recomputed from the edge
   stream and the update step's edges), 200 2-hop distinct
   counts (native) and 20 as Cypher, and VmRSS / RssAnon after them.

Memory: a sampler thread in each step records the largest RssAnon of each phase (every
0.2 s), and the parent reads the step's /proc/PID/status every 0.5 s as well (its largest
RssAnon over the whole step, whatever the step's threads were doing): the issue's "process
anonymous memory stays <= 2 GB at every point".

Writes ``large.md`` and ``large.json`` into ``--results`` (default bench/results); other sizes
write ``large-NODES-EDGES.*``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 42
CHUNK = 5_000_000        # rows per generated CSV file
MEMORY_MB = 256          # bulk_import's memory_bytes: its default 768 MiB took the loader to 2.25 GB at 10M nodes


def person(i: int) -> tuple:
    return 7 * i + 3, f"Person {i}", 18 + i % 73


def edge_chunks(n: int, m: int, seed: int = SEED):
    """The m edges as numpy arrays (src index, dst index, since) of up to CHUNK rows each, from the
    seed alone: endpoints uniform over the n persons (a multigraph), since = 1990 + k % 36."""
    import numpy as np
    rng = np.random.default_rng(seed)
    for lo in range(0, m, CHUNK):
        k = min(CHUNK, m - lo)
        src = rng.integers(0, n, size=k, dtype=np.int64)
        dst = rng.integers(0, n, size=k, dtype=np.int64)
        yield src, dst, 1990 + (np.arange(lo, lo + k, dtype=np.int64) % 36)


def write_csv(d: str, n: int, m: int) -> tuple:
    """The persons and KNOWS edges as Neo4j-format CSV files in ``d`` (pieces of CHUNK rows, one
    group each: the first file has the header), written by pyarrow one chunk at a time."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv
    opts = pcsv.WriteOptions(include_header=False, quoting_style="none")
    nodes, edges = [], []
    for lo in range(0, n, CHUNK):
        i = np.arange(lo, min(n, lo + CHUNK), dtype=np.int64)
        t = pa.table({"id": 7 * i + 3,
                      "name": pc.binary_join_element_wise("Person ", pc.cast(pa.array(i), pa.string()), ""),
                      "age": 18 + i % 73})
        p = os.path.join(d, f"persons-{len(nodes):04d}.csv")
        with open(p, "wb") as f:
            if not nodes:
                f.write(b"id:ID(Person),name,age:int\n")
            pcsv.write_csv(t, f, opts)
        nodes.append(p)
    for src, dst, since in edge_chunks(n, m):
        t = pa.table({"s": 7 * src + 3, "d": 7 * dst + 3, "since": since})
        p = os.path.join(d, f"knows-{len(edges):04d}.csv")
        with open(p, "wb") as f:
            if not edges:
                f.write(b":START_ID(Person),:END_ID(Person),since:int\n")
            pcsv.write_csv(t, f, opts)
        edges.append(p)
    return nodes, edges


def _kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Sampler(threading.Thread):
    """The largest RssAnon of this process, sampled every ``period`` seconds."""

    def __init__(self, period: float = 0.2):
        super().__init__(daemon=True)
        self.period, self.max_kb, self.stop = period, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.max_kb = max(self.max_kb, _kb("RssAnon"))
            self.stop.wait(self.period)

    def done(self) -> float:
        self.stop.set()
        self.join()
        self.max_kb = max(self.max_kb, _kb("RssAnon"))
        return self.max_kb / 1024


def gen(csvdir: str, n: int, m: int) -> dict:
    """Step 0, in its own process (pyarrow's memory pool keeps what it freed, which is not the
    loader's): the CSV files, written once into ``csvdir`` (``done.json`` marks them complete)."""
    done = os.path.join(csvdir, "done.json")
    if os.path.exists(done):
        with open(done) as f:
            return dict(json.load(f), reused=True)
    for x in os.listdir(csvdir):              # an interrupted earlier run's files
        os.remove(os.path.join(csvdir, x))
    sampler = Sampler()
    sampler.start()
    t0 = time.perf_counter()
    nodes, edges = write_csv(csvdir, n, m)
    out = {"csv_s": time.perf_counter() - t0, "csv_files": len(nodes) + len(edges),
           "csv_mb": sum(os.path.getsize(p) for p in nodes + edges) / 2**20, "max_anon_mb": sampler.done()}
    with open(done + ".tmp", "w") as f:
        json.dump(out, f)
    os.replace(done + ".tmp", done)
    return dict(out, reused=False)


def load(path: str, n: int, m: int, csvdir: str, memory_mb: int) -> dict:
    import lpgdb
    sampler = Sampler()
    sampler.start()
    out: dict = {"anon_after_import_mb": _kb("RssAnon") / 1024, "memory_mb": memory_mb}
    names = sorted(os.listdir(csvdir))
    nodes = [os.path.join(csvdir, x) for x in names if x.startswith("persons-")]
    edges = [os.path.join(csvdir, x) for x in names if x.startswith("knows-")]
    t1 = time.perf_counter()
    c1 = time.process_time()
    last = [t1, 0]

    def progress(nbytes: int) -> None:      # called with the bytes read since the last call
        now = time.perf_counter()
        last[1] += nbytes
        if now - last[0] >= 60:
            last[0] = now
            print(f"  import {last[1] / 2**20:,.0f} MB of CSV read, {now - t1:.0f} s, anon "
                  f"{_kb('RssAnon') // 1024} MB (max {sampler.max_kb // 1024} MB), load "
                  f"{os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)

    got = lpgdb.bulk_import(path, {"Person": nodes}, {"KNOWS": edges}, id_type="integer",
                            progress=progress, memory_bytes=memory_mb << 20,
                            indexes=[("Person", "id")])
    if got != (n, m):
        raise SystemExit(f"bench.large: bulk_import loaded {got}, not {(n, m)}")
    out["import_s"] = time.perf_counter() - t1
    out["import_cpu_s"] = time.process_time() - c1
    out["max_anon_mb"] = sampler.done()
    out["hwm_mb"] = _kb("VmHWM") / 1024
    print(f"  import done: {out['import_s']:.0f} s, max anon {out['max_anon_mb']:.0f} MB",
          file=sys.stderr, flush=True)
    return out


def _persons(n: int, k: int, seed: int) -> list:
    rng = random.Random(seed)
    return [rng.randrange(n) for _ in range(k)]


UPDATE_TX, UPDATE_OPS = 100, 100


def update_edges(n: int) -> list:
    """The KNOWS edges the update step adds: (src index, dst index), from a seed."""
    ps = _persons(n, UPDATE_TX * UPDATE_OPS, 11)
    return [(ps[k], ps[k + 1]) for k in range(0, len(ps), 2)]


def update(path: str, n: int, m: int) -> dict:
    """Step 2: small transactions over the large graph, an incremental checkpoint, close."""
    import lpgdb
    sampler = Sampler()
    sampler.start()
    out: dict = {}
    t0 = time.perf_counter()
    db = lpgdb.connect(path, create=False)
    out["open_s"] = time.perf_counter() - t0
    new = update_edges(n)
    ages = _persons(n, UPDATE_TX * UPDATE_OPS // 2, 12)
    t0 = time.perf_counter()
    with db.snapshot() as s:     # the node ids of the persons (by key)
        ids = {i: s.key_lookup("Person", "id", person(i)[0])[0] for i in {x for e in new for x in e} | set(ages)}
    out["lookups_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    half = UPDATE_OPS // 2
    for t in range(UPDATE_TX):
        with db.transaction() as tx:
            for a, b in new[t * half:(t + 1) * half]:
                tx.create_edge(ids[a], "KNOWS", ids[b], {"since": 2030})
            for i in ages[t * half:(t + 1) * half]:
                tx.update_node(ids[i], set={"age": 200})
    out["tx_per_s"] = UPDATE_TX / (time.perf_counter() - t0)
    out["commits_anon_mb"] = _kb("RssAnon") / 1024
    t0 = time.perf_counter()
    db.checkpoint()
    out["checkpoint_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    db.close()
    out["close_s"] = time.perf_counter() - t0
    out["max_anon_mb"] = sampler.done()
    return out


CRASH_BATCH = 1000


def crash(path: str, n: int, crash_mb: int) -> None:
    """Step 3a: commit ``crash_mb`` of log (new persons n, n+1, ...; no checkpoint) and die by
    SIGKILL.  Prints how many persons it committed (each commit durable: sync="full")."""
    import signal
    import lpgdb
    db = lpgdb.connect(path, create=False, checkpoint_wal_bytes=1 << 40, checkpoint_mem_bytes=1 << 40)
    eng = db._engine
    start = eng.wal.end_lsn
    k = 0
    t0 = time.perf_counter()
    while eng.wal.end_lsn - start < crash_mb << 20:
        with db.transaction() as tx:
            for j in range(n + k, n + k + CRASH_BATCH):
                i, name, age = person(j)
                tx.create_node("Person", {"id": i, "name": name, "age": age})
        k += CRASH_BATCH
    out = {"crash_persons": k, "crash_wal_mb": (eng.wal.end_lsn - start) / 2**20,
           "crash_commit_s": time.perf_counter() - t0, "crash_anon_mb": _kb("RssAnon") / 1024}
    print(json.dumps(out), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def recover(path: str, n: int, k: int) -> dict:
    """Step 3b: open after the SIGKILL (replay), check the persons the crash step committed,
    checkpoint, close."""
    import lpgdb
    sampler = Sampler()
    sampler.start()
    out: dict = {}
    t0 = time.perf_counter()
    c0 = time.process_time()
    db = lpgdb.connect(path, create=False)
    out["recover_s"] = time.perf_counter() - t0
    out["recover_cpu_s"] = time.process_time() - c0
    eng = db._engine
    out["replayed_mb"] = (eng.replayed_to - eng.meta.checkpoint_lsn) / 2**20
    out["recover_anon_mb"] = _kb("RssAnon") / 1024
    wrong = 0
    with db.snapshot() as s:
        for j in [n, n + k // 2, n + k - 1]:
            ids = s.key_lookup("Person", "id", person(j)[0])
            if len(ids) != 1 or s.node(ids[0])["name"] != person(j)[1]:
                wrong += 1
        if s.key_lookup("Person", "id", person(n + k)[0]):
            wrong += 1                           # never committed
        out["nodes_after"] = s.node_count("Person")
    out["recover_wrong"] = wrong
    t0 = time.perf_counter()
    db.checkpoint()
    out["checkpoint_s"] = time.perf_counter() - t0
    db.close()
    out["max_anon_mb"] = sampler.done()
    return out


def reads(path: str, n: int, m: int) -> dict:
    sampler = Sampler()
    sampler.start()
    import lpgdb
    out: dict = {}
    t0 = time.perf_counter()
    lpgdb.connect(path, create=False).close()
    out["writer_open_close_s"] = time.perf_counter() - t0
    anon0 = _kb("RssAnon")
    t0 = time.perf_counter()
    db = lpgdb.connect(path, readonly=True)
    out["open_s"] = time.perf_counter() - t0
    out["anon_open_mb"] = (_kb("RssAnon") - anon0) / 1024
    sample = _persons(n, 20_000, 7)
    t0 = time.perf_counter()
    wrong = 0
    for i in sample:
        with db.snapshot() as s:
            ids = s.key_lookup("Person", "id", person(i)[0])
            if ids != [i] or s.node(ids[0])["name"] != person(i)[1]:
                wrong += 1
    out["w3_per_s"] = len(sample) / (time.perf_counter() - t0)
    out["w3_wrong"] = wrong
    out["rss_after_lookups_mb"] = _kb("VmRSS") / 1024
    out["anon_after_lookups_mb"] = _kb("RssAnon") / 1024
    deg_sample = sample[:2_000]
    t0 = time.perf_counter()
    degs = []
    for i in deg_sample:
        with db.snapshot() as s:
            degs.append(s.degree(s.key_lookup("Person", "id", person(i)[0])[0], "out", "KNOWS"))
    out["w4_per_s"] = len(deg_sample) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    reach = []
    for i in sample[:200]:
        with db.snapshot() as s:
            reach.append(s.count_reach(s.key_lookup("Person", "id", person(i)[0])[0], 2, "out", "KNOWS"))
    out["w5_per_s"] = 200 / (time.perf_counter() - t0)
    out["w5_mean"] = sum(reach) / len(reach)
    q = ("MATCH (p:Person {id: $id})-[:KNOWS]->()-[:KNOWS]->(x) WHERE x <> p "
         "RETURN count(DISTINCT x) AS c")
    db.execute(q, {"id": person(sample[-1])[0]}).single()      # untimed: parse + plan once
    t0 = time.perf_counter()
    cy_wrong = 0
    for i, want in zip(sample[:20], reach[:20]):
        got = db.execute(q, {"id": person(i)[0]}).single()["c"]
        cy_wrong += got != want
    out["w5_cypher_per_s"] = 20 / (time.perf_counter() - t0)
    out["w5_cypher_wrong"] = cy_wrong
    out["rss_after_reads_mb"] = _kb("VmRSS") / 1024
    db.close()
    out["max_anon_mb"] = sampler.done()
    out["hwm_mb"] = _kb("VmHWM") / 1024
    out["degrees"] = [deg_sample, degs]     # checked by the parent (check_degrees): not this process's memory
    return out


def check_degrees(n: int, m: int, deg_sample: list, degs: list) -> int:
    """How many of the degrees read are wrong: recomputed from the edge stream and the update
    step's edges (in the parent, after the reading process ended)."""
    import numpy as np
    want = np.zeros(n, dtype=np.int64)
    for src, _d, _t in edge_chunks(n, m):
        want += np.bincount(src, minlength=n)
    for a, _b in update_edges(n):
        want[a] += 1
    return sum(1 for i, d in zip(deg_sample, degs) if int(want[i]) != d)


def _child(step: str, a, path: str, csvdir: str, *extra, killed: bool = False) -> dict:
    """Run one step in its own process; its result, with ``watch_max_anon_mb``: the largest
    RssAnon the parent read from /proc/PID/status (every 0.5 s) while it ran."""
    cmd = [sys.executable, "-m", "bench.large", "--step", step, "--db", path, "--nodes", str(a.nodes),
           "--edges", str(a.edges), "--csvdir", csvdir, "--memory-mb", str(a.memory_mb),
           "--crash-mb", str(a.crash_mb), *extra]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    peak = [0]
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            try:
                with open(f"/proc/{p.pid}/status") as f:
                    for line in f:
                        if line.startswith("RssAnon:"):
                            peak[0] = max(peak[0], int(line.split()[1]))
            except OSError:
                pass
            stop.wait(0.5)
    w = threading.Thread(target=watch, daemon=True)
    w.start()
    text, _ = p.communicate()
    stop.set()
    w.join()
    if p.returncode != 0 and not (killed and p.returncode == -9):
        raise SystemExit(f"bench.large: step {step} failed (status {p.returncode})")
    res = json.loads(text.strip().splitlines()[-1])
    res["watch_max_anon_mb"] = peak[0] / 1024
    res["step_s"] = time.perf_counter() - t0
    print(f"large: step {step} done in {res['step_s']:.0f} s, largest RssAnon {peak[0] / 1024:,.0f} MB "
          f"(load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
    return res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.large", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=10_000_000)
    p.add_argument("--edges", type=int, default=100_000_000)
    p.add_argument("--dbroot", default=None, help="where the database is created (default: a temp dir)")
    p.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "lpgdb-large-data"),
                   help="where the generated CSV files are kept for later runs (default %(default)s)")
    p.add_argument("--results", default=os.path.join(ROOT, "bench", "results"))
    p.add_argument("--memory-mb", type=int, default=MEMORY_MB,
                   help="bulk_import's memory_bytes in MiB (default %(default)s)")
    p.add_argument("--crash-mb", type=int, default=64, help="log written before the SIGKILL (default %(default)s)")
    p.add_argument("--keep", action="store_true", help="keep the database")
    p.add_argument("--csvdir", help=argparse.SUPPRESS)
    p.add_argument("--step", help=argparse.SUPPRESS)
    p.add_argument("--db", help=argparse.SUPPRESS)
    p.add_argument("--k", type=int, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.step:
        if a.step == "crash":
            crash(a.db, a.nodes, a.crash_mb)
            return 1
        res = (gen(a.csvdir, a.nodes, a.edges) if a.step == "csv"
               else load(a.db, a.nodes, a.edges, a.csvdir, a.memory_mb) if a.step == "load"
               else update(a.db, a.nodes, a.edges) if a.step == "update"
               else recover(a.db, a.nodes, a.k) if a.step == "recover"
               else reads(a.db, a.nodes, a.edges))
        print(json.dumps(res))
        return 0
    base = tempfile.mkdtemp(prefix="lpgdb-large-", dir=a.dbroot)
    path = os.path.join(base, "graph.lpg")
    csvdir = os.path.join(a.data, f"{a.nodes}-{a.edges}-s{SEED}")
    os.makedirs(csvdir, exist_ok=True)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    loadavg_start = os.getloadavg()[0]
    try:
        print(f"large: {a.nodes:,} nodes, {a.edges:,} edges into {path} (CSV in {csvdir})", file=sys.stderr)
        cg = _child("csv", a, path, csvdir)
        ld = _child("load", a, path, csvdir)
        # allocated blocks, as du counts them (a WAL segment is sparse beyond its log)
        disk = sum(os.stat(os.path.join(d, f)).st_blocks * 512 for d, _x, fs in os.walk(path) for f in fs)
        up = _child("update", a, path, csvdir)
        cr = _child("crash", a, path, csvdir, killed=True)
        rc = _child("recover", a, path, csvdir, "--k", str(cr["crash_persons"]))
        rd = _child("reads", a, path, csvdir)
        rd["w4_wrong"] = check_degrees(a.nodes, a.edges, *rd.pop("degrees"))
    finally:
        if not a.keep:
            shutil.rmtree(base, ignore_errors=True)
    import lpgdb
    res = {"loadavg_start": loadavg_start, "nodes": a.nodes, "edges": a.edges, "csv": cg, "load": ld,
           "update": up, "crash": cr, "recover": rc, "reads": rd, "disk_mb": disk / 2**20,
           "started": started, "python": platform.python_version(), "platform": platform.platform(),
           "cpus": os.cpu_count(), "lpgdb": getattr(lpgdb, "__version__", "?"),
           "loadavg_end": os.getloadavg()[0]}
    os.makedirs(a.results, exist_ok=True)
    stem = "large" if (a.nodes, a.edges) == (10_000_000, 100_000_000) else f"large-{a.nodes}-{a.edges}"
    with open(os.path.join(a.results, stem + ".json"), "w") as f:
        json.dump(res, f, indent=1)
    md = render(res)
    with open(os.path.join(a.results, stem + ".md"), "a") as f:
        f.write(md + "\n")
    print(md)
    ok = (rd["w3_wrong"] == 0 and rd["w4_wrong"] == 0 and rd["w5_cypher_wrong"] == 0
          and rc["recover_wrong"] == 0)
    return 0 if ok else 2


def render(r: dict) -> str:
    cg, ld, up, cr, rc, rd = r["csv"], r["load"], r["update"], r["crash"], r["recover"], r["reads"]
    steps = [cg, ld, up, cr, rc, rd]
    worst = max(max(x.get("max_anon_mb", 0), x.get("watch_max_anon_mb", 0)) for x in steps[1:])

    def mem(x):
        return f"{max(x.get('max_anon_mb', 0), x.get('watch_max_anon_mb', 0)):,.0f} MB"
    L = [f"### large: {r['nodes']:,} persons, {r['edges']:,} KNOWS edges (lpgdb only)", "",
         f"Run {r['started']} on {r['cpus']} CPUs, Python {r['python']}, {r['platform']}; "
         f"lpgdb {r['lpgdb']}. Generated from a seed as CSV files, loaded by `lpgdb.bulk_import` "
         f"(`python -m bench --size large`; bench/large.py has the method). Each step is its own "
         f"process; memory is its largest RssAnon (thread every 0.2 s + parent every 0.5 s).", "",
         "| step | figure | largest anonymous memory |", "|---|---|---|",
         f"| write the CSV files (pyarrow, {CHUNK:,} rows a file, own process; not part of the load{'; reused from an earlier run' if cg.get('reused') else ''}) | {cg['csv_s']:,.0f} s, {cg['csv_mb']:,.0f} MB | {cg['max_anon_mb']:,.0f} MB |",
         f"| load: `lpgdb.bulk_import(..., indexes=[('Person', 'id')])` (memory_bytes {ld['memory_mb']} MiB) | {ld['import_s']:,.0f} s, {ld['import_cpu_s']:,.0f} s CPU ({r['edges'] / ld['import_s']:,.0f} edges/s) | {mem(ld)} |",
         f"| disk after the load | {r['disk_mb']:,.0f} MB |  |",
         f"| writer open; {UPDATE_TX} transactions of {UPDATE_OPS} writes; checkpoint; close | {up['open_s'] * 1000:,.0f} ms; {up['tx_per_s']:,.0f} tx/s; {up['checkpoint_s']:,.1f} s; {up['close_s']:,.1f} s | {mem(up)} |",
         f"| commits of {CRASH_BATCH:,} new persons until {cr['crash_wal_mb']:,.0f} MB of log, then SIGKILL | {cr['crash_persons']:,} persons in {cr['crash_commit_s']:,.0f} s | {cr['watch_max_anon_mb']:,.0f} MB |",
         f"| recovery: open replaying {rc['replayed_mb']:,.0f} MB of log; checkpoint | {rc['recover_s']:,.2f} s ({rc['replayed_mb'] / max(rc['recover_cpu_s'], 1e-9):,.0f} MB per CPU s), {rc['recover_wrong']} wrong; {rc['checkpoint_s']:,.1f} s | {mem(rc)} |",
         f"| reopen: writer open + close / read-only open (fresh process) | {rd['writer_open_close_s'] * 1000:,.1f} ms / {rd['open_s'] * 1000:,.1f} ms |  |",
         f"| anonymous memory added by the read-only open | {rd['anon_open_mb']:,.1f} MB |  |",
         f"| 20,000 key lookups (+ node read, checked) | {rd['w3_per_s']:,.0f} /s, {rd['w3_wrong']} wrong |  |",
         f"| RSS / anonymous memory after them | {rd['rss_after_lookups_mb']:,.0f} MB / {rd['anon_after_lookups_mb']:,.0f} MB |  |",
         f"| 2,000 1-hop degrees (checked against the edge stream) | {rd['w4_per_s']:,.0f} /s, {rd['w4_wrong']} wrong |  |",
         f"| 200 2-hop distinct counts (native count_reach) | {rd['w5_per_s']:,.1f} /s (mean {rd['w5_mean']:,.0f} nodes) |  |",
         f"| 20 2-hop distinct counts in Cypher, after one untimed (checked against count_reach) | {rd['w5_cypher_per_s']:,.1f} /s, {rd['w5_cypher_wrong']} wrong |  |",
         f"| reading process | | {mem(rd)} |",
         f"| load average (1 min) at start / end | {r['loadavg_start']:.1f} / {r['loadavg_end']:.1f} |  |",
         "",
         f"Target: process anonymous memory <= 2 GB at every point: {'met' if worst <= 2048 else '**not met**'} "
         f"(largest {worst:,.0f} MB, CSV generation excluded).", ""]
    return "\n".join(L)


if __name__ == "__main__":
    sys.exit(main())
