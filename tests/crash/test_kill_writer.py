"""Kill a writer process (SIGKILL) and check what survives (design/storage.md §3.3 harness A).

A writer forked by a lean fork server (forkserver.py: lpgdb already imported and warmed up, so
a fork costs milliseconds) first recovers the database and checks what the previous writer
left (``workload.check``: every acknowledged transaction there, the state a prefix of the
history through every read path), then resumes the history, reporting each acknowledgement,
and dies by SIGKILL:

* at a deterministic point: the n-th I/O call under the database directory (``io.Simulator``
  ``on_call``), n walking over every call of a run, so kill points fall into recovery, commits,
  checkpoints, bulk loads, ``set_schema``, ``create_index`` and backups alike;
* at a named crash point (``faults.py``), for the steps of the WAL and checkpoint protocols;
* at a random moment, with two threads committing (group commit) and real fsyncs.

The trials of one database share it, so recovery after recovery is tested too; at the end the
test process recovers each database itself and checks it and every backup taken.  Simulated
I/O in the writers skips real fsyncs: a killed process loses nothing the kernel has (power
loss is test_power_loss.py).

Default: >= 1,000 deterministic kill points; ``LPGDB_KILL_POINTS=N`` or the ``soak`` marker run
more.
"""
import json
import os
import random
import signal
import subprocess
import sys

import pytest

from . import workload as w

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class ForkServer:
    def __init__(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.crash.forkserver"], cwd=ROOT,
                                     env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        assert self.proc.stdout.readline().strip() == "ready", "fork server did not start"

    def call(self, **req) -> dict:
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"fork server died (exit {self.proc.poll()})"
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server():
    s = ForkServer()
    yield s
    s.close()


class Trials:
    """A database shared by successive killed writers."""

    def __init__(self, server, root):
        self.server = server
        self.root = str(root)
        os.makedirs(self.root, exist_ok=True)
        self.path = os.path.join(self.root, "db")
        self.acked = 0          # transactions acknowledged so far
        self.k = 0              # transactions the last check found
        self.kills = 0
        self.checks = 0

    def request(self, *, kill_at=None, point=None, nth=1, after=None, threads=1, real_sync=False):
        return dict(root=self.root, acked=self.acked, kill_at=kill_at, point=point, nth=nth,
                    after=after, threads=threads, real_sync=real_sync)

    def run(self, **kw):
        return self.record(self.server.call(**self.request(**kw)), kw.get("kill_at"), kw.get("point"))

    def record(self, rep, kill_at=None, point=None):
        failed = [x for x in rep["lines"] if x.startswith("FAIL")]
        assert not failed, f"recovery check failed (kill_at={kill_at}, point={point}): {failed[0]}"
        for x in rep["lines"]:
            if x.startswith("K "):
                self.k = int(x[2:])
                self.checks += 1
            else:
                self.acked = max(self.acked, int(x) + 1)
        status = rep["status"]
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        assert killed or (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0), \
            f"writer failed (status {status}, kill_at={kill_at}, point={point})"
        self.kills += killed
        return killed

    def finish(self) -> int:
        """Recover once more in this process; check the database and every backup taken."""
        if os.path.exists(os.path.join(self.path, "META")):
            db = w.open_db(self.path)
            try:
                self.k = w.check(db, self.acked)
            finally:
                w.crash(db)
        bk = os.path.join(self.root, "bk")
        n = 0
        for name in os.listdir(bk) if os.path.isdir(bk) else ():
            if name.startswith("bak-"):
                s = int(name[4:])
                db = w.open_db(os.path.join(bk, name), readonly=True)
                try:
                    assert w.check(db, s + 1, s + 1) == s + 1, name
                finally:
                    db.close()
                n += 1
        return n


def _kill_points(server, base, count, seed, lane_trials=30, parallel=2):
    """``count`` SIGKILLs at I/O calls.  ``parallel`` databases at a time (one writer each per
    round: both cores busy); a fresh database every ``lane_trials`` trials keeps the databases,
    and so each trial, small."""
    probe = str(base / "probe")
    os.makedirs(probe)
    m = server.call(op="calls", root=probe)["n"]
    assert m > 50, m
    rng = random.Random(seed)
    kills = trials = backups = checks = longest = 0
    lanes = 0
    while kills < count:
        group = [Trials(server, base / f"lane{lanes + i}") for i in range(parallel)]
        lanes += parallel
        for _ in range(lane_trials):
            points = []
            for _t in group:
                trials += 1
                points.append(1 + (trials * 7 + rng.randrange(3)) % m)   # walks over every call
            reps = server.call(op="batch", reqs=[t.request(kill_at=p) for t, p in zip(group, points)])
            for t, p, rep in zip(group, points, reps["replies"]):
                t.record(rep, p)
            if kills + sum(t.kills for t in group) >= count:
                break
        for t in group:
            backups += t.finish()
            kills += t.kills
            checks += t.checks + 1
            longest = max(longest, t.acked)
            assert t.acked > 5, "the history did not advance: kills came too early"
    return kills, trials, lanes, backups, checks, longest


def test_kill_at_every_io_call(server, fast_tmp):
    count = int(os.environ.get("LPGDB_KILL_POINTS", "1000"))
    kills, trials, lanes, backups, checks, longest = _kill_points(
        server, fast_tmp, count, int(os.environ.get("LPGDB_CRASH_SEED", "1234")))
    assert kills >= count
    print(f"\nkill points: {kills} SIGKILLs at I/O calls ({trials} writer runs, {lanes} "
          f"databases, {checks} recoveries checked): 0 lost acknowledged commits, "
          f"{backups} backups verified, histories up to {longest} transactions")


POINTS = ["wal_before_write", "wal_torn_write", "wal_after_write", "wal_after_sync",
          "ckpt_after_files", "ckpt_after_manifest", "meta_between_slots", "ckpt_after_meta"]


@pytest.mark.parametrize("point", POINTS)
def test_named_crash_points(server, fast_tmp, point):
    t = Trials(server, fast_tmp)
    for nth in (1, 2, 3, 1, 2):            # crash, recover, crash again at the same point
        t.run(point=point, nth=nth)
    t.finish()
    assert t.kills >= 4, f"crash point {point} was not reached"


def test_random_sigkill_with_group_commit(server, fast_tmp):
    """Two committing threads, real fsyncs, killed at random moments (timing, not I/O count)."""
    n = int(os.environ.get("LPGDB_CRASH_TRIALS", "25"))
    rng = random.Random(int(os.environ.get("LPGDB_CRASH_SEED", "99")))
    t = Trials(server, fast_tmp)
    for _ in range(n):
        t.run(after=rng.uniform(0.0, 0.08), threads=2, real_sync=True)
    t.finish()
    assert t.acked > 0


@pytest.mark.soak
def test_soak_kill_points(server, fast_tmp):
    kills, *_ = _kill_points(server, fast_tmp, 20_000, int(os.environ.get("LPGDB_CRASH_SEED", "7")))
    assert kills >= 20_000
