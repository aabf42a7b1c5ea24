"""Compiled constraints and the hash indexes they need: what validation evaluates.

Owns: resolved label expressions over an element (``eval_node_labels``, ``required_label``), the
``CompiledConstraint`` (scope, WHERE, descriptor, bounds, pattern, SPEC.md §4.5), the
``IndexSpec`` of an EXCLUSIVE constraint over node properties (what the engine keeps a hash index
for), and the three-valued evaluation of WHERE and descriptor expressions. Value equality and
order are lpgdb.values.comparable's (GQL: 1 == 1.0, True != 1, "1" != 1). Must not: resolve names
(resolve.py) or walk the graph (validate.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, FrozenSet, List, Mapping, Optional, Tuple

from ..values import comparable
from . import ast
from .types import _frozen

__all__ = ["CompiledConstraint", "IndexSpec", "PatternStep", "eval_expr", "eval_node_labels", "required_label"]


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

    @property
    def label(self) -> Optional[str]:
        """A label every node in the constraint's scope carries, if one is evident (None: any
        node may be): the engine reads only the nodes of that label to build the index."""
        return required_label(self.constraint.scope)

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

    def key_rows(self, labelsets, lsets, blob: bytes, offs):
        """``key_of`` of many stored nodes at once, as canonical key bytes (the engine builds
        the index with it): ``(keys, koffs, flags)``, row i's key ``keys[koffs[i]:koffs[i+1]]``
        when ``flags[i]`` is 1, none when 0, and ``key_of`` to ask when 2; rows as
        ``GraphView.node_chunks`` gives them (label set ids into ``labelsets``, msgpack maps in
        ``blob`` at ``offs``).  None when only ``key_of`` will do (a WHERE)."""
        from .bulk import index_keys
        return index_keys(self, labelsets, lsets, blob, offs)

    def key_values(self, props: Mapping[str, Any]) -> Optional[tuple]:
        """``key_of`` for a node known to be in scope: the key tuple (the property values as
        they are; ``storage.records.key_bytes`` encodes their key forms, lpgdb.values.key_value),
        or None if a part is missing."""
        keys = self.constraint.prop_keys
        if len(keys) == 1:
            v = props.get(keys[0])
            return None if v is None else (v,)
        key = []
        for k in keys:
            v = props.get(k)
            if v is None:
                return None
            key.append(v)
        return tuple(key)


# ---- expressions (three-valued, SPEC.md §4.5) ---------------------------------------------------

def _cmp_values(op: str, a, b):
    if a is None or b is None:
        return None
    ka, kb = comparable(a), comparable(b)
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
        b = env.get(e.name)
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
