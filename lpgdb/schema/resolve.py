"""Resolution: a parsed schema (ast.py) -> checked, resolved GraphTypes. The semantic pass.

Owns: name resolution (a name is a type reference when a type of that name is visible, else a
label), visibility through IMPORTS, inheritance by ``&``, membership, the static checks of
SPEC.md §4.6 (raised as ``SemanticError`` with ``.kind``), constraint compilation, and the lint
warnings of ``GraphType.warnings``. Must not: look at graph data.

Resolution is polynomial in the DDL and bounded (B12): import closures and visibility are computed
once per graph type, each graph type's own elements are checked once however many import it,
and types that build on each other resolve with explicit stacks, never recursion per type. The
budgets below bound time and memory whatever the DDL.
"""
from __future__ import annotations

from typing import Any, Dict, FrozenSet, List, Optional, Tuple

from ..errors import SemanticError
from . import ast
from .constraints import CompiledConstraint, IndexSpec, PatternStep, _expr_vars
from .graphtype import GraphType
from .types import (MAX_SHAPES, VALUE_TYPES, EdgeType, NodeType, PropertyRule, Shape, _cross, _dedupe,
                    _EMPTY_SHAPE, _too_many_shapes, _where)

__all__ = ["resolve_schema", "MAX_TOTAL_SHAPES", "MAX_TOTAL_SHAPE_SIZE", "MAX_IMPORT_REACH"]

MAX_TOTAL_SHAPES = 65536
"""Most shapes all the types of one schema may expand to together."""

MAX_TOTAL_SHAPE_SIZE = 2_000_000
"""Most labels plus properties over all the shapes of one schema's types."""

MAX_IMPORT_REACH = 1_000_000
"""Most (graph type, graph type it imports, directly or not) pairs in one schema.

With the DDL length limit, these three bound resolution's time and memory whatever the DDL:
every step of resolution is linear in the shapes, their sizes and the import closures."""


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
