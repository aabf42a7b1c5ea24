"""Materialized state: META slots, manifests and partition files (a cache of the log).

Directory
    META                         two 4 KiB slots (LMDB style); the valid one with the higher seq wins
    manifest/MANIFEST-<seq:016x> msgpack; immutable; named by a META slot with its CRC and length
    data/part-<p:06x>-<lsn:016x>.lpg   immutable partition files (nodes p*2^17 .. (p+1)*2^17-1
                                 and the edges whose source is one of them), named by checkpoint LSN
    tmp/                         files being written; emptied on open

META slot (little-endian, CRC32C over bytes [0, 4092) stored at 4092)
    magic[8] "LPGMETA\\0" | version u32 | slot_seq u64 | db_uuid[16] | manifest_seq u64
    | manifest_crc u32 | manifest_len u64 | checkpoint_lsn u64 | seg_size u64 | created_ns u64

Partition file
    header: magic[8] "LPGPART\\0" | version u32 | partition u32 | lsn u64 | body_len u64 | body_crc u32
    body (msgpack): nodes as columns (ids u64 array, label-set table + per-node index, props blobs),
    edges as columns (ids, src, dst u64 arrays, label-set table + per-edge index, props blobs).
    The whole body is CRC-checked before use; a mismatch is a CorruptionError naming the file.

Checkpoint protocol (crash-safe at every step; each step is a crash point in the tests)
    1. the WAL is synced up to the checkpoint LSN, so the files never hold unlogged data;
    2. dirty partitions are written to tmp/, fdatasynced, renamed into data/, data/ fsynced;
    3. the manifest is written the same way into manifest/;
    4. the older META slot is overwritten and fdatasynced: this is the switch;
    5. only then are unreferenced files and WAL segments below the checkpoint deleted.
    A crash before 4 leaves the old META, whose manifest and files are untouched; orphans are
    removed at the next open.
"""
from __future__ import annotations

import os
import shutil
import struct
import time
from array import array
from dataclasses import dataclass
from typing import Optional

from .. import core
from ..errors import CorruptionError
from . import faults, records
from .graph import ALL, PARTITION_SHIFT, GraphState, _NodeVersion
from .wal import fsync_dir

META_SLOT = 4096
_META_MAGIC = b"LPGMETA\x00"
_META = struct.Struct("<8sIQ16sQIQQQQ")
_PART_MAGIC = b"LPGPART\x00"
_PART = struct.Struct("<8sIIQQI")


@dataclass
class Meta:
    slot_seq: int
    uuid: bytes
    manifest_seq: int
    manifest_crc: int
    manifest_len: int
    checkpoint_lsn: int
    seg_size: int
    created_ns: int


def _decode_slot(buf: bytes) -> Optional[Meta]:
    if len(buf) < META_SLOT:
        return None
    (crc,) = struct.unpack_from("<I", buf, META_SLOT - 4)
    if crc != core.crc32c(buf[:META_SLOT - 4]):
        return None
    magic, version, *fields = _META.unpack_from(buf)
    if magic != _META_MAGIC or version != 1:
        return None
    return Meta(*fields)


def read_meta(path: str) -> Meta:
    """The current META (the valid slot with the higher sequence number)."""
    with open(path, "rb") as f:
        data = f.read(2 * META_SLOT)
    slots = [m for m in (_decode_slot(data[:META_SLOT]), _decode_slot(data[META_SLOT:])) if m]
    if not slots:
        raise CorruptionError("both META slots are damaged; restore the database from a backup "
                              "(lpgdb restore)", path=path, offset=0)
    return max(slots, key=lambda m: m.slot_seq)


def write_meta(path: str, meta: Meta) -> None:
    """Overwrite the slot not holding the current META (slot_seq parity), then fdatasync."""
    body = _META.pack(_META_MAGIC, 1, meta.slot_seq, meta.uuid, meta.manifest_seq, meta.manifest_crc,
                      meta.manifest_len, meta.checkpoint_lsn, meta.seg_size, meta.created_ns)
    body = body.ljust(META_SLOT - 4, b"\0")
    slot = body + struct.pack("<I", core.crc32c(body))
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, slot, (meta.slot_seq % 2) * META_SLOT)
        os.fdatasync(fd)
    finally:
        os.close(fd)


def _write_file(dirpath: str, tmpdir: str, name: str, data: bytes) -> None:
    tmp = os.path.join(tmpdir, name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fdatasync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, os.path.join(dirpath, name))


def _read_checked(path: str, expect_crc: int, expect_len: int) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError as e:
        raise CorruptionError("a file named by the manifest is missing", path=path) from e
    if len(data) != expect_len or core.crc32c(data) != expect_crc:
        raise CorruptionError("checksum mismatch", path=path, offset=0)
    return data


def manifest_name(seq: int) -> str:
    return f"MANIFEST-{seq:016x}"


def load_manifest(root: str, meta: Meta) -> dict:
    path = os.path.join(root, "manifest", manifest_name(meta.manifest_seq))
    data = _read_checked(path, meta.manifest_crc, meta.manifest_len)
    man = records.unpack(data, what="manifest", path=path)
    if not isinstance(man, dict) or man.get("format") != 1:
        raise CorruptionError("malformed manifest", path=path)
    return man


# -- partition files ----------------------------------------------------------------------------
def _encode_partition(state: GraphState, p: int, snap: int) -> bytes:
    lo, hi = p << PARTITION_SHIFT, (p + 1) << PARTITION_SHIFT
    node_ids = array("Q")
    lsets: dict[frozenset, int] = {}
    node_lset = array("I")
    node_props = []
    for nid in state.label_index.scan(ALL, snap):
        if nid < lo:
            continue
        if nid >= hi:
            break
        v = state.node_version(nid, snap)
        node_ids.append(nid)
        node_lset.append(lsets.setdefault(v.labels, len(lsets)))
        node_props.append(v.props)
    etypes: dict[int, int] = {}
    if node_ids:
        nbrs, ids, frm = state.adj.expand(node_ids, "out", None, snap)
        types = state.adj.get_many(ids, snap)[0]
    else:
        nbrs = ids = frm = types = []
    eids, dsts = array("Q", ids), array("Q", nbrs)
    srcs = array("Q", [node_ids[i] for i in frm])
    edge_type = array("I", [etypes.setdefault(t, len(etypes)) for t in types])
    props_of, chained = state.edge_props.get, state.edge_props_at
    edge_props = [p if type(p) is bytes else b"" if p is None else chained(e, snap)
                  for e, p in zip(ids, map(props_of, ids))]
    body = records.pack({
        "nodes": [node_ids.tobytes(), [sorted(s) for s in lsets], node_lset.tobytes(), node_props],
        "edges": [eids.tobytes(), srcs.tobytes(), dsts.tobytes(),
                  [sorted(state.type_labels[t]) for t in etypes], edge_type.tobytes(), edge_props],
    })
    return _PART.pack(_PART_MAGIC, 1, p, snap, len(body), core.crc32c(body)) + body


def _load_partition(state: GraphState, path: str, data: bytes, p: int) -> None:
    if len(data) < _PART.size:
        raise CorruptionError("partition file too short", path=path, offset=0)
    magic, version, fp, _lsn, blen, bcrc = _PART.unpack_from(data)
    body = memoryview(data)[_PART.size:]
    if magic != _PART_MAGIC or version != 1 or fp != p or blen != len(body) or core.crc32c(body) != bcrc:
        raise CorruptionError("bad partition file header or checksum", path=path, offset=0)
    doc = records.unpack(bytes(body), what="partition file", path=path)
    try:
        nid_b, lsets, lset_b, nprops = doc["nodes"]
        eid_b, src_b, dst_b, etypes, etype_b, eprops = doc["edges"]
        node_ids, node_lset = array("Q", nid_b), array("I", lset_b)
        eids, srcs, dsts, etype = array("Q", eid_b), array("Q", src_b), array("Q", dst_b), array("I", etype_b)
        if not (len(node_ids) == len(node_lset) == len(nprops)
                and len(eids) == len(srcs) == len(dsts) == len(etype) == len(eprops)):
            raise ValueError("column lengths differ")
        lsets = [frozenset(s) for s in lsets]
        tids = [state.type_id(frozenset(t)) for t in etypes]
        state.nodes.update(zip(node_ids, [_NodeVersion(0, lsets[ls], props, None)
                                          for ls, props in zip(node_lset, nprops)]))
        li = state.label_index
        li.add_many(ALL, node_ids, 0)
        for i, labels in enumerate(lsets):
            members = node_ids if len(lsets) == 1 else array("Q", [n for n, x in zip(node_ids, node_lset) if x == i])
            for lab in labels:
                li.add_many(state.label_id(lab), members, 0)
        types = etype if tids == list(range(len(tids))) else array("I", [tids[t] for t in etype])
        state.adj.add_many(eids, types, srcs, dsts, 0)
        state.edge_props.update((e, p) for e, p in zip(eids, eprops) if p)
    except (ValueError, TypeError, IndexError, KeyError) as e:
        raise CorruptionError(f"malformed partition file: {e}", path=path) from e


def load(root: str, state: GraphState, meta: Meta) -> dict:
    """Fill an empty ``state`` from the checkpoint META names; return the manifest (None if the
    database has never been checkpointed)."""
    if meta.manifest_len == 0:
        return None
    man = load_manifest(root, meta)
    for p, (name, crc, size) in sorted(man["partitions"].items()):
        path = os.path.join(root, "data", name)
        _load_partition(state, path, _read_checked(path, crc, size), p)
    state.next_node_id = man["next_node_id"]
    state.next_edge_id = man["next_edge_id"]
    for label, props in man["user_indexes"]:
        state.apply([[records.INDEX, label, props, True]], 0)
    if man["schema"] is not None:
        state.apply([[records.SCHEMA, man["schema"][0], man["schema"][1]]], 0)
    state.applied_lsn = meta.checkpoint_lsn
    state.dirty.clear()
    return man


def write(root: str, state: GraphState, meta: Meta, manifest: dict, commit_seq: int,
          last_commit_ns: int = 0) -> tuple:
    """Materialize dirty partitions at ``state.applied_lsn``; switch META. Returns (meta, manifest).

    The caller holds the writer lock and has synced the WAL up to ``state.applied_lsn``.
    Complexity: O(size of the dirty partitions).
    """
    snap = state.applied_lsn
    parts = dict(manifest["partitions"]) if manifest else {}
    tmpdir, datadir = os.path.join(root, "tmp"), os.path.join(root, "data")
    for p in sorted(state.dirty):
        data = _encode_partition(state, p, snap)
        name = f"part-{p:06x}-{snap:016x}.lpg"
        _write_file(datadir, tmpdir, name, data)
        parts[p] = [name, core.crc32c(data), len(data)]
    fsync_dir(datadir)
    faults.point("ckpt_after_files")
    new_man = {
        "format": 1, "checkpoint_lsn": snap, "partitions": parts,
        "next_node_id": state.next_node_id, "next_edge_id": state.next_edge_id,
        "commit_seq": commit_seq, "last_commit_ns": last_commit_ns,
        "schema": list(state.schema) if state.schema else None,
        "user_indexes": [[lab, list(props)] for (lab, props) in state.user_indexes],
    }
    mdata = records.pack(new_man)
    seq = meta.manifest_seq + 1
    _write_file(os.path.join(root, "manifest"), tmpdir, manifest_name(seq), mdata)
    fsync_dir(os.path.join(root, "manifest"))
    faults.point("ckpt_after_manifest")
    new_meta = Meta(meta.slot_seq + 1, meta.uuid, seq, core.crc32c(mdata), len(mdata), snap,
                    meta.seg_size, meta.created_ns)
    write_meta(os.path.join(root, "META"), new_meta)
    faults.point("ckpt_after_meta")
    state.dirty.clear()
    remove_orphans(root, new_meta, new_man)
    return new_meta, new_man


def remove_orphans(root: str, meta: Meta, manifest: Optional[dict]) -> None:
    """Delete files no META-referenced manifest needs (old checkpoints, interrupted writes)."""
    keep = {v[0] for v in manifest["partitions"].values()} if manifest else set()
    for name in os.listdir(os.path.join(root, "data")):
        if name not in keep:
            os.unlink(os.path.join(root, "data", name))
    for name in os.listdir(os.path.join(root, "manifest")):
        if name != manifest_name(meta.manifest_seq):
            os.unlink(os.path.join(root, "manifest", name))
    for name in os.listdir(os.path.join(root, "tmp")):
        os.unlink(os.path.join(root, "tmp", name))


def manifest_files(manifest: Optional[dict]) -> list:
    """``[(relative path, crc32c, size)]`` of the immutable files a manifest names (what a
    backup copies and an archive ships, whatever their format)."""
    if manifest is None:
        return []
    return [(os.path.join("data", v[0]), v[1], v[2]) for v in manifest["partitions"].values()]


def link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)   # immutable files: a hard link is a copy
    except OSError:
        shutil.copyfile(src, dst)
        fd = os.open(dst, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def copy_image(root: str, meta: Meta, manifest: Optional[dict], dest: str) -> None:
    """Write the checkpoint image META names (META, its manifest, its partition files) into
    the new directory ``dest`` as a self-contained database with an empty log. Immutable files
    are hard-linked where possible; META is always copied (checkpoints rewrite it in place).
    Atomic: built under a temporary name, fsynced, then renamed."""
    tmp = dest + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    fill_image(root, meta, manifest, tmp)
    fd = os.open(os.path.join(tmp, "META"), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    for sub in ("data", "manifest", ""):
        fsync_dir(os.path.join(tmp, sub))
    os.rename(tmp, dest)
    fsync_dir(os.path.dirname(os.path.abspath(dest)))


def fill_image(root: str, meta: Meta, manifest: Optional[dict], into: str) -> None:
    """Put the checkpoint image META names (META, its manifest, its partition files, empty
    wal/ data/ manifest/ tmp/ directories) into the directory ``into`` (created if absent).
    Not synced: the caller makes it durable (``copy_image``, a follower's backup)."""
    for sub in ("wal", "data", "manifest", "tmp"):
        os.makedirs(os.path.join(into, sub))
    shutil.copyfile(os.path.join(root, "META"), os.path.join(into, "META"))
    files = []
    if manifest is not None:
        files.append(os.path.join("manifest", manifest_name(meta.manifest_seq)))
        files += [rel for rel, _crc, _size in manifest_files(manifest)]
    for rel in files:
        link_or_copy(os.path.join(root, rel), os.path.join(into, rel))


def initial_meta(uuid: bytes, seg_size: int) -> Meta:
    return Meta(0, uuid, 0, 0, 0, 0, seg_size, time.time_ns())
