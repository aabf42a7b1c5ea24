"""Graph values handed to users (Node, Edge, Path) and the rules for property values.

Property values are the Python types of API.md's value table: bool, int (signed 64-bit, or
unsigned up to 2**64-1), float, str, bytes, datetime.date / time / datetime / timedelta and
lists of these. ``None`` means "absent": setting a property to None removes it.
"""
from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Iterable, Iterator, Optional, Tuple

from .errors import DataError, InterfaceError

__all__ = ["Node", "Edge", "Relationship", "Path", "check_properties", "check_value", "label_set", "temporal_text"]

_EMPTY = MappingProxyType({})
_SCALARS = (bool, int, float, str, bytes, _dt.date, _dt.time, _dt.timedelta)  # datetime is a date


_FAST = {str, float, bytes, bool}


def check_value(key: str, value: Any) -> None:
    """Raise DataError unless ``value`` is a storable property value (None excluded)."""
    t = type(value)
    if t in _FAST:
        return
    if t is int:
        if not -(2 ** 63) <= value < 2 ** 64:
            raise DataError(f"property {key!r}: integer {value} does not fit in 64 bits")
        return
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        check_value(key, int(value))
        return
    if isinstance(value, _SCALARS):
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            if item is None:
                raise DataError(f"property {key!r}: lists may not contain null")
            if isinstance(item, (list, tuple)):
                raise DataError(f"property {key!r}: nested lists are not supported")
            check_value(key, item)
        return
    raise DataError(f"property {key!r}: unsupported value type {type(value).__name__} "
                    f"(use bool, int, float, str, bytes, date, time, datetime, timedelta or a list)")


def check_properties(props: Optional[Mapping[str, Any]], *, allow_none: bool) -> dict:
    """Validate a property map; return a new plain dict (tuples become lists). Keys must be str.
    None values are kept when ``allow_none`` (meaning "remove"), else dropped. O(len(props))."""
    if props is None:
        return {}
    if type(props) is not dict and not isinstance(props, Mapping):
        raise InterfaceError(f"properties must be a mapping, not {type(props).__name__}")
    out = {}
    for k, v in props.items():
        if type(k) is not str:
            raise InterfaceError(f"property names must be str, not {type(k).__name__}")
        if v is None:
            if allow_none:
                out[k] = None
            continue
        check_value(k, v)
        out[k] = list(v) if type(v) is tuple else v
    return out


def label_set(labels: Any, what: str = "label") -> frozenset:
    """Normalize ``"A"`` / ``["A", "B"]`` / ``None`` into a frozenset of label names."""
    if labels is None:
        return frozenset()
    if isinstance(labels, str):
        labels = (labels,)
    elif not isinstance(labels, Iterable):
        raise InterfaceError(f"{what}s must be a str or an iterable of str, not {type(labels).__name__}")
    out = frozenset(labels)
    for lab in out:
        if not isinstance(lab, str) or not lab:
            raise InterfaceError(f"{what}s must be non-empty strings, got {lab!r}")
    return out


def _same_float(a, b) -> bool:
    return isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)


class _Element(Mapping):
    """What Node and Edge share: a read-only mapping of the element's properties.

    ``"k" in x``, ``x["k"]``, ``x.get("k")``, ``dict(x)``, ``list(x)`` (the keys), ``x.keys()``,
    ``.values()``, ``.items()`` and ``len(x)`` (the number of properties) read the properties.
    An element is always true, even without properties.
    """

    __slots__ = ()

    def __getitem__(self, key: str) -> Any:
        return self.properties[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.properties)

    def __len__(self) -> int:
        return len(self.properties)

    def __contains__(self, key: object) -> bool:
        return key in self.properties

    def get(self, key: str, default: Any = None) -> Any:
        """The property ``key``, or ``default`` when the element has none."""
        return self.properties.get(key, default)

    def __bool__(self) -> bool:
        return True


class Node(_Element):
    """A node as seen by one snapshot: immutable; a read-only mapping of its properties.

    >>> n = Node(1, frozenset({"Person"}), {"name": "Ada"})
    >>> n["name"], sorted(n.labels), "name" in n, dict(n)
    ('Ada', ['Person'], True, {'name': 'Ada'})

    Attributes:
        id: the node id (an int, stable for the node's life).
        labels: frozenset of label names.
        properties: read-only mapping of property names to values.
    """

    __slots__ = ("id", "labels", "properties")

    def __init__(self, id: int, labels: frozenset, properties: Mapping[str, Any]):
        _node_id(self, id)
        _node_labels(self, labels)
        _node_props(self, properties if type(properties) is MappingProxyType
                    else MappingProxyType(properties) if properties else _EMPTY)

    def __setattr__(self, name, value):
        raise AttributeError("Node is immutable")

    def __reduce__(self):
        return (Node, (self.id, self.labels, dict(self.properties)))

    def __eq__(self, other) -> bool:
        return (isinstance(other, Node) and self.id == other.id and self.labels == other.labels
                and dict(self.properties) == dict(other.properties))

    def __hash__(self) -> int:
        return hash(("node", self.id))

    def __repr__(self) -> str:
        labels = ":".join(sorted(self.labels))
        return f"Node({self.id}{':' + labels if labels else ''} {dict(self.properties)!r})"


# Slot setters, bound once: Node is immutable, so __init__ cannot use plain assignment.
_node_id, _node_labels, _node_props = (Node.__dict__[n].__set__ for n in Node.__slots__)


class Edge(_Element):
    """An edge as seen by one snapshot: immutable; a read-only mapping of its properties.

    >>> e = Edge(7, 1, 2, frozenset({"KNOWS"}), {"since": 2021})
    >>> e.label, e.src, e.dst, e["since"], dict(e)
    ('KNOWS', 1, 2, 2021, {'since': 2021})

    Attributes:
        id: the edge id.
        src, dst: the ids of its source and target nodes.
        labels: frozenset of label names (possibly empty).
        properties: read-only mapping of property names to values.
    """

    __slots__ = ("id", "src", "dst", "labels", "properties")

    def __init__(self, id: int, src: int, dst: int, labels: frozenset, properties: Mapping[str, Any]):
        _edge_id(self, id)
        _edge_src(self, src)
        _edge_dst(self, dst)
        _edge_labels(self, labels)
        _edge_props(self, properties if type(properties) is MappingProxyType
                    else MappingProxyType(properties) if properties else _EMPTY)

    def __setattr__(self, name, value):
        raise AttributeError("Edge is immutable")

    def __reduce__(self):
        return (Edge, (self.id, self.src, self.dst, self.labels, dict(self.properties)))

    @property
    def label(self) -> Optional[str]:
        """The edge's label when it has exactly one, else None."""
        if len(self.labels) == 1:
            return next(iter(self.labels))
        return None

    # Relationship-style aliases (openCypher / Neo4j driver vocabulary)
    @property
    def type(self) -> Optional[str]:
        """Alias of ``label`` (the Neo4j driver's name)."""
        return self.label

    @property
    def start(self) -> int:
        """Alias of ``src``."""
        return self.src

    @property
    def end(self) -> int:
        """Alias of ``dst``."""
        return self.dst

    def __eq__(self, other) -> bool:
        return (isinstance(other, Edge) and self.id == other.id and self.src == other.src
                and self.dst == other.dst and self.labels == other.labels
                and dict(self.properties) == dict(other.properties))

    def __hash__(self) -> int:
        return hash(("edge", self.id))

    def __repr__(self) -> str:
        labels = ":".join(sorted(self.labels))
        return f"Edge({self.id}: {self.src}-[{labels}]->{self.dst} {dict(self.properties)!r})"


_edge_id, _edge_src, _edge_dst, _edge_labels, _edge_props = (Edge.__dict__[n].__set__ for n in Edge.__slots__)

Relationship = Edge


class Path:
    """An alternating sequence node, edge, node, ..., node (as returned by queries); immutable.

    ``len(path)`` is its number of edges; ``.start`` and ``.end`` are its first and last nodes.
    """

    __slots__ = ("nodes", "edges")

    def __init__(self, nodes: Iterable[Node], edges: Iterable[Edge]):
        if len(nodes) != len(edges) + 1:
            raise ValueError("a path has exactly one more node than edges")
        object.__setattr__(self, "nodes", tuple(nodes))
        object.__setattr__(self, "edges", tuple(edges))

    def __setattr__(self, name, value):
        raise AttributeError("Path is immutable")

    def __reduce__(self):
        return (Path, (self.nodes, self.edges))

    @property
    def start(self) -> Node:
        """The first node."""
        return self.nodes[0]

    @property
    def end(self) -> Node:
        """The last node."""
        return self.nodes[-1]

    def __len__(self) -> int:
        return len(self.edges)

    def __eq__(self, other) -> bool:
        return isinstance(other, Path) and self.nodes == other.nodes and self.edges == other.edges

    def __hash__(self) -> int:
        return hash((tuple(n.id for n in self.nodes), tuple(e.id for e in self.edges)))

    def __repr__(self) -> str:
        return f"Path({[n.id for n in self.nodes]}, {[e.id for e in self.edges]})"


def _time_text(hour: int, minute: int, second: int, micro: int) -> str:
    text = f"{hour:02d}:{minute:02d}"
    if second or micro:
        text += f":{second:02d}" + (f".{micro:06d}".rstrip("0") if micro else "")
    return text


def _offset_text(seconds: int) -> str:
    if seconds == 0:
        return "Z"
    sign, seconds = ("-", -seconds) if seconds < 0 else ("+", seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{sign}{h:02d}:{m:02d}" + (f":{s:02d}" if s else "")


def temporal_text(v: "_dt.date | _dt.time | _dt.timedelta") -> str:
    """A Python date, time, datetime or timedelta in the query language's text form (what
    ``toString`` gives): ``12:31:14.5+01:00``, ``2020-06-01T10:00+02:00[Europe/Paris]``, ``P1DT2.5S``.

    >>> temporal_text(_dt.time(12, 31, 14, 500000))
    '12:31:14.5'
    """
    if isinstance(v, _dt.timedelta):
        days, us = v.days, v.seconds * 1_000_000 + v.microseconds
        if not days and not us:
            return "PT0S"
        out = "P" + (f"{days}D" if days else "")
        if us:
            h, rem = divmod(us, 3_600_000_000)
            m, rem = divmod(rem, 60_000_000)
            s, frac = divmod(rem, 1_000_000)
            out += "T" + (f"{h}H" if h else "") + (f"{m}M" if m else "")
            if s or frac:
                out += f"{s}" + (f".{frac:06d}".rstrip("0") if frac else "") + "S"
        return out
    if isinstance(v, _dt.datetime):
        text = v.date().isoformat() + "T" + _time_text(v.hour, v.minute, v.second, v.microsecond)
    elif isinstance(v, _dt.date):
        return v.isoformat()
    else:
        text = _time_text(v.hour, v.minute, v.second, v.microsecond)
    off = v.utcoffset()
    if off is None:
        return text
    text += _offset_text(int(off.total_seconds()))
    zone = getattr(v.tzinfo, "key", None)
    return text + (f"[{zone}]" if zone else "")
