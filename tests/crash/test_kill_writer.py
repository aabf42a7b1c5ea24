"""Kill a writer process mid-commit (SIGKILL) and check what survives (design §3.3 harness A).

A forked child opens the database and commits transactions T_c, T_c+1, ... of a deterministic
history, writing "i" to a pipe after each ``commit()`` returns (the acknowledgement).  The parent
kills it at a random moment, or the child kills itself at a named crash point inside the WAL or
checkpoint code.  Then the parent recovers the database and checks:

* every acknowledged transaction is there (no lost commit);
* the state equals the history's first k transactions for one k (no hole, no partial commit),
  through several read paths (nodes, label scan, edges, adjacency, key index);
* the native invariant checks pass; recovery after recovery (the trials share one database)
  keeps working.

Default: 200 random kill points plus every named crash point; ``LPGDB_CRASH_TRIALS=N`` or the
opt-in ``soak`` marker runs more.
"""
import os
import random
import signal
import time

import pytest

import lpgdb
from lpgdb.storage import faults

POINTS = ["wal_before_write", "wal_torn_write", "wal_after_write", "wal_after_sync",
          "ckpt_after_files", "ckpt_after_manifest", "ckpt_after_meta"]


def _txn(tx, i):
    """Transaction i of the history (deterministic)."""
    n = tx.create_node(["C"] + (["Even"] if i % 2 == 0 else []), {"i": i, "pad": "x" * (i * 53 % 700)})
    if i:
        prev = next(tx.find_nodes("C", i=i - 1))
        tx.create_edge(n, "PREV", prev.id, {"i": i})
    if i % 5 == 4 and i >= 3:
        old = next(tx.find_nodes("C", i=i - 3))
        tx.update_node(old.id, set={"u": i})


def _expected(k):
    u = {}
    for i in range(k):
        if i % 5 == 4 and i >= 3:
            u[i - 3] = i
    return u


def _writer(path, start, wfd, point, nth):
    try:
        if point:
            faults.arm(point, nth)
        db = lpgdb.connect(path, wal_segment_size=128 * 1024)
        for i in range(start, start + 10_000):
            with db.transaction() as tx:
                _txn(tx, i)
            os.write(wfd, f"{i}\n".encode())
            if i % 7 == 6:
                db.checkpoint()
    finally:
        os._exit(3)


def _run_trial(path, rng, point=None, nth=1):
    start = _recover_and_check(path, -1)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _writer(path, start, w, point, nth)
    os.close(w)
    if point is None:
        time.sleep(rng.uniform(0.0, 0.06))
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    acked = [int(x) for x in data.split()]
    if point is not None:
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, \
            f"crash point {point}:{nth} was not reached (status {status})"
    return _recover_and_check(path, max(acked, default=start - 1))


def _recover_and_check(path, last_acked):
    """Recover; check the prefix property; return k (the number of transactions present)."""
    if not os.path.exists(path):
        return 0
    db = lpgdb.connect(path, wal_segment_size=128 * 1024)
    try:
        db.verify()
        with db.snapshot() as s:
            got = sorted(n["i"] for n in s.nodes("C"))
            k = len(got)
            assert got == list(range(k)), f"hole in history: {got[-5:]}"
            assert k >= last_acked + 1, f"acknowledged commit {last_acked} lost (have {k})"
            assert sorted(e["i"] for e in s.edges("PREV")) == list(range(1, k))
            assert s.node_count("Even") == (k + 1) // 2
            u = {n["i"]: n["u"] for n in s.nodes("C") if "u" in n.properties}
            assert u == _expected(k)
            for i in (0, k // 2, k - 1) if k else ():
                (node,) = list(s.find_nodes("C", i=i))
                assert s.degree(node.id, "out", "PREV") == (1 if i else 0)
                assert s.degree(node.id, "in", "PREV") == (1 if i < k - 1 else 0)
    finally:
        db._engine.close(checkpoint_on_close=False)   # keep the WAL for the next recovery
        db._closed = True
    return k


def _index_db(path):
    with lpgdb.connect(path, wal_segment_size=128 * 1024) as db:
        db.create_index("C", "i")


def _trials(tmp_path, n, seed):
    path = str(tmp_path / "db")
    _index_db(path)
    rng = random.Random(seed)
    progress = []
    for t in range(n):
        progress.append(_run_trial(path, rng))
    assert progress[-1] > 0, "the writer never committed anything: kills came too early"
    return progress


def test_random_sigkill_during_commits(tmp_path):
    n = int(os.environ.get("LPGDB_CRASH_TRIALS", "200"))
    seed = int(os.environ.get("LPGDB_CRASH_SEED", "1234"))
    _trials(tmp_path, n, seed)


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("nth", [1, 3, 8])
def test_named_crash_points(tmp_path, point, nth):
    path = str(tmp_path / "db")
    _index_db(path)
    rng = random.Random(nth)
    for _ in range(2):   # crash, recover, crash again at the same point
        _run_trial(path, rng, point, nth)


@pytest.mark.soak
def test_soak_sigkill(tmp_path):
    _trials(tmp_path, 3000, int(os.environ.get("LPGDB_CRASH_SEED", "99")))
