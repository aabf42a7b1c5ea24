"""The ONLY importer of the compiled cffi module ``lpgdb._native``.

Wraps the C core in small Python classes, converts status codes into lpgdb errors through one
table, and keeps C handles safe: a freed handle is replaced by None so later use raises
InterfaceError instead of handing NULL to C.

Classes over the multi-version in-memory indexes of native/ (lpgdb.h documents each C call):

    Adjacency    edges (type, src, dst) + out/in adjacency as CSR base + per-node delta (adj.c)
    KeyIndex     (index id, key bytes) -> node ids, open-addressing hash (keyidx.c)
    LabelIndex   label id -> ascending node ids, paged sorted arrays (labelidx.c)

Every entry carries LSNs ``begin``/``end`` and is visible to a reader at ``snap`` iff
``begin <= snap < end`` (``end == LSN_INF`` while live).  Invariants owned here:
  (1) one writer at a time (the engine serialises writes); reads may come from any thread at
      the same time: the C side takes a per-structure rwlock with the GIL released, and the
      output buffers reused between calls are per thread (``_Scratch``);
  (2) every failure is a typed lpgdb error: bad ids, lengths and argument types raise
      InterfaceError, a missing entry NotFoundError, a duplicate IntegrityError, a failed
      ``check()`` InternalError, use after ``close()`` InterfaceError; cffi's TypeError and
      OverflowError never escape;
  (3) ``types`` filters are None (any type) or a sequence of ints; an empty sequence matches
      nothing.  Sequences in are lists, tuples or ``array('Q')``/``array('I')`` (zero copy).
  (4) gc(min_snap) is only safe when no reader uses a snapshot older than min_snap.
"""
from __future__ import annotations

import itertools
import sys
import threading
import weakref
from array import array
from itertools import accumulate

import msgpack

from . import errors

try:
    from ._native import ffi, lib
except ImportError as e:  # pragma: no cover - only on a broken install
    raise ImportError(
        "lpgdb's native core (lpgdb._native) is not built; install with `pip install -e .` "
        f"(needs a C compiler and the Python headers): {e}") from e

__all__ = ["crc32c", "check", "LSN_INF", "Adjacency", "KeyIndex", "LabelIndex", "File", "FileBuilder",
           "Store", "KeyBuilder", "Corrupt", "key_hash"]

_STATUS = {
    lib.LPG_EINVAL: errors.InterfaceError,
    lib.LPG_EBOUNDS: errors.InterfaceError,
    lib.LPG_ENOMEM: errors.OperationalError,  # "out of memory": a resource limit, not a bug
    lib.LPG_ECORRUPT: errors.CorruptionError,
    lib.LPG_ENOTFOUND: errors.NotFoundError,
    lib.LPG_EEXIST: errors.IntegrityError,
}


KEY_MAX = 65536        # longest key the native KeyIndex holds (LPG_KEY_MAX in native/lpgdb.h)
MAX_ID = 1 << 40       # node and edge ids the native structures accept (ids < 2^40)


def check(rc: int, what: str = "native call") -> int:
    """Return ``rc`` when it is a success (>= 0); raise the mapped lpgdb error otherwise."""
    if rc >= 0:
        return rc
    text = ffi.string(lib.lpg_strerror(rc)).decode()
    exc = _STATUS.get(rc)
    if exc is None:
        raise errors.InternalError(f"{what}: unexpected status {rc} ({text})")
    raise exc(f"{what}: {text}")


def crc32c(data, crc: int = 0) -> int:
    """CRC32C of a bytes-like object, continuing from ``crc``. O(len(data))."""
    try:
        buf = ffi.from_buffer(data)
        return lib.lpg_crc32c(crc, buf, len(buf))
    except (TypeError, OverflowError) as e:
        raise errors.InterfaceError(f"crc32c(data, crc): data must be bytes-like and crc an int in "
                                    f"0..2**32-1 ({e})") from None


# ---- multi-version indexes --------------------------------------------------------------------

KEY_MAX = lib.LPG_KEY_MAX   # longest key the native indexes hold
# Store.keys_fresh verdicts
KEYS_FRESH, KEYS_TWICE, KEYS_HELD, KEYS_PYTHON = (lib.LPG_KEYS_FRESH, lib.LPG_KEYS_TWICE, lib.LPG_KEYS_HELD,
                                                  lib.LPG_KEYS_PYTHON)
MAX_ID = 1 << 40            # node and edge ids the native structures accept (ids < 2^40)

LSN_INF = 2**64 - 1
"""The ``end`` LSN of a live entry; a snapshot at LSN ``snap`` sees ``begin <= snap < end``."""

_DIRECTIONS = {"out": 0, "in": 1, "both": 2}
# hot C entry points and codes, bound once (attribute lookups on lib cost per call)
_adj_expand = lib.lpg_adj_expand
_adj_degree_many = lib.lpg_adj_degree_many
_adj_get = lib.lpg_adj_get
_keyidx_get = lib.lpg_keyidx_get
_labels_has = lib.lpg_labels_has
_ETOOSMALL = lib.LPG_ETOOSMALL
_ENOTFOUND = lib.LPG_ENOTFOUND
KEY_ID_OVERLAY = lib.LPG_KEY_ID_OVERLAY       # store_key_id_*: added to the id of an overlay version


def degree_args(direction: str, types) -> tuple:
    """``(direction code, types pointer, count)``: store_degree_of's arguments after the node id
    for ``direction`` and the type filter ``types`` (None = any); InterfaceError for a bad
    direction.  The tuple keeps the C array alive."""
    tp, nt = _types(None if types is None else tuple(types))
    return _direction(direction), tp, nt
_NO_TYPES = (ffi.NULL, 0)
_NULL = ffi.NULL
_TYPES_CACHE_MAX = 512
_types_cache: dict = {}


def _bad_arg(what: str, e: Exception) -> errors.InterfaceError:
    return errors.InterfaceError(f"{what}: bad argument ({e})")


def _direction(direction) -> int:
    try:
        return _DIRECTIONS[direction]
    except (KeyError, TypeError):
        raise errors.InterfaceError(
            f"direction must be 'out', 'in' or 'both', not {direction!r}") from None


def _types(types):
    """(uint32_t* or NULL, count) for a type filter; None means any type. Cached per tuple."""
    if types is None:
        return _NO_TYPES
    key = types if type(types) is tuple else tuple(types)
    hit = _types_cache.get(key)
    if hit is None:
        try:
            hit = (ffi.new("uint32_t[]", key), len(key))
        except (TypeError, OverflowError) as e:
            raise errors.InterfaceError(f"types must be ints in 0..2**32-1: {e}") from e
        if len(_types_cache) >= _TYPES_CACHE_MAX:
            _types_cache.clear()
        _types_cache[key] = hit
    return hit


def _u64_array(seq, what: str):
    """A uint64_t[] view of seq: zero-copy for array('Q') and memoryview('Q'), else a fresh C array."""
    try:
        if getattr(seq, "typecode", None) == "Q" or (type(seq) is memoryview and seq.format == "Q"):
            return ffi.from_buffer("uint64_t[]", seq), len(seq)
        if type(seq) is not list and type(seq) is not tuple:
            seq = list(seq)
        return ffi.new("uint64_t[]", seq), len(seq)
    except (TypeError, OverflowError) as e:
        raise errors.InterfaceError(f"{what} must be ints in 0..2**64-1: {e}") from e


def _u32_array(seq, what: str):
    try:
        if (getattr(seq, "typecode", None) == "I" or (type(seq) is memoryview and seq.format == "I")) \
                and seq.itemsize == 4:
            return ffi.from_buffer("uint32_t[]", seq), len(seq)
        if type(seq) is not list and type(seq) is not tuple:
            seq = list(seq)
        return ffi.new("uint32_t[]", seq), len(seq)
    except (TypeError, OverflowError) as e:
        raise errors.InterfaceError(f"{what} must be ints in 0..2**32-1: {e}") from e


class _Scratch(threading.local):
    """Per-thread output buffers of one handle: calls may come from several threads at once."""

    def __init__(self):
        self.node = ffi.new("uint64_t[1]")
        self.u64 = ffi.new("uint64_t[1]")
        self.size = ffi.new("size_t[1]")
        self.u32 = ffi.new("uint32_t[1]")
        self.src = ffi.new("uint64_t[1]")
        self.dst = ffi.new("uint64_t[1]")
        self.flag = ffi.new("int[1]")
        self.cap = 0
        self.ensure(256)

    def ensure(self, cap: int) -> None:
        """Grow the expansion buffers (nbr, eid, from) to at least cap entries."""
        if cap > self.cap:
            cap = max(cap, 2 * self.cap, 256)
            self.nbr = ffi.new("uint64_t[]", cap)
            self.eid = ffi.new("uint64_t[]", cap)
            self.frm = ffi.new("uint32_t[]", cap)
            self.cap = cap


class _Native:
    """Owns one C handle: ffi.gc frees it as a safety net, close() frees it at once."""

    _kind = "native handle"

    def __init__(self, new, free):
        out = ffi.new(self._ptr_type)
        check(new(out), f"{self._kind}: new")
        self._h = ffi.gc(out[0], free)
        self._s = _Scratch()

    def _closed(self):
        return errors.InterfaceError(f"{self._kind} is closed")

    def close(self) -> None:
        """Free the C structure now. Later calls raise InterfaceError. Idempotent."""
        h, self._h = self._h, None
        if h is not None:
            ffi.release(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Adjacency(_Native):
    """Edges and their adjacency (CSR + delta per direction), multi-versioned; see native/adj.c.

    Writes come from one writer at a time; reads may run concurrently in other threads (the C
    side holds a rwlock and the GIL is released during calls). Ids are ints in 0..2**40-1.
    """

    _kind = "Adjacency"
    _ptr_type = "lpg_adj **"

    def __init__(self):
        super().__init__(lib.lpg_adj_new, lib.lpg_adj_free)

    def add(self, eid, type_id, src, dst, lsn) -> None:
        """Add edge ``eid`` (type_id, src -> dst) visible from ``lsn``. IntegrityError if held."""
        h = self._h
        if h is None:
            raise self._closed()
        try:
            rc = lib.lpg_adj_add(h, eid, type_id, src, dst, lsn)
        except (TypeError, OverflowError) as e:
            raise _bad_arg("Adjacency.add", e) from e
        if rc:
            check(rc, f"Adjacency.add(eid={eid})")

    def add_many(self, eids, types, srcs, dsts, lsn) -> None:
        """Add many edges at once (all or nothing); the bulk path builds CSR directly."""
        h = self._h
        if h is None:
            raise self._closed()
        e, n = _u64_array(eids, "eids")
        t, nt = _u32_array(types, "types")
        s, ns = _u64_array(srcs, "srcs")
        d, nd = _u64_array(dsts, "dsts")
        if not n == nt == ns == nd:
            raise errors.InterfaceError("add_many: eids, types, srcs and dsts differ in length")
        try:
            rc = lib.lpg_adj_add_many(h, e, t, s, d, n, lsn)
        except (TypeError, OverflowError) as e:
            raise _bad_arg("Adjacency.add_many", e) from e
        if rc:
            check(rc, "Adjacency.add_many")

    def remove(self, eid, lsn) -> None:
        """End the live edge ``eid`` at ``lsn``. NotFoundError if it is not live."""
        h = self._h
        if h is None:
            raise self._closed()
        try:
            rc = lib.lpg_adj_remove(h, eid, lsn)
        except (TypeError, OverflowError) as e:
            raise _bad_arg("Adjacency.remove", e) from e
        if rc:
            check(rc, f"Adjacency.remove(eid={eid})")

    def get(self, eid, snap):
        """(type, src, dst) of ``eid`` if visible at ``snap``, else None. O(1)."""
        h = self._h
        if h is None:
            raise self._closed()
        s = self._s
        try:
            rc = _adj_get(h, eid, snap, s.u32, s.src, s.dst)
        except (TypeError, OverflowError) as e:
            raise _bad_arg("Adjacency.get", e) from e
        if rc == 0:
            return s.u32[0], s.src[0], s.dst[0]
        if rc == _ENOTFOUND:
            return None
        check(rc, "Adjacency.get")

    def get_many(self, eids, snap):
        """Batched get: (types, srcs, dsts) lists aligned with ``eids``; type -1 (and src/dst 0)
        where the edge is not visible at ``snap``. O(len(eids)), one C call."""
        h = self._h
        if h is None:
            raise self._closed()
        arr, n = _u64_array(eids, "eids")
        t, s_, d = ffi.new("int64_t[]", n), ffi.new("uint64_t[]", n), ffi.new("uint64_t[]", n)
        try:
            rc = lib.lpg_adj_get_many(h, arr, n, snap, t, s_, d)
        except (TypeError, OverflowError) as e:
            raise _bad_arg("Adjacency.get_many", e) from e
        if rc:
            check(rc, "Adjacency.get_many")
        return ffi.unpack(t, n), ffi.unpack(s_, n), ffi.unpack(d, n)

    def _expand(self, nodes_ptr, n, direction, types, snap):
        """Run lpg_adj_expand into the per-thread buffers; returns (scratch, count)."""
        h = self._h
        if h is None:
            raise self._closed()
        d = _direction(direction)
        tp, nt = _types(types)
        s = self._s
        while True:
            try:
                rc = lib.lpg_adj_expand(h, nodes_ptr, n, d, tp, nt, snap, s.nbr, s.eid, s.frm,
                                        s.cap, s.size)
            except (TypeError, OverflowError) as e:
                raise _bad_arg("Adjacency.expand", e) from e
            if rc == 0:
                return s, s.size[0]
            if rc != lib.LPG_ETOOSMALL:
                check(rc, "Adjacency.expand")
            s.ensure(s.size[0])

    def expand(self, nodes, direction, types, snap):
        """1-hop expansion of a frontier: (nbrs, eids, from_index), from_index into ``nodes``.

        Complexity: O(sum of degrees of nodes).
        """
        if types is not None and len(types) == 0:
            return [], [], []
        arr, n = _u64_array(nodes, "nodes")
        s, k = self._expand(arr, n, direction, types, snap)
        return ffi.unpack(s.nbr, k), ffi.unpack(s.eid, k), ffi.unpack(s.frm, k)

    def _expand_one(self, node, direction, types, snap):
        """lpg_adj_expand of the single node into the per-thread buffers: (scratch, count).

        The hot path of neighbors()/edges(): one C call, no allocation.
        """
        h = self._h
        if h is None:
            raise self._closed()
        s = self._s
        try:
            s.node[0] = node
            tp, nt = _NO_TYPES if types is None else _types(types)
            rc = _adj_expand(h, s.node, 1, _DIRECTIONS[direction], tp, nt, snap,
                             s.nbr, s.eid, s.frm, s.cap, s.size)
        except (TypeError, OverflowError, KeyError) as e:
            _direction(direction)
            raise _bad_arg("Adjacency", e) from e
        if rc:
            if rc != _ETOOSMALL:
                check(rc, "Adjacency.expand")
            return self._expand(s.node, 1, direction, types, snap)
        return s, s.size[0]

    def neighbors(self, node, direction, types, snap) -> list:
        """Neighbour ids of ``node`` (one per edge, so repeated for parallel edges).

        Complexity: O(deg(node)).
        """
        if types is not None and not types:
            return []
        s, k = self._expand_one(node, direction, types, snap)
        return ffi.unpack(s.nbr, k)

    def edges(self, node, direction, types, snap) -> list:
        """(eid, neighbour) pairs of ``node``. Complexity: O(deg(node))."""
        if types is not None and not types:
            return []
        s, k = self._expand_one(node, direction, types, snap)
        return list(zip(ffi.unpack(s.eid, k), ffi.unpack(s.nbr, k)))

    def degree(self, node, direction, types, snap) -> int:
        """Number of visible edges of ``node`` (a self-loop counts once for "both")."""
        h = self._h
        if h is None:
            raise self._closed()
        if types is not None and len(types) == 0:
            return 0
        s = self._s
        try:
            s.node[0] = node
            tp, nt = _NO_TYPES if types is None else _types(types)
            rc = _adj_degree_many(h, s.node, 1, _DIRECTIONS[direction], tp, nt, snap, s.u64)
        except (TypeError, OverflowError, KeyError) as e:
            _direction(direction)
            raise _bad_arg("Adjacency.degree", e) from e
        if rc:
            check(rc, "Adjacency.degree")
        return s.u64[0]

    def degree_many(self, nodes, direction, types, snap) -> list:
        """Degrees of many nodes in one call. O(sum of degrees)."""
        h = self._h
        if h is None:
            raise self._closed()
        arr, n = _u64_array(nodes, "nodes")
        if types is not None and len(types) == 0:
            return [0] * n
        d = _direction(direction)
        tp, nt = _types(types)
        out = ffi.new("uint64_t[]", n)
        try:
            rc = lib.lpg_adj_degree_many(h, arr, n, d, tp, nt, snap, out)
        except (TypeError, OverflowError) as e:
            raise _bad_arg("Adjacency.degree_many", e) from e
        if rc:
            check(rc, "Adjacency.degree_many")
        return ffi.unpack(out, n)

    def count_reach(self, seed, hops, direction, types, snap, exclude_seed=True) -> int:
        """Distinct nodes at the end of walks of exactly ``hops`` edges from ``seed``."""
        h = self._h
        if h is None:
            raise self._closed()
        d = _direction(direction)
        if types is not None and len(types) == 0:
            return 1 if hops == 0 and not exclude_seed else 0
        tp, nt = _types(types)
        s = self._s
        try:
            rc = lib.lpg_adj_count_reach(h, seed, hops, d, tp, nt, snap, bool(exclude_seed), s.u64)
        except (TypeError, OverflowError) as e:
            raise _bad_arg("Adjacency.count_reach", e) from e
        if rc:
            check(rc, "Adjacency.count_reach")
        return s.u64[0]

    def scan(self, types, snap) -> list:
        """Ids of all visible edges of the given types, ascending. O(edges held)."""
        h = self._h
        if h is None:
            raise self._closed()
        if types is not None and len(types) == 0:
            return []
        tp, nt = _types(types)
        s = self._s
        cap = 1024
        while True:
            out = ffi.new("uint64_t[]", cap)
            try:
                rc = lib.lpg_adj_scan(h, tp, nt, snap, out, cap, s.size)
            except (TypeError, OverflowError) as e:
                raise _bad_arg("Adjacency.scan", e) from e
            if rc == 0:
                return ffi.unpack(out, s.size[0])
            if rc != lib.LPG_ETOOSMALL:
                check(rc, "Adjacency.scan")
            cap = s.size[0]

    def count(self, types, snap) -> int:
        """Number of visible edges of the given types. O(edges held)."""
        h = self._h
        if h is None:
            raise self._closed()
        if types is not None and len(types) == 0:
            return 0
        tp, nt = _types(types)
        s = self._s
        try:
            rc = lib.lpg_adj_count(h, tp, nt, snap, s.u64)
        except (TypeError, OverflowError) as e:
            raise _bad_arg("Adjacency.count", e) from e
        if rc:
            check(rc, "Adjacency.count")
        return s.u64[0]

    def gc(self, min_snap) -> None:
        """Drop edges with end <= min_snap (no reader may use an older snapshot)."""
        h = self._h
        if h is None:
            raise self._closed()
        try:
            rc = lib.lpg_adj_gc(h, min_snap)
        except (TypeError, OverflowError) as e:
            raise _bad_arg("Adjacency.gc", e) from e
        check(rc, "Adjacency.gc")

    def compact(self) -> None:
        """Fold the per-node deltas into the CSR bases. O(edges + nodes)."""
        h = self._h
        if h is None:
            raise self._closed()
        check(lib.lpg_adj_compact(h), "Adjacency.compact")

    def stats(self) -> dict:
        """{"held", "delta", "nodes", "bytes"}: edges held (live or awaiting gc), delta entries
        of both directions (what compact() folds), 1 + largest node id, heap bytes. O(nodes)."""
        h = self._h
        if h is None:
            raise self._closed()
        out = ffi.new("uint64_t[4]")
        check(lib.lpg_adj_stats(h, out, out + 1, out + 2, out + 3), "Adjacency.stats")
        return dict(zip(("held", "delta", "nodes", "bytes"), out))

    def check(self) -> None:
        """Verify every invariant of the C structure; InternalError if one fails."""
        _invariants(self, lib.lpg_adj_check)


def _invariants(obj, fn) -> None:
    h = obj._h
    if h is None:
        raise obj._closed()
    rc = fn(h)
    if rc == lib.LPG_ECORRUPT:
        raise errors.InternalError(f"{obj._kind}: invariant check failed")
    check(rc, f"{obj._kind}.check")


def _key_bytes(key, what: str):
    if type(key) is bytes:
        return key  # cffi passes bytes to a const uint8_t * parameter without a copy
    try:
        return ffi.from_buffer(key)
    except TypeError as e:
        raise errors.InterfaceError(f"{what}: key must be bytes-like, not {type(key).__name__}") from e


class KeyIndex(_Native):
    """Versioned hash index (index id, key bytes) -> node ids; see native/keyidx.c.

    Keys are opaque bytes (at most 65536); several nodes may share a key.
    """

    _kind = "KeyIndex"
    _ptr_type = "lpg_keyidx **"

    def __init__(self):
        super().__init__(lib.lpg_keyidx_new, lib.lpg_keyidx_free)

    def put(self, index, key, node, lsn) -> None:
        """Add ``node`` under (index, key) from ``lsn``. IntegrityError if already live there."""
        h = self._h
        if h is None:
            raise self._closed()
        kb = _key_bytes(key, "KeyIndex.put")
        try:
            rc = lib.lpg_keyidx_put(h, index, kb, len(kb), node, lsn)
        except (TypeError, OverflowError) as e:
            raise _bad_arg("KeyIndex.put", e) from e
        if rc:
            check(rc, "KeyIndex.put")

    def delete(self, index, key, node, lsn) -> None:
        """End the live version of ``node`` under (index, key). NotFoundError if none."""
        h = self._h
        if h is None:
            raise self._closed()
        kb = _key_bytes(key, "KeyIndex.delete")
        try:
            rc = lib.lpg_keyidx_del(h, index, kb, len(kb), node, lsn)
        except (TypeError, OverflowError) as e:
            raise _bad_arg("KeyIndex.delete", e) from e
        if rc:
            check(rc, "KeyIndex.delete")

    def get(self, index, key, snap) -> list:
        """Nodes under (index, key) visible at ``snap``, ascending. O(1 + len(key) + matches)."""
        h = self._h
        if h is None:
            raise self._closed()
        kb = key if type(key) is bytes else _key_bytes(key, "KeyIndex.get")
        s = self._s
        while True:
            try:
                rc = _keyidx_get(h, index, kb, len(kb), snap, s.nbr, s.cap, s.size)
            except (TypeError, OverflowError) as e:
                raise _bad_arg("KeyIndex.get", e) from e
            if rc == 0:
                return ffi.unpack(s.nbr, s.size[0])
            if rc != lib.LPG_ETOOSMALL:
                check(rc, "KeyIndex.get")
            s.ensure(s.size[0])

    def get_first_many(self, index, keys, snap) -> list:
        """For each key, the smallest node visible at ``snap`` under (index, key), or -1.

        Complexity: O(len(keys) + total key bytes), one C call.
        """
        h = self._h
        if h is None:
            raise self._closed()
        try:
            blob = b"".join(keys)
            offsets = array("Q", [0])
            offsets.extend(accumulate(map(len, keys)))
        except TypeError as e:
            raise errors.InterfaceError(
                f"KeyIndex.get_first_many: keys must be a sequence of bytes: {e}") from e
        n = len(offsets) - 1
        out = ffi.new("int64_t[]", n)
        try:
            rc = lib.lpg_keyidx_get_first_many(h, index, blob, len(blob),
                                               ffi.from_buffer("uint64_t[]", offsets), n, snap, out)
        except (TypeError, OverflowError) as e:
            raise _bad_arg("KeyIndex.get_first_many", e) from e
        if rc:
            check(rc, "KeyIndex.get_first_many")
        return ffi.unpack(out, n)

    def drop(self, index) -> None:
        """Physically remove every key of ``index`` (all versions). O(table size)."""
        h = self._h
        if h is None:
            raise self._closed()
        try:
            rc = lib.lpg_keyidx_drop(h, index)
        except (TypeError, OverflowError) as e:
            raise _bad_arg("KeyIndex.drop", e) from e
        check(rc, "KeyIndex.drop")

    def gc(self, min_snap) -> None:
        """Drop versions with end <= min_snap, and keys left empty."""
        h = self._h
        if h is None:
            raise self._closed()
        try:
            rc = lib.lpg_keyidx_gc(h, min_snap)
        except (TypeError, OverflowError) as e:
            raise _bad_arg("KeyIndex.gc", e) from e
        check(rc, "KeyIndex.gc")

    def __len__(self) -> int:
        """Number of (index, key) pairs held, with any version."""
        h = self._h
        if h is None:
            raise self._closed()
        check(lib.lpg_keyidx_size(h, self._s.u64), "KeyIndex.size")
        return self._s.u64[0]

    def check(self) -> None:
        """Verify every invariant of the C structure; InternalError if one fails."""
        _invariants(self, lib.lpg_keyidx_check)


class LabelIndex(_Native):
    """Versioned label id -> set of node ids; see native/labelidx.c."""

    _kind = "LabelIndex"
    _ptr_type = "lpg_labels **"

    def __init__(self):
        super().__init__(lib.lpg_labels_new, lib.lpg_labels_free)

    def add(self, label, node, lsn) -> None:
        """Put ``node`` in ``label`` from ``lsn``. IntegrityError if it is already live there."""
        h = self._h
        if h is None:
            raise self._closed()
        try:
            rc = lib.lpg_labels_add(h, label, node, lsn)
        except (TypeError, OverflowError) as e:
            raise _bad_arg("LabelIndex.add", e) from e
        if rc:
            check(rc, "LabelIndex.add")

    def add_many(self, label, nodes, lsn) -> None:
        """Put every node of ``nodes`` in ``label`` from ``lsn``, all or nothing (IntegrityError
        if one is already live there or repeats). Ascending ids append at page ends."""
        h = self._h
        if h is None:
            raise self._closed()
        arr, n = _u64_array(nodes, "nodes")
        try:
            rc = lib.lpg_labels_add_many(h, label, arr, n, lsn)
        except (TypeError, OverflowError) as e:
            raise _bad_arg("LabelIndex.add_many", e) from e
        if rc:
            check(rc, "LabelIndex.add_many")

    def remove(self, label, node, lsn) -> None:
        """End ``node``'s live membership of ``label`` at ``lsn``. NotFoundError if none."""
        h = self._h
        if h is None:
            raise self._closed()
        try:
            rc = lib.lpg_labels_remove(h, label, node, lsn)
        except (TypeError, OverflowError) as e:
            raise _bad_arg("LabelIndex.remove", e) from e
        if rc:
            check(rc, "LabelIndex.remove")

    def scan(self, label, snap) -> list:
        """Nodes of ``label`` visible at ``snap``, ascending. O(versions of the label)."""
        h = self._h
        if h is None:
            raise self._closed()
        s = self._s
        while True:
            try:
                rc = lib.lpg_labels_scan(h, label, snap, s.nbr, s.cap, s.size)
            except (TypeError, OverflowError) as e:
                raise _bad_arg("LabelIndex.scan", e) from e
            if rc == 0:
                return ffi.unpack(s.nbr, s.size[0])
            if rc != lib.LPG_ETOOSMALL:
                check(rc, "LabelIndex.scan")
            s.ensure(s.size[0])

    def count(self, label, snap) -> int:
        """Number of nodes of ``label`` visible at ``snap``."""
        h = self._h
        if h is None:
            raise self._closed()
        s = self._s
        try:
            rc = lib.lpg_labels_count(h, label, snap, s.u64)
        except (TypeError, OverflowError) as e:
            raise _bad_arg("LabelIndex.count", e) from e
        if rc:
            check(rc, "LabelIndex.count")
        return s.u64[0]

    def has(self, label, node, snap) -> bool:
        """Whether ``node`` is in ``label`` at ``snap``. O(log 1024)."""
        h = self._h
        if h is None:
            raise self._closed()
        out = self._s.flag
        try:
            rc = _labels_has(h, label, node, snap, out)
        except (TypeError, OverflowError) as e:
            raise _bad_arg("LabelIndex.has", e) from e
        if rc:
            check(rc, "LabelIndex.has")
        return out[0] == 1

    def gc(self, min_snap) -> None:
        """Drop versions with end <= min_snap."""
        h = self._h
        if h is None:
            raise self._closed()
        try:
            rc = lib.lpg_labels_gc(h, min_snap)
        except (TypeError, OverflowError) as e:
            raise _bad_arg("LabelIndex.gc", e) from e
        check(rc, "LabelIndex.gc")

    def check(self) -> None:
        """Verify every invariant of the C structure; InternalError if one fails."""
        _invariants(self, lib.lpg_labels_check)


# ---- files, the store and its builders (file.c, store.c, build.c) ---------------------------------

NODE_DELETED = 2**32 - 1
"""The label-set id that deletes a node in Store.node_put."""
KIND_PART, KIND_KEYS, KIND_ELOC = 1, 2, 3
PART_SHIFT, ELOC_SHIFT = 17, 20

_store_node = lib.lpg_store_node
_store_node_lset = lib.lpg_store_node_lset
_store_edge = lib.lpg_store_edge
_store_expand = lib.lpg_store_expand
_store_degree_many = lib.lpg_store_degree_many
_store_key_get = lib.lpg_store_key_get
_store_key_node = lib.lpg_store_key_node
_store_node_ver = lib.lpg_store_node_ver
_store_degree1 = lib.lpg_store_degree1
_store_key1 = lib.lpg_store_key1
_store_key1i = lib.lpg_store_key1i
_store_key1i_is = lib.lpg_store_key1i_is
_store_key1s_is = lib.lpg_store_key1s_is
NO_NODE = 2**64 - 1
"""``Store.key1_is``'s node id for "no node under the key"."""
_store_degree_of = lib.lpg_store_degree_of
# The hot point reads, called straight by storage/view.py's PinnedReads with a Store's handle
# (``Store.handle``): one native call each, answered in the return value (no out buffer).
store_key_id_int = lib.lpg_store_key_id_int      # (h, index, ival, snap) -> id | negative status
store_key_id_str = lib.lpg_store_key_id_str      # (h, index, utf8, len, snap) -> id | negative status
store_degree_of = lib.lpg_store_degree_of        # (h, nid, dir code, types, ntypes, snap) -> degree | status
store_key1i_is = _store_key1i_is                  # (h, index, snap, ival, nid, ver) -> 1 | 0 | status:
                                                  # Store.key1_is of an int64 (view.PointRead)
store_point1 = lib.lpg_store_point1               # (h, PointQuery.c, kind, ival, utf8, len, snap)
                                                  # -> the thread's lpg_point_res (view.PointRead)
store_point1i = lib.lpg_store_point1i             # (h, PointQuery.c, ival, snap): of an int64
ETOOSMALL = lib.LPG_ETOOSMALL
ENOTFOUND = lib.LPG_ENOTFOUND
_KEY1_CAP = 8          # ids a point lookup returns without a second call
_ECORRUPT = lib.LPG_ECORRUPT


def last_corrupt():
    """(tag, offset) of the calling thread's last corruption found in a file (tag None if none)."""
    out = ffi.new("uint64_t[2]")
    lib.lpg_last_corrupt(out, out + 1)
    return (None if out[0] == 2**64 - 1 else out[0]), out[1]


class Corrupt(Exception):
    """Raised by the wrappers below for LPG_ECORRUPT from a file; storage turns it into a
    CorruptionError naming the file (tag = the caller's file id) and offset."""

    def __init__(self, what, tag, offset):
        super().__init__(what)
        self.what, self.tag, self.offset = what, tag, offset


def _fcheck(rc: int, what: str) -> int:
    if rc == _ECORRUPT:
        tag, off = last_corrupt()
        raise Corrupt(what, tag, off)
    return check(rc, what)


check_read = _fcheck
"""``check`` for a read of base files: ``Corrupt`` (storage names the file) for damage."""


_key1_out = ffi.new("uint8_t[]", 70_000)
_key1_len = ffi.new("size_t *")
_key1_chars = ffi.cast("char *", _key1_out)
_mp_key1 = lib.lpg_mp_key1
_EINVAL = lib.LPG_EINVAL


def key1(props: bytes, name: bytes):
    """The canonical key bytes of a one-property index read straight from stored property bytes:
    bytes, None when the map lacks the property, or False when its value needs decoding
    (not an int or a str).  Not thread-safe (the writer's prepare uses it)."""
    rc = _mp_key1(props, len(props), name, len(name), _key1_out, 70_000, _key1_len)
    if rc == 0:
        return ffi.unpack(_key1_chars, _key1_len[0])
    if rc == _ENOTFOUND:
        return None
    if rc == _EINVAL or rc == _ETOOSMALL:
        return False
    raise errors.CorruptionError("a stored property map is malformed")


POINT_NAMES = lib.LPG_POINT_NAMES
"""The most properties a ``PointQuery`` projects (its answer is one msgpack fixarray)."""


class PointQuery:
    """A point read's projection for ``store_point1``: key index ``index`` and the property
    ``names`` (str) the query returns; ``c`` is the ``lpg_pointq`` the C side reads.  ValueError
    for more than ``POINT_NAMES`` names or a name that is not UTF-8."""

    __slots__ = ("c", "_names")

    def __init__(self, index: int, names):
        if len(names) > POINT_NAMES:
            raise ValueError(f"a point read projects at most {POINT_NAMES} properties")
        enc = [n.encode() for n in names]          # UnicodeEncodeError is a ValueError
        blob = b"".join(len(b).to_bytes(4, sys.byteorder) + b for b in enc)
        self._names = ffi.new("uint8_t[]", blob) if blob else ffi.NULL   # c.names points here
        c = self.c = ffi.new("lpg_pointq *")
        c.index, c.nnames, c.names_len, c.names = index, len(enc), len(blob), self._names


unpackb = msgpack.unpackb
"""(view.PointRead decodes ``store_point1``'s answer with it.)"""


def release_memory() -> None:
    """Return freed heap memory to the OS (after a checkpoint dropped an overlay)."""
    lib.lpg_release_memory()


def key_hash(key: bytes) -> int:
    """The on-disk 64-bit hash of canonical key bytes (key sub-index files)."""
    return lib.lpg_key_hash(key, len(key))


# ---- lazily opened base files (Store.attach_lazy; store.c calls back at a file's first use) ------
_lazy_files: "weakref.WeakValueDictionary" = weakref.WeakValueDictionary()   # tag -> opener
_open_error = threading.local()          # the exception of this thread's last failed open


@ffi.def_extern()
def lpg_open_file_cb(handle, out):
    """Called by store.c from inside a store call (its locks held, GIL taken by cffi): open file
    ``handle``.  What runs here must not call a Store on this thread: the store functions keep
    per-thread scratch buffers (``lazy_opening`` tells hooks, e.g. io.Simulator's on_call)."""
    _open_error.depth = getattr(_open_error, "depth", 0) + 1
    try:
        lazy = _lazy_files.get(handle)
        if lazy is None:
            raise errors.InternalError(f"a lazily attached data file (tag {handle}) is gone")
        f = lazy.open()
        out[0] = f._h
        return 0
    except BaseException as e:   # noqa: BLE001 - handed to the reader's thread (take_open_error)
        _open_error.exc = (handle, e)
        return _ECORRUPT
    finally:
        _open_error.depth -= 1


_spill_sources: dict = {}          # handle -> [records(d), the buffer, its cdata, the exception]
_spill_handles = itertools.count(1)


@ffi.def_extern()
def lpg_spill_cb(handle, d, data, n):
    """Called by build.c from inside Store.build_part (the store's lock held shared, GIL taken by
    cffi): the spill records of direction ``d``.  The previous direction's are dropped first."""
    src = _spill_sources.get(handle)
    if src is None:
        return lib.LPG_EINVAL
    try:
        src[1] = src[2] = None
        buf = src[0](d)
        if len(buf):
            src[1], src[2] = buf, ffi.from_buffer("uint8_t[]", buf)
            data[0], n[0] = src[2], len(buf)
        else:
            data[0], n[0] = ffi.NULL, 0
        return 0
    except BaseException as e:   # noqa: BLE001 - raised by build_part on its thread
        src[3] = e
        return lib.LPG_EINVAL


def lazy_opening() -> bool:
    """Whether this thread is inside a lazy open (called from a store call)."""
    return getattr(_open_error, "depth", 0) > 0


def take_open_error(tag):
    """The exception with which this thread's last lazy open of file ``tag`` failed, or None."""
    pending = getattr(_open_error, "exc", None)
    if pending is None or pending[0] != tag:
        return None
    _open_error.exc = None
    return pending[1]


class File:
    """An open, self-checking immutable file over a mapping (kept alive by this object).

    ``data`` is a read-only buffer (an mmap from storage/io.py); ``tag`` is reported with any
    corruption found in it.  Raises Corrupt at open for a bad header, size or section table.
    """

    def __init__(self, data, tag: int):
        self._data = data                      # keeps the mapping alive
        self._buf = ffi.from_buffer(data) if len(data) else ffi.new("uint8_t[1]")
        out = ffi.new("lpg_file **")
        _fcheck(lib.lpg_file_open(self._buf, len(data), tag, out), "open file")
        self._h = ffi.gc(out[0], lib.lpg_file_free)
        info = ffi.new("uint64_t[3]")
        kind, nsec = ffi.new("uint32_t *"), ffi.new("uint32_t *")
        check(lib.lpg_file_info(self._h, kind, info, info + 1, info + 2, nsec), "file info")
        self.kind, self.key1, self.key2, self.lsn, self.nsections = kind[0], info[0], info[1], info[2], nsec[0]
        self.tag = tag

    def sections(self) -> list:
        """[(kind, a, b, offset, length)] of the section table."""
        k, a, b = ffi.new("uint32_t *"), ffi.new("uint32_t *"), ffi.new("uint32_t *")
        off, ln = ffi.new("uint64_t *"), ffi.new("uint64_t *")
        out = []
        for i in range(self.nsections):
            check(lib.lpg_file_section(self._h, i, k, a, b, off, ln), "file section")
            out.append((k[0], a[0], b[0], off[0], ln[0]))
        return out

    def read(self, offset: int, length: int) -> bytes:
        """Bytes of the CRC-covered region, after verifying their blocks."""
        out = ffi.new("uint8_t[]", max(length, 1))
        _fcheck(lib.lpg_file_read(self._h, offset, length, out), "read file")
        return ffi.buffer(out, length)[:]

    def verify(self) -> None:
        """Check every block's CRC (Corrupt on the first bad one)."""
        _fcheck(lib.lpg_file_verify(self._h), "verify file")


class FileBuilder:
    """A file image under construction (lpg_fb); ``image()`` returns the finished bytes."""

    def __init__(self, kind: int = 0, key1: int = 0, key2: int = 0, lsn: int = 0, _handle=None):
        if _handle is None:
            out = ffi.new("lpg_fb **")
            check(lib.lpg_fb_new(kind, key1, key2, lsn, out), "file builder")
            _handle = out[0]
        self._h = ffi.gc(_handle, lib.lpg_fb_free)

    def section(self, kind: int, a: int, b: int, data: bytes) -> None:
        check(lib.lpg_fb_section(self._h, kind, a, b, data, len(data)), "file builder section")

    def image(self):
        """The finished file as a buffer (valid while this builder lives)."""
        p, n = ffi.new("uint8_t **"), ffi.new("size_t *")
        check(lib.lpg_fb_finish(self._h, ffi.cast("const uint8_t **", p), n), "file builder finish")
        return ffi.buffer(p[0], n[0])

    def close(self) -> None:
        h, self._h = self._h, None
        if h is not None:
            ffi.release(h)


class _StoreScratch(threading.local):
    def __init__(self):
        self.u32 = ffi.new("uint32_t[1]")
        self.u64 = ffi.new("uint64_t[2]")      # (edge: source and target)
        self.size = ffi.new("size_t[1]")
        self.plen = ffi.new("size_t[1]")
        self.flag = ffi.new("int[1]")
        self.node = ffi.new("uint64_t[1]")
        self.k1 = (ffi.new("uint64_t[]", _KEY1_CAP), ffi.new("uint64_t[2]"))   # key_point: ids, info
        self.pcap = 0
        self.ensure_props(512)
        self.cap = 0
        self.ensure(256)

    def ensure_props(self, cap: int) -> None:
        if cap > self.pcap:
            cap = max(cap, 2 * self.pcap)
            self.props = ffi.new("uint8_t[]", cap)
            self.pcap = cap

    def ensure(self, cap: int) -> None:
        if cap > self.cap:
            cap = max(cap, 2 * self.cap, 256)
            self.nbr = ffi.new("uint64_t[]", cap)
            self.eid = ffi.new("uint64_t[]", cap)
            self.frm = ffi.new("uint32_t[]", cap)
            self.cap = cap


class Store(_Native):
    """One generation of the graph: base files + an LSN-stamped overlay (native/store.c).

    Reads take a snapshot LSN; writes come from one writer.  Methods raise Corrupt for damaged
    files (storage names the file), InterfaceError for bad arguments.
    """

    _kind = "Store"
    _ptr_type = "lpg_store **"

    def __init__(self, node_base: int, edge_base: int):
        out = ffi.new(self._ptr_type)
        check(lib.lpg_store_new(node_base, edge_base, out), "Store: new")
        self._h = ffi.gc(out[0], lib.lpg_store_free)
        self._s = _StoreScratch()
        self._files = []                       # attached File objects: must outlive the store
        self.node_base, self.edge_base = node_base, edge_base

    def _hh(self):
        h = self._h
        if h is None:
            raise self._closed()
        return h

    # -- base and dictionaries --
    def attach(self, f: File) -> None:
        _fcheck(lib.lpg_store_attach(self._hh(), f._h), "attach file")
        self._files.append(f)

    def attach_lazy(self, kind: int, key1: int, key2: int, lazy) -> None:
        """Attach a base file that is opened at its first use: ``lazy.tag`` identifies it,
        ``lazy.open()`` returns its File (called once per store, from the read that needs it;
        what it raises is kept for ``take_open_error``)."""
        _lazy_files[lazy.tag] = lazy
        _fcheck(lib.lpg_store_attach_lazy(self._hh(), kind, key1, key2, lazy.tag), "attach file")
        self._files.append(lazy)

    def key_index(self, index: int, nsub_log: int) -> None:
        check(lib.lpg_store_key_index(self._hh(), index, nsub_log), "Store.key_index")

    def set_base_counts(self, labels, types) -> None:
        la, nl = _u64_array(labels, "label counts")
        ta, nt = _u64_array(types, "type counts")
        check(lib.lpg_store_set_base_counts(self._hh(), la, nl, ta, nt), "Store.set_base_counts")

    def set_labelset(self, lsid: int, label_ids) -> None:
        arr, n = _u32_array(sorted(label_ids), "label ids")
        check(lib.lpg_store_set_labelset(self._hh(), lsid, arr, n), "Store.set_labelset")

    def set_propkey(self, kid: int, name: str) -> None:
        b = name.encode()
        check(lib.lpg_store_set_propkey(self._hh(), kid, b, len(b)), "Store.set_propkey")

    def propkeys(self) -> list:
        h = self._hh()
        n = ffi.new("uint32_t *")
        check(lib.lpg_store_propkeys(h, n), "Store.propkeys")
        out, size = [], ffi.new("size_t *")
        cap = 65536
        buf = ffi.new("uint8_t[]", cap)
        for i in range(n[0]):
            rc = lib.lpg_store_propkey(h, i, buf, cap, size)
            if rc == _ETOOSMALL:            # a name longer than the buffer: size holds its length
                cap = size[0]
                buf = ffi.new("uint8_t[]", cap)
                rc = lib.lpg_store_propkey(h, i, buf, cap, size)
            check(rc, "Store.propkey")
            out.append(ffi.buffer(buf, size[0])[:].decode("utf-8", "surrogateescape"))
        return out

    # -- reads --
    def node(self, snap: int, nid: int):
        """(labelset id, props buffer) of node nid at snap, or None.  The buffer is per thread:
        decode it before the next call."""
        h = self._h
        if h is None:
            raise self._closed()
        s = self._s
        try:
            rc = _store_node(h, snap, nid, s.u32, s.props, s.pcap, s.size)
        except (TypeError, OverflowError):
            return None
        if rc:
            if rc == _ENOTFOUND:
                return None
            if rc == _ETOOSMALL:
                s.ensure_props(s.size[0])
                return self.node(snap, nid)
            _fcheck(rc, "read node")
        return s.u32[0], ffi.buffer(s.props, s.size[0])

    def node_lset(self, snap: int, nid: int):
        """The labelset id of node nid at snap, or None."""
        h = self._h
        if h is None:
            raise self._closed()
        s = self._s
        try:
            rc = _store_node_lset(h, snap, nid, s.u32)
        except (TypeError, OverflowError):
            return None
        if rc:
            if rc == _ENOTFOUND:
                return None
            _fcheck(rc, "read node")
        return s.u32[0]

    def edge(self, snap: int, eid: int):
        """(type, src, dst, props buffer) of edge eid at snap, or None (buffer per thread)."""
        h = self._h
        if h is None:
            raise self._closed()
        s = self._s
        u = s.u64
        try:
            rc = _store_edge(h, snap, eid, s.u32, u, u + 1, s.props, s.pcap, s.size)
        except (TypeError, OverflowError):
            return None
        if rc:
            if rc == _ENOTFOUND:
                return None
            if rc == _ETOOSMALL:
                s.ensure_props(s.size[0])
                return self.edge(snap, eid)
            _fcheck(rc, "read edge")
        return s.u32[0], u[0], u[1], ffi.buffer(s.props, s.size[0])

    def _expand(self, nodes_ptr, n, d, types, snap):
        h = self._hh()
        tp, nt = _types(types)
        s = self._s
        while True:
            rc = _store_expand(h, nodes_ptr, n, d, tp, nt, snap, s.nbr, s.eid, s.frm, s.cap, s.size)
            if rc == 0:
                return s, s.size[0]
            if rc != _ETOOSMALL:
                _fcheck(rc, "expand")
            s.ensure(s.size[0])

    def expand(self, nodes, direction, types, snap):
        """(nbrs, eids, from_index) over every visible edge of every node. O(sum of degrees)."""
        if types is not None and len(types) == 0:
            return [], [], []
        arr, n = _u64_array(nodes, "nodes")
        s, k = self._expand(arr, n, _direction(direction), types, snap)
        return ffi.unpack(s.nbr, k), ffi.unpack(s.eid, k), ffi.unpack(s.frm, k)

    def edges_of(self, node, direction, types, snap) -> list:
        """[(eid, nbr)] of one node. O(deg)."""
        if types is not None and not types:
            return []
        s = self._s
        try:
            s.node[0] = node
        except (TypeError, OverflowError):
            raise errors.InterfaceError(f"node id must be an int in 0..2**64-1, not {node!r}") from None
        s, k = self._expand(s.node, 1, _direction(direction), types, snap)
        return list(zip(ffi.unpack(s.eid, k), ffi.unpack(s.nbr, k)))

    def neighbors(self, node, direction, types, snap) -> list:
        if types is not None and not types:
            return []
        s = self._s
        try:
            s.node[0] = node
        except (TypeError, OverflowError):
            raise errors.InterfaceError(f"node id must be an int in 0..2**64-1, not {node!r}") from None
        s, k = self._expand(s.node, 1, _direction(direction), types, snap)
        return ffi.unpack(s.nbr, k)

    def degree(self, node, direction, types, snap) -> int:
        h = self._hh()
        if types is not None and len(types) == 0:
            return 0
        s = self._s
        try:
            s.node[0] = node
            tp, nt = _NO_TYPES if types is None else _types(types)
            rc = _store_degree_many(h, s.node, 1, _DIRECTIONS[direction], tp, nt, snap, s.u64)
        except (TypeError, OverflowError, KeyError) as e:
            _direction(direction)
            raise _bad_arg("Store.degree", e) from e
        if rc:
            _fcheck(rc, "degree")
        return s.u64[0]

    def degree_many(self, nodes, direction, types, snap) -> list:
        h = self._hh()
        arr, n = _u64_array(nodes, "nodes")
        if types is not None and len(types) == 0:
            return [0] * n
        tp, nt = _types(types)
        out = ffi.new("uint64_t[]", max(n, 1))
        _fcheck(lib.lpg_store_degree_many(h, arr, n, _direction(direction), tp, nt, snap, out), "degree")
        return ffi.unpack(out, n)

    def count_reach(self, seed, hops, direction, types, snap, exclude_seed=True) -> int:
        h = self._hh()
        d = _direction(direction)
        if types is not None and len(types) == 0:
            return 1 if hops == 0 and not exclude_seed else 0
        tp, nt = _types(types)
        out = self._s.u64
        try:
            rc = lib.lpg_store_count_reach(h, seed, hops, d, tp, nt, snap, bool(exclude_seed), out)
        except (TypeError, OverflowError) as e:
            raise _bad_arg("Store.count_reach", e) from e
        _fcheck(rc, "count_reach")
        return out[0]

    def _collect(self, fn, what, *args):
        cap = 1024
        size = self._s.size
        while True:
            out = ffi.new("uint64_t[]", cap)
            rc = fn(*args, out, cap, size)
            if rc == 0:
                return ffi.unpack(out, size[0])
            if rc != _ETOOSMALL:
                _fcheck(rc, what)
            cap = size[0]

    def prop_many(self, snap: int, nids, name: str):
        """msgpack bytes of an array: property ``name`` of each node (nil where absent)."""
        arr, n = _u64_array(nids, "node ids")
        # a name with a lone surrogate (no stored name has one: writes refuse it) matches nothing
        nb = name.encode("utf-8", "surrogatepass")
        cap = 16 + 16 * n
        size = self._s.size
        while True:
            out = ffi.new("uint8_t[]", cap)
            rc = lib.lpg_store_prop_many(self._hh(), snap, arr, n, nb, len(nb), out, cap, size)
            if rc == 0:
                return ffi.buffer(out, size[0])
            if rc != _ETOOSMALL:
                _fcheck(rc, "property scan")
            cap = size[0]

    def label_scan(self, label: int, snap: int) -> list:
        return self._collect(lib.lpg_store_label_scan, "label scan", self._hh(), label, snap)

    def label_count(self, label: int, snap: int) -> int:
        out = self._s.u64
        _fcheck(lib.lpg_store_label_count(self._hh(), label, snap, out), "label count")
        return out[0]

    def edge_scan(self, types, snap) -> list:
        if types is not None and len(types) == 0:
            return []
        tp, nt = _types(types)
        return self._collect(lib.lpg_store_edge_scan, "edge scan", self._hh(), tp, nt, snap)

    def edge_count(self, types, snap) -> int:
        if types is not None and len(types) == 0:
            return 0
        tp, nt = _types(types)
        out = self._s.u64
        _fcheck(lib.lpg_store_edge_count(self._hh(), tp, nt, snap, out), "edge count")
        return out[0]

    def key_get(self, index: int, key: bytes, snap: int) -> list:
        h = self._hh()
        s = self._s
        while True:
            rc = _store_key_get(h, index, key, len(key), snap, s.nbr, s.cap, s.size)
            if rc == 0:
                return ffi.unpack(s.nbr, s.size[0])
            if rc != _ETOOSMALL:
                _fcheck(rc, "key lookup")
            s.ensure(s.size[0])

    def key_node(self, index: int, key: bytes, snap: int):
        """``(ids, first)``: key_get, plus ``(labelset id, version)`` of the first node found
        (see node_ver; None when there is none).  One C call."""
        h = self._h
        if h is None:
            raise self._closed()
        s = self._s
        u = s.u64
        while True:
            rc = _store_key_node(h, index, key, len(key), snap, s.nbr, s.cap, s.size, s.u32, u)
            if rc == 0:
                n = s.size[0]
                if not n:
                    return [], None
                ids = ffi.unpack(s.nbr, n)
                return ids, (None if u[0] == LSN_INF else (s.u32[0], u[0]))
            if rc != _ETOOSMALL:
                _fcheck(rc, "key lookup")
            s.ensure(s.size[0])

    def key_point(self, index: int, value, snap: int):
        """The point lookup of the one-value key ``(value,)``, ``value`` an int or a str, with the
        canonical key bytes built in C: ``(ids, ver)`` as ``key_node`` gives them (``ver`` the
        version of ``ids[0]``, None when there is none), or None when ``value`` is of another
        kind, past int64, not encodable as UTF-8 or found more than a few times (the caller
        then builds the key bytes: ``key_node``).  One C call, no buffer allocated."""
        h = self._h
        if h is None:
            raise self._closed()
        ids, info = self._s.k1
        t = type(value)
        try:
            if t is int:
                n = _store_key1i(h, index, value, snap, ids, _KEY1_CAP, info)
            elif t is str:
                b = value.encode()
                n = _store_key1(h, index, 2, 0, b, len(b), snap, ids, _KEY1_CAP, info)
            else:
                return None
        except (OverflowError, UnicodeEncodeError):
            return None
        if n == 1:
            v = info[1]
            return [ids[0]], (None if v == LSN_INF else v)
        if n == 0:
            return [], None
        if n < 0:
            _fcheck(n, "key lookup")
        if n > _KEY1_CAP:
            return None
        v = info[1]
        return ffi.unpack(ids, n), (None if v == LSN_INF else v)

    def key1_is(self, index: int, value, snap: int, nid: int, ver: int) -> bool:
        """Whether ``key_point(index, value, snap)`` would find exactly the one node ``nid`` at
        version ``ver`` (``nid`` = ``NO_NODE``: no node at all): the check that an answer kept
        for a key still holds.  False for a ``value`` that is not an int or a str, or has no
        one-call key (past int64, not UTF-8).  One C call, no buffer."""
        h = self._h
        if h is None:
            raise self._closed()
        t = type(value)
        try:
            if t is int:
                rc = _store_key1i_is(h, index, snap, value, nid, ver)
            elif t is str:
                b = value.encode()
                rc = _store_key1s_is(h, index, snap, b, len(b), nid, ver)
            else:
                return False
        except (OverflowError, UnicodeEncodeError):
            return False
        if rc < 0:
            _fcheck(rc, "key lookup")
        return rc == 1

    def node_ver(self, snap: int, nid: int):
        """``(labelset id, version)`` of the node a reader at ``snap`` sees, or None: version 0
        is the base row, else the LSN of the overlay version.  One C call, no property read."""
        h = self._h
        if h is None:
            raise self._closed()
        s = self._s
        u = s.u64
        try:
            rc = _store_node_ver(h, snap, nid, s.u32, u)
        except (TypeError, OverflowError):
            return None
        if rc:
            if rc == _ENOTFOUND:
                return None
            _fcheck(rc, "read node")
        return s.u32[0], u[0]

    def degree1(self, node, direction, types, snap):
        """Degree of ``node``, or None if it is not visible at ``snap``.  One C call, the degree
        its result (no out buffer)."""
        h = self._h
        if h is None:
            raise self._closed()
        try:
            if types is None:
                d = _store_degree_of(h, node, _DIRECTIONS[direction], _NULL, 0, snap)
            elif not types:
                return 0 if self.node_lset(snap, node) is not None else None
            else:
                tp, nt = (type(types) is tuple and _types_cache.get(types)) or _types(types)
                d = _store_degree_of(h, node, _DIRECTIONS[direction], tp, nt, snap)
        except (TypeError, OverflowError, KeyError) as e:
            _direction(direction)
            raise _bad_arg("Store.degree", e) from e
        if d >= 0:
            return d
        if d == _ENOTFOUND:
            return None
        _fcheck(d, "degree")

    def key_first_many(self, index: int, keys: list, snap: int) -> list:
        blob = b"".join(keys)
        offsets = array("Q", [0])
        offsets.extend(accumulate(map(len, keys)))
        n = len(keys)
        out = ffi.new("int64_t[]", max(n, 1))
        _fcheck(lib.lpg_store_key_first_many(self._hh(), index, blob, len(blob),
                                             ffi.from_buffer("uint64_t[]", offsets), n, snap, out),
                "key lookup")
        return ffi.unpack(out, n)

    def keys_fresh(self, index: int, snap: int, blob: bytes, offs, tags, mask: bytes, name: str) -> int:
        """lpg_store_keys_fresh: KEYS_FRESH when the key of property ``name`` of every row
        blob[offs[r]:offs[r+1]] whose tag (``tags``, array('I')) is set in ``mask`` is unique
        among them and held by no node at ``snap`` under ``index``; KEYS_TWICE, KEYS_HELD or
        KEYS_PYTHON (a value C does not make a key of) otherwise.  One call, one lock; O(bytes +
        keys) expected."""
        n = len(offs) - 1
        if n < 0 or len(tags) != n or getattr(tags, "itemsize", 0) != 4 or getattr(offs, "itemsize", 0) != 8:
            raise errors.InterfaceError("Store.keys_fresh: need array('Q') offsets and array('I') tags, one per row")
        verdict = ffi.new("int *")
        nm = name.encode("utf-8")
        _fcheck(lib.lpg_store_keys_fresh(self._hh(), index, snap, blob if blob else ffi.NULL, len(blob),
                                         ffi.from_buffer("uint64_t[]", offs), n,
                                         ffi.from_buffer("uint32_t[]", tags) if n else ffi.NULL,
                                         mask if mask else ffi.NULL, len(mask), nm if nm else ffi.NULL, len(nm),
                                         verdict), "key check")
        return verdict[0]

    # -- writes --
    def node_put(self, nid, lset, props: bytes, lsn, floor) -> None:
        _fcheck(lib.lpg_store_node_put(self._hh(), nid, lset, props, len(props), lsn, floor),
                f"Store.node_put(node={nid})")

    def node_put_many(self, nids, lsets, blob: bytes, offs, lsn, floor) -> None:
        """node_put of many nodes in one call (``offs`` has len(nids) + 1 entries)."""
        na, n = _u64_array(nids, "node ids")
        la, nl = _u32_array(lsets, "label sets")
        oa, no = _u64_array(offs, "offsets")
        if not (n == nl == no - 1):
            raise errors.InterfaceError("node_put_many: columns differ in length")
        _fcheck(lib.lpg_store_node_put_many(self._hh(), n, na, la, blob, len(blob), oa, lsn, floor),
                "Store.node_put_many")

    def key_put_list(self, index, keys: list, nodes, lsn) -> None:
        """key_put of ``keys[i]`` -> ``nodes[i]`` for one index, in one call."""
        blob = b"".join(keys)
        offs = array("Q", [0])
        offs.extend(accumulate(map(len, keys)))
        na, n = _u64_array(nodes, "nodes")
        if n != len(keys):
            raise errors.InterfaceError("key_put_list: keys and nodes differ in length")
        check(lib.lpg_store_key_put_list(self._hh(), index, n, blob, len(blob),
                                         ffi.from_buffer("uint64_t[]", offs), na, lsn),
              "Store.key_put_list")

    def nodes_bulk(self, first, lsets, blob: bytes, offs, lsn) -> None:
        la, n = _u32_array(lsets, "label sets")
        oa, no = _u64_array(offs, "offsets")
        if no != n + 1:
            raise errors.InterfaceError("nodes_bulk: need len(lsets) + 1 offsets")
        _fcheck(lib.lpg_store_nodes_bulk(self._hh(), first, n, la, blob, len(blob), oa, lsn), "Store.nodes_bulk")

    def edge_put(self, eid, type_id, src, dst, props: bytes, lsn, floor) -> None:
        _fcheck(lib.lpg_store_edge_put(self._hh(), eid, type_id, src, dst, props, len(props), lsn, floor),
                f"Store.edge_put(edge={eid})")

    def edge_put_many(self, eids, types, srcs, dsts, blob: bytes, offs, lsn, floor) -> None:
        """edge_put of many edges in one call (edge i's properties: blob[offs[i]:offs[i+1]])."""
        ea, n = _u64_array(eids, "edge ids")
        ta, nt = _u32_array(types, "types")
        sa, ns = _u64_array(srcs, "srcs")
        da, nd = _u64_array(dsts, "dsts")
        oa, no = _u64_array(offs, "offsets")
        if not (n == nt == ns == nd == no - 1):
            raise errors.InterfaceError("edge_put_many: columns differ in length")
        _fcheck(lib.lpg_store_edge_put_many(self._hh(), n, ea, ta, sa, da, blob, len(blob), oa, lsn, floor),
                "Store.edge_put_many")

    def edges_bulk(self, first, types, srcs, dsts, blob: bytes, offs, lsn) -> None:
        ta, n = _u32_array(types, "types")
        sa, ns = _u64_array(srcs, "srcs")
        da, nd = _u64_array(dsts, "dsts")
        oa, no = _u64_array(offs, "offsets")
        if not (n == ns == nd == no - 1):
            raise errors.InterfaceError("edges_bulk: columns differ in length")
        _fcheck(lib.lpg_store_edges_bulk(self._hh(), first, n, ta, sa, da, blob, len(blob), oa, lsn),
                "Store.edges_bulk")

    def edge_del(self, eid, lsn) -> None:
        _fcheck(lib.lpg_store_edge_del(self._hh(), eid, lsn), f"Store.edge_del(edge={eid})")

    def commit_end(self, lsn, floor) -> None:
        check(lib.lpg_store_commit_end(self._hh(), lsn, floor), "Store.commit_end")

    def key_put(self, index, key: bytes, node, lsn) -> None:
        check(lib.lpg_store_key_put(self._hh(), index, key, len(key), node, lsn), "Store.key_put")

    def key_put_many(self, index, keys: bytes, koffs, flags: bytes, first, lsn) -> None:
        """key_put of key r (keys[koffs[r]:koffs[r+1]]) for node first + r where flags[r] == 1."""
        n = len(flags)
        if len(koffs) != n + 1:
            raise errors.InterfaceError("key_put_many: need len(flags) + 1 offsets")
        if n:
            check(lib.lpg_store_key_put_many(self._hh(), index, keys if keys else ffi.NULL, len(keys),
                                             ffi.from_buffer("uint64_t[]", koffs), flags, n, first, lsn),
                  "Store.key_put_many")

    def key_del(self, index, key: bytes, node, lsn) -> None:
        check(lib.lpg_store_key_del(self._hh(), index, key, len(key), node, lsn), "Store.key_del")

    def key_base_dead(self, index, key: bytes) -> None:
        check(lib.lpg_store_key_base_dead(self._hh(), index, key, len(key)), "Store.key_base_dead")

    def key_drop(self, index) -> None:
        check(lib.lpg_store_key_drop(self._hh(), index), "Store.key_drop")

    def touched(self, nid) -> bool:
        out = self._s.flag
        check(lib.lpg_store_touched(self._hh(), nid, out), "Store.touched")
        return bool(out[0])

    # -- checkpoints --
    def dirty(self, kind: int) -> list:
        return self._collect_u32(lambda out, cap, size: lib.lpg_store_dirty(self._hh(), kind, out, cap, size))

    @staticmethod
    def _collect_u32(fn):
        cap, size = 256, ffi.new("size_t *")
        while True:
            out = ffi.new("uint32_t[]", cap)
            rc = fn(out, cap, size)
            if rc == 0:
                return ffi.unpack(out, size[0])
            if rc != _ETOOSMALL:
                check(rc, "dirty list")
            cap = size[0]

    def mem(self) -> int:
        out = self._s.u64
        check(lib.lpg_store_mem(self._hh(), out), "Store.mem")
        return out[0]

    def register_keys(self) -> None:
        _fcheck(lib.lpg_store_register_keys(self._hh()), "register property keys")

    def build_part(self, snap, p, nslots, x=None, node_hi=0) -> FileBuilder:
        """The image of partition p; ``x``: a streamed load's spill records of p (lpg_store_build_part_x),
        ``x(d)`` giving direction d's (0 out, 1 in, 2 the streamed nodes; called when the build
        needs them: one is held at a time), or a triple; nodes below ``node_hi``."""
        out = ffi.new("lpg_fb **")
        if x is None:
            _fcheck(lib.lpg_store_build_part(self._hh(), snap, p, nslots, out), f"build partition {p}")
            return FileBuilder(_handle=out[0])
        handle = next(_spill_handles)
        src = _spill_sources[handle] = [x if callable(x) else x.__getitem__, None, None, None]
        try:
            rc = lib.lpg_store_build_part_x(self._hh(), snap, p, nslots, handle, node_hi, out)
        finally:
            del _spill_sources[handle]
        if src[3] is not None:
            raise src[3]
        _fcheck(rc, f"build partition {p}")
        return FileBuilder(_handle=out[0])

    def build_eloc(self, snap, q, nslots, x_first=0, x=None, node_hi=0) -> FileBuilder:
        """The image of edge-id range q; ``x``: (src u64, type u32) of edges ``x_first``.. from a
        streamed load's spill (lpg_store_build_eloc_x)."""
        out = ffi.new("lpg_fb **")
        xp, n = _buf(x)
        _fcheck(lib.lpg_store_build_eloc_x(self._hh(), snap, q, nslots, x_first, xp, n, node_hi, out),
                f"build edge locator {q}")
        return FileBuilder(_handle=out[0])

    def register_rows(self, blob, offs) -> None:
        """Add the property key names of the maps blob[offs[i]:offs[i+1]] to the dictionary."""
        oa, no = _u64_array(offs, "offsets")
        bp, nb = _buf(blob)
        check(lib.lpg_store_register_rows(self._hh(), bp, nb, oa, max(no - 1, 0)), "register property keys")

    def key_builder(self, snap, index, nsub_log, x=None, node_hi=0) -> "KeyBuilder":
        return KeyBuilder(self, snap, index, nsub_log, x, node_hi)

    def check(self) -> None:
        _invariants(self, lib.lpg_store_check)


class Spill:
    """A streamed bulk load's edges routed into per-partition buffers (lpg_spill): the caller
    (storage/stream.py) appends them to its spill file and clears them."""

    def __init__(self):
        out = ffi.new("lpg_spill **")
        check(lib.lpg_spill_new(out), "spill")
        self._h = ffi.gc(out[0], lib.lpg_spill_free)
        self._u64, self._u32 = ffi.new("uint64_t *"), ffi.new("uint32_t *")

    def edges(self, first, types, srcs, dsts, blob, offs) -> None:
        ta, n = _u32_array(types, "types")
        sa, ns = _u64_array(srcs, "srcs")
        da, nd = _u64_array(dsts, "dsts")
        oa, no = _u64_array(offs, "offsets")
        if not (n == ns == nd == no - 1):
            raise errors.InterfaceError("Spill.edges: columns differ in length")
        bp, nb = _buf(blob)
        check(lib.lpg_spill_edges(self._h, first, n, ta, sa, da, bp, nb, oa), "Spill.edges")

    def nodes(self, first, lsets, blob, offs) -> None:
        la, n = _u32_array(lsets, "label sets")
        oa, no = _u64_array(offs, "offsets")
        if n != no - 1:
            raise errors.InterfaceError("Spill.nodes: columns differ in length")
        bp, nb = _buf(blob)
        check(lib.lpg_spill_nodes(self._h, first, n, la, bp, nb, oa), "Spill.nodes")

    def keys(self, index, first, keys, koffs, flags) -> None:
        n = len(flags)
        oa, no = _u64_array(koffs, "key offsets")
        if no != n + 1:
            raise errors.InterfaceError("Spill.keys: need len(flags) + 1 offsets")
        kp, nk = _buf(keys)
        fp, _nf = _buf(flags)
        check(lib.lpg_spill_keys(self._h, index, first, n, kp, nk, oa, fp), "Spill.keys")

    def size(self):
        """(bytes buffered, 1 + the largest partition routed to)."""
        check(lib.lpg_spill_size(self._h, self._u64, self._u32), "Spill.size")
        return self._u64[0], self._u32[0]

    def buffer(self, p: int, d: int):
        """(the buffer of (partition p, direction d: 0 out, 1 in, 2 nodes; 3 edge locators, 4 keys),
        valid until clear(); its size unpacked (``spill_unpack``))."""
        data, n, x = ffi.new("const uint8_t **"), ffi.new("size_t *"), ffi.new("size_t *")
        check(lib.lpg_spill_buffer(self._h, p, d, data, n, x), "Spill.buffer")
        return (ffi.buffer(data[0], n[0]) if n[0] else b""), x[0]

    def clear(self) -> None:
        check(lib.lpg_spill_clear(self._h), "Spill.clear")

    def close(self) -> None:
        h, self._h = self._h, None
        if h is not None:
            ffi.release(h)


def spill_unpack(d: int, data, out) -> None:
    """Unpack one spill buffer's contents ``data`` (direction ``d``, as ``Spill.buffer`` gave it)
    into the writable buffer ``out``, which it must fill exactly; Corrupt if it is malformed."""
    ip, n = _buf(data)
    op = ffi.from_buffer("uint8_t[]", out, require_writable=True)
    _fcheck(lib.lpg_spill_unpack(d, ip, n, op, len(op)), "a spill chunk")


class KeyBuilder:
    """Builds the sub-index files of one hash index at a checkpoint (lpg_kb)."""

    def __init__(self, store: Store, snap, index, nsub_log, x=None, node_hi=0):
        """``x``: a streamed load's spilled key records (lpg_kb_new_x), kept while this lives."""
        out = ffi.new("lpg_kb **")
        xp, n = _buf(x)
        _fcheck(lib.lpg_kb_new_x(store._hh(), snap, index, nsub_log, xp, n, node_hi, out), "key builder")
        self._h = ffi.gc(out[0], lib.lpg_kb_free)
        self._store = store
        self._x = (x, xp)

    def dirty(self) -> list:
        return Store._collect_u32(lambda out, cap, size: lib.lpg_kb_dirty(self._h, out, cap, size))

    def overlay_entries(self) -> int:
        out = ffi.new("uint64_t *")
        check(lib.lpg_kb_overlay(self._h, out), "KeyBuilder.overlay_entries")
        return out[0]

    def resplit(self, nsub_log: int) -> None:
        check(lib.lpg_kb_resplit(self._h, nsub_log), "KeyBuilder.resplit")

    def sub(self, sub: int):
        """(FileBuilder, entries) of sub-index ``sub``."""
        out, n = ffi.new("lpg_fb **"), ffi.new("uint64_t *")
        _fcheck(lib.lpg_kb_sub(self._h, sub, out, n), f"build key sub-index {sub}")
        return FileBuilder(_handle=out[0]), n[0]

    def close(self) -> None:
        h, self._h = self._h, None
        if h is not None:
            ffi.release(h)


# ---- ingest (csv.c, ingest.c; issue 11) ---------------------------------------------------------

#: column kinds of the CSV parser (LPG_COL_*) and of the row packer (LPG_PK_*)
COL = {"skip": lib.LPG_COL_SKIP, "str": lib.LPG_COL_STR, "int": lib.LPG_COL_INT, "float": lib.LPG_COL_FLOAT,
       "bool": lib.LPG_COL_BOOL, "char": lib.LPG_COL_CHAR, "dict": lib.LPG_COL_DICT, "id": lib.LPG_COL_ID,
       "ref": lib.LPG_COL_REF}
PACK = {"int": lib.LPG_PK_INT, "uint": lib.LPG_PK_UINT, "float": lib.LPG_PK_FLOAT, "bool": lib.LPG_PK_BOOL,
        "str": lib.LPG_PK_STR, "bytes": lib.LPG_PK_BYTES, "msgpack": lib.LPG_PK_MSGPACK, "date": lib.LPG_PK_DATE}
#: LPG_CSVE_* codes by name
CSVE = {name: getattr(lib, "LPG_CSVE_" + name.upper()) for name in (
    "unclosed", "after_quote", "width", "utf8", "int", "range", "float", "bool", "char", "empty_id",
    "dup_id", "no_id", "int_id")}
_CSVE_NAME = {v: k for k, v in CSVE.items()}


class InputFault(Exception):
    """Bad input found by the C parser or an ID map: ``what`` (a CSVE name), ``line``/``column``
    (CSV; 1-based), ``row`` (whole columns), ``offset``/``length`` of the field's bytes in the
    input, ``aux`` (a duplicate's first value, a field count, ...).  The ingest layer turns it
    into a DataError naming the file, line and column."""

    def __init__(self, what, *, line=None, column=None, row=None, offset=0, length=0, aux=0):
        super().__init__(what)
        self.what, self.line, self.column, self.row = what, line, column, row
        self.offset, self.length, self.aux = offset, length, aux


def _buf(data):
    """(cdata pointer, length) of a buffer (bytes, memoryview, array, pyarrow Buffer) or None."""
    if data is None:
        return ffi.NULL, 0
    n = len(memoryview(data).cast("B")) if not isinstance(data, (bytes, bytearray)) else len(data)
    if n == 0:
        return ffi.NULL, 0
    return ffi.from_buffer("uint8_t[]", data), n


class IdMap:
    """An ID space (lpg_idmap): key -> the loader's row number.  ``integer``: keys are int64."""

    def __init__(self, integer: bool):
        out = ffi.new("lpg_idmap **")
        check(lib.lpg_idmap_new(1 if integer else 0, out), "id map")
        self._h = ffi.gc(out[0], lib.lpg_idmap_free)
        self.integer = bool(integer)

    def __len__(self) -> int:
        n = ffi.new("uint64_t *")
        check(lib.lpg_idmap_size(self._h, n), "id map size")
        return n[0]

    def put_column(self, kind: str, n: int, valid, values, data, base: int) -> None:
        """Cell i -> base + i, for an "int" (int64 values) or "str" (int64 offsets + data) column.
        InputFault(row=...) for a null, a duplicate (aux = its first value) or a non-integer."""
        v, _ = _buf(valid)
        p, plen = _buf(values)
        d, dlen = _buf(data)
        bad, what, aux = ffi.new("size_t *"), ffi.new("int *"), ffi.new("uint64_t *")
        rc = lib.lpg_idmap_put_column(self._h, COL[kind], v, p, plen, d, dlen, n, base, bad, what, aux)
        if rc == lib.LPG_EINVAL and what[0]:
            raise InputFault(_CSVE_NAME[what[0]], row=bad[0], aux=aux[0])
        check(rc, "id map put")

    def get_column(self, kind: str, n: int, valid, values, data) -> array:
        """array('Q') of the values of the cells' keys; InputFault(row=...) for a missing key."""
        v, _ = _buf(valid)
        p, plen = _buf(values)
        d, dlen = _buf(data)
        out = array("Q", bytes(8 * n))
        bad, what = ffi.new("size_t *"), ffi.new("int *")
        rc = lib.lpg_idmap_get_column(self._h, COL[kind], v, p, plen, d, dlen, n,
                                      ffi.from_buffer("uint64_t[]", out) if n else ffi.NULL, bad, what)
        if rc == lib.LPG_EINVAL and what[0]:
            raise InputFault(_CSVE_NAME[what[0]], row=bad[0])
        check(rc, "id map get")
        return out


class CsvParser:
    """The C CSV parser (lpg_csv) over one input buffer: ``parse(pos, max_rows)`` fills one
    output column per header column (``kinds``: names of COL) and returns ``(next_pos, rows)``;
    ``column(i)`` copies a column's buffers out (Arrow layout)."""

    def __init__(self, kinds, delimiter: bytes, quote: bytes):
        ks = bytes(COL[k] for k in kinds)
        out = ffi.new("lpg_csv **")
        check(lib.lpg_csv_new(len(ks), ks if ks else ffi.NULL, delimiter[0], quote[0], out), "csv parser")
        self._h = ffi.gc(out[0], lib.lpg_csv_free)
        self.kinds = list(kinds)
        self._maps = {}
        self._data = None
        self._p = ffi.new("size_t[2]")
        self.rows = 0

    def set_map(self, col: int, idmap: IdMap) -> None:
        check(lib.lpg_csv_set_map(self._h, col, idmap._h), "csv id map")
        self._maps[col] = idmap          # keeps it alive

    def set_input(self, data) -> None:
        """The bytes to parse (kept alive here): bytes, mmap, memoryview."""
        self._data = data
        self._cbuf, self._len = _buf(data)

    def release_input(self) -> None:
        """Let go of the input (so an mmap can be closed)."""
        cb, self._cbuf, self._data, self._len = getattr(self, "_cbuf", ffi.NULL), ffi.NULL, None, 0
        if cb != ffi.NULL:
            ffi.release(cb)

    def set_position(self, line: int, row_base: int) -> None:
        check(lib.lpg_csv_set_position(self._h, line, row_base), "csv position")

    def parse(self, pos: int, max_rows: int):
        p = self._p
        rc = lib.lpg_csv_parse(self._h, self._cbuf, self._len, pos, max_rows, p, p + 1)
        if rc == lib.LPG_EINVAL:
            what, line = ffi.new("int *"), ffi.new("uint64_t[4]")
            col = ffi.new("uint32_t *")
            check(lib.lpg_csv_error(self._h, what, line, col, line + 1, line + 2, line + 3), "csv error")
            if what[0]:
                raise InputFault(_CSVE_NAME[what[0]], line=line[0], column=col[0] or None, offset=line[1],
                                 length=line[2], aux=line[3])
        check(rc, "csv parse")
        self.rows = p[1]
        return p[0], p[1]

    @property
    def line(self) -> int:
        out = ffi.new("uint64_t *")
        check(lib.lpg_csv_line(self._h, out), "csv line")
        return out[0]

    def lines(self) -> array:
        p, n = ffi.new("const uint64_t **"), ffi.new("size_t *")
        check(lib.lpg_csv_lines(self._h, p, n), "csv lines")
        out = array("Q")
        if n[0]:
            out.frombytes(ffi.buffer(p[0], 8 * n[0]))
        return out

    def column(self, i: int):
        """(validity bitmap, values, data) of column i as bytes (copies)."""
        v, p, d = ffi.new("const uint8_t **"), ffi.new("const uint8_t **"), ffi.new("const uint8_t **")
        pn, dn = ffi.new("size_t *"), ffi.new("size_t *")
        check(lib.lpg_csv_column(self._h, i, v, p, pn, d, dn), "csv column")
        nvalid = (self.rows + 7) // 8
        valid = ffi.buffer(v[0], nvalid)[:] if v[0] != ffi.NULL and nvalid else b""
        vals = ffi.buffer(p[0], pn[0])[:] if pn[0] else b""
        data = ffi.buffer(d[0], dn[0])[:] if dn[0] else b""
        return valid, vals, data

    def big_rows(self, i: int) -> list:
        """Rows of INT column i (last parse) whose value is above 2**63 - 1 (stored as uint64 bits)."""
        p, n = ffi.new("const uint64_t **"), ffi.new("size_t *")
        check(lib.lpg_csv_big(self._h, i, p, n), "csv big")
        return ffi.unpack(p[0], n[0]) if n[0] else []

    def dictionary(self, i: int) -> list:
        """A DICT column's distinct values so far (bytes), in code order."""
        o, n, d, dn = ffi.new("const int64_t **"), ffi.new("size_t *"), ffi.new("const uint8_t **"), ffi.new("size_t *")
        check(lib.lpg_csv_dict(self._h, i, o, n, d, dn), "csv dictionary")
        if not n[0]:
            return []
        offs = ffi.unpack(o[0], n[0] + 1)
        heap = ffi.buffer(d[0], dn[0])[:] if dn[0] else b""
        return [heap[offs[k]:offs[k + 1]] for k in range(n[0])]


def _take_rows(h) -> tuple:
    """(blob bytes, offsets array('Q')) of an lpg_rows handle, which is then freed."""
    h = ffi.gc(h, lib.lpg_rows_free)
    b, bn, o, rn = ffi.new("const uint8_t **"), ffi.new("size_t *"), ffi.new("const uint64_t **"), ffi.new("size_t *")
    check(lib.lpg_rows_get(h, b, bn, o, rn), "rows")
    blob = ffi.buffer(b[0], bn[0])[:] if bn[0] else b""
    offs = array("Q")
    offs.frombytes(ffi.buffer(o[0], 8 * (rn[0] + 1)))
    ffi.release(h)
    return blob, offs


def pack_rows(n: int, columns) -> tuple:
    """Per-row msgpack property maps of ``n`` rows from typed columns.

    ``columns``: ``(name, kind, offset, valid, values, data)`` with kind a name of PACK, offset
    the element offset (Arrow's), buffers as bytes-like or None.  Returns ``(blob, offsets)``:
    row i is ``blob[offsets[i]:offsets[i+1]]`` (``b""`` for a row without properties)."""
    ncols = len(columns)
    names = [c[0].encode("utf-8") for c in columns]
    name_offs = array("Q", [0])
    name_offs.extend(accumulate(map(len, names)))
    keep = []

    def ptr(b):
        p, ln = _buf(b)
        keep.append(p)
        return p, ln
    kinds = bytes(PACK[c[1]] for c in columns)
    valid, vlens, vals, plens, data, dlens = ([] for _ in range(6))
    for c in columns:
        for lst, lens, b in ((valid, vlens, c[3]), (vals, plens, c[4]), (data, dlens, c[5])):
            p, ln = ptr(b)
            lst.append(p)
            lens.append(ln)
    allnames = b"".join(names)
    out = ffi.new("lpg_rows **")
    arr = lambda t, xs: ffi.new(t, xs) if xs else ffi.NULL  # noqa: E731
    rc = lib.lpg_rows_pack(n, ncols, kinds if ncols else ffi.NULL, allnames if allnames else ffi.NULL,
                           len(allnames), ffi.from_buffer("uint64_t[]", name_offs),
                           arr("uint64_t[]", [c[2] for c in columns]),
                           arr("const uint8_t *[]", valid), arr("uint64_t[]", vlens),
                           arr("const uint8_t *[]", vals), arr("uint64_t[]", plens),
                           arr("const uint8_t *[]", data), arr("uint64_t[]", dlens), out)
    check(rc, "pack rows")
    return _take_rows(out[0])


def umax(a) -> int:
    """The largest item of a memoryview or array of 'I' / 'Q' (C unsigned 32/64-bit), 0 if empty."""
    mv = memoryview(a)
    if mv.itemsize not in (4, 8) or mv.format not in ("I", "Q", "L") or mv.ndim != 1:
        return max(mv, default=0)
    n = len(mv)
    if not n:
        return 0
    return int(lib.lpg_umax(ffi.from_buffer(mv), n, mv.itemsize))


def rows_ok(blob: bytes, offs) -> bool:
    """Every row blob[offs[r]:offs[r+1]] is empty or one msgpack map inside the blob."""
    n = len(offs) - 1
    if n < 0:
        return False
    return lib.lpg_rows_check(blob if blob else ffi.NULL, len(blob), ffi.from_buffer("uint64_t[]", offs), n) == 0


def rows_key(blob: bytes, offs, lset, mask: bytes, name: str):
    """Key bytes of property ``name`` of the rows whose label set (lset[r], array('I')) is set in
    ``mask``: ``(keys, koffs array('Q'), flags bytes)``, flags 0 none, 1 key, 2 Python's to
    compute, 3 NaN.  Raises Corrupt-free InterfaceError for a malformed blob (checked before)."""
    n = len(offs) - 1
    flags = ffi.new("uint8_t[]", max(n, 1))
    out = ffi.new("lpg_rows **")
    nm = name.encode("utf-8")
    check(lib.lpg_rows_key(blob if blob else ffi.NULL, len(blob), ffi.from_buffer("uint64_t[]", offs), n,
                           ffi.from_buffer("uint32_t[]", lset) if n else ffi.NULL, mask if mask else ffi.NULL,
                           len(mask), nm if nm else ffi.NULL, len(nm), flags, out), "rows key")
    keys, koffs = _take_rows(out[0])      # one key row per input row (lpg_rows_key sets n rows)
    return keys, koffs, ffi.buffer(flags, n)[:]


# ---- whole-graph scans and row grouping (native/scan.c; the schema validator, issue 11) --------

def store_nodes_read(store: "Store", snap: int, ids) -> tuple:
    """Nodes ``ids`` at ``snap`` in one call: ``(lsets array('I'), blob, offs array('Q'))``, the
    label set id UINT32_MAX (and no properties) for a node not visible.  Corrupt from a file."""
    ia, n = _u64_array(ids, "node ids")
    lsets = array("I", bytes(4 * n))
    out = ffi.new("lpg_rows **")
    _fcheck(lib.lpg_store_nodes_read(store._hh(), snap, ia, n, ffi.from_buffer("uint32_t[]", lsets) if n else ffi.NULL,
                                     out), "read nodes")
    blob, offs = _take_rows(out[0])
    return lsets, blob, offs


def store_edges_read(store: "Store", snap: int, ids) -> tuple:
    """Edges ``ids`` at ``snap`` in one call: ``(types array('I'), srcs array('Q'), dsts
    array('Q'), blob, offs)``; type UINT32_MAX for an edge not visible."""
    ia, n = _u64_array(ids, "edge ids")
    types, srcs, dsts = array("I", bytes(4 * n)), array("Q", bytes(8 * n)), array("Q", bytes(8 * n))
    p = (lambda a, t: ffi.from_buffer(t, a) if n else ffi.NULL)   # noqa: E731
    out = ffi.new("lpg_rows **")
    _fcheck(lib.lpg_store_edges_read(store._hh(), snap, ia, n, p(types, "uint32_t[]"), p(srcs, "uint64_t[]"),
                                     p(dsts, "uint64_t[]"), out), "read edges")
    blob, offs = _take_rows(out[0])
    return types, srcs, dsts, blob, offs


class Groups:
    """Rows numbered by signature (lpg_groups, native/scan.c): a tag and each property's key
    and value class, integers classed by the interval between ``cuts`` (ascending int64s) that
    holds them.  Group numbers count up from 0 in order of first appearance, across calls."""

    def __init__(self, cuts=()):
        ca = array("q", cuts)
        out = ffi.new("lpg_groups **")
        check(lib.lpg_groups_new(ffi.from_buffer("int64_t[]", ca) if len(ca) else ffi.NULL, len(ca), out),
              "groups")
        self._h = ffi.gc(out[0], lib.lpg_groups_free)
        self.count = 0

    def rows(self, blob: bytes, offs, tags) -> array:
        """array('I'): the group of each row blob[offs[r]:offs[r+1]] with tag tags[r] (array('I'))."""
        n = len(offs) - 1
        if n < 0 or len(tags) != n or getattr(tags, "itemsize", 0) != 4 or getattr(offs, "itemsize", 0) != 8:
            raise errors.InterfaceError("Groups.rows: need array('Q') offsets and array('I') tags, one per row")
        gid = array("I", bytes(4 * n))
        ng = ffi.new("uint32_t *")
        rc = lib.lpg_groups_rows(self._h, blob if blob else ffi.NULL, len(blob), ffi.from_buffer("uint64_t[]", offs), n,
                                 ffi.from_buffer("uint32_t[]", tags) if n else ffi.NULL,
                                 ffi.from_buffer("uint32_t[]", gid) if n else ffi.NULL, ng)
        if rc == lib.LPG_ECORRUPT:
            raise errors.CorruptionError("a stored property map is malformed")
        check(rc, "group rows")
        self.count = ng[0]
        return gid

    def triples(self, a, b, c, table) -> array:
        """array('I'): the group of each (a[r], table[b[r]], table[c[r]]); a and table array('I'),
        b and c array('Q'); an index past the table counts as UINT32_MAX."""
        n = len(a)
        if len(b) != n or len(c) != n:
            raise errors.InterfaceError("Groups.triples: columns differ in length")
        if (getattr(a, "itemsize", 0), getattr(b, "itemsize", 0), getattr(c, "itemsize", 0),
                getattr(table, "itemsize", 0)) != (4, 8, 8, 4):
            raise errors.InterfaceError("Groups.triples: need array('I'), array('Q'), array('Q'), array('I')")
        gid = array("I", bytes(4 * n))
        ng = ffi.new("uint32_t *")
        p = (lambda x, t: ffi.from_buffer(t, x) if len(x) else ffi.NULL)   # noqa: E731
        check(lib.lpg_groups_triples(self._h, n, p(a, "uint32_t[]"), p(b, "uint64_t[]"), p(c, "uint64_t[]"),
                                     p(table, "uint32_t[]"), len(table), p(gid, "uint32_t[]"), ng), "group triples")
        self.count = ng[0]
        return gid


    def keys(self, keys: bytes, koffs, flags: bytes) -> array:
        """array('I'): a number per key keys[koffs[r]:koffs[r+1]] of the rows with flags[r] == 1
        (core.rows_key's output), UINT32_MAX for the others; equal keys get the number of the
        first, so ``count`` grows by fewer than the keys given when one is held twice."""
        n = len(flags)
        if len(koffs) != n + 1 or getattr(koffs, "itemsize", 0) != 8:
            raise errors.InterfaceError("Groups.keys: need array('Q') offsets, one more than the flags")
        gid = array("I", bytes(4 * n))
        ng = ffi.new("uint32_t *")
        rc = lib.lpg_groups_keys(self._h, keys if keys else ffi.NULL, len(keys), ffi.from_buffer("uint64_t[]", koffs),
                                 flags if n else ffi.NULL, n, ffi.from_buffer("uint32_t[]", gid) if n else ffi.NULL, ng)
        check(rc, "group keys")
        self.count = ng[0]
        return gid


def u32_take(table: list, idx) -> array:
    """array('I') of table[idx[i]] (idx: array or memoryview of 'I'; table: a list of ints below
    2**32) in one C pass; ``idx`` itself when table is 0, 1, ... (the common op: one label set
    each, numbered in order).  InterfaceError for an index past the table's end.  O(n)."""
    k = len(table)
    if all(table[i] == i for i in range(k)):
        return idx
    n = len(idx)
    if k == 1:
        return array("I", table) * n
    if not isinstance(idx, (array, memoryview)):
        idx = array("I", idx)
    out = array("I", bytes(4 * n))
    if n:
        u32 = (lambda x: ffi.from_buffer("uint32_t[]", x))   # noqa: E731
        rc = lib.lpg_u32_gather(u32(array("I", table)), k, u32(idx), n, u32(out))
        if rc == lib.LPG_EBOUNDS:
            raise errors.InterfaceError("u32_take: an index past the table's end")
        check(rc, "gather")
    return out


def u32_scatter(table: array, ids, vals: array) -> None:
    """table[ids[i]] = vals[i] (table, vals: array('I'); ids: array('Q')); InterfaceError past
    the table's end."""
    n = len(ids)
    if len(vals) != n:
        raise errors.InterfaceError("u32_scatter: ids and values differ in length")
    if (getattr(table, "itemsize", 0), getattr(ids, "itemsize", 0), getattr(vals, "itemsize", 0)) != (4, 8, 4):
        raise errors.InterfaceError("u32_scatter: need array('I') table, array('Q') ids, array('I') values")
    p = (lambda x, t: ffi.from_buffer(t, x) if len(x) else ffi.NULL)   # noqa: E731
    rc = lib.lpg_u32_scatter(p(table, "uint32_t[]"), len(table), p(ids, "uint64_t[]"), p(vals, "uint32_t[]"), n)
    if rc == lib.LPG_EBOUNDS:
        raise errors.InterfaceError("u32_scatter: an id past the table's end")
    check(rc, "scatter")
