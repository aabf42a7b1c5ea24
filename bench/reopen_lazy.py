"""Paired fresh-process reopens (issue 10): every tree x database x {cold, warm}, rounds alternating.

    python -m bench.reopen_lazy --tree before=/path/to/old/checkout --tree after=. \
        --db medium=/tmp/med:1373158607 --db 1m=/tmp/m1:'"1482254449"' --rounds 7 [--mode rw --mode ro]

A tree is a checkout with its native core built; a database is ``name=path:key`` where key is
the JSON of a Person.id value in it (an index on Person.id must exist).  cold =
posix_fadvise(DONTNEED) on every file of the database directory just before the child starts
(no root needed to drop caches); warm = after one untimed open by the same tree.  The child
times lpgdb.connect (wall and CPU), then a key lookup + node read (the first read, which now
opens the files it needs), and the anonymous memory (RssAnon) the connect added.  ``--mode``
rw (a writer's open, the default) and/or ro (``readonly=True``: a follower's open).  Prints
medians and writes --out (JSON).
"""
import argparse
import json, os, statistics, subprocess, sys
ap = argparse.ArgumentParser()
ap.add_argument("--tree", action="append", required=True)
ap.add_argument("--db", action="append", required=True)
ap.add_argument("--rounds", type=int, default=7)
ap.add_argument("--mode", action="append", choices=["rw", "ro"])
ap.add_argument("--out", default="reopen-lazy.json")
a = ap.parse_args()
modes = a.mode or ["rw"]
trees = dict(t.split("=", 1) for t in a.tree)
dbs, KEYS = {}, {}
for d in a.db:
    name, rest = d.split("=", 1)
    path, key = rest.split(":", 1)
    dbs[name], KEYS[name] = path, json.loads(key)
code = r'''
import sys, time, json, re
import lpgdb
def anon():
    return int(re.search(r"RssAnon:\s+(\d+)", open("/proc/self/status").read()).group(1)) / 1024
a0 = anon()
t = time.perf_counter(); c = time.process_time()
db = lpgdb.connect(sys.argv[1], create=False) if sys.argv[3] == "rw" else lpgdb.connect(sys.argv[1], readonly=True)
dt = time.perf_counter() - t; dc = time.process_time() - c
da = anon() - a0
with db.snapshot() as s:
    t = time.perf_counter()
    ids = s.key_lookup("Person", "id", json.loads(sys.argv[2]))
    s.node(ids[0])
    dr = time.perf_counter() - t
db.close()
print(json.dumps({"ms": dt * 1e3, "cpu": dc * 1e3, "read_ms": dr * 1e3, "anon_mb": da}))
'''
def drop(path):
    for root, _d, fs in os.walk(path):
        for f in fs:
            fd = os.open(os.path.join(root, f), os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)
rounds = a.rounds
res = {}
loads = []
for r in range(rounds):
    combos = [(t, d, m, o) for o in modes for m in ("cold", "warm") for d in dbs for t in trees]
    if r % 2:
        combos = [(t, d, m, o) for o in reversed(modes) for m in ("cold", "warm") for d in reversed(list(dbs))
                  for t in reversed(list(trees))]
    for t, d, m, o in combos:
        if m == "cold":
            drop(dbs[d])
        env = dict(os.environ, PYTHONPATH=os.path.abspath(trees[t]))
        if m == "warm":   # one untimed open first: the page cache holds what this tree's open reads
            subprocess.run([sys.executable, "-c", code, dbs[d], json.dumps(KEYS[d]), o], capture_output=True, env=env)
        p = subprocess.run([sys.executable, "-c", code, dbs[d], json.dumps(KEYS[d]), o], capture_output=True, text=True, env=env)
        if p.returncode:
            print(p.stderr[-2000:]); sys.exit(1)
        res.setdefault(f"{t} {d} {m} {o}", []).append(json.loads(p.stdout.strip().splitlines()[-1]))
    loads.append(os.getloadavg()[0])
for k, v in res.items():
    print(f"{k:24} open ms median {statistics.median(x['ms'] for x in v):7.1f} [{', '.join('%.1f' % x['ms'] for x in v)}]"
          f"  cpu {statistics.median(x['cpu'] for x in v):6.1f}  first read ms {statistics.median(x['read_ms'] for x in v):6.2f}"
          f"  anon MB {statistics.median(x.get('anon_mb', 0) for x in v):6.1f}")
print("load (1-min) per round", [round(x, 1) for x in loads])
with open(a.out, "w") as fh:
    json.dump({"results": res, "loads": loads}, fh)
