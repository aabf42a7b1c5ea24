"""The committed graph in memory: multi-version, stamped with commit LSNs.

Everything here is derived from the log (and the checkpoint files, which are themselves a
cache of the log): ``apply(ops, lsn)`` is the one and only way state changes, used alike by
commits, recovery replay and read-only followers.

Prepare, then apply (nothing that reaches the log may fail to apply)
    ``prepare(ops)`` does everything about a transaction that can fail: it checks every op's
    shape and ranges and computes every key the indexes will hold (a NaN, or a key over
    ``core.KEY_MAX`` bytes, is a DataError naming the index and node; a malformed op is a
    CorruptionError).  The engine logs a commit only after ``prepare`` succeeded, and
    ``apply(ops, lsn, plan)`` then only installs what was prepared.  Replay prepares each
    record the same way, so a record that was accepted once applies again at recovery.

Layout
    nodes        dict id -> _NodeVersion chain (newest first); labels None = deleted.
                 Properties are kept msgpack-encoded (records.pack_props) and decoded on read.
    edge props   dict id -> bytes (props since creation) or _EdgeVersion chain once updated.
                 Edges without properties have no entry.
    native       core.Adjacency: edge table (type, src, dst, begin, end) + CSR/delta adjacency,
                 core.LabelIndex: label id -> node ids (label 0 = every node),
                 core.KeyIndex: (index id, canonical key bytes) -> node ids.
    dictionaries label name <-> id; edge label *sets* <-> type id (the adjacency's edge type).

Visibility (snapshot isolation)
    A version stamped ``begin`` is visible to a reader at snapshot ``snap`` iff ``begin <= snap``
    and no newer version has ``begin <= snap``.  Native entries carry [begin, end).

Invariants
    (1) ``applied_lsn`` is the end LSN of the last applied commit; versions never carry a larger
        stamp.
    (2) Old versions are dropped only when no registered reader can see them (``min_reader``).
    (3) Every index (label, key, adjacency) agrees with the node/edge versions at every snapshot.
"""
from __future__ import annotations

import threading
from types import MappingProxyType
from typing import Iterable, Optional

from .. import core
from ..errors import CorruptionError, DataError
from . import records
from array import array

from .records import EDGE_DEL, EDGE_PUT, EDGES_BULK, INDEX, NODE_DEL, NODE_PUT, NODES_BULK, SCHEMA

ALL = 0            # label id of the pseudo-label every node carries in the label index
PARTITION_SHIFT = 17


class _NodeVersion:
    __slots__ = ("begin", "labels", "props", "prev", "view")

    def __init__(self, begin, labels, props, prev):
        self.begin = begin
        self.labels = labels   # frozenset[str], or None for a deletion
        self.props = props     # msgpack bytes
        self.prev = prev
        self.view = None       # decoded props as a read-only mapping, made on first snapshot read

    def props_view(self) -> MappingProxyType:
        """The decoded properties, read-only and shared by every Node built from this version
        (versions are immutable, so decoding once is enough). O(size) the first time."""
        v = self.view
        if v is None:
            v = self.view = MappingProxyType(records.unpack_props(self.props))
        return v


class _EdgeVersion:
    __slots__ = ("begin", "props", "prev")

    def __init__(self, begin, props, prev):
        self.begin = begin
        self.props = props
        self.prev = prev


def _trim(head, floor):
    """Cut a version chain after the newest version a reader at ``floor`` sees. O(chain)."""
    v = head
    while v is not None and v.begin > floor:
        v = v.prev
    if v is not None:
        v.prev = None
    return head


class KeySpec:
    """A hash index over nodes: ``key_of(labels, props) -> tuple | None`` decides membership.
    ``ident`` tells schema KEY indexes (``("schema", name)``) from user indexes
    (``("index", label, props)``)."""

    def __init__(self, name: str, index_id: int, key_of, ident=None):
        self.name = name
        self.index_id = index_id
        self.key_of = key_of
        self.ident = ident if ident is not None else ("schema", name)


def _user_index_name(label: str, props: tuple) -> str:
    return f"{label}({', '.join(props)})"


class _Bad(Exception):
    """A malformed op (prepare); the caller turns it into CorruptionError or InternalError."""


def _is_id(v) -> bool:
    return type(v) is int and 0 <= v < core.MAX_ID


def _names(v) -> frozenset:
    if not isinstance(v, list) or not all(type(x) is str and x for x in v):
        raise _Bad(f"bad label list {v!r:.80}")
    return frozenset(v)


def _u_array(code: str, blob, what: str) -> array:
    if type(blob) is not bytes or len(blob) % array(code).itemsize:
        raise _Bad(f"bad {what} column")
    return array(code, blob)


def user_index_key_of(label: str, props: tuple):
    def key_of(labels, values):
        if label not in labels:
            return None
        try:
            return tuple(values[p] for p in props)
        except KeyError:
            return None
    return key_of


class GraphState:
    def __init__(self):
        self.adj = core.Adjacency()
        self.label_index = core.LabelIndex()
        self.key_index = core.KeyIndex()
        self.nodes: dict[int, _NodeVersion] = {}
        self.edge_props: dict = {}
        self.label_ids: dict[str, int] = {}
        self.label_names: list[Optional[str]] = [None]      # id 0 = ALL
        self.type_ids: dict[frozenset, int] = {}
        self.type_labels: list[frozenset] = []
        self.types_by_label: dict[str, list[int]] = {}
        self.next_node_id = 0
        self.next_edge_id = 0
        self.applied_lsn = 0
        self.visible_lsn = 0                                # newest LSN new snapshots read at
        self.schema: Optional[tuple] = None                 # (ddl, graph_type_name) or None
        self.graph_type = None                              # resolved GraphType or None
        self.schema_specs: list[KeySpec] = []
        self.user_indexes: dict[tuple, KeySpec] = {}        # (label, props) -> spec
        self.catalog_epoch = 0                              # +1 at every schema or index change
        self._next_index_id = 1
        self.dirty: set[int] = set()                        # partitions changed since checkpoint
        self._readers: dict[int, int] = {}                  # snapshot lsn -> open reader count
        self._readers_lock = threading.Lock()
        self.schema_loader = None   # callable(ddl, name) -> GraphType, set by the database

    def close(self) -> None:
        self.adj.close()
        self.label_index.close()
        self.key_index.close()

    # -- readers ---------------------------------------------------------------------------------
    # A new snapshot reads at ``visible_lsn`` (the last commit it may see: durable, in
    # sync="full").  Pinning reads visible_lsn and registers the reader under one lock, and the
    # trim floor is computed under the same lock and never exceeds visible_lsn, so a version a
    # new or open snapshot may still read is never cut (invariant 2), even while commits
    # wait for their fsync.
    def pin_visible(self) -> int:
        """Register a reader at the current visible LSN; return that LSN."""
        with self._readers_lock:
            snap = self.visible_lsn
            r = self._readers
            r[snap] = r.get(snap, 0) + 1
            return snap

    def unpin(self, snap: int) -> None:
        with self._readers_lock:
            r = self._readers
            n = r[snap] - 1
            if n:
                r[snap] = n
            else:
                del r[snap]

    def trim_floor(self) -> int:
        """The oldest snapshot any reader holds or may still take (min of readers, visible LSN)."""
        with self._readers_lock:
            return min(self._readers, default=self.visible_lsn) if self._readers else self.visible_lsn

    def publish(self, lsn: int) -> None:
        """Make commits up to ``lsn`` visible to new snapshots (never moves backwards)."""
        with self._readers_lock:
            if lsn > self.visible_lsn:
                self.visible_lsn = min(lsn, self.applied_lsn)

    # -- dictionaries ----------------------------------------------------------------------------
    def label_id(self, name: str) -> int:
        lid = self.label_ids.get(name)
        if lid is None:
            lid = len(self.label_names)
            self.label_ids[name] = lid
            self.label_names.append(name)
        return lid

    def type_id(self, labels: frozenset) -> int:
        tid = self.type_ids.get(labels)
        if tid is None:
            tid = len(self.type_labels)
            self.type_ids[labels] = tid
            self.type_labels.append(labels)
            for lab in labels:
                self.types_by_label.setdefault(lab, []).append(tid)
        return tid

    def types_for(self, label: Optional[str]):
        """Native type filter for an edge label: None = any; [] = matches nothing."""
        if label is None:
            return None
        return self.types_by_label.get(label, [])

    # -- reads at a snapshot ---------------------------------------------------------------------
    def node_version(self, nid: int, snap: int) -> Optional[_NodeVersion]:
        """The version of node ``nid`` visible at ``snap`` (None if absent/deleted). O(chain)."""
        v = self.nodes.get(nid)
        while v is not None and v.begin > snap:
            v = v.prev
        if v is None or v.labels is None:
            return None
        return v

    def edge_props_at(self, eid: int, snap: int) -> bytes:
        v = self.edge_props.get(eid)
        if v is None or isinstance(v, bytes):
            return v or b""
        while v is not None and v.begin > snap:
            v = v.prev
        return b"" if v is None or v.props is None else v.props

    def edge_at(self, eid: int, snap: int):
        """``(labels, src, dst, props_bytes)`` of edge ``eid`` at ``snap``, or None."""
        t = self.adj.get(eid, snap)
        if t is None:
            return None
        tid, src, dst = t
        return self.type_labels[tid], src, dst, self.edge_props_at(eid, snap)

    # -- keys ------------------------------------------------------------------------------------
    def all_specs(self) -> list:
        return self.schema_specs + list(self.user_indexes.values())

    def _index_node(self, nid, old: Optional[_NodeVersion], labels, new_keys, lsn) -> None:
        """Move ``nid``'s index entries from ``old``'s keys to ``new_keys`` (ident -> key bytes,
        computed by prepare).  The old keys are recomputed: they were computable when the old
        version was installed (prepare) or indexed (a prepared build), so this cannot fail."""
        specs = self.all_specs()
        if not specs:
            return
        old_props = records.unpack_props(old.props) if old is not None else None
        for spec in specs:
            ok = spec.key_of(old.labels, old_props) if old is not None else None
            nkb = new_keys.get(spec.ident) if labels is not None and new_keys else None
            if ok is not None:
                okb = records.key_bytes(ok)
                if nkb == okb:
                    continue
                self.key_index.delete(spec.index_id, okb, nid, lsn)
            if nkb is not None:
                self.key_index.put(spec.index_id, nkb, nid, lsn)

    def _new_spec(self, name, key_of, ident, table: dict, lsn) -> KeySpec:
        """A new index filled from ``table`` (node id -> key bytes, built by prepare)."""
        spec = KeySpec(name, self._next_index_id, key_of, ident)
        self._next_index_id += 1
        put = self.key_index.put
        for nid, kb in table.items():
            put(spec.index_id, kb, nid, lsn)
        return spec

    def set_schema(self, schema, graph_type, tables: dict, lsn: int) -> None:
        for spec in self.schema_specs:
            self.key_index.drop(spec.index_id)
        self.schema, self.graph_type = schema, graph_type
        self.catalog_epoch += 1
        self.schema_specs = []
        if graph_type is not None:
            for ispec in graph_type.index_specs():
                ident = ("schema", ispec.name)
                self.schema_specs.append(self._new_spec(ispec.name, ispec.key_of, ident,
                                                        tables[ident], lsn))

    def spec_by_name(self, name: str) -> Optional[KeySpec]:
        for spec in self.all_specs():
            if spec.name == name:
                return spec
        return None

    # -- prepare: everything that can fail, before the log ----------------------------------------
    def prepare(self, ops) -> list:
        """Check ``ops`` and compute every index key they need; return the plan ``apply`` takes.

        Raises DataError (a value no index can hold: NaN, or a key over ``core.KEY_MAX`` bytes),
        CorruptionError (a malformed op), or what loading a schema raises.  Changes nothing.
        O(ops), plus O(live nodes) for an op that creates an index or sets a schema.
        """
        if not isinstance(ops, list):
            raise CorruptionError("a commit record's op list is not a list")
        specs = [(s.ident, s.name, s.key_of) for s in self.all_specs()]
        track = any(isinstance(op, list) and op and op[0] in (SCHEMA, INDEX) for op in ops)
        written: dict = {}            # node id -> (labels, props) | None, earlier in this record
        next_node, next_edge = self.next_node_id, self.next_edge_id
        new_edges = set()
        plan = []
        try:
            for op in ops:
                if not isinstance(op, list) or not op:
                    raise _Bad("an op is not a list")
                code, n = op[0], len(op)
                step = None
                if code == NODE_PUT and n == 4:
                    nid, labels, props = op[1], _names(op[2]), op[3]
                    if not _is_id(nid) or type(props) is not bytes:
                        raise _Bad("bad NODE_PUT")
                    if track:
                        written[nid] = (labels, props)
                    if specs:
                        step = self._keys_of(specs, nid, labels, records.unpack_props(props))
                    next_node = max(next_node, nid + 1)
                elif code == NODE_DEL and n == 2:
                    if not _is_id(op[1]):
                        raise _Bad("bad NODE_DEL")
                    if track:
                        written[op[1]] = None
                elif code == EDGE_PUT and n == 6:
                    eid, _labels, src, dst, props = op[1], _names(op[2]), op[3], op[4], op[5]
                    if not (_is_id(eid) and _is_id(src) and _is_id(dst)) or type(props) is not bytes:
                        raise _Bad("bad EDGE_PUT")
                    new_edges.add(eid)
                    next_edge = max(next_edge, eid + 1)
                elif code == EDGE_DEL and n == 2:
                    eid = op[1]
                    if not _is_id(eid) or (eid not in new_edges and self.adj.get(eid, self.applied_lsn) is None):
                        raise _Bad(f"EDGE_DEL of edge {eid!r}, which does not exist")
                elif code == SCHEMA and n == 3:
                    ddl, name = op[1], op[2]
                    if not (ddl is None or type(ddl) is str) or not (name is None or type(name) is str):
                        raise _Bad("bad SCHEMA")
                    gt = self.schema_loader(ddl, name) if ddl is not None else None
                    specs = [x for x in specs if x[0][0] != "schema"]
                    tables = {}
                    for ispec in (gt.index_specs() if gt is not None else ()):
                        ident = ("schema", ispec.name)
                        tables[ident] = self._build(written, ispec.name, ispec.key_of)
                        specs.insert(len(tables) - 1, (ident, ispec.name, ispec.key_of))
                    step = (gt, tables)
                elif code == INDEX and n == 4:
                    label, props, create = op[1], op[2], op[3]
                    if type(label) is not str or not label or not _names(props) or type(create) is not bool:
                        raise _Bad("bad INDEX")
                    ident = ("index", label, tuple(props))
                    have = any(x[0] == ident for x in specs)
                    if create and not have:
                        name = _user_index_name(label, tuple(props))
                        key_of = user_index_key_of(label, tuple(props))
                        step = self._build(written, name, key_of)
                        specs.append((ident, name, key_of))
                    elif not create and have:
                        specs = [x for x in specs if x[0] != ident]
                elif code == NODES_BULK and n == 5:
                    first, lsets, idx, props = op[1], op[2], _u_array("I", op[3], "label index"), op[4]
                    if (not _is_id(first) or first < next_node or not isinstance(lsets, list)
                            or not isinstance(props, list) or len(props) != len(idx)
                            or first + len(idx) > core.MAX_ID
                            or (idx and max(idx) >= len(lsets))
                            or not all(type(p) is bytes for p in props)):
                        raise _Bad("bad NODES_BULK")
                    lsets = [_names(ls) for ls in lsets]
                    keys = None
                    if specs:
                        keys = [self._keys_of(specs, first + i, lsets[li], records.unpack_props(pr))
                                for i, (li, pr) in enumerate(zip(idx, props))]
                    step = (idx, keys)
                    if track:
                        written.update((first + i, (lsets[li], pr)) for i, (li, pr) in enumerate(zip(idx, props)))
                    next_node = first + len(idx)
                elif code == EDGES_BULK and n == 7:
                    first, lsets = op[1], op[2]
                    idx = _u_array("I", op[3], "type index")
                    srcs, dsts = _u_array("Q", op[4], "source"), _u_array("Q", op[5], "target")
                    props = op[6]
                    m = len(idx)
                    if (not _is_id(first) or first < next_edge or not isinstance(lsets, list)
                            or not isinstance(props, list) or not (len(srcs) == len(dsts) == len(props) == m)
                            or first + m > core.MAX_ID or (m and (max(idx) >= len(lsets)
                                                                 or max(srcs) >= next_node
                                                                 or max(dsts) >= next_node))
                            or not all(type(p) is bytes for p in props)):
                        raise _Bad("bad EDGES_BULK")
                    for ls in lsets:
                        _names(ls)
                    step = (idx, srcs, dsts)
                    next_edge = first + m
                else:
                    raise _Bad(f"unknown op {code!r} with {n} fields")
                plan.append(step)
        except _Bad as e:
            raise CorruptionError(f"malformed commit record: {e}") from None
        return plan

    def _keys_of(self, specs, nid, labels, props) -> dict:
        """ident -> key bytes of one node under each spec that covers it (DataError if a key
        cannot be indexed)."""
        out = {}
        for ident, name, key_of in specs:
            k = key_of(labels, props)
            if k is not None:
                out[ident] = self._key_bytes(k, name, nid)
        return out

    @staticmethod
    def _key_bytes(key, index_name, nid) -> bytes:
        try:
            kb = records.key_bytes(key)
        except DataError as e:
            raise DataError(f"node {nid} cannot be indexed by {index_name}: {e}; change the value "
                            f"or drop the index") from None
        if len(kb) > core.KEY_MAX:
            raise DataError(f"node {nid} cannot be indexed by {index_name}: its key takes "
                            f"{len(kb)} bytes, more than the {core.KEY_MAX} an index key may; "
                            f"store a shorter value (or a hash of it) or drop the index")
        return kb

    def _build(self, written: dict, name, key_of) -> dict:
        """node id -> key bytes of every live node (as ``written`` leaves it) under a new spec."""
        table = {}
        for nid, v in self.nodes.items():
            if nid in written or v.labels is None:
                continue
            k = key_of(v.labels, records.unpack_props(v.props))
            if k is not None:
                table[nid] = self._key_bytes(k, name, nid)
        for nid, img in written.items():
            if img is not None:
                k = key_of(img[0], records.unpack_props(img[1]))
                if k is not None:
                    table[nid] = self._key_bytes(k, name, nid)
        return table

    # -- apply: the single mutation path ---------------------------------------------------------
    def apply(self, ops: Iterable, lsn: int, plan: Optional[list] = None) -> None:
        """Apply one committed transaction's ops, stamped ``lsn`` (its end LSN). Keeps (1)-(3).

        ``plan`` is what ``prepare(ops)`` returned (prepared here when not given)."""
        if lsn < self.applied_lsn:
            raise CorruptionError(f"commit at LSN {lsn} is older than the applied state ({self.applied_lsn})")
        if plan is None:
            plan = self.prepare(ops)
        floor = min(self.trim_floor(), lsn)   # invariant (2): older versions are unreachable
        for op, step in zip(ops, plan):
            code = op[0]
            if code == NODE_PUT:
                self._put_node(op[1], frozenset(op[2]), op[3], step, lsn, floor)
            elif code == EDGE_PUT:
                self._put_edge(op[1], frozenset(op[2]), op[3], op[4], op[5], lsn, floor)
            elif code == EDGE_DEL:
                t = self.adj.get(op[1], lsn - 1)
                self.adj.remove(op[1], lsn)
                if t is not None:
                    self.dirty.add(t[1] >> PARTITION_SHIFT)
                if floor >= lsn:
                    self.edge_props.pop(op[1], None)
                elif op[1] in self.edge_props:
                    self.edge_props[op[1]] = _trim(_EdgeVersion(lsn, None, self._edge_chain(op[1])), floor)
            elif code == NODE_DEL:
                self._put_node(op[1], None, b"", None, lsn, floor)
            elif code == SCHEMA:
                gt, tables = step
                self.set_schema((op[1], op[2]) if op[1] is not None else None, gt, tables, lsn)
            elif code == INDEX:
                label, props, create = op[1], tuple(op[2]), op[3]
                self.catalog_epoch += 1
                if create and (label, props) not in self.user_indexes:
                    self.user_indexes[(label, props)] = self._new_spec(
                        _user_index_name(label, props), user_index_key_of(label, props),
                        ("index", label, props), step, lsn)
                elif not create and (label, props) in self.user_indexes:
                    self.key_index.drop(self.user_indexes.pop((label, props)).index_id)
            elif code == NODES_BULK:
                self._bulk_nodes(op[1], op[2], step[0], op[4], step[1], lsn)
            elif code == EDGES_BULK:
                self._bulk_edges(op[1], op[2], step[0], step[1], step[2], op[6], lsn)
        self.applied_lsn = lsn

    def _edge_chain(self, eid):
        v = self.edge_props.get(eid)
        if isinstance(v, bytes):
            return _EdgeVersion(0, v, None)
        return v

    def _put_node(self, nid, labels, props, new_keys, lsn, floor) -> None:
        head = self.nodes.get(nid)
        old = head if head is not None and head.labels is not None else None
        old_labels = old.labels if old is not None else frozenset()
        new_labels = labels if labels is not None else frozenset()
        li = self.label_index
        if old is None and labels is not None:
            li.add(ALL, nid, lsn)
        elif old is not None and labels is None:
            li.remove(ALL, nid, lsn)
        for lab in old_labels - new_labels:
            li.remove(self.label_ids[lab], nid, lsn)
        for lab in new_labels - old_labels:
            li.add(self.label_id(lab), nid, lsn)
        self._index_node(nid, old, labels, new_keys, lsn)
        if labels is None and floor >= lsn:
            self.nodes.pop(nid, None)
        else:
            self.nodes[nid] = _trim(_NodeVersion(lsn, labels, props, head), floor)
        if nid >= self.next_node_id:
            self.next_node_id = nid + 1
        self.dirty.add(nid >> PARTITION_SHIFT)

    def _put_edge(self, eid, labels, src, dst, props, lsn, floor) -> None:
        if self.adj.get(eid, lsn - 1) is None:       # a new edge: topology is immutable after this
            self.adj.add(eid, self.type_id(labels), src, dst, lsn)
            if props:  # plain bytes: the edge itself is invisible before lsn
                self.edge_props[eid] = props
        elif floor >= lsn:
            if props:
                self.edge_props[eid] = props
            else:
                self.edge_props.pop(eid, None)
        else:
            prev = self._edge_chain(eid) or _EdgeVersion(0, b"", None)
            self.edge_props[eid] = _trim(_EdgeVersion(lsn, props, prev), floor)
        if eid >= self.next_edge_id:
            self.next_edge_id = eid + 1
        self.dirty.add(src >> PARTITION_SHIFT)

    def _bulk_nodes(self, first, lsets, idx, props, keys, lsn) -> None:
        """Create nodes first, first+1, ... (all new). O(n) with native batch label inserts."""
        n = len(idx)
        lsets = [frozenset(ls) for ls in lsets]
        ids = range(first, first + n)
        nodes = self.nodes
        by_label: dict[str, list] = {}
        for nid, li, pr in zip(ids, idx, props):
            labels = lsets[li]
            nodes[nid] = _NodeVersion(lsn, labels, pr, None)
        for li, labels in enumerate(lsets):
            members = [nid for nid, x in zip(ids, idx) if x == li] if len(lsets) > 1 else list(ids)
            for lab in labels:
                by_label.setdefault(lab, []).extend(members)
        self.label_index.add_many(ALL, array("Q", ids), lsn)
        for lab, members in by_label.items():
            members.sort()
            self.label_index.add_many(self.label_id(lab), array("Q", members), lsn)
        if keys:
            for nid, li, nk in zip(ids, idx, keys):
                self._index_node(nid, None, lsets[li], nk, lsn)
        self.next_node_id = first + n
        for p in range(first >> PARTITION_SHIFT, ((first + n - 1) >> PARTITION_SHIFT) + 1):
            self.dirty.add(p)

    def _bulk_edges(self, first, lsets, idx, srcs, dsts, props, lsn) -> None:
        """Create edges first, first+1, ... (all new) through the native bulk CSR path. O(n)."""
        n = len(idx)
        tids = [self.type_id(frozenset(ls)) for ls in lsets]
        types = array("I", (tids[i] for i in idx)) if tids != list(range(len(tids))) else idx
        self.adj.add_many(array("Q", range(first, first + n)), types, srcs, dsts, lsn)
        ep = self.edge_props
        for eid, pr in zip(range(first, first + n), props):
            if pr:
                ep[eid] = pr
        self.next_edge_id = first + n
        self.dirty.update({s >> PARTITION_SHIFT for s in srcs})

    def collect_garbage(self) -> None:
        """Drop native entries no reader can see any more (called at checkpoint)."""
        m = self.trim_floor()
        self.adj.gc(m)
        self.label_index.gc(m)
        self.key_index.gc(m)

    def check(self) -> None:
        """Run every native invariant check (tests, `lpgdb verify`)."""
        self.adj.check()
        self.label_index.check()
        self.key_index.check()
