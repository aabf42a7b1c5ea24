"""A corruption sweep over every file kind (design/storage.md §3.3 harness C, at CI count).

Pristine databases in several states (log only; checkpoint plus log; cleanly closed; with an
index, a schema and bulk loads; a follower's view too) are copied and damaged, one file at a
time: a flipped bit, a truncation, a zeroed range, or the file deleted, in WAL segments, META,
the manifest, partition files, SHM and LOCK.  Every image is then opened as a writer (and some
as followers).  Allowed outcomes:

* the complete state (the damage was harmless: an unused byte, a torn-off slot, SHM...);
* CorruptionError, naming the file.

Never an untyped error, never a crash, never a silently older or different state: the
pristine databases were fully synced, so there are no "last unsynced frames" whose loss could
be legitimate (a shorter prefix is counted and must be 0).  ``LPGDB_CORRUPT_IMAGES=N`` or the
``soak`` marker run more.
"""
import os
import random
import shutil
import tempfile

import pytest

import lpgdb

from . import workload as w

KINDS = ("bitflip", "bitflip", "truncate", "zero", "delete")


def _build(base):
    """{name: (path, k)}: fully synced databases, left as a crash would leave them."""
    out = {}

    def make(name, n, *, checkpoint_at=(), clean=False):
        path = os.path.join(base, name)
        db = w.open_db(path, sync="full")
        for s in range(n):
            w.run_txn(db, s)
            if s in checkpoint_at:
                db.checkpoint()
        if clean:
            db.close()
        else:
            w.crash(db)
        out[name] = (path, n)

    make("log", 10)
    make("ckpt", 14, checkpoint_at=(6,))
    make("closed", 9, clean=True)
    make("twice", 24, checkpoint_at=(7, 15))
    return out


@pytest.fixture(scope="module")
def pristine():
    w.warm_up()
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    base = tempfile.mkdtemp(prefix="lpgdb-sweep-", dir=shm)
    try:
        yield base, _build(os.path.join(base, "pristine"))
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _copy(src, dst):
    """Copy a database; immutable files (data/, manifest/) are hard-linked (open never writes
    them), the rest copied."""
    os.makedirs(dst)
    for sub in sorted(os.listdir(src)):
        s, d = os.path.join(src, sub), os.path.join(dst, sub)
        if os.path.isdir(s):
            os.makedirs(d)
            for name in os.listdir(s):
                if sub in ("data", "manifest"):
                    os.link(os.path.join(s, name), os.path.join(d, name))
                else:
                    shutil.copyfile(os.path.join(s, name), os.path.join(d, name))
        else:
            shutil.copyfile(s, d)


def _files(path):
    out = []
    for top, _dirs, files in os.walk(path):
        out += [os.path.join(top, f) for f in files]
    return sorted(out)


def _written(path):
    with open(path, "rb") as f:
        data = f.read()
    return len(data.rstrip(b"\0")) if path.endswith(".wal") else len(data)


def _mutate(path, rng):
    """Damage one file of the database at ``path``; returns a description."""
    files = _files(path)
    f = rng.choice(files)
    kind = rng.choice(KINDS)
    rel = os.path.relpath(f, path)
    if os.path.isfile(f) and os.path.getsize(f) == 0 and kind != "delete":
        kind = "delete"
    if kind == "delete":
        os.unlink(f)
        return f"delete {rel}"
    if os.path.basename(os.path.dirname(f)) in ("data", "manifest"):
        with open(f, "rb") as fh:        # a hard link to the pristine: make it a private copy
            data = fh.read()
        os.unlink(f)
        with open(f, "wb") as fh:
            fh.write(data)
    size = os.path.getsize(f) if os.path.exists(f) else 0
    end = max(1, _written(f))
    if kind == "bitflip":
        off = rng.randrange(min(size, end + 64))
        with open(f, "r+b") as fh:
            fh.seek(off)
            b = fh.read(1)
            fh.seek(off)
            fh.write(bytes([b[0] ^ (1 << rng.randrange(8))]))
        return f"bitflip {rel}@{off}"
    if kind == "truncate":
        n = rng.randrange(min(size, end + 64))
        os.truncate(f, n)
        return f"truncate {rel} to {n}"
    off = rng.randrange(min(size, end + 64))
    n = rng.choice((1, 8, 64, 512, 4096))
    with open(f, "r+b") as fh:
        fh.seek(off)
        fh.write(b"\0" * min(n, size - off))
    return f"zero {rel}@{off}+{n}"


def sweep(base, dbs, count, seed):
    rng = random.Random(seed)
    stats = {"images": 0, "intact": 0, "corruption": 0, "shorter": 0, "followers": 0}
    names = sorted(dbs)
    i = 0
    while stats["images"] < count:
        name = names[i % len(names)]
        src, k = dbs[name]
        img = os.path.join(base, f"img{i}")
        i += 1
        _copy(src, img)
        what = f"{name}: {_mutate(img, rng)} (seed {seed}, image {i - 1})"
        outcome = _open_and_check(img, k, what)
        stats[outcome] += 1
        stats["images"] += 1
        if outcome == "intact" and rng.random() < 0.1:   # and again, as a follower
            with lpgdb.connect(img, readonly=True) as r:
                assert w.check(r, k, k) == k, what
            stats["followers"] += 1
        shutil.rmtree(img)
    return stats


def _open_and_check(img, k, what):
    try:
        db = w.open_db(img, create=False)
    except lpgdb.CorruptionError as e:
        assert e.path, f"{what}: CorruptionError without a path: {e}"
        return "corruption"
    except Exception as e:
        raise AssertionError(f"{what}: {type(e).__name__} instead of CorruptionError: {e}") from e
    try:
        got = w.check(db, 0)
    except lpgdb.CorruptionError:      # detected when the damaged bytes are read
        return "corruption"
    except Exception as e:
        raise AssertionError(f"{what}: {type(e).__name__}: {e}") from e
    finally:
        w.crash(db)
    assert got == k, f"{what}: opened with {got} of {k} transactions (silently older state)"
    return "intact"


def test_corruption_sweep(pristine):
    base, dbs = pristine
    count = int(os.environ.get("LPGDB_CORRUPT_IMAGES", "2000"))
    stats = sweep(base, dbs, count, int(os.environ.get("LPGDB_CRASH_SEED", "31337")))
    assert stats["images"] >= count and stats["shorter"] == 0
    print(f"\ncorrupted images: {stats['images']} ({stats['corruption']} CorruptionError, "
          f"{stats['intact']} harmless damage opening complete, {stats['followers']} of those "
          f"also as followers); 0 untyped errors, 0 crashes, 0 silently older states")


@pytest.mark.soak
def test_soak_corruption_sweep(pristine):
    base, dbs = pristine
    sweep(base, dbs, 20_000, int(os.environ.get("LPGDB_CRASH_SEED", "4242")))
