"""Crash-recovery replay speed (issue 10: "replaying >= 100 MB/s"), for two record shapes in one run.

    python -m bench.replay [--mb 20] [--reps 5] [--base 100000] [--base-edges 0] [--tree DIR ...]

For each shape a database is made once: a base of ``--base`` persons (100,000) with a Person.id
index and ``--base-edges`` KNOWS edges between them (none), bulk loaded and checkpointed; then a writer process commits ``--mb`` MB of log and is killed with
SIGKILL (automatic checkpoints off, as bench/large.py's crash step):

    small   transactions of 1,000 new persons {id, name, age} (~45 bytes a person in the log;
            bench/large.py's crash shape)
    w10     transactions of 100 new persons with 1 KB names (the medium bench's W10 shape)

Then each repetition copies the killed database (untimed) and opens it in a fresh process, which
times ``lpgdb.connect`` (the replay of everything since the checkpoint) by wall clock and by its
own CPU time (time.process_time: user + system), and reports the log bytes replayed.  With
several ``--tree`` the recoveries alternate between the trees (each child imports lpgdb from
its tree), so a loaded machine hits every tree alike; the databases are made by the first tree.
Prints one line per recovery and a summary (median and best MB per CPU second and per wall
second), and the load average.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE = 100_000     # persons in the checkpointed base (--base)
SHAPES = {"small": (1000, 0), "w10": (100, 1000)}   # persons a transaction, name padded to bytes


def person(i: int, pad: int) -> dict:
    name = f"Person {i}"
    return {"id": 7 * i + 3, "name": name + "x" * max(0, pad - len(name)), "age": 18 + i % 73}


def make(path: str, shape: str, mb: int, base: int, base_edges: int) -> None:
    """Child: the base, then the log of ``shape`` until ``mb`` MB, then SIGKILL."""
    import random
    import lpgdb
    db = lpgdb.connect(path)
    db.create_index("Person", "id")
    rnd = random.Random(7)
    db.bulk_load(nodes=((("Person",), person(i, 0)) for i in range(base)),
                 edges=((rnd.randrange(base), "KNOWS", rnd.randrange(base), None) for _ in range(base_edges)))
    db.checkpoint()
    db.close()
    batch, pad = SHAPES[shape]
    db = lpgdb.connect(path, create=False, checkpoint_wal_bytes=1 << 40, checkpoint_mem_bytes=1 << 40)
    eng = db._engine
    start, k = eng.wal.end_lsn, base
    while eng.wal.end_lsn - start < mb << 20:
        with db.transaction() as tx:
            for j in range(k, k + batch):
                tx.create_node("Person", person(j, pad))
        k += batch
    print(json.dumps({"persons": k - base}), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def recover(path: str) -> None:
    """Child: open (replay) and report wall and CPU seconds and the MB replayed."""
    import lpgdb
    assert os.path.dirname(os.path.dirname(os.path.abspath(lpgdb.__file__))) == os.getcwd(), lpgdb.__file__
    t0, c0 = time.perf_counter(), time.process_time()
    db = lpgdb.connect(path, create=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    eng = db._engine
    mb = (eng.replayed_to - eng.meta.checkpoint_lsn) / 2**20
    print(json.dumps({"wall": wall, "cpu": cpu, "mb": mb}), flush=True)
    os._exit(0)        # no checkpoint at close: the copy is thrown away


def _child(tree: str, *args) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=tree)     # the script itself, so lpgdb comes from ``tree``
    return subprocess.run([sys.executable, os.path.abspath(__file__), *args], cwd=tree, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.replay", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mb", type=int, default=20, help="log written before the SIGKILL (default %(default)s)")
    p.add_argument("--reps", type=int, default=5, help="recoveries per shape and tree")
    p.add_argument("--shapes", default="small,w10")
    p.add_argument("--base", type=int, default=BASE, help="persons in the base (default %(default)s)")
    p.add_argument("--base-edges", type=int, default=0, help="KNOWS edges in the base (default %(default)s)")
    p.add_argument("--tree", action="append", help="a source tree whose lpgdb recovers (repeatable; default: this one)")
    p.add_argument("--dir", help="scratch directory (default: a temporary one, removed)")
    p.add_argument("--_make", nargs=5, help=argparse.SUPPRESS)
    p.add_argument("--_recover", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a._make:
        make(a._make[0], a._make[1], int(a._make[2]), int(a._make[3]), int(a._make[4]))
        return 0
    if a._recover:
        recover(a._recover)
        return 0
    trees = [os.path.abspath(t) for t in (a.tree or [ROOT])]
    scratch = a.dir or tempfile.mkdtemp(prefix="lpgdb-replay-")
    os.makedirs(scratch, exist_ok=True)
    print(f"load average at start {os.getloadavg()[0]:.1f}; trees: {', '.join(trees)}", flush=True)
    summary = []
    try:
        for shape in a.shapes.split(","):
            src = os.path.join(scratch, f"{shape}.lpg")
            shutil.rmtree(src, ignore_errors=True)
            r = _child(trees[0], "--_make", src, shape, str(a.mb), str(a.base), str(a.base_edges))
            if r.returncode != -signal.SIGKILL:
                print(f"{shape}: the writer did not die by SIGKILL ({r.returncode}): {r.stderr[-800:]}")
                return 1
            persons = json.loads(r.stdout.strip().splitlines()[-1])["persons"]
            runs: dict = {t: [] for t in trees}
            for _ in range(a.reps):
                for t in trees:
                    dst = os.path.join(scratch, f"{shape}.copy")
                    shutil.rmtree(dst, ignore_errors=True)
                    shutil.copytree(src, dst)
                    # A crashed database's log was made durable by its commits; the fresh copy's
                    # pages are still dirty, and recovery's first fsync would write them all back.
                    os.sync()
                    r = _child(t, "--_recover", dst)
                    if r.returncode:
                        print(f"{shape}: recovery failed in {t}: {r.stderr[-800:]}")
                        return 1
                    x = json.loads(r.stdout.strip().splitlines()[-1])
                    runs[t].append(x)
                    print(f"  {shape} {os.path.basename(t)}: {x['mb']:.1f} MB in {x['wall']:.3f} s wall, "
                          f"{x['cpu']:.3f} s CPU (load {os.getloadavg()[0]:.1f})", flush=True)
            for t in trees:
                cpu = [x["mb"] / x["cpu"] for x in runs[t]]
                wall = [x["mb"] / x["wall"] for x in runs[t]]
                summary.append(f"{shape:6s} {os.path.basename(t):20s} {persons:,} persons, {runs[t][0]['mb']:.1f} MB: "
                               f"MB per CPU s median {statistics.median(cpu):.1f} (best {max(cpu):.1f}); "
                               f"MB per wall s median {statistics.median(wall):.1f} (best {max(wall):.1f})")
    finally:
        if not a.dir:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
