"""SIGKILL a bulk load from CSV (``db.bulk_load`` / ``lpgdb import``) at random points: after
reopening, either nothing of the load is there or all of it (issue 11), the prior data is
intact and the database takes commits.

* at I/O calls: a writer forked by importer.py dies at a chosen I/O call of open + load + close
  (the load's commit and the checkpoint at close included); CI size: 20 random calls of a
  2,000-node / 8,000-edge load; soak: every call of a load of several CSV chunks
  (LPGDB_KILL_IMPORT_EDGES, default 600,000 edges);
* the same for ``lpgdb.bulk_import`` into a new database (a streamed load spilled every 8 KiB,
  the rename into place last): no database at the path, or all of it;
* at a random moment: ``lpgdb import --append`` (one bulk_load transaction) and ``lpgdb import``
  into a new database (bulk_import), each in its own process with real fsyncs, killed after a
  random delay drawn over the length of an uninterrupted run (3 trials each; 20 under soak).
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from . import importer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _kill_at_io_calls(root, nodes, edges, trials, seed, new=False):
    r = subprocess.run([sys.executable, "-m", "tests.crash.importer", str(root), str(nodes), str(edges),
                        str(trials), str(seed)] + (["new"] if new else []), cwd=ROOT, env=_env(),
                       capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
    calls = lines[-1]["calls"]
    trials = lines[:-1]
    bad = [t for t in trials if t["outcome"] not in ("none", "all")]
    assert not bad, bad
    assert trials[0] == {"kill_at": None, "status": 0, "outcome": "all"}
    outcomes = {t["outcome"] for t in trials[1:]}
    # the kill points fall before and after the commit point: both outcomes are seen
    assert outcomes == {"none", "all"}, (calls, trials)
    assert all(os.WIFSIGNALED(t["status"]) for t in trials[1:] if t["status"] != 0)
    return calls, trials


def test_kill_bulk_load_at_io_calls(fast_tmp):
    _kill_at_io_calls(fast_tmp, 2000, 8000, 20, random.randrange(1 << 30))


def test_kill_bulk_import_into_a_new_database_at_io_calls(fast_tmp):
    # lpgdb.bulk_import: one streamed load spilled every 8 KiB, the rename last
    _kill_at_io_calls(fast_tmp, 2000, 8000, 20, random.randrange(1 << 30), new=True)


@pytest.mark.soak
def test_kill_bulk_import_at_every_io_call_soak(fast_tmp):
    _kill_at_io_calls(fast_tmp, 2000, 8000, 0, 1, new=True)


@pytest.mark.soak
def test_kill_bulk_load_at_every_io_call_soak(fast_tmp):
    edges = int(os.environ.get("LPGDB_KILL_IMPORT_EDGES", "600000"))
    _kill_at_io_calls(fast_tmp, max(edges // 3, 1), edges, 0, 1)


def _import(db, files, new=False):
    return [sys.executable, "-m", "lpgdb", "import", db, "--no-progress", "--id-type=integer",
            "--nodes=Person=" + files[0], "--edges=KNOWS=" + files[1]] + ([] if new else ["--append"])


def _kill_cli_import(root, nodes, edges, trials, seed, new=False):
    """``lpgdb import --append`` into a database with prior data, or (``new``) into a new one."""
    os.makedirs(str(root), exist_ok=True)
    files, expected = importer.write_csv(str(root), nodes, edges)
    base = os.path.join(str(root), "base", "db")
    if new:
        os.makedirs(os.path.dirname(base))
    else:
        importer.make_base(base)
    trial = os.path.join(str(root), "trial")
    shutil.copytree(os.path.dirname(base), trial)
    t0 = time.perf_counter()
    r = subprocess.run(_import(os.path.join(trial, "db"), files, new), env=_env(), capture_output=True,
                       text=True, timeout=600)
    length = time.perf_counter() - t0
    assert r.returncode == 0, r.stderr
    assert importer.check(os.path.join(trial, "db"), expected, prior=not new) == "all"
    rng = random.Random(seed)
    seen = []
    for _ in range(trials):
        shutil.rmtree(trial)
        shutil.copytree(os.path.dirname(base), trial)
        p = subprocess.Popen(_import(os.path.join(trial, "db"), files, new), env=_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        delay = rng.uniform(0, length)
        try:
            p.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
        _, err = p.communicate(timeout=600)
        assert p.returncode in (0, -signal.SIGKILL), err
        outcome = importer.check(os.path.join(trial, "db"), expected, prior=not new)
        assert outcome in ("none", "all"), (delay, p.returncode, outcome)
        if p.returncode == 0:
            assert outcome == "all"
        seen.append((round(delay, 3), p.returncode, outcome))
    return seen


def test_kill_lpgdb_import_at_random_moments(tmp_path):
    _kill_cli_import(tmp_path, 2000, 8000, 3, random.randrange(1 << 30))


def test_kill_lpgdb_import_into_a_new_database_at_random_moments(tmp_path):
    _kill_cli_import(tmp_path, 2000, 8000, 3, random.randrange(1 << 30), new=True)


@pytest.mark.soak
def test_kill_lpgdb_import_at_random_moments_soak(tmp_path):
    edges = int(os.environ.get("LPGDB_KILL_IMPORT_EDGES", "600000"))
    _kill_cli_import(tmp_path, max(edges // 3, 1), edges, 20, 2)
    # into a new database: 2,400,000 rows by default, spilled in many runs
    _kill_cli_import(tmp_path / "new", max(edges // 3, 1) * 2, edges * 4, 20, 3, new=True)
