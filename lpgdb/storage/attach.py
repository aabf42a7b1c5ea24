"""Bulk attach (issue 11): a bulk load committed as data files plus one small log record.

A commit whose ops are all columnar bulk ops (NODES_COLS / EDGES_COLS, what ``db.bulk_load``
and ``lpgdb import`` log) of at least ``ATTACH_MIN_ROWS`` rows is not written to the WAL as
columns.  Instead (``Engine.commit`` -> ``Engine._attach``; the writer lock is held throughout):

1. **Quiesce.** If the generation's overlay is not empty, checkpoint: the files then hold
   everything committed, at LSN C (the end of the log), and nothing else commits until 4.
2. **Build.** The ops are prepared (every check a commit makes) and applied to the current
   generation's overlay at LSN C + 1, which is never published: snapshots keep reading at C.
   Every file the load changed (partitions, edge-locator ranges, key sub-indexes, each base +
   load) is built by the checkpoint's builders (``checkpoint.build_files``), named by C + 1
   (a checkpoint LSN is always a record's end, never C + 1), written to tmp/, fdatasynced,
   renamed into data/; then data/ is fsynced.  Memory: one file image at a time, plus the
   overlay holding the load.
3. **Commit.** One WAL record holding one op ``[ATTACH, desc]`` (``desc`` below), fdatasynced
   in every sync mode: the commit point.  Before it is durable nothing of the load is visible
   after a crash; after it, all of it.
4. **Install.** The manifest with the new files in place of the ones they replace is written
   and META switched to it at E (the record's end), exactly as a checkpoint does; the next
   generation maps the new files with an empty overlay; superseded files are deleted.

A failure in 1-2, or a WAL write that the writer refused before writing, removes the files
written and rebuilds the generation from the current checkpoint: the database is as before and
the handle usable.  A failed WAL write or sync poisons the handle (the record may or may not be
durable: the next open decides).  A failure in 4 poisons it too: the record is durable, and the
next open replays it.

``desc`` (msgpack map; every field is checked by ``check`` before use)::

    base      C: the checkpoint LSN the files were built on
    files     {"parts": {p: [name, crc32c, size]}, "elocs": {q: [...]},
               "keys": {index id: [nsub_log, fresh, {sub: [name, crc, size, entries] | nil}]}}
              only the files the load changed (``fresh``: the index was re-split, every
              sub-index is new; nil: a sub-index that became empty)
    catalog   the catalog's manifest fields after the load (dictionaries, id counters, schema,
              index specs): the dictionaries extend the base's
    propkeys  property key names, stats {"labels": [...], "types": [...]}: after the load

Replay (recovery, local followers, replicas; ``apply_replayed``) needs the state the record was
built on: checkpoint C exactly (an empty overlay at base LSN C), and each named file present
with its size and CRC32C.  Then it maps them into a new generation whose manifest is
``checkpoint.merged_manifest(manifest of C, desc)``; a writer's recovery and a replica then
write that manifest and switch META to it (``Engine._switch_attached``) before anything else
(orphan removal would otherwise delete the files).  A writer always meets the record with that
state: its META names C or later (step 1 switched META before the record was written).  A local
read-only follower that meets it with a non-empty overlay reloads from META (>= C).  Archives
never need a replay of it: the archiver ships the base at E before any piece holding the
record (archive.py rule 6), so restore and replicas start from that base; a replica that meets
the record anyway loads that base (``NeedsBase``).  A named file missing or damaged in a writer's
recovery is ``CorruptionError``: the record is only ever written after its files are durable.
"""
from __future__ import annotations

import os
from typing import Optional

from .. import core
from ..errors import CorruptionError
from . import files, io

#: a columnar bulk commit of fewer rows is logged as columns (cheaper than rewriting the
#: partitions it touches before the commit)
ATTACH_MIN_ROWS = 1 << 14


class NeedsBase(CorruptionError):
    """An ATTACH record met by a state it cannot apply to (not exactly its base checkpoint, or
    its files are not in this directory): load a checkpoint at or after ``end``."""

    def __init__(self, msg: str, end: int, **kw):
        super().__init__(msg, **kw)
        self.end = end


def rows(ops) -> int:
    """Rows of a commit whose ops are all NODES_COLS / EDGES_COLS, else -1."""
    from .records import EDGES_COLS, NODES_COLS
    n = 0
    for op in ops:
        if not isinstance(op, list) or not op or op[0] not in (NODES_COLS, EDGES_COLS) \
                or not isinstance(op[3], (bytes, bytearray)):
            return -1
        n += len(op[3]) // 4
    return n


def _entry(v, what):
    if (not isinstance(v, list) or len(v) < 3 or not files.valid_name(v[0])
            or type(v[1]) is not int or not 0 <= v[1] < 1 << 32 or type(v[2]) is not int or v[2] <= 0):
        raise ValueError(f"bad {what} entry")
    return v


def check(desc, path=None, offset=None) -> dict:
    """``desc`` of an ATTACH op, every field checked (CorruptionError)."""
    try:
        if not isinstance(desc, dict):
            raise ValueError("not a map")
        base, fl, cat, propkeys, stats = (desc[k] for k in ("base", "files", "catalog", "propkeys", "stats"))
        if type(base) is not int or base < 0:
            raise ValueError("base LSN")
        for kind, limit in (("parts", core.MAX_ID >> core.PART_SHIFT), ("elocs", core.MAX_ID >> core.ELOC_SHIFT)):
            for k, v in fl[kind].items():
                if type(k) is not int or not 0 <= k < limit:
                    raise ValueError(kind)
                _entry(v, kind)
        for index, v in fl["keys"].items():
            nsub, fresh, subs = v
            if type(index) is not int or type(nsub) is not int or not 0 <= nsub <= 12 or type(fresh) is not bool:
                raise ValueError("key index")
            for sub, e in subs.items():
                if type(sub) is not int or not 0 <= sub < (1 << nsub):
                    raise ValueError("sub-index")
                if e is not None and (len(_entry(e, "sub-index")) != 4 or type(e[3]) is not int):
                    raise ValueError("sub-index count")
        if not isinstance(cat, dict) or not isinstance(propkeys, list) or not isinstance(stats, dict):
            raise ValueError("catalog")
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CorruptionError(f"malformed bulk attach record ({e})", path=path, offset=offset) from None
    return desc


def named(desc) -> list:
    """``[[name, crc, size, ...]]`` of every file the record names."""
    fl = desc["files"]
    out = list(fl["parts"].values()) + list(fl["elocs"].values())
    for _nsub, _fresh, subs in fl["keys"].values():
        out += [e for e in subs.values() if e is not None]
    return out


def files_present(root: str, desc) -> Optional[str]:
    """None if every file the record names is in data/ with its size and CRC32C, else what is
    wrong.  Reads each file once: O(bytes named)."""
    for e in named(desc):
        path = os.path.join(root, "data", e[0])
        data = io.read_file(path, missing_ok=True)
        if data is None:
            return f"{e[0]} is missing"
        if len(data) != e[2] or core.crc32c(data) != e[1]:
            return f"{e[0]} fails its checksum"
    return None


def extends(cur: dict, new: dict) -> bool:
    """Whether catalog fields ``new`` (an attach record's) extend ``cur`` (the state's): the
    same schema and indexes, dictionaries that only grew, counters that did not go back."""
    try:
        return (all(new[k][:len(cur[k])] == cur[k] for k in ("labels", "labelsets", "types"))
                and new["schema"] == cur["schema"] and new["indexes"] == cur["indexes"]
                and new["next_index_id"] == cur["next_index_id"]
                and new["next_node_id"] >= cur["next_node_id"] and new["next_edge_id"] >= cur["next_edge_id"])
    except (KeyError, TypeError):
        return False
