"""Graph values handed to users (Node, Edge, Path), the temporal values Python's datetime types
cannot hold, and the rules for property values.

Property values are the Python types of API.md's value table: bool, int (signed 64-bit, or
unsigned up to 2**64-1), float, str, bytes, datetime.date / time / datetime / timedelta and
lists of these, plus the temporal values of the query language where Python's types cannot
hold them exactly: ``LocalTime`` / ``Time`` / ``LocalDateTime`` / ``DateTime`` with
nanoseconds, and ``Duration`` (months, days, nanoseconds, each with its own sign).
``None`` means "absent": setting a property to None removes it.

Canonical form (what is stored and read back): a temporal value is kept as the Python
``datetime`` type when that type holds it exactly (``canonical``), else as the class of this
module; a ``Duration`` stays a ``Duration`` (a ``timedelta`` would renormalise the signs of its
parts: ``PT-6H`` is not ``P-1DT18H``), and a ``timedelta`` stays a ``timedelta``.
"""
from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, FrozenSet, Iterable, Iterator, Optional, Tuple

from .errors import DataError, InterfaceError

__all__ = ["Node", "Edge", "Relationship", "Path", "check_properties", "check_value", "label_set", "temporal_text",
           "Temporal", "Date", "LocalTime", "Time", "LocalDateTime", "DateTime", "Duration", "canonical",
           "KINDS", "kind", "key_value", "comparable", "equal", "plain", "stored", "offset_of", "node_of", "edge_of"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_SCALARS = (bool, int, float, str, bytes, _dt.date, _dt.time, _dt.timedelta)  # datetime is a date


_FAST = {str, float, bytes, bool}
_ZERO = _dt.timedelta(0)
_EXACT = frozenset({str, int, float, bool, bytes, type(None), list, tuple, dict, _dt.date, _dt.datetime, _dt.time,
                    _dt.timedelta})


def plain(v: Any) -> Any:
    """``v`` as the built-in type it subclasses, when its type subclasses one of the value types
    (str, int, float, bytes, date, time, datetime, timedelta, list, tuple, dict): an enum member,
    numpy.float64, pandas.Timestamp, a str subclass.  The value is read with the built-in type's
    own methods, so no method of the subclass (``__eq__``, ``__hash__``, ``__str__``,
    ``__index__``, ``__iter__``, ...) runs inside lpgdb, and the value compares, hashes and is
    stored as the built-in value does.  Other values are returned unchanged.  O(1); a container
    is copied (not its items)."""
    if type(v) in _EXACT:
        return v
    if isinstance(v, str):
        return str.__str__(v)
    if isinstance(v, int):
        return v if isinstance(v, bool) else int.__index__(v)
    if isinstance(v, float):
        return float.__float__(v)
    if isinstance(v, bytes):
        return bytes.__getitem__(v, slice(None))
    if isinstance(v, _dt.datetime):
        return _dt.datetime.combine(_dt.datetime.date(v), _dt.datetime.timetz(v))
    if isinstance(v, _dt.date):
        return _dt.date.fromordinal(_dt.date.toordinal(v))
    if isinstance(v, _dt.time):
        return _dt.datetime.combine(_dt.date.min, v).timetz()
    if isinstance(v, _dt.timedelta):
        return _dt.timedelta.__add__(v, _ZERO)
    if isinstance(v, list):
        return list(list.__iter__(v))
    if isinstance(v, tuple):
        return tuple(tuple.__iter__(v))
    if isinstance(v, dict):
        return dict(dict.items(v))
    return v


def check_value(key: str, value: Any) -> None:
    """Raise DataError unless ``value`` is a storable property value (None excluded)."""
    stored(key, value)


def stored(key: str, value: Any) -> Any:
    """The form in which ``value`` is stored as property ``key``: built-in types (``plain``), a
    temporal value of this module in its ``canonical`` form, a tuple as a list.  DataError unless
    it is a storable property value (None excluded)."""
    t = type(value)
    if t in _FAST:
        return value
    if t is int:
        if not -(2 ** 63) <= value < 2 ** 64:
            raise DataError(f"property {key!r}: integer {value} does not fit in 64 bits")
        return value
    if t is _dt.time or t is _dt.datetime:
        offset_of(value, f"property {key!r}")
        return value
    if t is _dt.date or t is _dt.timedelta:
        return value
    if t is list or t is tuple:
        out = []
        for item in value:
            if item is None:
                raise DataError(f"property {key!r}: lists may not contain null")
            item = plain(item)
            if type(item) is list or type(item) is tuple:
                raise DataError(f"property {key!r}: nested lists are not supported")
            out.append(stored(key, item))
        return out
    if isinstance(value, Temporal):
        _check_temporal(key, value)
        return canonical(value)
    if t not in _EXACT:
        value = plain(value)
        if type(value) in _EXACT:
            return stored(key, value)
    raise DataError(f"property {key!r}: unsupported value type {t.__name__} "
                    f"(use bool, int, float, str, bytes, date, time, datetime, timedelta or a list)")


def offset_of(value, what: Optional[str]) -> Optional[int]:
    """The UTC offset of a time or datetime in whole seconds (None when it has none).  DataError,
    naming ``what``, for an offset with a fraction of a second (storing it would silently change
    the value) or a tzinfo whose offset cannot be read."""
    try:
        off = value.utcoffset()
    except Exception as e:   # a user tzinfo that fails, or gives something else than a timedelta
        raise DataError(f"{what + ': ' if what else ''}the time zone of {_short_repr(value)} has no usable "
                        f"UTC offset ({e})") from None
    if off is None:
        return None
    if off.microseconds:
        raise DataError(f"{what + ': ' if what else ''}UTC offset {off} has a fraction of a second; lpgdb "
                        f"stores offsets in whole seconds (round the offset, or store the value in UTC)")
    return off.days * 86400 + off.seconds


def check_properties(props: Optional[Mapping[str, Any]], *, allow_none: bool) -> dict:
    """Validate a property map; return a new plain dict (tuples become lists). Keys must be str.
    None values are kept when ``allow_none`` (meaning "remove"), else dropped. O(len(props))."""
    if props is None:
        return {}
    if type(props) is not dict:
        props = as_dict(props, "properties")
    out: dict = {}
    fast = _FAST
    for k, v in props.items():
        if type(k) is not str:
            raise InterfaceError(f"property names must be str, not {type(k).__name__}")
        t = type(v)
        if t in fast or (t is int and -0x8000000000000000 <= v <= 0xFFFFFFFFFFFFFFFF):
            out[k] = v                      # the usual value: checked, kept as it is
            continue
        if v is None:
            if allow_none:
                out[k] = None
            continue
        out[k] = stored(k, v)
    return out


def as_dict(m: Any, what: str) -> dict:
    """``m``, a dict or a Mapping, as a plain dict (``plain``).  InterfaceError, naming ``what``,
    when it is neither, or when reading a user's Mapping fails (the cause: the user's exception)."""
    if type(m) is dict:
        return m
    if isinstance(m, dict):
        return plain(m)
    if not isinstance(m, Mapping):
        raise InterfaceError(f"{what} must be a mapping (dict), not {type(m).__name__}")
    try:
        return dict(m.items())
    except Exception as e:
        raise InterfaceError(f"reading the {what} (a {type(m).__name__}) failed: {type(e).__name__}: {e}") from e


_ONE_LABEL: dict = {}   # label -> frozenset({label}): a write names the same few labels again and again


def label_set(labels: Any, what: str = "label") -> frozenset:
    """Normalize ``"A"`` / ``["A", "B"]`` / ``None`` into a frozenset of label names."""
    if labels is None:
        return frozenset()
    if type(labels) is str:
        hit = _ONE_LABEL.get(labels)
        if hit is not None:
            return hit
        if labels:
            if len(_ONE_LABEL) >= 4096:     # bounded: a stream of distinct labels does not grow it
                _ONE_LABEL.clear()
            hit = _ONE_LABEL[labels] = frozenset((labels,))
            return hit
    labels = plain(labels)
    if type(labels) is str:
        labels = (labels,)
    elif not isinstance(labels, Iterable) or isinstance(labels, (bytes, bytearray, Mapping)):
        raise InterfaceError(f"{what}s must be a str or an iterable of str, not {type(labels).__name__}")
    elif type(labels) is not list and type(labels) is not tuple:
        try:
            labels = tuple(labels)
        except Exception as e:      # a user iterable that fails
            raise InterfaceError(f"reading the {what}s from a {type(labels).__name__} failed: "
                                 f"{type(e).__name__}: {e}") from e
    out = []
    for lab in labels:
        if type(lab) is not str:
            lab = plain(lab)
        if type(lab) is not str or not lab:
            raise InterfaceError(f"{what}s must be non-empty strings, got {_short_repr(lab)}")
        out.append(lab)
    return frozenset(out)


def _short_repr(v) -> str:
    r = repr(v)
    return r if len(r) <= 80 else r[:77] + "..."


def _same_float(a, b) -> bool:
    return isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)


class _Element(Mapping):
    """What Node and Edge share: a read-only mapping of the element's properties.

    ``"k" in x``, ``x["k"]``, ``x.get("k")``, ``dict(x)``, ``list(x)`` (the keys), ``x.keys()``,
    ``.values()``, ``.items()`` and ``len(x)`` (the number of properties) read the properties.
    An element is always true, even without properties.
    """

    __slots__ = ()
    properties: Mapping[str, Any]

    # a key is read as the built-in value (plain): no method of a str subclass runs in the lookup,
    # and what is no str is no property name (it is not hashed: a tuple's items are the caller's)
    def __getitem__(self, key: str) -> Any:
        if type(key) is not str:
            key = plain(key)
            if type(key) is not str:
                raise KeyError(key)
        return self.properties[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.properties)

    def __len__(self) -> int:
        return len(self.properties)

    def __contains__(self, key: object) -> bool:
        if type(key) is not str:
            key = plain(key)
            if type(key) is not str:
                return False
        return key in self.properties

    def get(self, key: str, default: Any = None) -> Any:
        """The property ``key``, or ``default`` when the element has none."""
        if type(key) is not str:
            key = plain(key)
            if type(key) is not str:
                return default
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
    id: int
    labels: FrozenSet[str]
    properties: Mapping[str, Any]

    def __init__(self, id: int, labels: Iterable[str], properties: Optional[Mapping[str, Any]]) -> None:
        """Checked (InterfaceError): an id >= 0, labels as ``label_set`` reads them, a mapping with
        str keys.  (lpgdb's readers build the nodes they return with ``node_of``.)"""
        _node_id(self, _element_id(id, "node id"))
        _node_labels(self, label_set(labels))
        _node_props(self, _element_props(properties))

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


def _element_id(v: Any, what: str) -> int:
    v = plain(v)
    if type(v) is not int or v < 0:
        raise InterfaceError(f"{what} must be an int >= 0, not {_short_repr(v)}")
    return v


def _element_props(props: Any) -> Mapping[str, Any]:
    """A user's property map as the read-only mapping a Node or Edge holds (keys: built-in str)."""
    if props is None:
        return _EMPTY
    out = {}
    for k, v in as_dict(props, "properties").items():
        if type(k) is not str:
            k = plain(k)
            if type(k) is not str:
                raise InterfaceError(f"property names must be str, not {type(k).__name__}")
        out[k] = v
    return MappingProxyType(out) if out else _EMPTY


def node_of(id: int, labels: FrozenSet[str], properties: Mapping[str, Any]) -> Node:
    """A Node of what lpgdb read (no checks: the id, labels and properties are the stored ones)."""
    n = _new(Node)
    _node_id(n, id)
    _node_labels(n, labels)
    _node_props(n, properties if type(properties) is MappingProxyType
                else MappingProxyType(properties) if properties else _EMPTY)
    return n


_new = object.__new__


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
    id: int
    src: int
    dst: int
    labels: FrozenSet[str]
    properties: Mapping[str, Any]

    def __init__(self, id: int, src: int, dst: int, labels: Iterable[str],
                 properties: Optional[Mapping[str, Any]]) -> None:
        """Checked as ``Node`` is; (lpgdb's readers build the edges they return with ``edge_of``)."""
        _edge_id(self, _element_id(id, "edge id"))
        _edge_src(self, _element_id(src, "edge source id"))
        _edge_dst(self, _element_id(dst, "edge target id"))
        _edge_labels(self, label_set(labels))
        _edge_props(self, _element_props(properties))

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


def edge_of(id: int, src: int, dst: int, labels: FrozenSet[str], properties: Mapping[str, Any]) -> Edge:
    """An Edge of what lpgdb read (no checks, as ``node_of``)."""
    e = _new(Edge)
    _edge_id(e, id)
    _edge_src(e, src)
    _edge_dst(e, dst)
    _edge_labels(e, labels)
    _edge_props(e, properties if type(properties) is MappingProxyType
                else MappingProxyType(properties) if properties else _EMPTY)
    return e

Relationship = Edge


class Path:
    """An alternating sequence node, edge, node, ..., node (as returned by queries); immutable.

    ``len(path)`` is its number of edges; ``.start`` and ``.end`` are its first and last nodes.
    """

    __slots__ = ("nodes", "edges")
    nodes: Tuple[Node, ...]
    edges: Tuple[Edge, ...]

    def __init__(self, nodes: Iterable[Node], edges: Iterable[Edge]) -> None:
        try:
            nodes, edges = tuple(plain(nodes)), tuple(plain(edges))
        except TypeError:
            raise InterfaceError(f"a path is made of an iterable of nodes and one of edges, not "
                                 f"{type(nodes).__name__} and {type(edges).__name__}") from None
        except Exception as e:      # a user iterable that fails
            raise InterfaceError(f"reading the path's nodes and edges failed: {type(e).__name__}: {e}") from e
        if len(nodes) != len(edges) + 1:
            raise InterfaceError("a path has exactly one more node than edges")
        for x in nodes:
            if not isinstance(x, Node):
                raise InterfaceError(f"a path's nodes are Node objects, not {_short_repr(x)}")
        for i, e in enumerate(edges):
            if not isinstance(e, Edge):
                raise InterfaceError(f"a path's edges are Edge objects, not {_short_repr(e)}")
            a, b = nodes[i].id, nodes[i + 1].id
            if (e.src, e.dst) != (a, b) and (e.src, e.dst) != (b, a):
                raise InterfaceError(f"edge {e.id} ({e.src}->{e.dst}) of the path does not join its nodes {a} and {b}")
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "edges", edges)

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



# ---- temporal values Python's datetime types cannot hold ------------------------------------
#
# The query language's temporal values (lpgdb.query.temporal builds and computes with them; this
# module decides what they are, how they compare and print, and their canonical stored form).
# Invariants:
#   (1) a time of day is nanoseconds since midnight, 0 <= ns < 86_400 * 10**9;
#   (2) an offset is seconds east of UTC, |offset| <= 18 h; a DateTime built with a named zone
#       keeps the IANA name, its offset being the zone's offset at that local time;
#   (3) a Duration is (months, days, ns), each with its own sign (openCypher), each in int64.

_NS = 10 ** 9
_DAY_NS = 86_400 * _NS
_EPOCH = _dt.date(1970, 1, 1).toordinal()
_MAX_OFFSET = 18 * 3600
_I64 = 2 ** 63


def time_of_day(h: int, m: int, s: int, frac: int = 0) -> Optional[int]:
    """Invariant (1) for fields: nanoseconds since midnight of ``h:m:s`` plus ``frac`` ns, or None
    unless 0 <= h < 24, 0 <= m < 60, 0 <= s < 60 and 0 <= frac < 10**9.  Nothing wraps: '25:00' is
    not 01:00, and there is no leap second (:60).  (Arithmetic wraps a time of day by itself.)"""
    if 0 <= h < 24 and 0 <= m < 60 and 0 <= s < 60 and 0 <= frac < _NS:
        return ((h * 60 + m) * 60 + s) * _NS + frac
    return None


def offset_seconds(sign: int, h: int, m: int = 0, s: int = 0) -> Optional[int]:
    """Invariant (2) for fields: the offset ``sign`` (1 or -1) ``h:m:s`` in seconds, or None unless
    m < 60, s < 60 and the offset is at most 18 h either way."""
    if 0 <= m < 60 and 0 <= s < 60 and 0 <= h:
        off = sign * ((h * 60 + m) * 60 + s)
        if -_MAX_OFFSET <= off <= _MAX_OFFSET:
            return off
    return None


def _frac(ns: int) -> str:
    """'.645876123' style fraction, trailing zeros removed ('' when zero)."""
    if not ns:
        return ""
    return "." + f"{ns:09d}".rstrip("0")


def _time_str(ns: int) -> str:
    h, rem = divmod(ns, 3600 * _NS)
    m, rem = divmod(rem, 60 * _NS)
    s, frac = divmod(rem, _NS)
    if s == 0 and frac == 0:
        return f"{h:02d}:{m:02d}"
    return f"{h:02d}:{m:02d}:{s:02d}{_frac(frac)}"


def _time_of_day(ns: Any) -> Any:
    """``ns`` (an int, ``plain``) modulo one day; anything else is kept as given, for the store
    to refuse (the temporal classes hold values; ``_check_temporal`` checks them)."""
    ns = plain(ns)
    return ns % _DAY_NS if type(ns) is int else ns


class Temporal:
    """Base of the temporal value classes: equality by value (of the same class), a hash,
    ordering within a class (``<``), ``str()`` in the query language's text form."""
    __slots__ = ()
    kind = "Temporal"

    def __eq__(self, other):
        return type(other) is type(self) and self._key() == other._key()

    def __hash__(self):
        return hash((type(self).__name__, self._key()))

    def __lt__(self, other):
        return self._order() < other._order()

    def _order(self):
        return self._key()

    def __repr__(self):
        return f"{type(self).__name__}('{self}')"

    def __reduce__(self):
        return (type(self), tuple(getattr(self, n) for n in self.__slots__))


class Date(Temporal):
    """A calendar date (``d``: a datetime.date); stored as a datetime.date."""
    __slots__ = ("d",)
    kind = "Date"

    def __init__(self, d: _dt.date):
        self.d = d

    def _key(self):
        return self.d.toordinal()

    def __str__(self):
        return self.d.isoformat()


class LocalTime(Temporal):
    """A time of day without zone, nanosecond precision (``ns`` since midnight)."""
    __slots__ = ("ns",)
    kind = "LocalTime"

    def __init__(self, ns: int):
        self.ns = _time_of_day(ns)

    def _key(self):
        return self.ns

    def __str__(self):
        return _time_str(self.ns)


class Time(Temporal):
    """A time of day at a UTC ``offset`` (seconds), nanosecond precision."""
    __slots__ = ("ns", "offset")
    kind = "Time"

    def __init__(self, ns: int, offset: int):
        self.ns = _time_of_day(ns)
        self.offset = offset

    def _key(self):
        return (self.ns, self.offset)

    def _order(self):
        return (self.ns - self.offset * _NS, self.offset)

    def __str__(self):
        return _time_str(self.ns) + _offset_text(self.offset)


class LocalDateTime(Temporal):
    """A date (``d``) and a time of day (``ns``) without zone."""
    __slots__ = ("d", "ns")
    kind = "LocalDateTime"

    def __init__(self, d: _dt.date, ns: int):
        self.d, self.ns = d, ns

    def _key(self):
        return (self.d.toordinal(), self.ns)

    def __str__(self):
        return f"{self.d.isoformat()}T{_time_str(self.ns)}"


class DateTime(Temporal):
    """A date and time of day at a UTC ``offset`` (seconds), with the IANA ``zone`` name when
    it was built with one; ordered by instant."""
    __slots__ = ("d", "ns", "offset", "zone")
    kind = "DateTime"

    def __init__(self, d: _dt.date, ns: int, offset: int, zone: Optional[str] = None):
        self.d, self.ns, self.offset, self.zone = d, ns, offset, zone

    def epoch_ns(self) -> int:
        return ((self.d.toordinal() - _EPOCH) * 86_400 - self.offset) * _NS + self.ns

    def _key(self):
        return (self.epoch_ns(), self.offset, self.zone)

    def _order(self):
        return self.epoch_ns()

    def __str__(self):
        s = f"{self.d.isoformat()}T{_time_str(self.ns)}{_offset_text(self.offset)}"
        return s + (f"[{self.zone}]" if self.zone else "")


class Duration(Temporal):
    """A duration of ``months``, ``days`` and ``ns`` (nanoseconds), each with its own sign
    (openCypher / ISO 8601 ``P1Y2M3DT4.5S``): months and days are calendar units, not a fixed
    number of seconds, so a duration of one month is not one of 30 days."""
    __slots__ = ("months", "days", "ns")
    kind = "Duration"

    def __init__(self, months: int = 0, days: int = 0, ns: int = 0):
        self.months, self.days, self.ns = months, days, ns

    def _key(self):
        return (self.months, self.days, self.ns)

    # A Duration equals the ``timedelta`` of the same days and nanoseconds (the key equality of
    # ``key_value``), with the same hash: what a query returns for a stored timedelta compares
    # equal to it. Each timedelta has one such Duration (its normalised days, seconds and
    # microseconds), so equality stays transitive: PT24H is not P1D, nor timedelta(hours=24).
    def __eq__(self, other):
        if type(other) is _dt.timedelta:
            return (self.months == 0 and self.days == other.days
                    and self.ns == (other.seconds * 1_000_000 + other.microseconds) * 1000)
        return type(other) is type(self) and self._key() == other._key()

    def __hash__(self):
        if self.months == 0 and 0 <= self.ns < _DAY_NS and self.ns % 1000 == 0 \
                and -999_999_999 <= self.days <= 999_999_999:
            return hash(_dt.timedelta(self.days, 0, self.ns // 1000))
        return hash(("Duration", self._key()))

    def __str__(self):
        if not (self.months or self.days or self.ns):
            return "PT0S"
        out = ["P"]
        y, mo = int(self.months / 12), self.months - 12 * int(self.months / 12)
        if y:
            out.append(f"{y}Y")
        if mo:
            out.append(f"{mo}M")
        if self.days:
            out.append(f"{self.days}D")
        if self.ns:
            out.append("T")
            sign = "-" if self.ns < 0 else ""
            h, rem = divmod(abs(self.ns), 3600 * _NS)
            m, rem = divmod(rem, 60 * _NS)
            s, frac = divmod(rem, _NS)
            if h:
                out.append(f"{sign}{h}H")
            if m:
                out.append(f"{sign}{m}M")
            if s or frac:
                out.append(f"{sign}{s}{_frac(frac)}S")
        return "".join(out)


def _int_field(key, v, name, lo, hi):
    if type(v) is not int or not lo <= v < hi:
        raise DataError(f"property {key!r}: {name} must be an int in [{lo}, {hi}), not {v!r}")


def _check_temporal(key: str, v: Temporal) -> None:
    """DataError unless the fields of ``v`` are what its class promises (invariants above)."""
    t = type(v)
    if t is Duration:
        for name in ("months", "days", "ns"):
            _int_field(key, getattr(v, name, None), f"Duration.{name}", -_I64, _I64)
        return
    if t is Date or t is LocalDateTime or t is DateTime:
        d = getattr(v, "d", None)
        if type(d) is not _dt.date:
            raise DataError(f"property {key!r}: {t.__name__}.d must be a datetime.date, not {d!r}")
    if t is not Date:
        _int_field(key, getattr(v, "ns", None), f"{t.__name__}.ns", 0, _DAY_NS)
    if t is Time or t is DateTime:
        _int_field(key, getattr(v, "offset", None), f"{t.__name__}.offset", -_MAX_OFFSET, _MAX_OFFSET + 1)
    zone = getattr(v, "zone", None)
    if t is DateTime and zone is not None and type(zone) is not str:
        raise DataError(f"property {key!r}: DateTime.zone must be a str or None, not {zone!r}")


def _zone(name: str):
    try:
        from zoneinfo import ZoneInfo
        return ZoneInfo(name)
    except Exception:   # unknown zone, no tz database: the value stays a DateTime
        return None


def canonical(v):
    """The one stored form of a value: a temporal value of this module becomes the Python
    ``datetime`` type when that type holds it exactly (whole microseconds; a named zone whose
    offset at that local time is the value's offset), else it is returned unchanged; a
    ``Duration`` stays a ``Duration``.  Other values are returned unchanged."""
    t = type(v)
    if t is Date:
        return v.d
    if t is Duration or not isinstance(v, Temporal) or v.ns % 1000:
        return v
    us = v.ns // 1000
    h, rem = divmod(us, 3_600_000_000)
    m, rem = divmod(rem, 60_000_000)
    s, us = divmod(rem, 1_000_000)
    if t is LocalTime:
        return _dt.time(h, m, s, us)
    if t is Time:
        return _dt.time(h, m, s, us, tzinfo=_dt.timezone(_dt.timedelta(seconds=v.offset)))
    d = v.d
    if t is LocalDateTime:
        return _dt.datetime(d.year, d.month, d.day, h, m, s, us)
    if v.zone is None:
        return _dt.datetime(d.year, d.month, d.day, h, m, s, us,
                            tzinfo=_dt.timezone(_dt.timedelta(seconds=v.offset)))
    tz = _zone(v.zone)
    if tz is None:
        return v
    for fold in (0, 1):
        out = _dt.datetime(d.year, d.month, d.day, h, m, s, us, tzinfo=tz, fold=fold)
        off = out.utcoffset()
        if off is not None and off.days * 86400 + off.seconds == v.offset:
            return out
    return v


# ---- the one value model: a value's kind and its key form ------------------------------------
# Every module that must know what a value is asks here (schema value types, inference, the query
# language's type names, CSV columns); storage/records.py owns only the bytes.

KINDS = ("bool", "int", "float", "str", "bytes", "date", "localtime", "time", "localdatetime",
         "datetime", "duration", "list")
"""The kinds of property values. ``time``/``datetime`` are zoned (they carry a UTC offset),
``localtime``/``localdatetime`` are not."""

_KIND = {bool: "bool", int: "int", float: "float", str: "str", bytes: "bytes", _dt.date: "date",
         _dt.timedelta: "duration", list: "list", tuple: "list"}
_TEMPORAL_KIND = {"Date": "date", "LocalTime": "localtime", "Time": "time",
                  "LocalDateTime": "localdatetime", "DateTime": "datetime", "Duration": "duration"}


def kind(v) -> Optional[str]:
    """The kind of a property value (one of ``KINDS``), or None for None and for anything that
    is not a property value. Complexity: O(1) (a list is not inspected)."""
    k = _KIND.get(type(v))
    if k is not None:
        return k
    if isinstance(v, _dt.datetime):
        return "localdatetime" if _offset_or_none(v) is None else "datetime"
    if isinstance(v, _dt.time):
        return "localtime" if _offset_or_none(v) is None else "time"
    if isinstance(v, Temporal):
        return _TEMPORAL_KIND.get(v.kind)
    if isinstance(v, bool):
        return "bool"
    for cls, k in ((int, "int"), (float, "float"), (str, "str"), (bytes, "bytes"), (_dt.date, "date"),
                   (_dt.timedelta, "duration"), (list, "list"), (tuple, "list")):
        if isinstance(v, cls):
            return k
    return None


def _offset_or_none(v):
    try:
        return v.utcoffset()
    except Exception:   # a tzinfo that fails: stored() refuses it
        return None


def key_value(v):
    """The canonical form of a value as (part of) a key, under GQL key equality: equal keys have
    equal forms. An integral float is its int (``1.0`` is the key ``1``), a temporal value is its
    canonical stored form, a ``timedelta`` is the ``Duration`` of the same days and
    nanoseconds, a tuple is a list. Kinds stay apart: ``True`` is not the key ``1``, ``"1"`` is
    not ``1``. Raises DataError for NaN, which equals nothing. storage/records.py encodes this
    form (``key_bytes``)."""
    t = type(v)
    if t is int or t is str or t is bool:
        return v
    if t is float:
        if v != v:
            raise DataError("NaN cannot be part of a key (it equals nothing)")
        if v.is_integer() and -(2 ** 63) <= v < 2 ** 64:
            return int(v)
        return v
    if t is _dt.timedelta:
        return Duration(0, v.days, (v.seconds * 1_000_000 + v.microseconds) * 1000)
    if t is list or t is tuple:
        return [key_value(x) for x in v]
    if isinstance(v, Temporal):
        return canonical(v)
    if t not in _EXACT:
        p = plain(v)
        if p is not v:
            return key_value(p)
    return v


def comparable(v):
    """A hashable form of a value under GQL equality, for comparing and grouping values (the
    schema's descriptor tuples and WHERE comparisons): ``(group, key form)``, where ints and
    floats share the group ``"num"`` (``1 == 1.0``) and every other kind is its own group, so
    values of different kinds never compare equal. NaN is its own form (equal to nothing)."""
    k = kind(v)
    if k == "bool":
        return ("bool", bool(v))
    if k == "int" or k == "float":
        if k == "float" and v.is_integer():
            return ("num", int(v))
        return ("num", v)
    if k == "list":
        return ("list", tuple(comparable(i) for i in v))
    if k is None:
        return (type(v).__name__, v)
    if k == "duration" and type(v) is _dt.timedelta:
        return (k, key_value(v))
    return (k, canonical(v) if isinstance(v, Temporal) else v)


def equal(a, b) -> bool:
    """Whether two property values are equal under GQL key equality, the rule every key match
    uses (``comparable``: ``1 = 1.0``, ``TRUE <> 1``, ``"1" <> 1``, a ``timedelta`` equals the
    ``Duration`` of the same parts, lists item by item); NaN equals nothing, as no index holds it
    (``key_value``)."""
    return comparable(a) == comparable(b) and not _has_nan(a)


def _has_nan(v) -> bool:
    t = type(v)
    if t is float:
        return v != v
    if t is list or t is tuple:
        return any(_has_nan(x) for x in v)
    return False


# ---- their byte encoding: storage/records.py owns the bytes, this module the classes ---------
def _built(v):
    _check_temporal("(stored)", v)
    return v


def _build_localtime(ns):
    v = LocalTime.__new__(LocalTime)
    v.ns = ns
    return _built(v)


def _build_time(f):
    ns, offset = f
    v = Time.__new__(Time)
    v.ns, v.offset = ns, offset
    return _built(v)


def _build_localdatetime(f):
    ordinal, ns = f
    return _built(LocalDateTime(_dt.date.fromordinal(ordinal), ns))


def _build_datetime(f):
    ordinal, ns, offset, zone = f
    return _built(DateTime(_dt.date.fromordinal(ordinal), ns, offset, zone))


def _build_duration(f):
    months, days, ns = f
    return _built(Duration(months, days, ns))


def _register_encodings():
    from .storage import records as R
    R.register_ext(R.EXT_LOCALTIME_NS, LocalTime, lambda v: v.ns, _build_localtime)
    R.register_ext(R.EXT_TIME_NS, Time, lambda v: [v.ns, v.offset], _build_time)
    R.register_ext(R.EXT_LOCALDATETIME_NS, LocalDateTime, lambda v: [v.d.toordinal(), v.ns], _build_localdatetime)
    R.register_ext(R.EXT_DATETIME_NS, DateTime, lambda v: [v.d.toordinal(), v.ns, v.offset, v.zone],
                   _build_datetime)
    R.register_ext(R.EXT_MONTH_DURATION, Duration, lambda v: [v.months, v.days, v.ns], _build_duration)
    R.register_ext(R.EXT_DATE, Date, lambda v: v.d.toordinal(), None)
    R.register_key_form(key_value)


_register_encodings()
