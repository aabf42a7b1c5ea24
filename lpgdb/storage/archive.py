"""Continuous archiving to a Store, point-in-time restore, and the feed replicas follow
(design §4.10; Litestream's model).

Archive layout (object names in the store, see store.py)::

    lpgdb-archive                    identity: format, database id, segment size
    wal/<from:016x>.piece            the log bytes [from, to) of one segment, with a header
    base/<lsn:016x>.base             a checkpoint: META fields, the manifest, the files it names
    data/<crc:08x>-<size:x>-<name>   an immutable file named by bases (shared between them)

Piece header (little-endian): magic[8] "LPGPIECE" | version u32 | db_uuid[16] | from u64 | to u64
| body_crc u32 | header_crc u32; then the ``to - from`` raw log bytes.

Rules
    (1) The archived log is one chain: each piece starts at ``wal.frame_pos`` of the previous
        piece's end. A writer ships from the chain's end E only after proving that the piece
        ending at E is a byte copy of its own log; otherwise the archive holds another history
        and the archiver stops ("fenced").
    (2) Every object is created with put-if-absent. Two writers shipping the same position race
        for one name and one loses: it is fenced and stops shipping; its commits go on.
    (3) The archiver ships the durable log every ``interval`` seconds (1 s: the recovery point),
        and a base after every checkpoint (only the files that checkpoint rewrote are new).
        Local WAL segments are deleted only once shipped (``shipped_lsn``), so a crash or an
        outage never leaves a gap (issue 9 B4). Running without ``archive=`` for a while does:
        the next archiver ships a base at the current checkpoint and goes on from there; the
        gap is reported, and restore refuses a point inside it.
    (4) An archive holds one database (identity); another database id is refused.
    (5) Restore takes the newest base at or before the target, fetches the chain from it and
        replays up to the target; replicas fetch the same chain as it grows.
    (6) A bulk attach (attach.py) commits files with a record naming them: the base at the
        record's end is shipped before any log from the attach's start on, so restore and
        replicas always have a base after the record and never replay it.  The engine stages
        that base with ``checkpointed(..., attach_from=C)``; at open, a checkpoint made by an
        attach (its manifest's ``attach_from``) holds the log back the same way.

Upload failures never reach a commit: they are retried with backoff (0.5 s doubling to 30 s)
and show as lag in ``status()``. Nothing here runs under the writer lock except
``checkpointed()``, which only hard-links the checkpoint's files into ``ship/``.
"""
from __future__ import annotations

import bisect
import dataclasses
import logging
import os
import random
import re
import struct
import threading
import time
from typing import Optional

from .. import core
from ..errors import CorruptionError, NotFoundError, OperationalError
from . import checkpoint, io, records, wal

log = logging.getLogger("lpgdb.archive")

IDENTITY = "lpgdb-archive"
FORMAT = 1
_PIECE = struct.Struct("<8sI16sQQI")
_PIECE_MAGIC = b"LPGPIECE"
_PIECE_NAME = re.compile(r"wal/([0-9a-f]{16})\.piece")
_BASE_NAME = re.compile(r"base/([0-9a-f]{16})\.base")
MAX_BACKOFF = 30.0
_SAFE_FILE = re.compile(r"data/[A-Za-z0-9_.-]+")     # what a manifest may name (never "..")


def piece_name(lsn: int) -> str:
    return f"wal/{lsn:016x}.piece"


def base_name(lsn: int) -> str:
    return f"base/{lsn:016x}.base"


def data_name(rel: str, crc: int, size: int) -> str:
    return f"data/{crc:08x}-{size:x}-{os.path.basename(rel)}"


class Fenced(OperationalError):
    """The archive holds another history, or another writer ships to it."""


# -- objects ------------------------------------------------------------------------------------
def encode_piece(uuid: bytes, frm: int, to: int, body: bytes) -> bytes:
    hdr = _PIECE.pack(_PIECE_MAGIC, 1, uuid, frm, to, core.crc32c(body))
    return hdr + struct.pack("<I", core.crc32c(hdr)) + body


def decode_piece(data: bytes, uuid: bytes, seg_size: int, name: str) -> tuple:
    """``(from, to, body)`` of a piece, every field checked (CorruptionError otherwise)."""
    n = _PIECE.size + 4
    if len(data) >= n:
        magic, ver, puuid, frm, to, bcrc = _PIECE.unpack_from(data)
        (hcrc,) = struct.unpack_from("<I", data, _PIECE.size)
        body = data[n:]
        seg, off = divmod(frm, seg_size)
        if (magic == _PIECE_MAGIC and ver == 1 and hcrc == core.crc32c(data[:_PIECE.size])
                and puuid == uuid and piece_name(frm) == name and len(body) == to - frm
                and wal.SEG_HEADER <= off and to <= (seg + 1) * seg_size
                and core.crc32c(body) == bcrc):
            return frm, to, body
    raise CorruptionError(f"archived log piece {name!r} is damaged or belongs to another database")


def read_identity(store) -> dict:
    try:
        ident = records.unpack(store.get(IDENTITY), what="archive identity")
    except NotFoundError:
        raise OperationalError(f"no lpgdb archive at {store.url!r} (nothing was archived there)") from None
    if (not isinstance(ident, dict) or ident.get("format") != FORMAT
            or not isinstance(ident.get("db_uuid"), bytes) or len(ident["db_uuid"]) != 16
            or not isinstance(ident.get("seg_size"), int) or not wal.MIN_SEG_SIZE <= ident["seg_size"] <= wal.MAX_SEG_SIZE):
        raise CorruptionError(f"the archive identity object at {store.url!r} is malformed")
    return ident


def list_pieces(store) -> list:
    """Start LSNs of the archived pieces, ascending."""
    return sorted(int(m.group(1), 16) for m in map(_PIECE_NAME.fullmatch, store.list("wal/")) if m)


def list_bases(store) -> list:
    return sorted(int(m.group(1), 16) for m in map(_BASE_NAME.fullmatch, store.list("base/")) if m)


def read_base(store, lsn: int, ident: dict) -> dict:
    name = base_name(lsn)
    desc = records.unpack(store.get(name), what="archived base")
    try:
        meta = checkpoint.Meta(**desc["meta"])
        ok = (all(isinstance(v, int) and 0 <= v < 1 << 64 for k, v in desc["meta"].items() if k != "uuid")
              and desc["format"] == FORMAT and meta.uuid == ident["db_uuid"] and meta.checkpoint_lsn == lsn
              and meta.seg_size == ident["seg_size"] and isinstance(desc["manifest"], (bytes, type(None)))
              and all(isinstance(f, list) and len(f) == 4 for f in desc["files"]))
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        raise CorruptionError(f"archived base {name!r} is malformed")
    desc["meta"] = meta
    return desc


# -- the archiver (writer side) -----------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ArchiveStatus:
    """What ``db.archive_status()`` reports.

    ``state``: "ok" (caught up or shipping), "retrying" (uploads fail; ``last_error`` says why),
    "fenced" / "refused" (shipping stopped for good: another writer or another database),
    "stopped" (closed). ``lag_bytes``/``lag_seconds``: durable log not yet in the archive, and
    how long the oldest such commit has waited at most. ``pending_bases``: checkpoints staged
    but not yet uploaded. ``gap``: ``(from_lsn, to_lsn)`` of log
    the archive will never have (archiving was off), or None.
    """
    url: str
    state: str
    durable_lsn: int
    shipped_lsn: int
    lag_bytes: int
    lag_seconds: float
    last_error: Optional[str]
    last_shipped_at: Optional[float]
    newest_base_lsn: Optional[int]
    pending_bases: int
    gap: Optional[tuple]


class Archiver:
    """A thread in the writer process that ships the log and bases to a Store (rules 1-4)."""

    def __init__(self, engine, store, *, interval: float = 0.5, close_timeout: float = 10.0,
                 retention: Optional[float] = None):
        self.engine = engine
        self.store = store
        self.interval = interval
        self.retention = retention    # seconds of history restore must reach (None: all)
        self.close_timeout = close_timeout
        self.uuid = engine.meta.uuid
        self.seg_size = engine.seg_size
        self.wal_dir = os.path.join(engine.path, "wal")
        self.stage_dir = os.path.join(engine.path, "ship")
        self.shipped_lsn = 0          # the chain's end: everything below is in the archive
        self.state = "starting"
        self.last_error: Optional[str] = None
        self.last_shipped_at: Optional[float] = None
        self.newest_base: Optional[int] = None
        self.gap: Optional[tuple] = None
        self._attached = False
        self._caught_up_at = time.time()
        self._pending: list = []      # [(meta, manifest, required)] staged checkpoints to ship
        self._hold: Optional[tuple] = None   # (from LSN, base LSN): rule 6, log from there waits
        self._known_data: set = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._first_contact = threading.Event()
        self._open_ckpt = 0
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="lpgdb-archiver", daemon=True)

    # -- engine hooks (never raise into the commit path) --------------------------------------
    def start(self, attach_timeout: float = 3.0) -> None:
        """Stage the current checkpoint (the base the shipped chain may start from), start the
        thread, and wait up to ``attach_timeout`` seconds for its first contact with the store:
        an archive that is refused or fenced fails the open (Fenced); an unreachable one does
        not (the thread keeps trying, and the open goes on)."""
        io.remove_tree(self.stage_dir)
        eng = self.engine
        self._open_ckpt = eng.meta.checkpoint_lsn
        self._stage(eng.meta, eng.manifest, required=True)
        if eng.manifest is not None and type(eng.manifest.get("attach_from")) is int:
            self._hold = (eng.manifest["attach_from"], eng.meta.checkpoint_lsn)
        self._thread.start()
        self._first_contact.wait(attach_timeout)
        if self.state in ("refused", "fenced"):
            self._thread.join()
            raise Fenced(self.last_error)

    def checkpointed(self, meta, manifest, attach_from: Optional[int] = None) -> None:
        """Called by the engine after each checkpoint (writer lock held): stage its files by hard
        link, so later checkpoints may delete them before the upload.  ``attach_from``: the
        checkpoint installs a bulk attach whose record starts there (rule 6)."""
        if self.state in ("fenced", "refused"):
            return
        try:
            self._stage(meta, manifest, required=attach_from is not None)
        except OperationalError as e:
            self._note_failure(OperationalError(f"cannot stage the checkpoint for archiving: {e}"))
            return
        if attach_from is not None:
            with self._lock:
                if self._hold is None or self._hold[0] == attach_from:
                    self._hold = (attach_from, meta.checkpoint_lsn)

    def hold(self, lsn: Optional[int]) -> None:
        """Rule 6, before a bulk attach writes its record at ``lsn``: ship no log from there on
        until the base that installs it (``checkpointed(..., attach_from=lsn)``) is shipped.
        None releases a hold whose attach failed before its record was written."""
        with self._lock:
            if lsn is None:
                if self._hold is not None and self._hold[1] == float("inf"):
                    self._hold = None
            elif self._hold is None:
                self._hold = (lsn, float("inf"))

    def stop(self) -> None:
        """Ship what is left (up to ``close_timeout`` seconds), then end the thread."""
        self._stopping = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(self.close_timeout)
        if self.state not in ("fenced", "refused"):
            self.state = "stopped"

    def status(self) -> ArchiveStatus:
        durable = self.engine.wal.durable_lsn if self.engine.wal is not None else self.shipped_lsn
        lag = max(0, durable - self.shipped_lsn)
        return ArchiveStatus(self.store.url, self.state, durable, self.shipped_lsn, lag,
                             round(time.time() - self._caught_up_at, 3) if lag else 0.0,
                             self.last_error, self.last_shipped_at, self.newest_base,
                             len(self._pending), self.gap)

    # -- thread ---------------------------------------------------------------------------------
    def _run(self) -> None:
        delay = 0.0
        while True:
            if delay:
                self._wake.wait(delay)
                self._wake.clear()
            final = self._stopping
            try:
                if not self._attached:
                    try:
                        self._attach()
                    finally:
                        self._first_contact.set()
                self._ship_once()
                delay = self.interval
            except Fenced as e:
                if self.state != "refused":
                    self.state = "fenced"
                self.last_error = str(e)
                log.error("archiving to %s stopped: %s", self.store.url, e)
                return
            except (OperationalError, CorruptionError, OSError) as e:
                self._note_failure(e)
                delay = min(MAX_BACKOFF, max(0.5, delay * 2)) * random.uniform(0.8, 1.2)
            except Exception as e:   # never let the thread die silently
                self._note_failure(e)
                log.exception("archiver error")
                delay = MAX_BACKOFF
            if final:
                return

    def _note_failure(self, e: BaseException) -> None:
        if self.state not in ("fenced", "refused"):
            self.state = "retrying"
        self.last_error = f"{type(e).__name__}: {e}"
        log.warning("archiving to %s: %s (will retry)", self.store.url, self.last_error)

    # -- attach: identity, chain end, ownership --------------------------------------------------
    def _attach(self) -> None:
        store, eng = self.store, self.engine
        ident = {"format": FORMAT, "db_uuid": self.uuid, "seg_size": self.seg_size,
                 "created_ns": time.time_ns()}
        try:
            have = read_identity(store)
        except OperationalError:
            if not store.put_if_absent(IDENTITY, records.pack(ident)):
                pass   # someone created it just now: compare with theirs
            have = read_identity(store)
        if have["db_uuid"] != self.uuid or have["seg_size"] != self.seg_size:
            self.state = "refused"
            self.last_error = (f"the archive {store.url!r} belongs to database {have['db_uuid'].hex()}, "
                               f"not to this one ({self.uuid.hex()}); give each database its own archive")
            raise Fenced(self.last_error)
        bases = list_bases(store)
        self.newest_base = bases[-1] if bases else None
        self._known_data = set(store.list("data/"))
        pieces = list_pieces(store)
        ckpt = self._open_ckpt            # staged by start(); its log is kept until shipped
        start = wal.frame_pos(ckpt, self.seg_size)
        if pieces:
            last = pieces[-1]
            frm, to, body = decode_piece(store.get(piece_name(last)), self.uuid, self.seg_size,
                                         piece_name(last))
            durable = eng.wal.durable_lsn
            if to > durable:
                raise Fenced(f"the archive {store.url!r} holds log up to LSN {to}, beyond this "
                             f"database's end ({durable}): another writer ships to it, or this "
                             f"database is an older copy")
            try:
                local = wal.read_log(self.wal_dir, self.seg_size, frm, to)
            except (ValueError, CorruptionError):
                local = None
            if local is not None:
                # log below a checkpoint may have been given back (wal.drop_segments_below: it
                # reads as zeros): compare what is left of it; nothing left = not available
                k = len(local) - len(local.lstrip(b"\0"))
                local, body = (None, body) if k == len(local) else (local[k:], body[k:])
            if local is not None:
                if local != body:
                    raise Fenced(f"the archive {store.url!r} holds another history of this database "
                                 f"(its log at LSN {frm} differs from ours)")
                start = wal.frame_pos(to, self.seg_size)
            elif wal.frame_pos(to, self.seg_size) < start:
                self.gap = (wal.frame_pos(to, self.seg_size), start)
                log.warning("archive %s: log from LSN %d to %d was never shipped (archiving was "
                            "off); continuing from a new base at %d", store.url, *self.gap, start)
        self.shipped_lsn = start
        self._attached = True
        if self.state == "starting":
            self.state = "ok"

    # -- shipping --------------------------------------------------------------------------------
    def _ship_once(self) -> None:
        eng = self.engine
        w = eng.wal
        if w is None:
            return
        if eng.sync != "full" and w.end_lsn > w.durable_lsn and w._failed is None:
            w.sync_to(w.end_lsn)      # ship only what is durable here too (no divergence)
        t0 = time.time()
        durable = w.durable_lsn
        hold = self._hold
        limit = durable if hold is None else min(durable, max(self.shipped_lsn, hold[0]))
        self._ship_log(limit)
        if w.durable_lsn <= self.shipped_lsn:
            self._caught_up_at = time.time()
        elif durable <= self.shipped_lsn:
            self._caught_up_at = t0
        shipped_base = False
        while True:
            with self._lock:
                if not self._pending:
                    break
                item = self._pending[0]
            self._ship_base(item[0], item[1])
            shipped_base = True
            with self._lock:
                if self._pending and self._pending[0] is item:
                    self._pending.pop(0)
                if self._hold is not None and item[0].checkpoint_lsn >= self._hold[1]:
                    self._hold = None
                self._unstage({f"{m.checkpoint_lsn:016x}" for m, _man, _r in self._pending})
        if limit < durable and self._hold is None:
            self._ship_log(durable)   # the log an attach held back, now that its base is out
            if w.durable_lsn <= self.shipped_lsn:
                self._caught_up_at = time.time()
        if shipped_base and self.retention is not None:
            self._apply_retention()
        self.state = "ok"
        self.last_error = None

    def _ship_log(self, durable: int) -> None:
        """Ship the local log from the chain's end up to ``durable``, a piece per segment."""
        pos = self.shipped_lsn
        while pos < durable:
            to = min(durable, (pos // self.seg_size + 1) * self.seg_size)
            body = wal.read_log(self.wal_dir, self.seg_size, pos, to)
            if body is None:
                raise CorruptionError(f"the WAL segment holding LSN {pos} is gone before it was "
                                      "archived", path=self.wal_dir)
            obj = encode_piece(self.uuid, pos, to, body)
            if not self.store.put_if_absent(piece_name(pos), obj):
                if self.store.get(piece_name(pos)) != obj:   # not our own earlier upload
                    raise Fenced(f"another writer shipped log at LSN {pos} to {self.store.url!r}")
            pos = wal.frame_pos(to, self.seg_size)
            self.shipped_lsn = pos
            self.last_shipped_at = time.time()

    def _apply_retention(self) -> None:
        """Delete what no restore inside the retention window needs: bases older than the
        newest base from before the window, the pieces wholly below that base, and the data
        objects no remaining base names. Runs after a base was shipped (rare), in this thread."""
        store, ident = self.store, {"db_uuid": self.uuid, "seg_size": self.seg_size}
        cutoff = time.time_ns() - int(self.retention * 1e9)
        bases = list_bases(store)
        descs = {b: read_base(store, b, ident) for b in bases}
        old = [b for b in bases if descs[b]["last_commit_ns"] < cutoff]
        if len(old) < 2:
            return
        keep_from = old[-1]           # restores inside the window start from here
        start = wal.frame_pos(keep_from, self.seg_size)
        pieces = list_pieces(store)
        for p, nxt in zip(pieces, pieces[1:]):
            if nxt <= start:          # the piece ends at or before the next one starts
                store.delete(piece_name(p))
        for b in old[:-1]:
            store.delete(base_name(b))
        named = {f[3] for b in bases if b >= keep_from for f in descs[b]["files"]}
        for obj in store.list("data/"):
            if obj not in named:
                store.delete(obj)
                self._known_data.discard(obj)

    def _stage(self, meta, manifest, required: bool = False) -> None:
        """Hard-link a checkpoint's files into ship/<lsn>/ and queue it (local and quick)."""
        d = os.path.join(self.stage_dir, f"{meta.checkpoint_lsn:016x}")
        with self._lock:
            if not io.is_real_dir(d):
                tmp = d + ".tmp"
                io.remove_tree(tmp)
                io.makedirs(tmp)
                for rel in _files_of(meta, manifest):
                    io.link_or_copy(os.path.join(self.engine.path, rel),
                                    os.path.join(tmp, os.path.basename(rel)))
                io.rename(tmp, d)
            if self._pending and not self._pending[-1][2]:
                self._pending.pop()                  # only the newest checkpoint is worth shipping
            self._pending.append((meta, manifest, required))

    def _unstage(self, keep: set) -> None:
        """Remove staged checkpoints no longer queued (caller holds the lock)."""
        for name in io.listdir(self.stage_dir, missing_ok=True):
            if name not in keep:
                io.remove_tree(os.path.join(self.stage_dir, name))

    def _ship_base(self, meta, manifest) -> None:
        d = os.path.join(self.stage_dir, f"{meta.checkpoint_lsn:016x}")
        files, mbytes = [], None
        if manifest is not None:
            mname = checkpoint.manifest_name(meta.manifest_seq)
            mbytes = io.read_file(os.path.join(d, mname))
            for rel, crc, size in checkpoint.manifest_files(manifest):
                obj = data_name(rel, crc, size)
                if obj not in self._known_data:
                    data = io.read_file(os.path.join(d, os.path.basename(rel)))
                    if len(data) != size or core.crc32c(data) != crc:
                        raise CorruptionError("a checkpoint file changed before it was archived",
                                              path=os.path.join(self.engine.path, rel))
                    self.store.put_if_absent(obj, data)   # exists: the same bytes (crc+size in name)
                    self._known_data.add(obj)
                files.append([rel, crc, size, obj])
        desc = records.pack({"format": FORMAT, "meta": dataclasses.asdict(meta), "manifest": mbytes,
                             "files": files, "last_commit_ns": (manifest or {}).get("last_commit_ns", 0),
                             "created_ns": time.time_ns()})
        name = base_name(meta.checkpoint_lsn)
        if not self.store.put_if_absent(name, desc):
            other = read_base(self.store, meta.checkpoint_lsn, {"db_uuid": self.uuid, "seg_size": self.seg_size})
            if other["manifest"] != mbytes:
                raise Fenced(f"another writer archived a different checkpoint at LSN "
                             f"{meta.checkpoint_lsn} to {self.store.url!r}")
        if self.newest_base is None or meta.checkpoint_lsn > self.newest_base:
            self.newest_base = meta.checkpoint_lsn


def _files_of(meta, manifest) -> list:
    """Paths (relative to the database) of the files a checkpoint consists of, META aside."""
    if manifest is None:
        return []
    return ([os.path.join("manifest", checkpoint.manifest_name(meta.manifest_seq))]
            + [rel for rel, _crc, _size in checkpoint.manifest_files(manifest)])


# -- fetching (restore, replicas) ---------------------------------------------------------------
def choose_base(store, ident: dict, *, until_lsn=None, until_time_ns=None) -> dict:
    """The newest base at or before the target (OperationalError if there is none)."""
    bases = list_bases(store)
    for lsn in reversed(bases):
        if until_lsn is not None and lsn > until_lsn:
            continue
        desc = read_base(store, lsn, ident)
        if until_time_ns is not None and desc["last_commit_ns"] > until_time_ns:
            continue
        desc["later_bases"] = [b for b in bases if b > lsn]
        return desc
    raise OperationalError(f"the archive {store.url!r} has no base at or before the requested point"
                           + ("" if bases else " (it has no base at all yet)"))


def fetch_base(store, desc: dict, root: str) -> None:
    """Write the base as a database directory ``root`` (META, manifest, data files; empty log).
    Every file is checked against its CRC and size."""
    for sub in ("wal", "data", "manifest", "tmp"):
        io.makedirs(os.path.join(root, sub))
    meta = desc["meta"]
    if desc["manifest"] is not None:
        mdata = desc["manifest"]
        if len(mdata) != meta.manifest_len or core.crc32c(mdata) != meta.manifest_crc:
            raise CorruptionError("archived manifest does not match its base")
        if any(f[0] in ("data/.", "data/..") for f in desc["files"]):
            raise CorruptionError("archived base names an invalid file")
        _write_new(os.path.join(root, "manifest", checkpoint.manifest_name(meta.manifest_seq)), mdata)
        man = records.unpack(mdata, what="archived manifest")
        try:
            named = {tuple(x) for x in checkpoint.manifest_files(man)}
        except (KeyError, TypeError, AttributeError, ValueError, IndexError) as e:
            raise CorruptionError(f"archived manifest is malformed: {e!r}") from None
        for rel, crc, size, obj in desc["files"]:
            if ((rel, crc, size) not in named or obj != data_name(rel, crc, size)
                    or not _SAFE_FILE.fullmatch(rel)):
                raise CorruptionError(f"archived base names a file its manifest does not: {rel!r}")
            data = store.get(obj)
            if len(data) != size or core.crc32c(data) != crc:
                raise CorruptionError(f"archived file {obj!r} is damaged (checksum)")
            _write_new(os.path.join(root, rel), data)
        if len(named) != len(desc["files"]):
            raise CorruptionError("archived base does not list every file of its manifest")
    checkpoint.write_meta(os.path.join(root, "META"), meta)
    for sub in ("data", "manifest", ""):
        io.fsync_dir(os.path.join(root, sub))


def fetch_log(store, ident: dict, wal_dir: str, start: int, *, until_lsn=None,
              listed: bool = True) -> int:
    """Copy the archived chain from ``start`` into ``wal_dir``; return where it ends (the next
    position the archive does not have). Stops once ``until_lsn`` is covered.

    ``listed=False`` (a replica that is at a piece boundary): skip the listing and read the
    chain by name (piece k+1 is named by where piece k ends), one GET per piece and one that
    finds nothing."""
    uuid, seg_size = ident["db_uuid"], ident["seg_size"]
    pos = wal.frame_pos(start, seg_size)
    if listed:
        pieces = list_pieces(store)
        i = bisect.bisect_right(pieces, pos) - 1   # the piece holding pos (or starting there)
        if i < 0:
            return pos
        nxt = pieces[i]
    else:
        nxt = pos
    first_seg = pos // seg_size
    wrote = False
    while until_lsn is None or pos < until_lsn:
        name = piece_name(nxt)
        try:
            frm, to, body = decode_piece(store.get(name), uuid, seg_size, name)
        except NotFoundError:
            break
        if not frm <= pos < to:
            break                                   # the chain ends (or a gap) here
        wal.write_log(wal_dir, uuid, seg_size, frm, body)
        wrote = True
        pos = nxt = wal.frame_pos(to, seg_size)
    if wrote:
        wal.sync_log(wal_dir, first_seg)
    return pos


def _write_new(path: str, data: bytes) -> None:
    fd = io.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        io.write(fd, data)
        io.fdatasync(fd)
    finally:
        io.close(fd)


def restore(store, dest: str, *, until_time_ns: Optional[int] = None, until_lsn: Optional[int] = None,
            open_engine=None) -> None:
    """Build the new database ``dest`` from the archive, up to the target (everything archived
    when there is none). ``open_engine(path, recover_until)`` opens a writer Engine (the caller
    knows the schema loader). The result gets a new database id (a new history)."""
    import uuid as _uuid
    ident = read_identity(store)
    desc = choose_base(store, ident, until_lsn=until_lsn, until_time_ns=until_time_ns)
    with io.build_dir(dest) as tmp:               # atomic: a failed restore leaves nothing
        fetch_base(store, desc, tmp)
        meta = desc["meta"]
        end = fetch_log(store, ident, os.path.join(tmp, "wal"), meta.checkpoint_lsn, until_lsn=until_lsn)
        if until_lsn is not None and until_lsn > end:
            raise OperationalError(f"the archive {store.url!r} ends at LSN {end}" +
                                   (" (a gap follows: archiving was off)" if desc["later_bases"] else "")
                                   + f"; it cannot restore LSN {until_lsn}")
        target = (("lsn", until_lsn) if until_lsn is not None else
                  ("time", until_time_ns) if until_time_ns is not None else None)
        gap_after = (until_time_ns is not None and desc["later_bases"]
                     and wal.frame_pos(desc["later_bases"][0], ident["seg_size"]) > end)
        if end > wal.frame_pos(meta.checkpoint_lsn, ident["seg_size"]):   # log to replay
            eng = open_engine(tmp, target)
            try:
                gap_after = gap_after and eng.replayed_to >= end
                if not gap_after:
                    eng.checkpoint()  # materialize what the replay applied: no WAL needed
            finally:
                eng.close(checkpoint_on_close=False)
        if gap_after:
            raise OperationalError(
                f"the archive {store.url!r} has a gap after LSN {end} (archiving was off) and "
                f"the requested time may fall in it; restore to an earlier time, or to the "
                f"base at LSN {desc['later_bases'][0]} or later")
        meta = checkpoint.read_meta(os.path.join(tmp, "META"))
        meta.uuid = _uuid.uuid4().bytes          # a new history: never mixed with the archived one
        meta.slot_seq += 1
        checkpoint.write_meta_pair(os.path.join(tmp, "META"), meta)   # both slots: the new id
        for seg in wal.list_segments(os.path.join(tmp, "wal")):
            io.unlink(os.path.join(tmp, "wal", wal.segment_name(seg)))
        io.unlink(os.path.join(tmp, "SHM"), missing_ok=True)   # it names the archived database id
