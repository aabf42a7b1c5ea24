"""The write-ahead log: the database's source of truth ("the log is the database").

Layout
    ``wal/<seg_no:016x>.wal`` segments of ``seg_size`` bytes (default 16 MiB).  A segment file
    always has its full size, but only its head is allocated: the writer zero-fills (and
    fdatasyncs) ``ALLOC_STEP`` bytes at a time ahead of the log, before a commit's frames are
    written there, so a commit's own fdatasync has no extent metadata to update and disk full
    fails the commit before any of its bytes are written (invariant 5); the rest is a hole
    until then.  A checkpoint gives back the space of the log below it, and ``close`` the
    space allocated beyond the end (``io.discard``), so a quiet database keeps only a few KiB of
    log on disk.  The LSN of a byte is its position in the logical log stream:
    ``lsn = seg_no * seg_size + offset``.
    A segment starts with a 4 KiB header; frames start 8-byte aligned at offset >= 4096 and never
    span segments.

Segment header (little-endian)
    magic[8] "LPGWAL\\0\\1" | version u32 | db_uuid[16] | seg_no u64 | seg_size u64 | created_ns u64
    | header_crc u32 (CRC32C of the preceding bytes)

Frame (32-byte header + payload + zero padding to 8 bytes)

    ===  ====  ===============  ==========================================================
    off  size  field            meaning
    ===  ====  ===============  ==========================================================
    0    4     crc              masked CRC32C of bytes [4, 32 + len)
    4    4     len              payload bytes
    8    8     lsn              must equal the frame's own position (rejects stale bytes)
    16   8     commit_seq       transaction number, equal for all fragments of one commit
    24   1     kind             COMMIT=1 (whole), FIRST=2, MIDDLE=3, LAST=4 (LAST commits)
    25   1     flags            reserved (0)
    26   2     payload_version  records.FORMAT
    28   4     unsynced_delta   lsn - durable_lsn when the frame was written: everything below
                                ``lsn - unsynced_delta`` had been fdatasynced by then
    ===  ====  ===============  ==========================================================

When is a frame valid?  Its crc matches, ``lsn`` equals its position, ``len`` fits in the segment
and ``kind`` is known.  Zeroed (preallocated) space never validates: its lsn field is 0 and no
frame sits at position 0.  A segment position with fewer than 64 bytes left holds no frame: the
writer moves on to the next segment, and so does the reader.

Invariants
    (1) A transaction's frames are contiguous in the log; it commits when its COMMIT or LAST frame
        is valid.  Transactions enter the log in commit order (one writer).
    (2) ``durable_lsn`` only grows; a commit is acknowledged only once ``durable_lsn`` >= its end
        (sync="full").
    (3) Unsynced bytes never exceed ``inflight_max`` (back-pressure), in full and normal modes.
    (4) End-of-log decision at recovery (Aurora's backlinks): let L be the first invalid position.
        If some later valid frame F proves ``F.lsn - F.unsynced_delta > L``, the bytes at L had been
        fdatasynced and are damaged: CorruptionError.  Otherwise L is a torn, never-acknowledged
        tail: it is zeroed (writer) or ignored (reader) and the log ends there.
    (5) Frames are written only into allocated space of a segment (zero-filled and fdatasynced
        beforehand: ``_create_segment``, ``_allocate``), so a write or fdatasync of a commit
        never needs new blocks, and disk full refuses a commit before any of it is written.
    (6) After a failed write or fdatasync the writer refuses everything (``_poison``).
"""
from __future__ import annotations

import os
import struct
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

from .. import core
from ..errors import CorruptionError, OperationalError
from . import faults, io

SEG_HEADER = 4096
DEFAULT_SEG_SIZE = 16 << 20
MIN_SEG_SIZE = 64 << 10
MAX_SEG_SIZE = 1 << 30
DEFAULT_INFLIGHT_MAX = 8 << 20
ALLOC_STEP = 1 << 20         # bytes of a segment zero-filled at a time ahead of the log
MIN_TAIL = 64
SYNC_INTERVAL = 0.1          # seconds between background fdatasyncs in sync="normal"
COMMIT, FIRST, MIDDLE, LAST = 1, 2, 3, 4
_KINDS = (COMMIT, FIRST, MIDDLE, LAST)

_SEG_MAGIC = b"LPGWAL\x00\x01"
_SEG = struct.Struct("<8sI16sQQQ")
_FRAME = struct.Struct("<IIQQBBHI")
assert _FRAME.size == 32
_ZERO_CHUNK = bytes(1 << 20)


def _mask(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def _align8(n: int) -> int:
    return (n + 7) & ~7


def valid_seg_size(n) -> bool:
    """A segment size lpgdb accepts: a multiple of 4 KiB between 64 KiB and 1 GiB."""
    return type(n) is int and MIN_SEG_SIZE <= n <= MAX_SEG_SIZE and n % 4096 == 0


def segment_name(seg_no: int) -> str:
    return f"{seg_no:016x}.wal"


def parse_segment_name(name: str) -> Optional[int]:
    """The segment number a file name stands for, or None (not a segment)."""
    if len(name) != 20 or not name.endswith(".wal"):
        return None
    hexpart = name[:16]
    if hexpart.strip("0123456789abcdef"):
        return None
    return int(hexpart, 16)


def list_segments(wal_dir: str) -> list[int]:
    """Segment numbers present in ``wal_dir``, ascending."""
    out = [parse_segment_name(n) for n in io.listdir(wal_dir)]
    return sorted(s for s in out if s is not None)


def fsync_dir(path: str) -> None:
    io.fsync_dir(path)


def _segment_header(uuid: bytes, seg_no: int, seg_size: int) -> bytes:
    body = _SEG.pack(_SEG_MAGIC, 1, uuid, seg_no, seg_size, time.time_ns())
    return body + struct.pack("<I", core.crc32c(body))


def encode_frame(lsn: int, commit_seq: int, kind: int, payload: bytes, unsynced_delta: int,
                 payload_version: int = 1) -> bytes:
    """One frame, padded to 8 bytes. The C CRC runs over header[4:] + payload."""
    hdr = _FRAME.pack(0, len(payload), lsn, commit_seq, kind, 0, payload_version,
                      min(unsynced_delta, 0xFFFFFFFF))
    crc = core.crc32c(payload, core.crc32c(hdr[4:]))
    pad = _align8(len(payload)) - len(payload)
    return struct.pack("<I", _mask(crc)) + hdr[4:] + payload + b"\0" * pad


@dataclass
class Frame:
    lsn: int
    end: int          # position just after this frame (aligned)
    commit_seq: int
    kind: int
    unsynced_delta: int
    payload: bytes


def decode_frame(buf, off: int, lsn: int, seg_end_off: int) -> Optional[Frame]:
    """The valid frame at ``buf[off:]`` whose position is ``lsn``, or None. Never raises."""
    if seg_end_off - off < MIN_TAIL or off + 32 > len(buf):
        return None
    crc, length, flsn, seq, kind, _flags, _pv, delta = _FRAME.unpack_from(buf, off)
    if flsn != lsn or kind not in _KINDS or off + 32 + length > min(len(buf), seg_end_off):
        return None
    body = memoryview(buf)[off + 4: off + 32 + length]
    if _mask(core.crc32c(body)) != crc:
        return None
    return Frame(lsn, lsn + 32 + _align8(length), seq, kind, delta,
                 bytes(buf[off + 32: off + 32 + length]))


class WalWriter:
    """Appends commit records and makes them durable (group commit).

    Thread model: ``append`` is called under the database's writer lock (one at a time);
    ``sync_to`` may be called by many committing threads at once: the first becomes the leader
    and fdatasyncs everything written so far, the others wait for it (group commit).
    """

    def __init__(self, wal_dir: str, uuid: bytes, *, seg_size: int, end_lsn: int, durable_lsn: int,
                 sync: str, inflight_max: int = DEFAULT_INFLIGHT_MAX,
                 on_durable: Optional[Callable[[int], None]] = None):
        self.dir = wal_dir
        self.uuid = uuid
        self.seg_size = seg_size
        self.sync_mode = sync
        self.inflight_max = inflight_max
        self.end_lsn = end_lsn            # next write position
        self.durable_lsn = durable_lsn    # everything below is on stable storage
        self._on_durable = on_durable
        self._fds: dict[int, int] = {}    # seg_no -> fd, for segments written since last sync
        self._alloc: dict[int, int] = {}  # seg_no -> offset below which the segment is allocated
        self._discarded = 0               # log below this LSN was given back (drop_segments_below)
        self._dir_unsynced = False        # a segment was renamed in, its directory fsync failed
        self._cv = threading.Condition()
        self._flushing = False
        self._failed: Optional[BaseException] = None
        self._acked = 0                   # sync normal/off: commits below were acknowledged
        self._erased_from: Optional[int] = None   # set by _poison: the log above was zeroed
        self._last_sync = time.monotonic()
        self.commit_seq = 0
        self._flusher: Optional[threading.Thread] = None
        self._stop = threading.Event()

    # -- segments -------------------------------------------------------------------------------
    def _fd(self, seg_no: int) -> int:
        fd = self._fds.get(seg_no)
        if fd is None:
            path = os.path.join(self.dir, segment_name(seg_no))
            fd = io.open(path, os.O_RDWR | io.NOFOLLOW, missing_ok=True)
            if fd is None:
                self._alloc[seg_no] = self._create_segment(seg_no)
                fd = io.open(path, os.O_RDWR | io.NOFOLLOW)
            elif self._dir_unsynced:
                # our own earlier creation whose directory fsync failed: no frame goes into it
                # before its name is durable (recovery does not sync the directory again)
                try:
                    io.fsync_dir(self.dir)
                except BaseException:
                    io.close(fd)
                    raise
                self._dir_unsynced = False
            if seg_no not in self._alloc:
                # an existing segment (reopened): what lies beyond the end of the log is
                # unknown (allocated zeros, or a hole): allocate again from the end
                self._alloc[seg_no] = min(self.seg_size, max(SEG_HEADER, self.end_lsn - seg_no * self.seg_size))
            self._fds[seg_no] = fd
        return fd

    def _allocate(self, seg_no: int, fd: int, need: int) -> None:
        """Invariant (5): make ``[.., need)`` of the segment allocated zeros (fdatasynced)
        before frames are written there, ``ALLOC_STEP`` at a time.  Writes only beyond the end
        of the log; a failure (disk full) leaves the log as it was."""
        have = self._alloc[seg_no]
        if need <= have:
            return
        new = min(self.seg_size, -(-need // ALLOC_STEP) * ALLOC_STEP)
        for pos in range(have, new, len(_ZERO_CHUNK)):
            io.pwrite(fd, _ZERO_CHUNK[:min(len(_ZERO_CHUNK), new - pos)], pos)
        try:
            io.fdatasync(fd)
        except OperationalError as e:
            # a failed fdatasync may have dropped earlier unsynced frames (fsyncgate): as in
            # sync_to, nothing more is written and what was not durable is erased (invariant 6)
            self._poison(e, self.end_lsn)
            raise OperationalError(f"WAL fdatasync failed; the commit was not made and the "
                                   f"database must be reopened: {e}", reason=getattr(e, "reason", None)) from e
        self._alloc[seg_no] = new

    def _create_segment(self, seg_no: int) -> int:
        """Invariant (5): the full size, its first ``ALLOC_STEP`` zero-filled (so a commit's
        fdatasync has no extent metadata to update), written under a temporary name, synced,
        renamed, directory synced.  Returns the allocated length."""
        tmp = os.path.join(self.dir, segment_name(seg_no) + ".tmp")
        fd = io.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | io.NOFOLLOW)
        first = min(self.seg_size, ALLOC_STEP)
        try:
            io.ftruncate(fd, self.seg_size)
            for pos in range(0, first, len(_ZERO_CHUNK)):
                io.pwrite(fd, _ZERO_CHUNK[:min(len(_ZERO_CHUNK), first - pos)], pos)
            io.pwrite(fd, _segment_header(self.uuid, seg_no, self.seg_size), 0)
            io.fdatasync(fd)
        except BaseException:
            io.close(fd)
            try:
                io.unlink(tmp, missing_ok=True)
            except OperationalError:
                pass
            raise
        io.close(fd)
        io.rename(tmp, os.path.join(self.dir, segment_name(seg_no)))
        self._dir_unsynced = True
        io.fsync_dir(self.dir)
        self._dir_unsynced = False
        return first

    # -- append ---------------------------------------------------------------------------------
    def append(self, payload: bytes) -> int:
        """Write one transaction (fragmented as needed); return its end LSN. Not yet durable.

        The segments it needs are opened (created) first: a failure there (say, no space for a
        new segment) writes nothing and leaves the writer usable.  A failed write poisons it."""
        self._check_failed()
        if self.sync_mode != "off" and self.end_lsn - self.durable_lsn > self.inflight_max:
            self.sync_to(self.end_lsn)  # invariant (3): back-pressure
        seq = self.commit_seq + 1
        pos, left, first = self.end_lsn, memoryview(payload), True
        layout = []       # (seg_no, off, pos, start, n, kind): frames are encoded one at a time
        start = 0
        while True:
            seg_no, off = divmod(pos, self.seg_size)
            if off < SEG_HEADER:
                off = SEG_HEADER
                pos = seg_no * self.seg_size + off
            room = self.seg_size - off
            if room < MIN_TAIL:
                pos = (seg_no + 1) * self.seg_size + SEG_HEADER
                continue
            n = min(len(left) - start, (room - 32) & ~7)
            last = start + n == len(left)
            kind = COMMIT if first and last else FIRST if first else LAST if last else MIDDLE
            layout.append((seg_no, off, pos, start, n, kind))
            pos += 32 + _align8(n)
            start += n
            first = False
            if last:
                break
        fds = [self._fd(seg_no) for seg_no, *_rest in layout]   # may raise: nothing written
        for fd, (seg_no, off, _pos, _start, n, _kind) in zip(fds, layout):
            self._allocate(seg_no, fd, off + 32 + _align8(n))      # likewise
        try:
            for fd, (_seg, off, fpos, start, n, kind) in zip(fds, layout):
                # one frame in memory at a time: a big bulk load's record is not copied whole
                frame = encode_frame(fpos, seq, kind, left[start:start + n], fpos - self.durable_lsn)
                faults.point("wal_before_write")
                if faults.TORN_WRITE and faults.hit("wal_torn_write"):
                    io.pwrite(fd, frame[: len(frame) // 2], off)
                    faults.die()
                io.pwrite(fd, frame, off)
                del frame
        except OperationalError as e:
            self._poison(e, pos)
            raise OperationalError(f"WAL write failed; the commit was not made and the database "
                                   f"must be reopened: {e}", reason=getattr(e, "reason", None)) from e
        self.commit_seq = seq
        self.end_lsn = pos
        faults.point("wal_after_write")
        return pos

    # -- durability ----------------------------------------------------------------------------
    def sync_to(self, lsn: int) -> None:
        """Block until everything below ``lsn`` is durable (group commit leader/follower)."""
        with self._cv:
            while True:
                if self.durable_lsn >= lsn:     # durable first: a later failure cannot undo it
                    return
                self._check_failed()
                if not self._flushing:
                    break
                self._cv.wait()
            self._flushing = True
            target = self.end_lsn
            fds = list(self._fds.items())
        err = None
        try:
            for _seg, fd in fds:
                io.fdatasync(fd)
        except OperationalError as e:
            err = e
        with self._cv:
            self._flushing = False
            if err is None:
                self.durable_lsn = max(self.durable_lsn, target)
                self._last_sync = time.monotonic()
                cur = target // self.seg_size
                for seg, fd in list(self._fds.items()):  # sealed segments are fully synced: close them
                    if seg < cur:
                        io.close(fd)
                        del self._fds[seg]
            self._cv.notify_all()
        if err is not None:
            self._poison(err, self.end_lsn)
            what = ("commits not yet durable were not acknowledged" if self.sync_mode == "full" else
                    f"commits acknowledged since the last sync (sync={self.sync_mode!r}) may not "
                    f"be durable")
            raise OperationalError(f"WAL fdatasync failed; {what}, and the database must be "
                                   f"reopened: {err}", reason=getattr(err, "reason", None)) from err
        faults.point("wal_after_sync")
        if self._on_durable is not None:
            self._on_durable(self.durable_lsn)

    def commit_durability(self, lsn: int) -> None:
        """Apply the sync mode to a commit ending at ``lsn`` (called without the writer lock).

        full: wait for the group fdatasync.  normal: return at once; a background thread
        fdatasyncs whatever is unsynced every SYNC_INTERVAL.  off: the OS decides.  In normal
        and off the commit is acknowledged here: ``_poison`` keeps its bytes from then on (a
        failure between ``append`` and here erased them: OperationalError).
        """
        if self.sync_mode == "full":
            self.sync_to(lsn)
            return
        with self._cv:
            if self._erased_from is not None and lsn > self._erased_from:
                self._check_failed()
            self._acked = max(self._acked, lsn)
        if self.sync_mode == "normal" and self._flusher is None:
            self._flusher = threading.Thread(target=self._flush_loop, name="lpgdb-wal-flush", daemon=True)
            self._flusher.start()

    def _flush_loop(self) -> None:
        while not self._stop.wait(SYNC_INTERVAL):
            if self.durable_lsn < self.end_lsn and self._failed is None:
                try:
                    self.sync_to(self.end_lsn)
                except OperationalError:
                    return   # the failure is recorded; the next commit reports it

    @property
    def failed(self) -> bool:
        return self._failed is not None

    def unsynced_acknowledged(self) -> Optional[tuple]:
        """``(durable_lsn, acked_lsn, failure)`` when commits acknowledged without an fdatasync
        (sync normal/off) are not known to be durable, else None."""
        with self._cv:
            if self._acked > self.durable_lsn:
                return self.durable_lsn, self._acked, self._failed
            return None

    def _poison(self, err: BaseException, written_end: int) -> None:
        """Invariant (6): refuse further writes, then zero the log from the end of what was
        acknowledged (``durable_lsn``, or in sync normal/off the last commit acknowledged
        without a sync: those stay, they may well be on disk) to ``written_end`` (best effort)
        so commits never acknowledged cannot reappear at recovery.  Waits for a flush in
        progress: what it makes durable stays acknowledged."""
        with self._cv:
            if self._failed is None:
                self._failed = err
            while self._flushing:
                self._cv.wait()
            keep = max(self.durable_lsn, self._acked)
            self._erased_from = keep if self._erased_from is None else min(self._erased_from, keep)
            try:
                pos = keep
                while pos < written_end:
                    seg, off = divmod(pos, self.seg_size)
                    n = min(written_end, (seg + 1) * self.seg_size) - pos
                    fd = self._fds.get(seg)
                    if fd is not None:
                        for p in range(off, off + n, len(_ZERO_CHUNK)):
                            io.pwrite(fd, _ZERO_CHUNK[:min(len(_ZERO_CHUNK), off + n - p)], p)
                        io.fdatasync(fd)
                    pos += n
            except OperationalError:
                pass  # documented: if erasing fails too, a failed commit may reappear after recovery
            self._cv.notify_all()

    def _check_failed(self) -> None:
        if self._failed is not None:
            raise OperationalError(f"an earlier WAL write or sync failed ({self._failed}); "
                                   "reopen the database", reason=getattr(self._failed, "reason", None))

    def drop_segments_below(self, lsn: int) -> None:
        """Delete the segments wholly below the one holding ``lsn`` (they are checkpointed), and
        give back the space of the log below ``lsn`` in that one (it stays: the log goes on in
        it).  Nothing reads log below a checkpoint (recovery starts at it; followers that were
        reading it find META changed and start over from the new checkpoint)."""
        limit = lsn // self.seg_size
        for seg in list_segments(self.dir):
            if seg < limit:
                fd = self._fds.pop(seg, None)
                self._alloc.pop(seg, None)
                if fd is not None:
                    io.close(fd)
                io.unlink(os.path.join(self.dir, segment_name(seg)), missing_ok=True)
        lo = max(self._discarded, limit * self.seg_size + SEG_HEADER)
        hi = lsn & ~4095
        if hi > lo:
            self._with_fd(limit, lambda fd: io.discard(fd, lo - limit * self.seg_size, hi - lo))
            self._discarded = hi

    def _with_fd(self, seg_no: int, fn) -> None:
        fd = self._fds.get(seg_no)
        if fd is not None:
            fn(fd)
            return
        fd = io.open(os.path.join(self.dir, segment_name(seg_no)), os.O_RDWR | io.NOFOLLOW, missing_ok=True)
        if fd is not None:
            try:
                fn(fd)
            finally:
                io.close(fd)

    def trim_tail(self) -> None:
        """Give back the space allocated beyond the end of the log (at close).  Only bytes past
        the end are touched; the next writer allocates again as it appends."""
        seg_no, off = divmod(self.end_lsn, self.seg_size)
        start = -(-max(off, SEG_HEADER) // 4096) * 4096
        if start < self.seg_size:
            self._with_fd(seg_no, lambda fd: io.discard(fd, start, self.seg_size - start))
        self._alloc.pop(seg_no, None)

    def close(self) -> None:
        self._stop.set()
        if self._flusher is not None and self._flusher is not threading.current_thread():
            self._flusher.join()
        with self._cv:
            for fd in self._fds.values():
                io.close(fd)
            self._fds.clear()


def frame_pos(lsn: int, seg_size: int) -> int:
    """The position where a frame at or after ``lsn`` can start (past a segment header, or in
    the next segment when fewer than MIN_TAIL bytes are left): how writer and reader step."""
    seg_no, off = divmod(lsn, seg_size)
    if off < SEG_HEADER:
        return seg_no * seg_size + SEG_HEADER
    if seg_size - off < MIN_TAIL:
        return (seg_no + 1) * seg_size + SEG_HEADER
    return lsn


def read_log(wal_dir: str, seg_size: int, lsn: int, end: int) -> Optional[bytes]:
    """The raw log bytes ``[lsn, end)``, which lie in one segment (log shipping); None if the
    segment is gone."""
    seg_no, off = divmod(lsn, seg_size)
    if not (SEG_HEADER <= off <= end - seg_no * seg_size <= seg_size):
        raise ValueError(f"log range [{lsn}, {end}) is not inside one segment")
    path = os.path.join(wal_dir, segment_name(seg_no))
    fd = io.open(path, os.O_RDONLY | io.NOFOLLOW, missing_ok=True)
    if fd is None:
        return None
    try:
        data = io.pread(fd, end - lsn, off)
    finally:
        io.close(fd)
    if len(data) != end - lsn:
        raise CorruptionError(f"WAL segment shorter than its log ({len(data)} of {end - lsn} bytes "
                              f"at LSN {lsn})", path=path, offset=off)
    return data


def write_log(wal_dir: str, uuid: bytes, seg_size: int, lsn: int, data: bytes) -> None:
    """Place shipped log bytes at their position ``lsn`` (restore and replicas), creating the
    segment (header, sparse zeros) if needed. The caller fsyncs (``sync_log``)."""
    seg_no, off = divmod(lsn, seg_size)
    if not (SEG_HEADER <= off and off + len(data) <= seg_size):
        raise CorruptionError(f"archived log piece at LSN {lsn} ({len(data)} bytes) does not fit a "
                              f"{seg_size}-byte segment")
    path = os.path.join(wal_dir, segment_name(seg_no))
    if not io.exists(path):
        tmp = path + ".tmp"
        fd = io.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | io.NOFOLLOW)
        try:
            io.ftruncate(fd, seg_size)
            io.pwrite(fd, _segment_header(uuid, seg_no, seg_size), 0)
            io.fdatasync(fd)
        finally:
            io.close(fd)
        io.rename(tmp, path)
        io.fsync_dir(wal_dir)
    fd = io.open(path, os.O_RDWR | io.NOFOLLOW)
    try:
        io.pwrite(fd, data, off)
    finally:
        io.close(fd)


def sync_log(wal_dir: str, first_seg: int) -> None:
    """fdatasync the segments from ``first_seg`` on (after write_log)."""
    for s in list_segments(wal_dir):
        if s >= first_seg:
            fd = io.open(os.path.join(wal_dir, segment_name(s)), os.O_RDONLY | io.NOFOLLOW)
            try:
                io.fdatasync(fd)
            finally:
                io.close(fd)


@dataclass
class ScanResult:
    end_lsn: int                 # where the valid log ends (the next write position)
    torn_from: Optional[int]     # first invalid position if a torn tail was found, else None
    commit_seq: int              # last commit sequence number seen
    lost: Optional[str] = None   # with accept_loss: what damaged history was given up


def _read_segment(wal_dir: str, seg_no: int, uuid: bytes, seg_size: int):
    """``(mapping, limit)``: the segment mapped read-only (only touched pages are read), size
    and header checked, and where its allocated bytes end (nothing is written beyond)."""
    path = os.path.join(wal_dir, segment_name(seg_no))
    fd = io.open(path, os.O_RDONLY | io.NOFOLLOW)
    try:
        size = io.fstat(fd).st_size
        if size != seg_size:
            raise CorruptionError(f"WAL segment is {size} bytes, not {seg_size} (truncated or "
                                  f"damaged); restore the database from a backup", path=path, offset=0)
        data = io.mmap(fd, size)
        limit = io.data_end(fd, size)
    finally:
        io.close(fd)
    hdr = data[:_SEG.size + 4]
    magic, _ver, fuuid, fseg, fsize, _ = _SEG.unpack_from(hdr)
    (crc,) = struct.unpack_from("<I", hdr, _SEG.size)
    if not (magic == _SEG_MAGIC and crc == core.crc32c(hdr[:_SEG.size]) and fseg == seg_no
            and fsize == seg_size and fuuid == uuid):
        raise CorruptionError("bad WAL segment header", path=path, offset=0)
    return data, limit


def written_end(buf, start: int = 0, limit: Optional[int] = None) -> int:
    """Offset just past the last non-zero byte of ``buf`` at or after ``start`` (``start`` if none);
    ``limit``: nothing beyond it is written (``io.data_end``: the holes are not read).

    Scans backwards in 64 KiB blocks, so a mostly preallocated segment costs a few compares.
    """
    zeros = _ZERO_CHUNK
    end = len(buf) if limit is None else min(len(buf), limit)
    while end > start:
        lo = max(start, end - (1 << 16))
        block = buf[lo:end]
        if block != zeros[:end - lo]:
            return lo + len(block.rstrip(b"\0"))
        end = lo
    return start


def scan(wal_dir: str, uuid: bytes, seg_size: int, start_lsn: int, *,
         upto: Optional[int] = None, commit_seq: int = 0, accept_loss: bool = False) -> Iterator:
    """Yield ``(start_lsn, end_lsn, commit_seq, payload)`` for each complete transaction from
    ``start_lsn``.

    Stops at ``upto`` (a transaction ending beyond it is not yielded) or at the end of the valid
    log.  The generator's return value (``StopIteration.value``) is a ScanResult.  Damage to
    acknowledged data raises CorruptionError (invariant 4), unless ``accept_loss``: then the
    log ends at the damage and ``ScanResult.lost`` says what was given up.
    """
    segs = [s for s in list_segments(wal_dir) if (s + 1) * seg_size > start_lsn]
    pos = start_lsn
    txn_start, parts = None, []
    cache: dict = {}

    def seg_data(seg_no):
        if seg_no not in cache:
            cache.clear()
            cache[seg_no] = _read_segment(wal_dir, seg_no, uuid, seg_size)
        return cache[seg_no][0]

    def seg_limit(seg_no):
        seg_data(seg_no)
        return cache[seg_no][1]

    while True:
        seg_no, off = divmod(pos, seg_size)
        if off < SEG_HEADER:
            off = SEG_HEADER
            pos = seg_no * seg_size + off
        if seg_size - off < MIN_TAIL:
            pos = (seg_no + 1) * seg_size + SEG_HEADER
            continue
        if upto is not None and pos >= upto and not parts:
            return ScanResult(pos, None, commit_seq)
        if seg_no not in segs:
            frame = None
        else:
            frame = decode_frame(seg_data(seg_no), off, pos, seg_size)
        bad = frame is None
        if not bad:
            if frame.kind in (COMMIT, FIRST) and parts:
                bad = True
            elif frame.kind in (MIDDLE, LAST) and (not parts or frame.commit_seq != parts[0].commit_seq):
                bad = True
        if bad:
            cut = txn_start if parts else pos
            lost = None
            try:
                end_of_log_decision(wal_dir, seg_size, segs, cut, seg_data, seg_limit)
            except CorruptionError as e:
                if not accept_loss:
                    raise
                lost = str(e)
            after = lost is not None or _has_bytes_after(segs, seg_data, seg_limit, seg_size, cut)
            return ScanResult(cut, cut if after else None, commit_seq, lost)
        if frame.kind in (COMMIT, FIRST):
            txn_start = pos
        parts.append(frame)
        pos = frame.end
        if frame.kind in (COMMIT, LAST):
            if upto is not None and frame.end > upto:
                return ScanResult(txn_start, None, commit_seq)
            payload = parts[0].payload if len(parts) == 1 else b"".join(p.payload for p in parts)
            commit_seq = frame.commit_seq
            parts = []
            yield txn_start, frame.end, commit_seq, payload


def _has_bytes_after(segs, seg_data, seg_limit, seg_size, lsn) -> bool:
    seg_no, off = divmod(lsn, seg_size)
    for s in segs:
        if s < seg_no:
            continue
        if s > seg_no:
            return True          # a whole later segment: erase it too
        if written_end(seg_data(s), max(off, SEG_HEADER), seg_limit(s)) > max(off, SEG_HEADER):
            return True
    return False


def end_of_log_decision(wal_dir, seg_size, segs, cut, seg_data, seg_limit) -> None:
    """Raise CorruptionError if a later valid frame proves the bytes at ``cut`` were durable."""
    cut_seg = cut // seg_size
    for s in segs:
        if s < cut_seg:
            continue
        data = seg_data(s)
        start = (cut % seg_size) if s == cut_seg else SEG_HEADER
        start = max(SEG_HEADER, _align8(start) + (8 if s == cut_seg else 0))
        stop = written_end(data, start, seg_limit(s))  # the torn region is small: only look where bytes were written
        base = s * seg_size
        for off in range(start, min(stop, seg_size - MIN_TAIL + 1), 8):
            (flsn,) = struct.unpack_from("<Q", data, off + 8)
            if flsn != base + off:
                continue
            f = decode_frame(data, off, base + off, seg_size)
            if f is not None and f.lsn - f.unsynced_delta > cut:
                raise CorruptionError(
                    f"WAL damaged at LSN {cut}: a later valid frame (LSN {f.lsn}) shows it had been "
                    f"synced, so acknowledged commits would be lost. Restore the database from a "
                    f"backup, or open it with connect(..., recover='truncate') to accept the loss "
                    f"of every commit from there on", path=os.path.join(wal_dir, segment_name(cut_seg)),
                    offset=cut % seg_size)


def zero_tail(wal_dir: str, seg_size: int, lsn: int) -> None:
    """Erase everything from ``lsn`` on (a torn, unacknowledged tail) and make that durable."""
    seg_no, off = divmod(lsn, seg_size)
    for s in list_segments(wal_dir):
        path = os.path.join(wal_dir, segment_name(s))
        if s > seg_no:
            io.unlink(path)
        elif s == seg_no:
            start = max(off, SEG_HEADER)
            fd = io.open(path, os.O_RDWR | io.NOFOLLOW)
            try:
                size = io.fstat(fd).st_size
                mm = io.mmap(fd, size)
                end = written_end(mm, start, io.data_end(fd, size))  # preallocated zeros need no erasing
                if size:
                    mm.close()
                for p in range(start, end, len(_ZERO_CHUNK)):
                    io.pwrite(fd, _ZERO_CHUNK[:min(len(_ZERO_CHUNK), end - p)], p)
                io.fdatasync(fd)
            finally:
                io.close(fd)
    io.fsync_dir(wal_dir)


def sync_segments(wal_dir: str, seg_size: int, from_lsn: int) -> None:
    """fdatasync every segment holding log at or after ``from_lsn``, and the directory.

    Recovery calls it before new frames claim (through ``unsynced_delta``) that everything
    below them is durable: the log it replayed may have been only in the page cache."""
    first = from_lsn // seg_size
    for s in list_segments(wal_dir):
        if s >= first:
            fd = io.open(os.path.join(wal_dir, segment_name(s)), os.O_RDONLY | io.NOFOLLOW)
            try:
                io.fdatasync(fd)
            finally:
                io.close(fd)
    io.fsync_dir(wal_dir)
