"""W2 (100-op transactions, durable) of several lpgdb source trees and SQLite, paired.

    python -m bench.w2_trees --tree old=/tmp/lpgdb-fe93749 --tree new=. --rounds 5

Compares engines across commits (say the 2026-11-23 in-memory engine, fe93749, with today's),
which cannot share a process: every run is a fresh ``python -c`` child whose PYTHONPATH is the
tree (each tree built in place: ``git archive COMMIT | tar -x -C DIR`` then ``python setup.py
build_ext --inplace`` there; the tree's own bench adapter runs W2, so each engine is driven as
its README of the time recommends).  Each system's base database is built once by its own tree
(W1, W11: checkpoint and close); every round copies it and runs W2 on the copy, the systems in
a rotated order (round r starts with system r mod k) so that drift in the machine's load and
fsync latency hits all alike.  Per run: wall seconds, process CPU seconds (user + system; fsync
waits are not CPU) and the seconds inside COMMIT.  Reported: medians, CPU microseconds per op,
and per-round ratios against SQLite (SQLite s / tree s; > 1: the tree is faster), wall and CPU,
with the load average.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "bench"

from . import datagen  # noqa: E402

#: run in the child with the tree on sys.path: build (argv: build SYSTEM DIR DATA) or run W2
#: on a copy (argv: run SYSTEM BASE DIR DATA); prints one JSON line
_CHILD = r"""
import json, os, shutil, sys, time
mode, system = sys.argv[1], sys.argv[2]
from bench import datagen
from bench.adapters import resolve
from bench.workloads import WORKLOADS, Context
data = sys.argv[-1]
with open(os.path.join(data, "workload.json")) as f:
    wl = json.load(f)
ctx = Context(wl=wl, size=datagen.SIZES[os.path.basename(data)],
              persons_csv=os.path.join(data, "persons.csv"), knows_csv=os.path.join(data, "knows.csv"))
cls, options = resolve(system)
if mode == "build":
    a = cls(sys.argv[3], options)
    a.create()
    for key in ("w1", "w11"):
        WORKLOADS[key].fn(a, ctx)
    a.close()
    print(json.dumps({}))
else:
    base, d = sys.argv[3], sys.argv[4]
    shutil.copytree(base, d)
    a = cls(d, options)
    a.open()
    c0 = time.process_time()
    r = WORKLOADS["w2"].fn(a, ctx)
    cpu = time.process_time() - c0
    a.close()
    shutil.rmtree(d, ignore_errors=True)
    print(json.dumps({"s": r["s"], "cpu_s": cpu, "commit_s": r["stats"].get("commit_s", 0.0),
                      "ops": r["ops"]}))
"""


def _child(tree: str, *args: str) -> dict:
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    out = subprocess.run([sys.executable, "-c", _CHILD, *args], cwd=tree, env=env,
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"child in {tree} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.w2_trees", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tree", action="append", required=True, metavar="NAME=DIR",
                   help="an lpgdb source tree built in place (repeat)")
    p.add_argument("--size", default="medium", choices=sorted(datagen.SIZES))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "lpgdb-bench-data"))
    p.add_argument("--out", help="write the JSON here")
    args = p.parse_args(argv)
    trees = dict(t.split("=", 1) for t in args.tree)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    systems = {name: (tree, "lpgdb") for name, tree in trees.items()}
    systems["sqlite"] = (here, "sqlite")
    datadir = os.path.join(args.data, args.size)
    datagen.ensure(datadir, datagen.SIZES[args.size])
    root = tempfile.mkdtemp(prefix="w2t-", dir=os.environ.get("BENCH_TMP"))
    load0 = os.getloadavg()[0]
    names = list(systems)
    runs = {s: [] for s in names}
    try:
        for s in names:
            tree, system = systems[s]
            _child(tree, "build", system, os.path.join(root, f"{s}-base"), datadir)
        for rnd in range(args.rounds):
            k = rnd % len(names)
            for s in names[k:] + names[:k]:
                tree, system = systems[s]
                runs[s].append(_child(tree, "run", system, os.path.join(root, f"{s}-base"),
                                      os.path.join(root, f"{s}-{rnd}"), datadir))
            print(f"round {rnd}: " + "; ".join(
                f"{s} {runs[s][-1]['s']:.2f} s (cpu {runs[s][-1]['cpu_s']:.2f}, commit "
                f"{runs[s][-1]['commit_s']:.2f})" for s in names) + f"; load {os.getloadavg()[0]:.1f}",
                flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    ops = runs[names[0]][0]["ops"]
    res = {"size": args.size, "rounds": args.rounds, "trees": trees, "load_start": load0,
           "load_end": os.getloadavg()[0], "runs": runs, "median": {}, "vs_sqlite": {}}
    for s in names:
        med = {k: statistics.median(r[k] for r in runs[s]) for k in ("s", "cpu_s", "commit_s")}
        med["ops_per_s"] = ops / med["s"]
        med["cpu_us_per_op"] = med["cpu_s"] / ops * 1e6
        res["median"][s] = med
        if s != "sqlite":
            res["vs_sqlite"][s] = {
                "wall": statistics.median(q["s"] / r["s"] for r, q in zip(runs[s], runs["sqlite"])),
                "cpu": statistics.median(q["cpu_s"] / r["cpu_s"] for r, q in zip(runs[s], runs["sqlite"]))}
    for s in names:
        m = res["median"][s]
        vs = res["vs_sqlite"].get(s)
        print(f"W2 {args.size} {s}: {m['ops_per_s']:,.0f} ops/s, {m['cpu_us_per_op']:.1f} us CPU/op, commit "
              f"{m['commit_s']:.2f} s" + (f"; vs sqlite wall {vs['wall']:.2f}x, cpu {vs['cpu']:.2f}x" if vs else ""))
    print(f"load {load0:.1f}-{res['load_end']:.1f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
