"""Value types, shapes and element types: what a resolved PG-Schema type accepts.

Owns: the schema's value types (``ValueType``, ``VALUE_TYPES``: a kind and, for integers, a
range; what a value's kind is comes from lpgdb.values.kind), the normal form of label-property
specs as a finite union of *shapes* (SPEC.md §4.2) and how shapes combine (``&``: labels unioned,
records merged, value types intersected), and the resolved ``NodeType`` / ``EdgeType`` with their
per-label-set memos. Must not: resolve names (resolve.py) or look at graph data beyond one
element's labels and properties.

Invariants:
- Shapes and value types are immutable; a type's shapes never change once resolved.
- The per-label-set caches (``_LabelCache``) hold answers that depend only on the immutable types,
  so they never go stale; they are bounded and only make validation cheaper.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Tuple

from ..errors import SemanticError
from ..values import kind as value_kind
from . import ast

__all__ = ["ValueType", "VALUE_TYPES", "PropertyRule", "Shape", "NodeType", "EdgeType", "MAX_SHAPES"]

MAX_SHAPES = 4096
"""Most alternatives (shapes) one label-property spec may expand to."""

FLOAT32_MAX = 3.4028234663852886e38
"""The largest finite float32 (FLT_MAX): FLOAT32's range; native/scan.c classes floats by it."""


# ---- value types ------------------------------------------------------------------------------

# A schema value kind -> the value kinds (lpgdb.values.kind) it accepts, and the Python class of
# its common values (a fast path: ``type(v) is cls`` settles most checks without values.kind).
_VALUE_KINDS = {"str": ("str",), "bool": ("bool",), "int": ("int",), "float": ("float",),
                "date": ("date",), "time": ("localtime", "time"),
                "datetime": ("localdatetime", "datetime"), "duration": ("duration",),
                "bytes": ("bytes",)}
_FAST_CLASS = {"str": str, "bool": bool, "int": int, "float": float, "date": _dt.date,
               "time": _dt.time, "datetime": _dt.datetime, "duration": _dt.timedelta, "bytes": bytes}


@dataclass(frozen=True)
class ValueType:
    """A property value type: a kind and, for integers and FLOAT32, an inclusive range (a
    float range bounds the finite values: FLOAT32 takes +-inf and NaN, as float32 holds them).
    What a value is (its kind) is lpgdb.values.kind's answer; TIME and DATETIME accept local
    and zoned values."""
    name: str
    kind: str                   # str bool int float date datetime time duration bytes any
    lo: Optional[float] = None
    hi: Optional[float] = None

    def __post_init__(self):
        object.__setattr__(self, "accepts", _accepts(self))

    def intersect(self, other: "ValueType") -> Optional["ValueType"]:
        """The values both accept, or None when there are none (SPEC.md §4.2 consequence 6)."""
        if self.kind == "any":
            return other
        if other.kind == "any" or self == other:
            return self
        if self.kind != other.kind:
            return None
        if other.lo is None:
            return self
        if self.lo is None:
            return other
        lo, hi = max(self.lo, other.lo), min(self.hi, other.hi)
        if lo > hi:
            return None
        for t in (self, other):
            if (t.lo, t.hi) == (lo, hi):
                return t
        return ValueType(f"{self.name}&{other.name}", self.kind, lo, hi)

    def describe(self) -> str:
        return self.name


def _accepts(t: ValueType):
    """``t.accepts(v)``: a closure, with the exact class tested first (the hot path)."""
    if t.kind == "any":
        return lambda v: v is not None
    cls, kinds = _FAST_CLASS[t.kind], _VALUE_KINDS[t.kind]
    if t.kind == "int":
        lo, hi = t.lo, t.hi
        return lambda v: (type(v) is int or value_kind(v) == "int") and lo <= v <= hi
    if t.kind == "float" and t.lo is not None:     # symmetric (FLOAT32): finite values beyond refused
        hi, inf = t.hi, float("inf")
        return lambda v: (type(v) is float or value_kind(v) == "float") and not hi < abs(v) < inf
    return lambda v: type(v) is cls or value_kind(v) in kinds


def _int_type(name, bits, signed=True):
    if signed:
        return ValueType(name, "int", -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return ValueType(name, "int", 0, 2 ** bits - 1)


VALUE_TYPES: Dict[str, ValueType] = {}
for _names, _vt in [
    (("STRING", "VARCHAR"), ValueType("STRING", "str")),
    (("BOOL", "BOOLEAN"), ValueType("BOOL", "bool")),
    (("INT", "INTEGER", "INT64", "BIGINT"), _int_type("INT", 64)),
    (("INT8",), _int_type("INT8", 8)),
    (("INT16", "SMALLINT"), _int_type("INT16", 16)),
    (("INT32",), _int_type("INT32", 32)),
    (("UINT8",), _int_type("UINT8", 8, False)),
    (("UINT16",), _int_type("UINT16", 16, False)),
    (("UINT32",), _int_type("UINT32", 32, False)),
    (("UINT64", "UINT"), _int_type("UINT64", 64, False)),
    (("FLOAT", "FLOAT64", "DOUBLE", "REAL"), ValueType("DOUBLE", "float")),
    (("FLOAT32",), ValueType("FLOAT32", "float", -FLOAT32_MAX, FLOAT32_MAX)),
    (("DATE",), ValueType("DATE", "date")),
    (("DATETIME", "TIMESTAMP"), ValueType("DATETIME", "datetime")),
    (("TIME",), ValueType("TIME", "time")),
    (("DURATION",), ValueType("DURATION", "duration")),
    (("BYTES",), ValueType("BYTES", "bytes")),
    (("ANY",), ValueType("ANY", "any")),
]:
    for _n in _names:
        VALUE_TYPES[_n] = _vt



# ---- shapes -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PropertyRule:
    key: str
    type: ValueType
    required: bool


@dataclass(frozen=True)
class Shape:
    """One alternative of a label-property spec: labels (exact, or at least these if ``labels_open``)
    and a record (declared keys with types and required-ness; others only if ``props_open``)."""
    labels: FrozenSet[str]
    labels_open: bool
    props: Tuple[PropertyRule, ...]
    props_open: bool

    def __post_init__(self):
        object.__setattr__(self, "_rules", {r.key: r for r in self.props})
        object.__setattr__(self, "_checks", {r.key: (r.type.accepts, 1 if r.required else 0)
                                             for r in self.props})
        object.__setattr__(self, "_n_required", sum(1 for r in self.props if r.required))
        # Fast accept for the common record (every key required, of a type with one exact Python
        # class): (key, class, lo, hi) per rule; None when the shape has no such form.
        fast = []
        for r in self.props:
            cls = _EXACT_CLASS.get(r.type.kind)
            if cls is None or not r.required:
                fast = None
                break
            fast.append((r.key, cls, r.type.lo, r.type.hi))   # a float's NaN and inf: the full check
        object.__setattr__(self, "_fast", None if fast is None else tuple(fast))

    def rule(self, key: str) -> Optional[PropertyRule]:
        return self._rules.get(key)

    def label_ok(self, labels: FrozenSet[str]) -> bool:
        return labels == self.labels or (self.labels_open and self.labels <= labels)

    def record_failures(self, props: Mapping[str, Any]) -> List[Tuple[str, str]]:
        """[(kind, key)] of what keeps ``props`` from matching this shape's record (empty = matches)."""
        out = []
        declared = set()
        for r in self.props:
            declared.add(r.key)
            v = props.get(r.key)
            if v is None:
                if r.required:
                    out.append(("missing_property", r.key))
            elif not r.type.accepts(v):
                out.append(("property_type", r.key))
        if not self.props_open:
            for k, v in props.items():
                if k not in declared and v is not None:
                    out.append(("closed_extra_property", k))
        return out

    def matches(self, labels: FrozenSet[str], props: Mapping[str, Any]) -> bool:
        if not (labels == self.labels or (self.labels_open and self.labels <= labels)):
            return False
        return self.record_ok(props)

    def record_ok(self, props: Mapping[str, Any]) -> bool:
        """``not self.record_failures(props)``, in one pass over ``props``."""
        fast = self._fast
        if fast is not None and len(props) == len(fast):
            # exactly the declared keys, each of its exact class (and range): a match
            for k, cls, lo, hi in fast:
                v = props.get(k)
                if type(v) is not cls or (lo is not None and not lo <= v <= hi):
                    break
            else:
                return True
        checks = self._checks
        seen_required = 0
        for k, v in props.items():
            c = checks.get(k)
            if c is None:
                if not self.props_open and v is not None:
                    return False
            elif v is not None:
                if not c[0](v):
                    return False
                seen_required += c[1]
        return seen_required == self._n_required

    def record_within(self, other: "Shape") -> bool:
        """True only if every record this shape accepts, ``other`` accepts too (value types of
        one kind accept the same values, integer ranges nest; ANY takes any value)."""
        mine, theirs = self._rules, other._rules
        if self.props_open and not other.props_open:
            return False
        for k, r in mine.items():
            o = theirs.get(k)
            if o is None:
                if not other.props_open:
                    return False
            elif (o.required and not r.required) or not _type_within(r.type, o.type):
                return False
        for k, o in theirs.items():
            if k not in mine and (o.required or (self.props_open and o.type.kind != "any")):
                return False
        return True


def _type_within(a: ValueType, b: ValueType) -> bool:
    if b.kind == "any":
        return True
    if a.kind != b.kind:
        return False
    return b.lo is None or (a.lo is not None and b.lo <= a.lo and a.hi <= b.hi)


class _LabelCache(dict):
    """A bounded memo keyed by label set (or a tuple containing one): cleared when full, so a
    graph with very many distinct label sets costs recomputation, never unbounded memory."""
    LIMIT = 4096

    def put(self, key, value):
        if len(self) >= self.LIMIT:
            self.clear()
        self[key] = value
        return value


def _frozen(labels) -> FrozenSet[str]:
    return labels if type(labels) is frozenset else frozenset(labels)


_EXACT_CLASS = _FAST_CLASS

_EMPTY_SHAPE = Shape(frozenset(), False, (), False)


def _combine(a: Shape, b: Shape, where) -> Shape:
    rules = {r.key: r for r in a.props}
    for r in b.props:
        if r.key in rules:
            old = rules[r.key]
            t = old.type.intersect(r.type)
            if t is None:
                raise SemanticError(
                    f"property {r.key!r} is declared as {old.type.name} and as {r.type.name}; "
                    f"no value can be both", kind="incompatible_property_redeclaration", **where)
            rules[r.key] = PropertyRule(r.key, t, old.required or r.required)
        else:
            rules[r.key] = r
    return Shape(a.labels | b.labels, a.labels_open or b.labels_open,
                 tuple(sorted(rules.values(), key=lambda r: r.key)), a.props_open or b.props_open)


def _too_many_shapes(where) -> SemanticError:
    return SemanticError(f"this label spec expands to more than {MAX_SHAPES} alternatives; "
                         f"simplify the combination of '&' and '|'", kind="schema_too_complex", **where)


def _cross(xs: Sequence[Shape], ys: Sequence[Shape], where) -> List[Shape]:
    if len(xs) * len(ys) > MAX_SHAPES:
        raise _too_many_shapes(where)
    return _dedupe([_combine(x, y, where) for x in xs for y in ys])


def _dedupe(shapes: Iterable[Shape]) -> List[Shape]:
    seen, out = set(), []
    for s in shapes:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def _where(obj) -> dict:
    return {"line": getattr(obj, "line", None), "column": getattr(obj, "column", None)}


# ---- element types ----------------------------------------------------------------------------

def _shapes_for(t, labels) -> Tuple["Shape", ...]:
    """A node or edge type's shapes whose label part accepts ``labels``, memoised on the type."""
    labels = _frozen(labels)
    r = t._by_labels.get(labels)
    if r is None:
        r = t._by_labels.put(labels, tuple(s for s in t.shapes if s.label_ok(labels)))
    return r


@dataclass(eq=False)
class NodeType:
    name: str
    abstract: bool
    definition: ast.NodeTypeDef
    shapes: Tuple[Shape, ...] = ()
    _by_labels: _LabelCache = field(default_factory=_LabelCache, init=False, repr=False)

    def shapes_for(self, labels) -> Tuple[Shape, ...]:
        """The shapes whose label part accepts ``labels`` (memoised per label set)."""
        return _shapes_for(self, labels)

    def conforms(self, labels: FrozenSet[str], props: Mapping[str, Any]) -> bool:
        try:
            shapes = self._by_labels[labels]
        except (KeyError, TypeError):           # not cached yet, or a set that is not frozen
            shapes = self.shapes_for(labels)
        for s in shapes:
            if s.record_ok(props):
                return True
        return False

    def __repr__(self) -> str:
        return f"<NodeType {self.name}>"


@dataclass(eq=False)
class EdgeType:
    name: str
    abstract: bool
    definition: ast.EdgeTypeDef
    shapes: Tuple[Shape, ...] = ()            # the middle spec: the edge's own labels and properties
    source: Tuple[Shape, ...] = ()
    target: Tuple[Shape, ...] = ()
    _by_labels: _LabelCache = field(default_factory=_LabelCache, init=False, repr=False)

    def shapes_for(self, labels) -> Tuple[Shape, ...]:
        """The middle-spec shapes whose label part accepts ``labels`` (memoised per label set)."""
        return _shapes_for(self, labels)

    def middle_conforms(self, labels, props) -> bool:
        for s in self.shapes_for(labels):
            if s.record_ok(props):
                return True
        return False

    def conforms(self, labels, props, src_labels, src_props, dst_labels, dst_props) -> bool:
        return (self.middle_conforms(labels, props)
                and any(s.matches(src_labels, src_props) for s in self.source)
                and any(s.matches(dst_labels, dst_props) for s in self.target))

    def __repr__(self) -> str:
        return f"<EdgeType {self.name}>"
