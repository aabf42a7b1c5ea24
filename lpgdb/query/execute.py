"""Clause pipeline: compiles a checked AST into operators over rows and runs them on a transaction.

Owns: the execution context (graph access with a per-query cache, parameters, timeout),
the operator for every clause (MATCH, OPTIONAL MATCH, UNWIND, WITH, RETURN, CREATE, MERGE,
SET, REMOVE, DELETE), projection with grouping/aggregation/DISTINCT/ORDER BY/SKIP/LIMIT, and
UNION.  Reads go through the transaction's public read API (plus ``key_lookup`` when
offered); writes go through its write API only, so every write is schema-checked at commit.

Invariants:
  (1) a query containing a write clause runs clause by clause, each clause consuming all its
      input before the next starts, so no clause observes writes made "later" in the same
      clause's own input stream (Cypher's clause-at-a-time semantics);
  (2) every write invalidates the cached Node/Edge for the ids it touches;
  (3) ``ctx.tick()`` is called in every loop over graph data, so a timeout is honoured.
"""
from __future__ import annotations

import itertools
import time

from ..errors import IntegrityError, NotFoundError, OperationalError
from . import ast as A
from .diagnostics import entity_not_found, runtime_semantic, semantic, type_error
from .expressions import CompileEnv, compile_expr, compile_predicate, is_aggregate, walk
from .functions import AGGREGATES, CountStar as CountStarAgg
from .plan import compile_pattern_matcher, pattern_vars
from .temporal import Temporal, to_python
from .runtime import EdgeRef, NodeRef, PathVal, from_user, group_key, sort_key, type_name

__all__ = ["Context", "compile_query", "CompiledQuery"]


class Context:
    """Execution state of one query run (graph access, parameters, timeout)."""

    def __init__(self, tx, params, timeout=None, readonly=False):
        self.tx = tx
        self.params = params
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.timeout = timeout
        self._ticks = 0
        self._nodes = {}
        self._edges = {}
        self.key_lookup = getattr(tx, "key_lookup", None)
        # batched (nbrs, eids, from_index) expansion; a transaction's includes its own writes
        self.expand = getattr(tx, "expand", None)
        self.now = None  # the statement clock, set on first use (temporal.py)
        self.deleted_nodes = set()
        self.deleted_edges = set()

    def tick(self):
        self._ticks += 1
        if self.deadline is not None and not self._ticks & 1023 and time.monotonic() > self.deadline:
            raise OperationalError(f"query timed out after {self.timeout} s")

    def node(self, nid):
        n = self._nodes.get(nid)
        if n is None:
            try:
                n = self.tx.node(nid)
            except NotFoundError:
                raise entity_not_found(f"node {nid} was deleted or does not exist") from None
            self._nodes[nid] = n
        return n

    def edge(self, eid):
        e = self._edges.get(eid)
        if e is None:
            try:
                e = self.tx.edge(eid)
            except NotFoundError:
                raise entity_not_found(f"relationship {eid} was deleted or does not exist") from None
            self._edges[eid] = e
        return e

    def has_node(self, nid):
        if nid in self._nodes:
            return True
        has = getattr(self.tx, "has_node", None)
        if has is not None:
            return has(nid)
        try:
            self.node(nid)
            return True
        except NotFoundError:
            return False

    def scan(self, label):
        out = []
        for n in self.tx.nodes(label):
            self.tick()
            self._nodes[n.id] = n
            out.append(n.id)
        return out

    def edges_of(self, nid, direction, label):
        seen = set()
        out = []
        for e in self.tx.edges_of(nid, direction, label):
            if e.id in seen:
                continue
            seen.add(e.id)
            self._edges[e.id] = e
            out.append(e)
        return out

    def forget_node(self, nid):
        self._nodes.pop(nid, None)

    def forget_edge(self, eid):
        self._edges.pop(eid, None)


# ---------------------------------------------------------------- compile
class CompiledQuery:
    """A query ready to run: ``run(ctx) -> (columns, rows of runtime values)``."""

    def __init__(self, parts, union_all, columns, writes):
        self.parts = parts          # [(pipeline, columns)]
        self.union_all = union_all
        self.columns = columns
        self.writes = writes

    def run(self, ctx):
        all_rows = []
        for pipeline, cols in self.parts:
            rows = [{}]
            for op in pipeline:
                rows = op(rows, ctx)
                if self.writes:
                    rows = list(rows)  # invariant (1)
            if cols is None:
                for _ in rows:
                    ctx.tick()
                continue
            all_rows.extend(tuple(r[c] for c in cols) for r in rows)
        if len(self.parts) > 1 and not all(self.union_all):
            seen, out = set(), []
            for r in all_rows:
                k = tuple(group_key(v) for v in r)
                if k not in seen:
                    seen.add(k)
                    out.append(r)
            all_rows = out
        return self.columns or [], all_rows


def compile_query(q: A.Query) -> CompiledQuery:
    parts = []
    columns = None
    writes = False
    for clauses in q.parts:
        pipeline, cols, w = _compile_single(clauses)
        writes = writes or w
        parts.append((pipeline, cols))
        if columns is None:
            columns = cols
    return CompiledQuery(parts, q.union_all, columns, writes)


def compile_subquery(q: A.Query, bound):
    """``run(row, ctx) -> iterator of rows`` for a read-only subquery seeing ``row``'s variables."""
    pipelines = [_compile_single(clauses, list(bound))[0] for clauses in q.parts]

    def run(row, ctx):
        for pipeline in pipelines:
            rows = [row]
            for op in pipeline:
                rows = op(rows, ctx)
            yield from rows
    return run


def _compile_single(clauses, bound=None):
    bound = list(bound or [])  # ordered names in scope
    pipeline = []
    writes = False
    cols = None
    for cl in clauses:
        if isinstance(cl, A.WRITE_CLAUSES):
            writes = True
        if isinstance(cl, A.Match):
            pipeline.append(_match_op(cl, bound))
            for v in pattern_vars(cl.parts):
                if v not in bound:
                    bound.append(v)
        elif isinstance(cl, A.Unwind):
            pipeline.append(_unwind_op(cl, bound))
            if cl.var not in bound:
                bound.append(cl.var)
        elif isinstance(cl, (A.With, A.Return)):
            op, names = _projection_op(cl.projection, bound, cl.where if isinstance(cl, A.With) else None,
                                       is_return=isinstance(cl, A.Return))
            pipeline.append(op)
            bound = list(names)
            if isinstance(cl, A.Return):
                cols = list(names)
        elif isinstance(cl, A.Create):
            pipeline.append(_create_op(cl.parts, bound))
            for v in pattern_vars(cl.parts):
                if v not in bound:
                    bound.append(v)
        elif isinstance(cl, A.Merge):
            pipeline.append(_merge_op(cl, bound))
            for v in pattern_vars([cl.part]):
                if v not in bound:
                    bound.append(v)
        elif isinstance(cl, A.SetClause):
            pipeline.append(_set_op(cl.items, bound))
        elif isinstance(cl, A.Remove):
            pipeline.append(_remove_op(cl.items, bound))
        elif isinstance(cl, A.Delete):
            pipeline.append(_delete_op(cl, bound))
        elif isinstance(cl, A.Call):
            standalone = len(clauses) == 1
            op, names = _call_op(cl, bound, standalone)
            pipeline.append(op)
            bound = bound + [n for n in names if n not in bound]
            if standalone:
                cols = names
        else:
            raise TypeError(cl)
    return pipeline, cols, writes


# ---------------------------------------------------------------- reading clauses
def _match_op(cl: A.Match, bound):
    env = CompileEnv(bound)
    matcher = compile_pattern_matcher(cl.parts, bound, cl.where, env)
    new_vars = [v for v in pattern_vars(cl.parts) if v not in bound]
    optional = cl.optional

    def op(rows, ctx):
        for row in rows:
            found = False
            for r, _ in matcher(row, ctx):
                found = True
                yield r
            if optional and not found:
                r = dict(row)
                for v in new_vars:
                    r[v] = None
                yield r
    return op


def _unwind_op(cl: A.Unwind, bound):
    f = compile_expr(cl.expr, CompileEnv(bound))
    var = cl.var

    def op(rows, ctx):
        for row in rows:
            v = f(row, ctx)
            if v is None:
                continue
            items = v if isinstance(v, list) else [v]
            for x in items:
                ctx.tick()
                r = dict(row)
                r[var] = x
                yield r
    return op


def _find_aggregates(e, out):
    """Collect aggregate calls in ``e`` (outermost only) into ``out``."""
    if is_aggregate(e):
        for sub in (e.args if isinstance(e, A.FuncCall) else []):
            if any(is_aggregate(x) for x in walk(sub)):
                raise semantic("aggregate functions cannot be nested", "NestedAggregation")
        out.append(e)
        return
    from .expressions import children
    for c in children(e):
        _find_aggregates(c, out)


def _projection_op(p: A.Projection, bound, where, is_return):
    items = []
    if p.star:
        for name in sorted(v for v in bound if not v.startswith(" ")):
            items.append(A.ProjItem(A.Var(name), name, False))
    items.extend(p.items)
    names = [it.name for it in items]

    agg_nodes = []
    for it in items:
        _find_aggregates(it.expr, agg_nodes)
    order_aggs = []
    for e, _ in p.order:
        _find_aggregates(e, order_aggs)
    aggregating = bool(agg_nodes)
    if order_aggs and not aggregating:
        raise semantic("ORDER BY uses an aggregate but the projection does not aggregate", "InvalidAggregation")
    all_aggs = agg_nodes + order_aggs
    agg_keys = {id(a): f" agg{i}" for i, a in enumerate(all_aggs)}
    base_env = CompileEnv(bound)
    env = CompileEnv(bound, agg_keys)
    item_fns = [compile_expr(it.expr, env) for it in items]
    order_env = CompileEnv(set(bound) | set(names), agg_keys)
    order_fns = [(compile_expr(e, order_env), desc) for e, desc in p.order]
    skip_fn = compile_expr(p.skip, CompileEnv()) if p.skip is not None else None
    limit_fn = compile_expr(p.limit, CompileEnv()) if p.limit is not None else None
    where_fn = compile_predicate(where, order_env) if where is not None else None

    agg_specs = []
    for a in all_aggs:
        if isinstance(a, A.CountStar):
            agg_specs.append((agg_keys[id(a)], None, None, lambda: CountStarAgg()))
        else:
            cls = AGGREGATES[a.name]
            arg = compile_expr(a.args[0], base_env) if a.args else None
            extra = compile_expr(a.args[1], base_env) if len(a.args) > 1 else None
            agg_specs.append((agg_keys[id(a)], arg, extra, (lambda cls=cls, d=a.distinct, n=a.name: cls(d, n))))
    key_idx = [i for i, it in enumerate(items) if not any(True for _ in _iter_aggs(it.expr))]

    def project_rows(rows, ctx):
        """Yield (projected row, env for ORDER BY)."""
        if not aggregating:
            for row in rows:
                ctx.tick()
                out = {n: f(row, ctx) for n, f in zip(names, item_fns)}
                env_row = dict(row)
                env_row.update(out)
                yield out, env_row
            return
        groups = {}
        for row in rows:
            ctx.tick()
            kvals = [item_fns[i](row, ctx) for i in key_idx]
            k = tuple(group_key(v) for v in kvals)
            g = groups.get(k)
            if g is None:
                g = groups[k] = (row, kvals, [mk() for _, _, _, mk in agg_specs])
            for (key, arg, extra, _), acc in zip(agg_specs, g[2]):
                if arg is None:
                    acc.add(None)
                else:
                    acc.add(arg(row, ctx), extra(row, ctx) if extra is not None else None)
        if not groups and not key_idx:
            groups[()] = ({}, [], [mk() for _, _, _, mk in agg_specs])
        for first, kvals, accs in groups.values():
            env_row = dict(first)
            for (key, _, _, _), acc in zip(agg_specs, accs):
                env_row[key] = acc.result()
            out = {}
            for i, (n, f) in enumerate(zip(names, item_fns)):
                if i in key_idx:
                    out[n] = kvals[key_idx.index(i)]
                else:
                    out[n] = f(env_row, ctx)
            env_row.update(out)
            yield out, env_row

    distinct = p.distinct

    def op(rows, ctx):
        pairs = project_rows(rows, ctx)
        if distinct:
            pairs = _distinct(pairs, names)
        if order_fns:
            pairs = list(pairs)
            for f, desc in reversed(order_fns):
                pairs.sort(key=lambda pr, f=f: sort_key(f(pr[1], ctx)), reverse=desc)
        skip = _count_arg(skip_fn, ctx, "SKIP") if skip_fn else 0
        limit = _count_arg(limit_fn, ctx, "LIMIT") if limit_fn else None
        if skip or limit is not None:
            pairs = itertools.islice(pairs, skip, None if limit is None else skip + limit)
        if where_fn is not None:
            pairs = (pr for pr in pairs if where_fn(pr[1], ctx) is True)
        return (pr[0] for pr in pairs)
    return op, names


def _iter_aggs(e):
    for x in walk(e):
        if is_aggregate(x):
            yield x


def _distinct(pairs, names):
    seen = set()
    for out, env in pairs:
        k = tuple(group_key(out[n]) for n in names)
        if k in seen:
            continue
        seen.add(k)
        yield out, env


def _count_arg(fn, ctx, what):
    v = fn({}, ctx)
    if type(v) is not int:
        raise semantic(f"{what} expects a non-negative integer, got {type_name(v)}", "InvalidArgumentType",
                       phase="runtime")
    if v < 0:
        raise semantic(f"{what} expects a non-negative integer, got {v}", "NegativeIntegerArgument",
                       phase="runtime")
    return v


def _call_op(cl: A.Call, bound, standalone):
    from .procedures import coerce, get_procedure
    proc = get_procedure(cl.name)
    env = CompileEnv(bound)
    if cl.args is None:
        arg_fns = [compile_expr(A.Param(name), env) for name, _ in proc.inputs]
    else:
        arg_fns = [compile_expr(a, env) for a in cl.args]
    out_names = [n for n, _ in proc.outputs]
    if cl.yields is None:
        yields = [(n, n) for n in out_names] if standalone else []
    elif cl.yields == "*":
        yields = [(n, n) for n in out_names]
    else:
        yields = list(cl.yields)
    names = [alias for _, alias in yields]
    where_fn = compile_predicate(cl.where, CompileEnv(set(bound) | set(names))) if cl.where is not None else None
    void = not proc.outputs

    def op(rows, ctx):
        for row in rows:
            ctx.tick()
            args = coerce(proc, [f(row, ctx) for f in arg_fns])
            results = proc.fn(*args)
            if void:
                for _ in results or ():
                    pass
                if not standalone:
                    yield row
                continue
            for rec in results:
                if isinstance(rec, dict):
                    vals = {n: from_user(rec.get(n)) for n in out_names}
                else:
                    vals = {n: from_user(v) for n, v in zip(out_names, rec)}
                r = dict(row)
                for field, alias in yields:
                    r[alias] = vals[field]
                if where_fn is None or where_fn(r, ctx) is True:
                    yield r
    return op, names


# ---------------------------------------------------------------- writing clauses
def _storable(v, key):
    if isinstance(v, Temporal):
        return to_python(v)
    if isinstance(v, (NodeRef, EdgeRef, PathVal, dict)):
        raise type_error(f"property '{key}' cannot hold a {type_name(v)}", "InvalidPropertyType")
    if isinstance(v, list):
        for x in v:
            if isinstance(x, (NodeRef, EdgeRef, PathVal, dict, list)):
                raise type_error(f"property '{key}' cannot hold a list of {type_name(x)}", "InvalidPropertyType")
        return [to_python(x) for x in v]
    return v


def _props_fn(props, env):
    if props is None:
        return lambda row, ctx: {}
    f = compile_expr(props, env)

    def g(row, ctx):
        m = f(row, ctx)
        if m is None:
            return {}
        if not isinstance(m, dict):
            raise type_error(f"properties must be a map, got {type_name(m)}")
        return {k: _storable(v, k) for k, v in m.items() if v is not None}
    return g


def _creator(part: A.PatternPart, bound):
    """A function (row, ctx) -> row that creates the part's missing nodes and its edges."""
    env = CompileEnv(bound)
    node_fns = [(n.var, list(n.labels), _props_fn(n.props, env)) for n in part.nodes]
    rel_fns = [(r.var, r.types[0] if r.types else None, r.direction, _props_fn(r.props, env)) for r in part.rels]
    path_var = part.path_var

    def create(row, ctx):
        row = dict(row)
        ids = []
        for var, labels, pf in node_fns:
            if var is not None and var in row and row[var] is not None:
                v = row[var]
                if not isinstance(v, NodeRef):
                    raise type_error(f"variable '{var}' is a {type_name(v)}, not a node", "VariableTypeConflict")
                ids.append(v.id)
                continue
            if var is not None and var in row:
                raise semantic(f"cannot create a relationship to a null node '{var}'", "InvalidArgumentType",
                               phase="runtime")
            nid = ctx.tx.create_node(labels, pf(row, ctx))
            ids.append(nid)
            if var is not None:
                row[var] = NodeRef(nid)
        eids = []
        for j, (var, typ, direction, pf) in enumerate(rel_fns):
            src, dst = ids[j], ids[j + 1]
            if direction == "in":
                src, dst = dst, src
            eid = ctx.tx.create_edge(src, typ, dst, pf(row, ctx))
            eids.append(eid)
            if var is not None:
                row[var] = EdgeRef(eid)
        if path_var is not None:
            row[path_var] = PathVal(ids, eids)
        return row
    return create


def _create_op(parts, bound):
    creators = []
    names = list(bound)
    for part in parts:
        creators.append(_creator(part, names))
        names = names + [v for v in pattern_vars([part]) if v not in names]

    def op(rows, ctx):
        for row in rows:
            ctx.tick()
            for c in creators:
                row = c(row, ctx)
            yield row
    return op


def _merge_op(cl: A.Merge, bound):
    matcher = compile_pattern_matcher([cl.part], bound, None, CompileEnv(bound))
    creator = _creator(cl.part, bound)
    names = list(bound) + [v for v in pattern_vars([cl.part]) if v not in bound]
    on_match = _set_items(cl.on_match, names)
    on_create = _set_items(cl.on_create, names)
    env = CompileEnv(bound)
    null_checks = []
    for n in cl.part.nodes + cl.part.rels:
        if isinstance(n.props, A.MapLit):
            for k, v in n.props.items:
                null_checks.append((k, compile_expr(v, env)))

    def op(rows, ctx):
        for row in rows:
            ctx.tick()
            for k, f in null_checks:
                if f(row, ctx) is None:
                    raise runtime_semantic(f"cannot MERGE with a null value for property '{k}'",
                                           "MergeReadOwnWrites")
            matched = [r for r, _ in matcher(row, ctx)]
            if matched:
                for r in matched:
                    for item in on_match:
                        item(r, ctx)
                    yield r
            else:
                r = creator(row, ctx)
                for item in on_create:
                    item(r, ctx)
                yield r
    return op


def _entity(v, what):
    if v is None or isinstance(v, (NodeRef, EdgeRef)):
        return v
    raise type_error(f"{what} expects a node or relationship, got {type_name(v)}", "InvalidArgumentType")


def _update(ctx, ent, set_=None, remove=(), add_labels=(), remove_labels=()):
    if isinstance(ent, NodeRef):
        if ent.id in ctx.deleted_nodes:
            return
        ctx.tx.update_node(ent.id, set=set_ or {}, remove=list(remove), add_labels=list(add_labels),
                           remove_labels=list(remove_labels))
        ctx.forget_node(ent.id)
    else:
        if ent.id in ctx.deleted_edges:
            return
        ctx.tx.update_edge(ent.id, set=set_ or {}, remove=list(remove))
        ctx.forget_edge(ent.id)


def _current_props(ctx, ent):
    return ctx.node(ent.id).properties if isinstance(ent, NodeRef) else ctx.edge(ent.id).properties


def _set_items(items, bound):
    env = CompileEnv(bound)
    out = []
    for it in items:
        if isinstance(it, A.SetProperty):
            subj = compile_expr(it.target.subject, env)
            key = it.target.key
            val = compile_expr(it.value, env)

            def f(row, ctx, subj=subj, key=key, val=val):
                ent = _entity(subj(row, ctx), "SET")
                v = val(row, ctx)
                if ent is None:
                    return
                if v is None:
                    _update(ctx, ent, remove=[key])
                else:
                    _update(ctx, ent, set_={key: _storable(v, key)})
            out.append(f)
        elif isinstance(it, (A.SetAll, A.SetMerge)):
            var, val, replace = it.var, compile_expr(it.value, env), isinstance(it, A.SetAll)

            def f(row, ctx, var=var, val=val, replace=replace):
                ent = _entity(row.get(var), "SET")
                m = val(row, ctx)
                if ent is None:
                    return
                if isinstance(m, (NodeRef, EdgeRef)):
                    m = dict(_current_props(ctx, m))
                if m is None:
                    m = {}
                if not isinstance(m, dict):
                    raise type_error(f"SET {var} {'=' if replace else '+='} expects a map, got {type_name(m)}")
                cur = _current_props(ctx, ent)
                remove = [k for k, v in m.items() if v is None]
                if replace:
                    remove += [k for k in cur if k not in m]
                _update(ctx, ent, set_={k: _storable(v, k) for k, v in m.items() if v is not None},
                        remove=[k for k in remove if k in cur])
            out.append(f)
        elif isinstance(it, A.SetLabels):
            def f(row, ctx, var=it.var, labels=list(it.labels)):
                ent = _entity(row.get(var), "SET")
                if ent is None:
                    return
                _update(ctx, ent, add_labels=labels)
            out.append(f)
        elif isinstance(it, A.RemoveLabels):
            def f(row, ctx, var=it.var, labels=list(it.labels)):
                ent = _entity(row.get(var), "REMOVE")
                if ent is None:
                    return
                have = ctx.node(ent.id).labels
                labs = [l for l in labels if l in have]
                if labs:
                    _update(ctx, ent, remove_labels=labs)
            out.append(f)
        elif isinstance(it, A.RemoveProperty):
            subj = compile_expr(it.target.subject, env)

            def f(row, ctx, subj=subj, key=it.target.key):
                ent = _entity(subj(row, ctx), "REMOVE")
                if ent is None:
                    return
                if key in _current_props(ctx, ent):
                    _update(ctx, ent, remove=[key])
            out.append(f)
    return out


def _set_op(items, bound):
    fns = _set_items(items, bound)

    def op(rows, ctx):
        for row in rows:
            ctx.tick()
            for f in fns:
                f(row, ctx)
            yield row
    return op


_remove_op = _set_op


def _delete_op(cl: A.Delete, bound):
    env = CompileEnv(bound)
    fns = [compile_expr(e, env) for e in cl.exprs]
    detach = cl.detach

    def op(rows, ctx):
        rows = list(rows)
        nodes, edges = [], []
        for row in rows:
            ctx.tick()
            for f in fns:
                v = f(row, ctx)
                if v is None:
                    continue
                if isinstance(v, NodeRef):
                    nodes.append(v.id)
                elif isinstance(v, EdgeRef):
                    edges.append(v.id)
                elif isinstance(v, PathVal):
                    edges.extend(v.edges)
                    nodes.extend(v.nodes)
                else:
                    raise type_error(f"DELETE expects a node, relationship or path, got {type_name(v)}",
                                     "InvalidArgumentType")
        for eid in edges:
            if eid in ctx.deleted_edges:
                continue
            ctx.deleted_edges.add(eid)
            ctx.tx.delete_edge(eid)
            ctx.forget_edge(eid)
        for nid in nodes:
            if nid in ctx.deleted_nodes:
                continue
            if detach:
                for e in ctx.edges_of(nid, "both", None):
                    ctx.deleted_edges.add(e.id)
                    ctx.forget_edge(e.id)
            try:
                ctx.tx.delete_node(nid, detach=detach)
            except IntegrityError as e:
                e.code, e.tck_type, e.phase = "DeleteConnectedNode", "ConstraintVerificationFailed", "runtime"
                raise
            ctx.deleted_nodes.add(nid)
            ctx.forget_node(nid)
        return iter(rows)
    return op
