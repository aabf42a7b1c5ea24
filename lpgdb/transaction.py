"""Snapshots and write transactions: the read API (API.md) and the buffered write path.

A ``Snapshot`` reads the committed graph as of one LSN.  A ``Transaction`` reads the committed
graph as of its start plus its own buffered writes (read-your-writes), and at commit hands one
list of logical ops to the storage engine, after the schema check.

Transaction states::

        ACTIVE ──commit()──> COMMITTED
          │  └───commit() fails (schema violation, I/O error)──> FAILED
          └──rollback() / exception in `with`──> ROLLED_BACK

    Any call on a transaction that is not ACTIVE raises InterfaceError.  Nothing of a FAILED or
    ROLLED_BACK transaction reaches the log or the in-memory graph.

Invariants
    (1) A write transaction holds the database's writer lock from start to end, so transactions
        are serializable; it releases the lock before waiting for its fsync (group commit).
    (2) Buffered after-images: ``_nodes[id]`` is ``(labels, props)`` or None (deleted);
        ``_edges[id]`` is ``(labels, src, dst, props)`` or None (deleted).
"""
from __future__ import annotations

import threading
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Hashable, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from . import schema as _schema
from .errors import (DataError, IntegrityError, InterfaceError, NotFoundError, SchemaViolationError)
from .storage import records
from .storage.view import PinnedReads, canonical_key
from .values import Edge, Node, check_properties, edge_of, equal, label_set, node_of, plain

if TYPE_CHECKING:
    from .result import Result
    from .schema.graphtype import GraphType
    from .storage.view import GraphView, Statistics

Labels = Union[str, Iterable[str], None]

_DIRECTIONS = ("out", "in", "both")


class IndexInfo(tuple):
    """One index of ``db.indexes()``: the tuple ``(label, properties)`` (so it compares equal to
    a plain tuple) with ``.kind`` ("user" | "schema") and ``.constraint`` (the schema
    constraint's DDL, or None).

    >>> IndexInfo("Person", ("id",), "user", None) == ("Person", ("id",))
    True
    """

    kind: str
    constraint: Optional[str]

    def __new__(cls, label: Optional[str], properties: tuple, kind: str, constraint: Optional[str]) -> "IndexInfo":
        info = super().__new__(cls, (label, tuple(properties)))
        info.kind = kind
        info.constraint = constraint
        return info

    def __reduce__(self):
        return (IndexInfo, (self.label, self.properties, self.kind, self.constraint))

    @property
    def label(self) -> Optional[str]:
        """The label whose lookups use the index (None: a schema index serving no label)."""
        return self[0]

    @property
    def properties(self) -> tuple:
        """The indexed property names, in key order."""
        return self[1]

    def __repr__(self) -> str:
        return f"IndexInfo({self[0]!r}, {self[1]!r}, kind={self.kind!r})"


def _check_id(value, what: str) -> int:
    if type(value) is int:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return plain(value)
    if isinstance(value, (Node, Edge)):
        return value.id
    raise InterfaceError(f"{what} id must be an int, not {type(value).__name__}")


def _check_direction(direction: str) -> str:
    if type(direction) is not str:
        direction = plain(direction)
    if type(direction) is not str or direction not in _DIRECTIONS:
        raise InterfaceError(f"direction must be 'out', 'in' or 'both', not {direction!r:.80}")
    return direction


def _check_ids(node_ids) -> Any:
    """A sequence of node ids as a list or tuple of the built-in values (``plain``), or an
    ``array('Q')`` / memoryview as it is (the native reads it without a copy).  InterfaceError
    for what is not an iterable of ids, or an iterable that fails; the ids themselves are
    checked where they are read."""
    ids = plain(node_ids)
    if type(ids) is list or type(ids) is tuple:
        return ids
    if getattr(ids, "typecode", None) == "Q" or type(ids) is memoryview:
        return ids
    if isinstance(ids, (str, bytes, bytearray, Mapping)) or not isinstance(ids, Iterable):
        raise InterfaceError(f"node_ids must be a sequence of node ids, not {type(ids).__name__}")
    try:
        return list(ids)
    except Exception as e:
        raise InterfaceError(f"reading the node ids from a {type(ids).__name__} failed: "
                             f"{type(e).__name__}: {e}") from e


MAX_HOPS = 1 << 20
"""Largest ``hops`` count_reach accepts (the native kernel's bound)."""


def _check_hops(hops) -> int:
    if isinstance(hops, bool) or not isinstance(hops, int):
        raise InterfaceError(f"hops must be an int, not {type(hops).__name__}")
    hops = plain(hops)
    if not 0 <= hops <= MAX_HOPS:
        raise InterfaceError(f"hops must be between 0 and {MAX_HOPS}, not {hops}")
    return hops


def _check_name(name, what: str) -> str:
    if type(name) is not str:
        name = plain(name)
        if type(name) is not str:
            raise InterfaceError(f"{what} must be a str, not {type(name).__name__}")
    return name


def _check_label(label) -> Optional[str]:
    if label is None:
        return None
    if type(label) is not str:
        label = plain(label)
        if type(label) is not str:
            raise InterfaceError(f"label must be a str or None, not {type(label).__name__}")
    return label


def _apply_changes(props: dict, set: Optional[Mapping[str, Any]], remove: Iterable[str]) -> None:
    """``update_node``/``update_edge``'s property changes, applied to ``props`` (checked first:
    a key both set to a value and removed is refused, whichever order was meant)."""
    changes = check_properties(set, allow_none=True)
    rem = label_set(remove, "property name")
    for k in rem:
        if changes.get(k) is not None:
            raise InterfaceError(f"property {k!r} is both set and removed; give it in one of set and remove")
    for k in rem:
        props.pop(k, None)
    for k, v in changes.items():
        if v is None:
            props.pop(k, None)
        else:
            props[k] = v


class _Reader:
    """The read API of API.md over primitives the subclasses provide."""

    __slots__ = ()     # a snapshot's attributes are slots (_ViewReader); a Transaction has a __dict__
    _db = None
    _view = None       # storage.view.GraphView: the one read boundary
    _snap = 0
    _nodes = _edges = MappingProxyType({})   # a snapshot has no write buffer; transactions do

    # -- lifecycle --------------------------------------------------------------------------------
    def _check_open(self) -> None:
        raise NotImplementedError

    # -- primitives (overridden by Transaction to merge its buffer) --------------------------------
    def _node_raw(self, nid: int):
        """``(labels, props)`` of a visible node (a view's row, ``[labels, props, spare]``, or a
        transaction's after-image), or None (props read-only)."""
        return self._view.node(nid)

    def _edge_raw(self, eid: int):
        """``(labels, src, dst, props)`` of a visible edge, or None (props read-only)."""
        return self._view.edge(eid)

    def _node_exists(self, nid: int) -> bool:
        return self._view.has_node(nid)

    def _node_ids(self, label: Optional[str]) -> list:
        return self._view.node_ids(label)

    def _edge_ids(self, label: Optional[str]) -> list:
        return self._view.edge_ids(label)

    def _incident(self, nid: int, direction: str, label: Optional[str]) -> list:
        """``[(eid, nbr)]`` of the visible edges at ``nid``. O(deg(nid))."""
        return self._view.incident(nid, direction, label)

    # -- public reads -----------------------------------------------------------------------------
    def node(self, id: int) -> Node:
        """The node with this id. Raises NotFoundError (a KeyError) if there is none."""
        self._check_open()
        nid = _check_id(id, "node")
        raw = self._node_raw(nid)
        if raw is None:
            raise NotFoundError(f"no node with id {nid}")
        return node_of(nid, raw[0], raw[1])

    def edge(self, id: int) -> Edge:
        """The edge with this id. Raises NotFoundError (a KeyError) if there is none."""
        self._check_open()
        eid = _check_id(id, "edge")
        raw = self._edge_raw(eid)
        if raw is None:
            raise NotFoundError(f"no edge with id {eid}")
        return edge_of(eid, raw[1], raw[2], raw[0], raw[3])

    def has_node(self, id: int) -> bool:
        """True if a node with this id is visible here."""
        self._check_open()
        return self._node_exists(_check_id(id, "node"))

    # The readers that return iterators check their arguments and that this reader is open when
    # they are called (API.md: any call on a finished transaction -> InterfaceError), and their
    # iterators check again at every step: one taken before a commit, a rollback or a close
    # refuses to go on instead of reading a view that has moved on.
    def _node_iter(self, ids, label: Optional[str] = None, want: Optional[Mapping] = None) -> Iterator[Node]:
        check = self._check_open
        for nid in ids:
            check()
            raw = self._node_raw(nid)
            if raw is None:
                continue
            labels, p = raw[0], raw[1]
            if want is None or ((label is None or label in labels)
                                and all(k in p and equal(p[k], v) for k, v in want.items())):
                yield node_of(nid, labels, p)

    def _edge_iter(self, ids) -> Iterator[Edge]:
        check = self._check_open
        for eid in ids:
            check()
            raw = self._edge_raw(eid)
            if raw is not None:
                yield edge_of(eid, raw[1], raw[2], raw[0], raw[3])

    def nodes(self, label: Optional[str] = None) -> Iterator[Node]:
        """All nodes (with ``label``), in id order."""
        self._check_open()
        return self._node_iter(self._node_ids(_check_label(label)))

    def edges(self, label: Optional[str] = None) -> Iterator[Edge]:
        """All edges (carrying ``label``), in id order."""
        self._check_open()
        return self._edge_iter(self._edge_ids(_check_label(label)))

    def _require_node(self, id) -> int:
        self._check_open()
        nid = _check_id(id, "node")
        if not self._node_exists(nid):
            raise NotFoundError(f"no node with id {nid}")
        return nid

    def neighbors(self, id: int, direction: str = "out", label: Optional[str] = None) -> list:
        """Ids of the nodes at the other end of ``id``'s edges (one entry per edge). O(deg)."""
        nid = self._require_node(id)
        return [nbr for _eid, nbr in self._incident(nid, _check_direction(direction), _check_label(label))]

    def edges_of(self, id: int, direction: str = "out", label: Optional[str] = None) -> Iterator[Edge]:
        """The edges at node ``id`` (a self-loop once, also for "both"). O(deg)."""
        nid = self._require_node(id)
        return self._edge_iter([eid for eid, _nbr in self._incident(nid, _check_direction(direction),
                                                                    _check_label(label))])

    def degree(self, id: int, direction: str = "out", label: Optional[str] = None) -> int:
        """Number of edges at node ``id``. O(deg) (native)."""
        nid = self._require_node(id)
        return len(self._incident(nid, _check_direction(direction), _check_label(label)))

    def node_count(self, label: Optional[str] = None) -> int:
        """Number of nodes (with ``label``). Native count, no id list built."""
        self._check_open()
        label = _check_label(label)
        if self._nodes:                       # a transaction with buffered node writes
            return len(self._node_ids(label))
        return self._view.node_count(label)

    def edge_count(self, label: Optional[str] = None) -> int:
        """Number of edges (carrying ``label``). Native count, no id list built."""
        self._check_open()
        label = _check_label(label)
        if self._edges:                       # a transaction with buffered edge writes
            return len(self._edge_ids(label))
        return self._view.edge_count(label)

    def find_nodes(self, label: Optional[str] = None, **props: Any) -> Iterator[Node]:
        """Nodes with ``label`` whose properties equal ``props``; uses a hash index when one
        covers (label, some of the props), else scans the label."""
        self._check_open()
        label = _check_label(label)
        want = check_properties(props, allow_none=False)
        ids = None
        if label is not None and want:
            ids = self._index_probe(label, want)
        if ids is None:
            ids = self._node_ids(label)
        return self._node_iter(ids, label, want)

    def _index_probe(self, label: str, want: Mapping) -> Optional[list]:
        """Candidate ids from an index on (label, props ⊆ want): a user index, or one a schema
        KEY/EXCLUSIVE constraint provides; None if none applies."""
        view = self._view
        for lab, props in view.user_indexes():
            if lab == label and all(p in want for p in props):
                try:
                    return self.key_nodes(view.user_index_name(lab, props), tuple(want[p] for p in props))
                except DataError:   # no key can hold the value (NaN, a lone surrogate): no node does
                    return []
        gt = _schema.of(view.schema)
        if gt is not None:
            for spec in gt.index_specs():
                props = spec.constraint.prop_keys
                if (props and all(p in want for p in props) and gt.label_index(label, props) is spec
                        and view.index_spec(spec.name) is not None):
                    try:
                        return self._schema_key_nodes(spec.name, label, props, tuple(want[p] for p in props))
                    except DataError:
                        return []
        return None

    def _schema_index(self, label: str, prop: str):
        """The name of the schema index complete for (label, prop) (GraphType.label_index), or None."""
        gt = _schema.of(self._view.schema)
        if gt is None:
            return None
        spec = gt.label_index(label, (prop,))
        if spec is None or self._view.index_spec(spec.name) is None:    # none, or newer than the view
            return None
        return spec.name

    def _schema_key_nodes(self, name: str, label: str, props: tuple, key: tuple) -> list:
        """``key_nodes`` through a schema index found by ``label_index`` (committed data conforms;
        the transaction overrides this to add its own, not yet validated, writes)."""
        return self.key_nodes(name, key)

    # -- internal fast paths (query engine, validator) -----------------------------------------------
    def key_lookup(self, label: str, prop: str, value: Any) -> Optional[List[int]]:
        """Ids of nodes with ``label`` and ``prop == value`` through an index, or None if no index
        on (label, prop) exists: a user index (``db.create_index``) or one that a schema KEY or
        EXCLUSIVE constraint provides (see ``db.indexes()``)."""
        self._check_open()
        label, prop = _check_name(label, "label"), _check_name(prop, "property")
        name = self._view.user_index_name(label, (prop,))
        try:
            if name is not None:
                return self.key_nodes(name, (value,))
            name = self._schema_index(label, prop)
            if name is None:
                return None
            return self._schema_key_nodes(name, label, (prop,), (value,))
        except DataError:
            return []

    def key_nodes(self, spec_name: str, key: tuple) -> List[int]:
        """Ids of the visible nodes whose key under index ``spec_name`` equals ``key``."""
        try:
            return self._view.key_nodes(spec_name, key)
        except KeyError:
            raise InterfaceError(f"no index named {spec_name!r}") from None

    def expand(self, node_ids: Sequence[int], direction: str = "out", label: Optional[str] = None
               ) -> Tuple[List[int], List[int], List[int]]:
        """Batched 1-hop: ``(nbrs, eids, from_index)`` for all edges of ``node_ids``."""
        self._check_open()
        return self._view.expand(_check_ids(node_ids), _check_direction(direction), _check_label(label))

    def property_many(self, node_ids: Sequence[int], prop: str) -> List[Any]:
        """Property ``prop`` of each node (None where the node or the property is absent), in one
        native call: the columnar read behind scans and aggregates.  O(len(node_ids))."""
        self._check_open()
        prop = _check_name(prop, "property name")
        return self._view.property_many(_check_ids(node_ids), prop)

    def degree_many(self, node_ids: Sequence[int], direction: str = "out", label: Optional[str] = None
                    ) -> List[int]:
        """Degrees of many nodes in one native call (0 for ids that are not nodes). O(sum of
        degrees)."""
        self._check_open()
        return self._view.degree_many(_check_ids(node_ids), _check_direction(direction), _check_label(label))

    def count_reach(self, id: int, hops: int, direction: str = "out", label: Optional[str] = None) -> int:
        """Distinct nodes reachable from ``id`` by walks of exactly ``hops`` edges, excluding ``id``."""
        nid = self._require_node(id)
        return self._view.count_reach(nid, _check_hops(hops), _check_direction(direction), _check_label(label))

    def scan_view(self):
        """For full schema validation: the storage read view (``GraphView``: its ``node_chunks``
        / ``edge_chunks`` scans) of the committed graph this reader sees, or None when the
        reader has writes of its own that the scans would miss."""
        if self._nodes or self._edges:
            return None
        self._check_open()
        return self._view

    def statistics(self) -> "Statistics":
        """Counts for planning (storage.view.Statistics): nodes per label, edges per label, of
        the committed graph (a transaction's own uncommitted writes are not counted)."""
        self._check_open()
        return self._view.statistics()

    def node_raw(self, nid: int):
        """``(labels, properties)`` of a visible node, or None (query engine: no Node object,
        no checks; the properties are read-only)."""
        return self._node_raw(nid)

    def node_ids(self, label: Optional[str] = None) -> list:
        """Ids of the visible nodes (with ``label``), ascending, without building Node objects
        (query engine scans; with ``property_many`` and ``degree_many`` the columnar path of
        scans).  O(nodes of the label)."""
        self._check_open()
        return self._node_ids(_check_label(label))

    def index_for(self, label: str, prop: str) -> Optional[str]:
        """What ``key_lookup(label, prop, v)`` probes, described, or None when it has no index
        for (label, prop) (the query planner's index choice)."""
        self._check_open()
        name = self._view.user_index_name(label, (prop,))
        if name is not None:
            return f"index :{label}({prop})"
        name = self._schema_index(label, prop)
        return None if name is None else f"key index :{label}({prop}) of {name}"

    def catalog_version(self) -> Hashable:
        """A value that changes whenever the schema or the set of indexes changes (plan cache)."""
        return self._view.catalog_version

    # a snapshot's graph is committed, so it conforms to its enforced graph type
    schema_holds = True

    # -- what the graph holds (the query language's db.labels(), SHOW INDEXES, ...) ---------------
    def label_names(self) -> List[str]:
        """The labels at least one visible node carries (a transaction's own writes included),
        sorted.  O(labels) counts; in a transaction holding node writes, O(nodes of the labels)."""
        self._check_open()
        names = set(self._view.statistics().labels)      # committed, each with a node
        if self._nodes:
            for img in self._nodes.values():
                if img is not None:
                    names |= img[0]
            names = {lab for lab in names if self._node_ids(lab)}
        return sorted(names)

    def edge_label_names(self) -> List[str]:
        """The labels (relationship types) at least one visible edge carries, sorted (an edge
        with several labels counts under each).  Like ``label_names``."""
        self._check_open()
        names = set(self._view.statistics().edge_labels)
        if self._edges:
            for img in self._edges.values():
                if img is not None:
                    names |= img[0]
            names = {lab for lab in names if self._edge_ids(lab)}
        return sorted(names)

    def property_keys(self) -> List[str]:
        """The property keys at least one visible node or edge holds, sorted.  Reads every node
        and edge: O(graph)."""
        self._check_open()
        keys: set = set()
        for nid in self._node_ids(None):
            raw = self._node_raw(nid)
            if raw is not None and raw[1]:
                keys.update(raw[1])
        for eid in self._edge_ids(None):
            raw = self._edge_raw(eid)
            if raw is not None and raw[3]:
                keys.update(raw[3])
        return sorted(keys)

    def indexes(self) -> List["IndexInfo"]:
        """Every index this view reads: the user indexes and those the schema's KEY / EXCLUSIVE
        constraints provide (``db.indexes()``).

        Each is an ``IndexInfo``, a ``(label, properties)`` tuple with ``.kind`` (``"user"`` or
        ``"schema"``) and ``.constraint`` (the constraint's DDL for schema indexes).  A schema
        index has a label when lookups of that label use it (``key_lookup``, ``find_nodes`` and
        the query planner: ``GraphType.label_index``), else None: it then only enforces its
        constraint.  User indexes come first, each group sorted."""
        self._check_open()
        view = self._view
        out = [IndexInfo(label, props, "user", None) for label, props in view.user_indexes()]
        gt = _schema.of(view.schema)
        if gt is not None:
            schema = []
            for spec in gt.index_specs():
                c = spec.constraint
                props = c.prop_keys or ()
                labels = []
                if c.scope[0] == "label":
                    labels = [c.scope[1]]
                elif c.scope[0] == "type" and c.scope[1].shapes:
                    labels = sorted(frozenset.intersection(*(e.labels for e in c.scope[1].shapes)))
                served = [lab for lab in labels if props and gt.label_index(lab, props) is spec]
                for lab in served or [None]:
                    schema.append(IndexInfo(lab, props, "schema", spec.name))
            out.extend(sorted(schema, key=lambda i: (i.label or "", i.properties, i.constraint)))
        return out

    @property
    def graph_type(self) -> "Optional[GraphType]":
        """The enforced graph type, or None."""
        return _schema.of(self._view.schema)

    def execute(self, query: str, params: Optional[Mapping[str, Any]] = None, **options: Any) -> "Result":
        """Run an openCypher-style query inside this snapshot/transaction."""
        self._check_open()
        from . import query as _query
        if options:
            options = _query.check_options(options)
        defaults = self._db.query_defaults if self._db is not None else None
        if defaults:
            options = {**defaults, **options}
        return _query.execute(query, params, self, self._readonly_queries, options)


class _ViewReader(PinnedReads, _Reader):
    """The read API over one pinned view, without a lifecycle of its own: what a read-only
    query runs on (``db.execute`` takes the shared view for the call and drops it after, so it
    needs no Snapshot object and no context manager).  ``Snapshot`` adds ``close`` and ``with``.
    ``key_lookup`` and ``degree`` are storage's one-frame point reads (view.PinnedReads), which
    leave every case they do not answer to ``_key_lookup_any`` / ``_degree_any`` below."""

    __slots__ = ("_db", "_view", "_snap", "_memo")
    _readonly_queries = True

    def __init__(self, db: Any, view: "GraphView") -> None:
        self._db = db
        self._view = view          # the pin (engine.pinned_view): held while referenced; _CLOSED once closed
        self._snap = view.lsn
        self._memo = None          # (id, version) of the first node the last key lookup found

    def node_raw(self, id: int):
        """``(labels, props)`` of node ``id``, or None (no buffer to merge: straight to the view;
        the node a key lookup just found is read from the decoded rows without a native call)."""
        memo = self._memo
        if memo is not None and memo[0] == id:
            return self._view.row(id, memo[1])
        return self._view.node(id)

    def _check_open(self) -> None:
        if self._view is _CLOSED:
            raise InterfaceError("the snapshot is closed")
        self._db._check_open()

    # The hot read path, specialised for snapshots (no transaction buffer to merge); it keeps the
    # checks of the generic version above and is one view call (a closed snapshot's view raises).
    def node(self, id: int) -> Node:
        view = self._view
        if self._db._closed:
            self._check_open()
        if type(id) is not int:
            id = _check_id(id, "node")
        memo = self._memo
        if memo is not None and memo[0] == id:    # found by the key lookup (snapshots never change)
            raw = view.rows.get(memo) or view.row(id, memo[1])
        else:
            raw = view.node(id)
        if raw is None:
            raise NotFoundError(f"no node with id {id}")
        n = raw[2]          # the Node of this row version, made by the first reader that read it
        if n is None:
            n = raw[2] = node_of(id, raw[0], raw[1])
        return n

    def _degree_any(self, id, direction, label) -> int:
        """``degree`` for every case view.PinnedReads leaves here (arguments it does not take,
        a node that is not there, damage)."""
        self._check_open()
        if (type(id) is not int or type(direction) is not str or direction not in _DIRECTIONS
                or (label is not None and type(label) is not str)):
            return _Reader.degree(self, id, direction, label)
        d = self._view.degree_if_node(id, direction, label) if 0 <= id < 1 << 64 else None
        if d is None:
            raise NotFoundError(f"no node with id {id}")
        return d

    def _key_lookup_any(self, label, prop, value) -> Optional[List[int]]:
        """``key_lookup`` for every case view.PinnedReads leaves here (no user index, a value
        that is not an int or a str, several nodes, a node written since the checkpoint)."""
        self._check_open()
        if type(label) is not str or type(prop) is not str:
            return _Reader.key_lookup(self, label, prop, value)
        got = self._view.key_lookup_node(label, prop, value)
        if got is not None:
            ids, ver = got
            if ver is not None:
                self._memo = (ids[0], ver)
            return ids
        name = self._schema_index(label, prop)
        if name is None:
            return None
        try:
            return self._view.key_nodes(name, (value,))
        except DataError:
            return []

    @property
    def lsn(self) -> int:
        """The log position this snapshot reads at."""
        return self._snap


class _ClosedView:
    """What a closed snapshot reads through: every read raises InterfaceError."""

    __slots__ = ()

    def __getattr__(self, name):
        raise InterfaceError("the snapshot is closed; open a new one with db.snapshot()")


_CLOSED = _ClosedView()


class Snapshot(_ViewReader):
    """A consistent, read-only view of the committed graph as of one moment.

    Opening one takes the engine's shared view of the visible LSN; the view is the pin, held
    as long as the snapshot references it: closing the snapshot (or dropping it unclosed)
    releases it, with no call into the engine."""

    __slots__ = ()

    def close(self) -> None:
        """Release the snapshot (idempotent); later reads raise InterfaceError."""
        self._view = _CLOSED

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self._view = _CLOSED


def _overlay_ids(base: list, buffer: dict, label: Optional[str]) -> list:
    """Committed ids overlaid with a buffer of after-images (labels first; None = deleted),
    in ascending order. O(len(base) + len(buffer))."""
    if not buffer:
        return base
    out = [i for i in base if i not in buffer]
    out.extend(i for i, img in buffer.items() if img is not None and (label is None or label in img[0]))
    out.sort()
    return out


class _WriteSet:
    """What a transaction changed, for the incremental schema check."""

    def __init__(self, nodes_written, nodes_deleted, edges_written, edges_deleted,
                 node_images=None, edge_images=None, first_new_node=None, node_puts=None,
                 node_runs=None, edge_runs=None):
        self.nodes_written = nodes_written
        self.nodes_deleted = nodes_deleted
        self.edges_written = edges_written
        self.edges_deleted = edges_deleted
        self.node_images = node_images          # the buffers (invariant 2), read, not copied
        self.edge_images = edge_images
        self.first_new_node = first_new_node    # ids from here on were created by the transaction
        self.node_puts = node_puts              # (id, packed map) of each written node
        # the columns of the commit record's NODES_COLS / EDGES_COLS ops (records.cols_ops runs)
        self.node_runs = node_runs
        self.edge_runs = edge_runs


_REACH_MEMO = 1 << 20   # node ids count_reach may hold in remembered frontiers

ACTIVE, COMMITTED, ROLLED_BACK, FAILED = "active", "committed", "rolled back", "failed"
_MISSING = object()


class Transaction(_Reader):
    """A write transaction: buffered, read-your-writes, schema-checked and logged at commit."""

    _readonly_queries = False

    def __init__(self, db: Any, engine: Any) -> None:
        self._db = db
        self._engine = engine
        self._view = engine.writer_view()      # reads at the applied LSN; the writer lock is held
        self._snap = self._view.lsn
        self._base_nodes = self._view.next_node_id   # ids below: committed before this transaction
        self._base_edges = self._view.next_edge_id
        self._status = ACTIVE
        self._owner = threading.get_ident()
        self._nodes: dict = {}
        self._edges: dict = {}
        self._base_deleted_edges: dict = {}         # base edge id -> (src, dst, labels)
        self._new_out: dict = {}                     # node id -> [eid] created in this tx
        self._new_in: dict = {}
        self._next_node = self._base_nodes
        self._next_edge = self._base_edges
        self._extra_ops: list = []                   # SCHEMA / INDEX / bulk ops (records.op_*)
        self._stream = None                          # a streamed bulk load (_stream_bulk)
        self._key_cache: Optional[dict] = None
        self._undo: Optional[list] = None            # while a statement runs: how to undo it
        # labels of committed nodes read as edge endpoints (a node this transaction writes is
        # read from _nodes first, so an entry never goes stale): the validator's endpoint check
        # reads them again at commit (node_labels)
        self._base_labels: dict = {}

    # -- state machine ----------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._status != ACTIVE:
            raise InterfaceError(f"the transaction is {self._status}; start a new one")
        self._db._check_open()

    @property
    def status(self) -> str:
        """``"active"``, ``"committed"``, ``"rolled back"`` or ``"failed"``."""
        return self._status

    def _finish(self, status: str) -> None:
        self._status = status
        # a finished transaction keeps nothing of its writes (a bulk load's columns can be GBs:
        # they must not outlive the commit into the checkpoint that may follow it)
        self._nodes = self._edges = {}
        self._base_labels = {}
        self._new_out, self._new_in, self._extra_ops = {}, {}, []
        stream, self._stream = self._stream, None
        try:
            if stream is not None:
                self._engine.stream_abort(stream)    # not committed: its spill and nodes go
        finally:
            self._db._end_transaction(self)

    def rollback(self) -> None:
        """Discard every change of this transaction."""
        if self._status != ACTIVE:
            raise InterfaceError(f"the transaction is {self._status}; nothing to roll back")
        self._finish(ROLLED_BACK)

    def _abandon(self) -> None:
        """Roll back because the database is closing."""
        if self._status == ACTIVE:
            self._finish(ROLLED_BACK)

    def commit(self) -> None:
        """Validate, log and apply. On SchemaViolationError (or any error) nothing is written."""
        self._check_open()
        try:
            gt = _schema.of(self._view.schema)
            puts: list = []
            node_runs: list = []
            edge_runs: list = []
            ops = self._ops(puts, node_runs, edge_runs)  # each after-image packed once: the log's and the check's
            if gt is not None and (self._nodes or self._edges):
                from .schema import validate
                violations = validate.validate_commit(gt, self, self._write_set(puts, node_runs, edge_runs))
                if violations:
                    raise SchemaViolationError(violations)
            # a bulk op's rows may be attached (files built at commit); the transaction's own
            # rows, columns too, are logged: a big write's commit stays one log append
            bulk = any(records.makes_rows(op) for op in self._extra_ops)
            self._extra_ops = []         # ops holds them now: the engine may drop each once applied
            if self._stream is not None:
                stream, self._stream = self._stream, None
                try:
                    lsn = self._engine.commit_stream(stream, ops)
                finally:
                    self._engine.stream_abort(stream)    # a no-op once committed
            else:
                lsn = self._engine.commit(ops, may_attach=bulk) if ops else None
            del ops                      # not kept through make_durable and _after_commit
        except BaseException:
            self._finish(FAILED)
            raise
        self._finish(COMMITTED)          # releases the writer lock (invariant 1) ...
        if lsn is not None:
            try:
                self._engine.make_durable(lsn)   # ... before waiting for the group fsync
            except BaseException:
                self._status = FAILED            # not acknowledged: the handle is poisoned
                raise
            self._db._after_commit()     # never raises: the commit is acknowledged now

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._status != ACTIVE:
            return False
        if exc_type is None:
            self.commit()
        else:
            self._finish(ROLLED_BACK)
        return False

    # -- what the query planner may assume -------------------------------------------------------
    @property
    def schema_holds(self) -> bool:
        """True while the graph this transaction reads is known to conform to the enforced graph
        type: it has written nothing yet.  Its writes are checked at commit, so once it holds any,
        it may read elements no type allows (the query planner then prunes nothing)."""
        return not (self._nodes or self._edges)

    def catalog_version(self) -> Hashable:
        """The view's catalog version, marked "unchecked" while the transaction holds writes under
        a graph type (``schema_holds`` is False): a plan pruned by the schema is not reused then."""
        v = self._view.catalog_version
        if (self._nodes or self._edges) and self._view.schema is not None:
            return ("unchecked", v)
        return v

    # -- building the log record ---------------------------------------------------------------
    def _ops(self, puts: Optional[list] = None, node_runs: Optional[list] = None,
             edge_runs: Optional[list] = None) -> list:
        """The commit record's ops: the nodes and edges this transaction created as columns
        (records.cols_ops), its other writes op by op.  ``(id, packed map)`` of every node it
        writes is appended to ``puts``, and the columns of the column ops to ``node_runs`` and
        ``edge_runs`` (the schema check reads them).

        New ids are handed out ascending, and each new node or edge enters its buffer when it
        is created, so the buffers hold them in id order.  A bulk op of the same transaction
        (``_log_bulk_*``) takes ids in between: then every write goes op by op (a columnar op
        must start above every id the record created before it)."""
        puts = [] if puts is None else puts
        base_nodes, base_edges = self._base_nodes, self._base_edges
        cols = not any(records.makes_rows(op) for op in self._extra_ops)
        node_puts, edge_puts, edge_dels, dels = [], [], [], []
        live = [(nid, img) for nid, img in self._nodes.items() if img is not None]
        if len(live) < len(self._nodes):
            dels = [records.op_node_del(nid) for nid, img in self._nodes.items()
                    if img is None and nid < base_nodes]
        packed = records.pack_props_many([img[1] for _nid, img in live])
        nids = [nid for nid, _img in live]
        puts += zip(nids, packed)
        if cols and live and min(nids) >= base_nodes:       # all new: columns
            node_puts = records.cols_ops(nids, [img[0] for _nid, img in live], packed, runs=node_runs)
        else:
            ids, labels, maps = [], [], []
            for (nid, img), m in zip(live, packed):
                if cols and nid >= base_nodes:
                    ids.append(nid)
                    labels.append(img[0])
                    maps.append(m)
                else:
                    node_puts.append(records.op_node_put_packed(nid, img[0], m))
            if ids:
                node_puts += records.cols_ops(ids, labels, maps, runs=node_runs)
        ids, labels, srcs, dsts, props = [], [], [], [], []
        for eid, img in self._edges.items():
            if img is None:
                if eid in self._base_deleted_edges:
                    edge_dels.append(records.op_edge_del(eid))
            elif cols and eid >= base_edges:
                ids.append(eid)
                labels.append(img[0])
                srcs.append(img[1])
                dsts.append(img[2])
                props.append(img[3])
            else:
                edge_puts.append(records.op_edge_put(eid, img[0], img[1], img[2], img[3]))
        if ids:
            edge_puts += records.cols_ops(ids, labels, records.pack_props_many(props), srcs, dsts, edge_runs)
        return self._extra_ops + node_puts + edge_dels + edge_puts + dels

    def _write_set(self, node_puts: Optional[list] = None, node_runs: Optional[list] = None,
                   edge_runs: Optional[list] = None) -> _WriteSet:
        nw = {n for n, img in self._nodes.items() if img is not None}
        nd = {n for n, img in self._nodes.items() if img is None and n < self._base_nodes}
        ew = {e for e, img in self._edges.items() if img is not None}
        return _WriteSet(nw, nd, ew, dict(self._base_deleted_edges), self._nodes, self._edges,
                         self._base_nodes, node_puts, node_runs, edge_runs)

    # -- reads merged with the buffer ------------------------------------------------------------
    def _node_raw(self, nid):
        if nid in self._nodes:
            img = self._nodes[nid]
            return None if img is None else (img[0], img[1])
        return _Reader._node_raw(self, nid)

    def _node_exists(self, nid):
        if nid in self._nodes:
            return self._nodes[nid] is not None
        return _Reader._node_exists(self, nid)

    def node_labels(self, nid: int) -> Optional[frozenset]:
        """The labels of node ``nid``, or None if it is not visible (validator fast path: no
        property decoding, no checks)."""
        try:
            img = self._nodes.get(nid, False)
        except TypeError:
            raise InterfaceError(f"node id must be an int, not {type(nid).__name__}") from None
        if img is not False:
            return None if img is None else img[0]
        labels = self._base_labels.get(nid)
        if labels is None:
            labels = self._view.node_labels(nid)
            if labels is not None:
                self._base_labels[nid] = labels
        return labels

    def node_labels_many(self, ids: Sequence[int]) -> list:
        """``node_labels`` of each id (the schema fast path's endpoints of many edges): the
        labels kept when the edges were made, without a call per id when this transaction
        wrote no node."""
        if not self._nodes:
            out = list(map(self._base_labels.get, ids))
            if None not in out:
                return out
        return [self.node_labels(n) for n in ids]

    def _edge_raw(self, eid):
        if eid in self._edges:
            img = self._edges[eid]
            return None if img is None else (img[0], img[1], img[2], img[3])
        return _Reader._edge_raw(self, eid)

    def _node_ids(self, label):
        return _overlay_ids(_Reader._node_ids(self, label), self._nodes, label)

    def _edge_ids(self, label):
        return _overlay_ids(_Reader._edge_ids(self, label), self._edges, label)

    def _incident(self, nid, direction, label):
        base = _Reader._incident(self, nid, direction, label) if nid < self._base_nodes else []
        if not self._edges:
            return base
        out = [(e, n) for e, n in base if e not in self._base_deleted_edges]
        seen = set()
        for table, want in ((self._new_out, direction in ("out", "both")),
                            (self._new_in, direction in ("in", "both"))):
            if not want:
                continue
            for eid in table.get(nid, ()):
                img = self._edges.get(eid)
                if img is None or eid in seen or (label is not None and label not in img[0]):
                    continue
                seen.add(eid)
                out.append((eid, img[2] if img[1] == nid else img[1]))
        return out

    def expand(self, node_ids: Sequence[int], direction: str = "out", label: Optional[str] = None
               ) -> Tuple[List[int], List[int], List[int]]:
        """Batched 1-hop over the committed graph plus this transaction's writes."""
        node_ids = _check_ids(node_ids)
        if not self._edges and not self._nodes:
            return _Reader.expand(self, node_ids, direction, label)
        self._check_open()
        direction, label = _check_direction(direction), _check_label(label)
        nbrs, eids, frm = [], [], []
        for i, nid in enumerate(node_ids):
            if not self._node_exists(nid):
                continue
            for eid, nbr in self._incident(nid, direction, label):
                nbrs.append(nbr)
                eids.append(eid)
                frm.append(i)
        return nbrs, eids, frm

    def property_many(self, node_ids: Sequence[int], prop: str) -> List[Any]:
        node_ids, prop = _check_ids(node_ids), _check_name(prop, "property name")
        if not self._nodes:
            return _Reader.property_many(self, node_ids, prop)
        self._check_open()
        out = []
        for nid in node_ids:
            raw = self._node_raw(nid)
            out.append(None if raw is None else raw[1].get(prop))
        return out

    def degree_many(self, node_ids: Sequence[int], direction: str = "out", label: Optional[str] = None
                    ) -> List[int]:
        node_ids = _check_ids(node_ids)
        if not self._edges and not self._nodes:
            return _Reader.degree_many(self, node_ids, direction, label)
        self._check_open()
        direction, label = _check_direction(direction), _check_label(label)
        return [len(self._incident(n, direction, label)) if self._node_exists(n) else 0
                for n in node_ids]

    def count_reach(self, id: int, hops: int, direction: str = "out", label: Optional[str] = None) -> int:
        if not self._edges and not self._nodes:
            return _Reader.count_reach(self, id, hops, direction, label)
        nid = self._require_node(id)
        hops = _check_hops(hops)
        direction, label = _check_direction(direction), _check_label(label)
        frontier = frozenset((nid,))
        # The frontiers F(i+1) = N(F(i)) form a sequence that is eventually periodic; once a
        # frontier repeats, the one at ``hops`` follows without walking the rest (B11).  The
        # memo is bounded: past _REACH_MEMO ids it is dropped and the walk goes on plainly.
        seen, held, step = {frontier: 0}, 1, 0
        while step < hops and frontier:
            frontier = frozenset(self.expand(sorted(frontier), direction, label)[0])
            step += 1
            if seen is not None:
                first = seen.get(frontier)
                if first is not None:
                    period = step - first
                    for _ in range((hops - step) % period):
                        frontier = frozenset(self.expand(sorted(frontier), direction, label)[0])
                    break
                held += len(frontier) + 1
                seen = None if held > _REACH_MEMO else seen
                if seen is not None:
                    seen[frontier] = step
        return len(frontier - {nid})

    def key_lookup(self, label: str, prop: str, value: Any) -> Optional[List[int]]:
        if self._status != ACTIVE or self._db._closed:
            self._check_open()
        if self._nodes or type(label) is not str or type(prop) is not str:
            return _Reader.key_lookup(self, label, prop, value)    # merges the buffered nodes
        # no node written or deleted yet (an edge-building transaction's endpoint lookups):
        # the committed graph's answer, one native call through a user index
        got = self._view.key_lookup_node(label, prop, value)
        return got[0] if got is not None else _Reader.key_lookup(self, label, prop, value)

    def key_nodes(self, spec_name: str, key: tuple) -> List[int]:
        spec = self._view.index_spec(spec_name)
        if spec is None:
            raise InterfaceError(f"no index named {spec_name!r}")
        base = self._view.key_nodes(spec_name, key)
        if not self._nodes:
            return base
        kb = canonical_key(key)
        if self._key_cache is None:
            self._key_cache = {}
        tx_keys = self._key_cache.get(spec_name)
        if tx_keys is None:
            tx_keys = {}
            for nid, img in self._nodes.items():
                if img is not None:
                    k = spec.key_of(img[0], img[1])
                    if k is not None:
                        tx_keys.setdefault(canonical_key(k), []).append(nid)
            self._key_cache[spec_name] = tx_keys
        return sorted([n for n in base if n not in self._nodes] + tx_keys.get(kb, []))

    def _schema_key_nodes(self, name, label, props, key):
        """Committed hits of schema index ``name`` plus this transaction's nodes with ``label`` and
        ``props == key``: its writes are not validated yet, so they may not conform to the
        constraint's type and the index's ``key_of`` would miss them.  O(buffer) once per
        (label, props) until the next write, then a dict probe."""
        base = self._view.key_nodes(name, key)
        if not self._nodes:
            return base
        kb = canonical_key(key)
        if self._key_cache is None:
            self._key_cache = {}
        ck = ("label", label, props)
        tx_keys = self._key_cache.get(ck)
        if tx_keys is None:
            tx_keys = {}
            for nid, img in self._nodes.items():
                if img is not None and label in img[0]:
                    vals = tuple(img[1].get(p) for p in props)
                    if None not in vals:
                        try:
                            tx_keys.setdefault(canonical_key(vals), []).append(nid)
                        except DataError:
                            pass
            self._key_cache[ck] = tx_keys
        return sorted([n for n in base if n not in self._nodes] + tx_keys.get(kb, []))

    def keys_fresh(self, spec_name: str, blob: bytes, offs: Sequence[int], tags: Sequence[int], mask: bytes,
                   prop: str) -> int:
        """``GraphView.keys_fresh`` against the committed graph (this transaction's writes
        aside: KEYS_HELD may be a node it rewrote): the schema fast path's key check of its
        written nodes, one native call."""
        return self._view.keys_fresh(spec_name, blob, offs, tags, mask, prop)

    def untouched_key_nodes(self, spec_name: str, keys: Sequence[tuple]) -> List[List[int]]:
        """For each key, the ids of the committed nodes this transaction has not written or
        deleted that hold it under index ``spec_name``: one native call for all keys (the
        validator's batched key probe; it checks the transaction's own nodes itself)."""
        view = self._view
        if view.index_spec(spec_name) is None:
            raise InterfaceError(f"no index named {spec_name!r}")
        keys = list(keys)
        if not keys:
            return []
        mine = self._nodes
        return [[] if first < 0 else [n for n in view.key_nodes(spec_name, k) if n not in mine]
                for k, first in zip(keys, view.key_first_many(spec_name, keys))]

    # -- statements: all or nothing within the transaction ----------------------------------------
    def execute(self, query: str, params: Optional[Mapping[str, Any]] = None, **options: Any) -> "Result":
        """Run a query inside this transaction.  A query that fails (an error, a time, memory or
        row limit) leaves nothing of its own writes in the transaction, whose earlier writes
        stay; the transaction remains usable."""
        self._check_open()
        if self._undo is not None:          # a query run by a query: the outer one's undo covers it
            return _Reader.execute(self, query, params, **options)
        mark = (len(self._extra_ops), self._next_node, self._next_edge)
        self._undo = []
        try:
            return _Reader.execute(self, query, params, **options)
        except BaseException:
            if self._status == ACTIVE:
                self._undo_to(mark)
            raise
        finally:
            self._undo = None

    def _remember(self, table: dict, key) -> None:
        """Before ``table[key]`` changes while a statement runs: note how to restore it."""
        if self._undo is not None:
            self._undo.append((table, key, table.get(key, _MISSING)))

    def _undo_to(self, mark) -> None:
        """Restore the buffers to what they were when the statement started (``mark``)."""
        for table, key, old in reversed(self._undo):
            if table is None:
                del key[old:]                # a list of new edge ids: cut back to its length
            elif old is _MISSING:
                table.pop(key, None)
            else:
                table[key] = old
        del self._extra_ops[mark[0]:]
        self._next_node, self._next_edge = mark[1], mark[2]
        self._key_cache = None

    # -- writes -----------------------------------------------------------------------------------
    def _touch(self):
        self._key_cache = None

    def create_node(self, labels: Labels = (), properties: Optional[Mapping[str, Any]] = None) -> int:
        """Create a node; return its id. ``labels`` is a str or an iterable of str."""
        if self._status != ACTIVE or self._db._closed:
            self._check_open()
        labs = label_set(labels)
        props = check_properties(properties, allow_none=False)
        nid = self._next_node
        self._next_node += 1
        if self._undo is not None:
            self._undo.append((self._nodes, nid, _MISSING))
        self._nodes[nid] = (labs, props)
        self._touch()
        return nid

    def create_edge(self, src: int, label: Labels, dst: int, properties: Optional[Mapping[str, Any]] = None) -> int:
        """Create an edge src -[label]-> dst; ``label`` is a str or a (possibly empty) set of str."""
        if self._status != ACTIVE or self._db._closed:
            self._check_open()
        s = src if type(src) is int else _check_id(src, "node")
        d = dst if type(dst) is int else _check_id(dst, "node")
        labs = label_set(label)
        props = check_properties(properties, allow_none=False)
        if self.node_labels(s) is None:
            raise NotFoundError(f"no node with id {s} (edge endpoint)")
        if self.node_labels(d) is None:
            raise NotFoundError(f"no node with id {d} (edge endpoint)")
        eid = self._next_edge
        self._next_edge += 1
        outs, ins = self._new_out.setdefault(s, []), self._new_in.setdefault(d, [])
        if self._undo is not None:
            self._undo += [(self._edges, eid, _MISSING), (None, outs, len(outs)), (None, ins, len(ins))]
        self._edges[eid] = (labs, s, d, props)
        outs.append(eid)
        ins.append(eid)
        return eid

    def update_node(self, id: int, set: Optional[Mapping[str, Any]] = None, remove: Iterable[str] = (),
                    add_labels: Iterable[str] = (), remove_labels: Iterable[str] = ()) -> None:
        """Set/remove properties (a value of None removes) and add/remove labels of a node."""
        self._check_open()
        nid = _check_id(id, "node")
        raw = self._node_raw(nid)
        if raw is None:
            raise NotFoundError(f"no node with id {nid}")
        labels, props = raw[0], dict(raw[1])
        _apply_changes(props, set, remove)
        add, drop = label_set(add_labels), label_set(remove_labels)
        both = add & drop
        if both:
            raise InterfaceError(f"label {min(both)!r} is both added and removed; give it in one of "
                                 f"add_labels and remove_labels")
        labels = (labels | add) - drop
        self._remember(self._nodes, nid)
        self._nodes[nid] = (labels, props)
        self._touch()

    def update_edge(self, id: int, set: Optional[Mapping[str, Any]] = None, remove: Iterable[str] = ()) -> None:
        """Set/remove properties of an edge (a value of None removes)."""
        self._check_open()
        eid = _check_id(id, "edge")
        raw = self._edge_raw(eid)
        if raw is None:
            raise NotFoundError(f"no edge with id {eid}")
        labels, src, dst, props = raw[0], raw[1], raw[2], dict(raw[3])
        _apply_changes(props, set, remove)
        self._remember(self._edges, eid)
        self._edges[eid] = (labels, src, dst, props)

    def delete_edge(self, id: int) -> None:
        """Delete an edge."""
        self._check_open()
        eid = _check_id(id, "edge")
        raw = self._edge_raw(eid)
        if raw is None:
            raise NotFoundError(f"no edge with id {eid}")
        if eid < self._base_edges and eid not in self._base_deleted_edges:
            self._remember(self._base_deleted_edges, eid)
            self._base_deleted_edges[eid] = (raw[1], raw[2], raw[0])
        self._remember(self._edges, eid)
        self._edges[eid] = None

    def delete_node(self, id: int, detach: bool = False) -> None:
        """Delete a node; with ``detach=True`` its edges too, else IntegrityError if it has any."""
        self._check_open()
        nid = _check_id(id, "node")
        if not self._node_exists(nid):
            raise NotFoundError(f"no node with id {nid}")
        incident = self._incident(nid, "both", None)
        if incident and not plain(detach):
            raise IntegrityError(f"node {nid} still has {len(incident)} edge(s); delete them first "
                                 f"or use delete_node(id, detach=True)")
        for eid, _nbr in incident:
            self.delete_edge(eid)
        self._remember(self._nodes, nid)
        self._nodes[nid] = None
        self._touch()

    # -- schema / index / bulk ops (used by Database; the records are built in storage) -------------
    def _log_schema(self, ddl, graph_type_name) -> None:
        self._extra_ops.append(records.op_schema(ddl, graph_type_name))

    def _log_index(self, label: str, props, create: bool) -> None:
        self._extra_ops.append(records.op_index(label, props, create))

    def _bulk_columns(self):
        """A fresh column builder for :meth:`_log_bulk_nodes` / :meth:`_log_bulk_edges`."""
        return records.BulkColumns()

    def _log_bulk_nodes(self, cols, labelsets: list) -> range:
        """Create ``len(cols)`` nodes from the columns; returns their ids."""
        first = self._next_node
        if len(cols):
            self._extra_ops.append(cols.nodes_op(first, labelsets))
            self._next_node += len(cols)
        return range(first, self._next_node)

    def _log_bulk_batch(self, batch) -> range:
        """Create the nodes or edges of an ingest batch (lpgdb/ingest/columns.py) as one
        NODES_COLS / EDGES_COLS op (property maps encoded by C into one blob); their ids.  The
        commit does not validate these ops: with a schema, the caller has checked the batch
        (schema/bulk.py)."""
        blob, offs = batch.props()
        if batch.kind == "edges":
            first = self._next_edge
            self._extra_ops.append(records.op_edges_cols(first, batch.labelsets, batch.lset, batch.src, batch.dst,
                                                         blob, offs))
            self._next_edge += batch.n
            return range(first, self._next_edge)
        first = self._next_node
        self._extra_ops.append(records.op_nodes_cols(first, batch.labelsets, batch.lset, blob, offs))
        self._next_node += batch.n
        return range(first, self._next_node)

    def _stream_bulk(self, budget: Optional[int] = None) -> None:
        """Hand the columnar bulk ops logged so far to a streamed bulk load (storage/stream.py)
        once they are worth attaching (``Engine.stream_wanted``): from then on the load holds no
        more than a batch of them, and the commit writes each partition file once.  Only for a
        transaction that holds nothing else (a bulk load without a schema)."""
        if self._stream is None:
            if self._nodes or self._edges or not self._engine.stream_wanted(self._extra_ops):
                return
            self._stream = self._engine.stream_begin(budget)
        self._stream.add(self._extra_ops)

    def _buffer_batch(self, batch) -> range:
        """The rows of a batch as after-images in the write set (each map decoded once), so that
        the commit validates them like any other write."""
        self._check_open()
        blob, offs = batch.props()
        props = [blob[a:b] for a, b in zip(offs, offs[1:])]
        edges = batch.kind == "edges"
        lsets, unpack = batch.labelsets, records.unpack_props
        if not edges:
            first = self._next_node
            for i, (li, pr) in enumerate(zip(batch.lset, props)):
                self._nodes[first + i] = (lsets[li], unpack(pr))
            self._next_node += batch.n
            self._touch()
            return range(first, self._next_node)
        first = self._next_edge
        out, inn = self._new_out, self._new_in
        for i, (li, s, d, pr) in enumerate(zip(batch.lset, batch.src, batch.dst, props)):
            eid = first + i
            self._edges[eid] = (lsets[li], s, d, unpack(pr))
            out.setdefault(s, []).append(eid)
            inn.setdefault(d, []).append(eid)
        self._next_edge += batch.n
        return range(first, self._next_edge)

    def _log_bulk_edges(self, cols, labelsets: list) -> range:
        """Create ``len(cols)`` edges from the columns (endpoints already checked)."""
        first = self._next_edge
        if len(cols):
            self._extra_ops.append(cols.edges_op(first, labelsets))
            self._next_edge += len(cols)
        return range(first, self._next_edge)
