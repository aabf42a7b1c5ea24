"""The logical plan: what a query does, as a tree of operator dataclasses (no behaviour).

Owns: one dataclass per logical operator, each with its input(s) (``source``; joins and
applies have a second input), the estimate the planner gave it (``est``), and the notes that
say where the planner used statistics or the schema (``notes``).  ``render`` draws a plan as
the text EXPLAIN prints, ``walk`` lists its operators.
Must not: evaluate anything, read the graph, or import the compilers.

A plan is a pipeline read from the leaves up: ``Argument`` (the incoming row, or the single
empty row at the start of a query) feeds scans and expansions, which feed filters,
projections and so on up to ``ProduceResults``.  Expressions inside operators are AST nodes
(lpgdb.query.ast); the physical layer (operators.py) compiles them.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, List, Optional


@dataclass(eq=False)
class Op:
    source: Optional["Op"] = field(default=None, kw_only=True)
    est: float = field(default=0.0, kw_only=True)          # estimated rows out
    notes: List[str] = field(default_factory=list, kw_only=True)

    name = "Op"

    def children(self) -> list:
        return [self.source] if self.source is not None else []

    def details(self) -> str:
        return ""


@dataclass(eq=False)
class Argument(Op):
    """The incoming row (an empty row at the start of a query); ``bound`` names its columns."""
    bound: list = field(default_factory=list)
    name = "Argument"

    def details(self):
        return ", ".join(v for v in self.bound if not v.startswith(" "))


@dataclass(eq=False)
class EmptyResult(Op):
    """Produces no rows: the schema proves the pattern cannot match."""
    reason: str = ""
    name = "EmptyResult"

    def details(self):
        return self.reason


@dataclass(eq=False)
class NodeScan(Op):
    """Every node (``label`` None) or every node with ``label``; ``check``: labels/properties
    still to test on each candidate (a NodePattern, or None)."""
    var: str = ""
    label: Optional[str] = None
    pattern: Any = None
    name = "NodeByLabelScan"

    def details(self):
        return f"({_v(self.var)}{':' + self.label if self.label else ''})"


@dataclass(eq=False)
class NodeIndexSeek(Op):
    """Nodes with ``label`` whose ``key`` equals ``value`` through an index (a user index or a
    schema KEY/EXCLUSIVE constraint); a label scan plus filter if no index exists at run time."""
    var: str = ""
    label: str = ""
    key: str = ""
    value: Any = None
    pattern: Any = None
    index: str = ""          # what EXPLAIN says serves it
    name = "NodeIndexSeek"

    def details(self):
        return f"({_v(self.var)}:{self.label} {{{self.key}: {_expr(self.value)}}}) {self.index}".rstrip()


@dataclass(eq=False)
class NodeCheck(Op):
    """The node variable ``var`` is bound already: keep rows where it fits ``pattern``."""
    var: str = ""
    pattern: Any = None
    name = "NodeCheck"

    def details(self):
        return f"({_v(self.var)})"


@dataclass(eq=False)
class Expand(Op):
    """One hop from bound node ``src`` over ``rel`` (a RelPattern) to ``dst`` (a NodePattern),
    batched: one native expansion per batch of rows.  ``into``: ``dst`` is bound already.
    ``unique``: relationship variables of the same MATCH this hop must differ from."""
    src: str = ""
    rel_var: str = ""
    dst: str = ""
    rel: Any = None
    dst_pattern: Any = None
    direction: str = "out"
    into: bool = False
    unique: list = field(default_factory=list)
    name = "Expand"

    def details(self):
        arrow = _arrow(self.rel, self.direction, self.rel_var)
        return f"({_v(self.src)}){arrow}({_v(self.dst)}){' into' if self.into else ''}"


@dataclass(eq=False)
class VarExpand(Expand):
    """Variable-length hop ``*lo..hi``; binds ``rel_var`` to the list of relationships and
    ``mids_var`` to the intermediate nodes (for paths)."""
    lo: int = 1
    hi: Optional[int] = None
    mids_var: str = ""
    reverse: bool = False      # expanded against the pattern's written order
    name = "VarLengthExpand"


@dataclass(eq=False)
class ShortestPath(Op):
    """shortestPath / allShortestPaths between two bound nodes (breadth-first, both directions
    of the pattern's relationship)."""
    src: str = ""
    dst: str = ""
    rel: Any = None
    direction: str = "out"
    path_var: str = ""
    rel_var: str = ""
    all_paths: bool = False
    name = "ShortestPath"

    def details(self):
        kind = "allShortestPaths" if self.all_paths else "shortestPath"
        return f"{kind}(({_v(self.src)}){_arrow(self.rel, self.direction, self.rel_var)}({_v(self.dst)}))"


@dataclass(eq=False)
class CountReach(Op):
    """``count(DISTINCT end)`` of a fixed-length chain of anonymous hops of one type and
    direction from a bound node, the end differing from the start: one native call per row."""
    src: str = ""
    hops: int = 2
    types: list = field(default_factory=list)
    direction: str = "out"
    out_var: str = ""
    name = "CountDistinctReach"

    def details(self):
        t = "|".join(self.types)
        return f"({_v(self.src)}) {self.hops} hops {self.direction} {t} AS {self.out_var}"


@dataclass(eq=False)
class DegreeCount(Op):
    """``WITH n, count(*) AS out_var`` over one anonymous expansion of ``types`` from ``var``,
    where every input row holds a different node: the count is the node's degree, read with
    one native call per batch of nodes; nodes of degree 0 give no row.  ``cmp``/``bound``:
    the WITH's ``WHERE out_var <cmp> bound`` (a constant), applied as the degrees come."""
    var: str = ""
    types: list = field(default_factory=list)
    direction: str = "out"
    out_var: str = ""
    cmp: Optional[str] = None
    bound: Any = None
    name = "DegreeCount"

    def details(self):
        t = "|".join(self.types)
        arrow = {"out": f"-[:{t}]->", "in": f"<-[:{t}]-"}.get(self.direction, f"-[:{t}]-") if t else \
            {"out": "-->", "in": "<--"}.get(self.direction, "--")
        where = f" WHERE {self.out_var} {self.cmp} {_expr(self.bound)}" if self.cmp else ""
        return f"({_v(self.var)}){arrow}() AS {self.out_var}{where}"


@dataclass(eq=False)
class BuildPath(Op):
    var: str = ""
    nodes: list = field(default_factory=list)
    rels: list = field(default_factory=list)       # [(rel var, mids var or None)]
    name = "BuildPath"

    def details(self):
        return self.var


@dataclass(eq=False)
class Filter(Op):
    predicates: list = field(default_factory=list)
    name = "Filter"

    def details(self):
        return " AND ".join(_expr(p) for p in self.predicates)


@dataclass(eq=False)
class CartesianProduct(Op):
    """Every row of ``source`` with every row of ``right`` (``right`` is computed once)."""
    right: Op = None
    name = "CartesianProduct"

    def children(self):
        return [self.source, self.right]


@dataclass(eq=False)
class HashJoin(Op):
    """Rows of ``source`` and ``right`` whose keys are equal: ``right`` is computed once into a
    hash table on ``right_keys``; each ``source`` row probes it with ``left_keys``."""
    right: Op = None
    left_keys: list = field(default_factory=list)
    right_keys: list = field(default_factory=list)
    name = "ValueHashJoin"

    def children(self):
        return [self.source, self.right]

    def details(self):
        return " AND ".join(f"{_expr(l)} = {_expr(r)}" for l, r in zip(self.left_keys, self.right_keys))


@dataclass(eq=False)
class RelsDistinct(Op):
    """Rows of ``source`` in which no relationship bound by a variable of ``left`` is also bound
    by one of ``right``: relationship uniqueness between two parts of one MATCH that were
    matched separately and then joined (a product or a hash join)."""
    left: list = field(default_factory=list)
    right: list = field(default_factory=list)
    name = "RelationshipsDistinct"

    def details(self):
        show = lambda vs: ", ".join(v for v in vs if not v.startswith(" ")) or "_"  # noqa: E731
        return f"[{show(self.left)}] / [{show(self.right)}]"


@dataclass(eq=False)
class Optional_(Op):
    """For each row of ``source``: the rows of ``inner`` (which starts from that row), or the
    row with ``new_vars`` set to null when there are none."""
    inner: Op = None
    new_vars: list = field(default_factory=list)
    name = "Optional"

    def children(self):
        return [self.source, self.inner]


@dataclass(eq=False)
class Apply(Op):
    """For each row of ``source``, the rows of ``inner`` run with that row as its argument
    (CALL { } subqueries).  ``batch``: IN TRANSACTIONS OF n ROWS.  ``imports``: the outer
    variables the inner sees (``CALL (a) { }``), or None for the whole row."""
    inner: Op = None
    returns: bool = True
    batch: Optional[Any] = None
    imports: Optional[List[str]] = None
    name = "Apply"

    def children(self):
        return [self.source, self.inner]

    def details(self):
        scope = "" if self.imports is None else f"({', '.join(self.imports)})"
        batch = "" if self.batch is None else f"IN TRANSACTIONS OF {_expr(self.batch)} ROWS"
        return " ".join(x for x in (scope, batch) if x)


@dataclass(eq=False)
class Unwind(Op):
    expr: Any = None
    var: str = ""
    name = "Unwind"

    def details(self):
        return f"{_expr(self.expr)} AS {self.var}"


@dataclass(eq=False)
class LoadCsv(Op):
    url: Any = None
    var: str = ""
    headers: bool = False
    fieldterminator: Optional[str] = None
    name = "LoadCSV"

    def details(self):
        return f"FROM {_expr(self.url)} AS {self.var}{' WITH HEADERS' if self.headers else ''}"


@dataclass(eq=False)
class Projection(Op):
    """The WITH/RETURN pipeline: grouping and aggregation, DISTINCT, ORDER BY (top-k when a
    LIMIT follows), SKIP, LIMIT and WITH's WHERE, in that order (``projection`` is the AST)."""
    projection: Any = None
    where: Any = None
    bound: list = field(default_factory=list)
    columns: list = field(default_factory=list)
    drain: bool = False      # consume the whole input even under LIMIT (write queries)
    name = "Projection"

    def details(self):
        p = self.projection
        parts = [", ".join(c for c in self.columns)]
        if p.distinct:
            parts.insert(0, "DISTINCT")
        if p.order:
            parts.append("ORDER BY " + ", ".join(_expr(e) + (" DESC" if d else "") + (f" NULLS {n.upper()}" if n else "")
                                                 for e, d, n in p.order))
        if p.skip is not None:
            parts.append(f"SKIP {_expr(p.skip)}")
        if p.limit is not None:
            parts.append(f"LIMIT {_expr(p.limit)}")
        return " ".join(parts)


@dataclass(eq=False)
class Aggregation(Projection):
    name = "EagerAggregation"


@dataclass(eq=False)
class Create(Op):
    parts: list = field(default_factory=list)
    bound: list = field(default_factory=list)
    name = "Create"


@dataclass(eq=False)
class Merge(Op):
    clause: Any = None
    bound: list = field(default_factory=list)
    match: Op = None
    name = "Merge"

    def children(self):
        return [self.source, self.match]


@dataclass(eq=False)
class SetItems(Op):
    items: list = field(default_factory=list)
    bound: list = field(default_factory=list)
    name = "SetProperties"


@dataclass(eq=False)
class Delete(Op):
    exprs: list = field(default_factory=list)
    detach: bool = False
    name = "Delete"

    def details(self):
        return ("DETACH " if self.detach else "") + ", ".join(_expr(e) for e in self.exprs)


@dataclass(eq=False)
class Foreach(Op):
    var: str = ""
    expr: Any = None
    inner: Op = None
    name = "Foreach"

    def children(self):
        return [self.source, self.inner]

    def details(self):
        return f"{self.var} IN {_expr(self.expr)}"


@dataclass(eq=False)
class ProcedureCall(Op):
    clause: Any = None
    bound: list = field(default_factory=list)
    standalone: bool = False
    name = "ProcedureCall"

    def details(self):
        return self.clause.name


@dataclass(eq=False)
class SchemaCommand(Op):
    """CREATE/DROP INDEX or CONSTRAINT, mapped onto a user index or the graph type."""
    command: Any = None
    name = "SchemaCommand"

    def details(self):
        return self.command.describe()


@dataclass(eq=False)
class Eager(Op):
    """Materialise every row of ``source`` before the next clause starts (write queries)."""
    name = "Eager"


@dataclass(eq=False)
class Union(Op):
    inputs: list = field(default_factory=list)
    all: bool = True
    name = "Union"

    def children(self):
        return list(self.inputs)


@dataclass(eq=False)
class ProduceResults(Op):
    columns: list = field(default_factory=list)
    name = "ProduceResults"

    def details(self):
        return ", ".join(self.columns)


# ---------------------------------------------------------------- rendering
def walk(op: Op):
    """Every operator of a plan, root first."""
    stack = [op]
    while stack:
        o = stack.pop()
        if o is None:
            continue
        yield o
        stack.extend(reversed(o.children()))


def render(op: Op, profile: Optional[dict] = None) -> str:
    """The plan as indented text, root first; with ``profile`` ({id(op): (rows, seconds)}) each
    line also shows the rows the operator produced and the time spent in it."""
    lines: list = []

    def go(o, depth):
        if o is None:
            return
        d = o.details()
        line = "  " * depth + "+" + o.name + (f" {d}" if d else "")
        if profile is not None:
            rows, secs = profile.get(id(o), (0, 0.0))
            line += f"  [rows={rows}, time={secs * 1000:.3f} ms]"
        else:
            line += f"  [est={o.est:.0f}]" if o.est else ""
        for n in o.notes:
            line += f"  ({n})"
        lines.append(line)
        for c in o.children():
            go(c, depth + 1)
    go(op, 0)
    return "\n".join(lines)


def as_dict(op: Op, profile: Optional[dict] = None) -> dict:
    """A JSON-friendly form of the plan (``Result.plan`` keeps the Plan object; this is its
    ``.to_dict()``)."""
    d = {"operator": op.name, "details": op.details(), "estimated_rows": op.est, "notes": list(op.notes)}
    if profile is not None:
        rows, secs = profile.get(id(op), (0, 0.0))
        d["rows"], d["time_ms"] = rows, secs * 1000
    d["children"] = [as_dict(c, profile) for c in op.children() if c is not None]
    return d


def _v(name: str) -> str:
    return "" if not name or name.startswith(" ") else name


def _arrow(rel, direction, var) -> str:
    types = "|".join(getattr(rel, "types", []) or [])
    inner = _v(var) + (":" + types if types else "")
    length = getattr(rel, "length", None)
    if length is not None:
        lo, hi = length
        inner += f"*{lo}..{'' if hi is None else hi}"
    inner = f"[{inner}]" if inner else ""
    return {"out": f"-{inner}->", "in": f"<-{inner}-"}.get(direction, f"-{inner}-")


def _expr(e) -> str:
    from .ast import expr_text
    return expr_text(e)


def op_fields(op: Op) -> dict:
    return {f.name: getattr(op, f.name) for f in fields(op)}
