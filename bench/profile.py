"""Profile one workload of one system under cProfile: where does its time go?

    python -m bench.profile --system lpgdb --workload w3              # small data set
    python -m bench.profile --system lpgdb --workload w2 --schema     # W8: W2 with the schema
    python -m bench.profile --system lpgdb --workload w1 --size medium --top 30

Owns: nothing but this diagnostic.  It builds a fresh database exactly as the benchmark's
worker does (create, W1, [set_schema], checkpoint, reopen), then runs the chosen workload once
with the profiler on (W1 itself when ``--workload w1``) and prints the functions with the most
own time and the most cumulative time.  Profiling slows Python code several-fold, so read the
shares, not the absolute times; the benchmark's numbers come from run.py only.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import sys
import tempfile
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "bench"

from . import datagen  # noqa: E402
from .adapters import resolve  # noqa: E402
from .workloads import WORKLOADS, Context  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--system", default="lpgdb")
    p.add_argument("--workload", required=True, choices=sorted(WORKLOADS))
    p.add_argument("--size", default="small", choices=sorted(datagen.SIZES))
    p.add_argument("--schema", action="store_true", help="enforce the PG-Schema (W8 set-up)")
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "lpgdb-bench-data"))
    args = p.parse_args(argv)

    size = datagen.SIZES[args.size]
    datadir = os.path.join(args.data, args.size)
    datagen.ensure(datadir, size)
    with open(os.path.join(datadir, "workload.json")) as f:
        wl = json.load(f)
    cls, options = resolve(args.system)
    ctx = Context(wl=wl, size=size, persons_csv=os.path.join(datadir, "persons.csv"),
                  knows_csv=os.path.join(datadir, "knows.csv"), read_reps=1, budget_s=1e9,
                  adapter_spec=args.system, options=options, schema=args.schema)
    dbdir = tempfile.mkdtemp(prefix="lpgdb-bench-profile-")
    prof = cProfile.Profile()
    a = cls(dbdir, options)
    try:
        a.create()
        for key in ("w1", "w8_schema", "w11"):
            if key == args.workload:
                prof.enable()
            t0 = time.perf_counter()
            WORKLOADS[key].fn(a, ctx)
            if key == args.workload:
                prof.disable()
            print(f"{key}: {time.perf_counter() - t0:.3f} s", file=sys.stderr)
        if args.workload not in ("w1", "w8_schema", "w11"):
            a.reopen()
            prof.enable()
            t0 = time.perf_counter()
            WORKLOADS[args.workload].fn(a, ctx)
            prof.disable()
            print(f"{args.workload} (profiled): {time.perf_counter() - t0:.3f} s", file=sys.stderr)
    finally:
        a.close()
        shutil.rmtree(dbdir, ignore_errors=True)
    stats = pstats.Stats(prof, stream=sys.stdout)
    stats.strip_dirs().sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
