"""The workloads W0-W11: what each one runs against an adapter and what it records.

Owns: the operations and their timing.  It does not know which system runs them, does not
compute expected answers (expected.py) and does not format anything (report.py).

Every workload is a function ``fn(adapter, ctx) -> dict`` registered with ``@workload(key,
phase)`` (the ``register_test`` habit of sortedcontainers' benchmarks).  The worker in run.py
runs the phases in this order on each repetition's database:

    "load"   W1 bulk load (timed), [W8: set the schema], W11 disk size      every repetition
             W13 clean reopen + memory in a fresh process                    first repetition
    "read"   W0 W3 W3u W4 W5 W7 W5c W12 on the reopened database           first repetition
    "write"  W2 100-op transactions (W8 = the same on a schema-checked db)  every repetition
    "after"  W9 single-op commits, W10 crash recovery, W6 duplicate key     first repetition

Invariants:
  1. All timings are ``time.perf_counter`` around the adapter calls only (no result checking
     or bookkeeping of the harness inside a timed region, except W3's per-call latency clock).
  2. Answers (names, degrees, counts, averages) are returned in the dict so the parent can
     check them; a workload never decides by itself whether an answer is right.
  3. A read workload repeats up to ``ctx.read_reps`` times, at least once, and stops once it
     has used ``ctx.budget_s`` seconds; the median repetition is reported.
"""
from __future__ import annotations

import gc
import hashlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

from .datagen import Size, synthetic_persons

#: key -> Workload, in registration order (the order they run within a phase)
WORKLOADS: dict[str, "Workload"] = {}

W9_FIRST_ID = 1_000_000      # synthetic_persons ids -1e6 ... for W9
W10_FIRST_ID = 2_000_000     # ... and -2e6 ... for W10
W10_NAME_BYTES = 1_000       # padded names so the log grows by about 1 KB per node
W10_BATCH = 100


@dataclass
class Context:
    """Everything a workload may need besides the adapter."""

    wl: dict                   # workload.json
    size: Size
    persons_csv: str
    knows_csv: str
    read_reps: int = 5
    budget_s: float = 20.0
    adapter_spec: str = ""     # "name[@variant]", for W10's writer process
    schema: bool = False       # this repetition enforces the PG-Schema (W8)
    rep: int = 0               # which fresh database (W13 runs on the first)
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Workload:
    key: str
    phase: str
    fn: Callable[[object, Context], dict]


def workload(key: str, phase: str):
    """Register ``fn`` as workload ``key`` of ``phase`` ("load", "read", "write", "after")."""
    def register(fn):
        WORKLOADS[key] = Workload(key, phase, fn)
        return fn
    return register


def phase(name: str) -> list[Workload]:
    return [w for w in WORKLOADS.values() if w.phase == name]


def digest(values) -> str:
    """Order-sensitive short hash of a list of answers (W3 names)."""
    h = hashlib.sha256()
    for v in values:
        h.update(repr(v).encode())
        h.update(b"\x00")
    return h.hexdigest()[:16]


def _repeat(fn, ctx: Context) -> list[float]:
    """Run fn() per invariant (3); return the duration of each run."""
    times: list[float] = []
    for _ in range(max(1, ctx.read_reps)):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if sum(times) > ctx.budget_s:
            break
    return times


# ---- load phase --------------------------------------------------------------------------

@workload("w1", "load")
def bulk_load(a, ctx: Context) -> dict:
    """W1: persons.csv then knows.csv into the empty database, indexes included."""
    gc.collect()
    t0 = time.perf_counter()
    phases = a.bulk_load(ctx.persons_csv, ctx.knows_csv)
    return {"s": time.perf_counter() - t0, "phases": phases}


@workload("w8_schema", "load")
def set_schema(a, ctx: Context) -> dict | None:
    """W8 set-up: in the schema repetitions, enforce the social graph's PG-Schema on the loaded
    graph (validating all of it) before the checkpoint."""
    if not ctx.schema:
        return None
    t0 = time.perf_counter()
    a.set_schema()
    return {"s": time.perf_counter() - t0}


@workload("w11", "load")
def disk_after_load(a, ctx: Context) -> dict:
    """W11: checkpoint (untimed in W1), close, then the bytes the database occupies on disk:
    what ``du`` shows a user for the closed database (blocks allocated, so preallocated or
    sparse files count as what they hold on disk).  ``open_bytes``: the same while it was
    still open after the checkpoint.  The database is reopened afterwards."""
    t0 = time.perf_counter()
    a.flush()
    flush_s = time.perf_counter() - t0
    open_bytes = a.disk_bytes()
    if a.persistent:
        a.close()
    files = {}
    if a.persistent:
        for d, _dirs, names in os.walk(a.dbdir):
            for fn in names:
                path = os.path.join(d, fn)
                st = os.stat(path)
                files[os.path.relpath(path, a.dbdir)] = [st.st_size, st.st_blocks * 512]
    out = {"flush_s": flush_s, "bytes": a.disk_bytes(), "wal_bytes": a.wal_bytes(),
           "open_bytes": open_bytes, "files": files}
    if a.persistent:
        a.open()
    return out


@workload("w13", "load")
def open_probe(a, ctx: Context) -> dict | None:
    """W13 (first repetition): a clean reopen in a fresh process, and what it costs in memory.

    The database is closed; a child process imports the engine, reads its anonymous memory
    (RssAnon of /proc/self/status), opens the database (``open_plain``: no query-language
    warm-up) and reads it again, then runs 20,000 random key lookups (W3's call; at most 60 s
    of them, so a peer taking milliseconds a lookup stops early and reports how many it ran)
    and reads VmRSS and RssAnon.  So "anonymous memory added by the open" excludes the interpreter and
    the engine's import, as the issue asks."""
    if ctx.rep != 0 or ctx.schema or not a.persistent:
        return None
    a.close()
    ids = os.path.join(a.dbdir, "..", os.path.basename(a.dbdir) + ".w13-ids")
    with open(ids, "w") as f:
        json.dump(ctx.wl["w3_ids"][:20_000], f)
    cmd = [sys.executable, "-m", "bench.workloads", "--open-probe", ctx.adapter_spec,
           "--dbdir", a.dbdir, "--options", json.dumps(ctx.options), "--ids", ids]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        p = subprocess.run(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=600)
    finally:
        os.remove(ids)
        a.open()
    if p.returncode != 0:
        raise RuntimeError(f"W13 open probe failed: {p.stderr[-800:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _open_probe(argv: list[str]) -> int:
    """W13's child: see open_probe.  Prints one JSON line."""
    import argparse

    from .adapters import resolve
    p = argparse.ArgumentParser()
    p.add_argument("--open-probe", required=True)
    p.add_argument("--dbdir", required=True)
    p.add_argument("--options", default="{}")
    p.add_argument("--ids", required=True)
    p.add_argument("--budget", type=float, default=60.0, help="seconds for the lookups")
    args = p.parse_args(argv)
    cls, options = resolve(args.open_probe)
    options.update(json.loads(args.options))
    with open(args.ids) as f:
        ids = json.load(f)
    a = cls(args.dbdir, options)                 # imports the engine
    gc.collect()
    anon0 = _status_kb("RssAnon")
    t0 = time.perf_counter()
    a.open_plain()
    open_s = time.perf_counter() - t0
    anon1 = _status_kb("RssAnon")
    t1 = time.perf_counter()
    found = done = 0
    for pid in ids:            # within a time budget: a slow peer (Kùzu, ms per lookup) stops early
        found += a.lookup_name(pid) is not None
        done += 1
        if not done % 256 and time.perf_counter() - t1 > args.budget:
            break
    look_s = time.perf_counter() - t1
    out = {"open_s": open_s, "anon_before_mb": anon0 / 1024, "anon_open_mb": (anon1 - anon0) / 1024,
           "lookups": done, "found": found, "lookups_s": look_s,
           "rss_after_lookups_mb": _status_kb("VmRSS") / 1024,
           "anon_after_lookups_mb": _status_kb("RssAnon") / 1024,
           "hwm_mb": _status_kb("VmHWM") / 1024}
    a.close()
    print(json.dumps(out))
    return 0


# ---- read phase --------------------------------------------------------------------------

@workload("w0", "read")
def noop(a, ctx: Context) -> dict:
    """W0: the per-call floor of the API (2,000 cheapest statements)."""
    n = 2_000

    def run():
        f = a.noop
        for _ in range(n):
            f()
    t = _repeat(run, ctx)
    return {"n": n, "times": t, "us_per_call": statistics.median(t) / n * 1e6}


@workload("w3", "read")
def key_lookup(a, ctx: Context) -> dict:
    """W3: name of a person by id, one call per lookup, each call timed for p50/p99."""
    ids = ctx.wl["w3_ids"]
    lat: list[float] = []
    answers: list = []

    def run():
        lat.clear()
        answers.clear()
        pc, look, keep, note = time.perf_counter, a.lookup_name, answers.append, lat.append
        for pid in ids:
            t0 = pc()
            keep(look(pid))
            note(pc() - t0)
    t = _repeat(run, ctx)
    lat.sort()
    return {"n": len(ids), "times": t, "per_s": len(ids) / statistics.median(t),
            "p50_us": lat[len(lat) // 2] * 1e6, "p99_us": lat[int(len(lat) * 0.99)] * 1e6,
            "digest": digest(answers), "missing": sum(v is None for v in answers)}


@workload("w3u", "read")
def key_lookup_unprepared(a, ctx: Context) -> dict | None:
    """W3u: the same lookups through the engine's unprepared query path, when it has one."""
    f = getattr(a, "lookup_name_unprepared", None)
    if f is None:
        return None
    ids = ctx.wl["w3_ids"][:2_000]
    answers: list = []

    def run():
        answers.clear()
        keep = answers.append
        for pid in ids:
            keep(f(pid))
    t = _repeat(run, ctx)
    return {"n": len(ids), "times": t, "per_s": len(ids) / statistics.median(t),
            "digest": digest(answers)}


def _per_id(a, ctx: Context, method: str, key: str) -> dict:
    ids = ctx.wl[key]
    answers: list = []

    def run():
        answers.clear()
        f, keep = getattr(a, method), answers.append
        for pid in ids:
            keep(f(pid))
    t = _repeat(run, ctx)
    return {"n": len(ids), "times": t, "per_s": len(ids) / statistics.median(t),
            "answers": list(answers)}


@workload("w4", "read")
def one_hop(a, ctx: Context) -> dict:
    """W4: out-degree (KNOWS) of 2,000 persons."""
    return _per_id(a, ctx, "out_degree", "w4_ids")


@workload("w5", "read")
def two_hop(a, ctx: Context) -> dict:
    """W5: distinct friends-of-friends of 200 persons."""
    return _per_id(a, ctx, "two_hop_count", "w5_ids")


@workload("w7", "read")
def scan_aggregate(a, ctx: Context) -> dict:
    """W7: average age of persons with more than `threshold` out-neighbours."""
    answer: list = []

    def run():
        answer[:] = [a.avg_age_out_degree_gt(ctx.wl["w7_threshold"])]
    t = _repeat(run, ctx)
    return {"times": t, "ms": statistics.median(t) * 1e3, "answer": answer[0]}


@workload("w5c", "read")
def two_hop_cypher(a, ctx: Context) -> dict | None:
    """W5c: W5's 2-hop counts through the query language, when the adapter has a second path
    (lpgdb: Cypher against its native count_reach in W5)."""
    if getattr(a, "two_hop_count_cypher", None) is None:
        return None
    return _per_id(a, ctx, "two_hop_count_cypher", "w5_ids")


def w12_pairs() -> list[tuple[int, int]]:
    """W12's 20 (age, age) pairs: (18, 19), (21, 22), ... (75, 76) (ages are 18..90)."""
    return [(18 + 3 * i, 19 + 3 * i) for i in range(20)]


@workload("w12", "read")
def hash_join(a, ctx: Context) -> dict | None:
    """W12: a pattern of two disconnected parts joined by a WHERE equality (a hash join):
    for 20 pairs of ages, the number of pairs of persons, one of each age, with the same name.
    Each part is found by its age (lpgdb and SQLite through an index on age, made untimed
    before; Kùzu has no secondary index); the join is on name."""
    f = getattr(a, "same_name_pairs", None)
    if f is None:
        return None
    setup = getattr(a, "w12_setup", None)
    if setup is not None:
        setup()
    pairs = w12_pairs()
    answers: list = []

    def run():
        answers.clear()
        keep = answers.append
        for x, y in pairs:
            keep(f(x, y))
    try:
        t = _repeat(run, ctx)
    finally:
        teardown = getattr(a, "w12_teardown", None)
        if teardown is not None:
            teardown()              # untimed: the write phase must not maintain the extra index
    return {"n": len(pairs), "times": t, "per_s": len(pairs) / statistics.median(t),
            "ms_per_query": statistics.median(t) / len(pairs) * 1e3, "answers": list(answers)}


# ---- write phase -------------------------------------------------------------------------

@workload("w2", "write")
def hundred_op_transactions(a, ctx: Context) -> dict:
    """W2 (W8 on a schema-checked database): new persons then new edges, 100 per commit."""
    nodes = [tuple(r) for r in ctx.wl["w2_nodes"]]
    edges = [tuple(r) for r in ctx.wl["w2_edges"]]
    batch = ctx.wl["w2_batch"]
    a.stats.clear()
    gc.collect()
    t0 = time.perf_counter()
    for k in range(0, len(nodes), batch):
        a.insert_persons_tx(nodes[k:k + batch])
    t1 = time.perf_counter()
    for k in range(0, len(edges), batch):
        a.insert_knows_tx(edges[k:k + batch])
    t2 = time.perf_counter()
    out = {"nodes_s": t1 - t0, "edges_s": t2 - t1, "s": t2 - t0,
           "ops": len(nodes) + len(edges), "stats": dict(a.stats)}
    a.stats.clear()
    return out


# ---- after phase -------------------------------------------------------------------------

def fdatasync_rate(dirpath: str, n: int, budget_s: float) -> dict:
    """The raw durable-write limit of this file system, measured in ``dirpath`` (files removed
    afterwards): 256-byte writes each followed by fdatasync, (a) appended to a growing file,
    which also syncs the file size, and (b) into a preallocated file, as a log that reuses or
    preallocates its segments does.  ``per_s`` is the better of the two: no commit path that
    syncs once per commit can beat it."""
    out = {}
    buf = b"\x5a" * 256
    for mode in ("append", "prealloc"):
        path = os.path.join(dirpath, f"fdatasync-probe-{mode}.tmp")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            if mode == "prealloc":
                os.posix_fallocate(fd, 0, 256 * n)
                os.fsync(fd)
            done = 0
            t0 = time.perf_counter()
            while done < n:
                os.pwrite(fd, buf, 256 * done)
                os.fdatasync(fd)
                done += 1
                if time.perf_counter() - t0 > budget_s / 2:
                    break
            out[mode] = done / (time.perf_counter() - t0)
        finally:
            os.close(fd)
            os.remove(path)
    out["per_s"] = max(out["append"], out["prealloc"])
    return out


@workload("w9", "after")
def single_op_commits(a, ctx: Context) -> dict | None:
    """W9: one new person per durable commit, against fdatasync measured just before."""
    if not a.durable:
        return None
    budget = min(5.0, ctx.budget_s)
    raw = fdatasync_rate(a.dbdir, ctx.size.w9_commits, budget)
    rows = synthetic_persons(W9_FIRST_ID, ctx.size.w9_commits)
    before = a.count_persons()
    done = 0
    gc.collect()
    t0 = time.perf_counter()
    for row in rows:
        a.insert_persons_tx([row])
        done += 1
        if time.perf_counter() - t0 > budget:
            break
    dt = time.perf_counter() - t0
    return {"n": done, "s": dt, "per_s": done / dt, "fdatasync_per_s": raw["per_s"],
            "fdatasync": raw, "count_check": [a.count_persons(), before + done]}


@workload("w10", "after")
def crash_recovery(a, ctx: Context) -> dict | None:
    """W10: a writer process commits ~N MB of new persons (1 KB each, 100 per commit) and is
    killed with SIGKILL right after its last acknowledged commit; then open + count is timed.

    The count after recovery must equal the count before plus every acknowledged row."""
    if not a.persistent or not a.durable:
        return None
    before = a.count_persons()
    a.close()
    progress = os.path.join(a.dbdir, "..", os.path.basename(a.dbdir) + ".w10-progress")
    cmd = [sys.executable, "-m", "bench.workloads", "--crash-writer", ctx.adapter_spec,
           "--dbdir", a.dbdir, "--options", json.dumps(ctx.options), "--progress", progress,
           "--mb", str(ctx.size.w10_wal_mb), "--max-s", str(ctx.size.w10_max_s)]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = subprocess.run(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=ctx.size.w10_max_s + 120)
    with open(progress) as f:
        acked, written_bytes, write_s = json.load(f)
    os.remove(progress)
    if p.returncode != -signal.SIGKILL:
        raise RuntimeError(f"W10 writer did not die by SIGKILL (status {p.returncode}): "
                           f"{p.stdout[-500:]}")
    wal = a.wal_bytes()
    gc.collect()
    t0 = time.perf_counter()
    a.open()
    after = a.count_persons()
    dt = time.perf_counter() - t0
    replayed = getattr(a, "replayed_bytes", None)   # log the open replayed (since the checkpoint)
    return {"recover_s": dt, "wal_mb": wal / 2**20, "written_mb": written_bytes / 2**20,
            "replayed_mb": None if replayed is None else replayed() / 2**20,
            "acked_rows": acked, "write_s": write_s,
            "count_check": [after, before + acked]}


@workload("w6", "after")
def duplicate_key(a, ctx: Context) -> dict:
    """W6: insert a person whose id exists, through the normal write API."""
    before = a.count_persons()
    rejected, msg = a.try_insert_duplicate(tuple(ctx.wl["w6_duplicate"]))
    return {"rejected": rejected, "message": msg, "persons_before": before,
            "persons_after": a.count_persons()}


def _crash_writer(argv: list[str]) -> int:
    """W10's writer process: commit batches until the target volume, then SIGKILL itself.

    Progress (rows acknowledged, payload bytes, seconds) is rewritten after every commit, so
    the parent knows exactly which commits were acknowledged before the kill."""
    import argparse

    from .adapters import resolve
    p = argparse.ArgumentParser()
    p.add_argument("--crash-writer", required=True)
    p.add_argument("--dbdir", required=True)
    p.add_argument("--options", default="{}")
    p.add_argument("--progress", required=True)
    p.add_argument("--mb", type=float, required=True)
    p.add_argument("--max-s", type=float, required=True)
    args = p.parse_args(argv)
    cls, options = resolve(args.crash_writer)
    options.update(json.loads(args.options))
    a = cls(args.dbdir, options)
    a.open()
    target = args.mb * 2**20
    acked = written = 0
    start = W10_FIRST_ID
    t0 = time.perf_counter()
    while written < target and time.perf_counter() - t0 < args.max_s:
        rows = synthetic_persons(start + acked, W10_BATCH, W10_NAME_BYTES)
        a.insert_persons_tx(rows)
        acked += len(rows)
        written += sum(len(r[1]) + 16 for r in rows)
        tmp = args.progress + ".tmp"
        with open(tmp, "w") as f:
            json.dump([acked, written, time.perf_counter() - t0], f)
        os.replace(tmp, args.progress)
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)
    return 1  # not reached


if __name__ == "__main__":
    if "--open-probe" in sys.argv:
        sys.exit(_open_probe(sys.argv[1:]))
    sys.exit(_crash_writer(sys.argv[1:]))
