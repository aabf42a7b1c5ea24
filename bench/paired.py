"""Paired read figures: lpgdb against SQLite in ONE process, interleaved (A B A B ...).

    python -m bench.paired --size medium          # -> bench/results/paired-<size>.json

The systems' whole-run figures (``python -m bench``) are taken one system after another, so on
a shared machine a change of load between two systems' runs moves their ratio.  Here both
databases are built first (untimed: bench/datagen.py's data, loaded and checkpointed through
the bench's own adapters), then W3 (key lookup + name), W4 (lookup + out-degree) and W7 (scan
+ aggregate) run in turns through the same adapter calls as in the whole run; each pair gives a
ratio lpgdb / SQLite (> 1 = lpgdb faster), and the median of the pairs is quoted with its range.
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.paired", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="medium", choices=sorted(datagen.SIZES))
    p.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "lpgdb-bench-data"))
    p.add_argument("--dbroot", default=None)
    p.add_argument("--pairs", type=int, default=9)
    p.add_argument("--results", default=os.path.join(ROOT, "bench", "results"))
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="time each run by the wall clock (default) or by this process's CPU time "
                        "(time.process_time: steadier on a loaded machine; both systems run in "
                        "this process, so their ratio stays fair)")
    a = p.parse_args(argv)
    clock = time.perf_counter if a.clock == "wall" else time.process_time
    data = os.path.join(a.data, a.size)
    datagen.ensure(data, datagen.SIZES[a.size])
    with open(os.path.join(data, "workload.json")) as f:
        wl = json.load(f)
    root = tempfile.mkdtemp(prefix="lpgdb-paired-", dir=a.dbroot)
    systems = {}
    try:
        for name in ("lpgdb", "sqlite"):
            cls, opts = resolve(name)
            d = os.path.join(root, name)
            os.makedirs(d)
            s = cls(d, opts)
            s.create()
            s.bulk_load(os.path.join(data, "persons.csv"), os.path.join(data, "knows.csv"))
            s.flush()
            s.close()
            s = cls(d, opts)
            s.open()
            systems[name] = s
        w3, w4 = wl["w3_ids"][:4000], wl["w4_ids"][:2000]

        def run(s, kind):
            t = clock()
            if kind == "w3":
                for pid in w3:
                    s.lookup_name(pid)
                return len(w3) / (clock() - t)
            if kind == "w4":
                for pid in w4:
                    s.out_degree(pid)
                return len(w4) / (clock() - t)
            s.avg_age_out_degree_gt(wl["w7_threshold"])
            return 1 / (clock() - t)

        out: dict = {"size": a.size, "clock": a.clock, "loadavg_start": os.getloadavg()[0]}
        for kind in ("w3", "w4", "w7"):
            run(systems["lpgdb"], kind)
            run(systems["sqlite"], kind)          # warm-up
            lp, sq, ratios = [], [], []
            for _ in range(a.pairs):
                x, y = run(systems["lpgdb"], kind), run(systems["sqlite"], kind)
                lp.append(x)
                sq.append(y)
                ratios.append(x / y)
            out[kind] = {"lpgdb_per_s": statistics.median(lp), "sqlite_per_s": statistics.median(sq),
                         "ratio_median": statistics.median(ratios), "ratio_min": min(ratios),
                         "ratio_max": max(ratios)}
            print(kind, {k: round(v, 3) for k, v in out[kind].items()}, file=sys.stderr)
        out["loadavg_end"] = os.getloadavg()[0]
    finally:
        for s in systems.values():
            s.close()
        shutil.rmtree(root, ignore_errors=True)
    os.makedirs(a.results, exist_ok=True)
    suffix = "" if a.clock == "wall" else "-cpu"
    with open(os.path.join(a.results, f"paired-{a.size}{suffix}.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
