"""Pattern matching plans: the planner and the matcher for MATCH, MERGE and pattern expressions.

Owns: choosing where a pattern is anchored and in which order its hops are expanded, pushing
WHERE conjuncts down to the earliest step that binds all their variables, and running the
plan against the transaction's read API.

Planner (static, per pattern part, parts in written order):
  anchor = a node whose variable is already bound            (cost 0)
         > a labelled node with an equality on a property   (cost 1: ``tx.key_lookup`` when
           (inline ``{k: v}`` or ``WHERE n.k = v``)                    the engine offers an index,
                                                                      else a label scan)
         > a labelled node                                  (cost 2: label scan, smallest label)
         > any node                                         (cost 3: all nodes)
  then hops are expanded to the right of the anchor, then to its left.

Invariants:
  (1) within one MATCH, a relationship is bound at most once per result row
      (relationship isomorphism), including the hops of variable-length relationships;
  (2) candidate lists are materialised before iterating, so writes made later in the same
      query never disturb a running scan;
  (3) a conjunct is evaluated exactly once per partial row, at the first step where all its
      variables are bound.
Complexity: one hop costs O(deg(v)) per bound node v; a key anchor costs one index probe.
"""
from __future__ import annotations

from . import ast as A
from .expressions import CompileEnv, compile_expr, compile_predicate, free_vars
from .runtime import EdgeRef, NodeRef, PathVal, cy_eq, stored
from .temporal import Temporal, to_python_if_exact

__all__ = ["compile_pattern_matcher", "pattern_vars", "split_and"]


def split_and(e):
    if e is None:
        return []
    if isinstance(e, A.BinOp) and e.op == "AND":
        return split_and(e.left) + split_and(e.right)
    return [e]


def pattern_vars(parts) -> list:
    out = []
    for p in parts:
        for n in p.nodes:
            if n.var and n.var not in out:
                out.append(n.var)
        for r in p.rels:
            if r.var and r.var not in out:
                out.append(r.var)
        if p.path_var and p.path_var not in out:
            out.append(p.path_var)
    return out


def _const_props(props):
    """[(key, expr)] of an inline property map whose values do not depend on the row."""
    if isinstance(props, A.MapLit):
        return [(k, v) for k, v in props.items if isinstance(v, (A.Literal, A.Param))]
    return []


class _Step:
    __slots__ = ("kind", "part", "pos", "rel", "forward", "checks", "run")


def compile_pattern_matcher(parts, bound, where, env: CompileEnv | None = None):
    """Compile pattern parts into ``matcher(row, ctx, want_paths) -> iter[(row, paths)]``.

    ``bound``: names already bound in incoming rows.  ``where``: an AST predicate (its
    conjuncts are pushed down) or None.
    """
    env = env or CompileEnv(bound)
    bound = set(bound)
    pvars = pattern_vars(parts)
    inner = env.child(pvars)
    scope = bound | set(pvars)
    conjuncts = []
    for c in split_and(where):
        deps = free_vars(c) & scope
        conjuncts.append([deps, compile_predicate(c, inner), c])

    # equality hints from WHERE: var -> [(key, expr)]
    hints = {}
    for c in split_and(where):
        if isinstance(c, A.Compare) and c.ops == ["="]:
            l, r = c.operands
            for x, y in ((l, r), (r, l)):
                if (isinstance(x, A.Prop) and isinstance(x.subject, A.Var) and isinstance(y, (A.Literal, A.Param))):
                    hints.setdefault(x.subject.name, []).append((x.key, y))

    steps = []
    known = set(bound)
    for pi, part in enumerate(parts):
        anchor = _choose_anchor(part, known, hints)
        order = [("node", anchor, None, True)]
        for j in range(anchor, len(part.rels)):
            order.append(("rel", j + 1, j, True))
        for j in range(anchor - 1, -1, -1):
            order.append(("rel", j, j, False))
        for kind, pos, rj, forward in order:
            st = _Step()
            st.kind, st.part, st.pos, st.rel, st.forward = kind, pi, pos, rj, forward
            np = part.nodes[pos]
            st.run = _node_anchor(np, pos, known, hints, inner) if kind == "node" else \
                _expand(part.rels[rj], rj, np, forward, inner)
            if np.var:
                known.add(np.var)
            if kind == "rel" and part.rels[rj].var:
                known.add(part.rels[rj].var)
            st.checks = []
            steps.append(st)
        if part.path_var:
            st = _Step()
            st.kind, st.part, st.pos, st.rel, st.forward = "path", pi, None, None, True
            st.run = part.path_var
            st.checks = []
            steps.append(st)
            known.add(part.path_var)

    # invariant (3): each conjunct runs at the first step where its variables are bound
    pre_checks = []
    bound_so_far = set(bound)
    pending = []
    for deps, fn, _ in conjuncts:
        (pre_checks.append(fn) if deps <= bound_so_far else pending.append((deps, fn)))
    for st in steps:
        part = parts[st.part]
        if st.kind == "path":
            bound_so_far.add(st.run)
        else:
            if part.nodes[st.pos].var:
                bound_so_far.add(part.nodes[st.pos].var)
            if st.kind == "rel" and part.rels[st.rel].var:
                bound_so_far.add(part.rels[st.rel].var)
        still = []
        for deps, fn in pending:
            (st.checks.append(fn) if deps <= bound_so_far else still.append((deps, fn)))
        pending = still
    for _, fn in pending:
        (steps[-1].checks if steps else pre_checks).append(fn)

    part_shapes = [(len(p.nodes), len(p.rels)) for p in parts]
    nsteps = len(steps)

    def matcher(row, ctx, want_paths=False):
        for chk in pre_checks:
            if chk(row, ctx) is not True:
                return
        nodes_arr = [[None] * n for n, _ in part_shapes]
        edges_arr = [[None] * r for _, r in part_shapes]
        mids_arr = [[None] * r for _, r in part_shapes]
        used = set()

        def rec(i, row):
            if i == nsteps:
                paths = None
                if want_paths:
                    paths = [_assemble(nodes_arr[k], edges_arr[k], mids_arr[k]) for k in range(len(parts))]
                yield row, paths
                return
            st = steps[i]
            if st.kind == "path":
                r2 = dict(row)
                k = st.part
                r2[st.run] = _assemble(nodes_arr[k], edges_arr[k], mids_arr[k])
                if all(chk(r2, ctx) is True for chk in st.checks):
                    yield from rec(i + 1, r2)
                return
            for r2 in st.run(row, ctx, nodes_arr[st.part], edges_arr[st.part], mids_arr[st.part], used):
                ctx.tick()
                if st.checks and not all(chk(r2, ctx) is True for chk in st.checks):
                    continue
                if st.kind == "rel":
                    eid = edges_arr[st.part][st.rel]
                    ids = eid if isinstance(eid, list) else (eid,)
                    for x in ids:
                        used.add(x)
                    try:
                        yield from rec(i + 1, r2)
                    finally:
                        for x in ids:
                            used.discard(x)
                else:
                    yield from rec(i + 1, r2)

        yield from rec(0, row)

    return matcher


def _assemble(nodes, edges, mids):
    ns, es = [nodes[0]], []
    for j, e in enumerate(edges):
        if isinstance(e, list):
            if not e:
                continue  # a zero-length hop: the next node is this node
            es.extend(e)
            ns.extend(mids[j])
        else:
            es.append(e)
        ns.append(nodes[j + 1])
    return PathVal(ns, es)


def _choose_anchor(part, known, hints):
    best, best_cost = 0, 99
    for i, n in enumerate(part.nodes):
        if n.var and n.var in known:
            cost = 0
        elif n.labels and (_const_props(n.props) or (n.var and n.var in hints)):
            cost = 1
        elif n.labels:
            cost = 2
        else:
            cost = 3
        if cost < best_cost:
            best, best_cost = i, cost
    return best


def _props_checker(props, env):
    if props is None:
        return None
    if isinstance(props, A.MapLit):
        items = [(k, compile_expr(v, env)) for k, v in props.items]

        def check(pmap, row, ctx):
            for k, f in items:
                if cy_eq(stored(pmap.get(k)), f(row, ctx)) is not True:
                    return False
            return True
        return check
    f = compile_expr(props, env)

    def check_param(pmap, row, ctx):
        want = f(row, ctx)
        if want is None:
            return False
        for k, v in want.items():
            if cy_eq(stored(pmap.get(k)), v) is not True:
                return False
        return True
    return check_param


def _node_checker(np, env):
    """check(node, row, ctx) -> bool, or None when the pattern puts no condition on the node."""
    labels = list(np.labels)
    props = _props_checker(np.props, env)
    if not labels and props is None:
        return None

    def check(node, row, ctx):
        if labels:
            have = node.labels
            for lab in labels:
                if lab not in have:
                    return False
        if props is not None and not props(node.properties, row, ctx):
            return False
        return True
    return check


def _bind_node(np, node_check, row, ctx, node_id):
    """Return the extended row, or None if node ``node_id`` does not fit pattern ``np``."""
    var = np.var
    if var is not None and var in row:
        cur = row[var]
        if not isinstance(cur, NodeRef) or cur.id != node_id:
            return None
        return row if node_check is None or node_check(ctx.node(node_id), row, ctx) else None
    if node_check is not None and not node_check(ctx.node(node_id), row, ctx):
        return None
    if var is None:
        return row
    r2 = dict(row)
    r2[var] = NodeRef(node_id)
    return r2


def _node_anchor(np, pos, known, hints, env):
    check = _node_checker(np, env)
    var = np.var
    is_bound = var is not None and var in known
    labels = list(np.labels)
    eqs = [(k, compile_expr(v, env)) for k, v in _const_props(np.props)]
    if var in hints:
        eqs += [(k, compile_expr(v, env)) for k, v in hints[var]]

    def run(row, ctx, nodes_arr, edges_arr, mids_arr, used):
        if is_bound or (var is not None and var in row):
            cur = row.get(var)
            if not isinstance(cur, NodeRef):
                return
            if not ctx.has_node(cur.id):
                return
            r2 = _bind_node(np, check, row, ctx, cur.id)
            if r2 is not None:
                nodes_arr[pos] = cur.id
                yield r2
            return
        for nid in _candidates(ctx, labels, eqs, row):
            r2 = _bind_node(np, check, row, ctx, nid)
            if r2 is not None:
                nodes_arr[pos] = nid
                yield r2
    return run


def _candidates(ctx, labels, eqs, row):
    if labels and eqs:
        lookup = ctx.key_lookup
        if lookup is not None:
            for lab in labels:
                for k, f in eqs:
                    v = f(row, ctx)
                    if v is None:
                        return []
                    v = to_python_if_exact(v) if isinstance(v, Temporal) else v
                    if isinstance(v, (Temporal, NodeRef, EdgeRef, PathVal, dict)):
                        continue  # not a storable key value: nothing can match through an index
                    ids = lookup(lab, k, v)
                    if ids is not None:
                        return list(ids)
    if labels:
        if len(labels) > 1:
            lab = min(labels, key=lambda l: ctx.tx.node_count(l))
        else:
            lab = labels[0]
        return ctx.scan(lab)
    return ctx.scan(None)


def _expand(rel, j, np, forward, env):
    """A hop from the already-bound node on one side of ``rel`` to node pattern ``np``."""
    node_check = _node_checker(np, env)
    rel_props = _props_checker(rel.props, env)
    types = list(rel.types)
    direction = rel.direction
    if not forward:
        direction = {"out": "in", "in": "out", "both": "both"}[direction]
    rvar = rel.var
    label = types[0] if len(types) == 1 else None
    type_set = set(types)

    def edge_ok(e, row, ctx):
        if type_set and not (e.labels & type_set):
            return False
        if rel_props is not None and not rel_props(e.properties, row, ctx):
            return False
        return True

    def other(e, nid):
        if direction == "out":
            return e.dst
        if direction == "in":
            return e.src
        return e.dst if e.src == nid else e.src

    fast = rel_props is None and len(types) <= 1

    def hops(ctx, nid, row):
        """(edge id, other node id) for every edge of ``nid`` this relationship pattern allows."""
        if fast and ctx.expand is not None:
            nbrs, eids, _ = ctx.expand([nid], direction, label)
            return list(zip(eids, nbrs))
        return [(e.id, other(e, nid)) for e in ctx.edges_of(nid, direction, label) if edge_ok(e, row, ctx)]

    def run(row, ctx, nodes_arr, edges_arr, mids_arr, used):
        src_pos, dst_pos = (j, j + 1) if forward else (j + 1, j)
        nid = nodes_arr[src_pos]
        if rel.length is None:
            has_bound = rvar is not None and rvar in row
            bound_rel = row.get(rvar) if has_bound else None
            for eid, nxt in hops(ctx, nid, row):
                if eid in used:
                    continue
                if has_bound:
                    if not isinstance(bound_rel, EdgeRef) or bound_rel.id != eid:
                        continue
                    r1 = row
                elif rvar is not None:
                    r1 = dict(row)
                    r1[rvar] = EdgeRef(eid)
                else:
                    r1 = row
                r2 = _bind_node(np, node_check, r1, ctx, nxt)
                if r2 is None:
                    continue
                nodes_arr[dst_pos] = nxt
                edges_arr[j] = eid
                yield r2
            return
        lo, hi = rel.length
        bound_list = row.get(rvar) if rvar is not None and rvar in row else None
        # depth-first walk over distinct edges
        stack_edges, stack_nodes = [], []

        def walk(cur, depth):
            ctx.tick()
            if depth >= lo:
                yield cur
            if hi is not None and depth >= hi:
                return
            for eid, nxt in hops(ctx, cur, row):
                if eid in used or eid in stack_edges:
                    continue
                stack_edges.append(eid)
                stack_nodes.append(nxt)
                yield from walk(nxt, depth + 1)
                stack_edges.pop()
                stack_nodes.pop()

        for end in walk(nid, 0):
            eids = list(stack_edges)
            mids = list(stack_nodes[:-1])
            if not forward:
                eids.reverse()
                mids.reverse()
            if bound_list is not None:
                if not isinstance(bound_list, list) or [getattr(x, "id", None) for x in bound_list] != eids:
                    continue
                r1 = row
            elif rvar is not None:
                r1 = dict(row)
                r1[rvar] = [EdgeRef(x) for x in eids]
            else:
                r1 = row
            r2 = _bind_node(np, node_check, r1, ctx, end)
            if r2 is None:
                continue
            nodes_arr[dst_pos] = end
            edges_arr[j] = eids
            mids_arr[j] = mids
            yield r2
    return run
