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

    Slot ``seq % 2`` holds sequence number ``seq``.  Both slots are written with the same
    content (``seq`` then ``seq + 1``) at creation and at every checkpoint, so one damaged slot
    never leaves only an older checkpoint to fall back on (whose files and log may be gone).
    Every field read is validated; a slot with a good CRC and an impossible field is damage.

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
    5. the other slot gets the same content (fdatasynced): both slots now name the checkpoint;
    6. only then are unreferenced files and WAL segments below the checkpoint deleted.
    A crash before 4 leaves the old META, whose manifest and files are untouched; orphans are
    removed at the next open.  A crash between 4 and 5 leaves both checkpoints complete (nothing
    was deleted); the next writer open finishes step 5.

Names and numbers read from disk (META fields, manifest entries, file names, partition
columns) are all validated before use: a mismatch is a CorruptionError, never a wrong answer,
a file touched outside the database directory or an untyped exception.  All file access goes
through ``storage/io.py``.
"""
from __future__ import annotations

import os
import re
import struct
import time
from array import array
from dataclasses import dataclass, replace
from typing import Optional

from .. import core
from ..errors import CorruptionError, Error, OperationalError
from . import faults, io, records, wal
from .graph import ALL, PARTITION_SHIFT, GraphState, _NodeVersion

META_SLOT = 4096
_META_MAGIC = b"LPGMETA\x00"
_META = struct.Struct("<8sIQ16sQIQQQQ")
_PART_MAGIC = b"LPGPART\x00"
_PART = struct.Struct("<8sIIQQI")
_U63 = (1 << 63) - 1
MAX_ID = 1 << 40                 # node and edge ids (native bound)
MAX_MANIFEST = 1 << 30
MAX_PARTITION = MAX_ID >> PARTITION_SHIFT
_PART_NAME = re.compile(r"part-([0-9a-f]{6})-([0-9a-f]{16})\.lpg\Z")
_MANIFEST_NAME = re.compile(r"MANIFEST-([0-9a-f]{16})\Z")
SUBDIRS = ("wal", "data", "manifest", "tmp")


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

    def same_checkpoint(self, other: Optional["Meta"]) -> bool:
        return other is not None and replace(other, slot_seq=self.slot_seq) == self


def _decode_slot(buf: bytes, path: str, slot: int) -> Optional[Meta]:
    """The slot's Meta, or None if it is torn (bad CRC or magic).  A slot whose CRC holds but
    whose fields are impossible was written by something else: CorruptionError."""
    if len(buf) < META_SLOT:
        return None
    (crc,) = struct.unpack_from("<I", buf, META_SLOT - 4)
    if crc != core.crc32c(buf[:META_SLOT - 4]):
        return None
    magic, version, *fields = _META.unpack_from(buf)
    if magic != _META_MAGIC:
        return None
    m = Meta(*fields)
    bad = None
    if version != 1:
        bad = f"format version {version} (this lpgdb reads version 1; upgrade lpgdb)"
    elif not wal.valid_seg_size(m.seg_size):
        bad = f"WAL segment size {m.seg_size}"
    elif m.slot_seq % 2 != slot or m.slot_seq > _U63:
        bad = f"slot sequence number {m.slot_seq} in slot {slot}"
    elif m.checkpoint_lsn > _U63 or (m.checkpoint_lsn and m.checkpoint_lsn % m.seg_size < wal.SEG_HEADER):
        bad = f"checkpoint LSN {m.checkpoint_lsn}"
    elif m.manifest_len > MAX_MANIFEST or m.manifest_seq > _U63 or (m.manifest_seq == 0) != (m.manifest_len == 0):
        bad = f"manifest reference (seq {m.manifest_seq}, {m.manifest_len} bytes)"
    if bad is not None:
        raise CorruptionError(f"META slot {slot} holds an impossible {bad}; restore the database "
                              f"from a backup", path=path, offset=slot * META_SLOT)
    return m


def read_slots(path: str) -> tuple:
    """``(current, other)``: the valid META slot with the higher sequence number, and the other
    slot's Meta (None if torn).  CorruptionError if neither is valid."""
    data = io.read_file(path)
    a = _decode_slot(data[:META_SLOT], path, 0)
    b = _decode_slot(data[META_SLOT:2 * META_SLOT], path, 1)
    slots = [m for m in (a, b) if m]
    if not slots:
        raise CorruptionError("both META slots are damaged; restore the database from a backup "
                              "(lpgdb.restore / lpgdb restore)", path=path, offset=0)
    cur = max(slots, key=lambda m: m.slot_seq)
    return cur, (b if cur is a else a)


def read_meta(path: str) -> Meta:
    """The current META (the valid slot with the higher sequence number)."""
    return read_slots(path)[0]


def _encode_slot(meta: Meta) -> bytes:
    body = _META.pack(_META_MAGIC, 1, meta.slot_seq, meta.uuid, meta.manifest_seq, meta.manifest_crc,
                      meta.manifest_len, meta.checkpoint_lsn, meta.seg_size, meta.created_ns)
    body = body.ljust(META_SLOT - 4, b"\0")
    return body + struct.pack("<I", core.crc32c(body))


def write_meta(path: str, meta: Meta) -> None:
    """Write ``meta`` into its slot (``slot_seq % 2``), then fdatasync."""
    fd = io.open(path, os.O_RDWR | os.O_CREAT | io.NOFOLLOW)
    try:
        io.pwrite(fd, _encode_slot(meta), (meta.slot_seq % 2) * META_SLOT)
        io.fdatasync(fd)
    finally:
        io.close(fd)


def write_meta_pair(path: str, meta: Meta) -> Meta:
    """Write ``meta`` into its slot, then the same content with ``slot_seq + 1`` into the other
    (each fdatasynced: the first write is the switch).  Returns the second."""
    write_meta(path, meta)
    faults.point("meta_between_slots")
    second = replace(meta, slot_seq=meta.slot_seq + 1)
    write_meta(path, second)
    return second


def _read_checked(path: str, expect_crc: int, expect_len: int) -> bytes:
    data = io.read_file(path, missing_ok=True)
    if data is None:
        raise CorruptionError("a file named by the manifest is missing; restore the database "
                              "from a backup", path=path)
    if len(data) != expect_len or core.crc32c(data) != expect_crc:
        raise CorruptionError("checksum mismatch", path=path, offset=0)
    return data


def manifest_name(seq: int) -> str:
    return f"MANIFEST-{seq:016x}"


def partition_name(p: int, lsn: int) -> str:
    return f"part-{p:06x}-{lsn:016x}.lpg"


def _is_uint(v, limit=_U63) -> bool:
    return type(v) is int and 0 <= v <= limit


def _is_names(v) -> bool:
    return isinstance(v, list) and all(type(x) is str and x for x in v)


def check_manifest(man, meta: Meta, path: str) -> dict:
    """Validate a decoded manifest against the META naming it (every name and number)."""
    def bad(what):
        raise CorruptionError(f"malformed manifest: {what}; restore the database from a backup",
                              path=path)
    if not isinstance(man, dict) or man.get("format") != 1:
        bad("unknown format")
    if man.get("checkpoint_lsn") != meta.checkpoint_lsn:
        bad("its checkpoint LSN differs from META's")
    for key, limit in (("next_node_id", MAX_ID), ("next_edge_id", MAX_ID), ("commit_seq", _U63),
                       ("last_commit_ns", _U63)):
        if not _is_uint(man.get(key), limit):
            bad(f"{key} = {man.get(key)!r}")
    parts = man.get("partitions")
    if not isinstance(parts, dict):
        bad("no partition table")
    for p, entry in parts.items():
        if not _is_uint(p, MAX_PARTITION) or not isinstance(entry, list) or len(entry) != 3:
            bad(f"partition entry {p!r}")
        name, crc, size = entry
        m = _PART_NAME.match(name) if type(name) is str else None
        if (m is None or int(m.group(1), 16) != p or int(m.group(2), 16) > meta.checkpoint_lsn
                or not _is_uint(crc, 0xFFFFFFFF) or not _is_uint(size, _U63) or size < _PART.size):
            bad(f"partition {p} entry {entry!r}")
    schema = man.get("schema")
    if schema is not None and not (isinstance(schema, list) and len(schema) == 2 and type(schema[0]) is str
                                   and (schema[1] is None or type(schema[1]) is str)):
        bad("schema entry")
    idx = man.get("user_indexes")
    if not isinstance(idx, list) or not all(
            isinstance(e, list) and len(e) == 2 and type(e[0]) is str and e[0] and _is_names(e[1]) and e[1]
            for e in idx):
        bad("user index table")
    return man


def load_manifest(root: str, meta: Meta) -> dict:
    path = os.path.join(root, "manifest", manifest_name(meta.manifest_seq))
    data = _read_checked(path, meta.manifest_crc, meta.manifest_len)
    return check_manifest(records.unpack(data, what="manifest", path=path), meta, path)


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


def _load_partition(state: GraphState, path: str, data: bytes, p: int, meta: Meta,
                    next_node: int, next_edge: int) -> None:
    if len(data) < _PART.size:
        raise CorruptionError("partition file too short", path=path, offset=0)
    magic, version, fp, flsn, blen, bcrc = _PART.unpack_from(data)
    body = memoryview(data)[_PART.size:]
    if (magic != _PART_MAGIC or version != 1 or fp != p or flsn > meta.checkpoint_lsn
            or blen != len(body) or core.crc32c(body) != bcrc):
        raise CorruptionError("bad partition file header or checksum", path=path, offset=0)
    doc = records.unpack(bytes(body), what="partition file", path=path)
    lo, hi = p << PARTITION_SHIFT, (p + 1) << PARTITION_SHIFT
    try:
        if not isinstance(doc, dict):
            raise ValueError("not a map")
        nid_b, lsets, lset_b, nprops = doc["nodes"]
        eid_b, src_b, dst_b, etypes, etype_b, eprops = doc["edges"]
        node_ids, node_lset = array("Q", nid_b), array("I", lset_b)
        eids, srcs, dsts, etype = array("Q", eid_b), array("Q", src_b), array("Q", dst_b), array("I", etype_b)
        if not (len(node_ids) == len(node_lset) == len(nprops)
                and len(eids) == len(srcs) == len(dsts) == len(etype) == len(eprops)):
            raise ValueError("column lengths differ")
        if not (isinstance(lsets, list) and all(_is_names(s) for s in lsets)
                and isinstance(etypes, list) and all(_is_names(t) for t in etypes)):
            raise ValueError("label tables are not lists of names")
        if node_ids and (node_ids[0] < lo or node_ids[-1] >= min(hi, next_node)
                         or any(a >= b for a, b in zip(node_ids, node_ids[1:]))):
            raise ValueError("node ids outside the partition or not ascending")
        if node_lset and max(node_lset) >= len(lsets):
            raise ValueError("label set index out of range")
        if eids and (max(eids) >= next_edge or min(srcs) < lo or max(srcs) >= hi
                     or max(dsts) >= next_node or max(etype) >= len(etypes)):
            raise ValueError("edge column out of range")
        if not all(type(x) is bytes for x in nprops) or not all(type(x) is bytes for x in eprops):
            raise ValueError("property blobs are not bytes")
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
    except (ValueError, TypeError, IndexError, KeyError, Error) as e:
        if isinstance(e, CorruptionError):
            raise
        raise CorruptionError(f"malformed partition file: {e}", path=path) from e


def load(root: str, state: GraphState, meta: Meta) -> dict:
    """Fill an empty ``state`` from the checkpoint META names; return the manifest (None if the
    database has never been checkpointed)."""
    if meta.manifest_len == 0:
        if meta.checkpoint_lsn:
            raise CorruptionError("META names a checkpoint but no manifest; restore the database "
                                  "from a backup", path=os.path.join(root, "META"))
        return None
    man = load_manifest(root, meta)
    nn, ne = man["next_node_id"], man["next_edge_id"]
    for p, (name, crc, size) in sorted(man["partitions"].items()):
        path = os.path.join(root, "data", name)
        _load_partition(state, path, _read_checked(path, crc, size), p, meta, nn, ne)
    state.next_node_id = nn
    state.next_edge_id = ne
    mpath = os.path.join(root, "manifest", manifest_name(meta.manifest_seq))
    try:
        for label, props in man["user_indexes"]:
            state.apply([[records.INDEX, label, props, True]], 0)
        if man["schema"] is not None:
            state.apply([[records.SCHEMA, man["schema"][0], man["schema"][1]]], 0)
    except CorruptionError:
        raise
    except Error as e:
        raise CorruptionError(f"the checkpoint's schema or indexes cannot be rebuilt: {e}",
                              path=mpath) from e
    state.applied_lsn = meta.checkpoint_lsn
    state.dirty.clear()
    return man


def _write_file(dirpath: str, tmpdir: str, name: str, data: bytes, written: list) -> None:
    """Write ``data`` as tmp/``name`` (fdatasynced), then rename it into ``dirpath``."""
    tmp = os.path.join(tmpdir, name)
    written.append(tmp)
    io.write_file(tmp, data)
    io.rename(tmp, os.path.join(dirpath, name))
    written[-1] = os.path.join(dirpath, name)


class MetaWriteError(OperationalError):
    """Writing META failed: which checkpoint the file names is unknown until the next open."""


def write(root: str, state: GraphState, meta: Meta, manifest: dict, commit_seq: int,
          last_commit_ns: int = 0) -> tuple:
    """Materialize dirty partitions at ``state.applied_lsn``; switch META. Returns (meta, manifest).

    The caller holds the writer lock and has synced the WAL up to ``state.applied_lsn``.
    A failure before the META switch removes what it wrote and leaves everything as it was
    (OperationalError); a failure writing META raises MetaWriteError.  Removing the files the
    new checkpoint supersedes is the caller's (``remove_orphans``).
    Complexity: O(size of the dirty partitions).
    """
    snap = state.applied_lsn
    parts = dict(manifest["partitions"]) if manifest else {}
    tmpdir, datadir = os.path.join(root, "tmp"), os.path.join(root, "data")
    mandir = os.path.join(root, "manifest")
    written: list = []
    try:
        for p in sorted(state.dirty):
            data = _encode_partition(state, p, snap)
            name = partition_name(p, snap)
            _write_file(datadir, tmpdir, name, data, written)
            parts[p] = [name, core.crc32c(data), len(data)]
        io.fsync_dir(datadir)
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
        _write_file(mandir, tmpdir, manifest_name(seq), mdata, written)
        io.fsync_dir(mandir)
        faults.point("ckpt_after_manifest")
    except BaseException:
        keep = {v[0] for v in manifest["partitions"].values()} if manifest else set()
        for path in written:           # new names only: the current checkpoint is untouched
            if os.path.basename(path) not in keep and os.path.basename(path) != manifest_name(meta.manifest_seq):
                try:
                    io.unlink(path, missing_ok=True)
                except OperationalError:
                    pass               # an orphan: removed at the next open
        raise
    new_meta = Meta(meta.slot_seq + 1, meta.uuid, seq, core.crc32c(mdata), len(mdata), snap,
                    meta.seg_size, meta.created_ns)
    try:
        new_meta = write_meta_pair(os.path.join(root, "META"), new_meta)
    except OperationalError as e:
        raise MetaWriteError(f"could not write META to finish a checkpoint ({e}); reopen the "
                             f"database", reason=e.reason) from e
    faults.point("ckpt_after_meta")
    state.dirty.clear()
    return new_meta, new_man


def check_layout(root: str, *, repair: bool) -> None:
    """The database directory's subdirectories must be real directories (never symbolic
    links: the writer deletes files in them).  ``repair`` recreates a missing ``tmp/``."""
    for sub in SUBDIRS:
        path = os.path.join(root, sub)
        st = io.lstat(path, missing_ok=True)
        if st is None and sub == "tmp":
            if repair:
                io.mkdir(path, exist_ok=True)
            continue
        if st is None or not io.is_real_dir(path):
            what = "is missing" if st is None else "is not a directory (a symbolic link?)"
            raise CorruptionError(f"{sub}/ {what}; lpgdb refuses to use this database directory: "
                                  f"restore it from a backup", path=path)


def remove_orphans(root: str, meta: Meta, manifest: Optional[dict]) -> None:
    """Delete files of ours that the current checkpoint does not name (superseded checkpoints,
    interrupted writes).  Only names lpgdb writes are touched, and only regular files."""
    keep = {v[0] for v in manifest["partitions"].values()} if manifest else set()
    current = manifest_name(meta.manifest_seq)
    for sub, ours in (("data", lambda n: n.endswith(".lpg") and n not in keep),
                      ("manifest", lambda n: _MANIFEST_NAME.match(n) is not None and n != current),
                      ("tmp", lambda n: True)):
        d = os.path.join(root, sub)
        if not io.is_real_dir(d):
            continue
        for name in io.listdir(d):
            path = os.path.join(d, name)
            if ours(name) and not io.is_real_dir(path):
                io.unlink(path, missing_ok=True)


def manifest_files(manifest: Optional[dict]) -> list:
    """``[(relative path, crc32c, size)]`` of the immutable files a manifest names (what a
    backup copies and an archive ships, whatever their format)."""
    if manifest is None:
        return []
    return [(os.path.join("data", v[0]), v[1], v[2]) for v in manifest["partitions"].values()]


def link_or_copy(src: str, dst: str) -> None:
    """Hard-link an immutable file (or copy it where the file system cannot link)."""
    io.link_or_copy(src, dst)


def copy_image(root: str, meta: Meta, manifest: Optional[dict], dest: str, *,
               with_wal: bool = False, check=None) -> None:
    """Write the checkpoint image META names (META, its manifest, its partition files; with
    ``with_wal`` also the log from the checkpoint on) into the new directory ``dest`` as a
    self-contained database.  Atomic: built under a private temporary name beside ``dest``,
    fsynced, then renamed (``io.build_dir``); ``check(tmp)``, if given, runs on the complete
    copy before the rename (raise to abandon it)."""
    with io.build_dir(dest) as tmp:
        fill_image(root, meta, manifest, tmp)
        if with_wal:
            first = meta.checkpoint_lsn // meta.seg_size
            for seg in wal.list_segments(os.path.join(root, "wal")):
                if seg >= first:
                    rel = os.path.join("wal", wal.segment_name(seg))
                    io.copy_file(os.path.join(root, rel), os.path.join(tmp, rel))
        if check is not None:
            check(tmp)


def fill_image(root: str, meta: Meta, manifest: Optional[dict], into: str) -> None:
    """Put the checkpoint image ``meta`` names into the directory ``into``: the subdirectories,
    META (written fresh from ``meta``: both slots), its manifest and partition files (hard
    links where the file system allows: they are immutable).  Not synced: the caller makes it
    durable (``copy_image`` and a follower's backup build inside ``io.build_dir``)."""
    for sub in SUBDIRS:
        io.mkdir(os.path.join(into, sub), exist_ok=True)
    write_meta_pair(os.path.join(into, "META"), replace(meta, slot_seq=0))
    files = []
    if manifest is not None:
        files.append(os.path.join("manifest", manifest_name(meta.manifest_seq)))
        files += [rel for rel, _crc, _size in manifest_files(manifest)]
    for rel in files:
        io.link_or_copy(os.path.join(root, rel), os.path.join(into, rel))


def initial_meta(uuid: bytes, seg_size: int) -> Meta:
    return Meta(0, uuid, 0, 0, 0, 0, seg_size, time.time_ns())
