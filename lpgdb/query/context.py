"""The execution context of one query run: graph access with a per-query cache, parameters,
and the resource limits (time, estimated memory, result rows).

Owns: ``tick`` (called in every loop that can run long: scans, expansions, UNWIND, range(),
comprehensions, aggregation, sorting) and ``charge`` (called wherever values are kept:
materialised rows, lists built by range(), comprehensions, collect(), split()).  Either raises
``OperationalError`` when the query passes its limit; a write query that fails this way has
written nothing that survives (the caller rolls its transaction back).

Memory is an estimate, not a measurement: ``charge`` adds about what CPython needs for the
values kept (``ROW_BYTES`` per row plus ``VALUE_BYTES`` per value), so a limit stops runaway
queries deterministically, long before the process runs out of memory.
"""
from __future__ import annotations

import time
from operator import itemgetter
from time import monotonic as _monotonic

from ..errors import NotFoundError, OperationalError
from .diagnostics import entity_not_found

__all__ = ["Context", "new_context", "ROW_BYTES", "VALUE_BYTES", "value_bytes"]

ROW_BYTES = 120       # a dict row with a few entries
VALUE_BYTES = 40      # a list slot plus a small boxed value
_CHECK_EVERY = 128    # ticks between two clock reads
_NO_OPTIONS: dict = {}
_NONE = frozenset()
_new = object.__new__


def value_bytes(v) -> int:
    t = type(v)
    if t is str:
        return 49 + len(v)
    if t is list:
        return 56 + sum(value_bytes(x) for x in v[:64]) * max(1, len(v)) // max(1, min(len(v), 64))
    if t is dict:
        return 232 + 64 * len(v)
    return VALUE_BYTES


class _NodeData(tuple):
    """A node as the operators read it: ``(labels, properties)`` with those two names (no Node
    object is built for a property access)."""
    __slots__ = ()
    labels = property(itemgetter(0))
    properties = property(itemgetter(1))


def new_context(tx, params, readonly: bool, options) -> "Context":
    """The Context of one query run on ``tx`` (a Transaction, a Snapshot, a reader) with the
    limits of ``options`` (already checked): ``timeout`` (seconds; ``deadline``, a monotonic
    time, where parsing spent part of it already), ``memory`` and ``max_rows``.

    A query run makes one per call, so this is a few slot assignments (a function rather than
    ``Context(...)``: calling a class with an ``__init__`` costs a third more in CPython 3.11);
    what most runs never touch (deleted-element sets, the PROFILE table) is made on first use."""
    c = _new(Context)
    c.tx = tx
    c.params = params
    c.timeout = timeout = options.get("timeout")    # as the caller gave it (the message quotes it)
    c.deadline = None if timeout is None else options.get("deadline") or _monotonic() + timeout
    c.memory = options.get("memory")
    c.max_rows = options.get("max_rows")
    c.readonly = readonly
    c.options = options or _NO_OPTIONS
    c.used = c._ticks = 0
    c._next_check = _CHECK_EVERY
    c._nodes = {}
    c._edges = {}
    c.now = None            # the statement clock, set on first use (temporal.py)
    c.profile = None        # {id(op): [rows, seconds]} under PROFILE
    c.deleted_nodes = c.deleted_edges = _NONE   # sets on the first DELETE
    c._dead = None
    c.memo = None           # answers of EXISTS/COUNT subqueries by outer values (expressions.py)
    return c


class Context:
    """Execution state of one query run (graph access, parameters, limits); ``new_context``
    makes one."""

    __slots__ = ("tx", "params", "timeout", "deadline", "memory", "max_rows", "readonly", "options", "used",
                 "_ticks", "_next_check", "_nodes", "_edges", "now", "profile", "deleted_nodes", "deleted_edges",
                 "_dead", "memo")

    # graph access used by the operators: the transaction's (which includes its own writes)
    def expand(self, node_ids, direction, label):
        """Batched 1-hop: ``(nbrs, eids, from_index)``."""
        return self.tx.expand(node_ids, direction, label)

    def key_lookup(self, label, prop, value):
        return self.tx.key_lookup(label, prop, value)

    # -- limits -------------------------------------------------------------------------------
    def tick(self, n: int = 1):
        self._ticks += n
        if self._ticks >= self._next_check:
            self._next_check = self._ticks + _CHECK_EVERY
            if self.deadline is not None and _monotonic() > self.deadline:
                self.timed_out()

    def check_time(self):
        if self.deadline is not None and _monotonic() > self.deadline:
            self.timed_out()

    def timed_out(self):
        raise OperationalError(f"query timed out after {self.timeout:g} s; nothing it wrote was kept. Pass a "
                               "larger timeout= to execute(), or set connect(..., query_timeout=...)",
                               reason="query_timeout")

    def charge(self, nbytes: int):
        self.used += nbytes
        if self.memory is not None and self.used > self.memory:
            raise OperationalError(
                f"query needs more than its memory limit of {self.memory / 2**20:.0f} MiB (estimated); nothing "
                "it wrote was kept. Narrow the query (LIMIT, aggregation), or pass a larger memory= to "
                "execute() or connect(..., query_memory=...)", reason="query_memory")
        self._ticks += 1               # tick(), inline: this is on every row's path
        if self._ticks >= self._next_check:
            self.tick(0)

    def charge_items(self, n: int):
        """Before building a list of ``n`` values: refuse at once if it cannot fit."""
        if self.memory is not None and self.used + n * VALUE_BYTES > self.memory:
            self.charge(n * VALUE_BYTES)
        self.tick(n // 64 + 1)

    def switch_tx(self, tx):
        """Continue in a new transaction (CALL { } IN TRANSACTIONS commits between batches)."""
        self.tx = tx
        self._nodes.clear()
        self._edges.clear()

    # -- graph access -------------------------------------------------------------------------
    def node(self, nid):
        """The node's ``labels`` and ``properties`` (NotFoundError when it is not visible)."""
        n = self._nodes.get(nid)
        if n is None:
            raw = self.tx.node_raw(nid)
            if raw is None:
                raise entity_not_found(f"node {nid} was deleted or does not exist")
            n = self._nodes[nid] = _NodeData(raw)
        return n

    def node_or_none(self, nid):
        """Like ``node``, or None when the node is not visible."""
        n = self._nodes.get(nid)
        if n is None:
            raw = self.tx.node_raw(nid)
            if raw is None:
                return None
            n = self._nodes[nid] = _NodeData(raw)
        return n

    def edge(self, eid):
        e = self._edges.get(eid)
        if e is None:
            try:
                e = self.tx.edge(eid)
            except NotFoundError:
                raise entity_not_found(f"relationship {eid} was deleted or does not exist") from None
            self._edges[eid] = e
        return e

    def has_node(self, nid):
        return nid in self._nodes or self.tx.node_raw(nid) is not None

    def scan(self, label):
        """Ids of the nodes (with ``label``), materialised (writes later in the query do not
        disturb a running scan)."""
        out = self.tx.node_ids(label)
        self.tick(len(out) // 16 + 1)
        return out

    def edges_of(self, nid, direction, label):
        seen = set()
        out = []
        for e in self.tx.edges_of(nid, direction, label):
            if e.id in seen:
                continue
            seen.add(e.id)
            self._edges[e.id] = e
            out.append(e)
        return out

    def remember_deleted_edge(self, eid):
        """Keep a relationship's type and endpoints readable after DELETE (type(r), startNode(r)),
        while its properties are not (openCypher: DeletedEntityAccess)."""
        e = self._edges.pop(eid, None) or self.tx.edge(eid)
        if self._dead is None:
            self._dead = {}
        self._dead[eid] = e

    def edge_meta(self, eid):
        """The relationship (for its type and endpoints), also after this query deleted it."""
        e = self._dead.get(eid) if self._dead is not None else None
        return e if e is not None else self.edge(eid)

    def mark_deleted_node(self, nid):
        if self.deleted_nodes is _NONE:
            self.deleted_nodes = set()
        self.deleted_nodes.add(nid)
        self._nodes.pop(nid, None)

    def mark_deleted_edge(self, eid):
        if self.deleted_edges is _NONE:
            self.deleted_edges = set()
        self.deleted_edges.add(eid)

    def forget_node(self, nid):
        self._nodes.pop(nid, None)

    def forget_edge(self, eid):
        self._edges.pop(eid, None)
