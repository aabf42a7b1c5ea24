"""Replicas on other machines: a local copy of an archived database that follows the archive.

``connect(DIR, readonly=True, follow=SRC)`` (and ``lpgdb replica SRC DIR``):

    1. bootstrap: if DIR holds no database, the newest base and the log after it are fetched
       from the archive into DIR, keeping the database id (it is a copy, not a new history);
    2. DIR is opened like a writer would (LOCK, recovery, SHM), but refuses transactions;
    3. a thread polls the archive every ``interval`` seconds, appends the new pieces to DIR's
       WAL, applies them and publishes them (new snapshots see them; local read-only
       followers of DIR see them through SHM); it checkpoints DIR like a writer does;
    4. when the archive no longer holds the log the replica needs next (a gap, or retention),
       the replica loads the newest base after its position instead (Litestream's "new
       generation"), like a local follower reloads after its segments were retired; and at a
       bulk attach record (attach.py), whose files are not in DIR, it loads the base at the
       record's end (archive.py rule 6).

Lag (``replica_lag``): ``lsn`` is the log the archive held at the last poll beyond what is
applied; ``seconds`` is how long ago the replica last held everything the archive held (so it
grows while the archive is unreachable; infinite until the first successful poll: a replica
opened while its archive is unreachable serves its local copy and keeps trying). The writer's
ship interval comes on top of both.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from typing import NamedTuple, Optional

from ..errors import CorruptionError, NotFoundError, OperationalError
from . import archive, attach, checkpoint, io, wal
from .engine import Engine

log = logging.getLogger("lpgdb.replica")


class ReplicaLag(NamedTuple):
    seconds: float
    lsn: int


class Replica:
    def __init__(self, path: str, store, *, schema_loader, interval: float = 0.25, **engine_options):
        self.path = path
        self.store = store
        self.interval = interval
        self.last_error: Optional[str] = None
        local = io.exists(os.path.join(path, "META"))
        try:
            self.ident = archive.read_identity(store)
        except OperationalError as e:
            if not local:
                raise                 # nothing to serve without the archive
            # the archive is unreachable: serve the local copy, and keep trying
            meta = checkpoint.read_meta(os.path.join(path, "META"))
            self.ident = {"format": archive.FORMAT, "db_uuid": meta.uuid, "seg_size": meta.seg_size}
            self.last_error = f"{type(e).__name__}: {e}"
        if not local:
            self._bootstrap()
        self.engine = Engine(path, readonly=False, create=False, schema_loader=schema_loader,
                             replica_of=store.url, **engine_options)
        self.archive_end = self.engine.replayed_to
        self._caught_up_at: Optional[float] = None     # never in step with the archive yet
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._idle = 0                # polls in a row that found nothing new
        self._reload = False          # META switched to a base (_rebase) that is not loaded yet
        try:
            if self.engine.meta.uuid != self.ident["db_uuid"]:
                raise OperationalError(f"{path!r} holds another database than the archive "
                                       f"{store.url!r}; follow into an empty directory")
            try:
                self.poll()
            except (OperationalError, CorruptionError) as e:
                self.last_error = f"{type(e).__name__}: {e}"   # serve what is here; retry
                log.warning("replica %s: %s (will retry)", path, self.last_error)
        except BaseException:
            self.engine.close(checkpoint_on_close=False)
            raise
        self._thread = threading.Thread(target=self._run, name="lpgdb-replica", daemon=True)
        self._thread.start()

    # -- bootstrap / rebase ------------------------------------------------------------------------
    def _bootstrap(self) -> None:
        if io.exists(self.path) and io.listdir(self.path):
            raise OperationalError(f"{self.path!r} exists and is not an lpgdb database; a replica "
                                   "needs an empty or new directory")
        desc = archive.choose_base(self.store, self.ident)
        with io.build_dir(self.path, replace_empty=True) as tmp:
            archive.fetch_base(self.store, desc, tmp)
            archive.fetch_log(self.store, self.ident, os.path.join(tmp, "wal"), desc["meta"].checkpoint_lsn)

    def _rebase(self, lsn: int) -> None:
        """Replace DIR's state by the archived base at ``lsn`` (caller holds the lock).

        Crash- and failure-safe: the base is fetched into ``tmp/rebase`` and checked, its files
        are moved in beside the current checkpoint's (a name the current checkpoint uses must
        hold the same bytes; the manifest takes a sequence number above every local one), and
        only then both META slots switch to it.  A failure before the switch leaves the replica
        on its current checkpoint (the next poll retries); after it, the replica is on the new
        one, and what is left (reloading it, deleting superseded segments and files) is redone
        by the next poll or open."""
        eng = self.engine
        desc = archive.read_base(self.store, lsn, self.ident)
        stage = os.path.join(self.path, "tmp", "rebase")
        io.remove_tree(stage)
        archive.fetch_base(self.store, desc, stage)
        meta = desc["meta"]
        live = {os.path.basename(r): (c, n) for r, c, n in checkpoint.manifest_files(eng.manifest)}
        for rel, crc, size, _obj in desc["files"]:
            dst = os.path.join(self.path, rel)
            if io.exists(dst):
                name = os.path.basename(rel)
                if live.get(name) == (crc, size):
                    continue                  # the current checkpoint's own copy of it
                if name in live:
                    raise OperationalError(
                        f"replica {self.path!r}: the archived base at LSN {lsn} names {rel}, which "
                        f"this replica's own checkpoint holds with other bytes; make a new replica "
                        f"(an empty directory) to follow {self.store.url!r}")
                io.unlink(dst)                # an orphan of ours (an interrupted rebase)
            io.rename(os.path.join(stage, rel), dst)
        if desc["manifest"] is not None:
            seq = max(eng.meta.manifest_seq, meta.manifest_seq) + 1
            io.rename(os.path.join(stage, "manifest", checkpoint.manifest_name(meta.manifest_seq)),
                      os.path.join(self.path, "manifest", checkpoint.manifest_name(seq)))
            meta = dataclasses.replace(meta, manifest_seq=seq)
        for sub in ("data", "manifest"):
            io.fsync_dir(os.path.join(self.path, sub))
        meta = dataclasses.replace(meta, slot_seq=eng.meta.slot_seq + 1)
        checkpoint.write_meta_pair(os.path.join(self.path, "META"), meta)     # the switch
        self._reload = True
        self._reload_base()
        log.info("replica %s: loaded the archived base at LSN %d", self.path, lsn)

    def _reload_base(self) -> None:
        """After the META switch of ``_rebase``: load the new checkpoint (its log starts empty:
        the superseded segments go) and remove what it superseded."""
        eng = self.engine
        if eng.wal is not None:
            eng.wal.close()
        wal_dir = os.path.join(self.path, "wal")
        eng._poisoned = eng._poisoned or OperationalError(
            f"replica {self.path!r} is switching to an archived base; reopen it")   # no checkpoint
        for seg in reversed(wal.list_segments(wal_dir)):    # what is left is a prefix of the chain
            io.unlink(os.path.join(wal_dir, wal.segment_name(seg)))
        io.fsync_dir(wal_dir)
        eng._load()
        eng._poisoned = None
        self._reload = False
        eng._publish(eng.replayed_to)
        try:
            checkpoint.remove_orphans(self.path, eng.meta, eng.manifest)
            io.remove_tree(os.path.join(self.path, "tmp", "rebase"))
        except OperationalError as e:
            log.warning("replica %s: could not remove superseded files (retried later): %s", self.path, e)

    # -- following ---------------------------------------------------------------------------------
    def poll(self) -> None:
        """Fetch and apply what the archive holds beyond this replica now.

        Steady state costs one GET that finds nothing (the next piece's name is known); the
        archive is listed only after a (re)start or when nothing arrived for 10 polls, to
        notice a gap."""
        t0 = time.time()
        with self._lock:
            try:
                self._poll()
            except BaseException:
                self._idle = 0        # list the archive next time: the position may be inside a piece
                raise
        self._caught_up_at = t0
        self.last_error = None

    def _poll(self) -> None:
        eng = self.engine
        if self._reload:
            self._reload_base()
        wal_dir = os.path.join(self.path, "wal")
        start = eng.replayed_to
        end = archive.fetch_log(self.store, self.ident, wal_dir, start, listed=self._idle % 10 == 0)
        if end == wal.frame_pos(start, eng.seg_size):
            self._idle += 1
            if self._idle % 10 == 1:
                pieces = archive.list_pieces(self.store)
                if pieces and pieces[-1] > start:
                    # the archive goes on, but not from here: a gap, or retention passed us
                    later = [b for b in archive.list_bases(self.store) if b > start]
                    if not later:
                        raise OperationalError(f"the archive {self.store.url!r} no longer "
                                               f"continues from LSN {start} and has no newer base")
                    self._rebase(later[-1])
                    end = archive.fetch_log(self.store, self.ident, wal_dir, eng.replayed_to)
        else:
            self._idle = 1
        if end > eng.replayed_to:
            try:
                eng.apply_shipped(end)
            except attach.NeedsBase as e:
                # a bulk attach: its files are not here; the archive holds a base at or after
                # the record's end (archive.py rule 6), which has them.  The newest one: the
                # base at the end itself may already be gone to retention
                bases = [b for b in archive.list_bases(self.store) if b >= e.end]
                if not bases:
                    raise OperationalError(
                        f"the archive {self.store.url!r} holds no base at or after LSN {e.end} yet "
                        f"(it installs a bulk attach); the replica retries") from e
                self._rebase(bases[-1])
                end = archive.fetch_log(self.store, self.ident, wal_dir, eng.replayed_to)
                if end > eng.replayed_to:
                    eng.apply_shipped(end)
        self.archive_end = max(end, eng.replayed_to)
        if eng.wal.end_lsn - eng.meta.checkpoint_lsn > eng.checkpoint_wal_bytes:
            eng.checkpoint()

    def _run(self) -> None:
        delay = self.interval
        while not self._stop.wait(delay):
            try:
                self.poll()
                delay = self.interval
            except (OperationalError, CorruptionError, NotFoundError, OSError) as e:
                # NotFoundError: an object listed a moment ago was removed by retention
                self.last_error = f"{type(e).__name__}: {e}"
                log.warning("replica %s: %s (will retry)", self.path, self.last_error)
                delay = min(archive.MAX_BACKOFF, max(self.interval, delay * 2))

    @property
    def lag(self) -> ReplicaLag:
        seconds = (float("inf") if self._caught_up_at is None
                   else round(max(0.0, time.time() - self._caught_up_at), 3))
        return ReplicaLag(seconds, max(0, self.archive_end - self.engine.replayed_to))

    def checkpoint(self) -> None:
        with self._lock:
            self.engine.checkpoint()

    def backup(self, dest: str) -> None:
        """A checkpoint, then a copy of its image: under the lock, as the poll thread changes the
        engine's state, log and files."""
        with self._lock:
            self.engine.backup(dest)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        with self._lock:
            self.engine.close()
