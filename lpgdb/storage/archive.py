"""Continuous archiving to a local directory and point-in-time restore (design §4.10).

Archive layout::

    archive/
      wal/<seg:016x>.wal           every WAL segment, copied when a checkpoint retires it
      base/<lsn:016x>/             a checkpoint image: META, manifest/, data/ (hard links when
                                   the archive is on the same filesystem)

Rules
    (1) Shipping happens inside a checkpoint, after the new META is durable and before the
        segments it retires are deleted, so every segment from the first base on reaches the
        archive (the log is continuous from any base).
    (2) A new base is written when there is none yet, or when more than ``base_bytes`` of WAL
        was archived since the last one; restore time is bounded by that much replay.
    (3) Restore picks the newest base at or before the target, replays archived WAL up to the
        target (an LSN, or the last commit at or before a time), materializes the result and
        gives it a new database id, so its future log can never be confused with the archived
        history ("new timeline").

Recovery point: the active segment is shipped at the next checkpoint (every
``checkpoint_wal_bytes`` of log, ``db.checkpoint()`` and close), not continuously.
"""
from __future__ import annotations

import os
import shutil
import uuid as _uuid
from typing import Optional

from ..errors import OperationalError
from . import checkpoint, wal


def ship(root: str, archive: str, meta: checkpoint.Meta, manifest: dict, base_bytes: int) -> None:
    """Copy the log up to the new checkpoint (the segments it retires, and the one holding
    the checkpoint LSN as far as it is written) and, per rule (2), a new base."""
    wal_dir, arch_wal, arch_base = os.path.join(root, "wal"), os.path.join(archive, "wal"), \
        os.path.join(archive, "base")
    os.makedirs(arch_wal, exist_ok=True)
    os.makedirs(arch_base, exist_ok=True)
    limit = meta.checkpoint_lsn // meta.seg_size
    for seg in wal.list_segments(wal_dir):
        name = wal.segment_name(seg)
        # every local segment up to the checkpoint's (local segments are those written since
        # the last checkpoint; the one holding it was copied then, partly written)
        if seg <= limit:
            tmp = os.path.join(arch_wal, name + ".tmp")
            shutil.copyfile(os.path.join(wal_dir, name), tmp)
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, os.path.join(arch_wal, name))
    wal.fsync_dir(arch_wal)
    bases = sorted(int(n, 16) for n in os.listdir(arch_base) if not n.endswith(".tmp"))
    if bases and meta.checkpoint_lsn - bases[-1] < base_bytes:
        return
    checkpoint.copy_image(root, meta, manifest, os.path.join(arch_base, f"{meta.checkpoint_lsn:016x}"))


def list_bases(archive: str) -> list[tuple[int, int]]:
    """``[(checkpoint_lsn, last_commit_ns)]`` of the archived bases, oldest first."""
    base_dir = os.path.join(archive, "base")
    if not os.path.isdir(base_dir):
        return []
    out = []
    for n in sorted(os.listdir(base_dir)):
        if n.endswith(".tmp"):
            continue
        path = os.path.join(base_dir, n)
        meta = checkpoint.read_meta(os.path.join(path, "META"))
        man = checkpoint.load_manifest(path, meta) if meta.manifest_len else {}
        out.append((meta.checkpoint_lsn, man.get("last_commit_ns", 0)))
    return out


def restore(archive: str, dest: str, *, until_time_ns: Optional[int] = None,
            until_lsn: Optional[int] = None, open_engine=None) -> None:
    """Build a new database in ``dest`` holding the archived history up to the target
    (everything archived when no target is given). ``open_engine(path, recover_until)`` opens
    a writer Engine (passed in by the caller, which knows the schema loader)."""
    if os.path.exists(dest):
        raise OperationalError(f"restore destination {dest!r} already exists")
    bases = list_bases(archive)
    if until_lsn is not None:
        usable = [b for b in bases if b[0] <= until_lsn]
    elif until_time_ns is not None:
        usable = [b for b in bases if b[1] <= until_time_ns]
    else:
        usable = bases
    if not usable:
        raise OperationalError(f"the archive {archive!r} has no base at or before the requested point")
    base_lsn = usable[-1][0]
    base = os.path.join(archive, "base", f"{base_lsn:016x}")
    tmp = dest + ".tmp-restore"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(base, tmp)
    meta = checkpoint.read_meta(os.path.join(tmp, "META"))
    arch_wal = os.path.join(archive, "wal")
    for seg in wal.list_segments(arch_wal) if os.path.isdir(arch_wal) else ():
        if (seg + 1) * meta.seg_size > base_lsn:
            shutil.copyfile(os.path.join(arch_wal, wal.segment_name(seg)),
                            os.path.join(tmp, "wal", wal.segment_name(seg)))
    if until_lsn is not None:
        target = ("lsn", until_lsn)
    elif until_time_ns is not None:
        target = ("time", until_time_ns)
    else:
        target = None
    eng = open_engine(tmp, target)
    try:
        eng.state.dirty.add(0)    # materialize whatever the replay produced, even if nothing
        eng.checkpoint()          # ... so the restored database needs no WAL at all
    finally:
        eng.close(checkpoint_on_close=False)
    meta = checkpoint.read_meta(os.path.join(tmp, "META"))
    meta.uuid = _uuid.uuid4().bytes          # rule (3): a new timeline
    meta.slot_seq += 1
    checkpoint.write_meta(os.path.join(tmp, "META"), meta)
    for seg in wal.list_segments(os.path.join(tmp, "wal")):
        os.unlink(os.path.join(tmp, "wal", wal.segment_name(seg)))
    os.rename(tmp, dest)
    wal.fsync_dir(os.path.dirname(os.path.abspath(dest)))
