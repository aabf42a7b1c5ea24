"""The opt-in large run (issue 10): lpgdb with a graph far larger than its memory budget.

    python -m bench --size large                 # 10M nodes / 100M edges
    python -m bench.large --nodes 1000000 --edges 10000000 --results /tmp/x   # a smaller rehearsal

What it does, each step in its own process so every figure is that process's own:

1. **load**: the persons and KNOWS edges are generated from a seed (numpy) and written as
   Neo4j-format CSV files of 5M rows each beside the database (pyarrow's CSV writer; timed
   apart, not part of the load); person i has id ``7i + 3``, name ``Person i``, age
   ``18 + i % 73``; edge k joins two persons drawn uniformly at random (duplicates possible: a
   multigraph), since ``1990 + k % 36``.  Then ``lpgdb.bulk_import`` builds the database from
   them (the C CSV reader; commits of 2^20 rows, a checkpoint whenever the overlay holds
   ``--memory-mb``), the CSV files are deleted, and a read-write open adds
   ``create_index("Person", "id")``, ``checkpoint()`` and ``close()``.
2. **reopen + reads** in a fresh process: the open's time and the anonymous memory it added
   (RssAnon, read after ``import lpgdb``), then 20,000 key lookups (each checked: the id maps
   to its person), 2,000 1-hop degrees (checked against degrees recomputed from the edge
   stream, after the reads and the memory figures), 200 2-hop distinct counts, and VmRSS /
   RssAnon after them.
3. a sampler thread in each process records the largest RssAnon seen (every 0.2 s), per phase
   of the load: the issue's "process anonymous memory stays <= 2 GB at every point".

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
    loader's): the CSV files."""
    sampler = Sampler()
    sampler.start()
    t0 = time.perf_counter()
    nodes, edges = write_csv(csvdir, n, m)
    return {"csv_s": time.perf_counter() - t0, "csv_files": len(nodes) + len(edges),
            "csv_mb": sum(os.path.getsize(p) for p in nodes + edges) / 2**20, "max_anon_mb": sampler.done()}


def load(path: str, n: int, m: int, csvdir: str, memory_mb: int) -> dict:
    import lpgdb
    sampler = Sampler()
    sampler.start()
    out: dict = {"anon_after_import_mb": _kb("RssAnon") / 1024, "memory_mb": memory_mb}
    names = sorted(os.listdir(csvdir))
    nodes = [os.path.join(csvdir, x) for x in names if x.startswith("persons-")]
    edges = [os.path.join(csvdir, x) for x in names if x.startswith("knows-")]
    t1 = time.perf_counter()
    last = [t1, 0]

    def progress(nbytes: int) -> None:      # called with the bytes read since the last call
        now = time.perf_counter()
        last[1] += nbytes
        if now - last[0] >= 60:
            last[0] = now
            print(f"  import {last[1] / 2**20:,.0f} MB of CSV read, {now - t1:.0f} s, anon "
                  f"{_kb('RssAnon') // 1024} MB (max {sampler.max_kb // 1024} MB)", file=sys.stderr, flush=True)

    got = lpgdb.bulk_import(path, {"Person": nodes}, {"KNOWS": edges}, id_type="integer",
                            progress=progress, memory_bytes=memory_mb << 20)
    if got != (n, m):
        raise SystemExit(f"bench.large: bulk_import loaded {got}, not {(n, m)}")
    t2 = time.perf_counter()
    print(f"  import done: {t2 - t1:.0f} s, max anon {sampler.max_kb // 1024} MB; create_index next",
          file=sys.stderr, flush=True)
    out["import_s"] = t2 - t1
    out["import_max_anon_mb"] = sampler.max_kb / 1024
    sampler.max_kb = 0
    for p in nodes + edges:
        os.remove(p)
    db = lpgdb.connect(path, sync="normal")
    db.create_index("Person", "id")
    t3 = time.perf_counter()
    out["index_s"] = t3 - t2
    db.checkpoint()
    t4 = time.perf_counter()
    out["final_checkpoint_s"] = t4 - t3
    out["checkpoints"] = db._engine.meta.manifest_seq
    db.close()
    out["load_s"] = time.perf_counter() - t1
    out["index_max_anon_mb"] = sampler.done()
    out["max_anon_mb"] = max(out["import_max_anon_mb"], out["index_max_anon_mb"])
    out["hwm_mb"] = _kb("VmHWM") / 1024
    return out


def reads(path: str, n: int, m: int) -> dict:
    sampler = Sampler()
    sampler.start()
    import lpgdb
    out: dict = {}
    anon0 = _kb("RssAnon")
    t0 = time.perf_counter()
    db = lpgdb.connect(path, readonly=True)
    out["open_s"] = time.perf_counter() - t0
    out["anon_open_mb"] = (_kb("RssAnon") - anon0) / 1024
    rng = random.Random(7)
    sample = [rng.randrange(n) for _ in range(20_000)]
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
    db.close()
    out["max_anon_mb"] = sampler.done()     # before the check below, which is not the database's
    # the degrees, recomputed from the edge stream (counting only the sampled persons)
    import numpy as np
    want = np.zeros(n, dtype=np.int64)
    for src, _d, _t in edge_chunks(n, m):
        want += np.bincount(src, minlength=n)
    out["w4_wrong"] = sum(1 for i, d in zip(deg_sample, degs) if int(want[i]) != d)
    out["hwm_mb"] = _kb("VmHWM") / 1024
    return out


def _child(step: str, path: str, n: int, m: int, csvdir: str, memory_mb: int) -> dict:
    cmd = [sys.executable, "-m", "bench.large", "--step", step, "--db", path, "--nodes", str(n),
           "--edges", str(m), "--csvdir", csvdir, "--memory-mb", str(memory_mb)]
    p = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise SystemExit(f"bench.large: step {step} failed (status {p.returncode})")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.large", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=10_000_000)
    p.add_argument("--edges", type=int, default=100_000_000)
    p.add_argument("--dbroot", default=None, help="where the database is created (default: a temp dir)")
    p.add_argument("--results", default=os.path.join(ROOT, "bench", "results"))
    p.add_argument("--memory-mb", type=int, default=MEMORY_MB,
                   help="bulk_import's memory_bytes in MiB (default %(default)s)")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--csvdir", help=argparse.SUPPRESS)
    p.add_argument("--step", help=argparse.SUPPRESS)
    p.add_argument("--db", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.step:
        res = (gen(a.csvdir, a.nodes, a.edges) if a.step == "csv"
               else load(a.db, a.nodes, a.edges, a.csvdir, a.memory_mb) if a.step == "load"
               else reads(a.db, a.nodes, a.edges))
        print(json.dumps(res))
        return 0
    base = tempfile.mkdtemp(prefix="lpgdb-large-", dir=a.dbroot)
    path = os.path.join(base, "graph.lpg")
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    loadavg_start = os.getloadavg()[0]
    try:
        print(f"large: {a.nodes:,} nodes, {a.edges:,} edges into {path}", file=sys.stderr)
        csvdir = os.path.join(base, "csv")
        os.mkdir(csvdir)
        cg = _child("csv", path, a.nodes, a.edges, csvdir, a.memory_mb)
        ld = _child("load", path, a.nodes, a.edges, csvdir, a.memory_mb)
        ld.update(csv_s=cg["csv_s"], csv_mb=cg["csv_mb"], csv_max_anon_mb=cg["max_anon_mb"])
        # allocated blocks, as du counts them (a WAL segment is sparse beyond its log)
        disk = sum(os.stat(os.path.join(d, f)).st_blocks * 512 for d, _x, fs in os.walk(path) for f in fs)
        rd = _child("reads", path, a.nodes, a.edges, csvdir, a.memory_mb)
    finally:
        if not a.keep:
            shutil.rmtree(base, ignore_errors=True)
    import lpgdb
    res = {"loadavg_start": loadavg_start, "nodes": a.nodes, "edges": a.edges, "load": ld, "reads": rd, "disk_mb": disk / 2**20,
           "started": started, "python": platform.python_version(), "platform": platform.platform(),
           "cpus": os.cpu_count(), "lpgdb": getattr(lpgdb, "__version__", "?"),
           "loadavg_end": os.getloadavg()[0]}
    os.makedirs(a.results, exist_ok=True)
    stem = "large" if (a.nodes, a.edges) == (10_000_000, 100_000_000) else f"large-{a.nodes}-{a.edges}"
    with open(os.path.join(a.results, stem + ".json"), "w") as f:
        json.dump(res, f, indent=1)
    md = render(res)
    with open(os.path.join(a.results, stem + ".md"), "w") as f:
        f.write(md)
    print(md)
    ok = rd["w3_wrong"] == 0 and rd["w4_wrong"] == 0
    return 0 if ok else 2


def render(r: dict) -> str:
    ld, rd = r["load"], r["reads"]
    worst = max(ld["max_anon_mb"], rd["max_anon_mb"])
    L = [f"### large: {r['nodes']:,} persons, {r['edges']:,} KNOWS edges (lpgdb only)", "",
         f"Run {r['started']} on {r['cpus']} CPUs, Python {r['python']}, {r['platform']}; "
         f"lpgdb {r['lpgdb']}. Generated from a seed as CSV files, loaded by `lpgdb.bulk_import` "
         f"(`python -m bench --size large`; bench/large.py has the method).", "",
         "| step | figure | largest anonymous memory |", "|---|---|---|",
         f"| write the CSV files (pyarrow, {CHUNK:,} rows a file, own process; not part of the load) | {ld['csv_s']:,.0f} s, {ld['csv_mb']:,.0f} MB | {ld['csv_max_anon_mb']:,.0f} MB |",
         f"| load: `lpgdb.bulk_import` of the CSV files (C reader; memory_bytes {ld['memory_mb']} MiB) | {ld['import_s']:,.0f} s ({r['edges'] / ld['import_s']:,.0f} edges/s) | {ld['import_max_anon_mb']:,.0f} MB |",
         f"| `create_index('Person', 'id')` + final checkpoint + close | {ld['index_s']:,.0f} s + {ld['final_checkpoint_s']:,.0f} s | {ld['index_max_anon_mb']:,.0f} MB |",
         f"| load total (import + index + checkpoint + close); checkpoints written | {ld['load_s']:,.0f} s; {ld['checkpoints']} |  |",
         f"| disk after close | {r['disk_mb']:,.0f} MB |  |",
         f"| reopen (fresh process) | {rd['open_s'] * 1000:,.1f} ms |  |",
         f"| anonymous memory added by the open | {rd['anon_open_mb']:,.1f} MB |  |",
         f"| 20,000 key lookups (+ node read, checked) | {rd['w3_per_s']:,.0f} /s, {rd['w3_wrong']} wrong |  |",
         f"| RSS / anonymous memory after them | {rd['rss_after_lookups_mb']:,.0f} MB / {rd['anon_after_lookups_mb']:,.0f} MB |  |",
         f"| 2,000 1-hop degrees (checked against the edge stream) | {rd['w4_per_s']:,.0f} /s, {rd['w4_wrong']} wrong |  |",
         f"| 200 2-hop distinct counts | {rd['w5_per_s']:,.1f} /s (mean {rd['w5_mean']:,.0f} nodes) |  |",
         f"| largest anonymous memory: loading process / reading process | {ld['max_anon_mb']:,.0f} MB / {rd['max_anon_mb']:,.0f} MB |  |",
         f"| load average (1 min) at start / end | {r['loadavg_start']:.1f} / {r['loadavg_end']:.1f} |  |",
         "",
         f"Target: process anonymous memory <= 2 GB at every point: {'met' if worst <= 2048 else '**not met**'} "
         f"(largest {worst:,.0f} MB, sampled every 0.2 s).", ""]
    return "\n".join(L)


if __name__ == "__main__":
    sys.exit(main())
