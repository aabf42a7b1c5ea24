"""Runtime values of the query engine and the rules that compare them.

Owns: the in-query representation of graph values (``NodeRef``, ``EdgeRef``, ``PathVal``:
ids only, so a value always reads the transaction's current state), ternary equality and
comparison with null semantics, the global sort order used by ORDER BY, the hashable keys
used by DISTINCT and grouping, type names, and conversion of results to user values
(``lpgdb.Node`` / ``Edge`` / ``Path``).
Must not: parse, plan, or write to the graph.
Invariants:
  (1) ``bool`` is never treated as a number (Python's ``True == 1`` is not Cypher's);
  (2) equality and comparison return True, False or None (null = unknown);
  (3) ``group_key(a) == group_key(b)`` iff a and b are equivalent for DISTINCT/grouping
      (null ~ null, NaN ~ NaN, 1 ~ 1.0).
"""
from __future__ import annotations

import datetime as _dt
import math
from typing import Any

from ..values import Edge, Node, Path, plain
from ..values import kind as value_kind
from .temporal import Duration, Temporal, from_python, to_python_if_exact

__all__ = ["NodeRef", "EdgeRef", "PathVal", "cy_eq", "cy_lt", "sort_key", "group_key", "type_name",
           "is_number", "to_user"]


class NodeRef:
    __slots__ = ("id",)

    def __init__(self, id: int):
        self.id = id

    def __eq__(self, other):
        return isinstance(other, NodeRef) and other.id == self.id

    def __hash__(self):
        return hash(("N", self.id))

    def __repr__(self):
        return f"NodeRef({self.id})"


class EdgeRef:
    __slots__ = ("id",)

    def __init__(self, id: int):
        self.id = id

    def __eq__(self, other):
        return isinstance(other, EdgeRef) and other.id == self.id

    def __hash__(self):
        return hash(("E", self.id))

    def __repr__(self):
        return f"EdgeRef({self.id})"


class PathVal:
    """A path: node ids and edge ids, ``len(nodes) == len(edges) + 1``."""
    __slots__ = ("nodes", "edges")

    def __init__(self, nodes, edges):
        self.nodes = tuple(nodes)
        self.edges = tuple(edges)

    def __eq__(self, other):
        return isinstance(other, PathVal) and other.nodes == self.nodes and other.edges == self.edges

    def __hash__(self):
        return hash(("P", self.nodes, self.edges))

    def __repr__(self):
        return f"PathVal({self.nodes}, {self.edges})"


def is_number(v) -> bool:
    return (type(v) is int) or (type(v) is float)


_TYPE_NAMES = {"bool": "Boolean", "int": "Integer", "float": "Float", "str": "String", "bytes": "Bytes",
               "list": "List", "date": "Date", "localtime": "LocalTime", "time": "Time",
               "localdatetime": "LocalDateTime", "datetime": "DateTime", "duration": "Duration"}


def type_name(v) -> str:
    """The query language's name of a runtime value's type (a property value's kind is
    lpgdb.values.kind's answer; maps, nodes, relationships and paths exist only here)."""
    if v is None:
        return "Null"
    k = value_kind(v)
    if k is not None:
        return _TYPE_NAMES[k]
    if isinstance(v, dict):
        return "Map"
    if isinstance(v, NodeRef):
        return "Node"
    if isinstance(v, EdgeRef):
        return "Relationship"
    if isinstance(v, PathVal):
        return "Path"
    return type(v).__name__


def cy_eq(a, b):
    """Cypher ``a = b``: True, False or None (keeps invariants (1) and (2))."""
    if a is None or b is None:
        return None
    ta, tb = type(a), type(b)
    if ta is bool or tb is bool:
        return a is b if ta is tb else False
    if (ta is int or ta is float) and (tb is int or tb is float):
        return a == b
    if ta is list and tb is list:
        if len(a) != len(b):
            return False
        unknown = False
        for x, y in zip(a, b):
            r = cy_eq(x, y)
            if r is False:
                return False
            if r is None:
                unknown = True
        return None if unknown else True
    if ta is dict and tb is dict:
        if a.keys() != b.keys():
            return False
        unknown = False
        for k in a:
            r = cy_eq(a[k], b[k])
            if r is False:
                return False
            if r is None:
                unknown = True
        return None if unknown else True
    if ta is not tb:
        return False
    return a == b


def cy_lt(a, b):
    """Cypher ``a < b``: None when the values are not comparable."""
    if a is None or b is None:
        return None
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        if (ta is float and math.isnan(a)) or (tb is float and math.isnan(b)):
            return False
        return a < b
    if ta is str and tb is str:
        return a < b
    if ta is bool and tb is bool:
        return a < b
    if ta is list and tb is list:
        for x, y in zip(a, b):
            e = cy_eq(x, y)
            if e is True:
                continue
            if e is None and (x is None or y is None):
                return None
            return cy_lt(x, y)
        return len(a) < len(b)
    if ta is tb and isinstance(a, Temporal):
        return None if ta is Duration else a < b
    if ta is tb and ta not in (dict, NodeRef, EdgeRef, PathVal) and ta is not bool:
        try:
            return a < b
        except TypeError:
            return None
    return None


def cy_compare(op: str, a, b):
    if op == "=":
        return cy_eq(a, b)
    if op == "<>":
        r = cy_eq(a, b)
        return None if r is None else not r
    if op == "<":
        return cy_lt(a, b)
    if op == ">":
        return cy_lt(b, a)
    if op == "<=":
        r = cy_lt(a, b)
        if r is None:
            return None
        if r:
            return True
        e = cy_eq(a, b)
        if isinstance(a, float) and math.isnan(a) or isinstance(b, float) and math.isnan(b):
            return False
        return e
    if op == ">=":
        return cy_compare("<=", b, a)
    raise ValueError(op)


# ORDER BY: map < node < relationship < list < path < string < boolean < number < NaN < null
_RANK = {dict: 0, NodeRef: 1, EdgeRef: 2, list: 3, PathVal: 4, str: 5, bool: 6, int: 7, float: 7}


_TEMPORAL_RANK = {"DateTime": 0, "LocalDateTime": 1, "Date": 2, "Time": 3, "LocalTime": 4, "Duration": 5}


def sort_key(v):
    """A key that orders any two values by Cypher's global sort order (nulls last)."""
    if v is None:
        return (9,)
    t = type(v)
    rank = _RANK.get(t)
    if rank is None:
        if isinstance(v, Temporal):
            return (4.5, _TEMPORAL_RANK.get(v.kind, 9), v._order())
        return (8.5, type(v).__name__, str(v))
    if t is float and math.isnan(v):
        return (8,)
    if t is list:
        return (3, tuple(sort_key(x) for x in v))
    if t is dict:
        return (0, tuple((k, sort_key(v[k])) for k in sorted(v)))
    if t is NodeRef or t is EdgeRef:
        return (rank, v.id)
    if t is PathVal:
        return (4, v.nodes, v.edges)
    return (rank, v)


def group_key(v):
    """Hashable key: equal keys <=> equivalent values (invariant (3))."""
    if v is None:
        return None
    t = type(v)
    if t is bool:
        return ("b", v)
    if t is int:
        return ("n", v)
    if t is float:
        return ("nan",) if math.isnan(v) else ("n", v)
    if t is list:
        return ("l", tuple(group_key(x) for x in v))
    if t is dict:
        return ("m", tuple(sorted(((k, group_key(x)) for k, x in v.items()), key=lambda kv: kv[0])))
    if t is str:
        return ("s", v)
    return v


def to_user(v, tx):
    """Convert a runtime value into what a user gets back (Node, Edge, Path, lists, dicts)."""
    t = type(v)
    if t is NodeRef:
        return tx.node(v.id)
    if t is EdgeRef:
        return tx.edge(v.id)
    if t is PathVal:
        return Path([tx.node(n) for n in v.nodes], [tx.edge(e) for e in v.edges])
    if t is list:
        return [to_user(x, tx) for x in v]
    if t is dict:
        return {k: to_user(x, tx) for k, x in v.items()}
    if isinstance(v, Temporal):
        return to_python_if_exact(v)
    return v


_STORED_CONVERT = {_dt.date, _dt.datetime, _dt.time, _dt.timedelta, list, tuple}


def stored(v):
    """A property value as read from the graph, as a runtime value (Python datetime values
    become query temporal values).  Complexity: O(1) for scalars."""
    return from_user(v) if type(v) in _STORED_CONVERT else v


def stored_map(m) -> dict:
    return {k: stored(v) for k, v in m.items()}


def from_user(v: Any):
    """Parameters and stored properties into runtime values (tuples become lists, Node/Edge
    objects become references, Python datetime values become query temporal values; a subclass
    of a built-in value type is read as that type, ``values.plain``)."""
    v = plain(v)
    if isinstance(v, Node):
        return NodeRef(v.id)
    if isinstance(v, Edge):
        return EdgeRef(v.id)
    if isinstance(v, Path):
        return PathVal([n.id for n in v.nodes], [e.id for e in v.edges])
    if isinstance(v, tuple):
        return [from_user(x) for x in v]
    if isinstance(v, list):
        return [from_user(x) for x in v]
    if isinstance(v, dict):
        return {k: from_user(x) for k, x in v.items()}
    return from_python(v)
