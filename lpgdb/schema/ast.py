"""The PG-Schema syntax tree: frozen dataclasses, one per grammar construct, and their canonical DDL.

Owns: the shape of a parsed schema and how each node prints. Every node's ``str()`` is valid DDL for
that construct, written canonically: keywords upper case, composite label specs and label
expressions fully parenthesised, ``[ ]`` grouping printed as ``( )``, names back-quoted when they
are not plain identifiers or collide with a keyword.

Invariants: positions (``line``/``column``, 1-based, None when synthesised) never take part in
equality, so a tree parsed from printed DDL equals the tree it was printed from. Nothing here
resolves names; a ``LabelName`` may turn out to be a label or a type reference (graphtype.py decides).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional, Tuple, Union

__all__ = [
    "KEYWORDS", "quote_name", "LabelName", "LabelAnd", "LabelOr", "LabelOptional", "LabelNot",
    "LabelExpr", "PropertyDef", "PropertySpec", "LabelPropertySpec", "NodeTypeDef", "EdgeTypeDef",
    "TypeRef", "Var", "Prop", "Literal", "Comparison", "IsNull", "And", "Or", "Not", "Expr",
    "NodePattern", "EdgePattern", "Pattern", "Scope", "Constraint", "GraphTypeDef", "Schema",
]

KEYWORDS = frozenset("""CREATE NODE EDGE GRAPH TYPE ABSTRACT STRICT LOOSE IMPORTS OPEN OPTIONAL FOR
WHERE WITHIN COUNT OF EXCLUSIVE MANDATORY SINGLETON IDENTIFIER KEY AND OR NOT IS NULL TRUE
FALSE""".split())
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def quote_name(name: str) -> str:
    """``name`` as DDL: bare when it is a plain identifier and not a keyword, else back-quoted."""
    if _PLAIN.match(name) and name.upper() not in KEYWORDS:
        return name
    return "`" + name.replace("`", "``") + "`"


def _pos():
    return field(default=None, compare=False, repr=False)


# ---- label specs (type definitions) and label expressions (constraint scopes, patterns) -------

@dataclass(frozen=True)
class LabelName:
    """A bare name in a label spec or expression: a label, or a type when a type of that name is visible."""
    name: str
    line: Optional[int] = _pos()
    column: Optional[int] = _pos()

    def __str__(self) -> str:
        return quote_name(self.name)


@dataclass(frozen=True)
class LabelAnd:
    items: Tuple["LabelExpr", ...]

    def __str__(self) -> str:
        return "(" + " & ".join(map(str, self.items)) + ")"


@dataclass(frozen=True)
class LabelOr:
    items: Tuple["LabelExpr", ...]

    def __str__(self) -> str:
        return "(" + " | ".join(map(str, self.items)) + ")"


@dataclass(frozen=True)
class LabelOptional:
    """``F?`` (type definitions only)."""
    item: "LabelExpr"

    def __str__(self) -> str:
        inner = str(self.item)
        return f"{inner}?"


@dataclass(frozen=True)
class LabelNot:
    """``!F`` (constraint label expressions only)."""
    item: "LabelExpr"

    def __str__(self) -> str:
        return f"!{self.item}"


LabelExpr = Union[LabelName, LabelAnd, LabelOr, LabelOptional, LabelNot]


# ---- property specs and element types ---------------------------------------------------------

@dataclass(frozen=True)
class PropertyDef:
    key: str
    type_name: str          # as written, upper-cased (value-type names are case-insensitive)
    optional: bool = False
    line: Optional[int] = _pos()
    column: Optional[int] = _pos()

    def __str__(self) -> str:
        return ("OPTIONAL " if self.optional else "") + f"{quote_name(self.key)} {self.type_name}"


@dataclass(frozen=True)
class PropertySpec:
    properties: Tuple[PropertyDef, ...] = ()
    open: bool = False

    def __str__(self) -> str:
        parts = [str(p) for p in self.properties] + (["OPEN"] if self.open else [])
        return "{" + ", ".join(parts) + "}"


@dataclass(frozen=True)
class LabelPropertySpec:
    """``: labels OPEN? {properties}?``; every part optional. No property spec = no properties allowed."""
    labels: Optional[LabelExpr] = None
    open_labels: bool = False
    properties: Optional[PropertySpec] = None

    def __str__(self) -> str:
        parts = []
        if self.labels is not None:
            parts.append(f": {self.labels}")
        if self.open_labels:
            parts.append("OPEN")
        if self.properties is not None:
            parts.append(str(self.properties))
        return " ".join(parts)


@dataclass(frozen=True)
class NodeTypeDef:
    name: str
    spec: LabelPropertySpec
    abstract: bool = False
    line: Optional[int] = _pos()
    column: Optional[int] = _pos()

    def __str__(self) -> str:
        spec = str(self.spec)
        body = quote_name(self.name) + (spec if spec.startswith(":") else (" " + spec if spec else ""))
        return ("ABSTRACT " if self.abstract else "") + f"({body})"


@dataclass(frozen=True)
class EdgeTypeDef:
    name: str
    source: LabelPropertySpec
    spec: LabelPropertySpec
    target: LabelPropertySpec
    abstract: bool = False
    line: Optional[int] = _pos()
    column: Optional[int] = _pos()

    def __str__(self) -> str:
        spec = str(self.spec)
        mid = quote_name(self.name) + (spec if spec.startswith(":") else (" " + spec if spec else ""))
        return (("ABSTRACT " if self.abstract else "")
                + f"({_endpoint(self.source)})-[{mid}]->({_endpoint(self.target)})")


def _endpoint(spec: LabelPropertySpec) -> str:
    text = str(spec)
    return ":" + text[2:] if text.startswith(": ") else text


@dataclass(frozen=True)
class TypeRef:
    """A bare type name in a graph body: includes that (top-level) type as a member."""
    name: str
    line: Optional[int] = _pos()
    column: Optional[int] = _pos()

    def __str__(self) -> str:
        return quote_name(self.name)


# ---- constraint expressions ---------------------------------------------------------------------

@dataclass(frozen=True)
class Var:
    name: str
    line: Optional[int] = _pos()
    column: Optional[int] = _pos()

    def __str__(self) -> str:
        return quote_name(self.name)


@dataclass(frozen=True)
class Prop:
    var: str
    key: str
    line: Optional[int] = _pos()
    column: Optional[int] = _pos()

    def __str__(self) -> str:
        return f"{quote_name(self.var)}.{quote_name(self.key)}"


@dataclass(frozen=True)
class Literal:
    value: Union[None, bool, int, float, str]

    def __eq__(self, other) -> bool:  # True == 1 in Python; literals of different kinds differ
        return (isinstance(other, Literal) and type(self.value) is type(other.value)
                and self.value == other.value)

    def __hash__(self) -> int:
        return hash((type(self.value).__name__, self.value))

    def __str__(self) -> str:
        v = self.value
        if v is None:
            return "NULL"
        if v is True:
            return "TRUE"
        if v is False:
            return "FALSE"
        if isinstance(v, str):
            return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
        if isinstance(v, float):
            text = repr(v)
            mant, e, exp = text.partition("e")
            return (mant if "." in mant else mant + ".0") + (e + exp if e else "")
        return repr(v)


@dataclass(frozen=True)
class Comparison:
    op: str                 # = <> < <= > >=   (!= is read as <>)
    left: "Expr"
    right: "Expr"

    def __str__(self) -> str:
        return render_expr(self)


@dataclass(frozen=True)
class IsNull:
    expr: "Expr"
    negated: bool = False

    def __str__(self) -> str:
        return render_expr(self)


@dataclass(frozen=True)
class And:
    items: Tuple["Expr", ...]

    def __str__(self) -> str:
        return render_expr(self)


@dataclass(frozen=True)
class Or:
    items: Tuple["Expr", ...]

    def __str__(self) -> str:
        return render_expr(self)


@dataclass(frozen=True)
class Not:
    item: "Expr"

    def __str__(self) -> str:
        return render_expr(self)


def _prec(e) -> int:
    return {Or: 1, And: 2, Not: 3, Comparison: 4, IsNull: 4}.get(type(e), 5)


def render_expr(e, min_prec: int = 0) -> str:
    """``e`` as DDL with the fewest parentheses the grammar's precedence (OR < AND < NOT < comparison) needs."""
    p = _prec(e)
    if isinstance(e, Or):
        out = " OR ".join(render_expr(i, 2) for i in e.items)
    elif isinstance(e, And):
        out = " AND ".join(render_expr(i, 3) for i in e.items)
    elif isinstance(e, Not):
        out = "NOT " + render_expr(e.item, 3)
    elif isinstance(e, Comparison):
        out = f"{render_expr(e.left, 5)} {e.op} {render_expr(e.right, 5)}"
    elif isinstance(e, IsNull):
        out = f"{render_expr(e.expr, 5)} IS {'NOT ' if e.negated else ''}NULL"
    else:
        return str(e)
    return f"({out})" if p < min_prec else out


Expr = Union[Var, Prop, Literal, Comparison, IsNull, And, Or, Not]
BOOLEAN_EXPRS = (Comparison, IsNull, And, Or, Not)


# ---- patterns and constraints -------------------------------------------------------------------

@dataclass(frozen=True)
class NodePattern:
    var: Optional[str] = None
    labels: Optional[LabelExpr] = None

    def __str__(self) -> str:
        return "(" + _var_labels(self.var, self.labels) + ")"


@dataclass(frozen=True)
class EdgePattern:
    var: Optional[str] = None
    labels: Optional[LabelExpr] = None
    direction: str = "out"      # "out" -[ ]->, "in" <-[ ]-, "any" -[ ]-

    def __str__(self) -> str:
        inner = "[" + _var_labels(self.var, self.labels) + "]"
        return {"out": f"-{inner}->", "in": f"<-{inner}-", "any": f"-{inner}-"}[self.direction]


def _var_labels(var, labels) -> str:
    out = quote_name(var) if var else ""
    if labels is not None:
        out += f":{labels}"
    return out


@dataclass(frozen=True)
class Pattern:
    nodes: Tuple[NodePattern, ...]
    edges: Tuple[EdgePattern, ...] = ()

    def __str__(self) -> str:
        out = str(self.nodes[0])
        for e, n in zip(self.edges, self.nodes[1:]):
            out += f"{e}{n}"
        return out

    def variables(self) -> Tuple[str, ...]:
        """Named variables in order of first appearance (node 0, edge 1, node 1, ...)."""
        seen = []
        for i, n in enumerate(self.nodes):
            if i > 0 and self.edges[i - 1].var and self.edges[i - 1].var not in seen:
                seen.append(self.edges[i - 1].var)
            if n.var and n.var not in seen:
                seen.append(n.var)
        return tuple(seen)


@dataclass(frozen=True)
class Scope:
    var: str
    labels: Optional[LabelExpr] = None
    edge: bool = False          # ()-[x:labels]->() instead of (x:labels)

    def __str__(self) -> str:
        inner = _var_labels(self.var, self.labels)
        return f"()-[{inner}]->()" if self.edge else f"({inner})"


@dataclass(frozen=True)
class Constraint:
    """``FOR scope [WHERE c] qualifier descriptor``.

    ``qualifiers`` holds the words among EXCLUSIVE / MANDATORY / SINGLETON as written, with IDENTIFIER
    and KEY kept as themselves; ``count`` is (min, max-or-None) for COUNT. The descriptor is either
    ``items`` (with an optional ``within`` pattern and ``within_where``) or, after COUNT ... OF only,
    a bare ``pattern`` held in ``within`` with ``items`` empty.
    """
    scope: Scope
    where: Optional[Expr]
    qualifiers: Tuple[str, ...]
    count: Optional[Tuple[int, Optional[int]]]
    items: Tuple[Expr, ...]
    within: Optional[Pattern] = None
    within_where: Optional[Expr] = None
    line: Optional[int] = _pos()
    column: Optional[int] = _pos()

    def __str__(self) -> str:
        out = f"FOR {self.scope}"
        if self.where is not None:
            out += f" WHERE {render_expr(self.where)}"
        quals = list(self.qualifiers)
        if self.count is not None:
            lo, hi = self.count
            quals.append(f"COUNT {lo}..{'' if hi is None else hi} OF")
        out += " " + " ".join(quals)
        if not self.items:
            return out + f" {self.within}"
        out += " " + render_items(self.items)
        if self.within is not None:
            out += f" WITHIN {self.within}"
            if self.within_where is not None:
                out += f" WHERE {self.within_where}"
        return out


_PROP_START = re.compile(r"([A-Za-z_][A-Za-z0-9_]*|`([^`]|``)+`)\s*\.")


def render_items(items) -> str:
    """A descriptor's expression list: ``(x.a, x.b)`` when it starts with ``var.key``, else bare ``y``."""
    texts = [render_expr(i) for i in items]
    if _PROP_START.match(texts[0]):
        return "(" + ", ".join(texts) + ")"
    return ", ".join(texts)


@dataclass(frozen=True)
class GraphTypeDef:
    name: str
    strict: bool
    imports: Tuple[str, ...] = ()
    elements: Tuple[Union[TypeRef, NodeTypeDef, EdgeTypeDef, Constraint], ...] = ()
    line: Optional[int] = _pos()
    column: Optional[int] = _pos()
    import_positions: Tuple[Tuple[Optional[int], Optional[int]], ...] = _pos()

    def __str__(self) -> str:
        head = f"CREATE GRAPH TYPE {quote_name(self.name)} {'STRICT' if self.strict else 'LOOSE'}"
        if self.imports:
            head += " IMPORTS " + ", ".join(map(quote_name, self.imports))
        if not self.elements:
            return head + " {}"
        return head + " {\n" + ",\n".join(f"  {e}" for e in self.elements) + "\n}"


@dataclass(frozen=True)
class Schema:
    """A whole DDL text: top-level node/edge types and graph types, in source order."""
    statements: Tuple[Union[NodeTypeDef, EdgeTypeDef, GraphTypeDef], ...]

    def __str__(self) -> str:
        out = []
        for s in self.statements:
            if isinstance(s, NodeTypeDef):
                out.append(f"CREATE NODE TYPE {s}")
            elif isinstance(s, EdgeTypeDef):
                out.append(f"CREATE EDGE TYPE {s}")
            else:
                out.append(str(s))
        return ";\n".join(out) + ";\n"
