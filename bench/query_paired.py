"""Issue 12's whole-query figures, paired: lpgdb and its reference loaded side by side in one
process and timed in turns (A B A B ...), so a drift in the machine's load hits both.

    python -m bench.query_paired [--size medium] [--reps 7] [--out FILE.json]

W7 (average age of persons with more than t out-neighbours, lpgdb in Cypher) against SQLite;
W12 (20 joins of two pattern parts by a WHERE equality) against Kùzu; W5c (the 2-hop count in
Cypher) against lpgdb's native ``count_reach`` (W5).  Each system's database is built as the
benchmark's worker builds it (``bench.run``: W1, then reopened); the inputs are the benchmark's
(workload.json).  Reported: medians of the wall and the CPU time of each turn, and the ratio
reference / lpgdb (> 1: lpgdb faster), with the 1-minute load average.  The per-call figures
(W0, W3u) are ``bench.floor_paired``'s.
"""
from __future__ import annotations

import argparse
import gc
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
from .workloads import WORKLOADS, Context, w12_pairs  # noqa: E402


def _build(name, ctx, root):
    cls, options = resolve(name)
    a = cls(tempfile.mkdtemp(prefix=f"{name}-", dir=root), options)
    a.create()
    WORKLOADS["w1"].fn(a, ctx)
    a.reopen()
    return a


def _turns(pair, reps):
    """Time each (label, fn) of ``pair`` in turns, ``reps`` times: {label: [(wall, cpu)]}."""
    out = {label: [] for label, _ in pair}
    for _ in range(reps):
        for label, fn in pair:
            gc.collect()
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            out[label].append((time.perf_counter() - w0, time.process_time() - c0))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="medium", choices=sorted(datagen.SIZES))
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "lpgdb-bench-data"))
    p.add_argument("--out")
    args = p.parse_args(argv)
    size = datagen.SIZES[args.size]
    datadir = os.path.join(args.data, args.size)
    datagen.ensure(datadir, size)
    wl = json.load(open(os.path.join(datadir, "workload.json")))
    ctx = Context(wl=wl, size=size, persons_csv=os.path.join(datadir, "persons.csv"),
                  knows_csv=os.path.join(datadir, "knows.csv"), read_reps=1, budget_s=1e9,
                  adapter_spec="lpgdb", options={}, schema=False)
    root = tempfile.mkdtemp(prefix="lpgdb-paired-")
    results = []
    try:
        lp, sq, kz = _build("lpgdb", ctx, root), _build("sqlite", ctx, root), _build("kuzu", ctx, root)
        t, ids, pairs = wl["w7_threshold"], wl["w5_ids"], w12_pairs()
        for a in (lp, sq):
            getattr(a, "w12_setup", lambda: None)()
        cases = [
            ("W7 scan + aggregate vs SQLite", "sqlite",
             [("lpgdb", lambda: lp.avg_age_out_degree_gt(t)), ("sqlite", lambda: sq.avg_age_out_degree_gt(t))]),
            ("W12 20 hash joins vs Kùzu", "kuzu",
             [("lpgdb", lambda: [lp.same_name_pairs(x, y) for x, y in pairs]),
              ("kuzu", lambda: [kz.same_name_pairs(x, y) for x, y in pairs])]),
            ("W5c 2-hop counts in Cypher vs count_reach (W5)", "lpgdb count_reach",
             [("lpgdb", lambda: [lp.two_hop_count_cypher(i) for i in ids]),
              ("lpgdb count_reach", lambda: [lp.two_hop_count(i) for i in ids])]),
        ]
        for title, ref, pair in cases:
            load0 = os.getloadavg()[0]
            got = _turns(pair, args.reps)
            med = {k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v))
                   for k, v in got.items()}
            r = {"case": title, "reps": args.reps, "load": [load0, os.getloadavg()[0]],
                 "median_s": {k: {"wall": w, "cpu": c} for k, (w, c) in med.items()},
                 "ratio_wall": med[ref][0] / med["lpgdb"][0], "ratio_cpu": med[ref][1] / med["lpgdb"][1]}
            results.append(r)
            print(f"{title}: lpgdb {med['lpgdb'][0] * 1e3:.1f} ms (cpu {med['lpgdb'][1] * 1e3:.1f}), "
                  f"{ref} {med[ref][0] * 1e3:.1f} ms (cpu {med[ref][1] * 1e3:.1f}); ratio "
                  f"{r['ratio_wall']:.2f}x wall, {r['ratio_cpu']:.2f}x cpu; load {load0:.1f} -> "
                  f"{os.getloadavg()[0]:.1f}", flush=True)
        for a in (lp, sq, kz):
            a.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"size": args.size, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
