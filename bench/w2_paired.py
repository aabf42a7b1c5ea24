"""W2 (100-op transactions), lpgdb against SQLite, paired: both durable (lpgdb sync="full",
SQLite WAL + synchronous=FULL), alternating system by system within each round.

    python -m bench.w2_paired --size medium --rounds 5

Each system's database is built once as the benchmark's worker builds it (create, W1, W11:
checkpoint and close), then every round copies that directory and runs W2 on the copy, lpgdb
first on even rounds and SQLite first on odd ones, so drift in the machine's load and fsync
latency hits both alike.  Per run: wall seconds, process CPU seconds (user + system; fsync
waits are not CPU), the seconds spent inside COMMIT (the adapter's stats), and for lpgdb the
checkpoints W2 triggered and the log it wrote.  Reported: medians, and the median of the
per-round ratios SQLite s / lpgdb s (> 1: lpgdb faster), wall and CPU, with the load average.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "bench"

from . import datagen  # noqa: E402
from .adapters import resolve  # noqa: E402
from .workloads import WORKLOADS, Context  # noqa: E402

SYSTEMS = {"lpgdb": "lpgdb", "sqlite": "sqlite"}      # both durable per commit by default


def _build(system: str, ctx: Context, root: str) -> str:
    cls, options = resolve(SYSTEMS[system])
    dbdir = os.path.join(root, f"{system}-base")
    a = cls(dbdir, options)
    a.create()
    for key in ("w1", "w11"):
        WORKLOADS[key].fn(a, ctx)
    a.close()
    return dbdir


def _run(system: str, base: str, ctx: Context, root: str, rnd: int) -> dict:
    cls, options = resolve(SYSTEMS[system])
    dbdir = os.path.join(root, f"{system}-{rnd}")
    shutil.copytree(base, dbdir)
    a = cls(dbdir, options)
    a.open()
    try:
        before = _engine_state(a)
        c0 = time.process_time()
        r = WORKLOADS["w2"].fn(a, ctx)
        cpu = time.process_time() - c0
        after = _engine_state(a)
        out = {"s": r["s"], "cpu_s": cpu, "commit_s": r["stats"].get("commit_s", 0.0), "ops": r["ops"]}
        if before is not None:
            out["checkpoints"] = after[0] - before[0]
            out["log_mb"] = (after[1] - before[1]) / 2**20
        return out
    finally:
        a.close()
        shutil.rmtree(dbdir, ignore_errors=True)


def _engine_state(a):
    eng = getattr(getattr(a, "db", None), "_engine", None)
    if eng is None or eng.wal is None:
        return None
    return eng.meta.manifest_seq, eng.wal.end_lsn


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.w2_paired", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="medium", choices=sorted(datagen.SIZES))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "lpgdb-bench-data"))
    p.add_argument("--out", help="write the JSON here")
    args = p.parse_args(argv)
    datadir = os.path.join(args.data, args.size)
    datagen.ensure(datadir, datagen.SIZES[args.size])
    with open(os.path.join(datadir, "workload.json")) as f:
        wl = json.load(f)
    ctx = Context(wl=wl, size=datagen.SIZES[args.size], persons_csv=os.path.join(datadir, "persons.csv"),
                  knows_csv=os.path.join(datadir, "knows.csv"))
    root = tempfile.mkdtemp(prefix="w2p-", dir=os.environ.get("BENCH_TMP"))
    load0 = os.getloadavg()[0]
    try:
        bases = {s: _build(s, ctx, root) for s in SYSTEMS}
        runs = {s: [] for s in SYSTEMS}
        for rnd in range(args.rounds):
            order = list(SYSTEMS) if rnd % 2 == 0 else list(reversed(SYSTEMS))
            for s in order:
                runs[s].append(_run(s, bases[s], ctx, root, rnd))
            lp, sq = runs["lpgdb"][-1], runs["sqlite"][-1]
            print(f"round {rnd}: lpgdb {lp['s']:.2f} s (cpu {lp['cpu_s']:.2f}, commit {lp['commit_s']:.2f}, "
                  f"{lp.get('checkpoints')} ckpt) sqlite {sq['s']:.2f} s (cpu {sq['cpu_s']:.2f}, commit "
                  f"{sq['commit_s']:.2f}); load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    med = {s: {k: statistics.median(r[k] for r in runs[s]) for k in runs[s][0]} for s in SYSTEMS}
    ratio = [q["s"] / l["s"] for l, q in zip(runs["lpgdb"], runs["sqlite"])]
    cratio = [q["cpu_s"] / l["cpu_s"] for l, q in zip(runs["lpgdb"], runs["sqlite"])]
    res = {"size": args.size, "rounds": args.rounds, "load_start": load0, "load_end": os.getloadavg()[0],
           "median": med, "ratio_wall": statistics.median(ratio), "ratio_cpu": statistics.median(cratio),
           "runs": runs}
    ops = runs["lpgdb"][0]["ops"]
    print(f"W2 {args.size}: lpgdb {ops / med['lpgdb']['s']:,.0f} ops/s, sqlite {ops / med['sqlite']['s']:,.0f} "
          f"ops/s; ratio (sqlite s / lpgdb s) wall {res['ratio_wall']:.2f}x, cpu {res['ratio_cpu']:.2f}x; "
          f"load {load0:.1f}-{res['load_end']:.1f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
