"""Resolved graph types: the semantic pass over a parsed schema, and the answers validation needs.

Owns: name resolution (type reference or label), inheritance, IMPORTS, membership, value types,
the normal form of label-property specs (a finite union of *shapes*, SPEC.md §4.2), constraint
compilation, the static checks of SPEC.md §4.6 (raised as ``SemanticError`` with ``.kind``), the
canonical DDL of a graph type, and the ``IndexSpec``s the engine keeps hash indexes for.

Invariants:
- A ``GraphType`` is immutable once built. ``str(gt)`` is self-contained DDL (referenced non-member
  types first, then one CREATE GRAPH TYPE with every member inlined, imports flattened);
  ``parse_schema(str(gt)) == gt``. Equality and hashing are those of that canonical text.
- Semantics are exact (SPEC.md open question 2): a type name means "conforms to that type's spec",
  never "or one of its subtypes". An element conforms to a type iff it matches one of its shapes.
- Value equality for keys is GQL's (``canonical_value``): 1 == 1.0, True != 1, "1" != 1.
- The per-label-set caches (``_LabelCache``) hold answers that depend only on the immutable types, so
  they never go stale; they are bounded and only make validation cheaper.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Tuple

from ..errors import SemanticError
from ..values import DateTime as _DateTime, Duration as _Duration, LocalDateTime as _LocalDateTime
from ..values import LocalTime as _LocalTime, Time as _Time
from . import ast

__all__ = ["ValueType", "VALUE_TYPES", "Shape", "NodeType", "EdgeType", "CompiledConstraint",
           "IndexSpec", "GraphType", "resolve_schema", "canonical_value", "MAX_SHAPES", "MAX_TOTAL_SHAPES"]

MAX_SHAPES = 4096
"""Most alternatives (shapes) one label-property spec may expand to."""

MAX_TOTAL_SHAPES = 65536
"""Most shapes all the types of one schema may expand to together."""

MAX_TOTAL_SHAPE_SIZE = 2_000_000
"""Most labels plus properties over all the shapes of one schema's types."""

MAX_IMPORT_REACH = 1_000_000
"""Most (graph type, graph type it imports, directly or not) pairs in one schema.

With the DDL length limit, these three bound resolution's time and memory whatever the DDL:
every step of resolution is linear in the shapes, their sizes and the import closures."""


# ---- value types ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ValueType:
    """A property value type: a kind and, for integers, an inclusive range."""
    name: str
    kind: str                   # str bool int float date datetime time duration bytes any
    lo: Optional[int] = None
    hi: Optional[int] = None

    def __post_init__(self):
        object.__setattr__(self, "accepts", _ACCEPTS[self.kind](self))

    def _accepts_slow(self, v: Any) -> bool:
        k = self.kind
        if v is None:
            return False
        if k == "any":
            return True
        if k == "bool":
            return type(v) is bool
        if k == "int":
            return isinstance(v, int) and not isinstance(v, bool) and self.lo <= v <= self.hi
        if k == "float":
            return isinstance(v, float)
        if k == "str":
            return isinstance(v, str)
        if k == "date":
            return isinstance(v, _dt.date) and not isinstance(v, _dt.datetime)
        if k == "datetime":
            return isinstance(v, (_dt.datetime, _LocalDateTime, _DateTime))
        if k == "time":
            return isinstance(v, (_dt.time, _LocalTime, _Time))
        if k == "duration":
            return isinstance(v, (_dt.timedelta, _Duration))
        if k == "bytes":
            return isinstance(v, (bytes, bytearray))
        return False

    def intersect(self, other: "ValueType") -> Optional["ValueType"]:
        """The values both accept, or None when there are none (SPEC.md §4.2 consequence 6)."""
        if self.kind == "any":
            return other
        if other.kind == "any" or self == other:
            return self
        if self.kind != other.kind:
            return None
        if self.kind != "int":
            return self
        lo, hi = max(self.lo, other.lo), min(self.hi, other.hi)
        if lo > hi:
            return None
        for t in (self, other):
            if (t.lo, t.hi) == (lo, hi):
                return t
        return ValueType(f"{self.name}&{other.name}", "int", lo, hi)

    def describe(self) -> str:
        return self.name


def _int_accepts(t):
    lo, hi = t.lo, t.hi
    return lambda v: type(v) is int and lo <= v <= hi or (
        isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi)


def _exact(*types):
    return lambda t: (lambda v: type(v) in types or (
        v is not None and not isinstance(v, bool) and t._accepts_slow(v)))


_ACCEPTS = {
    "any": lambda t: (lambda v: v is not None),
    "bool": lambda t: (lambda v: type(v) is bool),
    "int": _int_accepts,
    "float": _exact(float),
    "str": _exact(str),
    "date": lambda t: t._accepts_slow,
    "datetime": _exact(_dt.datetime),
    "time": _exact(_dt.time),
    "duration": _exact(_dt.timedelta),
    "bytes": _exact(bytes),
}


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
    (("FLOAT", "FLOAT32", "FLOAT64", "DOUBLE", "REAL"), ValueType("DOUBLE", "float")),
    (("DATE",), ValueType("DATE", "date")),
    (("DATETIME", "TIMESTAMP"), ValueType("DATETIME", "datetime")),
    (("TIME",), ValueType("TIME", "time")),
    (("DURATION",), ValueType("DURATION", "duration")),
    (("BYTES",), ValueType("BYTES", "bytes")),
    (("ANY",), ValueType("ANY", "any")),
]:
    for _n in _names:
        VALUE_TYPES[_n] = _vt


def canonical_value(v: Any):
    """A hashable form of a property value under GQL equality: numbers compare numerically across
    int and float, values of different kinds never compare equal (``True`` is not ``1``)."""
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, int):
        return ("num", v)
    if isinstance(v, float):
        if v.is_integer():
            return ("num", int(v))
        return ("num", v)
    if isinstance(v, str):
        return ("str", v)
    if isinstance(v, _dt.datetime):
        return ("datetime", v)
    if isinstance(v, _dt.date):
        return ("date", v)
    if isinstance(v, _dt.timedelta):     # equal to the Duration of the same parts
        return ("duration", (0, v.days, (v.seconds * 1_000_000 + v.microseconds) * 1000))
    if isinstance(v, _Duration):
        return ("duration", (v.months, v.days, v.ns))
    if isinstance(v, (list, tuple)):
        return ("list", tuple(canonical_value(i) for i in v))
    return (type(v).__name__, v)


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
            fast.append((r.key, cls, r.type.lo, r.type.hi) if cls is int else (r.key, cls, None, None))
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
    return a.kind != "int" or (b.lo <= a.lo and a.hi <= b.hi)


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


_EXACT_CLASS = {"int": int, "str": str, "float": float, "bool": bool, "bytes": bytes,
                "date": _dt.date, "datetime": _dt.datetime, "time": _dt.time,
                "duration": _dt.timedelta}

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


# ---- constraints ------------------------------------------------------------------------------
# A resolved label expression is a tuple: ("label", name) | ("type", NodeType|EdgeType) |
# ("and", items) | ("or", items) | ("not", item) | ("any",).

def eval_node_labels(lx, labels: FrozenSet[str], props: Mapping[str, Any]) -> bool:
    """A resolved label expression over a node (type names mean conformance)."""
    op = lx[0]
    if op == "label":
        return lx[1] in labels
    if op == "type":
        return lx[1].conforms(labels, props)
    if op == "and":
        return all(eval_node_labels(i, labels, props) for i in lx[1])
    if op == "or":
        return any(eval_node_labels(i, labels, props) for i in lx[1])
    if op == "not":
        return not eval_node_labels(lx[1], labels, props)
    return True


def required_label(lx) -> Optional[str]:
    """A label every element matching ``lx`` carries, if one is evident (used to narrow scans)."""
    if lx[0] == "label":
        return lx[1]
    if lx[0] == "and":
        for i in lx[1]:
            r = required_label(i)
            if r:
                return r
    if lx[0] == "type":
        common = None
        for s in lx[1].shapes:
            common = set(s.labels) if common is None else common & s.labels
        if common:
            return min(common)
    if lx[0] == "or":
        found = {required_label(i) for i in lx[1]}
        if len(found) == 1 and None not in found:
            return found.pop()
    return None


@dataclass(frozen=True)
class PatternStep:
    """A position of a constraint pattern: a node (no direction) or an edge (with its direction)."""
    var: Optional[str]
    labels: tuple
    direction: Optional[str] = None     # None for node positions; "out" | "in" | "any" for edges


@dataclass(eq=False)
class CompiledConstraint:
    """A constraint ready for validation. ``D(x)`` as in SPEC.md §4.5; bounds from the qualifiers."""
    name: str                   # canonical DDL of the constraint: stable across round-trips
    definition: ast.Constraint
    edge_scope: bool
    var: str
    scope: tuple                # resolved label expression
    where: Optional[ast.Expr]
    min: int
    max: Optional[int]
    exclusive: bool
    items: Tuple[ast.Expr, ...]
    boolean: bool               # a single boolean descriptor: a filter contributing one tuple
    nodes: Tuple[PatternStep, ...] = ()     # pattern node positions (WITHIN / COUNT ... OF)
    edges: Tuple[PatternStep, ...] = ()     # pattern edge positions, between consecutive nodes
    pattern_where: Optional[ast.Expr] = None
    count_vars: Tuple[str, ...] = ()        # COUNT ... OF pattern: the variables counted
    index: Optional["IndexSpec"] = None
    # The descriptor's property keys when it is a tuple of x's own properties and there is no
    # pattern: D(x) is then that one tuple (or empty when one is missing), computed without eval.
    prop_keys: Optional[Tuple[str, ...]] = field(default=None, init=False)

    def __post_init__(self):
        if (not self.nodes and self.pattern_where is None and self.items
                and all(isinstance(i, ast.Prop) and i.var == self.var for i in self.items)):
            self.prop_keys = tuple(i.key for i in self.items)

    @property
    def has_pattern(self) -> bool:
        return bool(self.nodes)

    @property
    def min_kind(self) -> str:
        if self.has_pattern or self.count_vars:
            return "participation_min"
        return "check_failed" if self.boolean else "key_missing"

    @property
    def line(self) -> Optional[int]:
        return self.definition.line

    def pattern_length(self) -> int:
        return len(self.edges)

    def binds_scope_var(self) -> bool:
        return any(s.var == self.var for s in self.nodes + self.edges)

    def __repr__(self) -> str:
        return f"<Constraint {self.name}>"


@dataclass(frozen=True, eq=False)
class IndexSpec:
    """A hash index the engine maintains for an EXCLUSIVE constraint over node properties.

    ``key_of(labels, props)`` is the key tuple of a node in the constraint's scope that has every key
    property, else None. It holds the property values, with integral floats as ints, so that GQL-equal
    numbers give equal tuples (1 and 1.0); the engine's encoding keeps kinds apart (True is not 1,
    "1" is not 1). The validator re-checks every index hit with ``canonical_value`` equality.
    """
    name: str
    constraint: "CompiledConstraint" = field(repr=False, compare=False, hash=False)

    def __eq__(self, other) -> bool:
        return isinstance(other, IndexSpec) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def key_of(self, labels: FrozenSet[str], props: Mapping[str, Any]) -> Optional[tuple]:
        c = self.constraint
        scope = c.scope
        if scope[0] == "type":                  # the usual KEY scope: NodeType.conforms, inlined
            t = scope[1]
            try:
                shapes = t._by_labels[labels]
            except (KeyError, TypeError):
                shapes = t.shapes_for(labels)
            for s in shapes:
                if s.record_ok(props):
                    break
            else:
                return None
        elif not eval_node_labels(scope, _frozen(labels), props):
            return None
        if c.where is not None and eval_expr(c.where, {c.var: ("node", props)}) is not True:
            return None
        return self.key_values(props)

    def key_values(self, props: Mapping[str, Any]) -> Optional[tuple]:
        """``key_of`` for a node known to be in scope: the key tuple, or None if a part is missing."""
        keys = self.constraint.prop_keys
        if len(keys) == 1:
            v = props.get(keys[0])
            if v is None:
                return None
            if type(v) is float and v.is_integer() and -2 ** 63 <= v < 2 ** 64:
                v = int(v)
            return (v,)
        key = []
        for k in keys:
            v = props.get(k)
            if v is None:
                return None
            if type(v) is float and v.is_integer() and -2 ** 63 <= v < 2 ** 64:
                v = int(v)
            key.append(v)
        return tuple(key)


# ---- expressions (three-valued, SPEC.md §4.5) ---------------------------------------------------

def _cmp_values(op: str, a, b):
    if a is None or b is None:
        return None
    ka, kb = canonical_value(a), canonical_value(b)
    if op in ("=", "<>"):
        eq = ka == kb
        return eq if op == "=" else not eq
    if ka[0] != kb[0] or ka[0] in ("bool", "list"):
        return None
    x, y = ka[1], kb[1]
    try:
        return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]
    except TypeError:       # e.g. naive vs aware datetimes
        return None


def eval_expr(e, env: Mapping[str, tuple]):
    """Evaluate an expression. ``env`` maps a variable to ("node"|"edge", props, id?)."""
    if isinstance(e, ast.Literal):
        return e.value
    if isinstance(e, ast.Prop):
        b = env.get(e.var)
        return None if b is None else b[1].get(e.key)
    if isinstance(e, ast.Var):
        b = env.get(e.var)
        return None if b is None or len(b) < 3 else ("@" + b[0], b[2])
    if isinstance(e, ast.Comparison):
        l, r = eval_expr(e.left, env), eval_expr(e.right, env)
        if isinstance(l, tuple) or isinstance(r, tuple):   # element identity
            if l is None or r is None:
                return None
            eq = l == r
            return eq if e.op == "=" else (not eq if e.op == "<>" else None)
        return _cmp_values(e.op, l, r)
    if isinstance(e, ast.IsNull):
        v = eval_expr(e.expr, env)
        return (v is not None) if e.negated else (v is None)
    if isinstance(e, ast.Not):
        v = _truth(eval_expr(e.item, env))
        return None if v is None else not v
    if isinstance(e, ast.And):
        vals = [_truth(eval_expr(i, env)) for i in e.items]
        if False in vals:
            return False
        return None if None in vals else True
    if isinstance(e, ast.Or):
        vals = [_truth(eval_expr(i, env)) for i in e.items]
        if True in vals:
            return True
        return None if None in vals else False
    return None


def _truth(v):
    return v if isinstance(v, bool) or v is None else None


def _expr_vars(e) -> List[Tuple[str, Any]]:
    if isinstance(e, (ast.Var, ast.Prop)):
        return [(e.var if isinstance(e, ast.Prop) else e.name, e)]
    if isinstance(e, ast.Comparison):
        return _expr_vars(e.left) + _expr_vars(e.right)
    if isinstance(e, ast.IsNull):
        return _expr_vars(e.expr)
    if isinstance(e, ast.Not):
        return _expr_vars(e.item)
    if isinstance(e, (ast.And, ast.Or)):
        return [v for i in e.items for v in _expr_vars(i)]
    return []


# ---- the graph type -----------------------------------------------------------------------------

class GraphType:
    """A resolved PG-Schema graph type: members, modes, constraints, and its canonical DDL."""

    def __init__(self, name: str, strict: bool, node_types: List[NodeType], edge_types: List[EdgeType],
                 constraints: List[CompiledConstraint], top_level: List[Any]):
        self.name = name
        self.strict = strict
        self.node_types: Dict[str, NodeType] = {t.name: t for t in node_types}
        self.edge_types: Dict[str, EdgeType] = {t.name: t for t in edge_types}
        self.constraints: Tuple[CompiledConstraint, ...] = tuple(constraints)
        self._top_level = top_level             # top-level types used: printed as statements
        self.warnings: Tuple[str, ...] = ()     # lint (not part of equality): see _Resolver._lint
        self._text = self._canonical()
        self._index_specs = [c.index for c in self.constraints if c.index is not None]
        self._by_exact: Dict[FrozenSet[str], List[Tuple[NodeType, Shape]]] = {}
        self._open_shapes: List[Tuple[NodeType, Shape]] = []
        for t in self.node_types.values():
            for s in t.shapes:
                if s.labels_open:
                    self._open_shapes.append((t, s))
                else:
                    self._by_exact.setdefault(s.labels, []).append((t, s))
        self._edge_by_exact: Dict[FrozenSet[str], List[Tuple[EdgeType, Shape]]] = {}
        self._edge_open: List[Tuple[EdgeType, Shape]] = []
        for t in self.edge_types.values():
            for s in t.shapes:
                if s.labels_open:
                    self._edge_open.append((t, s))
                else:
                    self._edge_by_exact.setdefault(s.labels, []).append((t, s))
        self._node_cands = _LabelCache()        # labels -> (all candidates, concrete ones)
        self._edge_cands = _LabelCache()
        self._implied = _LabelCache()           # (id(shapes), labels) -> (shapes, bool)

    @property
    def mode(self) -> str:
        return "STRICT" if self.strict else "LOOSE"

    def index_specs(self) -> List[IndexSpec]:
        """One IndexSpec per EXCLUSIVE constraint over node properties (keys, IDENTIFIER, uniqueness)."""
        return list(self._index_specs)

    def node_candidates(self, labels: FrozenSet[str]) -> List[Tuple[NodeType, Shape]]:
        """(member node type, shape) pairs whose label part accepts ``labels``."""
        return list(self._cands(self._node_cands, self._by_exact, self._open_shapes, labels)[0])

    def edge_candidates(self, labels: FrozenSet[str]) -> List[Tuple[EdgeType, Shape]]:
        return list(self._cands(self._edge_cands, self._edge_by_exact, self._edge_open, labels)[0])

    def concrete_node_candidates(self, labels) -> Tuple[Tuple[NodeType, Shape], ...]:
        """``node_candidates`` of the non-abstract types (memoised; do not mutate)."""
        try:
            return self._node_cands[labels][1]
        except (KeyError, TypeError):
            return self._cands(self._node_cands, self._by_exact, self._open_shapes, labels)[1]

    def concrete_edge_candidates(self, labels) -> Tuple[Tuple[EdgeType, Shape], ...]:
        try:
            return self._edge_cands[labels][1]
        except (KeyError, TypeError):
            return self._cands(self._edge_cands, self._edge_by_exact, self._edge_open, labels)[1]

    @staticmethod
    def _cands(cache, by_exact, open_shapes, labels):
        labels = _frozen(labels)
        r = cache.get(labels)
        if r is None:
            out = list(by_exact.get(labels, ()))
            out += [(t, s) for t, s in open_shapes if s.labels <= labels]
            r = cache.put(labels, (tuple(out), tuple((t, s) for t, s in out if not t.abstract)))
        return r

    def strict_implies(self, shapes: Tuple[Shape, ...], labels) -> bool:
        """Under STRICT, a node with ``labels`` that conforms to some concrete member node type
        necessarily matches one of ``shapes`` (an endpoint spec): every concrete candidate shape's
        records lie within a shape of ``shapes`` that accepts ``labels``. A sufficient test (False
        means "look at the properties"), memoised per (spec, label set)."""
        labels = _frozen(labels)
        key = (id(shapes), labels)
        hit = self._implied.get(key)
        if hit is not None and hit[0] is shapes:
            return hit[1]
        cands = self.concrete_node_candidates(labels)
        ends = [e for e in shapes if e.label_ok(labels)]
        r = bool(cands) and all(any(s.record_within(e) for e in ends) for _t, s in cands)
        self._implied.put(key, (shapes, r))
        return r

    def label_index(self, label: str, props: Tuple[str, ...]) -> Optional[IndexSpec]:
        """The index of an EXCLUSIVE constraint that holds every node carrying ``label`` and all of
        ``props`` (keyed by ``props``, in that order) and no other node, or None.  A lookup of
        (label, props, values) through it is then exact, so readers may use it as an index on
        ``label(props)``, as they would a user index.

        Holds when the constraint has no WHERE and its scope is the label itself, or, in a STRICT
        graph type, a type ``T`` such that every concrete member shape that may carry ``label``
        and ``props`` only admits nodes that also conform to ``T`` (every stored node conforms
        to some concrete member type).  A sufficient test: None means "scan".  Memoised.
        """
        key = (label, tuple(props))
        try:
            return self._label_index_cache[key]
        except AttributeError:
            self._label_index_cache = {}
        except KeyError:
            pass
        found = None
        for spec in self._index_specs:
            c = spec.constraint
            if c.edge_scope or not c.exclusive or c.where is not None or c.prop_keys != key[1]:
                continue
            if c.scope == ("label", label) or (c.scope[0] == "type" and self.strict
                                                and self._covers(c.scope[1], label, key[1])):
                found = spec
                break
        self._label_index_cache[key] = found
        return found

    def _covers(self, t: NodeType, label: str, props: Tuple[str, ...]) -> bool:
        """Every node conforming to ``t`` carries ``label``, and every node matching a concrete
        member shape that may carry ``label`` and ``props`` conforms to ``t``."""
        if not t.shapes or not all(label in e.labels for e in t.shapes):
            return False
        for u in self.node_types.values():
            if u.abstract or u is t:
                continue
            for s in u.shapes:
                if not (s.labels_open or label in s.labels):
                    continue          # never carries the label
                if not s.props_open and any(s.rule(p) is None for p in props):
                    continue          # never has every key property
                if not any(s.record_within(e) and (e.labels <= s.labels if s.labels_open and e.labels_open
                                                   else not s.labels_open and e.label_ok(s.labels))
                           for e in t.shapes):
                    return False
        return True

    def could_conform(self, shapes: Tuple[Shape, ...], labels) -> bool:
        """A node with ``labels`` that broke its own type would match one of ``shapes`` (an
        endpoint spec) once it conforms: some concrete candidate shape for ``labels`` has all
        its records within a shape of ``shapes`` that accepts ``labels``. Tells a cascade (the
        edge fails only because its endpoint does) from an edge that is wrong on its own."""
        labels = _frozen(labels)
        ends = [e for e in shapes if e.label_ok(labels)]
        return bool(ends) and any(s.record_within(e) for _t, s in self.concrete_node_candidates(labels)
                                  for e in ends)

    def node_types_of(self, labels, props) -> List[NodeType]:
        """The member node types a node conforms to (its typing)."""
        out = []
        for t, s in self.node_candidates(labels):
            if t not in out and s.record_ok(props):
                out.append(t)
        return out

    # canonical text, equality
    def _canonical(self) -> str:
        out = []
        top_names = set()
        for t in self._top_level:
            kw = "NODE" if isinstance(t, NodeType) else "EDGE"
            out.append(f"CREATE {kw} TYPE {t.definition};")
            top_names.add(t.name)
        members = sorted(self.node_types.values(), key=lambda t: t.name)
        members += sorted(self.edge_types.values(), key=lambda t: t.name)
        body = [ast.quote_name(t.name) for t in members if t.name in top_names]
        body += [str(t.definition) for t in members if t.name not in top_names]
        body += [c.name for c in self.constraints]
        gt = ast.GraphTypeDef(self.name, self.strict, (), ())
        head = str(gt)[:-3]
        out.append(head + (" {\n" + ",\n".join(f"  {b}" for b in body) + "\n}" if body else " {}"))
        return "\n".join(out) + "\n"

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"<GraphType {self.name} {self.mode}: {len(self.node_types)} node types, " \
               f"{len(self.edge_types)} edge types, {len(self.constraints)} constraints>"

    def __eq__(self, other) -> bool:
        return isinstance(other, GraphType) and other._text == self._text

    def __hash__(self) -> int:
        return hash(self._text)


# ---- the semantic pass ----------------------------------------------------------------------------

_NOT_A_TYPE = object()


class _Visible:
    """The type names visible in one graph type: top-level types and the types declared in it
    or in a graph type it imports. A container (``name in vis``), not a materialised set."""
    __slots__ = ("_owner", "_graphs")

    def __init__(self, owner: Dict[str, Optional[str]], graphs: FrozenSet[str]):
        self._owner, self._graphs = owner, graphs

    def __contains__(self, name) -> bool:
        o = self._owner.get(name, _NOT_A_TYPE)
        return o is None or (o is not _NOT_A_TYPE and o in self._graphs)


class _Resolver:
    def __init__(self, schema: ast.Schema):
        self.schema = schema
        self.defs: Dict[str, Any] = {}          # type name -> definition
        self.owner: Dict[str, Optional[str]] = {}   # type name -> graph name (None = top level)
        self.graphs: Dict[str, ast.GraphTypeDef] = {}
        self.resolved: Dict[str, Any] = {}
        self._closures: Dict[str, Tuple[str, ...]] = {}     # graph -> transitive imports
        self._visible: Dict[Optional[str], "_Visible"] = {}
        self._compiled: Dict[int, CompiledConstraint] = {}  # id(ast constraint) -> compiled
        self._refs_checked: set = set()
        self._constraints_checked: set = set()
        self._closure_entries = 0
        self._total_shapes = 0
        self._total_shape_size = 0
        self._collect()

    def _collect(self):
        def add(d, owner):
            if d.name in self.defs:
                raise SemanticError(f"type {d.name!r} is declared twice", kind="duplicate_type_name",
                                    **_where(d))
            self.defs[d.name] = d
            self.owner[d.name] = owner
            for spec in _specs_of(d):
                _check_properties(spec)

        for st in self.schema.statements:
            if isinstance(st, ast.GraphTypeDef):
                if st.name in self.graphs:
                    raise SemanticError(f"graph type {st.name!r} is declared twice",
                                        kind="duplicate_type_name", **_where(st))
                self.graphs[st.name] = st
                for el in st.elements:
                    if isinstance(el, (ast.NodeTypeDef, ast.EdgeTypeDef)):
                        add(el, st.name)
            else:
                add(st, None)
        for g in self.graphs.values():
            for imp, pos in zip(g.imports, g.import_positions or [(None, None)] * len(g.imports)):
                if imp not in self.graphs:
                    raise SemanticError(f"graph type {g.name!r} imports {imp!r}, which is not declared",
                                        kind="unknown_type_reference", line=pos[0], column=pos[1])
        for g in self.graphs.values():
            self._import_closure(g.name)

    def _import_closure(self, name: str, path=None) -> Tuple[str, ...]:
        """Graph names ``name`` imports, transitively, in a stable order (imports of an import
        before it). Memoised, and walked with an explicit stack: O(graphs + imports) for all
        graphs together, however long or diamond-shaped the import chains are."""
        memo = self._closures
        hit = memo.get(name)
        if hit is not None:
            return hit
        stack, on_path = [name], {name}
        while stack:
            g = stack[-1]
            imports = self.graphs[g].imports
            pending = next((i for i in imports if i not in memo), None)
            if pending is None:
                out: Dict[str, None] = {}
                for imp in imports:
                    for n in memo[imp]:
                        out.setdefault(n)
                    out.setdefault(imp)
                memo[g] = tuple(out)
                self._closure_entries += len(out)
                if self._closure_entries > MAX_IMPORT_REACH:
                    raise SemanticError(f"the IMPORTS of this schema's graph types reach more than "
                                        f"{MAX_IMPORT_REACH:,} graph types in all; flatten the chains of "
                                        f"imports", kind="schema_too_complex", **_where(self.graphs[g]))
                stack.pop()
                on_path.discard(g)
            elif pending in on_path:
                cycle = " -> ".join(stack[stack.index(pending):] + [pending])
                raise SemanticError(f"graph types import each other in a cycle: {cycle}",
                                    kind="cyclic_type_reference", **_where(self.graphs[pending]))
            else:
                stack.append(pending)
                on_path.add(pending)
        return memo[name]

    def visible(self, owner: Optional[str]) -> "_Visible":
        """The type names visible in graph ``owner`` (None: at top level), as a container.
        Memoised per owner; O(1) per membership test, nothing materialised per graph type."""
        hit = self._visible.get(owner)
        if hit is None:
            graphs = frozenset() if owner is None else frozenset((owner, *self._import_closure(owner)))
            hit = self._visible[owner] = _Visible(self.owner, graphs)
        return hit

    # -- element types --
    def type_named(self, name: str):
        """The resolved type ``name``; resolves what it builds on first, deepest first, with an
        explicit stack (a chain of N types that build on each other needs no recursion)."""
        t = self.resolved.get(name)
        if t is not None:
            return t
        stack, on_path = [name], {name}
        while stack:
            cur = stack[-1]
            nxt = None
            for dep, want in self._deps(cur):
                if dep in self.resolved:
                    continue
                if not isinstance(self.defs[dep], want):
                    break                       # building ``cur`` reports wrong_type_kind
                if dep in on_path:
                    cycle = " -> ".join(stack[stack.index(dep):] + [dep])
                    raise SemanticError(f"type references form a cycle: {cycle}",
                                        kind="cyclic_type_reference", **_where(self.defs[dep]))
                nxt = dep
                break
            if nxt is None:
                self.resolved[cur] = self._build(cur)
                stack.pop()
                on_path.discard(cur)
            else:
                stack.append(nxt)
                on_path.add(nxt)
        return self.resolved[name]

    def _deps(self, name: str) -> List[Tuple[str, type]]:
        """(type name, expected definition class) for each type ``name``'s specs refer to, in
        the order ``_build`` meets them (an edge type: middle spec, then source, then target)."""
        d = self.defs[name]
        vis = self.visible(self.owner[name])
        if isinstance(d, ast.NodeTypeDef):
            specs = [(d.spec, ast.NodeTypeDef)]
        else:
            specs = [(d.spec, ast.EdgeTypeDef), (d.source, ast.NodeTypeDef), (d.target, ast.NodeTypeDef)]
        return [(n, want) for spec, want in specs for n in _label_names(spec.labels) if n in vis]

    def _build(self, name: str):
        d = self.defs[name]
        vis = self.visible(self.owner[name])
        if isinstance(d, ast.NodeTypeDef):
            t = NodeType(d.name, d.abstract, d)
            t.shapes = tuple(self.spec_shapes(d.spec, vis, "node", d))
            n = len(t.shapes)
        else:
            t = EdgeType(d.name, d.abstract, d)
            t.shapes = tuple(self.spec_shapes(d.spec, vis, "edge", d))
            t.source = tuple(self.spec_shapes(d.source, vis, "node", d))
            t.target = tuple(self.spec_shapes(d.target, vis, "node", d))
            n = len(t.shapes) + len(t.source) + len(t.target)
        self._total_shapes += n
        if self._total_shapes > MAX_TOTAL_SHAPES:
            raise SemanticError(f"the types of this schema expand to more than {MAX_TOTAL_SHAPES:,} "
                                f"alternatives in all (at type {name!r}); simplify the combinations of "
                                f"'&' and '|'", kind="schema_too_complex", **_where(d))
        for shapes in ((t.shapes,) if isinstance(t, NodeType) else (t.shapes, t.source, t.target)):
            self._total_shape_size += sum(len(sh.labels) + len(sh.props) for sh in shapes)
        if self._total_shape_size > MAX_TOTAL_SHAPE_SIZE:
            raise SemanticError(f"the types of this schema hold more than {MAX_TOTAL_SHAPE_SIZE:,} labels "
                                f"and properties in all (at type {name!r}: long chains of types built "
                                f"on each other repeat them); simplify it", kind="schema_too_complex",
                                **_where(d))
        return t

    def spec_shapes(self, spec: ast.LabelPropertySpec, vis, kind, owner_def) -> List[Shape]:
        shapes = [_EMPTY_SHAPE] if spec.labels is None else self.label_shapes(spec.labels, vis, kind)
        if spec.open_labels:
            shapes = _dedupe(Shape(s.labels, True, s.props, s.props_open) for s in shapes)
        rec = Shape(frozenset(), False, (), False)
        if spec.properties is not None:
            rules = []
            for p in spec.properties.properties:
                vt = VALUE_TYPES.get(p.type_name.upper())
                if vt is None:
                    raise SemanticError(f"unknown value type {p.type_name!r} for property {p.key!r} "
                                        f"(known: STRING, INT, INT32, DOUBLE, BOOL, DATE, DATETIME, ...)",
                                        kind="unknown_value_type", line=p.line, column=p.column)
                rules.append(PropertyRule(p.key, vt, not p.optional))
            rec = Shape(frozenset(), False, tuple(sorted(rules, key=lambda r: r.key)),
                        spec.properties.open)
        return _cross(shapes, [rec], _where(owner_def))

    def label_shapes(self, lx, vis, kind) -> List[Shape]:
        if isinstance(lx, ast.LabelName):
            if lx.name in vis:
                d = self.defs[lx.name]
                want = ast.NodeTypeDef if kind == "node" else ast.EdgeTypeDef
                if not isinstance(d, want):
                    what = "an edge type" if kind == "node" else "a node type"
                    where = "a node type or endpoint" if kind == "node" else "an edge type's label spec"
                    raise SemanticError(f"{lx.name!r} is {what}; it cannot be used in {where}",
                                        kind="wrong_type_kind", **_where(lx))
                return list(self.type_named(lx.name).shapes)
            return [Shape(frozenset([lx.name]), False, (), False)]
        if isinstance(lx, ast.LabelOr):
            parts = [self.label_shapes(i, vis, kind) for i in lx.items]
            if sum(map(len, parts)) > 4 * MAX_SHAPES:
                raise _too_many_shapes(_where(_first_name(lx)))
            shapes = _dedupe(s for p in parts for s in p)
            if len(shapes) > MAX_SHAPES:
                raise _too_many_shapes(_where(_first_name(lx)))
            return shapes
        if isinstance(lx, ast.LabelAnd):
            shapes = self.label_shapes(lx.items[0], vis, kind)
            for i in lx.items[1:]:
                shapes = _cross(shapes, self.label_shapes(i, vis, kind), _where(_first_name(i)))
            return shapes
        if isinstance(lx, ast.LabelOptional):
            return _dedupe(self.label_shapes(lx.item, vis, kind) + [_EMPTY_SHAPE])
        raise SemanticError("'!' is only allowed in constraint label expressions",
                            kind="parse_error", **_where(_first_name(lx)))

    # -- graph types --
    def graph(self, name: str, build: bool = True) -> Optional[GraphType]:
        """The GraphType ``name``; with ``build=False`` only its static checks (no GraphType).

        The checks of one graph type's own elements do not depend on who imports it, so each
        runs once: checking every graph type costs O(elements), not O(graphs x imports)."""
        g = self.graphs[name]
        sources = [self.graphs[n] for n in self._import_closure(name)] + [g]
        for src in sources:                     # type references first, as before ...
            if src.name not in self._refs_checked:
                self._refs_checked.add(src.name)
                svis = self.visible(src.name)
                for el in src.elements:
                    if isinstance(el, ast.TypeRef) and el.name not in svis:
                        raise SemanticError(f"graph type {src.name!r} includes {el.name!r}, which is "
                                            f"not a declared type", kind="unknown_type_reference",
                                            **_where(el))
        for src in sources:                     # ... then constraints, each compiled once
            if src.name not in self._constraints_checked:
                self._constraints_checked.add(src.name)
                svis = self.visible(src.name)
                for el in src.elements:
                    if isinstance(el, ast.Constraint):
                        self._compiled[id(el)] = self.constraint(el, svis)
        if not build:
            return None
        members: List[str] = []
        constraints: List[Tuple[ast.Constraint, Any]] = []
        for src in sources:
            svis = self.visible(src.name)
            for el in src.elements:
                if isinstance(el, ast.Constraint):
                    constraints.append((el, svis))
                else:
                    members.append(el.name)
        members = list(dict.fromkeys(members))
        types = [self.type_named(m) for m in members]
        compiled, seen = [], set()
        for c, _cvis in constraints:
            cc = self._compiled[id(c)]
            if cc.name not in seen:
                seen.add(cc.name)
                compiled.append(cc)
        top = self._top_level(members, constraints)
        gt = GraphType(g.name, g.strict, [t for t in types if isinstance(t, NodeType)],
                       [t for t in types if isinstance(t, EdgeType)], compiled, top)
        gt.warnings = tuple(self._lint(members, constraints, g.strict))
        return gt

    def _lint(self, members: List[str], constraints, strict: bool = True) -> List[str]:
        """SPEC.md's suggested warnings: closed base types named where subtypes may be meant
        (open question 2), and constraint scopes that name a type which is not a member."""
        subtypes: Dict[str, List[str]] = {}
        for m in members:
            d = self.defs[m]
            vis = self.visible(self.owner[m])
            for n in _label_names(d.spec.labels):
                if n in vis and n != m:
                    subtypes.setdefault(n, []).append(m)

        def closed_base(n) -> bool:
            t = self.resolved.get(n)
            return (n in subtypes and t is not None
                    and not any(sh.labels_open and sh.props_open for sh in t.shapes))

        out = []
        for m in members:
            d = self.defs[m]
            if isinstance(d, ast.EdgeTypeDef):
                vis = self.visible(self.owner[m])
                for end in (d.source, d.target):
                    names = _label_names(end.labels)
                    for n in names:
                        missing = sorted(set(subtypes.get(n, ())) - set(names))
                        if n in vis and closed_base(n) and missing:
                            out.append(f"edge type {m!r}: endpoint {n!r} is a closed type, so nodes of "
                                       f"its subtypes {', '.join(missing)} do not match it; "
                                       f"write ({n} | {' | '.join(missing)}), make {n} OPEN, or use a "
                                       f"label")
        member_set = set(members)
        for c, cvis in constraints:
            names = _label_names(c.scope.labels)
            for n in _names_in_constraint(c):
                if n not in cvis:
                    continue
                missing = sorted(set(subtypes.get(n, ())) - set(names))
                if n not in member_set:
                    out.append(f"constraint {c}: {n!r} is not a member of the graph type")
                elif n in names and closed_base(n) and missing:
                    out.append(f"constraint {c}: {n!r} is a closed type, so its subtypes "
                               f"{', '.join(missing)} are not in scope; use a label to cover them")
        out += self._unknown_labels(members, constraints, strict)
        return list(dict.fromkeys(out))

    def _unknown_labels(self, members: List[str], constraints, strict: bool) -> List[str]:
        """Names taken as labels where a type was probably meant (issue 13): in an endpoint, a
        constraint scope or a WITHIN pattern, a name that is neither a visible type nor a label
        that any type of that kind carries -- ``(:pp)-[k: KNOWS]->(:p)`` where a type ``p``
        exists, ``FOR (x:persontype)`` where ``personType`` does. With "did you mean ...?" when
        a type or label has a close name. In a LOOSE graph type, where elements may carry any
        labels, only names close to a type or label are reported."""
        carried = {"node": set(), "edge": set()}
        names = {"node": [], "edge": []}
        for name, t in self.resolved.items():
            kind = "node" if isinstance(t, NodeType) else "edge"
            names[kind].append(name)
            for sh in t.shapes:
                carried[kind] |= sh.labels

        def check(where: str, lx, kind: str, vis) -> List[str]:
            found = []
            for n in _label_names(lx):
                if n in vis or n in carried[kind] or n in self.defs:
                    continue
                hint = _did_you_mean(n, names[kind], carried[kind])
                if not strict and hint is None:
                    continue            # LOOSE: elements may carry labels no type declares
                found.append(f"{where} {n!r} is not a type, and no {kind} type has the label {n!r}; "
                             f"it is taken as a label" + (f". Did you mean {hint}?" if hint else ""))
            return found

        out: List[str] = []
        for m in members:
            d = self.defs[m]
            if isinstance(d, ast.EdgeTypeDef):
                vis = self.visible(self.owner[m])
                for end in (d.source, d.target):
                    out += check(f"edge type {m!r}: endpoint", end.labels, "node", vis)
        for c, cvis in constraints:
            out += check(f"constraint {c}: scope", c.scope.labels, "edge" if c.scope.edge else "node", cvis)
            if c.within is not None:
                for n in c.within.nodes:
                    out += check(f"constraint {c}: pattern", n.labels, "node", cvis)
                for e in c.within.edges:
                    out += check(f"constraint {c}: pattern", e.labels, "edge", cvis)
        return out

    def _top_level(self, members: List[str], constraints) -> List[Any]:
        """Top-level types the graph type uses (members, or built on by members or constraints),
        dependencies first. They print as standalone statements before the graph type.
        (A depth-first post-order, walked with an explicit stack.)"""
        order: List[str] = []
        done = set()

        def visit(root):
            if root in done:
                return
            done.add(root)
            stack = [(root, iter(self._top_deps(root)))]
            while stack:
                name, deps = stack[-1]
                dep = next((x for x in deps if x not in done), None)
                if dep is None:
                    stack.pop()
                    if self.owner[name] is None:
                        order.append(name)
                else:
                    done.add(dep)
                    stack.append((dep, iter(self._top_deps(dep))))

        for m in members:
            visit(m)
        for c, cvis in constraints:
            for n in _names_in_constraint(c):
                if n in cvis:
                    visit(n)
        return [self.resolved[n] for n in order]

    def _top_deps(self, name: str) -> List[str]:
        vis = self.visible(self.owner[name])
        return [dep for dep in _names_in_def(self.defs[name]) if dep in vis and dep != name]

    def constraint(self, c: ast.Constraint, vis) -> CompiledConstraint:
        where = _where(c)
        scope_kind = "edge" if c.scope.edge else "node"
        scope = self.label_expr(c.scope.labels, vis, scope_kind)
        lo, hi, exclusive = 0, None, False
        q = set(c.qualifiers)
        if "IDENTIFIER" in q:
            q |= {"EXCLUSIVE", "MANDATORY", "SINGLETON"}
        if "MANDATORY" in q:
            lo = 1
        if "SINGLETON" in q:
            hi = 1
        exclusive = "EXCLUSIVE" in q
        if c.count is not None:
            clo, chi = c.count
            lo = max(lo, clo)
            hi = chi if hi is None else (hi if chi is None else min(hi, chi))
            if hi is not None and lo > hi:
                raise SemanticError(f"the qualifiers ask for at least {lo} and at most {hi}",
                                    kind="invalid_count_range", **where)
        nodes, edges = [], []
        if c.within is not None:
            for n in c.within.nodes:
                nodes.append(PatternStep(n.var, self.label_expr(n.labels, vis, "node")))
            for e in c.within.edges:
                edges.append(PatternStep(e.var, self.label_expr(e.labels, vis, "edge"), e.direction))
            kinds = {}
            for s in nodes:
                if s.var:
                    kinds.setdefault(s.var, set()).add("node")
            for s in edges:
                if s.var:
                    kinds.setdefault(s.var, set()).add("edge")
            kinds.setdefault(c.scope.var, set()).add(scope_kind)
            for v, ks in kinds.items():
                if len(ks) > 1:
                    raise SemanticError(f"variable {v!r} is used both as a node and as an edge",
                                        kind="semantic_error", **where)
        bound = {c.scope.var} | {s.var for s in nodes + edges if s.var}
        for v, e in _expr_vars(c.where) if c.where is not None else []:
            if v != c.scope.var:
                raise SemanticError(f"the scope's WHERE may only use {c.scope.var!r}, not {v!r}",
                                    kind="unbound_variable", **_where(e))
        for expr in list(c.items) + ([c.within_where] if c.within_where is not None else []):
            for v, e in _expr_vars(expr):
                if v not in bound:
                    raise SemanticError(f"variable {v!r} is not bound by the scope or the pattern",
                                        kind="unbound_variable", **_where(e))
        boolean = len(c.items) == 1 and isinstance(c.items[0], ast.BOOLEAN_EXPRS)
        count_vars = ()
        if not c.items:
            count_vars = tuple(v for v in c.within.variables() if v != c.scope.var)
        cc = CompiledConstraint(str(c), c, c.scope.edge, c.scope.var, scope, c.where, lo, hi, exclusive,
                                tuple(c.items), boolean, tuple(nodes), tuple(edges), c.within_where,
                                count_vars)
        if (exclusive and not c.scope.edge and c.within is None and c.items
                and all(isinstance(i, ast.Prop) and i.var == c.scope.var for i in c.items)):
            cc.index = IndexSpec(cc.name, cc)
        return cc

    def label_expr(self, lx, vis, kind) -> tuple:
        if lx is None:
            return ("any",)
        if isinstance(lx, ast.LabelName):
            if lx.name in vis:
                d = self.defs[lx.name]
                want = ast.NodeTypeDef if kind == "node" else ast.EdgeTypeDef
                if not isinstance(d, want):
                    raise SemanticError(f"{lx.name!r} is {'an edge' if kind == 'node' else 'a node'} type; "
                                        f"it cannot be used for {'a node' if kind == 'node' else 'an edge'}",
                                        kind="wrong_type_kind", **_where(lx))
                return ("type", self.type_named(lx.name))
            return ("label", lx.name)
        if isinstance(lx, ast.LabelAnd):
            return ("and", tuple(self.label_expr(i, vis, kind) for i in lx.items))
        if isinstance(lx, ast.LabelOr):
            return ("or", tuple(self.label_expr(i, vis, kind) for i in lx.items))
        if isinstance(lx, ast.LabelNot):
            return ("not", self.label_expr(lx.item, vis, kind))
        raise SemanticError("'?' is not allowed in a constraint's label expression",
                            kind="parse_error", **_where(_first_name(lx)))


def _did_you_mean(name: str, types: List[str], labels) -> Optional[str]:
    """The type (preferred) or label whose name is closest to ``name``, if one is close: the
    same letters in another case, else difflib's best match above 0.6."""
    import difflib
    for pool in (types, sorted(labels)):
        same = [x for x in pool if x.lower() == name.lower()]
        if same:
            return same[0]
    for pool in (types, sorted(labels)):
        close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
        if close:
            return close[0]
    return None


def _first_name(lx):
    while not isinstance(lx, ast.LabelName):
        lx = lx.items[0] if hasattr(lx, "items") else lx.item
    return lx


def _specs_of(d):
    return [d.spec] if isinstance(d, ast.NodeTypeDef) else [d.source, d.spec, d.target]


def _check_properties(spec: ast.LabelPropertySpec):
    if spec.properties is None:
        return
    seen = set()
    for p in spec.properties.properties:
        if p.key in seen:
            raise SemanticError(f"property {p.key!r} is declared twice in one property spec",
                                kind="duplicate_property", line=p.line, column=p.column)
        seen.add(p.key)
        if p.type_name.upper() not in VALUE_TYPES:
            raise SemanticError(f"unknown value type {p.type_name!r} for property {p.key!r} "
                                f"(known: STRING, INT, INT32, DOUBLE, BOOL, DATE, DATETIME, ...)",
                                kind="unknown_value_type", line=p.line, column=p.column)


def _label_names(lx) -> List[str]:
    if lx is None:
        return []
    if isinstance(lx, ast.LabelName):
        return [lx.name]
    if hasattr(lx, "items"):
        return [n for i in lx.items for n in _label_names(i)]
    return _label_names(lx.item)


def _names_in_def(d) -> List[str]:
    return [n for spec in _specs_of(d) for n in _label_names(spec.labels)]


def _names_in_constraint(c: ast.Constraint) -> List[str]:
    out = _label_names(c.scope.labels)
    if c.within is not None:
        for n in c.within.nodes + c.within.edges:
            out += _label_names(n.labels)
    return out


def resolve_schema(schema: ast.Schema, graph_type: Optional[str] = None) -> GraphType:
    """Check the whole schema and return the graph type named (else the last one declared)."""
    r = _Resolver(schema)
    for name in r.defs:                     # every type resolves, members or not
        r.type_named(name)
    if not r.graphs:
        raise SemanticError("the DDL declares no graph type (add CREATE GRAPH TYPE name STRICT { ... })",
                            kind="unknown_type_reference")
    for name in r.graphs:                   # every graph type is checked ...
        r.graph(name, build=False)
    if graph_type is None:
        graph_type = [s for s in schema.statements if isinstance(s, ast.GraphTypeDef)][-1].name
    if graph_type not in r.graphs:
        raise SemanticError(f"no graph type named {graph_type!r} (declared: {', '.join(r.graphs)})",
                            kind="unknown_type_reference")
    return r.graph(graph_type)              # ... and the one asked for is built
