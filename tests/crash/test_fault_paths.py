"""Failure paths never lose or brick data: an EIO or ENOSPC at every I/O call site of commit
(sync "full" and "normal"), bulk attach, checkpoint, close, backup (a writer's and a
follower's), archive shipping and replica apply.

A world is built once: a writer archiving to a directory (25 acknowledged commits over several
64 KiB WAL segments, a bulk attach, checkpoints, all shipped) and a replica bootstrapped from its
base before the attach, 20 commits behind (so catching up applies log across segments and loads
the base the attach shipped).  Each phase is one operation run on a fresh copy of the world under
``io.Simulator``: first clean, to list the I/O call sites it reaches, then once per site with the
site's first call failing (EIO everywhere, ENOSPC where bytes are written).  After each run:

* what surfaced is a typed ``lpgdb.Error`` (or the operation succeeded);
* the writer reopens with exactly the acknowledged commits (each is two nodes and an edge:
  nothing unacknowledged appears, not even in part);
* a failed backup leaves no destination, a finished one opens with the same commits;
* the archive is not bricked: the writer reopened with it ships again (not fenced) and a
  restore from it holds exactly the acknowledged commits;
* the replica reopens, catches up at its next poll, and verifies.

Default cost a few seconds; ``-m soak`` fails every call of every site, with EIO, ENOSPC and
short writes, once and persistently.
"""
import logging
import os
import shutil
import tempfile
import time

import pytest

import lpgdb
from lpgdb.storage import attach, io

SEG = 64 * 1024
N0 = 25          # commits in the world: 0 .. N0 - 1
BULK = 10        # nodes of the bulk attach (label B)


def _commit(db, k):
    with db.transaction() as tx:
        a = tx.create_node("N", {"i": 2 * k, "pad": "x" * (6000 if k < N0 else 10)})
        b = tx.create_node("N", {"i": 2 * k + 1})
        tx.create_edge(a, "E", b, {"k": k})


def _state(db):
    """The commits the database holds, checked whole: both nodes and the edge of each, nothing
    else (AssertionError otherwise)."""
    with db.snapshot() as s:
        ids = sorted(n["i"] for n in s.nodes("N"))
        ks = sorted(e["k"] for e in s.edges("E"))
        bulk = sum(1 for _ in s.nodes("B"))
    assert ids == sorted(i for k in ks for i in (2 * k, 2 * k + 1)), \
        f"not whole commits: {len(ids)} nodes, edges {ks[:3]}..{ks[-3:]}"
    assert bulk == BULK, f"{bulk} bulk-loaded nodes, not {BULK}"
    return set(ks)


WORLD = set(range(N0))


def _wait_shipped(db, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        st = db.archive_status()
        if st.state == "ok" and st.lag_bytes == 0 and st.pending_bases == 0:
            return st
        assert st.state not in ("fenced", "refused"), f"archiving stopped: {st.last_error}"
        assert time.monotonic() < deadline, f"the archive did not catch up: {st}"
        time.sleep(0.005)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    shm = "/dev/shm"          # thousands of small copies: tmpfs when there is one (conftest.fast_tmp)
    base = (tempfile.mkdtemp(prefix="lpgdb-faults-", dir=shm) if os.access(shm, os.W_OK)
            else str(tmp_path_factory.mktemp("world")))
    try:
        yield _build(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _build(base):
    w = {x: os.path.join(base, x) for x in ("db", "arch", "rep")}
    db = lpgdb.connect(w["db"], archive=w["arch"], archive_interval=0.005, wal_segment_size=SEG,
                       checkpoint_wal_bytes=1 << 40)
    for k in range(5):
        _commit(db, k)
    db.checkpoint()
    _wait_shipped(db)
    # the replica starts before the attach: catching up, it meets the record and loads its base
    lpgdb.connect(w["rep"], readonly=True, follow=w["arch"], follow_interval=3600).close()
    old, attach.ATTACH_MIN_ROWS = attach.ATTACH_MIN_ROWS, 1
    try:
        db.bulk_load(nodes=[(["B"], {"j": j}) for j in range(BULK)])
    finally:
        attach.ATTACH_MIN_ROWS = old
    for k in range(5, N0):
        _commit(db, k)
    _wait_shipped(db)
    db.close()
    return w


# -- phases: each returns the set of acknowledged commits ------------------------------------------
def _writer(w, **kw):
    return lpgdb.connect(w["db"], wal_segment_size=SEG, checkpoint_wal_bytes=1 << 40, **kw)


def phase_commit(w, run):
    db = run.outside(_writer, w)
    acked = set(WORLD)
    for k in (N0, N0 + 1):
        if run.attempt(_commit, db, k):
            acked.add(k)
    run.outside(_crash, db)
    return acked


def phase_commit_normal(w, run):
    """sync="normal": commits are acknowledged before their fdatasync; close makes them
    durable (or says they may not be)."""
    db = run.outside(_writer, w, sync="normal")
    acked = set(WORLD)
    for k in (N0, N0 + 1):
        if run.attempt(_commit, db, k):
            acked.add(k)
    run.attempt(db.close)
    return acked


def phase_attach(w, run):
    """A bulk load committed as files and one ATTACH record (attach.py), then a commit."""
    db = run.outside(_writer, w)
    old, attach.ATTACH_MIN_ROWS = attach.ATTACH_MIN_ROWS, 1
    try:
        if run.attempt(db.bulk_load, nodes=[(["A"], {"j": j}) for j in range(BULK)]) or \
                "the bulk load is committed" in str(run.errors[-1:]):
            run.loaded = list(range(BULK))    # (that error says its record is durable)
    finally:
        attach.ATTACH_MIN_ROWS = old
    acked = set(WORLD)
    if run.attempt(_commit, db, N0):
        acked.add(N0)
    run.outside(_crash, db)
    return acked


def phase_checkpoint(w, run):
    db = run.outside(_writer, w)
    run.outside(_commit, db, N0)
    run.attempt(db.checkpoint)
    run.outside(_crash, db)
    return WORLD | {N0}


def phase_close(w, run, sync="full"):
    db = run.outside(_writer, w, sync=sync)
    run.outside(_commit, db, N0)
    run.attempt(db.close)
    return WORLD | {N0}


def phase_close_normal(w, run):
    return phase_close(w, run, sync="normal")


def phase_backup(w, run):
    db = run.outside(_writer, w)
    dest = os.path.join(os.path.dirname(w["db"]), "bak")
    ok = run.attempt(db.backup, dest)
    run.outside(_crash, db)
    run.outside(_check_backup, dest, ok)
    return WORLD


def phase_backup_follower(w, run):
    """A read-only follower's backup (no writer lock): its checkpoint image plus its log."""
    ro = run.outside(lpgdb.connect, w["db"], readonly=True)
    dest = os.path.join(os.path.dirname(w["db"]), "bak")
    ok = run.attempt(ro.backup, dest)
    run.outside(ro.close)
    run.outside(_check_backup, dest, ok)
    return WORLD


def _check_backup(dest, ok):
    if ok:
        with lpgdb.connect(dest, readonly=True) as b:
            assert _state(b) == WORLD, "the backup"
    else:
        assert not os.path.exists(dest), "a failed backup left its destination"


def phase_ship(w, run):
    db = run.attempt(_writer, w, archive=w["arch"], archive_interval=0.005)
    if db is None:
        return WORLD
    acked = set(WORLD)
    for k in (N0, N0 + 1):
        if run.attempt(_commit, db, k):
            acked.add(k)
    run.attempt(db.checkpoint)                   # a base to ship
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:           # until shipped, or the fault was met
        st = db.archive_status()
        if st.lag_bytes == 0 and st.pending_bases == 0 or st.state != "ok":
            break
        time.sleep(0.005)
    run.reported(db.archive_status().last_error)  # the archiver thread's error, if any
    run.attempt(db.close)                        # ships what is left
    return acked


def phase_replica(w, run):
    rep = run.attempt(lpgdb.connect, w["rep"], readonly=True, follow=w["arch"], follow_interval=3600,
                      wal_segment_size=SEG, checkpoint_wal_bytes=32 * 1024)
    if rep is not None:
        run.reported(rep._replica.last_error)    # its first poll's error, if any
        run.attempt(rep._replica.poll)
        run.attempt(rep.close)
    return WORLD


PHASES = {"commit": phase_commit, "commit-normal": phase_commit_normal, "attach": phase_attach,
          "checkpoint": phase_checkpoint, "close": phase_close, "close-normal": phase_close_normal,
          "backup": phase_backup, "backup-follower": phase_backup_follower, "ship": phase_ship,
          "replica": phase_replica}
# the sites a phase is about (the writer's commits and checkpoints in "ship" have their phases)
SITES = {"ship": ("archive.", "store.")}


def _crash(db):
    """Drop a writer as a killed process would (no checkpoint, no clean close)."""
    if not db.closed:
        db._engine.close(checkpoint_on_close=False)
        db._closed = True


def _typed_names(cls=lpgdb.Error):
    """Names of lpgdb.Error and its subclasses (those of lpgdb.storage too: MetaWriteError...)."""
    return {cls.__name__}.union(*(_typed_names(c) for c in cls.__subclasses__()))


class Run:
    """One run of a phase under the simulator; ``attempt`` records typed errors."""

    def __init__(self, sim):
        self.sim = sim
        self.errors = []
        self.loaded = []          # the "j" of the nodes an acknowledged bulk attach added (label A)

    def outside(self, fn, *a, **kw):
        """Set-up steps: not under the simulator."""
        io.uninstall()
        try:
            return fn(*a, **kw)
        finally:
            io.install(self.sim)

    def reported(self, last_error):
        """A background thread's error (``"Type: message"``) must be a typed one too."""
        if last_error:
            name = last_error.split(":", 1)[0]
            assert name in _typed_names(), f"untyped: {last_error}"
            self.errors.append(last_error)

    def attempt(self, fn, *a, **kw):
        try:
            r = fn(*a, **kw)
            return True if r is None else r
        except lpgdb.Error as e:
            self.errors.append(e)
            return None
        except Exception as e:
            raise AssertionError(f"untyped {type(e).__name__} from {getattr(fn, '__name__', fn)}: {e}") from e


def _run(world, root, phase, fault=None):
    if os.path.exists(root):
        shutil.rmtree(root)
    os.makedirs(root)
    w = {k: os.path.join(root, k) for k in world}
    for k in world:
        shutil.copytree(world[k], w[k])
    sim = io.Simulator(root, real_sync=False)
    if fault is not None:
        sim.fail(**fault)
    run = Run(sim)
    io.install(sim)
    try:
        acked = PHASES[phase](w, run)
    finally:
        io.uninstall()
    try:
        _check(w, phase, acked, run)
    except AssertionError as e:
        raise AssertionError(f"{fault}: {e}") from e
    return sim, run


def _check(w, phase, acked, run):
    why = f"{phase}: after {[str(e)[:120] for e in run.errors]}"
    ship = phase == "ship"
    try:
        db = lpgdb.connect(w["db"], wal_segment_size=SEG,
                           **({"archive": w["arch"], "archive_interval": 0.005} if ship else {}))
    except lpgdb.Error as e:
        raise AssertionError(f"{why}: the database does not reopen: {e}") from e
    try:
        got = _state(db)
        assert got == acked, f"{why}: commits {sorted(got ^ acked)} differ after reopening " \
                             f"({len(acked)} acknowledged)"
        with db.snapshot() as s:
            loaded = sorted(n["j"] for n in s.nodes("A"))
        assert loaded == run.loaded, f"{why}: {len(loaded)} attached nodes, {len(run.loaded)} acknowledged"
        if ship:
            _wait_shipped(db)          # archiving goes on: not fenced by its own earlier attempt
    finally:
        db.close()
    if ship:
        dest = os.path.join(os.path.dirname(w["db"]), "restored")
        lpgdb.restore(w["arch"], dest)
        with lpgdb.connect(dest, readonly=True) as r:
            assert _state(r) == acked, f"{why}: the archive restores another state"
    if phase == "replica":
        try:
            rep = lpgdb.connect(w["rep"], readonly=True, follow=w["arch"], follow_interval=3600)
        except lpgdb.Error as e:
            raise AssertionError(f"{why}: the replica does not reopen: {e}") from e
        with rep:
            rep._replica.poll()
            assert _state(rep) == acked, f"{why}: the replica holds another state"
            rep.verify()


def _plan(calls, every_call):
    plan = []
    for (kind, site), n in sorted(calls.items()):
        errors = ["EIO"] + (["ENOSPC"] if kind in ("write", "allocate", "sync") else [])
        if every_call:
            errors += ["short"] if kind == "write" else []
        for err in errors:
            for nth in (range(1, n + 1) if every_call else (1,)):
                plan.append(dict(kind=kind, site=site, nth=nth, error=err))
        if every_call:
            plan.append(dict(kind=kind, site=site, nth=1, error="EIO", persistent=True))
    return plan


def _sweep(world, base, phase, every_call=False):
    sim, run = _run(world, os.path.join(base, "clean"), phase)
    assert not run.errors, f"{phase} fails without faults: {run.errors}"
    calls = {(k, s): n for (k, s), n in sim.calls.items()
             if every_call or s.startswith(SITES.get(phase, ""))}
    fired = typed = 0
    for fault in _plan(calls, every_call):
        fsim, frun = _run(world, os.path.join(base, "run"), phase, fault)
        fired += any(f.fired for f in fsim.faults)
        typed += len(frun.errors)
    return len(calls), fired, typed


@pytest.fixture(autouse=True)
def _quiet():
    logging.disable(logging.WARNING)       # the engine logs every failure it survives
    yield
    logging.disable(logging.NOTSET)


@pytest.mark.parametrize("phase", list(PHASES))
def test_every_io_call_site_of_the_phase(world, fast_tmp, phase):
    sites, fired, typed = _sweep(world, str(fast_tmp), phase)
    print(f"\n{phase}: {sites} I/O call sites, {fired} faults fired, {typed} typed errors")
    assert fired >= sites // 2, f"{phase}: only {fired} of {sites} injected faults fired"


@pytest.mark.soak
@pytest.mark.parametrize("phase", list(PHASES))
def test_soak_every_call_of_every_site(world, fast_tmp, phase):
    _sweep(world, str(fast_tmp), phase, every_call=True)
