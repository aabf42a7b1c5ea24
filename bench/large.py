"""The opt-in large run (issue 10): lpgdb with a graph far larger than its memory budget.

    python -m bench --size large                 # 10M nodes / 100M edges (about an hour here)
    python -m bench.large --nodes 1000000 --edges 10000000 --results /tmp/x   # a smaller rehearsal

What it does, each step in its own process so every figure is that process's own:

1. **load**: a fresh database; ``bulk_load`` of the persons in batches of 1M and of the KNOWS
   edges in batches of 500k (one transaction each; checkpoints happen on their own when the
   overlay passes ``checkpoint_mem_bytes``, set to 768 MiB here); then ``checkpoint()`` and
   ``close()``.  The data is
   generated on the fly from a seed (nothing is held in memory): person i has id ``7i + 3``,
   edge k joins two persons drawn uniformly at random (duplicates possible: a multigraph).
2. **reopen + reads** in a fresh process: the open's time and the anonymous memory it added
   (RssAnon, read after ``import lpgdb``), then 20,000 key lookups (each checked: the id maps
   to its person), 2,000 1-hop degrees (checked against degrees recomputed from the edge
   stream), 200 2-hop distinct counts, and VmRSS / RssAnon after them.
3. a sampler thread in each process records the largest RssAnon seen (every 0.2 s): the
   issue's "process anonymous memory stays <= 2 GB at every point".

Writes ``large.md`` and ``large.json`` into ``--results`` (default bench/results).
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
EDGE_BATCH = 500_000     # edges per bulk_load call
OVERLAY_MB = 768         # checkpoint_mem_bytes of the load: fewer, larger checkpoints


def person(i: int) -> tuple:
    return 7 * i + 3, f"Person {i}", 18 + i % 73


def edge_stream(n: int, m: int, seed: int = SEED):
    """The m edges (src index, dst index, since), from the seed alone."""
    rng = random.Random(seed)
    rand = rng.randrange
    for k in range(m):
        yield rand(n), rand(n), 1990 + k % 36


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


def load(path: str, n: int, m: int) -> dict:
    import lpgdb
    sampler = Sampler()
    sampler.start()
    out: dict = {"anon_after_import_mb": _kb("RssAnon") / 1024}
    t0 = time.perf_counter()
    db = lpgdb.connect(path, sync="normal", checkpoint_mem_bytes=OVERLAY_MB << 20)
    db.create_index("Person", "id")
    for lo in range(0, n, 1_000_000):
        db.bulk_load(nodes=(("Person", {"id": pid, "name": name, "age": age})
                            for pid, name, age in map(person, range(lo, min(n, lo + 1_000_000)))))
    t1 = time.perf_counter()
    out["nodes_s"] = t1 - t0
    batch, done = [], 0
    for s, d, since in edge_stream(n, m):
        batch.append((s, "KNOWS", d, {"since": since}))
        if len(batch) == EDGE_BATCH:
            db.bulk_load(edges=batch)
            done += len(batch)
            batch = []
            if done % 5_000_000 == 0:
                print(f"  {done:,} edges, {time.perf_counter() - t1:.0f} s, anon "
                      f"{_kb('RssAnon') // 1024} MB (max {sampler.max_kb // 1024} MB)",
                      file=sys.stderr, flush=True)
    if batch:
        db.bulk_load(edges=batch)
    del batch
    t2 = time.perf_counter()
    out["edges_s"] = t2 - t1
    db.checkpoint()
    out["final_checkpoint_s"] = time.perf_counter() - t2
    out["checkpoints"] = db._engine.meta.manifest_seq
    db.close()
    out["load_s"] = time.perf_counter() - t0
    out["max_anon_mb"] = sampler.done()
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
    # the degrees, recomputed from the edge stream (counting only the sampled persons)
    want = dict.fromkeys(deg_sample, 0)
    for s, _d, _t in edge_stream(n, m):
        if s in want:
            want[s] += 1
    out["w4_wrong"] = sum(1 for i, d in zip(deg_sample, degs) if want[i] != d)
    out["max_anon_mb"] = sampler.done()
    out["hwm_mb"] = _kb("VmHWM") / 1024
    return out


def _child(step: str, path: str, n: int, m: int) -> dict:
    cmd = [sys.executable, "-m", "bench.large", "--step", step, "--db", path, "--nodes", str(n),
           "--edges", str(m)]
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
    p.add_argument("--keep", action="store_true")
    p.add_argument("--step", help=argparse.SUPPRESS)
    p.add_argument("--db", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.step:
        res = load(a.db, a.nodes, a.edges) if a.step == "load" else reads(a.db, a.nodes, a.edges)
        print(json.dumps(res))
        return 0
    base = tempfile.mkdtemp(prefix="lpgdb-large-", dir=a.dbroot)
    path = os.path.join(base, "graph.lpg")
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    try:
        print(f"large: {a.nodes:,} nodes, {a.edges:,} edges into {path}", file=sys.stderr)
        ld = _child("load", path, a.nodes, a.edges)
        disk = sum(os.path.getsize(os.path.join(d, f)) for d, _x, fs in os.walk(path) for f in fs)
        rd = _child("reads", path, a.nodes, a.edges)
    finally:
        if not a.keep:
            shutil.rmtree(base, ignore_errors=True)
    import lpgdb
    res = {"nodes": a.nodes, "edges": a.edges, "load": ld, "reads": rd, "disk_mb": disk / 2**20,
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
         f"lpgdb {r['lpgdb']}. Generated on the fly from a seed (`python -m bench --size large`; "
         f"bench/large.py has the method).", "",
         "| step | figure |", "|---|---|",
         f"| load: persons (bulk_load per 1M) | {ld['nodes_s']:,.0f} s |",
         f"| load: KNOWS edges (bulk_load per 500k) | {ld['edges_s']:,.0f} s ({r['edges'] / ld['edges_s']:,.0f} edges/s) |",
         f"| checkpoints during the load (automatic, overlay > 768 MiB) + the final one | {ld['checkpoints']} (final {ld['final_checkpoint_s']:,.0f} s) |",
         f"| disk after close | {r['disk_mb']:,.0f} MB |",
         f"| reopen (fresh process) | {rd['open_s'] * 1000:,.1f} ms |",
         f"| anonymous memory added by the open | {rd['anon_open_mb']:,.1f} MB |",
         f"| 20,000 key lookups (+ node read, checked) | {rd['w3_per_s']:,.0f} /s, {rd['w3_wrong']} wrong |",
         f"| RSS / anonymous memory after them | {rd['rss_after_lookups_mb']:,.0f} MB / {rd['anon_after_lookups_mb']:,.0f} MB |",
         f"| 2,000 1-hop degrees (checked against the edge stream) | {rd['w4_per_s']:,.0f} /s, {rd['w4_wrong']} wrong |",
         f"| 200 2-hop distinct counts | {rd['w5_per_s']:,.1f} /s (mean {rd['w5_mean']:,.0f} nodes) |",
         f"| largest anonymous memory: loading process / reading process | {ld['max_anon_mb']:,.0f} MB / {rd['max_anon_mb']:,.0f} MB |",
         "",
         f"Target: process anonymous memory <= 2 GB at every point: {'met' if worst <= 2048 else '**not met**'} "
         f"(largest {worst:,.0f} MB, sampled every 0.2 s).", ""]
    return "\n".join(L)


if __name__ == "__main__":
    sys.exit(main())
