"""One open database directory: process lock, recovery, commit path, checkpoints, followers.

Knows records and bytes, never schema rules or Cypher (those sit above, in lpgdb.database).
Every file operation goes through ``storage/io.py``.

Directory (see checkpoint.py and wal.py for each file's format)::

    LOCK  META  SHM  manifest/  wal/  data/  tmp/

Creation
    Atomic: the skeleton (subdirectories, META with both slots) is built under a private
    temporary name beside the path, fsynced and renamed into place (``io.build_dir``), so a
    crash leaves either no database or a complete empty one.

Open (recovery)
    1. take the writer lock: ``flock`` on the database directory itself, which cannot be
       deleted or replaced under a running writer (the LOCK file only names the holder's pid);
       a read-only follower takes none;
    2. check the layout (real subdirectories, never symbolic links), read META (two slots, all
       fields validated), load the manifest (validated, CRC-checked); the data files it names
       are opened, size- and header-checked at the first read that needs each (files.py);
    3. replay the WAL from the checkpoint LSN, preparing and applying each record; a torn tail
       is cut (zeroed); damage to acknowledged data raises CorruptionError (wal.py invariant 4),
       and so does a log that ends below the durable LSN the last writer published in SHM (a
       missing or truncated segment); ``recover="truncate"`` accepts the loss instead;
    4. fdatasync the replayed segments (they may have been only in the page cache: new frames
       are about to claim everything below them is durable), unless SHM witnesses that the
       last writer had synced all of it (a clean reopen: no fdatasync);
    5. finish an interrupted META write (both slots name the same checkpoint), remove orphans of
       interrupted checkpoints, publish the durable LSN in SHM.

Commit
    ``commit(ops)`` (caller holds the writer lock): prepare (every check that can fail: nothing
    is logged when one does), encode one record, append it to the WAL, apply it to the
    in-memory state stamped with its end LSN.  ``make_durable(lsn)`` (called after the writer
    lock is released, so other writers proceed: early lock release) waits for the group
    fdatasync in sync="full"; new snapshots see a commit once it is durable.  Work after that
    (the automatic checkpoint, publishing SHM, archive shipping) never turns an acknowledged
    commit into an error: it logs a warning, and poisons the handle if it left memory and disk
    in doubt.

Failures
    A failed WAL write or fdatasync, or a failed META write, poisons the handle: every later
    write raises OperationalError until the database is reopened (recovery then decides from
    what is on disk).  Any other failure (say, disk full while writing a checkpoint's files)
    leaves everything as it was and the handle usable.

Followers (readonly=True)
    Replay only up to the durable LSN the writer publishes in SHM, and ``refresh()`` to follow.
    Their open is lazy too: the manifest is pinned (checkpoint.ManifestPin: a shared flock the
    writer's file deletion respects), so each data file can be opened at its first read, after
    any number of the writer's checkpoints.  A checkpoint of the writer can retire the log
    segments a follower is reading: when a read fails and META has changed meanwhile, the
    follower starts over from the new META.

In-memory databases (path None / ":memory:") have no files: commits apply directly.
"""
from __future__ import annotations

import errno
import logging
import os
import struct
import time
import uuid as _uuid
from dataclasses import replace
from typing import Callable, Optional

from .. import core
from ..errors import CorruptionError, Error, InterfaceError, InternalError, OperationalError
from . import archive, attach, checkpoint, files, io, records, stream, wal
from .graph import Catalog, GraphState
from .view import GraphView, PointRead

log = logging.getLogger("lpgdb")

CHECKPOINT_WAL_MAX = 256 << 20   # log since the last checkpoint that always triggers one
_SHM = struct.Struct("<16sQQ")      # db uuid, visible LSN (followers), synced LSN (witness)
_SHM_BYTES = _SHM.size + 4          # + CRC-32C
SYNC_MODES = ("full", "normal", "off")
RECOVER_MODES = (None, "truncate")
_FOLLOWER_RETRIES = 20


def check_options(options: dict, readonly: bool) -> None:
    """InterfaceError for an engine option ``connect`` cannot take."""
    seg = options.get("wal_segment_size")
    if seg is not None and not wal.valid_seg_size(seg):
        raise InterfaceError(f"wal_segment_size must be a multiple of 4096 between {wal.MIN_SEG_SIZE} "
                             f"and {wal.MAX_SEG_SIZE} bytes, not {seg!r}")
    for name in ("checkpoint_wal_bytes", "checkpoint_mem_bytes"):
        v = options.get(name)
        if v is not None and (type(v) is not int or v < 0):
            raise InterfaceError(f"{name} must be an int >= 0, not {v!r}")
    rec = options.get("recover")
    if rec not in RECOVER_MODES:
        raise InterfaceError(f"recover must be None or 'truncate', not {rec!r}")
    if rec is not None and readonly:
        raise InterfaceError("recover='truncate' needs a writer (readonly=False): it erases the "
                             "damaged part of the log")


class Engine:
    def __init__(self, path: Optional[str], *, readonly: bool = False, create: bool = True,
                 sync: str = "full", schema_loader: Callable = None,
                 wal_segment_size: int = wal.DEFAULT_SEG_SIZE, checkpoint_wal_bytes: int = 8 << 20,
                 checkpoint_mem_bytes: int = 256 << 20,
                 archive=None, archive_interval: float = 0.5, archive_retention: Optional[float] = None,
                 recover_until: Optional[tuple] = None, lock_timeout: Optional[float] = None,
                 recover: Optional[str] = None, replica_of: Optional[str] = None):
        if sync not in SYNC_MODES:
            raise ValueError(f"sync must be one of {SYNC_MODES}, not {sync!r}")
        if recover not in RECOVER_MODES:
            raise ValueError(f"recover must be one of {RECOVER_MODES}, not {recover!r}")
        self.path = path
        self.readonly = readonly
        self.sync = sync
        self.schema_loader = schema_loader
        self.seg_size = wal_segment_size
        self.checkpoint_wal_bytes = checkpoint_wal_bytes
        self.checkpoint_mem_bytes = checkpoint_mem_bytes
        self.archive = archive                    # a Store (store.py) to ship the log to, or None
        self.archive_interval = archive_interval
        self.archive_retention = archive_retention
        self.archiver: Optional[archive.Archiver] = None
        self.replica_of = replica_of              # replica.Replica's archive: no user writes
        self.recover_until = recover_until        # ("lsn", n) | ("time", unix_ns): restore only
        self.lock_timeout = lock_timeout          # seconds to wait for the writer lock (None: don't)
        self.recover = recover                    # "truncate": accept losing damaged history
        self.last_commit_ns = 0
        self.wal: Optional[wal.WalWriter] = None
        self._lock_fd: Optional[int] = None
        self._shm_fd: Optional[int] = None
        self._shm_map = None                 # SHM's shared writable mapping (the writer)
        self._poisoned: Optional[BaseException] = None
        self._next_auto_checkpoint = 0            # WAL end LSN before which no auto-checkpoint
        self.meta: Optional[checkpoint.Meta] = None
        self.manifest: Optional[dict] = None
        self.commit_seq = 0
        self.replayed_to = 0
        self._attach_pending: Optional[dict] = None   # manifest of an ATTACH replayed, to switch to
        self.state = None
        self.state = self._new_state() if path is None else None   # _load builds it from disk
        if path is not None:
            try:
                self._open_dir(create)
            except BaseException:
                self.close(checkpoint_on_close=False)
                raise

    def _new_state(self) -> GraphState:
        st = GraphState(Catalog())
        st.schema_loader = self.schema_loader
        return st

    # -- open / recovery ------------------------------------------------------------------------
    def _p(self, *parts) -> str:
        return os.path.join(self.path, *parts)

    def _open_dir(self, create: bool) -> None:
        if not io.exists(self._p("META")):
            self._no_meta(create)
        if not self.readonly:
            self._lock_fd = io.open(self.path, os.O_RDONLY | io.DIRECTORY)
            self._take_writer_lock()
        checkpoint.check_layout(self.path, repair=not self.readonly)
        if self.readonly:
            self._load_follower()
            return
        self._load()
        self._finish_open()

    def _no_meta(self, create: bool) -> None:
        """There is no META: create a database, or say why not."""
        if io.exists(self.path):
            if not io.is_real_dir(self.path):
                raise OperationalError(f"{self.path!r} exists and is not a directory")
            names = io.listdir(self.path)
            if any(n in names for n in ("wal", "data", "manifest")):
                raise CorruptionError("the META file is missing from this database directory; "
                                      "restore the database from a backup", path=self._p("META"))
            if names:
                raise OperationalError(f"{self.path!r} exists and is not an lpgdb database directory")
        if self.readonly or not create:
            raise OperationalError(f"no lpgdb database at {self.path!r}"
                                   + ("" if self.readonly else " (connect with create=True to make one)"),
                                   reason="no_database")
        try:
            with io.build_dir(self.path, replace_empty=True) as tmp:
                for sub in checkpoint.SUBDIRS:
                    io.mkdir(os.path.join(tmp, sub))
                meta = checkpoint.initial_meta(_uuid.uuid4().bytes, self.seg_size)
                checkpoint.write_meta_pair(os.path.join(tmp, "META"), meta)
        except OperationalError:
            if not io.exists(self._p("META")):    # else another process created it meanwhile
                raise

    def _take_writer_lock(self) -> None:
        """flock(LOCK_EX) on the database directory, polling until ``lock_timeout`` (like
        sqlite3's busy timeout: back-off from 1 ms to 100 ms between tries).  The directory is
        locked, not the LOCK file: a file can be deleted under a running writer, letting a
        second one in; a directory holding files cannot."""
        deadline = None if not self.lock_timeout else time.monotonic() + self.lock_timeout
        pause = 0.001
        while not io.flock(self._lock_fd):
            left = None if deadline is None else deadline - time.monotonic()
            if left is None or left <= 0:
                waited = f" after waiting {self.lock_timeout:g}s" if self.lock_timeout else ""
                holder = self._lock_holder()
                raise OperationalError(
                    f"database {self.path!r} is locked by another writer{holder}{waited} (open it "
                    f"with readonly=True to read beside it, or pass timeout=SECONDS to wait for the "
                    f"lock)", reason="locked")
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.1)
        try:   # for people and error messages only: the lock is the directory's flock
            fd = io.open(self._p("LOCK"), os.O_RDWR | os.O_CREAT | io.NOFOLLOW)
            try:
                io.pwrite(fd, f"{os.getpid():>11}\n".encode(), 0)   # fixed width: no truncate
            finally:
                io.close(fd)
        except OperationalError as e:
            log.warning("lpgdb: could not record the writer's pid in %s: %s", self._p("LOCK"), e)

    def _lock_holder(self) -> str:
        try:
            data = io.read_file(self._p("LOCK"), missing_ok=True) or b""
        except OperationalError:
            return ""
        text = data.strip()
        return f" (pid {int(text)})" if text.isdigit() and len(text) < 12 else ""

    def _load(self) -> None:
        """Recovery for the writer: build the state from META + files + WAL."""
        self.meta, self._meta_other = checkpoint.read_slots(self._p("META"))
        self.seg_size = self.meta.seg_size
        state, self.manifest = checkpoint.load(self.path, self.meta, self.schema_loader, lazy=True)
        self.commit_seq = self.manifest["commit_seq"] if self.manifest else 0
        self.last_commit_ns = self.manifest["last_commit_ns"] if self.manifest else 0
        shm = self._shm_read()
        # a replica replays what it had applied (its SHM): the log it fetched beyond may be
        # incomplete (a failed poll, a crash before its fsync); its next poll fetches it again
        upto = shm[1] if shm is not None and self.replica_of is not None else None
        end, torn, lost, state = self._replay(state, self.meta.checkpoint_lsn, upto, at_open=True)
        if shm is not None and shm[1] > end and self.recover_until is None:
            msg = (f"the log ends at LSN {end}, but the last writer had made LSN {shm[1]} durable: "
                   f"a WAL segment is missing or truncated")
            if self.recover != "truncate":
                raise CorruptionError(msg + "; restore the database from a backup, or open it with "
                                      "connect(..., recover='truncate') to accept the loss",
                                      path=self._p("wal"))
            lost = lost or msg
        if lost is not None:
            log.warning("lpgdb: recover='truncate' gave up damaged history of %s: %s", self.path, lost)
        wal_dir = self._p("wal")
        if torn is not None:
            wal.zero_tail(wal_dir, self.seg_size, torn)
        if torn is not None or lost is not None or shm is None or shm[1] < end:
            wal.sync_segments(wal_dir, self.seg_size, self.meta.checkpoint_lsn)   # (4)
        # else SHM is the last writer's witness that the log up to ``end`` was fdatasynced (it
        # publishes a synced LSN only after the sync, and every value it ever wrote was true
        # then): a clean reopen needs no fdatasync, which under I/O load cost 10-200 ms
        self._switch_attached()
        self.wal = wal.WalWriter(wal_dir, self.meta.uuid, seg_size=self.seg_size,
                                 end_lsn=end, durable_lsn=end, sync=self.sync,
                                 on_durable=self._publish)
        self.wal.commit_seq = self.commit_seq
        self.state = state
        self.replayed_to = end
        state.publish(state.applied_lsn)

    def _finish_open(self) -> None:
        if not self.meta.same_checkpoint(self._meta_other):
            # a checkpoint's second META write was interrupted (or one slot is damaged): both
            # slots must name the current checkpoint before the files of the other one go
            self.meta = replace(self.meta, slot_seq=self.meta.slot_seq + 1)
            checkpoint.write_meta(self._p("META"), self.meta)
        self._meta_other = None
        try:
            checkpoint.remove_orphans(self.path, self.meta, self.manifest)
            for name in io.listdir(self._p("wal")):   # interrupted segment creations
                if name.endswith(".wal.tmp") and wal.parse_segment_name(name[:-4]) is not None:
                    io.unlink(self._p("wal", name), missing_ok=True)
            if self.archive is None:
                self.wal.drop_segments_below(self.meta.checkpoint_lsn)
            # else the archiver drops segments once they are shipped (issue 9 B4)
        except OperationalError as e:
            log.warning("lpgdb: could not remove obsolete files of %s (retried at the next open): %s",
                        self.path, e)
        self._shm_fd = io.open(self._p("SHM"), os.O_RDWR | os.O_CREAT | io.NOFOLLOW)
        if io.fstat(self._shm_fd).st_size != _SHM_BYTES:
            io.ftruncate(self._shm_fd, _SHM_BYTES)
        self._shm_map = io.mmap(self._shm_fd, _SHM_BYTES, shared_write=True)
        self._publish(self.wal.durable_lsn)
        if self.archive is not None:
            self.archiver = archive.Archiver(self, self.archive, interval=self.archive_interval,
                                             retention=self.archive_retention)
            self.archiver.start()

    def _load_follower(self) -> None:
        """Load as a follower.  A checkpoint of the writer may retire what we are reading: when
        that happens (a read fails and META changed meanwhile), start over from the new META."""
        for _ in range(_FOLLOWER_RETRIES):
            meta = checkpoint.read_meta(self._p("META"))
            try:
                self._load_from(meta)
                return
            except (CorruptionError, OperationalError):
                if checkpoint.read_meta(self._p("META")) == meta:
                    raise          # nothing moved under us: real damage
        raise OperationalError(f"the writer of {self.path!r} checkpointed {_FOLLOWER_RETRIES} "
                               f"times while this follower was loading; try again")

    def _load_from(self, meta) -> None:
        self.seg_size = meta.seg_size
        have = self.state.files if self.state is not None else None   # mappings to reuse
        state, manifest = checkpoint.load(self.path, meta, self.schema_loader, have=have, lazy=True,
                                          pin=True)
        self.commit_seq = manifest["commit_seq"] if manifest else 0
        self.last_commit_ns = manifest["last_commit_ns"] if manifest else 0
        self.meta = meta
        upto = self._shm_visible() if self._writer_alive() else None
        self._attach_pending = None
        end, _torn, _lost, state = self._replay(state, meta.checkpoint_lsn, upto)
        self._attach_pending = None             # a follower maps the files; it writes nothing
        if upto is not None and end < upto and checkpoint.read_meta(self._p("META")) != meta:
            # the writer checkpointed while we read, and gave back the log below its checkpoint
            raise OperationalError("the writer checkpointed during this follower's load")
        self.manifest = manifest
        old, self.state = self.state, state   # open snapshots keep the state they started on
        if old is not None and old is not state:
            old.retire()
        self.replayed_to = end
        state.publish(state.applied_lsn)

    def _replay(self, state: GraphState, start: int, upto: Optional[int], *, at_open: bool = False):
        """Apply complete commits from ``start``; return (end LSN, first position to erase,
        what ``recover="truncate"`` gave up or None).

        With ``recover_until`` (point-in-time restore) replay stops before the first commit past
        the target, and everything from there on is to be erased."""
        until = self.recover_until
        if until is not None and until[0] == "lsn":
            upto = until[1] if upto is None else min(upto, until[1])
        truncate = self.recover == "truncate" and not self.readonly
        wal_dir = self._p("wal")
        gen = wal.scan(wal_dir, self.meta.uuid, self.seg_size, start, upto=upto,
                       commit_seq=self.commit_seq, accept_loss=truncate)
        prev_end = start
        while True:
            try:
                begin, end, seq, payload = next(gen)
            except StopIteration as stop:
                res = stop.value
                self.commit_seq = res.commit_seq
                if until is not None:
                    return res.end_lsn, res.end_lsn, None, state
                return res.end_lsn, res.torn_from, res.lost, state
            desc = None
            try:
                ns, ops = records.decode_commit(payload, path=wal_dir, offset=end)
                if type(ns) is not int:
                    raise CorruptionError("malformed commit record (time stamp)", path=wal_dir, offset=end)
                desc = self._attach_desc(state, ops, end)
                plan = state.prepare(ops) if desc is None else None
            except attach.NeedsBase:
                if self.replica_of is not None and at_open:
                    # a replica's open (not its poll: that loads the base): the log ends before
                    # the record for now; its first poll fetches it again and loads the base
                    # after it (replica.py), as when its rebase failed before the record was
                    # replaced by that base
                    gen.close()
                    self.commit_seq = seq - 1
                    return begin, None, None, state
                if self.readonly or self.replica_of is not None or not truncate:
                    raise
                gen.close()
                self.commit_seq = seq - 1
                return begin, begin, "a bulk attach record whose files are missing", state
            except Error as e:      # a record that decodes but cannot apply is damage too
                bad = e if isinstance(e, CorruptionError) else CorruptionError(
                    f"commit record ending at LSN {end} cannot be applied: {e}", path=wal_dir, offset=end)
                if not truncate:
                    raise bad from e
                gen.close()
                self.commit_seq = seq - 1
                return begin, begin, str(bad), state
            if until is not None and until[0] == "time" and ns > until[1]:
                gen.close()
                self.commit_seq = seq - 1
                return prev_end, prev_end, None, state
            prev_end = end
            self.last_commit_ns = max(self.last_commit_ns, ns)
            try:
                if desc is not None:
                    state = self._install_attached(state, desc, end, seq)
                else:
                    state.apply(ops, end, plan)
            except CorruptionError:
                raise
            except Exception as e:
                raise CorruptionError(f"commit record ending at LSN {end} cannot be applied: {e!r}",
                                      path=wal_dir, offset=end) from e
            self.commit_seq = seq       # the last commit applied (_replayed_part reads it)

    # -- bulk attach (attach.py has the protocol) ---------------------------------------------------
    def _attach_desc(self, state: GraphState, ops, end: int) -> Optional[dict]:
        """The checked description of an ATTACH record (None for any other record).  NeedsBase
        if ``state`` is not the checkpoint it was built on, or its files are not here."""
        if not (isinstance(ops, list) and len(ops) == 1 and isinstance(ops[0], list)
                and ops[0][:1] == [records.ATTACH]):
            return None
        wal_dir = self._p("wal")
        desc = attach.check(ops[0][1] if len(ops[0]) == 2 else None, path=wal_dir, offset=end)
        if state.changed() or state.base_lsn != desc["base"]:
            raise attach.NeedsBase(f"the bulk attach record ending at LSN {end} applies to the "
                                   f"checkpoint at LSN {desc['base']}, not to this state (checkpoint "
                                   f"{state.base_lsn}, replayed to {state.applied_lsn})", end,
                                   path=wal_dir, offset=end)
        if not attach.extends(state.catalog.to_manifest(), desc["catalog"]):
            raise CorruptionError(f"the bulk attach record ending at LSN {end} does not extend the "
                                  f"catalog it was built on; restore the database from a backup",
                                  path=wal_dir, offset=end)
        problem = attach.files_present(self.path, desc)
        if problem is not None:
            raise attach.NeedsBase(f"the bulk attach record ending at LSN {end} names a data file "
                                   f"that is not usable ({problem}); restore the database from a "
                                   f"backup", end, path=self._p("data"))
        return desc

    def _install_attached(self, state: GraphState, desc: dict, end: int, seq: int) -> GraphState:
        """The generation after the ATTACH record ``desc`` ending at ``end``: ``state``'s files
        with the record's in their place, an empty overlay.  ``state`` is retired unless it is
        the one readers use (the caller swaps that one).  Writers switch META to it after the
        replay (``_switch_attached``)."""
        man = checkpoint.merged_manifest(getattr(state, "manifest", None), desc, end, seq, self.last_commit_ns)
        cat = Catalog.from_manifest(man, self.schema_loader, path=self._p("wal"))
        nxt = checkpoint.generation(self.path, replace(self.meta, checkpoint_lsn=end), man, cat,
                                    self.schema_loader, have=state.files, lazy=not self.readonly)
        self._attach_pending = man
        if state is not self.state:
            state.retire()
        return nxt

    def _adopt(self, state: GraphState) -> None:
        """Make ``state`` (a generation a replay produced) the current one."""
        old = self.state
        if state is not old:
            self.state = state
            if old is not None:
                old.retire()

    def _switch_attached(self) -> None:
        """A writer (or replica) that replayed an ATTACH record: write its manifest and switch META
        to it, before anything (orphan removal, a checkpoint) relies on the current manifest."""
        man, self._attach_pending = self._attach_pending, None
        if man is None or self.readonly:
            return
        written: list = []
        try:
            mdata = checkpoint.write_manifest(self.path, self.meta, man, written)
        except BaseException:
            checkpoint.discard(self.path, self.meta, self.manifest, written)
            raise
        self.meta = checkpoint.switch(self.path, self.meta, man, mdata)
        self._meta_other = replace(self.meta, slot_seq=self.meta.slot_seq - 1)
        self.manifest = man

    def _attach(self, ops: list) -> int:
        """Commit the columnar bulk ops ``ops`` as data files and one ATTACH record (attach.py,
        steps 1-4); return the record's end LSN (durable).  Caller holds the writer lock."""
        if self.state.changed():
            self.checkpoint()                                     # 1. quiesce
        st = self.state
        base = st.base_lsn
        try:
            plan = st.prepare(ops)
        except CorruptionError as e:
            raise InternalError(f"lpgdb built a malformed commit record ({e}); nothing was "
                                f"written. This is a bug: please report it") from e
        try:
            st.apply(ops, base + 1, plan)          # never published: snapshots read at base
        except BaseException:
            self._reset_generation(st)
            raise
        del plan
        return self._attach_built(st, base)

    # -- streamed bulk loads (stream.py) -------------------------------------------------------------
    def stream_wanted(self, ops: list) -> bool:
        """Whether the columnar bulk ops ``ops`` are worth streaming (``stream_begin``): a
        database on disk, and enough rows to be attached rather than logged."""
        return self.wal is not None and attach.rows(ops) >= attach.ATTACH_MIN_ROWS

    def stream_begin(self, budget: Optional[int] = None) -> "stream.Stream":
        """Start a streamed bulk load (stream.py); the caller holds the writer lock until
        ``commit_stream`` or ``stream_abort``.  Checkpoints first if the overlay is not empty."""
        self.check_writable()
        if self.wal is None:
            raise InternalError("a streamed bulk load needs a database on disk; this is a bug")
        if self.state.changed():
            self.checkpoint()
        return stream.Stream(self, budget or stream.BUDGET)

    def commit_stream(self, x: "stream.Stream", ops: list) -> int:
        """Commit the streamed load ``x`` (with its last columnar ``ops``) as one ATTACH record:
        every file it touches built once (attach.py steps 2-4).  Its end LSN (durable)."""
        self.check_writable()
        st = x.state
        if st is not self.state or not x.open:
            raise InternalError("a streamed bulk load outlived its generation; this is a bug")
        try:
            x.add(ops)
            x.seal()
        except BaseException:
            self.stream_abort(x)
            raise
        return self._attach_built(st, x.base, x)

    def stream_abort(self, x: "stream.Stream") -> None:
        """Drop the streamed load ``x``: its spill file, and the overlay holding its nodes."""
        if not x.open:
            return
        x.close()
        if self.state is x.state and (x.touched or x.state.changed()):
            self._reset_generation(x.state)       # its catalog took the load's ids and names

    def _attach_built(self, st: GraphState, base: int, x=None) -> int:
        """Steps 2-4 of a bulk attach whose load is in ``st``'s overlay at base + 1 (and, for a
        streamed load, in ``x``'s spill)."""
        written: list = []
        try:                                                      # 2. build
            delta = checkpoint.build_files(self.path, st, base + 1, self.manifest, written, x)
            desc = dict(delta, base=base)
            self.last_commit_ns = max(time.time_ns(), self.last_commit_ns + 1)
            payload = records.encode_commit(self.last_commit_ns, [records.op_attach(desc)])
            if self.archiver is not None:
                self.archiver.hold(base)           # archive.py rule 6: no log from here on yet
            lsn = self.wal.append(payload)                        # 3. commit
        except BaseException:
            if x is not None:
                x.close()
            if not self.wal.failed:
                checkpoint.discard(self.path, self.meta, self.manifest, written)
                if self.archiver is not None:
                    self.archiver.hold(None)
            self._reset_generation(st)
            raise
        if x is not None:
            x.close()
        self.commit_seq = self.wal.commit_seq
        self.wal.sync_to(lsn)              # the commit point, in every sync mode
        try:                                                      # 4. install
            man = checkpoint.merged_manifest(self.manifest, desc, lsn, self.commit_seq, self.last_commit_ns)
            written = []
            mdata = checkpoint.write_manifest(self.path, self.meta, man, written)
            self.meta = checkpoint.switch(self.path, self.meta, man, mdata)
            self.manifest = man
            nxt = checkpoint.generation(self.path, self.meta, man, st.catalog, self.schema_loader,
                                        have=st.files, lazy=True)
        except BaseException as e:
            err = OperationalError(f"the bulk load is committed (its log record is durable) but "
                                   f"installing its files failed ({e}); reopen the database",
                                   reason=getattr(e, "reason", None))
            self._poison(err)
            raise err from e
        nxt.publish(lsn)
        self.state = nxt
        files.open_retiring(st.files, nxt.files)     # snapshots of st keep what is deleted next
        st.retire()
        self.replayed_to = lsn
        try:
            checkpoint.remove_orphans(self.path, self.meta, self.manifest)
        except OperationalError as e:
            log.warning("lpgdb: could not remove files the bulk load of %s superseded (retried "
                        "at the next open): %s", self.path, e)
        if self.archiver is not None:
            try:
                self.archiver.checkpointed(self.meta, self.manifest, attach_from=base)
            except Exception as e:   # noqa: BLE001 - the load is committed
                log.warning("lpgdb: staging the bulk load of %s for the archive failed: %s", self.path, e)
        return lsn

    def _reset_generation(self, st: GraphState) -> None:
        """After a failed attach: the generation of the current checkpoint again (the overlay
        of ``st`` holds the unlogged load)."""
        try:
            fresh, _man = checkpoint.load(self.path, self.meta, self.schema_loader, have=st.files, lazy=True)
        except BaseException as e:
            self._poison(e)
            raise
        fresh.publish(fresh.applied_lsn)
        self.state = fresh
        st.retire()

    # -- the read boundary --------------------------------------------------------------------------
    def pinned_view(self) -> GraphView:
        """The committed graph at the visible LSN: the generation's shared view of that LSN
        (views never change, so every reader at one LSN can share one; opening a snapshot
        allocates no view).  The view is the pin: it is released when the last reference to
        it goes (graph.py, "readers").  O(1); the readers lock only when the visible LSN
        moved since the last snapshot."""
        while True:
            st = self.state
            v = st.shared_view              # None, or a view of the visible LSN (GraphState.share)
            if v is not None:
                return v
            v = GraphView(st, st.visible_lsn)   # registered as a reader of st first, then checked:
            if st.share(v):                     # a commit made visible meanwhile, or a checkpoint
                return v                        # that swapped generations, means: try again

    def point_read(self, label: str, prop: str, props: tuple, version, row_type) -> PointRead:
        """A point read through the user index on (label, prop) for the query engine's plans
        made under catalog ``version``, answering ``(row_type(values of props),)`` (view.PointRead:
        the pinned view of the visible LSN per call, no reader; answers kept per generation)."""
        return PointRead(self, label, prop, props, version, row_type)

    def writer_view(self) -> GraphView:
        """The writer's view at the applied LSN; valid while the writer lock is held."""
        st = self.state
        return GraphView(st, st.applied_lsn, False)

    @property
    def schema(self):
        """The enforced schema as stored, ``(ddl, graph type name)``, or None: that of the last
        visible (acknowledged) commit.  A commit whose log fdatasync failed is applied to the
        overlay but never made visible, so its schema is not this one.  O(1)."""
        return self.pinned_view().schema

    def verify(self) -> None:
        """Check every invariant of the in-memory overlay (InternalError on failure) and every
        block CRC of every data file (CorruptionError naming the file).  O(files)."""
        st = self.state
        st.check()
        st.verify_files()

    # -- SHM: the LSNs published for followers (and as a witness for recovery) ---------------------
    def _publish(self, durable: int, visible: Optional[int] = None) -> None:
        """Publish the LSNs in SHM: a store into its shared mapping, which cannot fail (a write
        call that failed would leave readers opened after an acknowledged commit behind it).
        O(1)."""
        if self._shm_map is None:
            return
        body = _SHM.pack(self.meta.uuid, durable if visible is None else visible, durable)
        self._shm_map[0:_SHM_BYTES] = body + struct.pack("<I", core.crc32c(body))

    def _shm_read(self) -> Optional[tuple]:
        """``(visible, synced)`` from SHM if it is intact and belongs to this database.  A read
        that raced the writer's store (bad CRC) is retried."""
        for _attempt in range(3):
            try:
                data = io.read_file(self._p("SHM"), missing_ok=True)
            except OperationalError:
                return None
            if data is None or len(data) < _SHM_BYTES:
                return None
            (crc,) = struct.unpack_from("<I", data, _SHM.size)
            if crc == core.crc32c(data[:_SHM.size]):
                break
        else:
            return None
        uuid, visible, synced = _SHM.unpack_from(data)
        if uuid != self.meta.uuid or synced > visible:
            return None
        return visible, synced

    def _shm_visible(self) -> Optional[int]:
        shm = self._shm_read()
        return None if shm is None else shm[0]

    def _writer_alive(self) -> bool:
        fd = io.open(self.path, os.O_RDONLY | io.DIRECTORY, missing_ok=True)
        if fd is None:
            return False
        try:
            if io.flock(fd, exclusive=False):
                io.unlock(fd)
                return False
            return True
        finally:
            io.close(fd)

    # -- commit -----------------------------------------------------------------------------------
    def check_writable(self) -> None:
        """OperationalError if this handle cannot take writes (read-only, or poisoned by a
        failed WAL write/sync or META write: memory and disk may then disagree)."""
        if self.readonly:
            raise OperationalError("the database is open read-only; open it without readonly=True to write",
                                   reason="read_only")
        if self.replica_of is not None:
            raise OperationalError(f"the database is a replica of {self.replica_of}; it is read-only "
                                   "(write to the database it follows)", reason="read_only")
        self._check_usable()

    def _check_usable(self) -> None:
        """OperationalError if an earlier failure poisoned this handle (what a checkpoint, which
        replicas run too, needs besides the writer lock)."""
        if self._poisoned is not None:
            raise OperationalError(f"an earlier failure left this handle unusable ({self._poisoned}); "
                                   f"reopen the database", reason=getattr(self._poisoned, "reason", None))
        if self.wal is not None:
            self.wal._check_failed()

    def _poison(self, err: BaseException) -> None:
        if self._poisoned is None:
            self._poisoned = err

    def commit(self, ops: list, *, may_attach: bool = True) -> int:
        """Prepare, log and apply one transaction; return its LSN. Caller holds the writer lock.
        ``may_attach``: a commit of columnar bulk ops only, of ATTACH_MIN_ROWS rows or more, is
        attached (``_attach``: its files built now) rather than logged.

        Everything that can refuse the transaction (a value no index can hold, a malformed op)
        happens before the record is written: then nothing is logged and the handle is fine."""
        self.check_writable()
        if may_attach and self.wal is not None and attach.rows(ops) >= attach.ATTACH_MIN_ROWS:
            return self._attach(ops)
        st = self.state
        try:
            plan = st.prepare(ops)
        except CorruptionError as e:
            raise InternalError(f"lpgdb built a malformed commit record ({e}); nothing was "
                                f"written. This is a bug: please report it") from e
        if self.wal is None:  # in memory
            lsn = st.applied_lsn + 1
            self._install(ops, lsn, plan)
            st.publish(lsn)
            return lsn
        self.last_commit_ns = max(time.time_ns(), self.last_commit_ns + 1)   # monotone commit clock
        payload = records.encode_commit(self.last_commit_ns, ops)
        lsn = self.wal.append(payload)
        del payload                 # a bulk load's record can be large: not kept while applying
        self.commit_seq = self.wal.commit_seq
        self._install(ops, lsn, plan)
        if self.sync != "full":
            st.publish(lsn)
            if self.sync == "off":
                self._publish(self.wal.durable_lsn, lsn)   # followers of an unsynced log follow what was written
        return lsn

    def _install(self, ops, lsn, plan) -> None:
        try:
            self.state.apply(ops, lsn, plan)
        except Exception as e:
            # Cannot happen (prepare did every check); if it does, memory no longer matches the
            # log: refuse further writes.  Reopening replays the log.
            err = InternalError(f"applying a prepared commit failed ({e!r}); reopen the database. "
                                f"This is a bug: please report it")
            self._poison(err)
            raise err from e

    def make_durable(self, lsn: int) -> None:
        """Wait until the commit at ``lsn`` is durable per the sync mode; publish it."""
        if self.wal is None:
            return
        self.wal.commit_durability(lsn)
        if self.sync == "full":
            self.state.publish(self.wal.durable_lsn)

    def checkpoint_due(self) -> bool:
        """Whether a checkpoint should run now: the overlay holds more than
        ``checkpoint_mem_bytes``, or the log since the last checkpoint passed
        ``checkpoint_wal_bytes`` and is worth rewriting the changed files for (at least an eighth
        of their size, so a scattered trickle of updates to a big graph does not rewrite it every
        few MiB; ``CHECKPOINT_WAL_MAX`` caps the log, and so recovery, in any case)."""
        if self.wal is None or self._poisoned is not None or self.wal.failed:
            return False
        if self.wal.end_lsn < self._next_auto_checkpoint:
            return False
        st = self.state
        if st.store.mem() > self.checkpoint_mem_bytes:
            return True
        since = self.wal.end_lsn - self.meta.checkpoint_lsn
        if since <= self.checkpoint_wal_bytes:
            return False
        return since > CHECKPOINT_WAL_MAX or since * 8 >= checkpoint.rewrite_bytes(self.manifest, st)

    def maybe_checkpoint(self) -> None:
        """Checkpoint when the WAL since the last one (``checkpoint_wal_bytes``) or the overlay in
        memory (``checkpoint_mem_bytes``) exceeds its threshold (caller holds the writer lock).  Runs after a commit was acknowledged, so it never raises: a failure is
        logged (and retried after another quarter of the threshold of log)."""
        if not self.checkpoint_due():
            return
        try:
            self.checkpoint()
        except Exception as e:       # noqa: BLE001 - the commit before it is durable already
            self._next_auto_checkpoint = self.wal.end_lsn + self.checkpoint_wal_bytes // 4 \
                if self.wal is not None else 0
            if not isinstance(e, Error):
                self._poison(InternalError(f"automatic checkpoint failed: {e!r}"))
            log.warning("lpgdb: automatic checkpoint of %s failed (the commits are safe in the "
                        "log): %s", self.path, e)

    def checkpoint(self) -> None:
        """Materialize dirty partitions and retire the WAL below them (design §4.7).
        The caller holds the database's writer lock.

        A failure before the META switch leaves everything as it was (the handle stays usable);
        a failed META write poisons the handle.  Cleanup after the switch (deleting superseded
        files and segments, archive shipping) only logs its failures."""
        if self.wal is None or self.readonly:
            return
        self._check_usable()              # a replica checkpoints the log it follows, too
        st = self.state
        if not st.changed():
            return
        # The files hold exactly the logged state: sync the log up to the checkpoint LSN.  The
        # log goes on in the same segment (it never jumps: a hole would read as damage at
        # replay, issue 9 B2/B3), so the segment holding the checkpoint LSN is kept.
        self.wal.sync_to(self.wal.end_lsn)
        try:
            self.meta, self.manifest = checkpoint.write(self.path, st, self.meta, self.manifest,
                                                        self.commit_seq, self.last_commit_ns)
        except checkpoint.MetaWriteError as e:
            self._poison(e)
            raise
        try:
            nxt = checkpoint.generation(self.path, self.meta, self.manifest, st.catalog,
                                        self.schema_loader, have=st.files, lazy=True)
        except BaseException as e:
            # META names the new checkpoint but its files cannot be mapped: memory and disk
            # disagree until the next open (which maps them, or reports the damage)
            self._poison(e)
            raise
        # the next generation: the new files (unchanged ones shared), an empty overlay.
        # Snapshots still open on the old one keep it, and its mappings, until they close.
        nxt.publish(nxt.applied_lsn)
        self.state = nxt
        files.open_retiring(st.files, nxt.files)     # snapshots of st keep what is deleted next
        st.retire()                  # freed now, or when its last snapshot closes
        self._next_auto_checkpoint = 0
        try:
            checkpoint.remove_orphans(self.path, self.meta, self.manifest)
            self.wal.drop_segments_below(self._droppable())
        except OperationalError as e:
            log.warning("lpgdb: could not remove files the checkpoint of %s superseded (retried "
                        "at the next open): %s", self.path, e)
        if self.archiver is not None:
            try:
                self.archiver.checkpointed(self.meta, self.manifest)
            except Exception as e:   # noqa: BLE001 - the checkpoint itself is done
                log.warning("lpgdb: staging the checkpoint of %s for the archive failed: %s", self.path, e)

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

        A checkpoint first makes the files hold everything, so the copy is META + the current
        manifest + the partition files it names: all immutable, copied (hard-linked on the same
        filesystem) while readers go on.  Atomic (``io.build_dir``): a failure leaves no
        ``dest`` and touches no other file.
        """
        if self.path is None:
            raise OperationalError("backup needs an on-disk database (this one is in memory)")
        if io.exists(dest):
            raise OperationalError(f"backup destination {dest!r} already exists")
        if self.readonly:
            self._backup_follower(dest)
            return
        self.checkpoint()
        checkpoint.copy_image(self.path, self.meta, self.manifest, dest)

    def _backup_follower(self, dest: str, attempts: int = 20) -> None:
        """A follower's backup, taken without the writer lock: the checkpoint image this
        follower loaded (META, manifest, partition files: immutable, hard-linked) plus the log
        from its checkpoint LSN to the durable position it has replayed.  Opening the copy
        replays that log, so it holds exactly this follower's view.  Built with io.build_dir
        (atomic: ``dest`` appears complete and synced, or not at all; META is written fresh
        from the loaded checkpoint, so it cannot be caught half-rewritten).

        The writer may checkpoint meanwhile (rewriting META, deleting the files and segments the
        new checkpoint covers): then META no longer names our image, or a file or segment is
        gone, and the attempt starts again from the newer checkpoint.  Complexity: O(image + log).
        """
        class _Retry(Exception):
            pass

        for _ in range(attempts):
            if checkpoint.read_meta(self._p("META")) != self.meta:
                self._load_follower()                 # adopt the writer's newest checkpoint
            else:
                self.refresh()
            meta, manifest, end = self.meta, self.manifest, self.replayed_to
            try:
                with io.build_dir(dest) as tmp:
                    try:
                        if checkpoint.read_meta(self._p("META")) != meta:
                            raise _Retry()            # a checkpoint since our load: load it
                        named = {os.path.basename(r) for r, _c, _s in checkpoint.manifest_files(manifest)}
                        extra = [n for n in self.state.files if n not in named]   # replayed attaches
                        checkpoint.fill_image(self.path, meta, manifest, tmp, extra)
                    except OperationalError as e:
                        if getattr(e, "errno", None) != errno.ENOENT:
                            raise
                        raise _Retry() from None      # a file of our image was deleted under us
                    if not self._copy_log(os.path.join(tmp, "wal"), meta, end):
                        raise _Retry()                # a segment was dropped by a checkpoint
                    if checkpoint.read_meta(self._p("META")) != meta:
                        # a checkpoint during the copy may have given back log we read
                        # (wal.drop_segments_below runs after the META switch): copy again
                        raise _Retry()
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
        if meta != self.meta and meta.checkpoint_lsn > self.replayed_to:
            self._load_follower()  # the segments we would need may be gone: start from the new checkpoint
            return
        upto = self._shm_visible() if self._writer_alive() else None
        st = self.state
        try:
            try:
                end, _torn, _lost, state = self._replay(st, self.replayed_to, upto)
            except BaseException:
                self._replayed_part(st)
                raise
        except attach.NeedsBase:
            self._load_follower()     # a bulk attach over commits we replayed: its checkpoint
            return
        except (CorruptionError, OperationalError):
            if checkpoint.read_meta(self._p("META")) == meta:
                raise
            self._load_follower()     # the writer checkpointed while we read: start over
            return
        self._attach_pending = None
        self._adopt(state)
        if upto is not None and end < upto and checkpoint.read_meta(self._p("META")) != meta:
            self._load_follower()     # the log we needed was given back by that checkpoint
            return
        self.replayed_to = end
        self.state.publish(self.state.applied_lsn)

    def apply_shipped(self, end: int) -> None:
        """Replicas: apply the log that was placed in wal/ up to ``end`` (durable already)."""
        st = self.state
        try:
            done, _torn, _lost, state = self._replay(st, self.replayed_to, end)
        except BaseException:
            self._replayed_part(st)
            raise
        self._adopt(state)
        self._switch_attached()
        self._replayed(done)

    def _replayed(self, lsn: int) -> None:
        self.replayed_to = lsn
        if self.wal is not None:                     # a replica: its log ends there
            self.wal.end_lsn = self.wal.durable_lsn = lsn
            self.wal.commit_seq = self.commit_seq
        self.state.publish(self.state.applied_lsn)
        self._publish(lsn)

    def _replayed_part(self, st: GraphState) -> None:
        """A follower's or replica's replay failed midway (a read error, a bulk attach whose
        base must be loaded): the commits it applied to the state before the failure stay (each
        applies whole), so the position moves past them; else the next replay would apply them
        a second time (CorruptionError), and a checkpoint would store them under the old
        position, where the next open replays them again."""
        if self.state is st and st.applied_lsn > self.replayed_to:
            self._replayed(st.applied_lsn)

    # -- close -------------------------------------------------------------------------------------
    def close(self, *, checkpoint_on_close: bool = True) -> None:
        """Checkpoint (``checkpoint_on_close``; its failure is only logged: the log holds every
        commit) and release everything.  A clean close also makes the log durable: when commits
        acknowledged without an fdatasync (sync normal/off) cannot be made durable, the handle
        is closed all the same and OperationalError says they may be lost."""
        unsynced = None
        try:
            if self.wal is not None:
                if checkpoint_on_close and self._poisoned is None and not self.wal.failed:
                    try:
                        self.checkpoint()
                    except Error as e:
                        log.warning("lpgdb: checkpoint at close of %s failed (the log holds every "
                                    "commit; the next open replays it): %s", self.path, e)
                if checkpoint_on_close and not self.readonly:
                    if not self.wal.failed:
                        try:
                            self.wal.sync_to(self.wal.end_lsn)
                        except OperationalError:
                            pass                   # reported below when it leaves commits in doubt
                    unsynced = self.wal.unsynced_acknowledged()
                if self.archiver is not None:
                    self.archiver.stop()           # ships what is left, within a time limit
                    try:
                        self.wal.drop_segments_below(self._droppable())
                    except OperationalError:
                        pass                       # dropped at the next checkpoint instead
                if not self.wal.failed and not self.readonly and self.replica_of is None:
                    # (a replica's log beyond its position is shipped log it fetched, not
                    # preallocated space: the next poll goes on with it)
                    try:
                        self.wal.trim_tail()       # a closed database keeps no preallocated log
                    except OperationalError as e:
                        log.warning("lpgdb: could not free the WAL space preallocated by %s: %s",
                                    self.path, e)
                self.wal.close()
                self.wal = None
        finally:
            if self._shm_map is not None:
                self._shm_map.close()
                self._shm_map = None
            for fd in (self._shm_fd, self._lock_fd):
                if fd is not None:
                    io.close(fd)  # closing the directory fd releases the writer's flock
            self._shm_fd = self._lock_fd = None
            if self.path is not None and self.state is not None:
                # snapshots still open keep their generation (and a reader's manifest pin);
                # the handle lets go of it now, not when it is garbage-collected
                old, self.state = self.state, None
                old.retire()
        if unsynced is not None:
            durable, acked, cause = unsynced
            raise OperationalError(
                f"closed {self.path}, but the last commits may not be durable: they were "
                f"acknowledged under sync={self.sync!r} before an fdatasync, and making the log "
                f"durable failed ({cause}); the log from LSN {durable} to {acked} may be "
                f"lost on a power cut or crash. Reopen the database to see which commits "
                f"survived (everything durable is there); if the device is failing, copy the "
                f"database elsewhere or restore it from a backup",
                reason=getattr(cause, "reason", None))


def restore_copy(source: str, dest: str, *, schema_loader: Callable) -> None:
    """Copy the database (a backup) at ``source`` into the new directory ``dest``, atomically.

    The source is opened read-only and verified in full (every name validated, every block
    checksum of every file checked, its log replayed); the copy (META, manifest, partition
    files, the log from the checkpoint on) is built under a private temporary name, opened as a writer and checked there, and only then renamed to
    ``dest`` (``io.build_dir``): a failure leaves no ``dest`` and touches no other file."""
    if io.exists(dest):
        raise OperationalError(f"restore destination {dest!r} already exists")
    src = Engine(source, readonly=True, schema_loader=schema_loader)
    try:
        src.verify()
        meta, manifest = src.meta, src.manifest
    finally:
        src.close()

    def check(tmp):
        eng = Engine(tmp, create=False, schema_loader=schema_loader)
        try:
            eng.state.check()
        finally:
            eng.close(checkpoint_on_close=False)

    checkpoint.copy_image(source, meta, manifest, dest, with_wal=True, check=check)
