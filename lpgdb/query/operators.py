"""Physical operators: a logical plan (logical.py) -> functions over batches of rows.

Owns: how each logical operator runs.  A built operator is ``run(ctx, batches) -> iterator of
batches``: it consumes the batches of its input (lists of rows; a row is a dict from variable
name to runtime value) and yields batches of up to ``BATCH`` rows.  An expansion makes one
native call per batch (``ctx.expand``), not one per row.

The operators are handed their compilers (``Compilers``: expression, predicate, subplan); they
never import the expression compiler, so expressions, planner and operators form no cycle.

Invariants:
  (1) every loop over graph data or over values a query built calls ``ctx.tick()``, and every
      materialisation calls ``ctx.charge()`` (limits, context.py);
  (2) within one MATCH a relationship is bound at most once per row (relationship
      isomorphism): each expansion skips the relationships bound by the ``unique`` columns;
  (3) candidate lists are materialised before they are iterated, so writes made later in the
      same query never disturb a running scan;
  (4) write operators go through the transaction's write API only.
Complexity: a scan is O(label count); an expansion O(sum of degrees of its input rows); a
hash join O(left + right); a cartesian product O(left x right) (computed once on the right).
"""
from __future__ import annotations

import csv
import dataclasses
import heapq
import itertools
import math
import operator
import os
import sys
import time

from ..errors import IntegrityError, OperationalError
from . import ast as A
from . import logical as L
from .context import ROW_BYTES, value_bytes
from .diagnostics import entity_not_found, runtime_semantic, semantic, type_error
from .runtime import _STORED_CONVERT, EdgeRef, NodeRef, PathVal, cy_eq, from_user, group_key, sort_key, stored
from .runtime import type_name
from .temporal import Temporal, to_python, to_python_if_exact

__all__ = ["Compilers", "build", "direct", "BATCH"]

BATCH = 512


class Compilers:
    """What operators use to compile the expressions and sub-plans inside them."""

    def __init__(self, expr, predicate, aggregates, env, compile, compile_pred, is_aggregate, children, walk,
                 profile=False):
        self.expr = expr                # (ast, bound names) -> f(row, ctx)
        self.predicate = predicate      # same, a bare pattern meaning "a match exists"
        self.aggregates = aggregates    # (functions.AGGREGATES, the count(*) accumulator class)
        self.env = env                  # (bound, aggregate placeholders) -> a compile environment
        self.compile = compile          # (ast, env) -> f(row, ctx)
        self.compile_pred = compile_pred
        self.is_aggregate = is_aggregate
        self.children = children
        self.walk = walk
        self.profile = profile          # wrap every operator with PROFILE's counters

    def build(self, op):
        return build(op, self)


def build(op: L.Op, C: Compilers):
    """The physical operator of ``op`` (and of everything below it)."""
    maker = _BUILDERS.get(type(op))
    if maker is None:
        raise TypeError(f"no physical operator for {op.name}")
    run = maker(op, C)
    return _profiled(op, run) if C.profile else run


def _profiled(op, run):
    def prun(ctx, batches):
        entry = ctx.profile.setdefault(id(op), [0, 0.0])
        it = run(ctx, batches)
        while True:
            t0 = time.perf_counter()
            try:
                b = next(it)
            except StopIteration:
                entry[1] += time.perf_counter() - t0
                return
            entry[1] += time.perf_counter() - t0
            entry[0] += len(b)
            yield b
    return prun


def _unary(op, C):
    return build(op.source, C)


def _rebatch(rows_iter):
    out = []
    for r in rows_iter:
        out.append(r)
        if len(out) >= BATCH:
            yield out
            out = []
    if out:
        yield out


# ---------------------------------------------------------------- leaves and scans
def _argument(op, C):
    def run(ctx, batches):
        return batches
    return run


def _empty(op, C):
    def run(ctx, batches):
        return iter(())
    return run


def _node_checker(np, C, bound, skip_labels=()):
    """check(node_id, row, ctx) -> bool, or None when the pattern puts no condition on it."""
    labels = [l for l in np.labels if l not in skip_labels]
    props = _props_checker(np.props, C, bound)
    if not labels and props is None:
        return None

    def check(nid, row, ctx):
        node = ctx.node(nid)
        if labels:
            have = node.labels
            for lab in labels:
                if lab not in have:
                    return False
        return props is None or props(node.properties, row, ctx)
    return check


def _props_checker(props, C, bound):
    if props is None:
        return None
    if isinstance(props, A.MapLit):
        items = [(k, C.expr(v, bound)) for k, v in props.items]

        def check(pmap, row, ctx):
            for k, f in items:
                if cy_eq(stored(pmap.get(k)), f(row, ctx)) is not True:
                    return False
            return True
        return check
    f = C.expr(props, bound)

    def check_param(pmap, row, ctx):
        want = f(row, ctx)
        if want is None:
            return False
        for k, v in want.items():
            if cy_eq(stored(pmap.get(k)), v) is not True:
                return False
        return True
    return check_param


def _bound_of(op):
    """Names bound in the rows an operator consumes (for compiling its expressions)."""
    out = set()
    for o in L.walk(op):
        for attr in ("var", "rel_var", "dst", "src", "mids_var", "path_var", "out_var"):
            v = getattr(o, attr, None)
            if isinstance(v, str) and v:
                out.add(v)
        for attr in ("bound", "columns", "new_vars"):
            v = getattr(o, attr, None)
            if isinstance(v, list):
                out.update(x for x in v if isinstance(x, str))
    return out


def _scan(op, C):
    src = _unary(op, C)
    var = op.var
    skip = [op.label] if op.label else []
    check = _node_checker(op.pattern, C, _bound_of(op), skip)
    label = op.label

    def run(ctx, batches):
        cands = None
        for batch in src(ctx, batches):
            out = []
            for row in batch:
                if cands is None:
                    cands = ctx.scan(label)
                if var in row:                       # bound at run time (e.g. by an outer row)
                    cur = row[var]
                    if isinstance(cur, NodeRef) and cur.id in set(cands) and (check is None or check(cur.id, row, ctx)):
                        out.append(row)
                    continue
                for nid in cands:
                    ctx.tick()
                    if check is not None and not check(nid, row, ctx):
                        continue
                    r = row.copy()
                    r[var] = NodeRef(nid)
                    out.append(r)
                    if len(out) >= BATCH:
                        yield out
                        out = []
            if out:
                yield out
    return run


def _seek_nodes(op, C):
    """nodes(row, ctx) -> ids of the nodes a NodeIndexSeek finds for ``row`` (label and pattern
    checked).  Complexity: one hash probe + O(matches), or a label scan when no index exists at
    run time.

    An index answers exactly the nodes with the label whose key equals the value (key equality
    is the query language's ``=`` on storable values), so its answer is only checked against
    the rest of the pattern; the scan's answer is checked against all of it."""
    label, key = op.label, op.key
    bound = _bound_of(op)
    value = C.expr(op.value, bound)
    np = op.pattern
    check = _node_checker(np, C, bound, [label])
    rest = np
    if isinstance(np.props, A.MapLit):
        items = [(k, v) for k, v in np.props.items if not (k == key and v is op.value)]
        if len(items) < len(np.props.items):
            rest = dataclasses.replace(np, props=A.MapLit(items) if items else None)
    rest_check = _node_checker(rest, C, bound, [label])
    param = op.value.name if type(op.value) is A.Param else None   # bound by then: no getter call

    def nodes(row, ctx):
        v = ctx.params[param] if param is not None else value(row, ctx)
        want = v
        t = type(v)
        if t is not int and t is not str:
            if v is None:
                return []
            if isinstance(v, Temporal):
                v = to_python_if_exact(v)
            elif isinstance(v, (NodeRef, EdgeRef, PathVal, dict)):
                return []                              # not a storable value: nothing matches
        ids = ctx.tx.key_lookup(label, key, v)
        if ids is not None:
            if rest_check is None:
                ctx._ticks += len(ids)         # ctx.tick(len(ids)), inline: the point-lookup path
                if ctx._ticks >= ctx._next_check:
                    ctx.tick(0)
                return ids
            out = []
            for nid in ids:
                ctx.tick()
                if rest_check(nid, row, ctx):
                    out.append(nid)
            return out
        # no index at run time: scan the label, comparing the key (the seek may stand for a WHERE
        # equality the planner dropped) and checking the rest of the pattern
        out = []
        for nid in ctx.scan(label):
            ctx.tick()
            if cy_eq(stored(ctx.node(nid).properties.get(key)), want) is True and (
                    check is None or check(nid, row, ctx)):
                out.append(nid)
        return out
    # (label, key, parameter) when the seek is exactly "the nodes under the index on (label, key)
    # for $parameter": what a point run (PreparedQuery.fast) may do without the pipeline
    nodes.point = (label, key, param) if rest_check is None and param is not None else None
    return nodes


def _seek(op, C):
    src = _unary(op, C)
    var = op.var
    nodes = _seek_nodes(op, C)

    def run(ctx, batches):
        for batch in src(ctx, batches):
            out = []
            for row in batch:
                for nid in nodes(row, ctx):
                    if var in row:
                        cur = row[var]
                        if isinstance(cur, NodeRef) and cur.id == nid:
                            out.append(row)
                        continue
                    r = row.copy()
                    r[var] = NodeRef(nid)
                    out.append(r)
            if out:
                yield out
    return run


def _node_check(op, C):
    src = _unary(op, C)
    var = op.var
    check = _node_checker(op.pattern, C, _bound_of(op))

    def run(ctx, batches):
        for batch in src(ctx, batches):
            out = []
            for row in batch:
                cur = row.get(var)
                if not isinstance(cur, NodeRef) or not ctx.has_node(cur.id):
                    continue
                if check is None or check(cur.id, row, ctx):
                    out.append(row)
            if out:
                yield out
    return run


# ---------------------------------------------------------------- expansion
def _hops_fn(rel, direction, C, bound):
    """hops(ctx, [node ids], rows) -> (nbrs, eids, from_index): batched when it can be."""
    types = list(rel.types)
    rel_props = _props_checker(rel.props, C, bound)
    type_set = set(types)

    def slow(ctx, ids, rows):
        nbrs, eids, frm = [], [], []
        for i, nid in enumerate(ids):
            for e in ctx.edges_of(nid, direction, types[0] if len(types) == 1 else None):
                if type_set and not (e.labels & type_set):
                    continue
                if rel_props is not None and not rel_props(e.properties, rows[i], ctx):
                    continue
                eids.append(e.id)
                nbrs.append(e.dst if direction == "out" else e.src if direction == "in"
                            else (e.dst if e.src == nid else e.src))
                frm.append(i)
        return nbrs, eids, frm

    if rel_props is not None:
        return slow

    def fast(ctx, ids, rows):
        exp = ctx.expand
        if exp is None:
            return slow(ctx, ids, rows)
        if len(types) <= 1:
            return exp(ids, direction, types[0] if types else None)
        nbrs, eids, frm, seen = [], [], [], set()
        for t in types:
            n2, e2, f2 = exp(ids, direction, t)
            for n, e, f in zip(n2, e2, f2):
                if (f, e) not in seen:
                    seen.add((f, e))
                    nbrs.append(n), eids.append(e), frm.append(f)
        return nbrs, eids, frm
    return fast


def _used_edges(row, unique):
    used = None
    for u in unique:
        v = row.get(u)
        if v is None:
            continue
        if used is None:
            used = set()
        if isinstance(v, EdgeRef):
            used.add(v.id)
        elif isinstance(v, list):
            used.update(x.id for x in v if isinstance(x, EdgeRef))
    return used


def _expand(op, C):
    src = _unary(op, C)
    bound = _bound_of(op)
    hops = _hops_fn(op.rel, op.direction, C, bound)
    check = _node_checker(op.dst_pattern, C, bound)
    s, rv, d, into, unique = op.src, op.rel_var, op.dst, op.into, op.unique

    def run(ctx, batches):
        for batch in src(ctx, batches):
            rows, ids = [], []
            for row in batch:
                cur = row.get(s)
                if isinstance(cur, NodeRef):
                    rows.append(row)
                    ids.append(cur.id)
            if not ids:
                continue
            nbrs, eids, frm = hops(ctx, ids, rows)
            ctx.tick(len(eids) // 8 + 1)
            out = []
            last_i, used = -1, None
            for nxt, eid, i in zip(nbrs, eids, frm):
                row = rows[i]
                if i != last_i:
                    last_i = i
                    used = _used_edges(row, unique) if unique else None
                if used is not None and eid in used:
                    continue
                if rv in row:
                    cur = row[rv]
                    if not isinstance(cur, EdgeRef) or cur.id != eid:
                        continue
                    r = row
                else:
                    r = None
                if into or d in row:
                    cur = row.get(d)
                    if not isinstance(cur, NodeRef) or cur.id != nxt:
                        continue
                if check is not None and not check(nxt, row, ctx):
                    continue
                if r is None:
                    r = row.copy()
                    r[rv] = EdgeRef(eid)
                else:
                    r = row.copy()
                if d not in r:
                    r[d] = NodeRef(nxt)
                out.append(r)
                if len(out) >= BATCH:
                    yield out
                    out = []
            if out:
                yield out
    return run


_PATH_CELLS = 1 << 14   # a batch of variable-length rows ends at this many relationships in their
# paths: a batch of BATCH trails a thousand hops long held 1.5M objects, built between two clock
# reads (timeouts) and freed at once (a 100+ ms pause past the deadline on a 40-node clique)


def _var_expand(op, C):
    src = _unary(op, C)
    bound = _bound_of(op)
    hops = _hops_fn(op.rel, op.direction, C, bound)
    check = _node_checker(op.dst_pattern, C, bound)
    s, rv, d, mv, unique = op.src, op.rel_var, op.dst, op.mids_var, op.unique
    lo, hi, reverse = op.lo, op.hi, op.reverse

    def run(ctx, batches):
        for batch in src(ctx, batches):
            out, cells = [], 0             # cells: the relationships in out's paths
            for row in batch:
                cur = row.get(s)
                if not isinstance(cur, NodeRef):
                    continue
                used = _used_edges(row, unique) or set()
                bound_list = row.get(rv) if rv in row else None
                stack_e, stack_n = [], []      # the trail to the node yielded: its edges, its nodes

                def walk(start):
                    """Every trail from ``start`` (no edge twice) of lo..hi hops: yields its last
                    node, with the trail in stack_e / stack_n.  Depth-first with an explicit stack
                    of neighbour iterators, so a step costs O(1) whatever the depth (a recursive
                    generator passed each node up through every level), and the trail's edges
                    are also a set (membership was a scan of the trail)."""
                    ctx.tick()
                    if lo <= 0:
                        yield start
                    if hi is not None and hi <= 0:
                        return
                    on_trail = set()
                    nbrs, eids, _ = hops(ctx, [start], [row])
                    frames = [zip(nbrs, eids)]
                    while frames:
                        for nxt, eid in frames[-1]:
                            if eid not in used and eid not in on_trail:
                                break
                        else:                      # this node's neighbours are done: step back
                            frames.pop()
                            if stack_e:
                                on_trail.discard(stack_e.pop())
                                stack_n.pop()
                            continue
                        stack_e.append(eid)
                        stack_n.append(nxt)
                        on_trail.add(eid)
                        ctx.tick()
                        depth = len(stack_e)
                        if depth >= lo:
                            yield nxt
                        if hi is not None and depth >= hi:
                            on_trail.discard(stack_e.pop())
                            stack_n.pop()
                            continue
                        nbrs, eids, _ = hops(ctx, [nxt], [row])
                        frames.append(zip(nbrs, eids))

                for end in walk(cur.id):
                    if d in row:
                        b = row[d]
                        if not isinstance(b, NodeRef) or b.id != end:
                            continue
                    if check is not None and not check(end, row, ctx):
                        continue
                    eids = list(stack_e)
                    mids = list(stack_n[:-1])
                    if reverse:
                        eids.reverse()
                        mids.reverse()
                    if bound_list is not None:
                        if not isinstance(bound_list, list) or [getattr(x, "id", None) for x in bound_list] != eids:
                            continue
                    r = row.copy()
                    r[rv] = [EdgeRef(x) for x in eids]
                    r[mv] = mids
                    if d not in r:
                        r[d] = NodeRef(end)
                    ctx.charge(ROW_BYTES + 40 * len(eids))
                    ctx.tick(len(eids) // 8)         # a long path's row is long work: read the clock sooner
                    out.append(r)
                    cells += len(eids)
                    if len(out) >= BATCH or cells >= _PATH_CELLS:
                        yield out
                        out, cells = [], 0
            if out:
                yield out
    return run


def _build_path(op, C):
    src = _unary(op, C)
    var, nodes, rels = op.var, op.nodes, op.rels

    def run(ctx, batches):
        for batch in src(ctx, batches):
            out = []
            for row in batch:
                ns = [row[nodes[0]].id]
                es = []
                for j, (rv, mv) in enumerate(rels):
                    e = row[rv]
                    if isinstance(e, list):
                        if e:
                            es.extend(x.id for x in e)
                            ns.extend(row[mv] if mv else [])
                            ns.append(row[nodes[j + 1]].id)
                    else:
                        es.append(e.id)
                        ns.append(row[nodes[j + 1]].id)
                r = row.copy()
                r[var] = PathVal(ns, es)
                out.append(r)
            yield out
    return run


def _reach(ctx, starts, hops, direction, label) -> int:
    """How many distinct nodes the walks of exactly ``hops`` edges from the nodes ``starts``
    reach, each start itself excluded from its own reach: one native call for one start."""
    if len(starts) == 1:
        return ctx.tx.count_reach(starts[0], hops, direction, label)
    reach = set()
    for a in starts:
        frontier = [a]
        for _ in range(hops):
            ctx.tick()
            frontier = sorted(set(ctx.expand(frontier, direction, label)[0]))
        reach.update(x for x in frontier if x != a)
    return len(reach)


def _count_reach(op, C):
    src = _unary(op, C)
    s, hops, direction, out_var = op.src, op.hops, op.direction, op.out_var
    label = op.types[0] if op.types else None

    def run(ctx, batches):
        starts = []
        for batch in src(ctx, batches):
            for row in batch:
                v = row.get(s)
                if isinstance(v, NodeRef):
                    starts.append(v.id)
        yield [{out_var: _reach(ctx, starts, hops, direction, label)}]
    return run


_COMPARE = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "=": operator.eq,
            "<>": operator.ne}     # on two numbers (DegreeCount); C functions, no frame per node
_DEGREE_BATCH = 4096


def _degree_count(op, C):
    """The nodes' degrees (DegreeCount): one ``degree_many`` call per batch of nodes.  Over a
    plain label scan the ids are read straight from the scan (no row per node)."""
    var, out, direction = op.var, op.out_var, op.direction
    label = op.types[0] if op.types else None
    s = op.source
    scan = (type(s) is L.NodeScan and type(s.source) is L.Argument and not s.source.bound
            and _node_checker(s.pattern, C, (), [s.label] if s.label else []) is None)
    src = None if scan else _unary(op, C)
    cmp = _COMPARE[op.cmp] if op.cmp is not None else None
    bound_fn = C.expr(op.bound, ()) if op.bound is not None else None
    where = C.predicate(A.Compare([A.Var(out), op.bound], [op.cmp]), {var, out}) if op.cmp is not None else None

    def emit(ctx, ids, t):
        degs = ctx.tx.degree_many(ids, direction, label)
        ctx.tick(len(ids) // 8 + 1)
        if cmp is None:
            rows = [{var: NodeRef(i), out: n} for i, n in zip(ids, degs) if n]
        elif t is not None:
            rows = [{var: NodeRef(i), out: n} for i, n in zip(ids, degs) if n and cmp(n, t)]
        else:                                # not a number: the query language's comparison
            rows = [r for r in ({var: NodeRef(i), out: n} for i, n in zip(ids, degs) if n)
                    if where(r, ctx) is True]
        ctx.charge(ROW_BYTES * len(rows))
        return rows

    def run(ctx, batches):
        t = None
        if bound_fn is not None:
            t = bound_fn(_EMPTY_ROW, ctx)
            if type(t) not in (int, float):
                t = None
        if scan:
            for _ in batches:
                ids = ctx.scan(s.label)
                for k in range(0, len(ids), _DEGREE_BATCH):
                    rows = emit(ctx, ids[k:k + _DEGREE_BATCH], t)
                    for j in range(0, len(rows), BATCH):
                        yield rows[j:j + BATCH]
            return
        for batch in src(ctx, batches):
            ids = [r[var].id for r in batch if type(r.get(var)) is NodeRef]
            rows = emit(ctx, ids, t) if ids else []
            if rows:
                yield rows
    return run


def _shortest(op, C):
    src = _unary(op, C)
    bound = _bound_of(op)
    rel = op.rel
    hops = _hops_fn(rel, op.direction, C, bound)
    lo, hi = rel.length if rel.length is not None else (1, 1)
    a, b, pv, rv, all_paths = op.src, op.dst, op.path_var, op.rel_var, op.all_paths

    def paths_between(ctx, row, s, t):
        if s == t:
            return [([s], [])] if lo == 0 else []
        parents = {s: []}
        frontier = [s]
        depth = 0
        found = False
        while frontier and not found and (hi is None or depth < hi):
            depth += 1
            nbrs, eids, frm = hops(ctx, frontier, [row] * len(frontier))
            ctx.tick(len(eids) // 8 + 1)
            nxt_level = {}
            for n, e, i in zip(nbrs, eids, frm):
                if n in parents:
                    continue
                nxt_level.setdefault(n, []).append((frontier[i], e))
                if n == t:
                    found = True
            for n, ps in nxt_level.items():
                parents[n] = ps
            ctx.charge(len(nxt_level) * 64)
            frontier = list(nxt_level)
        if not found or depth < lo:
            return []
        out = []

        def back(n, ns, es):
            if n == s:
                out.append((list(reversed(ns)), list(reversed(es))))
                return len(out) >= 1 and not all_paths
            for p, e in parents[n]:
                ns.append(p)
                es.append(e)
                stop = back(p, ns, es)
                ns.pop()
                es.pop()
                if stop:
                    return True
            return False
        back(t, [t], [])
        return out

    def run(ctx, batches):
        for batch in src(ctx, batches):
            out = []
            for row in batch:
                x, y = row.get(a), row.get(b)
                if not isinstance(x, NodeRef) or not isinstance(y, NodeRef):
                    continue
                for ns, es in paths_between(ctx, row, x.id, y.id):
                    r = row.copy()
                    r[pv] = PathVal(ns, es)
                    r[rv] = [EdgeRef(e) for e in es]
                    out.append(r)
            if out:
                yield out
    return run


# ---------------------------------------------------------------- filters and joins
def _filter(op, C):
    src = _unary(op, C)
    bound = _bound_of(op)
    preds = [C.predicate(p, bound) for p in op.predicates]
    if len(preds) == 1:
        p0 = preds[0]

        def run1(ctx, batches):
            for batch in src(ctx, batches):
                out = [row for row in batch if p0(row, ctx) is True]
                ctx.tick(len(batch) // 8 + 1)
                if out:
                    yield out
        return run1

    def run(ctx, batches):
        for batch in src(ctx, batches):
            out = []
            for row in batch:
                for p in preds:
                    if p(row, ctx) is not True:
                        break
                else:
                    out.append(row)
            ctx.tick(len(batch) // 8 + 1)
            if out:
                yield out
    return run


def _rels_distinct(op, C):
    src = _unary(op, C)
    left, right = op.left, op.right

    def run(ctx, batches):
        for batch in src(ctx, batches):
            out = []
            for row in batch:
                used = _used_edges(row, left)
                if used and not used.isdisjoint(_used_edges(row, right) or ()):
                    continue
                out.append(row)
            ctx.tick(len(batch) // 8 + 1)
            if out:
                yield out
    return run


def _materialise(ctx, run):
    rows = []
    for batch in run(ctx, iter([[{}]])):
        rows.extend(batch)
        ctx.charge(ROW_BYTES * len(batch))
    return rows


def _product(op, C):
    left = _unary(op, C)
    right = build(op.right, C)

    def run(ctx, batches):
        rrows = None
        for batch in left(ctx, batches):
            if rrows is None:
                rrows = _materialise(ctx, right)
            out = []
            for row in batch:
                for rr in rrows:
                    ctx.tick()
                    r = row.copy()
                    r.update(rr)
                    out.append(r)
                    if len(out) >= BATCH:
                        yield out
                        out = []
            if out:
                yield out
    return run


def _join_key(v):
    """A hashable key equal for two values iff Cypher's ``=`` says true; None if ``=`` can never
    be true for ``v`` (null, NaN, or a list/map holding one)."""
    if v is None:
        return None
    t = type(v)
    if t is float and math.isnan(v):
        return None
    if t is list:
        out = []
        for x in v:
            k = _join_key(x)
            if k is None:
                return None
            out.append(k)
        return ("l", tuple(out))
    if t is dict:
        out = []
        for k2 in sorted(v):
            k = _join_key(v[k2])
            if k is None:
                return None
            out.append((k2, k))
        return ("m", tuple(out))
    return group_key(v)


def _hash_join(op, C):
    left = _unary(op, C)
    right = build(op.right, C)
    lbound, rbound = _bound_of(op.source), _bound_of(op.right)
    lk = [C.expr(e, lbound) for e in op.left_keys]
    rk = [C.expr(e, rbound) for e in op.right_keys]
    # keys that are a node's property (a.name = b.name): read for many rows in one native call
    lfetch = [(i, e.subject.name, e.key) for i, e in enumerate(op.left_keys)
              if type(e) is A.Prop and type(e.subject) is A.Var]
    rfetch = [(i, e.subject.name, e.key) for i, e in enumerate(op.right_keys)
              if type(e) is A.Prop and type(e.subject) is A.Var]

    def keys(fns, fetch, rows, ctx):
        """The join key of each row (None: a null in it, so it joins nothing)."""
        cols = _property_columns(ctx, rows, fetch, len(fns)) if fetch else [None] * len(fns)
        out = []
        for j, row in enumerate(rows):
            ks = []
            for f, col in zip(fns, cols):
                v = None if col is None else col[j]
                k = _join_key(f(row, ctx) if v is None else v)
                if k is None:
                    ks = None
                    break
                ks.append(k)
            out.append(None if ks is None else tuple(ks))
        return out

    def run(ctx, batches):
        table = None
        for batch in left(ctx, batches):
            if table is None:
                table = {}
                rrows = _materialise(ctx, right)
                for rr, k in zip(rrows, keys(rk, rfetch, rrows, ctx)):
                    if k is not None:
                        table.setdefault(k, []).append(rr)
            out = []
            for row, k in zip(batch, keys(lk, lfetch, batch, ctx)):
                ctx.tick()
                if k is None:
                    continue
                for rr in table.get(k, ()):
                    r = row.copy()
                    r.update(rr)
                    out.append(r)
                if len(out) >= BATCH:
                    yield out
                    out = []
            if out:
                yield out
    return run


def _optional(op, C):
    src = _unary(op, C)
    inner = build(op.inner, C)
    new_vars = op.new_vars

    def run(ctx, batches):
        for batch in src(ctx, batches):
            out = []
            for row in batch:
                found = False
                for b in inner(ctx, iter([[row]])):
                    if b:
                        found = True
                        out.extend(b)
                if not found:
                    r = row.copy()
                    for v in new_vars:
                        r[v] = None
                    out.append(r)
                if len(out) >= BATCH:
                    yield out
                    out = []
            if out:
                yield out
    return run


# ---------------------------------------------------------------- row sources
def _unwind(op, C):
    src = _unary(op, C)
    f = C.expr(op.expr, _bound_of(op.source))
    var = op.var

    def run(ctx, batches):
        for batch in src(ctx, batches):
            out = []
            for row in batch:
                v = f(row, ctx)
                if v is None:
                    continue
                items = v if isinstance(v, list) else [v]
                for x in items:
                    ctx.tick()
                    r = row.copy()
                    r[var] = x
                    out.append(r)
                    if len(out) >= BATCH:
                        yield out
                        out = []
            if out:
                yield out
    return run


def _load_csv(op, C):
    src = _unary(op, C)
    url = C.expr(op.url, _bound_of(op.source))
    var, headers, sep = op.var, op.headers, op.fieldterminator or ","

    def run(ctx, batches):
        for batch in src(ctx, batches):
            out = []
            for row in batch:
                path = resolve_import_path(ctx, url(row, ctx))
                try:
                    with open(path, newline="", encoding="utf-8-sig") as fh:
                        reader = csv.reader(fh, delimiter=sep, strict=True)
                        cols = next(reader, None) if headers else None
                        for rec in reader:
                            ctx.tick()
                            if headers:
                                val = {k: (rec[i] if i < len(rec) and rec[i] != "" else None)
                                       for i, k in enumerate(cols)}
                            else:
                                val = list(rec)
                            ctx.charge(value_bytes(val))
                            r = row.copy()
                            r[var] = val
                            out.append(r)
                            if len(out) >= BATCH:
                                yield out
                                out = []
                except (OSError, UnicodeDecodeError, csv.Error) as e:
                    raise OperationalError(f"LOAD CSV could not read {path!r}: {e}") from None
            if out:
                yield out
    return run


def resolve_import_path(ctx, url):
    """The file a LOAD CSV url names, inside the database's ``import_dir`` only."""
    root = ctx.options.get("import_dir")
    if root is None:
        raise OperationalError("LOAD CSV is off: open the database with connect(..., import_dir=DIR) to allow "
                               "reading CSV files under DIR")
    if not isinstance(url, str):
        raise type_error(f"LOAD CSV expects a string URL, got {type_name(url)}")
    name = url[len("file://"):] if url.startswith("file://") else url
    if "://" in name:
        raise OperationalError(f"LOAD CSV reads local files only (under import_dir), not {url!r}")
    name = name.lstrip("/")
    if "\x00" in name:
        raise OperationalError(f"LOAD CSV: no file name holds a NUL character (\\x00): {url!r}")
    root = os.path.realpath(root)
    path = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, path]) != root:
        raise OperationalError(f"LOAD CSV may only read files under import_dir {root!r}; {url!r} is outside it")
    return path


# ---------------------------------------------------------------- projection
class _Desc:
    __slots__ = ("k",)

    def __init__(self, k):
        self.k = k

    def __lt__(self, other):
        return other.k < self.k

    def __eq__(self, other):
        return self.k == other.k


def _order_key(v, desc, flip):
    """The sort key of ``v`` for one ORDER BY item: Cypher's order (null after every value),
    reversed for DESC; ``flip`` puts null at the other end (NULLS FIRST / NULLS LAST)."""
    k = sort_key(v)
    if flip:
        k = (v is not None, k)
    return _Desc(k) if desc else k


def _find_aggregates(e, out, C):
    if C.is_aggregate(e):
        for sub in (e.args if isinstance(e, A.FuncCall) else []):
            if any(C.is_aggregate(x) for x in C.walk(sub)):
                raise semantic("aggregate functions cannot be nested", "NestedAggregation")
        out.append(e)
        return
    for c in C.children(e):
        _find_aggregates(c, out, C)


def _projection(op, C):
    src = _unary(op, C)
    p, where, bound = op.projection, op.where, list(op.bound)
    items = []
    if p.star:
        for name in sorted(v for v in bound if not v.startswith(" ")):
            items.append(A.ProjItem(A.Var(name), name, False))
    items.extend(p.items)
    names = [it.name for it in items]
    agg_nodes, order_aggs = [], []
    for it in items:
        _find_aggregates(it.expr, agg_nodes, C)
    for e, *_ in p.order:
        _find_aggregates(e, order_aggs, C)
    aggregating = bool(agg_nodes)
    if order_aggs and not aggregating:
        raise semantic("ORDER BY uses an aggregate but the projection does not aggregate", "InvalidAggregation")
    all_aggs = agg_nodes + order_aggs
    agg_keys = {id(a): f" agg{i}" for i, a in enumerate(all_aggs)}
    base = C.env(bound)
    env = C.env(bound, agg_keys)
    item_fns = [C.compile(it.expr, env) for it in items]
    order_env = C.env(set(bound) | set(names), agg_keys)
    # (key function, descending, nulls flipped: NULLS FIRST ascending or NULLS LAST descending,
    # where null is not where the order of values puts it: after all values)
    order_fns = [(C.compile(e, order_env), desc, nulls == ("last" if desc else "first"))
                 for e, desc, nulls in p.order]
    skip_fn = C.compile(p.skip, C.env(())) if p.skip is not None else None
    limit_fn = C.compile(p.limit, C.env(())) if p.limit is not None else None
    where_fn = C.compile_pred(where, order_env) if where is not None else None
    AGG, CountStar = C.aggregates
    specs = []
    for a in all_aggs:
        if isinstance(a, A.CountStar):
            specs.append((agg_keys[id(a)], None, None, CountStar, False, "count"))
        else:
            arg = C.compile(a.args[0], base) if a.args else None
            extra = C.compile(a.args[1], base) if len(a.args) > 1 else None
            specs.append((agg_keys[id(a)], arg, extra, AGG[a.name], a.distinct, a.name))
    # aggregates of a node's property (avg(n.age)): read per batch in one native call
    fetch = [(i, a.args[0].subject.name, a.args[0].key) for i, a in enumerate(all_aggs)
             if not isinstance(a, A.CountStar) and len(a.args) == 1 and type(a.args[0]) is A.Prop
             and type(a.args[0].subject) is A.Var]
    no_cols = [None] * len(specs)
    key_idx = [i for i, it in enumerate(items) if not any(C.is_aggregate(x) for x in C.walk(it.expr))]
    key_pos = {i: n for n, i in enumerate(key_idx)}
    nitems = len(names)
    collects = [i for i, s in enumerate(specs) if s[5] == "collect"]

    def project_rows(ctx, batches):
        if not aggregating:
            for batch in src(ctx, batches):
                ctx.tick(len(batch) // 4 + 1)
                for row in batch:
                    out = {n: f(row, ctx) for n, f in zip(names, item_fns)}
                    env_row = row.copy()
                    env_row.update(out)
                    yield out, env_row
            return
        groups = {}
        for batch in src(ctx, batches):
            ctx.tick(len(batch) // 4 + 1)
            cols = _property_columns(ctx, batch, fetch, len(specs)) if fetch else no_cols
            for j, row in enumerate(batch):
                kvals = [item_fns[i](row, ctx) for i in key_idx]
                k = tuple(group_key(v) for v in kvals)
                g = groups.get(k)
                if g is None:
                    g = groups[k] = (row, kvals, [(cls(d, n) if arg is not None or n != "count" else cls())
                                                  for _, arg, _, cls, d, n in specs])
                    ctx.charge(ROW_BYTES + 64 * len(specs))
                for (key, arg, extra, _, _, _), acc, col in zip(specs, g[2], cols):
                    if arg is None:
                        acc.add(None)
                    else:
                        v = None if col is None else col[j]
                        if v is None:             # not read ahead, or absent: as the expression says
                            v = arg(row, ctx)
                        acc.add(v, extra(row, ctx) if extra is not None else None)
                for ci in collects:
                    ctx.charge(40)
        if not groups and not key_idx:
            groups[()] = ({}, [], [(cls(d, n) if arg is not None or n != "count" else cls())
                                   for _, arg, _, cls, d, n in specs])
        for first, kvals, accs in groups.values():
            ctx.tick()
            env_row = dict(first)
            for (key, _, _, _, _, _), acc in zip(specs, accs):
                env_row[key] = acc.result()
            out = {}
            for i in range(nitems):
                n = names[i]
                if i in key_pos:
                    out[n] = kvals[key_pos[i]]
                else:
                    out[n] = item_fns[i](env_row, ctx)
            env_row.update(out)
            yield out, env_row

    distinct, drain = p.distinct, op.drain

    def run(ctx, batches):
        pairs = project_rows(ctx, batches)
        if drain:
            pairs = list(pairs)
        if distinct:
            pairs = _distinct(pairs, names, ctx)
        skip = _count_arg(skip_fn, ctx, "SKIP") if skip_fn else 0
        limit = _count_arg(limit_fn, ctx, "LIMIT") if limit_fn else None
        if order_fns:
            def sk(pr):
                return tuple(_order_key(f(pr[1], ctx), desc, flip) for f, desc, flip in order_fns)
            if limit is not None:
                pairs = heapq.nsmallest(skip + limit, _ticking(pairs, ctx), key=sk)
            else:
                pairs = list(_ticking(pairs, ctx))
                ctx.charge(ROW_BYTES * len(pairs))
                pairs.sort(key=sk)
        if skip or limit is not None:
            big = sys.maxsize      # islice's bound; no result has that many rows
            pairs = itertools.islice(pairs, min(skip, big), None if limit is None else min(skip + limit, big))
        if where_fn is not None:
            pairs = (pr for pr in pairs if where_fn(pr[1], ctx) is True)
        return _rebatch(pr[0] for pr in pairs)
    return run


def _property_columns(ctx, batch, fetch, n):
    """For each expression of ``fetch`` ((index, var, key): ``var.key``, an aggregate's argument
    or a join key), the property of every row's node in one native call (``property_many``), or
    None where the rows do not all hold a node.  Read-only runs only (a query's own deletes are not in the store's columns).
    A None in a column means "ask the expression" (an absent property, or a node that is not in
    the graph, which the expression reports)."""
    cols = [None] * n
    if not ctx.readonly:
        return cols
    conv = _STORED_CONVERT
    for i, var, key in fetch:
        ids = []
        for row in batch:
            v = row.get(var)
            if type(v) is not NodeRef:
                break
            ids.append(v.id)
        else:
            vals = ctx.tx.property_many(ids, key)
            cols[i] = [from_user(x) if type(x) in conv else x for x in vals]
    return cols


def direct(root: L.ProduceResults, C):
    """``rows(ctx) -> [tuple]`` for the simplest plans, run without the batch pipeline: a
    projection (no aggregation, DISTINCT, ORDER BY or WITH ... WHERE; SKIP and LIMIT allowed)
    of filters over one index seek, or over nothing (``RETURN $x + 1``).  These are the point
    queries whose cost is the per-call floor; every other plan returns None and runs through
    the operators.  The rows and limits are exactly those of the operator pipeline."""
    proj = root.source
    if type(proj) is L.CountReach:
        return _direct_reach(proj, C)
    if type(proj) is not L.Projection:
        return None
    p = proj.projection
    if p.distinct or p.order or proj.where is not None:
        return None
    preds = []
    op = proj.source
    while type(op) is L.Filter:
        bound = _bound_of(op)
        preds[:0] = [C.predicate(x, bound) for x in op.predicates]
        op = op.source
    seek = var = None
    if type(op) is L.NodeIndexSeek:
        seek, var = _seek_nodes(op, C), op.var
        op = op.source
    if type(op) is not L.Argument or op.bound:
        return None
    items = []
    if p.star:
        items = [A.ProjItem(A.Var(n), n, False) for n in sorted(v for v in proj.bound if not v.startswith(" "))]
    items.extend(p.items)
    env = C.env(list(proj.bound))
    fns = [C.compile(it.expr, env) for it in items]
    skip_fn = C.compile(p.skip, C.env(())) if p.skip is not None else None
    limit_fn = C.compile(p.limit, C.env(())) if p.limit is not None else None
    window = skip_fn is not None or limit_fn is not None

    def rows(ctx):
        if window:
            skip = _count_arg(skip_fn, ctx, "SKIP") if skip_fn else 0
            limit = _count_arg(limit_fn, ctx, "LIMIT") if limit_fn else None
        if seek is None:
            row = {}
            out = [tuple([f(row, ctx) for f in fns])] if all(q(row, ctx) is True for q in preds) else []
        else:
            out = []
            for nid in seek(_EMPTY_ROW, ctx):
                row = {var: NodeRef(nid)}
                for q in preds:
                    if q(row, ctx) is not True:
                        break
                else:
                    ctx.charge(ROW_BYTES)
                    out.append(tuple([f(row, ctx) for f in fns]))
        if window:
            out = out[skip:] if limit is None else out[skip:skip + limit]
        return out

    if seek is None and not preds and not window and len(fns) == 1:
        f0 = fns[0]

        def one(ctx):                    # RETURN <expr>: the per-call floor
            return [(f0(_EMPTY_ROW, ctx),)]
        return one
    if seek is not None and not preds and not window:
        return _point(seek, var, items, fns)
    return rows


def _point(seek, var, items, fns):
    """``rows(ctx)`` of ``MATCH (n:L {key: $v}) RETURN n.a, n.b, ...`` (a projection over an
    index seek): each ``n.prop`` item reads the sought node's properties once per row; other
    items are evaluated on a row as usual (built only when there are some)."""
    cols = []          # per item: a property name (str) of the sought node, or the compiled item
    for it, f in zip(items, fns):
        e = it.expr
        if type(e) is A.Prop and type(e.subject) is A.Var and e.subject.name == var:
            cols.append(e.key)
        else:
            cols.append(f)
    general = any(type(c) is not str for c in cols)
    conv = _STORED_CONVERT

    def point(ctx):
        ids = seek(_EMPTY_ROW, ctx)
        if not ids:
            return []
        ctx.charge(ROW_BYTES * len(ids))
        seen, node_raw = ctx._nodes, ctx.tx.node_raw    # each node is read once: no caching
        out = []
        for i, nid in enumerate(ids):
            if i & 1023 == 1023:
                ctx.check_time()
            n = seen.get(nid) or node_raw(nid)
            if n is None:
                raise entity_not_found(f"node {nid} was deleted or does not exist")
            props = n[1]
            if general:
                row = {var: NodeRef(nid)}
                vals = []
                for c in cols:
                    if type(c) is str:
                        v = props.get(c)
                        vals.append(from_user(v) if type(v) in conv else v)
                    else:
                        vals.append(c(row, ctx))
                out.append(tuple(vals))
            else:
                vals = tuple(map(props.get, cols))
                for v in vals:
                    if type(v) in conv:
                        vals = tuple([from_user(v) if type(v) in conv else v for v in vals])
                        break
                out.append(vals)
        return out
    if not general and seek.point is not None:
        point.spec = seek.point + (tuple(cols),)    # (label, key, parameter, property names)
    return point


_EMPTY_ROW: dict = {}


def _direct_reach(op, C):
    """``rows(ctx)`` for a CountDistinctReach over filters over an index seek: the seek, the
    filters, one native reach count."""
    preds = []
    s = op.source
    while type(s) is L.Filter:
        bound = _bound_of(s)
        preds[:0] = [C.predicate(x, bound) for x in s.predicates]
        s = s.source
    if type(s) is not L.NodeIndexSeek or s.var != op.src or type(s.source) is not L.Argument or s.source.bound:
        return None
    seek, var = _seek_nodes(s, C), s.var
    hops, direction = op.hops, op.direction
    label = op.types[0] if op.types else None

    def rows(ctx):
        starts = seek(_EMPTY_ROW, ctx)
        if preds:
            starts = [n for n in starts if all(q({var: NodeRef(n)}, ctx) is True for q in preds)]
        return [(_reach(ctx, starts, hops, direction, label),)]
    return rows


def _ticking(it, ctx):
    for x in it:
        ctx.tick()
        yield x


def _distinct(pairs, names, ctx):
    seen = set()
    for out, env in pairs:
        k = tuple(group_key(out[n]) for n in names)
        if k in seen:
            continue
        seen.add(k)
        ctx.charge(ROW_BYTES)
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


# ---------------------------------------------------------------- procedures, subqueries
def _procedure(op, C):
    from .procedures import coerce, get_procedure
    src = _unary(op, C)
    cl, bound, standalone = op.clause, list(op.bound), op.standalone
    proc = get_procedure(cl.name)
    if cl.args is None:
        arg_fns = [C.expr(A.Param(name), bound) for name, _ in proc.inputs]
    else:
        arg_fns = [C.expr(a, bound) for a in cl.args]
    out_names = [n for n, _ in proc.outputs]
    if cl.yields is None:
        yields = [(n, n) for n in out_names] if standalone else []
    elif cl.yields == "*":
        yields = [(n, n) for n in out_names]
    else:
        yields = list(cl.yields)
    names = [alias for _, alias in yields]
    where_fn = C.predicate(cl.where, set(bound) | set(names)) if cl.where is not None else None
    void = not proc.outputs

    def run(ctx, batches):
        for batch in src(ctx, batches):
            out = []
            for row in batch:
                ctx.tick()
                args = coerce(proc, [f(row, ctx) for f in arg_fns])
                results = proc.fn(ctx.tx, *args) if proc.reads_graph else proc.fn(*args)
                if void:
                    for _ in results or ():
                        pass
                    if not standalone:
                        out.append(row)
                    continue
                for rec in results:
                    ctx.tick()
                    if isinstance(rec, dict):
                        vals = {n: from_user(rec.get(n)) for n in out_names}
                    else:
                        vals = {n: from_user(v) for n, v in zip(out_names, rec)}
                    r = row.copy()
                    for field, alias in yields:
                        r[alias] = vals[field]
                    if where_fn is None or where_fn(r, ctx) is True:
                        out.append(r)
            if out:
                yield out
    return run


def _apply(op, C):
    src = _unary(op, C)
    inner = build(op.inner, C)
    returns = op.returns
    batch_fn = C.expr(op.batch, ()) if op.batch is not None else None
    imports = op.imports

    def one(ctx, row):
        got = []
        arg = row if imports is None else {k: row[k] for k in imports if k in row}   # CALL (a) { }
        for b in inner(ctx, iter([[arg]])):
            for r in b:
                if returns:
                    m = row.copy()
                    m.update(r)
                    got.append(m)
        return got if returns else [row]

    def run(ctx, batches):
        if batch_fn is None:
            for batch in src(ctx, batches):
                out = []
                for row in batch:
                    out.extend(one(ctx, row))
                if out:
                    yield out
            return
        size = batch_fn({}, ctx)
        if type(size) is not int or size < 1:
            raise type_error(f"IN TRANSACTIONS OF n ROWS expects a positive integer, got {size!r}",
                             "InvalidArgumentValue")
        commit = ctx.options.get("commit_batch")
        if commit is None:
            raise OperationalError("CALL { } IN TRANSACTIONS needs its own transactions: run it with db.execute(), "
                                   "not inside an explicit transaction or on a snapshot")
        pending = 0
        for batch in src(ctx, batches):
            out = []
            for row in batch:
                out.extend(one(ctx, row))
                pending += 1
                if pending >= size:
                    commit(ctx)
                    pending = 0
            if out:
                yield out
    return run


def _foreach(op, C):
    src = _unary(op, C)
    inner = build(op.inner, C)
    f = C.expr(op.expr, _bound_of(op.source))
    var = op.var

    def run(ctx, batches):
        for batch in src(ctx, batches):
            for row in batch:
                v = f(row, ctx)
                if v is None:
                    continue
                if not isinstance(v, list):
                    raise type_error(f"FOREACH expects a list, got {type_name(v)}")
                for x in v:
                    ctx.tick()
                    r = row.copy()
                    r[var] = x
                    for _ in inner(ctx, iter([[r]])):
                        pass
            yield batch
    return run


def _eager(op, C):
    src = _unary(op, C)

    def run(ctx, batches):
        rows = []
        for b in src(ctx, batches):
            rows.extend(b)
            ctx.charge(ROW_BYTES * len(b))
        return _rebatch(rows)
    return run


def _union(op, C):
    inputs = [build(i, C) for i in op.inputs]
    distinct = not op.all

    def run(ctx, batches):
        args = list(batches)
        seen = set()
        for inp in inputs:
            for b in inp(ctx, iter(args)):
                if distinct:
                    out = []
                    for r in b:
                        k = tuple(sorted((n, group_key(v)) for n, v in r.items()))
                        if k not in seen:
                            seen.add(k)
                            out.append(r)
                    b = out
                if b:
                    yield b
    return run


def _produce(op, C):
    return _unary(op, C)


# ---------------------------------------------------------------- writes
def _storable(v, key):
    if isinstance(v, Temporal):
        return to_python(v)
    if isinstance(v, (NodeRef, EdgeRef, PathVal, dict)):
        raise type_error(f"property '{key}' cannot hold a {type_name(v)}", "InvalidPropertyType")
    if isinstance(v, list):
        for x in v:
            if isinstance(x, (NodeRef, EdgeRef, PathVal, dict, list)):
                raise type_error(f"property '{key}' cannot hold a list of {type_name(x)}", "InvalidPropertyType")
        return [_storable(x, key) for x in v]
    return v


def _props_fn(props, C, bound):
    if props is None:
        return lambda row, ctx: {}
    f = C.expr(props, bound)

    def g(row, ctx):
        m = f(row, ctx)
        if m is None:
            return {}
        if not isinstance(m, dict):
            raise type_error(f"properties must be a map, got {type_name(m)}")
        return {k: _storable(v, k) for k, v in m.items() if v is not None}
    return g


def _creator(part, C, bound):
    node_fns = [(n.var, list(n.labels), _props_fn(n.props, C, bound)) for n in part.nodes]
    rel_fns = [(r.var, r.types[0] if r.types else None, r.direction, _props_fn(r.props, C, bound)) for r in part.rels]
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


def _create(op, C):
    src = _unary(op, C)
    creators = []
    names = list(op.bound)
    for part in op.parts:
        creators.append(_creator(part, C, names))
        names = names + [v for v in _pvars(part) if v not in names]

    def run(ctx, batches):
        for batch in src(ctx, batches):
            out = []
            for row in batch:
                ctx.tick()
                for c in creators:
                    row = c(row, ctx)
                out.append(row)
            yield out
    return run


def _pvars(part):
    out = [n.var for n in part.nodes if n.var] + [r.var for r in part.rels if r.var]
    return out + ([part.path_var] if part.path_var else [])


def _merge(op, C):
    src = _unary(op, C)
    cl = op.clause
    bound = list(op.bound)
    matcher = build(op.match, C)
    creator = _creator(cl.part, C, bound)
    names = bound + [v for v in _pvars(cl.part) if v not in bound]
    on_match = _set_items(cl.on_match, C, names)
    on_create = _set_items(cl.on_create, C, names)
    null_checks = []
    for n in cl.part.nodes + cl.part.rels:
        if isinstance(n.props, A.MapLit):
            for k, v in n.props.items:
                null_checks.append((k, C.expr(v, bound)))
    visible = set(names)

    def run(ctx, batches):
        for batch in src(ctx, batches):
            out = []
            for row in batch:
                ctx.tick()
                for k, f in null_checks:
                    if f(row, ctx) is None:
                        raise runtime_semantic(f"cannot MERGE with a null value for property '{k}'",
                                               "MergeReadOwnWrites")
                matched = [{k: v for k, v in r.items() if k in visible or k in row}
                           for b in matcher(ctx, iter([[row]])) for r in b]
                if matched:
                    for r in matched:
                        for item in on_match:
                            item(r, ctx)
                        out.append(r)
                else:
                    r = creator(row, ctx)
                    for item in on_create:
                        item(r, ctx)
                    out.append(r)
            yield out
    return run


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


def _set_items(items, C, bound):
    out = []
    for it in items:
        if isinstance(it, A.SetProperty):
            subj = C.expr(it.target.subject, bound)
            key = it.target.key
            val = C.expr(it.value, bound)

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
            var, val, replace = it.var, C.expr(it.value, bound), isinstance(it, A.SetAll)

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
            subj = C.expr(it.target.subject, bound)

            def f(row, ctx, subj=subj, key=it.target.key):
                ent = _entity(subj(row, ctx), "REMOVE")
                if ent is None:
                    return
                if key in _current_props(ctx, ent):
                    _update(ctx, ent, remove=[key])
            out.append(f)
    return out


def _set(op, C):
    src = _unary(op, C)
    fns = _set_items(op.items, C, list(op.bound))

    def run(ctx, batches):
        for batch in src(ctx, batches):
            for row in batch:
                ctx.tick()
                for f in fns:
                    f(row, ctx)
            yield batch
    return run


def _delete(op, C):
    src = _unary(op, C)
    bound = _bound_of(op.source)
    fns = [C.expr(e, bound) for e in op.exprs]
    detach = op.detach

    def run(ctx, batches):
        rows = []
        for b in src(ctx, batches):
            rows.extend(b)
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
            ctx.remember_deleted_edge(eid)
            ctx.mark_deleted_edge(eid)
            ctx.tx.delete_edge(eid)
        for nid in nodes:
            if nid in ctx.deleted_nodes:
                continue
            if detach:
                for e in ctx.edges_of(nid, "both", None):
                    ctx.remember_deleted_edge(e.id)
                    ctx.mark_deleted_edge(e.id)
            try:
                ctx.tx.delete_node(nid, detach=detach)
            except IntegrityError as e:
                e.code, e.tck_type, e.phase = "DeleteConnectedNode", "ConstraintVerificationFailed", "runtime"
                raise
            ctx.mark_deleted_node(nid)
        return _rebatch(rows)
    return run


def _schema_command(op, C):
    src = _unary(op, C)

    def run(ctx, batches):
        for _ in src(ctx, batches):
            pass
        apply = ctx.options.get("schema_command")
        if apply is None:
            raise OperationalError("index and constraint commands run with db.execute() (they change the "
                                   "database's schema), not inside a transaction or on a snapshot")
        apply(op.command, ctx)
        return iter(())
    return run


_BUILDERS = {
    L.Argument: _argument, L.EmptyResult: _empty, L.NodeScan: _scan, L.NodeIndexSeek: _seek,
    L.NodeCheck: _node_check, L.Expand: _expand, L.VarExpand: _var_expand, L.BuildPath: _build_path,
    L.CountReach: _count_reach, L.DegreeCount: _degree_count, L.ShortestPath: _shortest, L.Filter: _filter, L.CartesianProduct: _product, L.RelsDistinct: _rels_distinct,
    L.HashJoin: _hash_join, L.Optional_: _optional, L.Unwind: _unwind, L.LoadCsv: _load_csv,
    L.Projection: _projection, L.Aggregation: _projection, L.ProcedureCall: _procedure, L.Apply: _apply,
    L.Foreach: _foreach, L.Eager: _eager, L.Union: _union, L.ProduceResults: _produce, L.Create: _create,
    L.Merge: _merge, L.SetItems: _set, L.Delete: _delete, L.SchemaCommand: _schema_command,
}
