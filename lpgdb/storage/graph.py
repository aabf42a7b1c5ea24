"""The committed graph in memory: multi-version, stamped with commit LSNs.

Everything here is derived from the log (and the checkpoint files, which are themselves a
cache of the log): ``apply(ops, lsn)`` is the one and only way state changes, used alike by
commits, recovery replay and read-only followers.

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
from ..errors import CorruptionError
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
    """A hash index over nodes: ``key_of(labels, props) -> tuple | None`` decides membership."""

    def __init__(self, name: str, index_id: int, key_of):
        self.name = name
        self.index_id = index_id
        self.key_of = key_of


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

    def _index_node(self, nid, old: Optional[_NodeVersion], labels, props_bytes, lsn) -> None:
        specs = self.all_specs()
        if not specs:
            return
        old_props = records.unpack_props(old.props) if old is not None else None
        new_props = records.unpack_props(props_bytes) if labels is not None else None
        for spec in specs:
            ok = spec.key_of(old.labels, old_props) if old is not None else None
            nk = spec.key_of(labels, new_props) if labels is not None else None
            if ok is not None:
                okb = records.key_bytes(ok)
                if nk is not None and records.key_bytes(nk) == okb:
                    continue
                self.key_index.delete(spec.index_id, okb, nid, lsn)
            if nk is not None:
                self.key_index.put(spec.index_id, records.key_bytes(nk), nid, lsn)

    def _build_index(self, spec: KeySpec, lsn: int) -> None:
        """Index every live node for a new spec. O(nodes)."""
        for nid, v in self.nodes.items():
            if v.labels is not None:
                k = spec.key_of(v.labels, records.unpack_props(v.props))
                if k is not None:
                    self.key_index.put(spec.index_id, records.key_bytes(k), nid, lsn)

    def _new_spec(self, name, key_of, lsn) -> KeySpec:
        spec = KeySpec(name, self._next_index_id, key_of)
        self._next_index_id += 1
        self._build_index(spec, lsn)
        return spec

    def set_schema(self, schema, graph_type, lsn: int) -> None:
        for spec in self.schema_specs:
            self.key_index.drop(spec.index_id)
        self.schema, self.graph_type = schema, graph_type
        self.schema_specs = []
        if graph_type is not None:
            for ispec in graph_type.index_specs():
                self.schema_specs.append(self._new_spec(ispec.name, ispec.key_of, lsn))

    def spec_by_name(self, name: str) -> Optional[KeySpec]:
        for spec in self.all_specs():
            if spec.name == name:
                return spec
        return None

    # -- apply: the single mutation path ---------------------------------------------------------
    def apply(self, ops: Iterable, lsn: int) -> None:
        """Apply one committed transaction's ops, stamped ``lsn`` (its end LSN). Keeps (1)-(3)."""
        if lsn < self.applied_lsn:
            raise CorruptionError(f"commit at LSN {lsn} is older than the applied state ({self.applied_lsn})")
        floor = min(self.trim_floor(), lsn)   # invariant (2): older versions are unreachable
        for op in ops:
            code = op[0]
            if code == NODE_PUT:
                self._put_node(op[1], frozenset(op[2]), op[3], lsn, floor)
            elif code == EDGE_PUT:
                self._put_edge(op[1], frozenset(op[2]), op[3], op[4], op[5], lsn, floor)
            elif code == EDGE_DEL:
                self.adj.remove(op[1], lsn)
                t = self.adj.get(op[1], lsn - 1)
                if t is not None:
                    self.dirty.add(t[1] >> PARTITION_SHIFT)
                if floor >= lsn:
                    self.edge_props.pop(op[1], None)
                elif op[1] in self.edge_props:
                    self.edge_props[op[1]] = _trim(_EdgeVersion(lsn, None, self._edge_chain(op[1])), floor)
            elif code == NODE_DEL:
                self._put_node(op[1], None, b"", lsn, floor)
            elif code == SCHEMA:
                ddl, name = op[1], op[2]
                gt = self.schema_loader(ddl, name) if ddl is not None else None
                self.set_schema((ddl, name) if ddl is not None else None, gt, lsn)
            elif code == INDEX:
                label, props, create = op[1], tuple(op[2]), op[3]
                if create and (label, props) not in self.user_indexes:
                    name = f"{label}({', '.join(props)})"
                    self.user_indexes[(label, props)] = self._new_spec(
                        name, user_index_key_of(label, props), lsn)
                elif not create and (label, props) in self.user_indexes:
                    self.key_index.drop(self.user_indexes.pop((label, props)).index_id)
            elif code == NODES_BULK:
                self._bulk_nodes(op[1], op[2], array("I", op[3]), op[4], lsn)
            elif code == EDGES_BULK:
                self._bulk_edges(op[1], op[2], array("I", op[3]), array("Q", op[4]), array("Q", op[5]),
                                 op[6], lsn)
            else:
                raise CorruptionError(f"unknown op code {code} in commit at LSN {lsn}")
        self.applied_lsn = lsn

    def _edge_chain(self, eid):
        v = self.edge_props.get(eid)
        if isinstance(v, bytes):
            return _EdgeVersion(0, v, None)
        return v

    def _put_node(self, nid, labels, props, lsn, floor) -> None:
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
        self._index_node(nid, old, labels, props, lsn)
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

    def _bulk_nodes(self, first, lsets, idx, props, lsn) -> None:
        """Create nodes first, first+1, ... (all new). O(n) with native batch label inserts."""
        n = len(idx)
        if len(props) != n or first < self.next_node_id:
            raise CorruptionError(f"malformed NODES_BULK op at LSN {lsn}")
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
        if self.all_specs():
            for nid, li, pr in zip(ids, idx, props):
                self._index_node(nid, None, lsets[li], pr, lsn)
        self.next_node_id = first + n
        for p in range(first >> PARTITION_SHIFT, ((first + n - 1) >> PARTITION_SHIFT) + 1):
            self.dirty.add(p)

    def _bulk_edges(self, first, lsets, idx, srcs, dsts, props, lsn) -> None:
        """Create edges first, first+1, ... (all new) through the native bulk CSR path. O(n)."""
        n = len(idx)
        if not (len(srcs) == len(dsts) == len(props) == n) or first < self.next_edge_id:
            raise CorruptionError(f"malformed EDGES_BULK op at LSN {lsn}")
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
