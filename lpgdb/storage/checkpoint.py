"""Materialized state: META slots, manifests and partition files (a cache of the log).

Directory
    META                         two 4 KiB slots (LMDB style); the valid one with the higher seq wins
    manifest/MANIFEST-<seq:016x> msgpack; immutable; named by a META slot with its CRC and length
    data/<kind>-...-<lsn:016x>.lpg     immutable data files (format 2: partitions, edge locators,
                                 key sub-indexes; see files.py and docs/storage.md), named by
                                 the checkpoint LSN that wrote them
    tmp/                         files being written; emptied on open

META slot (little-endian, CRC32C over bytes [0, 4092) stored at 4092)
    magic[8] "LPGMETA\\0" | version u32 | slot_seq u64 | db_uuid[16] | manifest_seq u64
    | manifest_crc u32 | manifest_len u64 | checkpoint_lsn u64 | seg_size u64 | created_ns u64

    Slot ``seq % 2`` holds sequence number ``seq``.  Both slots are written with the same
    content (``seq`` then ``seq + 1``) at creation and at every checkpoint, so one damaged slot
    never leaves only an older checkpoint to fall back on (whose files and log may be gone).
    Every field read is validated; a slot with a good CRC and an impossible field is damage.

Data files and the manifest (format 2)
    The manifest names every data file with its CRC32C and size, the dictionaries, the schema,
    the index specs with their ids, the id counters and statistics (docs/storage.md).  Files are
    mapped, not read: a size mismatch is a CorruptionError before mapping, and each 64 KiB block
    is CRC-checked the first time it is read (native/file.c).  A format-1 manifest (lpgdb 0.1.0)
    is refused with the command that converts it (``lpgdb upgrade``).

Checkpoint protocol (crash-safe at every step; each step is a crash point in the tests)
    1. the WAL is synced up to the checkpoint LSN, so the files never hold unlogged data;
    2. changed files are built one at a time (bounded memory), written to tmp/, fdatasynced,
       renamed into data/; then data/ is fsynced;
    3. the manifest is written the same way into manifest/;
    4. the older META slot is overwritten and fdatasynced: this is the switch;
    5. the other slot gets the same content (fdatasynced): both slots now name the checkpoint;
    6. only then are unreferenced files and WAL segments below the checkpoint deleted -- except
       those of a superseded checkpoint that a reader process still reads (``ManifestPin``).
    A crash before 4 leaves the old META, whose manifest and files are untouched; orphans are
    removed at the next open.  A crash between 4 and 5 leaves both checkpoints complete (nothing
    was deleted); the next writer open finishes step 5.

Readers in other processes (followers, read-only opens)
    open data files lazily, at the first read that needs each, like the writer.  A reader holds
    a shared ``flock`` on the manifest file of the checkpoint it loaded (``ManifestPin``, taken
    before the manifest is read); the writer deletes a superseded manifest, and the data files
    only it names, only under an exclusive ``flock`` on that manifest (``remove_orphans``).  So
    the files of a checkpoint a reader still reads stay on disk until it lets go (or dies: the
    kernel drops its locks), and deferred files are deleted by a later checkpoint or open.

Names and numbers read from disk (META fields, manifest entries, file names, partition
columns) are all validated before use: a mismatch is a CorruptionError, never a wrong answer,
a file touched outside the database directory or an untyped exception.  All file access goes
through ``storage/io.py``.
"""
from __future__ import annotations

import os
import re
import struct
import threading
import time
from dataclasses import dataclass, replace
from typing import Optional

from .. import core
from ..errors import CorruptionError, OperationalError
from . import faults, files, graph, io, records, wal

META_SLOT = 4096
_META_MAGIC = b"LPGMETA\x00"
_META = struct.Struct("<8sIQ16sQIQQQQ")
_U63 = (1 << 63) - 1
MAX_ID = 1 << 40                 # node and edge ids (native bound)
MAX_MANIFEST = 1 << 30
_MANIFEST_NAME = re.compile(r"MANIFEST-([0-9a-f]{16})\Z")
SUBDIRS = ("wal", "data", "manifest", "tmp")
#: partition files built at once by ``build_files`` (the C builder runs without the GIL and
#: holds the store's lock shared): memory is this many partitions' images and spill runs
BUILD_THREADS = 2


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


def _is_uint(v, limit=_U63) -> bool:
    return type(v) is int and 0 <= v <= limit


def _write_file(dirpath: str, tmpdir: str, name: str, data, written: list) -> None:
    """Write ``data`` as tmp/``name`` (fdatasynced), then rename it into ``dirpath``."""
    tmp = os.path.join(tmpdir, name)
    written.append(tmp)
    io.write_file(tmp, data)
    io.rename(tmp, os.path.join(dirpath, name))
    written[-1] = os.path.join(dirpath, name)


class MetaWriteError(OperationalError):
    """Writing META failed: which checkpoint the file names is unknown until the next open."""


FORMAT = 2            # the manifest format (docs/storage.md "On-disk format 2")


class ManifestPin:
    """A reader's hold on the checkpoint it loaded: a shared flock on its manifest file.

    Taken before the manifest is read.  The writer takes an exclusive flock on a superseded
    manifest before deleting it and the files only it names (``remove_orphans``), and unlinks
    it while holding that lock: so a pin taken on a manifest that is still linked keeps its
    files on disk for as long as the pin is held.  OperationalError (``reason="retired"``) if
    the writer is retiring that checkpoint now; the caller loads the newer one META names.
    Released by ``release`` or when the last object holding it goes (files.MappedFile.guard
    holds it until the file is opened)."""

    __slots__ = ("fd", "path")

    def __init__(self, path: str):
        self.fd = None
        self.path = path
        fd = io.open(path, os.O_RDONLY | io.NOFOLLOW, missing_ok=True)
        if fd is None:
            raise CorruptionError("the manifest META names is missing; restore the database from "
                                  "a backup", path=path)
        try:
            if not io.flock(fd, exclusive=False) or io.fstat(fd).st_nlink == 0:
                raise OperationalError(f"the writer retired the checkpoint {path!r} names while "
                                       f"this reader was opening it; open again", reason="retired")
        except BaseException:
            io.close(fd)
            raise
        self.fd = fd

    def release(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            io.close(fd)            # drops the flock

    def __del__(self):
        try:
            self.release()
        except Exception:   # noqa: BLE001 - interpreter shutdown
            pass


def load_manifest(root: str, meta: Meta) -> dict:
    """The manifest META names, CRC-checked.  A database written by an older version is refused
    with the command that converts it."""
    path = os.path.join(root, "manifest", manifest_name(meta.manifest_seq))
    data = _read_checked(path, meta.manifest_crc, meta.manifest_len)
    man = records.unpack(data, what="manifest", path=path)
    if not isinstance(man, dict):
        raise CorruptionError("malformed manifest", path=path)
    fmt = man.get("format")
    if fmt != FORMAT:
        if fmt == 1:
            raise OperationalError(
                f"the database at {root!r} has storage format version 1 (written by lpgdb 0.1.0); "
                f"this lpgdb reads format {FORMAT}: convert it with `lpgdb upgrade {root}` "
                f"(keep a backup first)", reason="old_format")
        raise OperationalError(
            f"the database at {root!r} has storage format version {fmt!r}, which this lpgdb "
            f"(format {FORMAT}) does not know; open it with the lpgdb version that wrote it, or "
            f"convert it with `lpgdb upgrade {root}` if it is older", reason="unknown_format")
    if man.get("checkpoint_lsn") != meta.checkpoint_lsn:
        raise CorruptionError("malformed manifest: its checkpoint LSN differs from META's; restore "
                              "the database from a backup", path=path)
    for key, limit in (("next_node_id", MAX_ID), ("next_edge_id", MAX_ID), ("commit_seq", _U63),
                       ("last_commit_ns", _U63)):
        if not _is_uint(man.get(key), limit):
            raise CorruptionError(f"malformed manifest: {key} = {man.get(key)!r}; restore the "
                                  f"database from a backup", path=path)
    return man


def _entry(v, path, what):
    if (not isinstance(v, list) or len(v) < 3 or not files.valid_name(v[0])
            or type(v[1]) is not int or type(v[2]) is not int or v[2] <= 0):
        raise CorruptionError(f"malformed manifest: bad {what} entry", path=path)
    return v[0], v[1], v[2]


def _file_entries(man: dict, path=None):
    """``[(kind, key, entry)]`` of every data file a format-2 manifest names, checked."""
    out = []
    try:
        fl = man["files"]
        for p, v in fl["parts"].items():
            if type(p) is not int or not 0 <= p < (core.MAX_ID >> core.PART_SHIFT):
                raise ValueError("partition number")
            out.append(("part", p, _entry(v, path, "partition")))
        for q, v in fl["elocs"].items():
            if type(q) is not int or not 0 <= q < (core.MAX_ID >> core.ELOC_SHIFT):
                raise ValueError("edge range")
            out.append(("eloc", q, _entry(v, path, "edge locator")))
        for index, (nsub, subs) in fl["keys"].items():
            if type(index) is not int or type(nsub) is not int or not 0 <= nsub <= MAX_NSUB_LOG:
                raise ValueError("key index")
            for sub, v in subs.items():
                if type(sub) is not int or not 0 <= sub < (1 << nsub):
                    raise ValueError("sub-index")
                e = _entry(v, path, "key sub-index")
                if len(v) != 4 or type(v[3]) is not int:
                    raise ValueError("sub-index count")
                out.append(("key", (index, nsub, sub), e))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CorruptionError(f"malformed manifest: bad file list ({e})", path=path) from None
    return out


def manifest_files(manifest: Optional[dict]) -> list:
    """``[(relative path, crc32c, size)]`` of the immutable files a manifest names (what a
    backup copies and an archive ships, whatever their format)."""
    if manifest is None:
        return []
    return [(os.path.join("data", e[0]), e[1], e[2]) for _k, _key, e in _file_entries(manifest)]


def load(root: str, meta: Meta, schema_loader, have: Optional[dict] = None, *, lazy: bool = False,
         pin: bool = False):
    """The generation META names: ``(GraphState, manifest)`` (manifest None for a database never
    checkpointed).  Maps the files (sizes and headers checked, blocks lazily) -- or, ``lazy``,
    each at its first use (files.open_files); reuses the files in ``have`` (name ->
    MappedFile).  ``pin`` (a reader beside a writer): the manifest is pinned first
    (``ManifestPin``) and every file not opened yet holds the pin until it is opened.
    O(manifest entries), independent of the graph's size; lazy touches no data file."""
    if meta.manifest_len == 0:
        if meta.checkpoint_lsn:
            raise CorruptionError("META names a checkpoint but no manifest; restore the database "
                                  "from a backup", path=os.path.join(root, "META"))
        cat = graph.Catalog()
        st = graph.GraphState(cat)
        st.schema_loader = schema_loader
        st.manifest = None
        return st, None
    mpath = os.path.join(root, "manifest", manifest_name(meta.manifest_seq))
    guard = ManifestPin(mpath) if pin else None
    man = load_manifest(root, meta)
    cat = graph.Catalog.from_manifest(man, schema_loader, path=mpath)
    return generation(root, meta, man, cat, schema_loader, have, lazy=lazy, guard=guard), man


def generation(root: str, meta: Meta, man: dict, cat, schema_loader, have: Optional[dict] = None,
               *, lazy: bool = False, guard=None):
    """A GraphState over the files of manifest ``man`` with the (checked) catalog ``cat``;
    ``lazy``: its data files are opened at their first use (files.open_files), the ones not
    opened yet holding ``guard`` (a ManifestPin) until then."""
    mpath = os.path.join(root, "manifest", manifest_name(meta.manifest_seq))
    entries = _file_entries(man, mpath)
    key_subs = {}
    for kind, key, _e in entries:
        if kind == "key":
            key_subs[key[0]] = key[1]
    known = {s.index_id for s in cat.all_specs()}
    if not set(key_subs) <= known:
        raise CorruptionError("malformed manifest: key files of an unknown index", path=mpath)
    try:
        propkeys, stats = man["propkeys"], man["stats"]
        if not isinstance(propkeys, list) or not all(type(k) is str for k in propkeys):
            raise ValueError("property keys")
        lcounts, tcounts = stats["labels"], stats["types"]
        if (len(lcounts) != len(cat.label_names) or len(tcounts) != len(cat.type_labels)
                or not all(type(x) is int and x >= 0 for x in lcounts + tcounts)):
            raise ValueError("statistics")
        commit_seq = man["commit_seq"]
        if type(commit_seq) is not int or type(man["checkpoint_lsn"]) is not int:
            raise ValueError("counters")
    except (KeyError, TypeError, ValueError) as e:
        raise CorruptionError(f"malformed manifest: {e}", path=mpath) from None
    mapped = files.open_files(root, [e for _k, _key, e in entries], have, lazy=lazy, guard=guard)
    st = graph.GraphState(cat, files=mapped, base_lsn=meta.checkpoint_lsn, propkeys=propkeys,
                          key_subs=key_subs, counts=(lcounts, tcounts))
    st.schema_loader = schema_loader
    st.manifest = man                  # what a bulk attach record's files replace (engine replay)
    return st


def rewrite_bytes(manifest: Optional[dict], state) -> int:
    """About how many bytes a checkpoint of ``state`` now would write: the current size of every
    partition and edge-range file the overlay changed (new ones count as their overlay's share).
    O(changed files)."""
    st = state.store
    if manifest is None:
        return st.mem()
    fl = manifest["files"]
    total = 0
    for p in st.dirty(core.KIND_PART):
        e = fl["parts"].get(p)
        total += e[2] if e else 0
    for q in st.dirty(core.KIND_ELOC):
        e = fl["elocs"].get(q)
        total += e[2] if e else 0
    return total + st.mem()


MAX_NSUB_LOG = 12
_KEYS_PER_SUB = 1 << 18


def _nsub_for(keys: int, old: int) -> int:
    """Sub-indexes only ever split: the smallest 2^n >= keys / 2^18, at least the old one."""
    n = old
    while n < MAX_NSUB_LOG and (keys >> n) > _KEYS_PER_SUB:
        n += 1
    return n


def write(root: str, state, meta: Meta, manifest: Optional[dict], commit_seq: int,
          last_commit_ns: int = 0) -> tuple:
    """Materialize what changed since the base at ``state.applied_lsn``; switch META.
    Returns ``(meta, manifest)``; the caller starts the next generation (``generation``).

    One file is built in memory at a time (bounded by a partition, an edge-id range or a
    sub-index), written to tmp/, fdatasynced and renamed into data/.  The caller holds the
    writer lock and has synced the WAL up to ``state.applied_lsn``.  A failure before the META
    switch removes what it wrote and leaves everything as it was (OperationalError,
    CorruptionError); a failure writing META raises MetaWriteError.  Removing the files the new
    checkpoint supersedes is the caller's (``remove_orphans``).
    Complexity: O(size of the files rewritten).
    """
    snap = state.applied_lsn
    written: list = []
    try:
        delta = build_files(root, state, snap, manifest, written)
        new_man = merged_manifest(manifest, delta, snap, commit_seq, last_commit_ns)
        mdata = write_manifest(root, meta, new_man, written)
    except BaseException:
        discard(root, meta, manifest, written)
        raise
    return switch(root, meta, new_man, mdata), new_man


def build_files(root: str, state, snap: int, manifest: Optional[dict], written: list, x=None) -> dict:
    """Build, write (tmp/, fdatasync, rename into data/) and fsync data/ for every file the
    overlay of ``state`` changed, read at ``snap`` and named by ``snap``; the names written go
    to ``written``.  Returns the delta a manifest takes (``merged_manifest``): ``files``
    (``parts``/``elocs`` {number: entry}; ``keys`` {index: [nsub_log, fresh, {sub: entry | None}]}),
    the catalog's manifest fields, ``propkeys`` and ``stats``.  Used by checkpoints and by bulk
    attach (whose delta is its log record).  ``x``: a streamed bulk load (stream.py) whose
    spilled edges join each file it touches.  The caller holds the writer lock."""
    cat, st = state.catalog, state.store
    old_files = manifest["files"] if manifest else {"parts": {}, "elocs": {}, "keys": {}}
    parts, elocs, keys = {}, {}, {}
    tmpdir, datadir = os.path.join(root, "tmp"), os.path.join(root, "data")

    def put(name, fb):
        try:
            image = fb.image()
            _write_file(datadir, tmpdir, name, image, written)
            return [name, core.crc32c(image), len(image)]
        finally:
            fb.close()

    try:
        st.register_keys()
        node_hi = cat.next_node_id
        def part(p):
            nslots = min(1 << core.PART_SHIFT, cat.next_node_id - (p << core.PART_SHIFT))
            runs = x.part_runs(p) if x else None
            parts[p] = put(files.part_name(p, snap), st.build_part(snap, p, nslots, runs, node_hi))
        _each(part, sorted(set(st.dirty(core.KIND_PART)) | (x.parts() if x else set())), BUILD_THREADS)
        for q in sorted(set(st.dirty(core.KIND_ELOC)) | (x.elocs() if x else set())):
            nslots = min(1 << core.ELOC_SHIFT, cat.next_edge_id - (q << core.ELOC_SHIFT))
            first, run = (x.eloc_run(q) if x else None) or (0, None)
            elocs[q] = put(files.eloc_name(q, snap), st.build_eloc(snap, q, nslots, first, run, node_hi))
            del run
        keyrun = x.key_run() if x else None
        for spec in cat.all_specs():
            old = old_files["keys"].get(spec.index_id)
            old_nsub, old_subs = (old[0], old[1]) if old else (0, {})
            kb = st.key_builder(snap, spec.index_id, old_nsub, keyrun, node_hi)
            try:
                nsub = _nsub_for(sum(v[3] for v in old_subs.values()) + kb.overlay_entries(), old_nsub)
                kb.resplit(nsub)
                fresh = old is None or nsub != old_nsub
                subs = {}
                for sub in (range(1 << nsub) if fresh else kb.dirty()):
                    fb, n = kb.sub(sub)
                    if n:
                        subs[sub] = put(files.key_name(spec.index_id, nsub, sub, snap), fb) + [n]
                    else:
                        fb.close()
                        if not fresh:
                            subs[sub] = None
            finally:
                kb.close()
            if fresh or subs:
                keys[spec.index_id] = [nsub, fresh, subs]
        del keyrun
        lcounts = [st.label_count(lid, snap) + (x.label_count(lid) if x else 0) for lid in range(len(cat.label_names))]
        tcounts = [st.edge_count([t], snap) + (x.type_count(t) if x else 0) for t in range(len(cat.type_labels))]
        propkeys = st.propkeys()
    except core.Corrupt as e:
        raise (x.corruption(e) if x is not None and e.tag is None else files.corruption(e)) from None
    io.fsync_dir(datadir)
    return {"files": {"parts": parts, "elocs": elocs, "keys": keys}, "catalog": cat.to_manifest(),
            "propkeys": propkeys, "stats": {"labels": lcounts, "types": tcounts}}


def _each(fn, items: list, threads: int) -> None:
    """``fn(item)`` for every item, on the caller's thread and up to ``threads - 1`` more.  After
    a failure (or an interrupt of the caller) no item is started any more; every thread is
    joined before this returns or raises, and an interrupt, else the failure of the earliest
    failed item, is raised (the one a serial loop would meet first, given the same failures)."""
    if threads <= 1 or len(items) <= 1:
        for item in items:
            fn(item)
        return
    todo = iter(enumerate(items))
    lock = threading.Lock()
    errors: dict = {}

    def work() -> None:
        while True:
            with lock:
                nxt = None if errors else next(todo, None)
            if nxt is None:
                return
            try:
                fn(nxt[1])
            except BaseException as e:   # noqa: BLE001 - raised below, on the caller's thread
                with lock:
                    errors[nxt[0]] = e
                return
    helpers = [threading.Thread(target=work, name="lpgdb-build", daemon=True)
               for _ in range(min(threads, len(items)) - 1)]
    for t in helpers:
        t.start()
    work()
    for t in helpers:
        while t.is_alive():
            try:
                t.join()
            except BaseException as e:   # noqa: BLE001 - an interrupt: the helpers stop after their item
                with lock:
                    errors[-1] = e
    if errors:       # an interrupt first, then the earliest item's failure
        raise min(errors.items(), key=lambda kv: (isinstance(kv[1], Exception), kv[0]))[1]


def merged_manifest(manifest: Optional[dict], delta: dict, lsn: int, commit_seq: int,
                    last_commit_ns: int) -> dict:
    """The manifest of checkpoint ``lsn``: ``manifest``'s files with ``delta``'s (from
    ``build_files``, or an attach record) in their place, and ``delta``'s catalog and counts.
    Index files of indexes the catalog no longer lists are dropped.  O(files)."""
    old = manifest["files"] if manifest else {"parts": {}, "elocs": {}, "keys": {}}
    df = delta["files"]
    parts = dict(old["parts"])
    parts.update(df["parts"])
    elocs = dict(old["elocs"])
    elocs.update(df["elocs"])
    cat = delta["catalog"]
    ids = [e[0] for e in cat["indexes"]]
    keys = {}
    for index_id in dict.fromkeys(ids):
        o, d = old["keys"].get(index_id), df["keys"].get(index_id)
        if d is None:
            if o is not None:
                keys[index_id] = o
            continue
        nsub, fresh, subs = d
        cur = {} if fresh or o is None else dict(o[1])
        for sub, e in subs.items():
            if e is None:
                cur.pop(sub, None)
            else:
                cur[sub] = e
        keys[index_id] = [nsub, cur]
    man = {"format": FORMAT, "checkpoint_lsn": lsn, "commit_seq": commit_seq,
           "last_commit_ns": last_commit_ns, **cat, "propkeys": delta["propkeys"],
           "files": {"parts": parts, "elocs": elocs, "keys": keys}, "stats": delta["stats"]}
    if "base" in delta:      # an attach record's: archive.py rule 6 at the next open
        man["attach_from"] = delta["base"]
    return man


def write_manifest(root: str, meta: Meta, new_man: dict, written: list) -> bytes:
    """Write ``new_man`` as the next manifest (tmp/, fdatasync, rename, fsync manifest/)."""
    faults.point("ckpt_after_files")
    mdata = records.pack(new_man)
    _write_file(os.path.join(root, "manifest"), os.path.join(root, "tmp"),
                manifest_name(meta.manifest_seq + 1), mdata, written)
    io.fsync_dir(os.path.join(root, "manifest"))
    faults.point("ckpt_after_manifest")
    return mdata


def discard(root: str, meta: Meta, manifest: Optional[dict], written: list) -> None:
    """After a failure before the META switch: remove the new files of ``written`` (never one
    the current checkpoint names); what cannot be removed is an orphan, removed at the next open."""
    keep = {os.path.basename(rel) for rel, _c, _s in manifest_files(manifest)}
    keep.add(manifest_name(meta.manifest_seq))
    for path in written:
        if os.path.basename(path) not in keep:
            try:
                io.unlink(path, missing_ok=True)
            except OperationalError:
                pass


def switch(root: str, meta: Meta, new_man: dict, mdata: bytes) -> Meta:
    """Make the written manifest ``new_man`` (bytes ``mdata``, sequence ``meta.manifest_seq + 1``)
    the current checkpoint: META's two slots.  MetaWriteError on failure."""
    new_meta = Meta(meta.slot_seq + 1, meta.uuid, meta.manifest_seq + 1, core.crc32c(mdata), len(mdata),
                    new_man["checkpoint_lsn"], meta.seg_size, meta.created_ns)
    try:
        new_meta = write_meta_pair(os.path.join(root, "META"), new_meta)
    except OperationalError as e:
        raise MetaWriteError(f"could not write META to finish a checkpoint ({e}); reopen the "
                             f"database", reason=e.reason) from e
    faults.point("ckpt_after_meta")
    return new_meta


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
    interrupted writes).  Only names lpgdb writes are touched, and only regular files.

    A superseded manifest a reader pins (``ManifestPin``: our exclusive flock fails) is kept,
    and so is every data file it names; the others are unlinked while we hold their exclusive
    lock, before the data files (a crash in between leaves data files no manifest names, which
    the next call deletes; never a manifest a reader could pin whose files are gone).  A
    pinned manifest that cannot be read keeps every data file this time.
    O(files in data/ + superseded manifests)."""
    keep = {os.path.basename(rel) for rel, _crc, _size in manifest_files(manifest)}
    current = manifest_name(meta.manifest_seq)
    mdir = os.path.join(root, "manifest")
    retired = []              # (path, fd holding the exclusive lock) of manifests to delete
    keep_all = False
    try:
        if io.is_real_dir(mdir):
            for name in io.listdir(mdir):
                path = os.path.join(mdir, name)
                if _MANIFEST_NAME.match(name) is None or name == current or io.is_real_dir(path):
                    continue
                fd = io.open(path, os.O_RDONLY | io.NOFOLLOW, missing_ok=True)
                if fd is None:
                    continue
                if io.flock(fd, exclusive=True):
                    retired.append((path, fd))
                    continue
                io.close(fd)          # a reader still reads that checkpoint: keep its files
                try:
                    pinned = records.unpack(io.read_file(path), what="manifest", path=path)
                    keep |= {os.path.basename(rel) for rel, _c, _s in manifest_files(pinned)}
                except (CorruptionError, OperationalError, AttributeError, TypeError):
                    keep_all = True
        for path, _fd in retired:
            io.unlink(path, missing_ok=True)
        for sub, ours in (("data", lambda n: n.endswith(".lpg") and n not in keep and not keep_all),
                          ("tmp", lambda n: True)):
            d = os.path.join(root, sub)
            if not io.is_real_dir(d):
                continue
            for name in io.listdir(d):
                path = os.path.join(d, name)
                if ours(name) and not io.is_real_dir(path):
                    io.unlink(path, missing_ok=True)
    finally:
        for _path, fd in retired:
            io.close(fd)


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


def fill_image(root: str, meta: Meta, manifest: Optional[dict], into: str, extra=()) -> None:
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
    files += [os.path.join("data", name) for name in extra]   # a follower's attached files
    for rel in files:
        io.link_or_copy(os.path.join(root, rel), os.path.join(into, rel))


def initial_meta(uuid: bytes, seg_size: int) -> Meta:
    return Meta(0, uuid, 0, 0, 0, 0, seg_size, time.time_ns())
