"""The query AST: plain data, no behaviour.

Owns: the node classes the parser builds and every later stage reads.
Must not: import lark, evaluate anything, or know about the graph.
Invariants:
  (1) every expression node has ``pos``: the 0-based source offset where it starts (or -1);
  (2) a projection item's ``name`` is the alias, or else the exact source text of its
      expression (the column name the TCK expects for unaliased items);
  (3) a pattern part holds ``len(nodes) == len(rels) + 1``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Tuple


# ---------------------------------------------------------------- expressions
@dataclass
class Expr:
    pos: int = field(default=-1, kw_only=True, compare=False, repr=False)


@dataclass
class Literal(Expr):
    value: Any


@dataclass
class Param(Expr):
    name: str


@dataclass
class Var(Expr):
    name: str


@dataclass
class Prop(Expr):
    subject: Expr
    key: str


@dataclass
class Index(Expr):
    subject: Expr
    index: Expr


@dataclass
class Slice(Expr):
    subject: Expr
    lo: Optional[Expr]
    hi: Optional[Expr]


@dataclass
class HasLabels(Expr):
    subject: Expr
    labels: list


@dataclass
class BinOp(Expr):
    """Arithmetic (+ - * / % ^), boolean (AND OR XOR) and string/list predicates
    (STARTS WITH, ENDS WITH, CONTAINS, IN, =~)."""
    op: str
    left: Expr
    right: Expr


@dataclass
class Not(Expr):
    operand: Expr


@dataclass
class Neg(Expr):
    operand: Expr


@dataclass
class Compare(Expr):
    """A chain ``a < b <= c``: ``operands`` has one more element than ``ops``."""
    operands: list
    ops: list


@dataclass
class IsNull(Expr):
    operand: Expr
    negated: bool


@dataclass
class ListLit(Expr):
    items: list


@dataclass
class MapLit(Expr):
    items: list  # [(key, Expr)]


@dataclass
class FuncCall(Expr):
    name: str          # lower-cased
    args: list
    distinct: bool = False


@dataclass
class CountStar(Expr):
    pass


@dataclass
class Case(Expr):
    subject: Optional[Expr]
    alternatives: list  # [(when, then)]
    default: Optional[Expr]


@dataclass
class ListComp(Expr):
    var: str
    source: Expr
    where: Optional[Expr]
    projection: Optional[Expr]


@dataclass
class Reduce(Expr):
    """``reduce(acc = init, var IN source | expr)``: ``expr`` is evaluated per element with
    ``acc`` (the value so far, first ``init``) and ``var`` bound; the last value is the result."""
    acc: str
    init: Expr
    var: str
    source: Expr
    expr: Expr


@dataclass
class Quantifier(Expr):
    kind: str  # all any none single
    var: str
    source: Expr
    where: Expr


@dataclass
class MapProjection(Expr):
    var: str
    items: list  # ('prop', key) | ('lit', key, Expr) | ('var', name) | ('all',)


@dataclass
class PatternExpr(Expr):
    """A pattern used as an expression: a predicate in WHERE, a list of paths elsewhere."""
    part: "PatternPart"


@dataclass
class PatternComp(Expr):
    part: "PatternPart"
    where: Optional[Expr]
    projection: Expr


@dataclass
class CountSubquery(Expr):
    """``COUNT { pattern [WHERE ...] }`` (``query`` is None) or ``COUNT { full query }``."""
    query: Optional["Query"]
    parts: Optional[list]
    where: Optional[Expr]


@dataclass
class CollectSubquery(Expr):
    """``COLLECT { query RETURN one column }``."""
    query: "Query"


@dataclass
class ExistsSubquery(Expr):
    """``EXISTS { pattern [WHERE ...] }`` (``query`` is None) or ``EXISTS { full query }``."""
    query: Optional["Query"]
    parts: Optional[list]
    where: Optional[Expr]


# ---------------------------------------------------------------- patterns
@dataclass
class NodePattern:
    var: Optional[str]
    labels: list
    props: Optional[Expr]  # MapLit or Param
    pos: int = -1


@dataclass
class RelPattern:
    var: Optional[str]
    types: list
    direction: str  # 'out' | 'in' | 'both'
    length: Optional[tuple]  # None = one hop; (min, max) with None meaning unbounded
    props: Optional[Expr]
    pos: int = -1


@dataclass
class PatternPart:
    path_var: Optional[str]
    nodes: list
    rels: list
    shortest: Optional[str] = None   # None | 'one' (shortestPath) | 'all' (allShortestPaths)


# ---------------------------------------------------------------- clauses
@dataclass
class ProjItem:
    expr: Expr
    name: str
    aliased: bool


@dataclass
class Projection:
    distinct: bool
    star: bool
    items: list
    order: list  # [(Expr, descending: bool, nulls: None | "first" | "last")]
    skip: Optional[Expr]
    limit: Optional[Expr]


@dataclass
class Match:
    optional: bool
    parts: list
    where: Optional[Expr]


@dataclass
class Unwind:
    expr: Expr
    var: str


@dataclass
class With:
    projection: Projection
    where: Optional[Expr]


@dataclass
class Return:
    projection: Projection


@dataclass
class Create:
    parts: list


@dataclass
class SetProperty:
    target: Prop
    value: Expr


@dataclass
class SetAll:
    var: str
    value: Expr


@dataclass
class SetMerge:
    var: str
    value: Expr


@dataclass
class SetLabels:
    var: str
    labels: list


@dataclass
class RemoveLabels:
    var: str
    labels: list


@dataclass
class RemoveProperty:
    target: Prop


@dataclass
class SetClause:
    items: list


@dataclass
class Remove:
    items: list


@dataclass
class Merge:
    part: PatternPart
    on_match: list   # [set item]
    on_create: list


@dataclass
class Delete:
    detach: bool
    exprs: list


@dataclass
class Call:
    name: str
    args: Optional[list]  # None: no parentheses (arguments implicit from parameters)
    yields: Any           # None, '*', or [(field, alias)]
    where: Optional[Expr]


@dataclass
class Foreach:
    var: str
    expr: Expr
    clauses: list     # update clauses


@dataclass
class CallSubquery:
    """``CALL [(vars)] { query }`` [``IN TRANSACTIONS [OF n ROWS]``].  ``imports``: the outer
    variables the subquery sees: None for all of them (``CALL { }``, ``CALL (*) { }``), else
    the names in ``CALL (a, b) { }`` (``CALL () { }``: none)."""
    query: "Query"
    in_transactions: bool = False
    batch: Optional[Expr] = None
    imports: Optional[Tuple[str, ...]] = None


@dataclass
class LoadCsv:
    url: Expr
    var: str
    headers: bool
    fieldterminator: Optional[str] = None


@dataclass
class SchemaCommand:
    """CREATE/DROP INDEX and CREATE/DROP CONSTRAINT.  ``kind``: 'create_index', 'drop_index',
    'create_constraint', 'drop_constraint'; ``constraint``: 'unique', 'key', 'not_null' or None."""
    kind: str
    name: Optional[str] = None
    label: Optional[str] = None
    props: list = field(default_factory=list)
    constraint: Optional[str] = None
    if_exists: bool = False
    is_edge: bool = False
    pos: int = -1

    def describe(self) -> str:
        target = f"{self.label}({', '.join(self.props)})" if self.label else (self.name or "")
        return f"{self.kind.replace('_', ' ').upper()} {self.constraint or ''} {target}".replace("  ", " ")


@dataclass
class Query:
    """One or more single queries joined by UNION (``union_all[i]`` joins part i and i+1).
    ``mode``: None, 'EXPLAIN' or 'PROFILE'."""
    parts: list  # [list of clauses]
    union_all: list
    mode: Optional[str] = None


WRITE_CLAUSES = (Create, Merge, SetClause, Remove, Delete, Foreach, SchemaCommand)


# ---------------------------------------------------------------- text form (EXPLAIN)
def expr_text(e) -> str:
    """Cypher-like text of an expression (for plans and notifications; not re-parsed)."""
    if e is None:
        return ""
    if isinstance(e, Literal):
        v = e.value
        if v is None:
            return "null"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return repr(v)
    if isinstance(e, Param):
        return "$" + e.name
    if isinstance(e, Var):
        return e.name if not e.name.startswith(" ") else "anon"
    if isinstance(e, Prop):
        return f"{expr_text(e.subject)}.{e.key}"
    if isinstance(e, Index):
        return f"{expr_text(e.subject)}[{expr_text(e.index)}]"
    if isinstance(e, HasLabels):
        return expr_text(e.subject) + "".join(":" + l for l in e.labels)
    if isinstance(e, BinOp):
        return f"{expr_text(e.left)} {e.op} {expr_text(e.right)}"
    if isinstance(e, Not):
        return f"NOT {expr_text(e.operand)}"
    if isinstance(e, Neg):
        return f"-{expr_text(e.operand)}"
    if isinstance(e, Compare):
        out = expr_text(e.operands[0])
        for op, x in zip(e.ops, e.operands[1:]):
            out += f" {op} {expr_text(x)}"
        return out
    if isinstance(e, IsNull):
        return f"{expr_text(e.operand)} IS {'NOT ' if e.negated else ''}NULL"
    if isinstance(e, ListLit):
        return "[" + ", ".join(expr_text(x) for x in e.items) + "]"
    if isinstance(e, MapLit):
        return "{" + ", ".join(f"{k}: {expr_text(v)}" for k, v in e.items) + "}"
    if isinstance(e, FuncCall):
        return f"{e.name}({'DISTINCT ' if e.distinct else ''}{', '.join(expr_text(a) for a in e.args)})"
    if isinstance(e, CountStar):
        return "count(*)"
    return type(e).__name__
