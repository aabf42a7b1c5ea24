"""Convert a database written by lpgdb 0.1.0 (storage format 1) to the current format (2).

Format 1 kept a checkpoint as one msgpack blob per partition (``LPGPART`` files, CRC over the
whole body) and rebuilt the whole graph in memory at open.  Format 2 maps columnar files.  The
log (WAL segments and commit records) is the same in both.

``upgrade(path)``:
    1. take the writer lock; read format 1's META, manifest and partition files, checking every
       CRC (a damaged database is refused: restore it from a backup first);
    2. build a new database beside it (``<path>.upgrade-*``): the schema and user indexes, every
       node and edge with its id, in batches of commits, then the old log's commits made after its
       last checkpoint, replayed as they were; the id counters continue where the old ones stood
       (ids are never reused);
    3. checkpoint it, and swap directories: the old one is kept as ``<path>.format1`` until the
       user deletes it.
A crash before the swap leaves the old database untouched (the half-built one is a private
directory, removed by the next attempt); the swap is two renames, and a crash between them leaves
both directories named, never a lost database.
"""
from __future__ import annotations

import os
import struct
from array import array
from typing import Callable, Optional

from .. import core
from ..errors import CorruptionError, OperationalError
from . import checkpoint, io, records, wal

_PART_MAGIC = b"LPGPART\x00"
_PART = struct.Struct("<8sIIQQI")
_BATCH = 5000


def _v1_partition(path: str, data: bytes, p: int):
    """Decode one format-1 partition file: ``(nodes, edges)`` as lists of
    ``(id, labels, props bytes)`` and ``(id, labels, src, dst, props bytes)``."""
    if len(data) < _PART.size:
        raise CorruptionError("partition file too short", path=path, offset=0)
    magic, version, fp, _lsn, blen, bcrc = _PART.unpack_from(data)
    body = memoryview(data)[_PART.size:]
    if magic != _PART_MAGIC or version != 1 or fp != p or blen != len(body) or core.crc32c(body) != bcrc:
        raise CorruptionError("bad format-1 partition file header or checksum", path=path, offset=0)
    doc = records.unpack(bytes(body), what="partition file", path=path)
    try:
        nid_b, lsets, lset_b, nprops = doc["nodes"]
        eid_b, src_b, dst_b, etypes, etype_b, eprops = doc["edges"]
        node_ids, node_lset = array("Q", nid_b), array("I", lset_b)
        eids, srcs, dsts, etype = array("Q", eid_b), array("Q", src_b), array("Q", dst_b), array("I", etype_b)
        if not (len(node_ids) == len(node_lset) == len(nprops)
                and len(eids) == len(srcs) == len(dsts) == len(etype) == len(eprops)):
            raise ValueError("column lengths differ")
        nodes = [(n, sorted(lsets[ls]), pr) for n, ls, pr in zip(node_ids, node_lset, nprops)]
        edges = [(e, sorted(etypes[t]), s, d, pr) for e, t, s, d, pr in zip(eids, etype, srcs, dsts, eprops)]
        for _n, labels, pr in nodes:
            records.unpack_props(pr)
        for *_x, pr in edges:
            records.unpack_props(pr)
    except (ValueError, TypeError, IndexError, KeyError) as e:
        raise CorruptionError(f"malformed format-1 partition file: {e}", path=path) from None
    return nodes, edges


def _v1_manifest(root: str, meta) -> Optional[dict]:
    if meta.manifest_len == 0:
        return None
    path = os.path.join(root, "manifest", checkpoint.manifest_name(meta.manifest_seq))
    data = checkpoint._read_checked(path, meta.manifest_crc, meta.manifest_len)
    man = records.unpack(data, what="manifest", path=path)
    if not isinstance(man, dict):
        raise CorruptionError("malformed manifest", path=path)
    return man


def format_of(root: str) -> int:
    """The storage format of the database at ``root`` (1 or 2; 2 for one never checkpointed,
    whose log every version reads)."""
    meta = checkpoint.read_meta(os.path.join(root, "META"))
    man = _v1_manifest(root, meta)
    return 2 if man is None else man.get("format")


def upgrade(root: str, open_engine: Callable) -> dict:
    """Convert the format-1 database at ``root`` in place (see the module docstring).

    ``open_engine(path, create)`` opens a storage Engine (the database layer passes its own, with
    the schema loader).  Returns a summary: ``{"format": old, "nodes", "edges", "commits",
    "backup"}``; ``backup`` is None when there was nothing to convert.
    """
    root = os.path.abspath(root)
    if not os.path.exists(os.path.join(root, "META")):
        raise OperationalError(f"no lpgdb database at {root!r}", reason="no_database")
    lock = io.open(root, os.O_RDONLY | io.DIRECTORY)   # the writer lock (engine.py: the directory)
    try:
        if not io.flock(lock):
            raise OperationalError(f"database {root!r} is open in another process; close it first",
                                   reason="locked")
        meta = checkpoint.read_meta(os.path.join(root, "META"))
        man = _v1_manifest(root, meta)
        fmt = 2 if man is None else man.get("format")
        if fmt == 2:
            return {"format": 2, "nodes": 0, "edges": 0, "commits": 0, "backup": None}
        if fmt != 1:
            raise OperationalError(f"the database at {root!r} has storage format {fmt!r}, which "
                                   f"this lpgdb can neither read nor convert", reason="unknown_format")
        parts = []
        for p, (name, crc, size) in sorted(man["partitions"].items()):
            path = os.path.join(root, "data", name)
            parts.append(_v1_partition(path, checkpoint._read_checked(path, crc, size), p))
        # the log after the checkpoint: every record, decoded, before anything is written
        tail = []
        gen = wal.scan(os.path.join(root, "wal"), meta.uuid, meta.seg_size, meta.checkpoint_lsn,
                       commit_seq=man.get("commit_seq", 0))
        while True:
            try:
                _begin, end, _seq, payload = next(gen)
            except StopIteration:
                break
            tail.append(records.decode_commit(payload, path=os.path.join(root, "wal"), offset=end)[1])
        new = f"{root}.upgrade-{os.getpid()}"
        if os.path.exists(new):
            io.remove_tree(new)
        eng = open_engine(new, True)
        nodes = edges = commits = 0
        try:
            for label, props in man.get("user_indexes", []):
                eng.commit([records.op_index(label, props, True)])
            if man.get("schema") is not None:
                ddl, name = man["schema"]
                eng.commit([records.op_schema(ddl, name)])
            batch = []
            for pnodes, _pedges in parts:
                for nid, labels, pr in pnodes:
                    batch.append([records.NODE_PUT, nid, labels, pr])
                    nodes += 1
                    if len(batch) >= _BATCH:
                        eng.commit(batch)
                        batch = []
            for _pnodes, pedges in parts:
                for eid, labels, s, d, pr in pedges:
                    batch.append([records.EDGE_PUT, eid, labels, s, d, pr])
                    edges += 1
                    if len(batch) >= _BATCH:
                        eng.commit(batch)
                        batch = []
            if batch:
                eng.commit(batch)
            cat = eng.state.catalog
            cat.next_node_id = max(cat.next_node_id, man["next_node_id"])
            cat.next_edge_id = max(cat.next_edge_id, man["next_edge_id"])
            for ops in tail:
                eng.commit(ops)
                commits += 1
            eng.checkpoint()
        finally:
            eng.close()
        backup = f"{root}.format1"
        if os.path.exists(backup):
            raise OperationalError(f"{backup!r} exists (an earlier upgrade's copy of the old "
                                   f"database?); move it away and run the upgrade again")
        io.rename(root, backup)
        io.rename(new, root)
        io.fsync_dir(os.path.dirname(root))
        return {"format": 1, "nodes": nodes, "edges": edges, "commits": commits, "backup": backup}
    finally:
        io.close(lock)
