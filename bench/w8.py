"""W8 schema overhead, paired: W2 (100-op transactions) on a database without and with the
social graph's PG-Schema, in one run, the two interleaved per repetition.

    python -m bench.w8 --size medium --reps 5

Each repetition builds two fresh databases exactly as the benchmark's worker does (run.py:
create, W1, [set_schema], checkpoint, reopen) and runs W2 on each, plain first on even
repetitions and schema first on odd ones, so drift in the machine's load and fsync latency hits
both alike.  Reported: W2 ops/s of each (median over repetitions), the overhead of the schema
as median(schema s) / median(plain s) - 1 and the median of the per-repetition ratios, and the
machine's 1-minute load average at start and end (2 CPUs: above ~1.5 other processes compete).
W2 commits are durable (an fdatasync each), whose latency on a shared machine varies far more
than the schema's cost: the process CPU time of W2 (user + system, which the fsync waits do not
count) is reported too, and is the steadier measure of what the checks cost.
W2's own COMMIT share is in the adapter's stats.  Target (issue 11): overhead <= 20 %.

    python -m bench.w8 --size medium --reps 3 --lockstep

pairs finer: both databases are open at once and W2 runs on them transaction by transaction
(plain then schema, the order alternating), so the two sides of each pair see the same load.
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
from .workloads import WORKLOADS, Context  # noqa: E402


def _one(system: str, ctx: Context, schema: bool, root: str) -> dict:
    cls, options = resolve(system)
    dbdir = tempfile.mkdtemp(prefix="w8-", dir=root)
    a = cls(dbdir, options)
    try:
        a.create()
        ctx.schema = schema
        for key in ("w1", "w8_schema", "w11"):
            WORKLOADS[key].fn(a, ctx)
        a.reopen()
        c0 = time.process_time()
        r = WORKLOADS["w2"].fn(a, ctx)
        cpu = time.process_time() - c0
        return {"s": r["s"], "cpu_s": cpu, "nodes_s": r["nodes_s"], "edges_s": r["edges_s"], "ops": r["ops"]}
    finally:
        a.close()
        shutil.rmtree(dbdir, ignore_errors=True)


def _open(system: str, ctx: Context, schema: bool, root: str):
    """A database built as the benchmark's worker builds it, ready for W2 (caller closes)."""
    cls, options = resolve(system)
    a = cls(tempfile.mkdtemp(prefix="w8-", dir=root), options)
    a.create()
    ctx.schema = schema
    for key in ("w1", "w8_schema", "w11"):
        WORKLOADS[key].fn(a, ctx)
    a.reopen()
    return a


def lockstep(system: str, ctx: Context, root: str) -> dict:
    """W2 on both databases at once, transaction by transaction: each 100-op transaction runs
    on the plain database and then on the schema one (the order alternating), each timed by
    the wall clock and by this process's CPU time.  Load that changes during the run hits
    both sides of every pair alike, so the sums compare even on a busy machine."""
    plain, schema = _open(system, ctx, False, root), _open(system, ctx, True, root)
    nodes = [tuple(r) for r in ctx.wl["w2_nodes"]]
    edges = [tuple(r) for r in ctx.wl["w2_edges"]]
    batch = ctx.wl["w2_batch"]
    acc = {(side, m): 0.0 for side in ("plain", "schema") for m in ("cpu", "wall", "nodes_cpu", "edges_cpu")}
    try:
        gc.collect()
        steps = [("nodes", "insert_persons_tx", nodes[k:k + batch]) for k in range(0, len(nodes), batch)]
        steps += [("edges", "insert_knows_tx", edges[k:k + batch]) for k in range(0, len(edges), batch)]
        for i, (phase, fn, rows) in enumerate(steps):
            order = (("plain", plain), ("schema", schema)) if i % 2 == 0 else (("schema", schema), ("plain", plain))
            for side, a in order:
                c0, w0 = time.process_time(), time.perf_counter()
                getattr(a, fn)(rows)
                c, w = time.process_time() - c0, time.perf_counter() - w0
                acc[side, "cpu"] += c
                acc[side, "wall"] += w
                acc[side, phase + "_cpu"] += c
    finally:
        plain.close()
        schema.close()
        shutil.rmtree(plain.dbdir, ignore_errors=True)
        shutil.rmtree(schema.dbdir, ignore_errors=True)
    return {"ops": len(nodes) + len(edges), **{f"{side}_{m}": v for (side, m), v in acc.items()}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.w8", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--system", default="lpgdb")
    p.add_argument("--size", default="medium", choices=sorted(datagen.SIZES))
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "lpgdb-bench-data"))
    p.add_argument("--json", help="write the figures here")
    p.add_argument("--lockstep", action="store_true",
                   help="run W2 on both databases transaction by transaction (see lockstep())")
    args = p.parse_args(argv)
    size = datagen.SIZES[args.size]
    datadir = os.path.join(args.data, args.size)
    datagen.ensure(datadir, size)
    with open(os.path.join(datadir, "workload.json")) as f:
        wl = json.load(f)
    _, options = resolve(args.system)
    ctx = Context(wl=wl, size=size, persons_csv=os.path.join(datadir, "persons.csv"),
                  knows_csv=os.path.join(datadir, "knows.csv"), read_reps=1, budget_s=1e9,
                  adapter_spec=args.system, options=options)
    root = tempfile.mkdtemp(prefix="lpgdb-bench-w8-")
    load0 = os.getloadavg()[0]
    if args.lockstep:
        reps = []
        try:
            for rep in range(args.reps):
                r = lockstep(args.system, ctx, root)
                reps.append(r)
                print(f"rep {rep}: CPU plain {r['plain_cpu']:.3f} s, schema {r['schema_cpu']:.3f} s "
                      f"({r['schema_cpu'] / r['plain_cpu'] - 1:+.1%}; nodes "
                      f"{r['schema_nodes_cpu'] / r['plain_nodes_cpu'] - 1:+.1%}, edges "
                      f"{r['schema_edges_cpu'] / r['plain_edges_cpu'] - 1:+.1%}); wall plain "
                      f"{r['plain_wall']:.3f} s, schema {r['schema_wall']:.3f} s "
                      f"({r['schema_wall'] / r['plain_wall'] - 1:+.1%}), load {os.getloadavg()[0]:.2f}",
                      file=sys.stderr, flush=True)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        load1 = os.getloadavg()[0]
        out = {"system": args.system, "size": args.size, "reps": args.reps, "mode": "lockstep",
               "cpu_overhead": statistics.median(r["schema_cpu"] / r["plain_cpu"] for r in reps) - 1,
               "wall_overhead": statistics.median(r["schema_wall"] / r["plain_wall"] for r in reps) - 1,
               "nodes_cpu_overhead": statistics.median(r["schema_nodes_cpu"] / r["plain_nodes_cpu"] for r in reps) - 1,
               "edges_cpu_overhead": statistics.median(r["schema_edges_cpu"] / r["plain_edges_cpu"] for r in reps) - 1,
               "loadavg": [load0, load1], "runs": reps}
        print(f"W8 lockstep ({args.size}, {args.reps} reps, load {load0:.2f}-{load1:.2f}): schema overhead, "
              f"median over reps: process CPU {out['cpu_overhead']:+.1%} (node transactions "
              f"{out['nodes_cpu_overhead']:+.1%}, edge transactions {out['edges_cpu_overhead']:+.1%}), "
              f"wall {out['wall_overhead']:+.1%}; target <= +20%")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(out, f, indent=1)
        return 0
    runs = {False: [], True: []}
    try:
        for rep in range(args.reps):
            order = (False, True) if rep % 2 == 0 else (True, False)
            for schema in order:
                r = _one(args.system, ctx, schema, root)
                runs[schema].append(r)
                print(f"rep {rep} {'schema' if schema else 'plain '}: W2 {r['s']:.3f} s, CPU {r['cpu_s']:.3f} s "
                      f"(nodes {r['nodes_s']:.3f}, edges {r['edges_s']:.3f}), load {os.getloadavg()[0]:.2f}",
                      file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    load1 = os.getloadavg()[0]
    ops = runs[False][0]["ops"]
    med = {k: statistics.median(r["s"] for r in v) for k, v in runs.items()}
    pair = statistics.median(s["s"] / q["s"] for s, q in zip(runs[True], runs[False]))
    out = {"system": args.system, "size": args.size, "reps": args.reps, "ops": ops,
           "plain_ops_s": ops / med[False], "schema_ops_s": ops / med[True],
           "overhead": med[True] / med[False] - 1, "paired_overhead": pair - 1,
           "nodes_overhead": statistics.median(r["nodes_s"] for r in runs[True])
           / statistics.median(r["nodes_s"] for r in runs[False]) - 1,
           "edges_overhead": statistics.median(r["edges_s"] for r in runs[True])
           / statistics.median(r["edges_s"] for r in runs[False]) - 1,
           "cpu_overhead": statistics.median(r["cpu_s"] for r in runs[True])
           / statistics.median(r["cpu_s"] for r in runs[False]) - 1,
           "paired_cpu_overhead": statistics.median(s["cpu_s"] / q["cpu_s"]
                                                    for s, q in zip(runs[True], runs[False])) - 1,
           "loadavg": [load0, load1], "runs": {"plain": runs[False], "schema": runs[True]}}
    print(f"W8 ({args.size}, {args.reps} paired reps, load {load0:.2f}-{load1:.2f}): "
          f"W2 {out['plain_ops_s']:,.0f} ops/s plain, {out['schema_ops_s']:,.0f} with the schema: "
          f"overhead {out['overhead']:+.1%} (median of paired ratios {out['paired_overhead']:+.1%}; "
          f"node inserts {out['nodes_overhead']:+.1%}, edge inserts {out['edges_overhead']:+.1%}); "
          f"process CPU time {out['cpu_overhead']:+.1%} (paired {out['paired_cpu_overhead']:+.1%}); target <= +20%")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
