"""Graph values handed to users (Node, Edge, Path) and the rules for property values.

Property values are the Python types of API.md's value table: bool, int (signed 64-bit, or
unsigned up to 2**64-1), float, str, bytes, datetime.date / time / datetime / timedelta and
lists of these. ``None`` means "absent": setting a property to None removes it.
"""
from __future__ import annotations

import datetime as _dt
import math
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Optional

from .errors import DataError, InterfaceError

__all__ = ["Node", "Edge", "Relationship", "Path", "check_properties", "check_value", "label_set"]

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


class Node:
    """A node as seen by one snapshot: immutable.

    >>> n = Node(1, frozenset({"Person"}), {"name": "Ada"})
    >>> n["name"], sorted(n.labels)
    ('Ada', ['Person'])
    """

    __slots__ = ("id", "labels", "properties")

    def __init__(self, id: int, labels: frozenset, properties: Mapping[str, Any]):
        _node_id(self, id)
        _node_labels(self, labels)
        _node_props(self, properties if type(properties) is MappingProxyType
                    else MappingProxyType(properties) if properties else _EMPTY)

    def __setattr__(self, name, value):
        raise AttributeError("Node is immutable")

    def __getitem__(self, key: str) -> Any:
        return self.properties[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.properties.get(key, default)

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


class Edge:
    """An edge as seen by one snapshot: immutable. ``.label`` is the label when there is exactly one."""

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

    @property
    def label(self) -> Optional[str]:
        if len(self.labels) == 1:
            return next(iter(self.labels))
        return None

    # Relationship-style aliases (openCypher / Neo4j driver vocabulary)
    @property
    def type(self) -> Optional[str]:
        return self.label

    @property
    def start(self) -> int:
        return self.src

    @property
    def end(self) -> int:
        return self.dst

    def __getitem__(self, key: str) -> Any:
        return self.properties[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.properties.get(key, default)

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
    """An alternating sequence node, edge, node, ..., node (as returned by queries)."""

    __slots__ = ("nodes", "edges")

    def __init__(self, nodes, edges):
        if len(nodes) != len(edges) + 1:
            raise ValueError("a path has exactly one more node than edges")
        object.__setattr__(self, "nodes", tuple(nodes))
        object.__setattr__(self, "edges", tuple(edges))

    def __setattr__(self, name, value):
        raise AttributeError("Path is immutable")

    @property
    def start(self) -> Node:
        return self.nodes[0]

    @property
    def end(self) -> Node:
        return self.nodes[-1]

    def __len__(self) -> int:
        return len(self.edges)

    def __eq__(self, other) -> bool:
        return isinstance(other, Path) and self.nodes == other.nodes and self.edges == other.edges

    def __hash__(self) -> int:
        return hash((tuple(n.id for n in self.nodes), tuple(e.id for e in self.edges)))

    def __repr__(self) -> str:
        return f"Path({[n.id for n in self.nodes]}, {[e.id for e in self.edges]})"
