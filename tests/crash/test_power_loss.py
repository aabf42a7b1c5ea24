"""Power loss at every I/O call (design/storage.md §3.3 harness B: SQLite's crash VFS idea).

The history of ``workload.py`` (commits, bulk loads, ``create_index``, ``set_schema``,
checkpoints, backups, and a process crash followed by recovery half way) runs with
``io.Simulator(record=True)``.  Before I/O calls under the directory, ``sim.image`` writes
possible power-loss images: synced data stays; each unsynced write is kept, dropped or torn
sector by sector; unsynced creates, renames and unlinks survive as a random prefix per
directory.  Each image is opened and checked (``workload.check``):

* sync="full": every acknowledged transaction is there (0 lost), the state is a prefix;
* sync="normal": every transaction whose commit record had been fdatasynced is there;
* both: no CorruptionError (a power cut is not damage), and each backup in the image opens to
  the state it was taken at.

Default: >= 1,000 images per mode-pair run; ``LPGDB_POWER_IMAGES=N`` or ``soak`` for more.
"""
import os
import random
import shutil

import pytest

import lpgdb
from lpgdb import core
from lpgdb.storage import io

from . import workload as w


class Run:
    def __init__(self, tmp_path, sync, seed, every):
        self.tmp = tmp_path
        self.root = str(tmp_path / f"root-{sync}")
        os.makedirs(self.root)
        self.path = os.path.join(self.root, "db")
        self.sync = sync
        self.rng = random.Random(seed)
        self.every = every            # image before every n-th call
        self.acked = 0
        self.ends = []                # (end LSN of transaction s's commit record, s)
        self.db = None
        self.images = 0
        self.by_mode = {}
        self.sim = io.Simulator(self.root, record=True, real_sync=False, on_call=self.shot)

    def durable_bound(self) -> int:
        """Transactions whose commit record had been fdatasynced (sync="normal"'s promise)."""
        eng = self.db._engine if self.db is not None and not self.db.closed else None
        if eng is None or eng.wal is None:
            return 0
        durable = eng.wal.durable_lsn
        return max((s + 1 for end, s in self.ends if end <= durable), default=0)

    def shot(self, n, kind, site):
        if n % self.every or core.lazy_opening():
            # inside a lazy open of a data file (a read-only call made from a native store
            # call): checking an image here would re-enter the store on this thread; the disk
            # is the same at the next call, whose image covers it
            return
        bound = self.acked if self.sync == "full" else self.durable_bound()
        mode = self.rng.choice(("random", "random", "random", "drop_all", "keep_all"))
        dest = str(self.tmp / f"img{self.images}")
        self.images += 1
        self.by_mode[mode] = self.by_mode.get(mode, 0) + 1
        self.sim.image(dest, self.rng, mode=mode)
        try:
            check_image(dest, bound, f"{self.sync} image {self.images} at call {n} "
                                     f"({kind} {site}, {mode})", backups=self.rng.random() < 0.1)
        finally:
            shutil.rmtree(dest)

    def go(self, n_txns):
        with io.installed(self.sim):
            self.db = w.open_db(self.path, sync=self.sync)
            for s in range(n_txns):
                if s == n_txns // 2:            # a process crash, then recovery (imaged too)
                    w.crash(self.db)
                    self.db = w.open_db(self.path, sync=self.sync)
                w.run_txn(self.db, s)
                self.ends.append((self.db._engine.wal.end_lsn, s))
                self.acked = s + 1
                w.extra(self.db, s, os.path.join(self.root, "bk"))
            self.db.close()
            self.db = None
        return self


def check_image(dest, bound, what, backups=True):
    path = os.path.join(dest, "db")
    if not os.path.exists(os.path.join(path, "META")):
        assert bound == 0, f"{what}: the database vanished"
        assert not os.path.isdir(os.path.join(path, "wal")), f"{what}: a database without META"
        return
    try:
        db = lpgdb.connect(path, wal_segment_size=w.SEG, create=False)
    except lpgdb.CorruptionError as e:
        raise AssertionError(f"{what}: spurious CorruptionError: {e}") from e
    try:
        w.check(db, bound)
    except AssertionError as e:
        raise AssertionError(f"{what}: {e}") from e
    finally:
        w.crash(db)
    bk = os.path.join(dest, "bk")
    for name in os.listdir(bk) if backups and os.path.isdir(bk) else ():
        if name.startswith("bak-"):
            s = int(name[4:])
            with lpgdb.connect(os.path.join(bk, name), readonly=True) as b:
                assert w.check(b, s + 1, s + 1) == s + 1, f"{what}: backup {name}"


@pytest.fixture(scope="module", autouse=True)
def _warm():
    w.warm_up()


def _images(tmp_path, total, seed):
    """Images in both modes until ``total``; returns the per-mode counts."""
    counts = {}
    n_txns, every, r = 26, 1, 0
    while sum(counts.values()) < total:
        for sync in ("full", "normal"):
            run = Run(tmp_path / f"r{r}", sync, seed + r, every).go(n_txns)
            counts[sync] = counts.get(sync, 0) + run.images
            r += 1
    return counts


def test_power_loss_images(fast_tmp):
    total = int(os.environ.get("LPGDB_POWER_IMAGES", "1000"))
    counts = _images(fast_tmp, total, int(os.environ.get("LPGDB_CRASH_SEED", "2024")))
    assert sum(counts.values()) >= total
    print(f"\npower-loss images: {counts} (sync mode: images), 0 lost acknowledged commits in "
          f"full mode, 0 lost synced commits in normal mode, 0 spurious CorruptionError")


@pytest.mark.soak
def test_soak_power_loss(fast_tmp):
    _images(fast_tmp, 20_000, int(os.environ.get("LPGDB_CRASH_SEED", "77")))
