"""The resolved graph type: members, mode, constraints, the answers validation asks of them, and
its canonical DDL.

Owns: ``GraphType`` (built by resolve.py from a parsed schema, immutable afterwards): candidate
types for a label set, STRICT implications, the index specs, and ``str(gt)``.

Invariants:
- A ``GraphType`` is immutable once built. ``str(gt)`` is self-contained DDL (referenced non-member
  types first, then one CREATE GRAPH TYPE with every member inlined, imports flattened);
  ``parse_schema(str(gt)) == gt``. Equality and hashing are those of that canonical text.
- Semantics are exact (SPEC.md open question 2): a type name means "conforms to that type's spec",
  never "or one of its subtypes". An element conforms to a type iff it matches one of its shapes.

The schema package: parser.py (text -> ast.py) -> resolve.py (names, imports, shapes,
constraints) -> this GraphType, built from types.py (value types, shapes, element types) and
constraints.py (compiled constraints, index specs); validate.py checks data against it.
"""
from __future__ import annotations

from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Tuple

from . import ast
from .constraints import CompiledConstraint, IndexSpec
from .types import EdgeType, NodeType, Shape, _frozen, _LabelCache

__all__ = ["GraphType"]


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
        """``"STRICT"`` or ``"LOOSE"``."""
        return "STRICT" if self.strict else "LOOSE"

    def index_specs(self) -> List[IndexSpec]:
        """One IndexSpec per EXCLUSIVE constraint over node properties (keys, IDENTIFIER, uniqueness)."""
        return list(self._index_specs)

    def node_candidates(self, labels: FrozenSet[str]) -> List[Tuple[NodeType, Shape]]:
        """(member node type, shape) pairs whose label part accepts ``labels``."""
        return list(self._cands(self._node_cands, self._by_exact, self._open_shapes, labels)[0])

    def edge_candidates(self, labels: FrozenSet[str]) -> List[Tuple[EdgeType, Shape]]:
        """The member edge types (with the matching shape) an edge with ``labels`` may conform to."""
        return list(self._cands(self._edge_cands, self._edge_by_exact, self._edge_open, labels)[0])

    def concrete_node_candidates(self, labels: FrozenSet[str]) -> Tuple[Tuple[NodeType, Shape], ...]:
        """``node_candidates`` of the non-abstract types (memoised; do not mutate)."""
        try:
            return self._node_cands[labels][1]
        except (KeyError, TypeError):
            return self._cands(self._node_cands, self._by_exact, self._open_shapes, labels)[1]

    def concrete_edge_candidates(self, labels: FrozenSet[str]) -> Tuple[Tuple[EdgeType, Shape], ...]:
        """``edge_candidates`` of the non-abstract types (memoised; do not mutate)."""
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

    def strict_implies(self, shapes: Tuple[Shape, ...], labels: FrozenSet[str]) -> bool:
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

    def could_conform(self, shapes: Tuple[Shape, ...], labels: FrozenSet[str]) -> bool:
        """A node with ``labels`` that broke its own type would match one of ``shapes`` (an
        endpoint spec) once it conforms: some concrete candidate shape for ``labels`` has all
        its records within a shape of ``shapes`` that accepts ``labels``. Tells a cascade (the
        edge fails only because its endpoint does) from an edge that is wrong on its own."""
        labels = _frozen(labels)
        ends = [e for e in shapes if e.label_ok(labels)]
        return bool(ends) and any(s.record_within(e) for _t, s in self.concrete_node_candidates(labels)
                                  for e in ends)

    def node_types_of(self, labels: FrozenSet[str], props: Mapping[str, Any]) -> List[NodeType]:
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
