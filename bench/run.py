"""Side-by-side benchmark of lpgdb against the embedded stores a Python user would pick instead.

The committed results were produced, from the repository root, with:

    pip install -e ".[bench]"
    python -m bench --size small      # -> bench/results/small.md, small.json
    python -m bench --size medium     # -> bench/results/medium.md, medium.json

Other runs: ``python -m bench --size small --quick --systems lpgdb,sqlite`` (1 load repetition,
2 read repetitions); ``--help`` lists every option.  ``python bench/run.py`` works too.

Owns: orchestration.  The parent generates (or reuses) the data set (datagen.py), computes the
expected answers (expected.py), runs each system in its own child process
(``python -m bench.run --worker NAME``), checks every system's answers, then prints and writes
the report (report.py).  One process per system means engines never share a process or a
buffer pool, a crash costs only its own column, and timings are taken inside the child.

Per system, the worker runs ``--load-reps`` fresh databases; for systems with native schema
enforcement (lpgdb) each is followed by a schema-checked twin (W8), interleaved so that drift
in the machine's fsync latency hits both alike.  Workload order: see workloads.py.

Exit status: 0 when every selected system ran and agreed with the expected answers, 2 on any
wrong answer, 3 when a system failed or was missing.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

if __package__ in (None, ""):  # `python bench/run.py`: make `bench` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "bench"

from . import datagen, expected, report  # noqa: E402
from .adapters import available, resolve  # noqa: E402
from .workloads import Context, phase  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SYSTEMS = ["lpgdb", "kuzu", "kuzu@literal", "ladybug", "sqlite", "networkx"]


# ==========================================================================================
# worker: one system, inside its child process
# ==========================================================================================

def worker(args) -> dict:
    with open(os.path.join(args.datadir, "workload.json")) as f:
        wl = json.load(f)
    cls, options = resolve(args.worker)
    options.update(json.loads(args.options) if args.options else {})
    ctx = Context(wl=wl, size=datagen.SIZES[args.size],
                  persons_csv=os.path.join(args.datadir, "persons.csv"),
                  knows_csv=os.path.join(args.datadir, "knows.csv"),
                  read_reps=args.read_reps, budget_s=args.budget,
                  adapter_spec=args.worker, options=options)
    out: dict = {"system": args.worker, "ok": False, "errors": [], "reps": [],
                 "loadavg_start": os.getloadavg()[0]}
    base = os.path.join(args.dbroot, args.worker)
    plan = []
    for rep in range(args.load_reps):
        plan.append((rep, False))
        if cls.supports_schema:
            plan.append((rep, True))
    schema_off = None   # why W8 could not run, once known

    for rep, schema in plan:
        if schema and schema_off:
            continue
        dbdir = os.path.join(base, f"rep{rep}" + ("-schema" if schema else ""))
        shutil.rmtree(dbdir, ignore_errors=True)
        os.makedirs(dbdir)
        ctx.schema = schema
        ctx.rep = rep
        r: dict = {"rep": rep, "schema": schema}
        a = None
        try:
            a = cls(dbdir, options)
            a.create()
            for w in phase("load"):
                try:
                    res = w.fn(a, ctx)
                except (NotImplementedError, _not_supported()) as e:
                    if w.key != "w8_schema":
                        raise
                    schema_off = f"{type(e).__name__}: {e}"
                    break
                if res is not None:
                    r[w.key] = res
            if schema and schema_off:
                continue
            t0 = time.perf_counter()
            a.reopen()
            r["reopen_s"] = time.perf_counter() - t0
            r["count_after_w1"] = [a.count_persons(), a.count_knows()]
            if rep == 0 and not schema:
                out["version"] = a.version()
                out["reads"] = {w.key: res for w in phase("read")
                                if (res := w.fn(a, ctx)) is not None}
                out["describe"] = a.describe()
            for w in phase("write"):
                r[w.key] = w.fn(a, ctx)
            r["count_after_w2"] = [a.count_persons(), a.count_knows()]
            if rep == 0:
                keys = ("w6",) if schema else ("w9", "w10", "w6")
                after = out.setdefault("after_schema" if schema else "after", {})
                for w in phase("after"):
                    if w.key in keys and (res := w.fn(a, ctx)) is not None:
                        after[w.key] = res
        except Exception as e:  # keep what we have, report the failure
            out["errors"].append(f"rep {rep}{' schema' if schema else ''}: "
                                 f"{type(e).__name__}: {e}")
            out["traceback"] = traceback.format_exc()
            r["error"] = f"{type(e).__name__}: {e}"
        finally:
            if a is not None:
                try:
                    a.close()
                except Exception:
                    pass
            if not args.keep:
                shutil.rmtree(dbdir, ignore_errors=True)
        out["reps"].append(r)
        print(f"[{args.worker}] rep {rep}{' schema' if schema else ''}: "
              + ", ".join(f"{k}={v['s']:.3f}" for k, v in r.items()
                          if isinstance(v, dict) and isinstance(v.get("s"), float)),
              file=sys.stderr, flush=True)
        if "error" in r:
            break
    if cls.supports_schema and schema_off:
        out["w8_unavailable"] = schema_off
    out["loadavg_end"] = os.getloadavg()[0]
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["ok"] = not out["errors"]
    return out


def _not_supported():
    """lpgdb.NotSupportedError when lpgdb is importable (W8 before schema support lands)."""
    try:
        from lpgdb.errors import NotSupportedError
        return NotSupportedError
    except ImportError:
        return NotImplementedError


# ==========================================================================================
# parent
# ==========================================================================================

def run_child(system: str, args, datadir: str, dbroot: str) -> dict:
    fd, outpath = tempfile.mkstemp(prefix=f"bench-{system}-", suffix=".json")
    os.close(fd)
    cmd = [sys.executable, "-m", "bench.run", "--worker", system, "--size", args.size,
           "--datadir", datadir, "--dbroot", dbroot, "--out-json", outpath,
           "--load-reps", str(args.load_reps), "--read-reps", str(args.read_reps),
           "--budget", str(args.budget)]
    opts = (json.loads(args.options) if args.options else {}).get(system)
    if opts:
        cmd += ["--options", json.dumps(opts)]
    if args.keep:
        cmd.append("--keep")
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=ROOT, timeout=args.timeout, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        log, rc = p.stdout, p.returncode
    except subprocess.TimeoutExpired as e:
        log = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        rc = "timeout"
    wall = time.perf_counter() - t0
    sys.stderr.write(log)
    try:
        with open(outpath) as f:
            res = json.load(f)
    except (OSError, ValueError):
        res = {"system": system, "ok": False, "reps": [],
               "errors": [f"worker exited with {rc} and no result; log tail: {log[-600:]}"]}
    finally:
        if os.path.exists(outpath):
            os.remove(outpath)
    if rc != 0 and not res.get("errors"):
        res.setdefault("errors", []).append(f"worker exit status {rc}")
    res["wall_s"] = wall
    return res


def probe_missing(system: str) -> str | None:
    """Why ``system`` cannot run here (its package is missing), or None.  Checked in a child
    process too, so a peer's import side effects never touch the parent."""
    name = system.partition("@")[0]
    module = {"lpgdb": "lpgdb", "kuzu": "kuzu", "ladybug": "ladybug",
              "networkx": "networkx"}.get(name)
    if module is None:
        return None
    p = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode == 0:
        return None
    last = (p.stdout.strip().splitlines() or ["?"])[-1]
    return f"`import {module}` failed ({last[:160]}); install it with pip install -e \".[bench]\""


def machine() -> dict:
    return {"cpus": os.cpu_count(),
            "mem_gb": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
            "python": platform.python_version(), "platform": platform.platform(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="small", choices=sorted(datagen.SIZES) + ["large"],
                   help="large: the opt-in 10M-node / 100M-edge lpgdb run (bench/large.py)")
    p.add_argument("--systems", default=",".join(DEFAULT_SYSTEMS),
                   help=f"comma list of NAME or NAME@VARIANT; adapters: {', '.join(available())}")
    p.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "lpgdb-bench-data"),
                   help="where data sets are generated (reused when the parameters match)")
    p.add_argument("--dbroot", help="where databases are created (default: a fresh temporary "
                   "directory, removed at the end unless --keep)")
    p.add_argument("--results", help="where <size>.md and <size>.json are written (default: "
                   "bench/results for a full run of the default systems, else "
                   f"{os.path.join(tempfile.gettempdir(), 'lpgdb-bench-results')}, so partial "
                   "runs never overwrite the committed results)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--load-reps", type=int, default=3, help="fresh databases per system")
    p.add_argument("--read-reps", type=int, default=5, help="repetitions of a read workload")
    p.add_argument("--budget", type=float, default=20.0,
                   help="stop repeating a read workload once it used this many seconds")
    p.add_argument("--timeout", type=float, default=900, help="seconds per system")
    p.add_argument("--options", help='JSON {"NAME[@VARIANT]": {adapter options}}')
    p.add_argument("--quick", action="store_true", help="1 load repetition, 2 read repetitions")
    p.add_argument("--keep", action="store_true", help="keep the databases")
    p.add_argument("--tag", default="", help="suffix of the result file names")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--datadir", help=argparse.SUPPRESS)
    p.add_argument("--out-json", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.size == "large":
        from . import large
        return large.main([] if args.results is None else ["--results", args.results])

    if args.worker:
        res = worker(args)
        with open(args.out_json, "w") as f:
            json.dump(res, f)
        return 0

    if args.quick:
        args.load_reps, args.read_reps = 1, 2
    size = datagen.SIZES[args.size]
    datadir = os.path.join(args.data, args.size)
    t0 = time.perf_counter()
    meta = datagen.ensure(datadir, size, seed=args.seed)
    print(f"data: {datadir} ({time.perf_counter() - t0:.1f}s)", file=sys.stderr)
    with open(os.path.join(datadir, "workload.json")) as f:
        wl = json.load(f)
    exp = expected.expected_answers(datadir, wl)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    if args.results is None:
        full = systems == DEFAULT_SYSTEMS and not args.quick and args.load_reps >= 3
        args.results = (os.path.join(ROOT, "bench", "results") if full else
                        os.path.join(tempfile.gettempdir(), "lpgdb-bench-results"))
    own_dbroot = args.dbroot is None
    dbroot = (tempfile.mkdtemp(prefix="lpgdb-bench-db-") if own_dbroot else
              os.path.join(args.dbroot, args.size))
    os.makedirs(dbroot, exist_ok=True)

    results, problems, skipped = [], {}, {}
    for system in systems:
        why = probe_missing(system)
        if why:
            print(f"== {system}: SKIPPED, {why}", file=sys.stderr, flush=True)
            skipped[system] = why
            continue
        print(f"== {system} ==", file=sys.stderr, flush=True)
        res = run_child(system, args, datadir, dbroot)
        results.append(res)
        problems[system] = expected.check(res, exp)
        for prob in problems[system]:
            print(f"!! {system}: {prob}", file=sys.stderr)
        print(f"== {system} done in {res['wall_s']:.1f}s ==", file=sys.stderr, flush=True)

    env = machine()
    env["dbroot"] = dbroot
    if own_dbroot and not args.keep:
        shutil.rmtree(dbroot, ignore_errors=True)
    md = report.render(args.size, meta, results, problems, skipped, env,
                       {"load_reps": args.load_reps, "read_reps": args.read_reps,
                        "budget_s": args.budget})
    print(md)
    os.makedirs(args.results, exist_ok=True)
    stem = args.size + (f"-{args.tag}" if args.tag else "")
    with open(os.path.join(args.results, stem + ".md"), "w") as f:
        f.write(md + "\n")
    print(f"results: {os.path.join(args.results, stem)}.md / .json", file=sys.stderr)
    with open(os.path.join(args.results, stem + ".json"), "w") as f:
        json.dump({"size": args.size, "meta": meta, "env": env,
                   "expected": {k: v for k, v in exp.items() if k not in ("w4", "w5")},
                   "settings": {"load_reps": args.load_reps, "read_reps": args.read_reps,
                                "budget_s": args.budget, "seed": args.seed},
                   "skipped": skipped, "problems": problems, "results": results}, f, indent=1)
    if any(problems.values()):
        return 2
    if skipped or any(r.get("errors") for r in results):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
