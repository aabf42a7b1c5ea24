"""EIO, ENOSPC and short writes at every I/O call site (design/storage.md §3.3 harness D).

A scenario (create, the history of ``workload.py`` with its index, schema, bulk loads and
checkpoints, a backup, a restore of it, a follower, a clean close and reopen, more commits)
first runs once under ``io.Simulator`` to list the I/O call sites it reaches (kind and
``module.function:line``).  Then, for every site and every fault (EIO, ENOSPC, and a short
write for writes), it runs again with that fault injected at the site's first call (and, for
sites called often, at a later call too, and once persistently).  After each injection:

* the error that surfaces is a typed ``lpgdb.Error``;
* the handle is usable or poisoned, never silently wrong: a snapshot shows exactly the
  acknowledged transactions; a failed transaction is retried once (a duplicate would show),
  and if the retry fails every later write fails too;
* after a "reboot" (the handles dropped, the disk reduced to what was fdatasynced: a
  ``drop_all`` power-loss image; and the process-crash image too) the database opens with
  every acknowledged transaction and no other (no duplicate, nothing failed reappearing);
* a failed backup or restore leaves no destination directory.

The test prints the sites and counts.  ``soak`` adds every call of every site.
"""
import os
import random
import shutil

import pytest

import lpgdb
from lpgdb.storage import io

from . import workload as w

N_TXNS = 15


class Poisoned(Exception):
    pass


class Scenario:
    def __init__(self, root, sim):
        self.root = root
        self.path = os.path.join(root, "db")
        self.sim = sim
        self.db = None
        self.acked = 0
        self.errors = []          # (step, exception)
        self.poisoned = False
        self.persistent = False
        self.read_fault = False   # persistent, at a data file's lazy open (files._open)

    # -- steps ------------------------------------------------------------------------------------
    def _error(self, step, e):
        if not isinstance(e, lpgdb.Error):
            raise AssertionError(f"{step}: untyped {type(e).__name__}: {e}") from e
        self.errors.append((step, e))

    def _consistent(self, step):
        """After a failure: a snapshot of the live handle shows exactly the acknowledged
        transactions."""
        if self.db is None or self.db.closed or not self.errors:
            return
        try:
            got = w.observe(self.db)
        except lpgdb.OperationalError as e:
            # a device failing for good under a data file: files are opened and mapped at
            # their first read, so the reads needing it fail (typed) -- never a wrong answer
            if not self.read_fault:
                raise
            self._error(f"{step}: observe", e)
            return
        assert got == w.expected(self.acked), f"{step}: the handle shows a state that is not " \
                                              f"the {self.acked} acknowledged transactions"

    def open(self, step="open"):
        for attempt in range(2):
            try:
                # small: automatic checkpoints after a few commits (their failures must never
                # fail the commit that triggered them)
                self.db = w.open_db(self.path, checkpoint_wal_bytes=3000)
                return
            except Exception as e:  # noqa: BLE001 - classified by _error
                self._error(f"{step}#{attempt}", e)
                self.db = None
        raise Poisoned(f"{step}: cannot open")

    def txn(self, s):
        for attempt in range(2):
            try:
                w.run_txn(self.db, s)
                self.acked = s + 1
                return
            except Exception as e:  # noqa: BLE001
                self._error(f"txn {s}#{attempt}", e)
                self._consistent(f"after txn {s}#{attempt}")
        self._check_sticky(s)
        raise Poisoned(f"txn {s} failed twice")

    def _check_sticky(self, s):
        """A handle that refused a transaction twice must refuse every later write -- unless
        what failed was reading a data file (opened at its first use): a read error, which
        leaves the writes that do not read that file possible."""
        if self.read_fault:
            return
        try:
            with self.db.transaction() as tx:
                tx.create_node("Probe")
        except lpgdb.Error:
            return
        raise AssertionError(f"txn {s} failed twice, then a write succeeded: the handle was "
                             f"neither usable nor poisoned")

    def maintenance(self, s):
        try:
            w.extra(self.db, s, None)
        except Exception as e:  # noqa: BLE001
            self._error(f"checkpoint after {s}", e)
        self._consistent(f"after checkpoint {s}")

    def backup_and_restore(self):
        bak, dest = os.path.join(self.root, "bak"), os.path.join(self.root, "restored")
        try:
            self.db.backup(bak)
        except Exception as e:  # noqa: BLE001
            self._error("backup", e)
            assert not os.path.exists(bak), f"a failed backup left its destination: {e}"
            return
        self._consistent("after backup")
        try:
            lpgdb.restore(bak, dest)
        except Exception as e:  # noqa: BLE001
            self._error("restore", e)
            assert not os.path.exists(dest), f"a failed restore left its destination: {e}"
            return
        self.restored = self.acked

    def follower(self):
        try:
            with lpgdb.connect(self.path, readonly=True) as r:
                r.refresh()
                got = w.observe(r)
                assert got == w.expected(self.acked), "a follower sees another state"
        except AssertionError:
            raise
        except Exception as e:  # noqa: BLE001
            self._error("follower", e)

    def reopen(self):
        try:
            self.db.close()
        except Exception as e:  # noqa: BLE001
            self._error("close", e)
        self.db = None
        self.open("reopen")

    def run(self):
        try:
            self.open()
            for s in range(N_TXNS):
                self.txn(s)
                self.maintenance(s)
            self.follower()
            self.backup_and_restore()
            self.reopen()
            for s in range(N_TXNS, N_TXNS + 3):
                self.txn(s)
        except Poisoned:
            self.poisoned = True

    # -- reboot -------------------------------------------------------------------------------------
    def reboot_check(self, tmp, label):
        """Drop the handle; the disk keeps only what was synced (and, separately, everything
        written: a process crash); each must open with exactly the acknowledged transactions."""
        if self.db is not None:
            w.crash(self.db)
            self.db = None
        io.uninstall()
        for mode in ("drop_all", "keep_all"):
            img = os.path.join(tmp, f"reboot-{mode}")
            self.sim.image(img, 0, mode=mode)
            path = os.path.join(img, "db")
            if not os.path.exists(os.path.join(path, "META")):
                assert self.acked == 0, f"{label}: the database is gone after a reboot ({mode})"
                continue
            try:
                db = w.open_db(path)
            except Exception as e:
                raise AssertionError(f"{label}: unopenable after a reboot ({mode}): "
                                     f"{type(e).__name__}: {e}") from e
            try:
                k = w.check(db, self.acked)
                assert k == self.acked or (self.persistent and k == self.acked + 1), \
                    f"{label}: {k} transactions after a reboot ({mode}), {self.acked} acknowledged"
            finally:
                w.crash(db)
            r = os.path.join(img, "restored")
            if os.path.exists(os.path.join(r, "META")):
                with lpgdb.connect(r, readonly=True) as db:
                    assert w.check(db, self.restored, self.restored) == self.restored, \
                        f"{label}: the restored copy ({mode})"


def _scenario(base, name, fault=None):
    root = os.path.join(base, name)
    os.makedirs(root)
    sim = io.Simulator(root, record=True, real_sync=False)
    if fault is not None:
        sim.fail(**fault)
    sc = Scenario(root, sim)
    sc.restored = 0
    sc.persistent = bool(fault and fault.get("persistent"))
    sc.read_fault = sc.persistent and fault["site"].startswith("files._open:")
    label = f"{name} {fault}"
    io.install(sim)
    try:
        sc.run()
    except AssertionError as e:
        raise AssertionError(f"{label}: {e}") from e
    finally:
        io.uninstall()
    sc.reboot_check(os.path.join(base, name + "-img"), label)
    return sc, sim


@pytest.fixture(scope="module", autouse=True)
def _warm():
    w.warm_up()


def _plan(calls, rng, every_call=False):
    """The injections: per site, EIO and ENOSPC (and a short write) at its first call; a random
    one of them at its last call when it has three or more; EIO from its first call on
    (persistent) for every third site.  ``every_call``: every error at every call."""
    plan = []
    for i, ((kind, site), n) in enumerate(sorted(calls.items())):
        errors = ["EIO", "ENOSPC"] + (["short"] if kind == "write" else [])
        for err in errors:
            for nth in (range(1, n + 1) if every_call else (1,)):
                plan.append(dict(kind=kind, site=site, nth=nth, error=err, persistent=False))
        if n > 2 and not every_call:
            plan.append(dict(kind=kind, site=site, nth=n, error=rng.choice(errors), persistent=False))
        if i % 3 == 0 or every_call:
            plan.append(dict(kind=kind, site=site, nth=1, error="EIO", persistent=True))
    return plan


def _loop(base, every_call=False):
    clean, sim = _scenario(base, "clean")
    assert not clean.errors and not clean.poisoned and clean.acked == N_TXNS + 3
    calls = dict(sim.calls)
    plan = _plan(calls, random.Random(9), every_call)
    stats = {"runs": 0, "typed": 0, "poisoned": 0, "usable": 0, "fired": 0}
    per_kind = {}
    for i, fault in enumerate(plan):
        sc, fsim = _scenario(base, f"f{i}", fault)
        fired = sum(f.fired for f in fsim.faults)
        stats["runs"] += 1
        stats["fired"] += fired > 0
        stats["typed"] += len(sc.errors)
        stats["poisoned" if sc.poisoned else "usable"] += fired > 0
        key = (fault["kind"], fault["error"])
        per_kind[key] = per_kind.get(key, 0) + 1
        if fired:
            assert sc.errors or sc.acked == N_TXNS + 3, f"{fault}: an injected fault vanished"
        shutil.rmtree(os.path.join(base, f"f{i}"))
        shutil.rmtree(os.path.join(base, f"f{i}-img"))
    return calls, stats, per_kind


def test_every_io_call_site_with_eio_enospc_and_short_writes(fast_tmp):
    calls, stats, per_kind = _loop(str(fast_tmp), every_call=os.environ.get("LPGDB_FAULTS_ALL") == "1")
    sites = sorted(calls)
    kinds = sorted({k for k, _ in sites})
    lines = "\n".join(f"  {k:9} {s} ({calls[(k, s)]} calls)" for k, s in sites)
    print(f"\nI/O call sites reached: {len(sites)} ({', '.join(kinds)})\n{lines}\n"
          f"injection runs: {stats['runs']} ({stats['fired']} fired): {stats['typed']} errors, "
          f"100% typed lpgdb.Error; handle usable after {stats['usable']}, poisoned after "
          f"{stats['poisoned']}; 0 unopenable databases after reboot, 0 lost or duplicated "
          f"transactions\nper (kind, error): {sorted(per_kind.items())}")
    assert stats["fired"] >= len(sites)
    assert {"open", "write", "sync", "dirsync", "rename", "unlink", "mkdir", "listdir", "read"} <= set(kinds)


@pytest.mark.soak
def test_soak_every_call_of_every_site(fast_tmp):
    _loop(str(fast_tmp), every_call=True)
