"""One open database directory: process lock, recovery, commit path, checkpoints, followers.

Knows records and bytes, never schema rules or Cypher (those sit above, in lpgdb.database).

Directory (see checkpoint.py and wal.py for each file's format)::

    LOCK  META  SHM  manifest/  wal/  data/  tmp/

Open (recovery)
    1. take the writer lock (flock on LOCK; a read-only follower takes none);
    2. read META (two slots), load the manifest and partition files it names (CRC-checked);
    3. replay the WAL from the checkpoint LSN; a torn tail is cut (zeroed), damage to
       acknowledged data raises CorruptionError (wal.py invariant 4);
    4. remove orphans of interrupted checkpoints; publish the durable LSN in SHM.

Commit
    ``commit(ops)`` (caller holds the writer lock): encode one record, append it to the WAL,
    apply it to the in-memory state stamped with its end LSN.  ``make_durable(lsn)`` (called
    after the writer lock is released, so other writers proceed: early lock release) waits for
    the group fdatasync in sync="full"; new snapshots see a commit once it is durable.

Followers (readonly=True)
    Replay only up to the durable LSN the writer publishes in SHM, and ``refresh()`` to follow.
    If the writer checkpointed past their position (segments gone), they reload from META.

In-memory databases (path None / ":memory:") have no files: commits apply directly.
"""
from __future__ import annotations

import fcntl
import os
import struct
import time
import uuid as _uuid
from typing import Callable, Optional

from .. import core
from ..errors import CorruptionError, OperationalError
from . import archive, checkpoint, io, records, wal
from .graph import GraphState
from .view import GraphView

_SHM = struct.Struct("<16sQ")
SYNC_MODES = ("full", "normal", "off")


class Engine:
    def __init__(self, path: Optional[str], *, readonly: bool = False, create: bool = True,
                 sync: str = "full", schema_loader: Callable = None,
                 wal_segment_size: int = wal.DEFAULT_SEG_SIZE, checkpoint_wal_bytes: int = 64 << 20,
                 archive=None, archive_interval: float = 0.5, archive_retention: Optional[float] = None,
                 recover_until: Optional[tuple] = None, lock_timeout: Optional[float] = None):
        if sync not in SYNC_MODES:
            raise ValueError(f"sync must be one of {SYNC_MODES}, not {sync!r}")
        self.path = path
        self.readonly = readonly
        self.sync = sync
        self.schema_loader = schema_loader
        self.seg_size = wal_segment_size
        self.checkpoint_wal_bytes = checkpoint_wal_bytes
        self.archive = archive                    # a Store (store.py) to ship the log to, or None
        self.archive_interval = archive_interval
        self.archive_retention = archive_retention
        self.archiver: Optional[archive.Archiver] = None
        self.replica_of = None                    # set by replica.Replica: no user writes
        self.recover_until = recover_until        # ("lsn", n) | ("time", unix_ns): restore only
        self.lock_timeout = lock_timeout          # seconds to wait for the writer lock (None: don't)
        self.last_commit_ns = 0
        self.wal: Optional[wal.WalWriter] = None
        self._lock_fd: Optional[int] = None
        self._shm_fd: Optional[int] = None
        self.meta: Optional[checkpoint.Meta] = None
        self.manifest: Optional[dict] = None
        self.commit_seq = 0
        self.state = self._new_state() if path is None else None   # _load builds it from disk
        if path is not None:
            try:
                self._open_dir(create)
            except BaseException:
                self.close()
                raise

    def _new_state(self) -> GraphState:
        st = GraphState()
        st.schema_loader = self.schema_loader
        return st

    # -- open / recovery ------------------------------------------------------------------------
    def _p(self, *parts) -> str:
        return os.path.join(self.path, *parts)

    def _open_dir(self, create: bool) -> None:
        if not os.path.exists(self._p("META")):
            if self.readonly or not create:
                raise OperationalError(f"no lpgdb database at {self.path!r}"
                                       + ("" if self.readonly else " (connect with create=True to make one)"),
                                       reason="no_database")
            if os.path.exists(self.path) and os.listdir(self.path):
                raise OperationalError(f"{self.path!r} exists and is not an lpgdb database directory")
            self._create_dir()
        if not self.readonly:
            self._lock_fd = os.open(self._p("LOCK"), os.O_RDWR | os.O_CREAT, 0o644)
            self._take_writer_lock()
        self._load()
        if not self.readonly:
            checkpoint.remove_orphans(self.path, self.meta, self.manifest)
            if self.archive is None:
                self.wal.drop_segments_below(self.meta.checkpoint_lsn)
            # else the archiver drops segments once they are shipped (issue 9 B4)
            self._shm_fd = os.open(self._p("SHM"), os.O_RDWR | os.O_CREAT, 0o644)
            self._publish(self.wal.durable_lsn)
            if self.archive is not None:
                self.archiver = archive.Archiver(self, self.archive, interval=self.archive_interval,
                                                 retention=self.archive_retention)
                self.archiver.start()

    def _take_writer_lock(self) -> None:
        """flock(LOCK_EX) on LOCK, polling until ``lock_timeout`` (like sqlite3's busy timeout:
        back-off from 1 ms to 100 ms between tries)."""
        deadline = None if not self.lock_timeout else time.monotonic() + self.lock_timeout
        pause = 0.001
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                left = None if deadline is None else deadline - time.monotonic()
                if left is None or left <= 0:
                    waited = f" after waiting {self.lock_timeout:g}s" if self.lock_timeout else ""
                    raise OperationalError(
                        f"database {self.path!r} is locked by another writer{waited} (open it with "
                        f"readonly=True to read beside it, or pass timeout=SECONDS to wait for the lock)",
                        reason="locked") from None
                time.sleep(min(pause, left))
                pause = min(pause * 2, 0.1)

    def _create_dir(self) -> None:
        os.makedirs(self.path, exist_ok=True)
        for sub in ("wal", "data", "manifest", "tmp"):
            os.makedirs(self._p(sub), exist_ok=True)
        meta = checkpoint.initial_meta(_uuid.uuid4().bytes, self.seg_size)
        checkpoint.write_meta(self._p("META"), meta)
        wal.fsync_dir(self.path)

    def _load(self) -> None:
        """Build the state from META + files + WAL (recovery). Used at open and by followers."""
        self.meta = checkpoint.read_meta(self._p("META"))
        self.seg_size = self.meta.seg_size
        state = self._new_state()
        self.manifest = checkpoint.load(self.path, state, self.meta)
        self.commit_seq = self.manifest["commit_seq"] if self.manifest else 0
        self.last_commit_ns = self.manifest.get("last_commit_ns", 0) if self.manifest else 0
        upto = self._shm_durable() if self.readonly and self._writer_alive() else None
        end, torn = self._replay(state, self.meta.checkpoint_lsn, upto)
        if not self.readonly:
            if torn is not None:
                wal.zero_tail(self._p("wal"), self.seg_size, torn)
            self.wal = wal.WalWriter(self._p("wal"), self.meta.uuid, seg_size=self.seg_size,
                                     end_lsn=end, durable_lsn=end, sync=self.sync,
                                     on_durable=self._publish)
            self.wal.commit_seq = self.commit_seq
        self.state = state   # a follower's open snapshots keep the state they started on
        self.replayed_to = end
        state.publish(state.applied_lsn)

    def _replay(self, state: GraphState, start: int, upto: Optional[int]):
        """Apply complete commits from ``start``; return (end LSN, first position to erase).

        With ``recover_until`` (point-in-time restore) replay stops before the first commit past
        the target, and everything from there on is to be erased."""
        until = self.recover_until
        if until is not None and until[0] == "lsn":
            upto = until[1] if upto is None else min(upto, until[1])
        gen = wal.scan(self._p("wal"), self.meta.uuid, self.seg_size, start, upto=upto,
                       commit_seq=self.commit_seq)
        prev_end = start
        while True:
            try:
                end, seq, payload = next(gen)
            except StopIteration as stop:
                res = stop.value
                self.commit_seq = res.commit_seq
                if until is not None:
                    return res.end_lsn, res.end_lsn
                return res.end_lsn, res.torn_from
            ns, ops = records.decode_commit(payload, path=self._p("wal"), offset=end)
            if until is not None and until[0] == "time" and ns > until[1]:
                gen.close()
                self.commit_seq = seq - 1
                return prev_end, prev_end
            prev_end = end
            self.last_commit_ns = ns
            try:
                state.apply(ops, end)
            except CorruptionError:
                raise
            except Exception as e:  # a record that decodes but cannot apply is damage too
                raise CorruptionError(f"commit record ending at LSN {end} cannot be applied: {e!r}",
                                      path=self._p("wal"), offset=end) from e

    # -- the read boundary --------------------------------------------------------------------------
    def snapshot_view(self) -> GraphView:
        """A view pinned at the visible LSN (close() it to release)."""
        st = self.state
        return GraphView(st, st.pin_visible(), True)

    def writer_view(self) -> GraphView:
        """The writer's view at the applied LSN; valid while the writer lock is held."""
        st = self.state
        return GraphView(st, st.applied_lsn, False)

    @property
    def graph_type(self):
        """The enforced GraphType (as of the last applied commit), or None."""
        return self.state.graph_type

    def verify(self) -> None:
        """Check every invariant of the in-memory structures (InternalError on failure)."""
        self.state.check()

    # -- SHM: the durable LSN published for followers ---------------------------------------------
    def _publish(self, durable: int) -> None:
        if self._shm_fd is not None:
            body = _SHM.pack(self.meta.uuid, durable)
            os.pwrite(self._shm_fd, body + struct.pack("<I", core.crc32c(body)), 0)

    def _shm_durable(self) -> Optional[int]:
        try:
            with open(self._p("SHM"), "rb") as f:
                data = f.read(_SHM.size + 4)
        except FileNotFoundError:
            return None
        if len(data) < _SHM.size + 4:
            return None
        (crc,) = struct.unpack_from("<I", data, _SHM.size)
        uuid, lsn = _SHM.unpack_from(data)
        if crc != core.crc32c(data[:_SHM.size]) or uuid != self.meta.uuid:
            return None
        return lsn

    def _writer_alive(self) -> bool:
        try:
            fd = os.open(self._p("LOCK"), os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)

    # -- commit -----------------------------------------------------------------------------------
    def check_writable(self) -> None:
        """OperationalError if this handle cannot take writes (read-only, or poisoned by a
        failed WAL write/sync: the in-memory state may then hold unacknowledged commits)."""
        if self.readonly:
            raise OperationalError("the database is open read-only; open it without readonly=True to write",
                                   reason="read_only")
        if self.replica_of is not None:
            raise OperationalError(f"the database is a replica of {self.replica_of}; it is read-only "
                                   "(write to the database it follows)", reason="read_only")
        if self.wal is not None:
            self.wal._check_failed()

    def commit(self, ops: list) -> int:
        """Log and apply one transaction; return its LSN. Caller holds the database's writer lock."""
        self.check_writable()
        st = self.state
        if self.wal is None:  # in memory
            lsn = st.applied_lsn + 1
            st.apply(ops, lsn)
            st.publish(lsn)
            return lsn
        self.last_commit_ns = max(time.time_ns(), self.last_commit_ns + 1)   # monotone commit clock
        payload = records.encode_commit(self.last_commit_ns, ops)
        lsn = self.wal.append(payload)
        self.commit_seq = self.wal.commit_seq
        try:
            st.apply(ops, lsn)
        except Exception as e:
            # The record is in the log but not in memory: memory and log disagree.  Poison the
            # handle; reopening replays the log (which then raises if the record is bad).
            self.wal._fail(e)
            raise
        if self.sync != "full":
            st.publish(lsn)
            if self.sync == "off":
                self._publish(lsn)   # followers of an unsynced log follow what was written
        return lsn

    def make_durable(self, lsn: int) -> None:
        """Wait until the commit at ``lsn`` is durable per the sync mode; publish it."""
        if self.wal is None:
            return
        self.wal.commit_durability(lsn)
        if self.sync == "full":
            self.state.publish(self.wal.durable_lsn)

    def maybe_checkpoint(self) -> None:
        """Checkpoint when the WAL since the last one exceeds the threshold. The caller holds the writer lock."""
        if self.wal is not None and self.wal.end_lsn - self.meta.checkpoint_lsn > self.checkpoint_wal_bytes:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Materialize dirty partitions and retire the WAL below them (design §4.7).
        The caller holds the database's writer lock."""
        if self.wal is None or self.readonly:
            return
        st = self.state
        if not st.dirty and st.applied_lsn == self.meta.checkpoint_lsn:
            return
        # The files hold exactly the logged state: sync the log up to the checkpoint LSN.  The
        # log goes on in the same segment (it never jumps: a hole would read as damage at
        # replay, issue 9 B2/B3), so the segment holding the checkpoint LSN is kept.
        self.wal.sync_to(self.wal.end_lsn)
        self.meta, self.manifest = checkpoint.write(self.path, st, self.meta, self.manifest,
                                                    self.commit_seq, self.last_commit_ns)
        self.wal.drop_segments_below(self._droppable())
        if self.archiver is not None:
            self.archiver.checkpointed(self.meta, self.manifest)   # never raises
        st.adj.compact()
        st.collect_garbage()

    def _droppable(self) -> int:
        """WAL below this LSN may be deleted: checkpointed, and shipped when archiving."""
        if self.archiver is None:
            return self.meta.checkpoint_lsn
        return min(self.meta.checkpoint_lsn, self.archiver.shipped_lsn)

    def archive_status(self):
        return None if self.archiver is None else self.archiver.status()

    # -- backup -----------------------------------------------------------------------------------
    def backup(self, dest: str) -> None:
        """Copy a consistent image into the new directory ``dest``. Caller holds the writer lock
        (a writer), or nothing (a follower: ``_backup_follower``).

        A checkpoint first makes the files hold everything (the log restarts empty), so the copy
        is META + the current manifest + the partition files it names: all immutable, copied
        (hard-linked on the same filesystem) while readers go on.
        """
        if self.path is None:
            raise OperationalError("backup needs an on-disk database (this one is in memory)")
        if self.readonly:
            self._backup_follower(dest)
            return
        self.checkpoint()
        if os.path.exists(dest):
            raise OperationalError(f"backup destination {dest!r} already exists")
        checkpoint.copy_image(self.path, self.meta, self.manifest, dest)

    def _backup_follower(self, dest: str, attempts: int = 20) -> None:
        """A follower's backup, taken without the writer lock: the checkpoint image this
        follower loaded (META, manifest, partition files: immutable, hard-linked) plus the log
        from its checkpoint LSN to the durable position it has replayed.  Opening the copy
        replays that log, so it holds exactly this follower's view.  Built with io.build_dir
        (atomic: ``dest`` appears complete and synced, or not at all).

        The writer may checkpoint meanwhile (rewriting META, deleting the files and segments the
        new checkpoint covers): then META no longer names our image, or a file or segment is
        gone, and the attempt starts again from the newer checkpoint.  Complexity: O(image + log).
        """
        if io.exists(dest):
            raise OperationalError(f"backup destination {dest!r} already exists")

        class _Retry(Exception):
            pass

        for _ in range(attempts):
            if checkpoint.read_meta(self._p("META")).slot_seq != self.meta.slot_seq:
                self._load()                          # adopt the writer's newest checkpoint
            else:
                self.refresh()
            meta, manifest, end = self.meta, self.manifest, self.replayed_to
            try:
                with io.build_dir(dest) as tmp:
                    try:
                        if checkpoint.read_meta(self._p("META")).slot_seq != meta.slot_seq:
                            raise _Retry()            # a checkpoint since our load: load it
                        checkpoint.fill_image(self.path, meta, manifest, tmp)
                    except FileNotFoundError:
                        raise _Retry() from None      # a file of our image was deleted under us
                    if checkpoint.read_meta(os.path.join(tmp, "META")).slot_seq != meta.slot_seq:
                        raise _Retry()                # META switched while we copied it
                    if not self._copy_log(os.path.join(tmp, "wal"), meta, end):
                        raise _Retry()                # a segment was dropped by a checkpoint
            except _Retry:
                continue
            return
        raise OperationalError("backup: the writer checkpointed during every attempt; try again, or "
                               "back up from the writer (db.backup on the writing connection)")

    def _copy_log(self, wal_dir: str, meta, end: int) -> bool:
        """Copy the log ``[meta.checkpoint_lsn, end)`` into ``wal_dir``; False if a segment is gone."""
        seg = self.seg_size
        pos = meta.checkpoint_lsn
        while pos < end:
            seg_no = pos // seg
            start, stop = max(pos, seg_no * seg + wal.SEG_HEADER), min(end, (seg_no + 1) * seg)
            if start < stop:
                data = wal.read_log(self._p("wal"), seg, start, stop)
                if data is None:
                    return False
                wal.write_log(wal_dir, meta.uuid, seg, start, data)
            pos = (seg_no + 1) * seg
        return True

    # -- followers --------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Follow the writer: apply commits that became durable since the last call."""
        if self.path is None or not self.readonly:
            return
        meta = checkpoint.read_meta(self._p("META"))
        if meta.slot_seq != self.meta.slot_seq and meta.checkpoint_lsn > self.replayed_to:
            self._load()  # the segments we would need may be gone: start from the new checkpoint
            return
        upto = self._shm_durable() if self._writer_alive() else None
        try:
            end, _torn = self._replay(self.state, self.replayed_to, upto)
        except FileNotFoundError:
            self._load()
            return
        self.replayed_to = end
        self.state.publish(self.state.applied_lsn)

    def apply_shipped(self, end: int) -> None:
        """Replicas: apply the log that was placed in wal/ up to ``end`` (durable already)."""
        done, _torn = self._replay(self.state, self.replayed_to, end)
        self.replayed_to = done
        self.wal.end_lsn = self.wal.durable_lsn = done
        self.state.publish(self.state.applied_lsn)
        self._publish(done)

    # -- close -------------------------------------------------------------------------------------
    def close(self, *, checkpoint_on_close: bool = True) -> None:
        try:
            if self.wal is not None:
                if checkpoint_on_close:
                    try:
                        self.checkpoint()
                    except OperationalError:
                        pass  # a failed WAL leaves the log as the truth; recovery replays it
                if self.archiver is not None:
                    self.archiver.stop()           # ships what is left, within a time limit
                    try:
                        self.wal.drop_segments_below(self._droppable())
                    except OSError:
                        pass                       # dropped at the next checkpoint instead
                self.wal.close()
                self.wal = None
        finally:
            for fd in (self._shm_fd, self._lock_fd):
                if fd is not None:
                    os.close(fd)  # closing the LOCK fd releases the flock
            self._shm_fd = self._lock_fd = None
