"""The committed graph: memory-mapped base files + an LSN-stamped overlay, one generation at a time.

Everything here is derived from the log (and the checkpoint files, which are themselves a cache
of the log): ``apply(ops, lsn)`` is the one and only way state changes, used alike by commits,
recovery replay and read-only followers.

Generations
    A ``GraphState`` is one generation: the files one manifest names (mapped, read lazily by the
    C core) plus a ``core.Store`` overlay holding every commit applied since they were written.
    A checkpoint writes new files and starts the next generation over them with an empty
    overlay (engine.py); snapshots keep the generation they started on, with its mappings,
    until they are closed, so old files stay readable for them even after they are deleted.
    The ``Catalog`` (dictionaries, schema, index specs, next ids) is shared by the generations of
    one open database; the writer extends it, and its dictionaries only ever grow.

Prepare, then apply (nothing that reaches the log may fail to apply)
    ``prepare(ops)`` does everything about a transaction that can fail: it checks every op's
    shape and ranges and computes every key the indexes will hold (a NaN, or a key over
    ``core.KEY_MAX`` bytes, is a DataError naming the index and node; a malformed op is a
    CorruptionError).  The engine logs a commit only after ``prepare`` succeeded, and
    ``apply(ops, lsn, plan)`` then only installs what was prepared.  Replay prepares each
    record the same way, so a record that was accepted once applies again at recovery.

Hash indexes across generations
    A base (file) index entry of a node is masked by the C store as soon as the node changes in
    the overlay; the overlay index then holds the node's current keys.  When a base node first
    changes, ``apply`` reports its old keys (``Store.key_base_dead``), so the next checkpoint
    rewrites exactly the sub-indexes that held them.

Visibility (snapshot isolation)
    A version stamped ``begin`` is visible to a reader at snapshot ``snap`` iff ``begin <= snap``
    and no newer version has ``begin <= snap`` (native/store.c has the details).

Invariants
    (1) ``applied_lsn`` is the end LSN of the last applied commit; versions never carry a larger
        stamp; a generation never serves snapshots older than ``base_lsn`` (its files' LSN).
    (2) Old versions are dropped only when no registered reader can see them (``trim_floor``).
    (3) Every index (label, key, adjacency) agrees with the node/edge versions at every snapshot.
"""
from __future__ import annotations

import threading
from array import array
from itertools import accumulate, count
from typing import Iterable, Optional

from .. import core
from ..errors import CorruptionError, DataError, Error
from . import records
from .records import (EDGE_DEL, EDGE_PUT, EDGES_BULK, EDGES_COLS, INDEX, NODE_DEL, NODE_PUT, NODES_BULK, NODES_COLS,
                      SCHEMA)

ALL = 0            # label id of the pseudo-label every node carries
PARTITION_SHIFT = core.PART_SHIFT
DELETED = core.NODE_DELETED


#: Catalog versions, unique in the process: every new catalog (open, reload, a follower's
#: refresh, an attach's generation) and every schema or index change takes the next one, so a
#: plan cache keyed by the version can never meet an old number for a different catalog.
_CATALOG_VERSIONS = count(1)
ANSWERS = 32768     # point-read answers kept per generation (GraphState.keep_answer)

class KeySpec:
    """A hash index over nodes: ``key_of(labels, props) -> tuple | None`` decides membership.
    ``ident`` tells schema KEY indexes (``("schema", name)``) from user indexes
    (``("index", label, props)``).  A ``shared`` user index has no entries of its own: a schema
    KEY/EXCLUSIVE index holds exactly the same (node, key) pairs (``GraphType.label_index``), and
    ``index_id`` is that index's, so lookups read it and writes maintain one index (issue 11).
    ``since``: the LSN from which the index holds every key (the commit that created it, or 0
    when it came with the files); the catalog is shared by every view, so a view older than
    that must not read it (``GraphView`` treats it as absent: the reader scans instead)."""

    def __init__(self, name: str, index_id: int, key_of, ident=None, shared: bool = False, since: int = 0):
        self.name = name
        self.index_id = index_id
        self.key_of = key_of
        self.ident = ident if ident is not None else ("schema", name)
        self.shared = shared
        self.since = since


def _user_index_name(label: str, props: tuple) -> str:
    return f"{label}({', '.join(props)})"


def user_index_key_of(label: str, props: tuple):
    def key_of(labels, values):
        if label not in labels:
            return None
        try:
            return tuple(values[p] for p in props)
        except KeyError:
            return None
    return key_of


def _plain_keys(key_specs) -> dict:
    """``("schema", name) -> (label, property)`` for each schema index whose entries are, on
    committed data, exactly a user index's on ``label(property)`` (``key_specs.plain``, decided
    by the schema package): ``prepare`` reads their keys as it reads that index's."""
    plain = getattr(key_specs, "plain", None)
    return {} if not plain else {("schema", name): lp for name, lp in plain.items()}


def _key_readers(specs, plain) -> list:
    """``(ident, name, key_of, label, prop)`` per spec of ``specs`` for ``_keys_of_raw``: a
    one-property user index, and a schema index that holds what such an index would (``plain``:
    ident -> (label, property), from ``_plain_keys``), give the label a node needs and the
    property (utf-8) whose value is the key; other user indexes give their label and None; other
    schema indexes None and None (their ``key_of`` decides)."""
    out = []
    for ident, name, key_of in specs:
        one = plain.get(ident) if plain else None
        if one is None and ident[0] == "index" and len(ident[2]) == 1:
            one = (ident[1], ident[2][0])
        if one is not None:
            out.append((ident, name, key_of, one[0], one[1].encode()))
        else:
            out.append((ident, name, key_of, ident[1] if ident[0] == "index" else None, None))
    return out


class _Bad(Exception):
    """A malformed op (prepare); the caller turns it into CorruptionError."""


def _is_id(v) -> bool:
    return type(v) is int and 0 <= v < core.MAX_ID


_NAMES: dict = {}


def _names(v) -> frozenset:
    """The label set of a stored label list, checked (a small cache: label lists repeat).  Only
    checked lists of str are cached, and no other decoded value equals a str, so a hit is a
    list that would pass the check."""
    if type(v) is list:
        try:
            hit = _NAMES.get(tuple(v))
        except TypeError:           # an unhashable element: not a label list
            hit = None
        if hit is not None:
            return hit
    if not isinstance(v, list) or not all(type(x) is str and x for x in v):
        raise _Bad(f"bad label list {v!r:.80}")
    out = frozenset(v)
    if len(v) <= 4 and len(_NAMES) < 4096:
        _NAMES[tuple(v)] = out
    return out


def _u_view(code: str, blob, what: str) -> memoryview:
    """_u_array without the copy (the columns of a bulk op can be hundreds of MB)."""
    if type(blob) is not bytes or len(blob) % array(code).itemsize:
        raise _Bad(f"bad {what} column")
    return memoryview(blob).cast(code)


def _u_array(code: str, blob, what: str) -> array:
    if type(blob) is not bytes or len(blob) % array(code).itemsize:
        raise _Bad(f"bad {what} column")
    return array(code, blob)


class Catalog:
    """Dictionaries, schema and index specs of one open database (shared by its generations).

    Dictionaries only grow (ids are stable: files store them): label names <-> label ids (0 =
    every node), label sets <-> label-set ids (what a node stores), edge label sets <-> type ids.
    """

    def __init__(self):
        self.label_ids: dict[str, int] = {}
        self.label_names: list = [None]                     # id 0 = ALL
        self.labelset_ids: dict[frozenset, int] = {frozenset(): 0}
        self.labelsets: list = [frozenset()]                # label-set id -> frozenset of names
        self.labelset_lids: list = [()]                     # label-set id -> label ids
        self.type_ids: dict[frozenset, int] = {}
        self.type_labels: list = []
        self.types_by_label: dict[str, list] = {}
        self.next_node_id = 0
        self.next_edge_id = 0
        self.schema: Optional[tuple] = None                 # (ddl, graph_type_name) or None
        self.replaced_schemas: list = []                    # [(LSN it was replaced at, schema)], ascending
        self.schema_specs: list = []
        self.key_specs: list = []                           # what the schema loader gave (key specs)
        self.user_indexes: dict = {}                        # (label, props) -> KeySpec
        self.next_index_id = 1
        self.on_labelset = None                             # callback(id, label ids) for the store
        self.version = next(_CATALOG_VERSIONS)              # renewed by schema / index changes

    def label_id(self, name: str) -> int:
        lid = self.label_ids.get(name)
        if lid is None:
            lid = len(self.label_names)
            self.label_ids[name] = lid
            self.label_names.append(name)
        return lid

    def labelset_id(self, labels: frozenset) -> int:
        lsid = self.labelset_ids.get(labels)
        if lsid is None:
            lsid = len(self.labelsets)
            lids = tuple(sorted(self.label_id(x) for x in labels))
            self.labelset_ids[labels] = lsid
            self.labelsets.append(labels)
            self.labelset_lids.append(lids)
            if self.on_labelset is not None:
                self.on_labelset(lsid, lids)
        return lsid

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

    def all_specs(self) -> list:
        """The indexes that hold entries (shared user indexes are read through their schema index)."""
        return self.schema_specs + [s for s in self.user_indexes.values() if not s.shared]

    def spec_by_name(self, name: str) -> Optional[KeySpec]:
        """O(indexes), without building a list: called on every key lookup (view.index_spec)."""
        for spec in self.schema_specs:
            if spec.name == name:
                return spec
        for spec in self.user_indexes.values():
            if spec.name == name:
                return spec
        return None

    @staticmethod
    def share_with(key_specs, label: str, props: tuple) -> Optional[str]:
        """The name of the schema index (of the schema whose ``key_specs`` the loader gave) that
        holds exactly the nodes and keys a user index on ``label(props)`` would, or None.  The
        schema package decides (``key_specs.shared``, GraphType.label_index)."""
        shared = getattr(key_specs, "shared", None)
        return None if shared is None else shared(label, tuple(props))

    # -- the manifest form ------------------------------------------------------------------------
    def to_manifest(self) -> dict:
        return {
            "labels": self.label_names[1:],
            "labelsets": [list(x) for x in self.labelset_lids],
            "types": [sorted(t) for t in self.type_labels],
            "next_node_id": self.next_node_id, "next_edge_id": self.next_edge_id,
            "schema": list(self.schema) if self.schema else None,
            "indexes": ([[s.index_id, "schema", s.name, None, None] for s in self.schema_specs]
                        + [[s.index_id, "index", s.name, lab, list(props)]
                           for (lab, props), s in self.user_indexes.items()]),
            "next_index_id": self.next_index_id,
        }

    @classmethod
    def from_manifest(cls, man: dict, schema_loader, path=None) -> "Catalog":
        """Rebuild from a manifest; every name and number is checked (CorruptionError)."""
        c = cls()
        try:
            for name in man["labels"]:
                if type(name) is not str or not name or name in c.label_ids:
                    raise ValueError(f"bad label name {name!r:.40}")
                c.label_id(name)
            sets = man["labelsets"]
            if not sets or list(sets[0]) != []:
                raise ValueError("label set 0 is not the empty set")
            for lids in sets[1:]:
                if (not isinstance(lids, list) or not lids or lids != sorted(set(lids))
                        or not all(type(x) is int and 0 < x < len(c.label_names) for x in lids)):
                    raise ValueError("bad label set")
                labels = frozenset(c.label_names[x] for x in lids)
                if labels in c.labelset_ids:
                    raise ValueError("duplicate label set")
                c.labelset_id(labels)
            for t in man["types"]:
                if not isinstance(t, list) or not all(type(x) is str and x for x in t):
                    raise ValueError("bad edge type")
                if frozenset(t) in c.type_ids:
                    raise ValueError("duplicate edge type")
                c.type_id(frozenset(t))
            c.next_node_id, c.next_edge_id = man["next_node_id"], man["next_edge_id"]
            c.next_index_id = man["next_index_id"]
            schema_ids = {}
            if not all(type(x) is int and 0 <= x <= core.MAX_ID
                       for x in (c.next_node_id, c.next_edge_id)) or type(c.next_index_id) is not int:
                raise ValueError("bad counters")
            schema = man["schema"]
            if schema is not None:
                ddl, name = schema
                if type(ddl) is not str or not (name is None or type(name) is str):
                    raise ValueError("bad schema")
                c.schema = (ddl, name)
                try:
                    key_specs = schema_loader(ddl, name)
                except Error as e:
                    raise ValueError(f"its schema cannot be loaded: {e}") from None
            else:
                key_specs = []
            c.key_specs = key_specs
            by_name = {s.name: s for s in key_specs}
            seen = set()
            for entry in man["indexes"]:
                index_id, kind, name, label, props = entry
                if type(index_id) is not int or not 0 < index_id < c.next_index_id:
                    raise ValueError("bad index id")
                # a user index shared with a schema index carries that index's id (listed before)
                shared = kind == "index" and index_id in schema_ids
                if index_id in seen and not shared:
                    raise ValueError("bad index id")
                seen.add(index_id)
                if kind == "schema":
                    ispec = by_name.pop(name, None)
                    if ispec is None:
                        raise ValueError(f"index {name!r:.40} is not in the schema")
                    c.schema_specs.append(KeySpec(name, index_id, ispec.key_of, ("schema", name)))
                    schema_ids[index_id] = name
                elif kind == "index":
                    if type(label) is not str or not isinstance(props, list) or not props:
                        raise ValueError("bad user index")
                    props = tuple(props)
                    if shared and c.share_with(c.key_specs, label, props) != schema_ids[index_id]:
                        raise ValueError("a shared user index does not match its schema index")
                    c.user_indexes[(label, props)] = KeySpec(
                        _user_index_name(label, props), index_id, user_index_key_of(label, props),
                        ("index", label, props), shared)
                else:
                    raise ValueError("bad index kind")
            if by_name:
                raise ValueError("the schema has indexes the manifest does not list")
        except (KeyError, TypeError, ValueError) as e:
            raise CorruptionError(f"malformed manifest: {e}", path=path) from None
        return c


class KeyTable:
    """The entries a new index starts with (built by ``prepare``, installed by ``apply``): node
    id -> key bytes, held compactly.  Chunks of consecutive label-scan rows as C returned them
    ``(node ids array('Q') ascending, keys, key offsets array('Q'), flags)`` (flags[i] == 1:
    node i has key ``keys[koffs[i]:koffs[i + 1]]``), plus a dict of single entries (keys
    computed in Python, and nodes the same transaction wrote).  A dict of 10M small bytes
    objects took ~1.7 GB; the chunks take about the key bytes plus 9 bytes a row (a chunk of
    consecutive ids keeps ``range(first, first + n)`` instead of its ids), and ``install``
    frees each chunk once it is in the store, so the two are never both whole in memory."""

    __slots__ = ("chunks", "single")

    def __init__(self):
        self.chunks: list = []
        self.single: dict = {}

    def __bool__(self) -> bool:
        return bool(self.single) or any(b"\x01" in c[3] for c in self.chunks)

    def __setitem__(self, nid, kb) -> None:
        self.single[nid] = kb

    def clear(self) -> None:
        self.chunks.clear()
        self.single.clear()

    def install(self, store, index_id: int, lsn: int) -> None:
        """key_put every entry into ``store`` (C, a chunk per call; node ids ascending within a
        chunk, so the key index's versions stay sorted cheaply)."""
        chunks, self.chunks = self.chunks, []
        chunks.reverse()
        while chunks:
            nids, keys, koffs, flags = chunks.pop()      # freed once installed
            n = len(nids)
            if not n:
                continue
            first, span = nids[0], nids[-1] - nids[0] + 1
            if span == n:
                store.key_put_many(index_id, keys, koffs, flags, first, lsn)
                continue
            if span > 2 * n:        # sparse ids (a rare label among many nodes): one at a time
                for i in range(n):
                    if flags[i] == 1:
                        store.key_put(index_id, keys[koffs[i]:koffs[i + 1]], nids[i], lsn)
                continue
            # a chunk with gaps in its ids: spread it over the id range (gaps: flag 0, no bytes)
            gflags, lens = bytearray(span), [0] * span
            for i in range(n):
                j = nids[i] - first
                gflags[j] = flags[i]
                lens[j] = koffs[i + 1] - koffs[i]
            offs = array("Q", [0])
            offs.extend(accumulate(lens))
            store.key_put_many(index_id, keys, offs, bytes(gflags), first, lsn)
        put = store.key_put
        for nid in sorted(self.single):
            put(index_id, self.single[nid], nid, lsn)


def user_index_rows(label: str, props: tuple):
    """``rows`` for ``GraphState._build`` of a one-property user index: the keys of a chunk of
    stored rows read by C from their property maps (``core.rows_key``); None for several
    properties (then ``key_of`` per node)."""
    if len(props) != 1:
        return None
    prop = props[0]

    def rows(sets, lsets, blob, offs):
        mask = bytes(1 if label in ls else 0 for ls in sets)
        keys, koffs, flags = core.rows_key(blob, offs, lsets, mask, prop)
        if b"\x03" in flags:                   # NaN: key_of raises the DataError that says so
            flags = flags.replace(b"\x03", b"\x02")
        return keys, koffs, flags
    return rows


class GraphState:
    """One generation: base files (mapped) + the overlay of the commits since (see above)."""

    def __init__(self, catalog: Catalog, *, files: Optional[dict] = None, base_lsn: int = 0,
                 propkeys=(), key_subs: Optional[dict] = None, counts=((), ())):
        self.catalog = catalog
        self.files = dict(files or {})                      # name -> files.MappedFile
        self.base_lsn = base_lsn
        self.key_subs = dict(key_subs or {})                # index id -> nsub_log of its base files
        st = self.store = core.Store(catalog.next_node_id, catalog.next_edge_id)
        self.node_base, self.edge_base = st.node_base, st.edge_base
        for lsid, lids in enumerate(catalog.labelset_lids):
            st.set_labelset(lsid, lids)
        catalog.on_labelset = st.set_labelset
        for kid, name in enumerate(propkeys):
            st.set_propkey(kid, name)
        try:
            for f in self.files.values():
                if f.opened:
                    st.attach(f.file)
                else:                       # opened at its first use (files.py)
                    st.attach_lazy(f.kind, f.keys[0], f.keys[1], f)
        except core.Corrupt as e:
            from .files import corruption
            raise corruption(e) from None
        for index_id, nsub in self.key_subs.items():
            st.key_index(index_id, nsub)
        st.set_base_counts(array("Q", counts[0]), array("Q", counts[1]))
        self.applied_lsn = base_lsn
        self.visible_lsn = base_lsn                         # newest LSN new snapshots read at
        self.rows: dict = {}        # (node id, version) -> (labels, props): decoded rows (view.py)
        self.answers: dict = {}     # point read -> {key: (node id, version, answer, LSN)}: keep_answer
        self.answers_n = 0
        self.shared_view = None     # the view engine.pinned_view hands out (cleared by publish)
        self._readers: dict = {}    # id(view) -> LSN of every live reader view (see "readers")
        self._readers_lock = threading.Lock()               # publish; freeing the overlay once
        self.retired = False         # a checkpoint replaced it: new readers take the next one
        self._freed = False
        # callable(ddl, name) -> the key specs (.name, .key_of) of that schema text, set by the
        # engine (the database passes lpgdb.schema.key_specs): storage keeps the schema's text
        # and the specs it indexes, never the resolved graph type.
        self.schema_loader = None
        self.manifest: Optional[dict] = None                # the manifest of the base files

    # catalog fields read through the generation (older callers)
    @property
    def schema(self):
        return self.catalog.schema

    @property
    def next_node_id(self) -> int:
        return self.catalog.next_node_id

    @property
    def next_edge_id(self) -> int:
        return self.catalog.next_edge_id

    def changed(self) -> bool:
        """Whether commits were applied since the base files were written."""
        return self.applied_lsn != self.base_lsn

    def close(self) -> None:
        """Free the overlay now (the mappings go with the last reference)."""
        if self.catalog.on_labelset == self.store.set_labelset:
            self.catalog.on_labelset = None
        self.store.close()

    def keep_answer(self, tag: int, key, kept: tuple) -> None:
        """Keep ``kept`` = (node id, version, answer, LSN) for ``key`` of point read ``tag``
        (view.PointRead: an answer is handed out again at that LSN, or after a probe finds that
        node version under the key at another).  At most ``view.ROW_CACHE`` answers per generation, like the
        row cache; all are dropped when that is passed.  O(1)."""
        answers = self.answers
        if self.answers_n >= ANSWERS:
            answers.clear()
            self.answers_n = 0
        mine = answers.get(tag)
        if mine is None:
            mine = answers[tag] = {}
        if key not in mine:
            self.answers_n += 1
        mine[key] = kept

    # -- readers ---------------------------------------------------------------------------------
    # A reader is a GraphView registered in ``_readers`` (``id(view) -> LSN``) from its creation
    # until it is garbage collected: a snapshot holds its view, so the view's life is the pin,
    # and opening or closing a snapshot costs no call here (``engine.pinned_view`` hands out
    # the generation's shared view of the visible LSN, ``shared_view``, kept only while that
    # LSN is the visible one).  A reader registers first and reads ``visible_lsn`` second (if
    # a commit became visible in between, it takes a view of the newer LSN); ``trim_floor``
    # reads ``visible_lsn`` first and the readers second, so a floor computed between a
    # reader's two reads either sees its view or was computed from a visible LSN the reader's
    # second read finds newer (and retries): a version a new or open snapshot may still read
    # is never cut (invariant 2), even while commits wait for their fsync.  Retiring a
    # generation and the death of its last view free the overlay exactly once (``_free_once``).
    def reader_gone(self, key: int) -> None:
        """The registered view ``key`` (its ``id``) died.  O(1)."""
        readers = self._readers
        readers.pop(key, None)
        if self.retired and not readers:   # the last reader of a retired generation: free it now
            self._free_once()

    def retire(self) -> None:
        """A checkpoint replaced this generation: no new snapshot may pin it, and its overlay
        is freed as soon as no view reads it (now, or when the last one dies)."""
        self.retired = True
        with self._readers_lock:            # see share()
            v, self.shared_view = self.shared_view, None
        del v                               # may be the last view: freed through reader_gone
        if not self._readers:
            self._free_once()

    def share(self, view) -> bool:
        """Whether ``view`` (a registered reader of this generation) is of the visible LSN of a
        generation still current; if so, it becomes the shared view when there is none.
        ``shared_view`` changes only under the readers lock, by publish, retire and here, so
        whenever that lock is free it is None or a view of ``visible_lsn`` on a generation not
        retired: a new snapshot may take it unchecked (engine.pinned_view).  O(1)."""
        with self._readers_lock:
            ok = view.lsn == self.visible_lsn and not self.retired
            if ok and self.shared_view is None:
                self.shared_view = view
        return ok

    def _free_once(self) -> None:
        with self._readers_lock:
            if self._freed:
                return
            self._freed = True
        self._free()

    def _free(self) -> None:
        self.shared_view = None     # (it refers back to us: let refcounting free both)
        self.close()
        core.release_memory()

    def trim_floor(self) -> int:
        """The oldest snapshot any reader holds or may still take (min of readers, visible LSN).
        O(live views): one per LSN that open snapshots read at."""
        vis = self.visible_lsn          # first: see the comment above
        return min(min(self._readers.values(), default=vis), vis)

    def publish(self, lsn: int) -> None:
        """Make commits up to ``lsn`` visible to new snapshots (never moves backwards)."""
        with self._readers_lock:        # see share()
            if lsn > self.visible_lsn:
                self.visible_lsn = min(lsn, self.applied_lsn)
            v = self.shared_view
            if v is not None and v.lsn != self.visible_lsn:
                self.shared_view = None     # new readers must not take it (and it would hold
        del v                               # trim_floor back); released after the lock

    # -- reads used by apply (at the applied state) --------------------------------------------------
    def _node_now(self, nid, lsn=None):
        """``(labels, props dict)`` of node ``nid`` at the applied LSN, or None.  ``apply`` passes
        the LSN of the record it is applying: it sees that record's earlier writes (a record may
        write a node twice, or create and delete it)."""
        try:
            r = self.store.node(self.applied_lsn if lsn is None else lsn, nid)
        except core.Corrupt as e:
            from .files import corruption
            raise corruption(e) from None
        if r is None:
            return None
        return self.catalog.labelsets[r[0]], records.unpack_props(r[1])

    def _live_nodes(self, label: Optional[str] = None):
        """``[(id, labels, props)]`` of every live node (with ``label``) at the applied LSN.
        O(nodes of the label)."""
        lid = ALL if label is None else self.catalog.label_ids.get(label)
        if lid is None:
            return
        try:
            ids = self.store.label_scan(lid, self.applied_lsn)
        except core.Corrupt as e:
            from .files import corruption
            raise corruption(e) from None
        for nid in ids:
            got = self._node_now(nid)
            if got is not None:
                yield nid, got[0], got[1]

    # -- prepare: everything that can fail, before the log ----------------------------------------
    def prepare(self, ops) -> list:
        """Check ``ops`` and compute every index key they need; return the plan ``apply`` takes.

        Raises DataError (a value no index can hold: NaN, or a key over ``core.KEY_MAX`` bytes),
        CorruptionError (a malformed op), or what loading a schema raises.  Changes nothing.
        O(ops), plus O(live nodes) for an op that creates an index or sets a schema.
        """
        if not isinstance(ops, list):
            raise CorruptionError("a commit record's op list is not a list")
        cat = self.catalog
        specs = [(s.ident, s.name, s.key_of) for s in cat.all_specs()]
        # user indexes as this record leaves them: (label, props) -> shared with a schema index?
        users = {k: u.shared for k, u in cat.user_indexes.items()}
        cur_specs = cat.key_specs
        plain = _plain_keys(cur_specs)  # schema indexes kept like a one-property user index
        try:
            codes = {op[0] for op in ops}
        except (TypeError, IndexError, KeyError):
            codes = {SCHEMA}          # a malformed op: the loop below says which
        track = SCHEMA in codes or INDEX in codes
        written: dict = {}            # node id -> (labels, props bytes) | None, earlier in this record
        next_node, next_edge = cat.next_node_id, cat.next_edge_id
        new_edges = set()
        readers = None                # _key_readers(specs, plain), made at the first NODE_PUT
        max_id = core.MAX_ID
        plan = []
        try:
            for op in ops:
                if type(op) is not list or not op:
                    raise _Bad("an op is not a list")
                code, n = op[0], len(op)
                step = None
                if code == NODE_PUT and n == 4:
                    nid, labels, props = op[1], _names(op[2]), op[3]
                    if type(nid) is not int or not 0 <= nid < max_id or type(props) is not bytes:
                        raise _Bad("bad NODE_PUT")
                    if track:
                        written[nid] = (labels, props)
                    if specs:
                        if readers is None:
                            readers = _key_readers(specs, plain)
                        step = (labels, self._keys_of_raw(readers, nid, labels, props))
                    else:
                        step = (labels, None)
                    if nid >= next_node:
                        next_node = nid + 1
                elif code == EDGE_PUT and n == 6:
                    eid, labels, src, dst, props = op[1], _names(op[2]), op[3], op[4], op[5]
                    if (type(eid) is not int or type(src) is not int or type(dst) is not int
                            or not (0 <= eid < max_id and 0 <= src < max_id and 0 <= dst < max_id)
                            or type(props) is not bytes):
                        raise _Bad("bad EDGE_PUT")
                    new_edges.add(eid)
                    if eid >= next_edge:
                        next_edge = eid + 1
                    step = labels
                elif code == NODE_DEL and n == 2:
                    if not _is_id(op[1]):
                        raise _Bad("bad NODE_DEL")
                    if track:
                        written[op[1]] = None
                elif code == EDGE_DEL and n == 2:
                    eid = op[1]
                    if not _is_id(eid) or (eid not in new_edges and self._edge_now(eid) is None):
                        raise _Bad(f"EDGE_DEL of edge {eid!r}, which does not exist")
                elif code == SCHEMA and n == 3:
                    ddl, name = op[1], op[2]
                    if not (ddl is None or type(ddl) is str) or not (name is None or type(name) is str):
                        raise _Bad("bad SCHEMA")
                    key_specs = self.schema_loader(ddl, name) if ddl is not None else []
                    specs = [x for x in specs if x[0][0] != "schema"]
                    plain = {}      # the record's nodes were validated under the old schema
                    tables = {}
                    for ispec in key_specs:
                        ident = ("schema", ispec.name)
                        tables[ident] = self._build(written, ispec.name, ispec.key_of, ispec.label,
                                                      getattr(ispec, "key_rows", None))
                        specs.insert(len(tables) - 1, (ident, ispec.name, ispec.key_of))
                    # each user index now shares a new schema index, or holds its own entries
                    # (built here when it shared one of the old schema's)
                    users_next = {}
                    for (label, props), was_shared in users.items():
                        ident = ("index", label, props)
                        target = cat.share_with(key_specs, label, props)
                        if target is not None:
                            users_next[(label, props)] = ("share", target)
                            specs = [x for x in specs if x[0] != ident]
                        elif was_shared:
                            uname, key_of = _user_index_name(label, props), user_index_key_of(label, props)
                            users_next[(label, props)] = ("own", self._build(written, uname, key_of, label,
                                                                             user_index_rows(label, props)))
                            specs.append((ident, uname, key_of))
                    users = {k: v[0] == "share" for k, v in users_next.items()} | \
                        {k: False for k in users if k not in users_next}
                    cur_specs = key_specs
                    readers = None
                    step = (key_specs, tables, users_next)
                elif code == INDEX and n == 4:
                    label, props, create = op[1], op[2], op[3]
                    if type(label) is not str or not label or not _names(props) or type(create) is not bool:
                        raise _Bad("bad INDEX")
                    key = (label, tuple(props))
                    ident = ("index",) + key
                    have = key in users
                    if create and not have:
                        target = cat.share_with(cur_specs, label, tuple(props))
                        if target is not None:
                            step = ("share", target)
                            users[key] = True
                        else:
                            name = _user_index_name(label, tuple(props))
                            key_of = user_index_key_of(label, tuple(props))
                            step = ("own", self._build(written, name, key_of, label,
                                                       user_index_rows(label, tuple(props))))
                            specs.append((ident, name, key_of))
                            users[key] = False
                    elif not create and have:
                        specs = [x for x in specs if x[0] != ident]
                        del users[key]
                    readers = None
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
                elif code == NODES_COLS and n == 6:
                    first, lsets, blob = op[1], op[2], op[4]
                    idx, offs = _u_view("I", op[3], "label index"), _u_view("Q", op[5], "offsets")
                    m = len(idx)
                    if (not _is_id(first) or first < next_node or not isinstance(lsets, list)
                            or type(blob) is not bytes or len(offs) != m + 1 or first + m > core.MAX_ID
                            or (m and core.umax(idx) >= len(lsets))):
                        raise _Bad("bad NODES_COLS")
                    lsets = [_names(ls) for ls in lsets]
                    step = (idx, offs, self._cols_keys(specs, first, lsets, idx, blob, offs, plain))
                    if track:
                        written.update((first + i, (lsets[li], blob[offs[i]:offs[i + 1]])) for i, li in enumerate(idx))
                    next_node = first + m
                elif code == EDGES_COLS and n == 8:
                    first, lsets, blob = op[1], op[2], op[6]
                    idx = _u_view("I", op[3], "type index")
                    srcs, dsts = _u_view("Q", op[4], "source"), _u_view("Q", op[5], "target")
                    offs = _u_view("Q", op[7], "offsets")
                    m = len(idx)
                    if (not _is_id(first) or first < next_edge or not isinstance(lsets, list)
                            or type(blob) is not bytes or not (len(srcs) == len(dsts) == m == len(offs) - 1)
                            or first + m > core.MAX_ID or (m and (core.umax(idx) >= len(lsets)
                                                                 or core.umax(srcs) >= next_node
                                                                 or core.umax(dsts) >= next_node))
                            or not core.rows_ok(blob, offs)):
                        raise _Bad("bad EDGES_COLS")
                    for ls in lsets:
                        _names(ls)
                    step = (idx, srcs, dsts, offs)
                    next_edge = first + m
                else:
                    raise _Bad(f"unknown op {code!r} with {n} fields")
                plan.append(step)
        except _Bad as e:
            raise CorruptionError(f"malformed commit record: {e}") from None
        return plan

    def _edge_now(self, eid):
        try:
            return self.store.edge(self.applied_lsn, eid)
        except core.Corrupt as e:
            from .files import corruption
            raise corruption(e) from None

    def _cols_keys(self, specs, first, lsets, idx, blob, offs, plain=None) -> list:
        """[(ident, keys, koffs, flags)]: the key bytes of every row of a NODES_COLS op under
        each spec (flags[r] == 1: row r has key keys[koffs[r]:koffs[r+1]]).  A one-property
        user index, and a schema index that holds what such an index would (``plain``, as in
        ``_keys_of_raw``: a columnar op's rows were validated first), is read by C from the maps
        (native/ingest.c); other specs, and values C does not canonicalise, go through key_of
        per row.  Checks that every row is empty or one map (_Bad if not): in the same pass as
        the first key C reads, else on its own.  DataError if a key cannot be indexed."""
        out = []
        rows = None
        checked = False
        for ident, name, key_of in specs:
            one = plain.get(ident) if plain else None
            if one is None and ident[0] == "index" and len(ident[2]) == 1:
                one = (ident[1], ident[2][0])
            if one is not None:
                mask = bytes(1 if one[0] in ls else 0 for ls in lsets)
                try:
                    keys, koffs, flags = core.rows_key(blob, offs, idx, mask, one[1])
                except CorruptionError:
                    raise _Bad("bad NODES_COLS") from None
                checked = True
                if (b"\x02" not in flags and b"\x03" not in flags
                        and (len(keys) <= core.KEY_MAX or max(map(int.__sub__, koffs[1:], koffs)) <= core.KEY_MAX)):
                    out.append((ident, keys, koffs, flags))
                    continue
            if not checked:
                if not core.rows_ok(blob, offs):
                    raise _Bad("bad NODES_COLS")
                checked = True
            if rows is None:
                rows = [records.unpack_props(blob[offs[i]:offs[i + 1]]) for i in range(len(idx))]
            keys, koffs, flags = bytearray(), array("Q", [0]), bytearray(len(idx))
            for i, (li, props) in enumerate(zip(idx, rows)):
                k = key_of(lsets[li], props)
                if k is not None:
                    keys += self._key_bytes(k, name, first + i)
                    flags[i] = 1
                koffs.append(len(keys))
            out.append((ident, bytes(keys), koffs, bytes(flags)))
        if not checked and not core.rows_ok(blob, offs):
            raise _Bad("bad NODES_COLS")
        return out

    def _keys_of_raw(self, readers, nid, labels, props: bytes) -> dict:
        """``_keys_of`` from stored property bytes, under ``readers`` (``_key_readers``): an
        index whose key is one property reads an int or str value's canonical key bytes
        straight from the map (core.key1); the map is decoded only when some index needs it."""
        out = {}
        decoded = None
        for ident, name, key_of, label, prop in readers:
            if label is not None and label not in labels:
                continue
            if prop is not None:
                kb = core.key1(props, prop)
                if kb is None:
                    continue
                if kb is not False:
                    if len(kb) > core.KEY_MAX:
                        self._key_bytes((records.unpack_props(props)[prop.decode()],), name, nid)
                    out[ident] = kb
                    continue
            if decoded is None:
                decoded = records.unpack_props(props)
            k = key_of(labels, decoded)
            if k is not None:
                out[ident] = self._key_bytes(k, name, nid)
        return out

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

    def _build(self, written: dict, name, key_of, label: Optional[str] = None, rows=None) -> KeyTable:
        """node id -> key bytes of every live node (as ``written`` leaves it) under a new spec;
        ``label``: one every node the spec indexes carries (only those are read); ``rows``: the
        spec's keys of many stored rows at once (a schema KEY's ``key_rows``), when it has one.
        O(live nodes of the label): their properties are read."""
        table = KeyTable()
        if rows is None or not self._build_rows(table, written, name, key_of, label, rows):
            for nid, labels, props in self._live_nodes(label):
                if nid in written:
                    continue
                k = key_of(labels, props)
                if k is not None:
                    table[nid] = self._key_bytes(k, name, nid)
        for nid, img in written.items():
            if img is not None:
                k = key_of(img[0], records.unpack_props(img[1]))
                if k is not None:
                    table[nid] = self._key_bytes(k, name, nid)
        return table

    def _build_rows(self, table: KeyTable, written: dict, name, key_of, label, rows) -> bool:
        """``_build``'s scan with ``rows`` (``IndexSpec.key_rows``): the live nodes read in
        chunks (one native call each) and their keys computed a chunk at a time; False (table
        untouched) when ``rows`` declines.  O(nodes of the label) in C, O(keys) in Python."""
        lid = ALL if label is None else self.catalog.label_ids.get(label)
        if lid is None:
            return True
        lsn, sets, chunk, key_max = self.applied_lsn, self.catalog.labelsets, 65536, core.KEY_MAX
        try:
            ids = self.store.label_scan(lid, lsn)
            for at in range(0, len(ids), chunk):
                part = array("Q", ids[at:at + chunk])
                lsets, blob, offs = core.store_nodes_read(self.store, lsn, part)
                got = rows(sets, lsets, blob, offs)
                if got is None:
                    table.clear()
                    return False
                keys, koffs, flags = got
                if not written and 2 not in flags:      # the usual chunk: every key from C
                    if max(map(int.__sub__, koffs[1:], koffs), default=0) <= key_max:
                        dense = part[-1] - part[0] + 1 == len(part)
                        table.chunks.append((range(part[0], part[-1] + 1) if dense else part,
                                             bytes(keys), array("Q", koffs), bytes(flags)))
                        continue
                for i, f in enumerate(flags):
                    if f == 0:
                        continue
                    nid = part[i]
                    if nid in written:
                        continue
                    if f == 1 and koffs[i + 1] - koffs[i] <= key_max:
                        table[nid] = keys[koffs[i]:koffs[i + 1]]
                        continue
                    k = key_of(sets[lsets[i]], records.unpack_props(blob[offs[i]:offs[i + 1]]))
                    if k is not None:
                        table[nid] = self._key_bytes(k, name, nid)
        except core.Corrupt as e:
            from .files import corruption
            raise corruption(e) from None
        return True

    # -- apply: the single mutation path ---------------------------------------------------------
    def apply(self, ops: Iterable, lsn: int, plan: Optional[list] = None) -> None:
        """Apply one committed transaction's ops, stamped ``lsn`` (its end LSN). Keeps (1)-(3).

        ``plan`` is what ``prepare(ops)`` returned (prepared here when not given)."""
        if lsn < self.applied_lsn:
            raise CorruptionError(f"commit at LSN {lsn} is older than the applied state ({self.applied_lsn})")
        if plan is None:
            plan = self.prepare(ops)
        floor = min(self.trim_floor(), lsn)   # invariant (2): older versions are unreachable
        try:
            self._apply(ops, plan, lsn, floor)
        except core.Corrupt as e:
            from .files import corruption
            raise corruption(e) from None
        self.applied_lsn = lsn

    def _apply(self, ops, plan, lsn, floor) -> None:
        st, cat = self.store, self.catalog
        fresh = cat.next_node_id          # ids from here on are new in this commit: no old keys
        seen = set()                      # ... until one is written twice in the same record
        batch = None                      # consecutive NODE_PUTs go to C in one call
        edges = None                      # ... and consecutive EDGE_PUTs
        # a bulk load's columnar ops are dropped from the (caller's) lists once in the overlay,
        # so that its columns and the overlay do not both reach their full size
        release = isinstance(ops, list) and isinstance(plan, list)
        for i, (op, step) in enumerate(zip(ops, plan)):
            code = op[0]
            if code == NODE_PUT:
                nid = op[1]
                labels, new_keys = step           # from prepare: the checked label set, the keys
                if batch is None:
                    batch = ([], array("I"), [], {})
                if nid >= fresh and nid not in seen:
                    seen.add(nid)
                    if new_keys:
                        keys = batch[3]
                        for ident, kb in new_keys.items():
                            got = keys.get(ident)
                            if got is None:
                                got = keys[ident] = ([], [])
                            got[0].append(kb)
                            got[1].append(nid)
                else:
                    self._flush_puts(batch, lsn, floor)
                    batch = ([], array("I"), [], {})
                    self._reindex(nid, labels, new_keys, lsn)
                batch[0].append(nid)
                batch[1].append(cat.labelset_id(labels))
                batch[2].append(op[3])
                if nid >= cat.next_node_id:
                    cat.next_node_id = nid + 1
                continue
            if batch is not None:
                self._flush_puts(batch, lsn, floor)
                batch = None
            if code == EDGE_PUT:
                if edges is None:
                    edges = (array("Q"), array("I"), array("Q"), array("Q"), [])
                eid = op[1]
                edges[0].append(eid)
                edges[1].append(cat.type_id(step))    # step: the label set prepare checked
                edges[2].append(op[3])
                edges[3].append(op[4])
                edges[4].append(op[5])
                if eid >= cat.next_edge_id:
                    cat.next_edge_id = eid + 1
                continue
            if edges is not None:
                self._flush_edges(edges, lsn, floor)
                edges = None
            if code == EDGE_DEL:
                st.edge_del(op[1], lsn)
            elif code == NODE_DEL:
                if self._node_now(op[1], lsn) is not None:
                    self._reindex(op[1], None, None, lsn)
                    st.node_put(op[1], DELETED, b"", lsn, floor)
            elif code == SCHEMA:
                key_specs, tables, users_next = step
                for spec in cat.schema_specs:
                    st.key_drop(spec.index_id)
                cat.replaced_schemas.append((lsn, cat.schema))   # what older snapshots still see
                cat.schema = (op[1], op[2]) if op[1] is not None else None
                cat.schema_specs = []
                for ispec in key_specs:
                    ident = ("schema", ispec.name)
                    cat.schema_specs.append(self._new_spec(ispec.name, ispec.key_of, ident,
                                                           tables[ident], lsn))
                cat.key_specs = key_specs
                for key, (how, arg) in users_next.items():
                    self._set_user_index(key, how, arg, lsn)
                cat.version = next(_CATALOG_VERSIONS)
            elif code == INDEX:
                label, props, create = op[1], tuple(op[2]), op[3]
                if create and (label, props) not in cat.user_indexes:
                    self._set_user_index((label, props), step[0], step[1], lsn)
                elif not create and (label, props) in cat.user_indexes:
                    old = cat.user_indexes.pop((label, props))
                    if not old.shared:
                        st.key_drop(old.index_id)
                cat.version = next(_CATALOG_VERSIONS)
            elif code == NODES_BULK:
                self._bulk_nodes(op[1], op[2], step[0], op[4], step[1], lsn)
            elif code == EDGES_BULK:
                self._bulk_edges(op[1], op[2], step[0], step[1], step[2], op[6], lsn)
            elif code == NODES_COLS:
                self._cols_nodes(op[1], op[2], step, op[4], lsn)
                if release:
                    ops[i] = plan[i] = op = step = None
            elif code == EDGES_COLS:
                self._cols_edges(op[1], op[2], step, op[6], lsn)
                if release:
                    ops[i] = plan[i] = op = step = None
        if batch is not None:
            self._flush_puts(batch, lsn, floor)
        if edges is not None:
            self._flush_edges(edges, lsn, floor)
        st.commit_end(lsn, floor)

    def _flush_edges(self, edges, lsn, floor) -> None:
        """Install a run of EDGE_PUTs (new edges or property updates) in one native call."""
        eids, types, srcs, dsts, props = edges
        offs = array("Q", [0])
        offs.extend(accumulate(map(len, props)))
        self.store.edge_put_many(eids, types, srcs, dsts, b"".join(props), offs, lsn, floor)

    def _flush_puts(self, batch, lsn, floor) -> None:
        """Install a run of NODE_PUTs: one native call for the nodes, one per index for the keys
        of the new ones (the others were reindexed one by one)."""
        nids, lsets, props, keys = batch
        if not nids:
            return
        offs = array("Q", [0])
        offs.extend(accumulate(map(len, props)))
        st = self.store
        st.node_put_many(nids, lsets, b"".join(props), offs, lsn, floor)
        if keys:
            by_ident = {s.ident: s.index_id for s in self.catalog.all_specs()}
            for ident, (kbs, owners) in keys.items():
                st.key_put_list(by_ident[ident], kbs, owners, lsn)

    def _set_user_index(self, key, how: str, arg, lsn) -> None:
        """User index ``key`` shares the schema index named ``arg`` (how "share"; its own
        entries, if it had any, are dropped), or holds its own entries built from the table
        ``arg`` (how "own", from prepare)."""
        cat = self.catalog
        label, props = key
        old = cat.user_indexes.get(key)
        name, key_of, ident = _user_index_name(label, props), user_index_key_of(label, props), ("index", label, props)
        if how == "share":
            target = next(s for s in cat.schema_specs if s.name == arg)
            if old is not None and not old.shared:
                self.store.key_drop(old.index_id)
            cat.user_indexes[key] = KeySpec(name, target.index_id, key_of, ident, shared=True,
                                            since=max(lsn, target.since))
        else:
            cat.user_indexes[key] = self._new_spec(name, key_of, ident, arg, lsn)

    def _new_spec(self, name, key_of, ident, table: KeyTable, lsn) -> KeySpec:
        """A new index filled from ``table`` (node id -> key bytes, built by prepare)."""
        cat = self.catalog
        spec = KeySpec(name, cat.next_index_id, key_of, ident, since=lsn)
        cat.next_index_id += 1
        if isinstance(table, KeyTable):
            table.install(self.store, spec.index_id, lsn)
            return spec
        if not table:
            return spec
        nids = sorted(table)
        first, span = nids[0], nids[-1] - nids[0] + 1
        if span <= 2 * len(nids):       # ids mostly dense (a bulk load's): one native call
            kbs = list(map(table.__getitem__, nids))
            if span == len(nids):       # no gap
                lens, flags = map(len, kbs), b"\x01" * span
            else:
                lens, gaps = [0] * span, bytearray(span)
                for nid, kb in zip(nids, kbs):
                    lens[nid - first] = len(kb)
                    gaps[nid - first] = 1
                flags = bytes(gaps)
            koffs = array("Q", [0])
            koffs.extend(accumulate(lens))
            self.store.key_put_many(spec.index_id, b"".join(kbs), koffs, flags, first, lsn)
            return spec
        put = self.store.key_put
        for nid in nids:
            put(spec.index_id, table[nid], nid, lsn)
        return spec

    def _reindex(self, nid, labels, new_keys, lsn) -> None:
        """Move ``nid``'s index entries to ``new_keys`` (ident -> key bytes, from prepare; labels
        None = deleted).  Old keys are recomputed from the node as it is: they were computable
        when that version was prepared or indexed, so this cannot fail."""
        specs = self.catalog.all_specs()
        if not specs:
            return
        st = self.store
        old = self._node_now(nid, lsn)
        base = nid < st.node_base and not st.touched(nid)
        for spec in specs:
            okb = None
            if old is not None:
                ok = spec.key_of(old[0], old[1])
                if ok is not None:
                    okb = records.key_bytes(ok)
            nkb = new_keys.get(spec.ident) if labels is not None and new_keys else None
            if base and spec.index_id in self.key_subs:
                # the base entry is masked from now on: its sub-index is rewritten at the next
                # checkpoint, and the overlay holds the node's keys (an index made since the
                # base files has all its entries in the overlay: the general case below)
                if okb is not None:
                    st.key_base_dead(spec.index_id, okb)
                if nkb is not None:
                    st.key_put(spec.index_id, nkb, nid, lsn)
                continue
            if okb is not None:
                if nkb == okb:
                    continue
                st.key_del(spec.index_id, okb, nid, lsn)
            if nkb is not None:
                st.key_put(spec.index_id, nkb, nid, lsn)

    def _bulk_nodes(self, first, lsets, idx, props, keys, lsn) -> None:
        """Create nodes first, first+1, ... (all new) in one native call.  O(n)."""
        cat = self.catalog
        ids = [cat.labelset_id(frozenset(ls)) for ls in lsets]
        lsids = core.u32_take(ids, idx)
        offs = array("Q", [0])
        offs.extend(accumulate(map(len, props)))
        self.store.nodes_bulk(first, lsids, b"".join(props), offs, lsn)
        if keys:
            put, by_ident = self.store.key_put, {s.ident: s.index_id for s in cat.all_specs()}
            for i, nk in enumerate(keys):
                for ident, kb in nk.items():
                    put(by_ident[ident], kb, first + i, lsn)
        if first + len(idx) > cat.next_node_id:
            cat.next_node_id = first + len(idx)

    def _bulk_edges(self, first, lsets, idx, srcs, dsts, props, lsn) -> None:
        """Create edges first, first+1, ... (all new) in one native call.  O(n)."""
        cat = self.catalog
        tids = [cat.type_id(frozenset(ls)) for ls in lsets]
        types = core.u32_take(tids, idx)
        offs = array("Q", [0])
        offs.extend(accumulate(map(len, props)))
        self.store.edges_bulk(first, types, srcs, dsts, b"".join(props), offs, lsn)
        if first + len(idx) > cat.next_edge_id:
            cat.next_edge_id = first + len(idx)

    def _cols_nodes(self, first, lsets, step, blob, lsn) -> None:
        """NODES_COLS: all new nodes in one native call, their keys in one per index.  O(n)."""
        idx, offs, keys = step
        cat = self.catalog
        ids = [cat.labelset_id(frozenset(ls)) for ls in lsets]
        lsids = core.u32_take(ids, idx)
        self.store.nodes_bulk(first, lsids, blob, offs, lsn)
        if keys:
            by_ident = {s.ident: s.index_id for s in cat.all_specs()}
            for ident, kb, koffs, flags in keys:
                self.store.key_put_many(by_ident[ident], kb, koffs, flags, first, lsn)
        if first + len(idx) > cat.next_node_id:
            cat.next_node_id = first + len(idx)

    def _cols_edges(self, first, lsets, step, blob, lsn) -> None:
        idx, srcs, dsts, offs = step
        cat = self.catalog
        tids = [cat.type_id(frozenset(ls)) for ls in lsets]
        types = core.u32_take(tids, idx)
        self.store.edges_bulk(first, types, srcs, dsts, blob, offs, lsn)
        if first + len(idx) > cat.next_edge_id:
            cat.next_edge_id = first + len(idx)

    # -- checks ------------------------------------------------------------------------------------
    def check(self) -> None:
        """Native invariant checks of the overlay (InternalError on failure)."""
        self.store.check()

    def verify_files(self) -> None:
        """Check every block CRC of every base file (CorruptionError naming the file)."""
        for f in self.files.values():
            f.verify()
