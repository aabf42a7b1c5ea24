"""A lean process that forks killable writers for the kill harness (test_kill_writer.py).

Forking the test process itself is cheap only while it is small: after other tests imported
pandas or pyarrow, a fork costs tens of milliseconds.  This server is a fresh interpreter that
imports lpgdb, warms up what a writer would load lazily (the schema parser), then forks one
writer per request.

Protocol (JSON lines): request ``{"root", "acked", "kill_at", "point", "nth", "threads",
"real_sync", "after"}`` (or ``{"op": "batch", "reqs": [...]}``: writers for several databases
at once); reply ``{"lines": [...], "status": int}`` (``{"replies": [...]}``) where ``lines`` are what the
writer reported ("K <k>" after checking what it recovered, "<s>" per acknowledged transaction,
"FAIL <why>") and ``status`` is its ``waitpid`` status.  Run: ``python -m tests.crash.forkserver``.
"""
import gc
import json
import os
import signal
import sys
import threading
import time

from lpgdb.storage import faults, io

from . import workload as w

STEPS = 4          # transactions a writer attempts (x10 when not killed at an I/O call)


def writer(root, wfd, acked, kill_at=None, point=None, nth=1, threads=1, real_sync=False):
    """Recover and check what the previous writer left (``acked`` transactions at least), then
    resume the history until killed."""
    code = 3
    gc.disable()     # a short life: no collection walking (and copying) the server's pages
    try:
        if point:
            faults.arm(point, nth)

        def on_call(n, _kind, _site):
            if n == kill_at:
                faults.die()
        io.install(io.Simulator(root, real_sync=real_sync, on_call=on_call if kill_at else None))
        path = os.path.join(root, "db")
        fresh = not os.path.exists(os.path.join(path, "META"))
        db = w.open_db(path)
        try:
            start = 0 if fresh and acked == 0 else w.check(db, acked)
        except AssertionError as e:
            os.write(wfd, f"FAIL {e}\n".encode())
            code = 4
            raise
        os.write(wfd, f"K {start}\n".encode())
        if start and threads == 1:                  # finish a backup a kill interrupted
            w.extra(db, start - 1, os.path.join(root, "bk"))
        if threads == 1:
            for s in range(start, start + 10 * STEPS):
                w.run_txn(db, s)
                os.write(wfd, f"{s}\n".encode())
                w.extra(db, s, os.path.join(root, "bk"))
        else:
            _threaded(db, wfd, start)
        code = 0
    finally:
        os._exit(code)


def _threaded(db, wfd, start):
    """Two threads run transactions start, start+1, ...: a number is taken together with the
    writer lock, so commits enter the log in history order, and each thread waits for its
    fsync after releasing the lock (group commit)."""
    assign = threading.Lock()
    state = {"next": start}

    def worker():
        while True:
            with assign:
                s = state["next"]
                if s >= start + 40 * STEPS:
                    return
                state["next"] += 1
                if w.kind(s) != "commit":
                    w.run_txn(db, s)
                    os.write(wfd, f"{s}\n".encode())
                    continue
                tx = db.transaction()
            with tx:
                w.fill_commit(tx, s)
            os.write(wfd, f"{s}\n".encode())

    ts = [threading.Thread(target=worker) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def _start(req: dict):
    r, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        writer(req["root"], wfd, req.get("acked", 0), req.get("kill_at"), req.get("point"),
               req.get("nth", 1), req.get("threads", 1), req.get("real_sync", False))
    os.close(wfd)
    return pid, r


def _finish(pid, r) -> dict:
    _, status = os.waitpid(pid, 0)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    return {"lines": data.decode().splitlines(), "status": status}


def run_one(req: dict) -> dict:
    """Fork a writer for ``req``; wait for it (killing it after ``after`` seconds if given)."""
    pid, r = _start(req)
    if req.get("after") is not None:
        time.sleep(req["after"])
        os.kill(pid, signal.SIGKILL)
    return _finish(pid, r)


def run_batch(reqs: list) -> list:
    """Writers for several databases at once (both cores busy); replies in request order."""
    started = [_start(req) for req in reqs]
    return [_finish(pid, r) for pid, r in started]


def calls_per_run(root: str) -> int:
    """I/O calls of one writer run (STEPS transactions) from an empty database, plus a reopen."""
    r, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        sim = io.Simulator(root, real_sync=False)
        io.install(sim)
        try:
            db = w.open_db(os.path.join(root, "db"))
            for s in range(STEPS):
                w.run_txn(db, s)
                w.extra(db, s, os.path.join(root, "bk"))
            w.crash(db)
            w.crash(w.open_db(os.path.join(root, "db")))
            os.write(wfd, str(sim.n).encode())
        finally:
            os._exit(0)
    os.close(wfd)
    os.waitpid(pid, 0)
    n = int(os.read(r, 100) or 0)
    os.close(r)
    return n


def serve(inp=sys.stdin, out=sys.stdout) -> None:
    w.warm_up()
    gc.collect()
    gc.freeze()      # writers share these pages: a collection in a writer would copy them all
    out.write("ready\n")
    out.flush()
    for line in inp:
        req = json.loads(line)
        if req.get("op") == "calls":
            reply = {"n": calls_per_run(req["root"])}
        elif req.get("op") == "batch":
            reply = {"replies": run_batch(req["reqs"])}
        else:
            reply = run_one(req)
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    serve()
