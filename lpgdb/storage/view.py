"""THE read boundary: everything above ``lpgdb/storage`` reads the graph through a ``GraphView``.

A view is the committed graph as of one snapshot LSN.  transaction.py (Snapshot, Transaction),
database.py, and through them query/ and schema/, read only these methods; nothing above
storage names the adjacency, key-index, label-index or file structures behind them, so the
storage engine can change underneath (issue 10: memory-mapped partition files + an overlay).

Kinds of view
    ``engine.pinned_view()``    the committed graph at the visible (durable) LSN: the
                                generation's shared view of that LSN (what snapshots and read-only
                                queries use: no view allocated per reader).  The view is the pin:
                                versions and files it may read are kept while it is referenced,
                                and released when it is garbage collected (a snapshot drops its
                                reference when it closes).
    ``engine.writer_view()``    the writer's view at the applied LSN (all commits written, durable
                                or not); valid while the caller holds the writer lock.

What a view returns
    node(id)        a row ``[labels: frozenset[str], props: Mapping, spare]`` or None, shared by
                    every reader of that node version (the generation's row cache): read
                    ``row[0]`` and ``row[1]``, never change them; ``props`` is read-only (copy
                    it, ``dict(props)``, to change it).  ``row[2]`` is None until the layer above
                    stores its element object for the row there (transaction.py: the API's
                    Node), once: a row version never changes, so neither does its Node.
    edge(id)        ``(labels, src, dst, props)`` or None.
    directions      "out", "in" or "both" (validated by the caller); ``label`` None = any.
    ids             ascending lists of ints.
    key lookups     ``key_nodes(index_name, key_tuple)``: ids under a hash index (schema KEY
                    indexes and user indexes alike); ``key_lookup(label, prop, value)``: the ids
                    through a single-property user index on (label, prop), or None if none.
    statistics()    counts per label and per edge label, degree summaries (for the planner).

Invariants
    (1) A view never changes: every method answers as of ``lsn``.
    (2) Complexities are stated per method; nothing here is O(graph) unless it says so.
"""
from __future__ import annotations

from array import array
from itertools import count
from typing import Iterable, Optional

from types import MappingProxyType

from .. import core
from ..errors import CorruptionError
from . import records
from .files import corruption
from .records import unpack_props as _unpack_props
from .graph import ALL, ANSWERS

__all__ = ["GraphView", "PinnedReads", "PointRead", "Statistics", "canonical_key"]


def canonical_key(key: tuple) -> bytes:
    """The bytes a hash index stores for a key tuple: equal keys (1 == 1.0, ...) give equal
    bytes.  DataError for a key that cannot be stored (NaN)."""
    return records.key_bytes(key)


class Statistics:
    """Counts for the query planner, as of one view.

    ``nodes``: total live nodes; ``edges``: total live edges; ``labels``: {label: node count};
    ``edge_labels``: {edge label: edge count}; ``avg_out_degree`` / ``avg_in_degree``:
    {edge label: edges / nodes with at least one such edge (out / in)} where known, else the
    plain average edges / nodes.
    """

    __slots__ = ("nodes", "edges", "labels", "edge_labels", "max_out_degree", "max_in_degree")

    def __init__(self, nodes, edges, labels, edge_labels, max_out_degree=None, max_in_degree=None):
        self.nodes = nodes
        self.edges = edges
        self.labels = labels
        self.edge_labels = edge_labels
        self.max_out_degree = max_out_degree or {}
        self.max_in_degree = max_in_degree or {}

    def __repr__(self) -> str:
        return (f"Statistics(nodes={self.nodes}, edges={self.edges}, labels={self.labels}, "
                f"edge_labels={self.edge_labels})")


class GraphView:
    """The committed graph as of snapshot LSN ``lsn`` (see the module docstring).

    Reads go to one generation's C store (base files + overlay); properties are decoded from
    msgpack only when a node or edge is read.  Damage found in a data file is CorruptionError.
    """

    __slots__ = ("_st", "_store", "_cat", "rows", "lsn", "_pinned", "_k1", "_k1v", "_tl", "_dg")

    def __init__(self, state, lsn: int, pinned: bool = True):
        """A view of generation ``state`` at ``lsn``; ``pinned``: registered as a reader of
        ``state`` until the view is garbage collected (versions and files it may read are kept
        meanwhile).  Use ``engine.pinned_view()``: it registers before the LSN is checked."""
        self._st = state
        self._store = state.store
        self._cat = state.catalog
        self.rows = state.rows     # read-only for callers: (node id, version) -> row already decoded
        self.lsn = lsn
        self._pinned = pinned
        self._k1 = {}               # (label, prop) -> KeySpec or None: key_lookup_node's specs ...
        self._k1v = None            # ... as of this catalog version
        self._tl = {}               # edge label -> tuple of its type ids (degree_if_node)
        self._dg = {}               # (direction, edge label) -> degree_args, or None (PinnedReads)
        if pinned:
            state._readers[id(self)] = lsn

    def __del__(self):
        if self._pinned:
            try:
                self._st.reader_gone(id(self))
            except Exception:   # noqa: BLE001 - interpreter shutdown; nothing left to free
                pass

    # -- metadata ---------------------------------------------------------------------------------
    @property
    def schema(self):
        """The enforced schema this view sees, as stored: ``(ddl, graph type name)``, or None.
        A view older than the last schema change sees the schema of its time (a plan made with
        the newer one could prune a label this view still holds). Resolving it is the schema
        package's job (``lpgdb.schema.of``).  O(1) for a current view."""
        return self._schema_at()[1]

    def _schema_at(self):
        """``(LSN the schema was replaced at or None, schema)`` visible at this view's LSN."""
        cat = self._cat
        old = cat.replaced_schemas
        if old and self.lsn < old[-1][0]:
            for until, schema in old:
                if self.lsn < until:
                    return until, schema
        return None, cat.schema

    @property
    def next_node_id(self) -> int:
        return self._cat.next_node_id

    @property
    def next_edge_id(self) -> int:
        return self._cat.next_edge_id

    @property
    def catalog_version(self):
        """A value that changes whenever the schema or the set of indexes changes (the query
        engine's plan caches compare it): a number, or for a view older than the last schema
        change, the number and the LSN its schema was replaced at.  O(1) for a current view."""
        until = self._schema_at()[0]
        return self._cat.version if until is None else (self._cat.version, until)

    def user_indexes(self) -> list:
        """``[(label, (props...))]`` of the user hash indexes this view may read, sorted."""
        lsn = self.lsn
        return sorted(k for k, spec in self._cat.user_indexes.items() if spec.since <= lsn)

    def index_spec(self, name: str):
        """The hash index called ``name`` (``.name``, ``.key_of(labels, props)``), or None
        (also for an index made after this view's LSN: the catalog is shared by all views, and
        such an index lacks the keys of nodes this view sees; its readers scan instead)."""
        spec = self._cat.spec_by_name(name)
        return spec if spec is not None and spec.since <= self.lsn else None

    # -- nodes --------------------------------------------------------------------------------------
    def node(self, nid: int):
        """The row (``[labels, props, spare]``, see above) of node ``nid``, or None.  O(1) native calls; the properties are
        decoded once per row version and kept in the generation's bounded row cache."""
        try:
            got = self._store.node_ver(self.lsn, nid)
        except core.Corrupt as e:
            raise corruption(e) from None
        if got is None:
            return None
        hit = self.rows.get((nid, got[1]))
        return hit if hit is not None else self._load_row(nid, got[1])

    def row(self, nid: int, ver: int):
        """``node(nid)`` for a node whose version ``ver`` a lookup of this view already found
        (``key_lookup_node``): no native call when the row is cached (``rows.get((nid, ver))``
        first saves the call into the view: ``rows`` is the generation's row cache, read-only
        for callers)."""
        hit = self.rows.get((nid, ver))
        return hit if hit is not None else self._load_row(nid, ver)

    def _load_row(self, nid: int, ver: int):
        return _load_row(self._st, self.lsn, nid, ver)

    def property_many(self, nids, prop: str) -> list:
        """Property ``prop`` of each node of ``nids`` (None where the node or the property is
        absent), in one native call: the columnar read of a scan.  O(len(nids))."""
        try:
            data = self._store.prop_many(self.lsn, nids, prop)
        except core.Corrupt as e:
            raise corruption(e) from None
        return records.unpack_values(data)

    def node_labels(self, nid: int):
        """The labels of node ``nid``, or None (no property decoding).  O(1)."""
        try:
            ls = self._store.node_lset(self.lsn, nid)
        except core.Corrupt as e:
            raise corruption(e) from None
        return None if ls is None else self._cat.labelsets[ls]

    def has_node(self, nid: int) -> bool:
        try:
            return self._store.node_lset(self.lsn, nid) is not None
        except core.Corrupt as e:
            raise corruption(e) from None

    def node_ids(self, label: Optional[str] = None) -> list:
        """Ids of the nodes (with ``label``), ascending.  O(nodes of the label)."""
        lid = ALL if label is None else self._cat.label_ids.get(label)
        if lid is None:
            return []
        try:
            return self._store.label_scan(lid, self.lsn)
        except core.Corrupt as e:
            raise corruption(e) from None

    def node_count(self, label: Optional[str] = None) -> int:
        """O(1) from the files' statistics, plus O(changes since the last checkpoint)."""
        lid = ALL if label is None else self._cat.label_ids.get(label)
        if lid is None:
            return 0
        try:
            return self._store.label_count(lid, self.lsn)
        except core.Corrupt as e:
            raise corruption(e) from None

    # -- edges --------------------------------------------------------------------------------------
    def edge(self, eid: int):
        """``(labels, src, dst, props)`` of edge ``eid``, or None.  O(log deg(src))."""
        try:
            r = self._store.edge(self.lsn, eid)
        except core.Corrupt as e:
            raise corruption(e) from None
        if r is None:
            return None
        return self._cat.type_labels[r[0]], r[1], r[2], _props_view(r[3])

    def _types(self, label):
        return self._cat.types_for(label)

    # -- whole-graph scans (full schema validation) ----------------------------------------------
    SCAN_CHUNK = 65536
    """Elements per chunk of ``node_chunks`` / ``edge_chunks``."""

    def node_chunks(self):
        """Every node, ascending id, in chunks of ``SCAN_CHUNK``: ``(ids array('Q'), label set
        ids array('I'), blob, offsets array('Q'))``, node ``ids[i]``'s msgpack property map
        being ``blob[offsets[i]:offsets[i+1]]`` (``decode_props``) and its labels
        ``labelsets[lset]``.  One native call a chunk; O(nodes), memory O(chunk)."""
        ids = self.node_ids()
        for at in range(0, len(ids), self.SCAN_CHUNK):
            part = array("Q", ids[at:at + self.SCAN_CHUNK])
            try:
                lsets, blob, offs = core.store_nodes_read(self._store, self.lsn, part)
            except core.Corrupt as e:
                raise corruption(e) from None
            yield part, lsets, blob, offs

    def edge_chunks(self):
        """Every edge, ascending id, in chunks: ``(ids array('Q'), type ids array('I'), srcs
        array('Q'), dsts array('Q'), blob, offsets array('Q'))``; labels ``type_labels[type]``.
        One native call a chunk; O(edges), memory O(chunk)."""
        ids = self.edge_ids()
        for at in range(0, len(ids), self.SCAN_CHUNK):
            part = array("Q", ids[at:at + self.SCAN_CHUNK])
            try:
                types, srcs, dsts, blob, offs = core.store_edges_read(self._store, self.lsn, part)
            except core.Corrupt as e:
                raise corruption(e) from None
            yield part, types, srcs, dsts, blob, offs

    @property
    def labelsets(self):
        """Label set id -> frozenset of labels (read-only; ids of ``node_chunks``)."""
        return self._cat.labelsets

    @property
    def type_labels(self):
        """Edge type id -> frozenset of labels (read-only; ids of ``edge_chunks``)."""
        return self._cat.type_labels

    @staticmethod
    def decode_props(data: bytes):
        """The read-only property map of one row of ``node_chunks`` / ``edge_chunks``' blobs."""
        return _props_view(data)

    def edge_ids(self, label: Optional[str] = None) -> list:
        """Ids of the edges (carrying ``label``), ascending.  O(edges)."""
        types = self._types(label)
        if types == []:
            return []
        try:
            return self._store.edge_scan(types, self.lsn)
        except core.Corrupt as e:
            raise corruption(e) from None

    def edge_count(self, label: Optional[str] = None) -> int:
        types = self._types(label)
        if types == []:
            return 0
        try:
            return self._store.edge_count(types, self.lsn)
        except core.Corrupt as e:
            raise corruption(e) from None

    def incident(self, nid: int, direction: str, label: Optional[str] = None) -> list:
        """``[(eid, nbr)]`` of the edges at ``nid`` (a self-loop once for "both").  O(deg)."""
        types = self._types(label)
        if types == []:
            return []
        try:
            return self._store.edges_of(nid, direction, types, self.lsn)
        except core.Corrupt as e:
            raise corruption(e) from None

    def neighbors(self, nid: int, direction: str, label: Optional[str] = None) -> list:
        """Neighbour ids of ``nid``, one per edge.  O(deg)."""
        types = self._types(label)
        if types == []:
            return []
        try:
            return self._store.neighbors(nid, direction, types, self.lsn)
        except core.Corrupt as e:
            raise corruption(e) from None

    def expand(self, nids, direction: str, label: Optional[str] = None):
        """Batched 1-hop: ``(nbrs, eids, from_index)`` over every edge of every node in ``nids``
        (``from_index`` indexes ``nids``).  One native call; O(sum of degrees)."""
        types = self._types(label)
        if types == []:
            return [], [], []
        try:
            return self._store.expand(nids, direction, types, self.lsn)
        except core.Corrupt as e:
            raise corruption(e) from None

    def degree(self, nid: int, direction: str, label: Optional[str] = None) -> int:
        """Number of edges at ``nid``.  O(deg) native, no list built."""
        types = self._types(label)
        if types == []:
            return 0
        try:
            return self._store.degree(nid, direction, types, self.lsn)
        except core.Corrupt as e:
            raise corruption(e) from None

    def degree_many(self, nids, direction: str, label: Optional[str] = None) -> list:
        """Degrees of many nodes in one native call.  O(sum of degrees)."""
        types = self._types(label)
        if types == []:
            return [0] * len(nids)
        try:
            return self._store.degree_many(nids, direction, types, self.lsn)
        except core.Corrupt as e:
            raise corruption(e) from None

    def count_reach(self, nid: int, hops: int, direction: str, label: Optional[str] = None) -> int:
        """Distinct nodes at the end of walks of exactly ``hops`` edges from ``nid``, other than
        ``nid``.  O(sum of degrees of the nodes visited)."""
        types = self._types(label)
        if types == []:
            return 0
        try:
            return self._store.count_reach(nid, hops, direction, types, self.lsn)
        except core.Corrupt as e:
            raise corruption(e) from None

    # -- hash indexes ---------------------------------------------------------------------------------
    def _key_get(self, index_id: int, kb: bytes) -> list:
        if len(kb) > core.KEY_MAX:
            return []   # no stored key is that long
        try:
            return self._store.key_get(index_id, kb, self.lsn)
        except core.Corrupt as e:
            raise corruption(e) from None

    def key_nodes(self, name: str, key: tuple) -> list:
        """Ids of the nodes whose key under hash index ``name`` equals ``key``, ascending.
        KeyError if there is no such index.  DataError for a key that cannot be stored (NaN).
        O(1 + key size + matches) expected."""
        spec = self.index_spec(name)
        if spec is None:
            raise KeyError(name)
        return self._key_get(spec.index_id, records.key_bytes(key))

    def key_first_many(self, name: str, keys: Iterable[tuple]) -> list:
        """For each key, the smallest node id holding it under index ``name``, or -1.  One
        native call.  KeyError if there is no such index."""
        spec = self.index_spec(name)
        if spec is None:
            raise KeyError(name)
        return self.key_first_bytes(name, [records.key_bytes(k) for k in keys])

    def key_first_bytes(self, name: str, kbs: list) -> list:
        """``key_first_many`` of keys given as canonical key bytes (``canonical_key``)."""
        spec = self.index_spec(name)
        if spec is None:
            raise KeyError(name)
        if not kbs:
            return []
        out = [-1] * len(kbs)
        short = [i for i, kb in enumerate(kbs) if len(kb) <= core.KEY_MAX]
        try:
            got = self._store.key_first_many(spec.index_id, [kbs[i] for i in short], self.lsn)
        except core.Corrupt as e:
            raise corruption(e) from None
        for i, g in zip(short, got):
            out[i] = g
        return out

    def keys_fresh(self, name: str, blob: bytes, offs, tags, mask: bytes, prop: str) -> int:
        """Whether the keys under index ``name`` of rows about to be written are new: the key of
        property ``prop`` of each row ``blob[offs[r]:offs[r+1]]`` (a packed property map) whose
        tag ``tags[r]`` is set in ``mask`` must be unique among those rows and held by no node
        at this view's LSN.  One native call: ``core.KEYS_FRESH``, ``KEYS_TWICE``,
        ``KEYS_HELD`` or ``KEYS_PYTHON`` (a value only values.py makes a key of).  KeyError if
        there is no such index.  O(bytes + keys) expected."""
        spec = self.index_spec(name)
        if spec is None:
            raise KeyError(name)
        try:
            return self._store.keys_fresh(spec.index_id, self.lsn, blob, offs, tags, mask, prop)
        except core.Corrupt as e:
            raise corruption(e) from None

    def user_index_name(self, label: str, props: tuple) -> Optional[str]:
        """The name of the user index on exactly (label, props), or None."""
        spec = self._cat.user_indexes.get((label, tuple(props)))
        return None if spec is None or spec.since > self.lsn else spec.name

    def key_lookup(self, label: str, prop: str, value) -> Optional[list]:
        """Ids of nodes with ``label`` and ``prop == value`` through a user index on exactly
        (label, prop), or None when there is no such index.  A value that cannot be a key
        (NaN) matches nothing."""
        spec = self._cat.user_indexes.get((label, (prop,)))
        if spec is None or spec.since > self.lsn:
            return None
        try:
            kb = records.key_bytes((value,))
        except Exception:   # DataError: NaN is never a stored key
            return []
        return self._key_get(spec.index_id, kb)

    def key_lookup_node(self, label: str, prop: str, value):
        """``key_lookup`` plus which version of the first node found a reader sees, in one
        native call: ``(ids, ver)`` with ``ver`` the version of ``ids[0]`` (for ``row``; None
        when nothing was found), or None when there is no user index on (label, prop).  An int
        or str value goes to C as it is (the key bytes are built there).  The index is found
        through a per-view dict of (label, prop) renewed with the catalog version: O(1)."""
        ix = self._k1.get((label, prop), _MISSING) if self._k1v == self._cat.version else _MISSING
        if ix is _MISSING:
            ix = self.key_index_id(label, prop)
        if ix is None:
            return None
        try:
            got = self._store.key_point(ix, value, self.lsn)   # an int or a str: no key bytes here
            if got is not None:
                return got
            try:
                kb = records.key_bytes((value,))
            except Exception:   # DataError: NaN is never a stored key
                return [], None
            if len(kb) > core.KEY_MAX:
                return [], None
            ids, first = self._store.key_node(ix, kb, self.lsn)
        except core.Corrupt as e:
            raise corruption(e) from None
        return ids, (None if first is None else first[1])

    def key_index_id(self, label, prop):
        """The index id a one-value key lookup on (``label``, ``prop``) probes: that of the user
        index on exactly (label, prop) if this view may read it, else None.  Memoized per view
        in ``_k1`` while the catalog version stays (PinnedReads.key_lookup); O(1)."""
        if type(label) is not str or type(prop) is not str:
            return None
        cat = self._cat
        if self._k1v != cat.version:
            self._k1 = {}
            self._k1v = cat.version
        spec = cat.user_indexes.get((label, (prop,)))
        ix = self._k1[(label, prop)] = None if spec is None or spec.since > self.lsn else spec.index_id
        return ix

    def degree_args(self, direction, label):
        """``core.degree_args`` of (``direction``, the edge types carrying ``label``) for this
        view, memoized in ``_dg``; None when the fast degree cannot answer (a direction that is
        not one of the three, a label that is not a str, or one no edge type carries: the
        general path answers).  A type made after this view's LSN has no edge the view sees, so
        the memo never needs renewing.  O(1) after the first call."""
        if direction not in ("out", "in", "both") or (label is not None and type(label) is not str):
            return None
        if label is None:
            args = core.degree_args(direction, None)
        else:
            types = self._cat.types_by_label.get(label)
            args = core.degree_args(direction, types) if types else None
        self._dg[(direction, label)] = args
        return args

    def degree_if_node(self, nid: int, direction: str, label: Optional[str] = None):
        """``degree(nid, ...)``, or None if ``nid`` is not a node of this view.  One native call.
        (The label's type ids are kept per view: a type made after the view's LSN has no edge
        the view sees, so a view never needs to renew them.)"""
        if label is None:
            types = None
        else:
            types = self._tl.get(label)
            if types is None:
                types = self._tl[label] = tuple(self._cat.types_by_label.get(label, ()))
        try:
            return self._store.degree1(nid, direction, types, self.lsn)
        except core.Corrupt as e:
            raise corruption(e) from None

    # -- statistics -------------------------------------------------------------------------------
    def statistics(self) -> Statistics:
        """Node counts per label and edge counts per edge label as of this view.
        O(labels + edge labels) native counts."""
        cat = self._cat
        labels = {name: self.node_count(name) for name in cat.label_names[1:] if name is not None}
        edge_labels = {lab: self.edge_count(lab) for lab in cat.types_by_label}
        return Statistics(self.node_count(), self.edge_count(),
                          {k: v for k, v in labels.items() if v},
                          {k: v for k, v in edge_labels.items() if v})

    # -- maintenance ----------------------------------------------------------------------------------
    def check(self) -> None:
        """Run every invariant check of the structures behind the view (InternalError)."""
        self._st.check()


def _load_row(st, lsn: int, nid: int, ver: int):
    """Read, decode and cache (in generation ``st``'s row cache) version ``ver`` of node ``nid``
    as a reader at ``lsn`` sees it: the row ``[labels, props, None]`` (see ``node``), or None."""
    try:
        r = st.store.node(lsn, nid)
    except core.Corrupt as e:
        raise corruption(e) from None
    return None if r is None else _cache_row(st, nid, ver, r[0], r[1])


def _cache_row(st, nid: int, ver: int, lset: int, data):
    """Decode the row of version ``ver`` of node ``nid`` (label set id, property bytes) and keep
    it in generation ``st``'s row cache."""
    row = [st.catalog.labelsets[lset], decode_props(data), None]
    rows = st.rows
    if len(rows) >= ROW_CACHE:
        rows.clear()      # bounded: a scan does not grow it past ROW_CACHE rows
    rows[(nid, ver)] = row
    return row


class PinnedReads:
    """The point reads of a reader pinned on one view, each one Python frame and one native call
    in the common case: the public ``key_lookup`` and ``degree`` of ``transaction.Snapshot``,
    which inherits them (its ``node`` reads the row the lookup found from the row cache).

    The subclass holds ``_view`` (the pinned GraphView; once closed, an object whose every
    attribute raises InterfaceError), ``_db`` (whose ``_closed`` turns true when reads must stop:
    then ``_check_open()`` raises), ``_memo`` (set here to the row-cache key ``(id, version)``
    of the node a key lookup found), and the general paths ``_key_lookup_any(label, prop,
    value)`` and ``_degree_any(id, direction, label)``, which answer everything the fast paths
    leave to them with the same results and errors.

    key_lookup: the (label, prop) -> index id memo of the view (``key_index_id``), then one C
    call that builds the key bytes of an int or str value and probes the index, returning the id
    when exactly one node holds the key (and whether the reader sees its base row: then the
    memo lets ``node`` skip its native call).  Anything else (no user index: a schema KEY index
    may serve; another value kind; several nodes; damage) goes to the general path.
    O(1 + key size) expected.
    degree: the (direction, label) -> C arguments memo of the view (``degree_args``), then one
    C call.  O(deg)."""

    __slots__ = ()

    def key_lookup(self, label, prop, value):
        """Ids of nodes with ``label`` and ``prop == value`` through an index, or None if no
        index on (label, prop) exists (see ``transaction._Reader.key_lookup``)."""
        view = self._view
        if self._db._closed:
            self._check_open()
        try:
            ix = view._k1[(label, prop)] if view._k1v == view._cat.version else view.key_index_id(label, prop)
        except KeyError:
            ix = view.key_index_id(label, prop)
        except Exception:           # noqa: BLE001 - a label or prop that cannot be hashed (or
            ix = None               # whose hash raises): the general path says what is wrong
        if ix is not None:
            t = type(value)
            try:
                if t is int:
                    r = core.store_key_id_int(view._store._h, ix, value, view.lsn)
                elif t is str:
                    b = value.encode()
                    r = core.store_key_id_str(view._store._h, ix, b, len(b), view.lsn)
                else:
                    r = None
            except (OverflowError, UnicodeEncodeError, TypeError):   # past int64, lone surrogates;
                r = None                                           # a closed store (None handle)
            if r is not None:
                if r >= 0:
                    if r < core.KEY_ID_OVERLAY:     # the base row: node() reads it from the row
                        self._memo = (r, 0)         # cache without a native call
                        return [r]
                    return [r - core.KEY_ID_OVERLAY]    # node() asks for the version
                if r == core.ENOTFOUND:
                    return []
        return self._key_lookup_any(label, prop, value)

    def degree(self, id, direction="out", label=None):
        """Number of edges at node ``id`` in ``direction`` carrying ``label`` (None = any);
        NotFoundError if there is no such node (see ``transaction._Reader.degree``)."""
        view = self._view
        if self._db._closed:
            self._check_open()
        try:
            args = view._dg[(direction, label)]
        except KeyError:
            args = view.degree_args(direction, label)
        except Exception:           # noqa: BLE001 - as in key_lookup: the general path answers
            args = None
        if args is not None and type(id) is int:
            try:
                d = core.store_degree_of(view._store._h, id, args[0], args[1], args[2], view.lsn)
            except (OverflowError, TypeError):      # a negative or huge id; a closed store
                d = None
            if d is not None and d >= 0:
                return d
        return self._degree_any(id, direction, label)


class PointRead:
    """A point read prepared once for a query plan cached under catalog ``version``
    (``engine.point_read``): ``read(value)`` finds the nodes whose ``prop`` is ``value``
    through the user index on exactly (``label``, ``prop``) as a new snapshot would see them
    (on the engine's pinned view of the visible LSN, held for the call), and returns
    ``(row_type(values),)`` for the one node found (built with ``tuple.__new__``), ``values``
    the stored values of ``props`` (None where absent), each a plain int, float, bool or str,
    or ``()`` when no node has that key.

    None when it cannot answer exactly as ``key_lookup_node`` + ``row`` on that view would, so
    the caller takes that general path: the catalog is no longer ``version`` (a schema or
    index change since), the view predates the last schema change (its ``catalog_version``
    differs) or the index, ``value`` is neither an int nor a str (or has no one-call key),
    several nodes match, or a value is of another kind (a list, a temporal value).

    Answers are kept per generation (``GraphState.keep_answer``, bounded like the row cache) with
    the node and version they were made from and the LSN at which they were last known true.
    At that same LSN a kept answer is returned at once (a view never changes: every snapshot
    at one LSN reads the same graph); at another, only after the C index probe confirms that
    the key still finds exactly that node at that version at the view's LSN
    (``Store.key1_is``), which then records the new LSN; so a kept answer is never stale.
    O(1): no native call when the answer was made or confirmed at the visible LSN, one
    otherwise (two when the probe finds the kept answer outdated: then, as when nothing is
    kept for the key, ``core.store_point1`` finds the node and projects its row onto
    ``props`` in C, in one call).  O(row size x props) for that projection."""

    __slots__ = ("_engine", "_q", "_c", "_version", "_rt", "_tag", "_index", "_from")

    def __init__(self, engine, label: str, prop: str, props: tuple, version, row_type):
        self._engine = engine
        self._rt = row_type
        self._tag = next(_POINT_TAGS)
        # what the checks of a view come to under catalog ``version`` (it fixes the index and
        # the schema history): the index, and the first LSN a view may have to read it
        cat = engine.state.catalog
        spec = cat.user_indexes.get((label, (prop,))) if cat.version == version else None
        old = cat.replaced_schemas
        try:
            self._q = core.PointQuery(spec.index_id, props) if spec is not None else None
        except ValueError:                      # too many properties, or one not UTF-8
            self._q = None
        self._c = self._q.c if self._q is not None else None
        self._version = version if self._q is not None else None    # None: never answers
        self._index = spec.index_id if spec is not None else 0
        self._from = max(spec.since if spec is not None else 0, old[-1][0] if old else 0)

    def __call__(self, value):
        t = type(value)
        if t is not int and t is not str:
            return None
        eng = self._engine
        st = eng.state
        v = st.shared_view                      # the pin, while v is referenced
        if v is None or v.lsn != st.visible_lsn or st.retired:
            v = eng.pinned_view()
            st = v._st
        snap = v.lsn
        if v._cat.version != self._version or snap < self._from:
            return None          # another catalog; a view older than the index or the schema
        mine = st.answers.get(self._tag)
        kept = mine.get(value) if mine is not None else None
        if kept is not None and kept[3] == snap:
            return kept[2]                       # made or confirmed at this very snapshot
        store = v._store
        try:
            if kept is not None:
                nid, ver, ans, _lsn = kept
                if t is int:                     # (kept: point1 took it, an int64)
                    rc = core.store_key1i_is(store._h, self._index, snap, value, nid, ver)
                    if rc == 1:
                        mine[value] = (nid, ver, ans, snap)     # (replaced: no new entry to count)
                        return ans
                    if rc < 0:
                        core.check_read(rc, "key lookup")
                elif store.key1_is(self._index, value, snap, nid, ver):
                    mine[value] = (nid, ver, ans, snap)
                    return ans
            h = store._h                         # (None once closed: cffi's TypeError below)
            if t is int:
                r = _point1i(h, self._c, value, snap)
            else:
                b = value.encode()
                r = _point1(h, self._c, 2, 0, b, len(b), snap)
            n = r.rc
            if n > 0:                # [node id, version, a plain scalar per property] in msgpack
                got = _unpackb(_buffer(r.out, n))
                new = (got[0], got[1], (_tnew(self._rt, got[2:]),), snap)
            elif n == 0:
                new = (core.NO_NODE, 0, (), snap)
            elif n == core.ETOOSMALL:
                return None                      # several nodes, or a value to decode in Python
            else:
                core.check_read(n, "key lookup")
        except core.Corrupt as e:
            raise corruption(e) from None
        except (OverflowError, UnicodeEncodeError):
            return None                          # past int64, or not UTF-8: no one-call key
        except ValueError as e:      # a str not UTF-8 (C checked the rest of what it copied)
            raise CorruptionError(f"a stored property value is undecodable: {e}") from None
        except TypeError:
            if store._h is None:
                raise store._closed() from None
            raise
        if mine is not None and kept is None and st.answers_n < ANSWERS:
            st.answers_n += 1                    # keep_answer, inline for a new key
            mine[value] = new
        else:
            st.keep_answer(self._tag, value, new)
        return new[2]


_POINT_TAGS = count(1)
_tnew = tuple.__new__
_point1 = core.store_point1
_point1i = core.store_point1i
_buffer = core.ffi.buffer
_unpackb = core.unpackb


_EMPTY_VIEW = MappingProxyType({})
_MISSING = object()
ROW_CACHE = 32768      # decoded node rows kept per generation (their content never changes)


def decode_props(data):
    """A read-only mapping of msgpack property bytes (a per-thread buffer is decoded at once).
    CorruptionError for bytes that are not a stored property map."""
    return MappingProxyType(_unpack_props(data)) if len(data) else _EMPTY_VIEW


_props_view = decode_props
