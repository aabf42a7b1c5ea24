"""Compiling and running a query: planner (logical plan) + operators (physical) + expressions,
wired together here so that none of them imports another's compiler.

Owns: ``compile_query`` (plan with the read view's statistics and schema, then build the
physical operators, handing them the expression compiler, and handing the expression compiler
the hooks that plan pattern predicates and subqueries), ``CompiledQuery.run`` (the result
rows under the context's limits), EXPLAIN and PROFILE, and the notifications' shape.

Invariants:
  (1) a query containing a write clause runs clause by clause (``Eager`` after each clause),
      so no clause observes writes made "later" in its own input stream;
  (2) a plan is valid for the catalog (schema and indexes) it was planned under; the caller
      (``PreparedQuery``) replans when the catalog or the graph's size changes.
"""
from __future__ import annotations

from ..result import Notification, NotificationPosition, row_type
from . import ast as A
from . import logical as L
from .context import ROW_BYTES
from .expressions import (CompileEnv, children, compile_expr, compile_predicate, is_aggregate, walk)
from .functions import AGGREGATES, CountStar as CountStarAgg
from .operators import Compilers, build, direct
from .planner import Planner, Stats

__all__ = ["compile_query", "CompiledQuery", "Plan", "notification", "reads_graph"]


class Plan:
    """The plan of a query, as EXPLAIN shows it and ``Result.plan`` holds it.

    ``str(plan)`` draws the operator tree; ``plan.to_dict()`` is a JSON-friendly form;
    ``plan.operators`` lists operator names root first.  Under PROFILE each operator also
    carries the rows it produced and the time spent in it (including its inputs)."""

    def __init__(self, root: L.Op, profile=None):
        self.root = root
        self.profile = profile

    @property
    def operators(self) -> list:
        return [o.name for o in L.walk(self.root)]

    def to_dict(self) -> dict:
        return L.as_dict(self.root, self.profile)

    def __str__(self) -> str:
        return L.render(self.root, self.profile)

    def __repr__(self) -> str:
        return f"Plan({' <- '.join(self.operators)})"


def notification(code, title, description, pos, text) -> Notification:
    """A notification shaped like Neo4j's: code, title, description, severity, position."""
    position = None
    if pos is not None and pos >= 0:
        line = text.count("\n", 0, pos) + 1
        column = pos - (text.rfind("\n", 0, pos) + 1) + 1
        position = NotificationPosition(pos, line, column)
    return Notification(code, title, description, "WARNING", "SCHEMA", position)


class _Hooks:
    """What the expression compiler calls back for patterns and subqueries."""

    def __init__(self, planner: Planner, compilers: Compilers):
        self.planner = planner
        self.C = compilers

    def match(self, parts, bound, where):
        op = self.planner._match(parts, where, list(bound), L.Argument(bound=list(bound), est=1))
        phys = build(op, self.C)

        def run(row, ctx):
            for b in phys(ctx, iter([[row]])):
                yield from b
        return run

    def subquery(self, q, bound):
        root, _, _ = self.planner._subquery(q, list(bound))
        phys = build(root, self.C)

        def run(row, ctx):
            for b in phys(ctx, iter([[row]])):
                yield from b
        return run

    @staticmethod
    def columns(q):
        last = q.parts[0][-1]
        return last.projection.items[0].name


def _compilers(planner: Planner, profile: bool = False) -> Compilers:
    hooks = None

    def env(bound, aggs=None):
        return CompileEnv(bound, aggs, hooks)

    C = Compilers(expr=lambda e, bound: compile_expr(e, env(bound)),
                  predicate=lambda e, bound: compile_predicate(e, env(bound)),
                  aggregates=(AGGREGATES, CountStarAgg), env=env, compile=compile_expr,
                  compile_pred=compile_predicate, is_aggregate=is_aggregate, children=children, walk=walk,
                  profile=profile)
    hooks = _Hooks(planner, C)
    return C


class CompiledQuery:
    """A planned and built query: ``run(ctx) -> rows of runtime values`` (tuples in the order
    of ``columns``).  ``plan`` is its Plan (shared by every run that is not a PROFILE run)."""

    def __init__(self, root: L.ProduceResults, columns, writes, notifications):
        self.root = root
        self.columns = list(columns or [])
        self.cols = tuple(self.columns)         # what every Result of this plan shares
        self.writes = writes
        self.notifications = notifications
        self.notes = tuple(notifications)
        self.plan = Plan(root)
        self.row_type = row_type(self.columns)
        self.phys = None
        self.direct = None      # rows(ctx) for the simple shapes (operators.direct), else None
        self.point = None       # (label, key, parameter, property names): PreparedQuery.fast
        self.used_stats = False
        self.reads_graph = reads_graph(root)

    def run(self, ctx):
        direct = self.direct
        if direct is not None:
            rows = direct(ctx)
        else:
            rows = []
            cols = self.columns
            max_rows = ctx.max_rows
            for batch in self.phys(ctx, iter([[{}]])):
                if not cols:
                    ctx.tick(len(batch))
                    continue
                ctx.charge(ROW_BYTES * len(batch))
                rows.extend([tuple([r[c] for c in cols]) for r in batch])
                if max_rows is not None and len(rows) > max_rows:
                    break
        return rows         # the caller checks max_rows (PreparedQuery.run: too_many_rows)


def too_many_rows(max_rows: int):
    from ..errors import OperationalError
    return OperationalError(f"the query returns more than max_rows={max_rows} rows; add a LIMIT, or "
                            "pass a larger max_rows= to execute() or connect(..., max_rows=...)", reason="max_rows")


_GRAPH_FREE_OPS = (L.ProduceResults, L.Projection, L.Aggregation, L.Argument, L.Filter, L.Unwind)
_GRAPH_EXPRS = (A.PatternExpr, A.PatternComp, A.CountSubquery, A.CollectSubquery, A.ExistsSubquery)


def reads_graph(root: L.Op) -> bool:
    """False when the plan can run without the graph: only projections, filters and UNWIND,
    and no pattern or subquery expression.  Then no node or relationship can enter a row
    (unless a parameter brings one), so no expression can read the graph either."""
    for op in L.walk(root):
        if type(op) not in _GRAPH_FREE_OPS:
            return True
        exprs = []
        if isinstance(op, L.Projection):
            p = op.projection
            exprs = [it.expr for it in p.items] + [o[0] for o in p.order]
            exprs += [x for x in (p.skip, p.limit, op.where) if x is not None]
        elif isinstance(op, L.Filter):
            exprs = list(op.predicates)
        elif isinstance(op, L.Unwind):
            exprs = [op.expr]
        for e in exprs:
            if any(isinstance(x, _GRAPH_EXPRS) for x in walk(e)):
                return True
    return False


def compile_query(q: A.Query, view, text: str = "", profile: bool = False) -> CompiledQuery:
    """Plan ``q`` against ``view`` and build its physical operators (with PROFILE's per-operator
    counters only when ``profile``; else, for the simple shapes, also a direct runner)."""
    stats = Stats(view)
    planner = Planner(stats, text)
    root, columns, writes = planner.plan(q)
    notes = [notification(c, t, d, p, text) for c, t, d, p in planner.notifications]
    cq = CompiledQuery(root, columns, writes, notes)
    C = _compilers(planner, profile)
    cq.phys = build(root, C)
    if not profile:
        cq.direct = direct(root, C)
        cq.point = getattr(cq.direct, "spec", None)
    cq.used_stats = bool(stats._labels or stats._rels)
    return cq
