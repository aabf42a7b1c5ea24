"""The planner: a checked AST -> a logical plan (logical.py), using statistics and the schema.

Owns: the order in which a pattern is matched (the anchor of each pattern part and the
direction of each expansion), where each WHERE conjunct runs, how disconnected pattern parts
are combined (a hash join on an equality between them, else a cartesian product computed
once, pruned by the filters that follow it), index seeks (user indexes and schema KEY /
EXCLUSIVE constraints), schema-aware pruning and its notifications, and the special plans
(count of distinct reachable nodes, top-k).

Cost model (estimated rows, from ``Stats``):
  anchor     bound variable 1; index seek 1; label scan = count(label); all nodes = count(*)
  expansion  rows x (edges of the type / nodes)   (the average degree)
  anchor choice: the node of the part with the smallest estimate (ties: leftmost).

Schema (only when the enforced graph type is STRICT, where every element conforms to one of
its types, so "no type allows it" means "nothing can match"):
  * a node label in no node type, an edge type in no edge type, or an edge type whose
    endpoint types cannot carry the pattern's endpoint labels -> an ``EmptyResult`` plan and
    a notification;
  * a comparison (``=``, ``<>``, ``<``, ``<=``, ``>``, ``>=``, chains) on a property that every
    candidate type declares CLOSED without it (the property is always null) -> same;
  * label implications: a label test implied by the scanned label (every node type carrying
    ``Customer`` also carries ``Person``) is dropped, and EXPLAIN says so.
Only where the graph is known to conform (``prune``): a transaction's writes are checked at
commit, so in one holding unchecked writes (``view.schema_holds`` False; its
``catalog_version`` differs, so a pruned plan is not reused) and in a query that writes, the
notifications are still given but nothing is pruned.
Must not: evaluate expressions or read data other than through ``Stats``.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

from . import ast as A
from . import logical as L
from .expressions import free_vars

__all__ = ["Planner", "Stats", "split_and", "pattern_vars"]


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


class Stats:
    """Statistics and schema facts the planner may use, read through the read view."""

    def __init__(self, view):
        self.view = view
        self.graph_type = getattr(view, "graph_type", None)
        self._labels: dict = {}
        self._rels: dict = {}
        self._total = None

    def nodes(self, label: Optional[str] = None) -> int:
        c = self._labels.get(label)
        if c is None:
            try:
                c = self.view.node_count(label)
            except Exception:
                c = 1000
            self._labels[label] = c
        return c

    def rels(self, label: Optional[str] = None) -> int:
        c = self._rels.get(label)
        if c is None:
            try:
                c = self.view.edge_count(label)
            except Exception:
                c = 1000
            self._rels[label] = c
        return c

    def degree(self, types) -> float:
        n = max(1, self.nodes(None))
        if not types:
            return self.rels(None) / n
        return sum(self.rels(t) for t in types) / n

    def index(self, label: str, prop: str) -> Optional[str]:
        f = getattr(self.view, "index_for", None)
        if f is None:
            return "index" if getattr(self.view, "key_lookup", None) is not None else None
        try:
            return f(label, prop)
        except Exception:
            return None


# ---------------------------------------------------------------- schema facts
class _Schema:
    """What a STRICT graph type says patterns can match (duck-typed over GraphType)."""

    def __init__(self, gt):
        self.gt = gt
        self.node_shapes = [(t, s) for t in gt.node_types.values() if not t.abstract for s in t.shapes]
        self.edge_types = [t for t in gt.edge_types.values() if not t.abstract]

    def node_shapes_for(self, labels):
        labels = frozenset(labels)
        return [(t, s) for t, s in self.node_shapes if labels <= s.labels or s.labels_open]

    def unknown_label(self, labels) -> Optional[str]:
        for lab in labels:
            if not self.node_shapes_for([lab]):
                return lab
        return None

    def implied(self, labels) -> frozenset:
        """Labels every node carrying ``labels`` has, by the types."""
        shapes = self.node_shapes_for(labels)
        if not shapes or any(s.labels_open for _, s in shapes):
            return frozenset(labels)
        out = None
        for _, s in shapes:
            out = set(s.labels) if out is None else out & s.labels
        return frozenset(out or ()) | frozenset(labels)

    def closed_without(self, labels, prop) -> bool:
        shapes = self.node_shapes_for(labels)
        if not shapes:
            return False
        return all(not s.props_open and s.rule(prop) is None for _, s in shapes)

    def edge_possible(self, types, src_labels, dst_labels, direction) -> bool:
        def endpoint_ok(shapes, labels):
            labels = frozenset(labels)
            return any(labels <= s.labels or s.labels_open for s in shapes)

        for et in self.edge_types:
            if types and not any(t in s.labels or s.labels_open for s in et.shapes for t in types):
                continue
            pairs = []
            if direction in ("out", "both"):
                pairs.append((src_labels, dst_labels))
            if direction in ("in", "both"):
                pairs.append((dst_labels, src_labels))
            for a, b in pairs:
                if endpoint_ok(et.source, a) and endpoint_ok(et.target, b):
                    return True
        return False


# ---------------------------------------------------------------- planner
class Planner:
    """Plans one query.  ``notifications`` collects (code, title, description, pos) tuples."""

    def __init__(self, stats: Stats, text: str = ""):
        self.stats = stats
        self.text = text
        self.notifications: list = []
        self._hidden = 0
        gt = stats.graph_type
        self.schema = _Schema(gt) if gt is not None and getattr(gt, "strict", False) else None
        self.gt = gt
        # prune only where the graph is known to conform: not in a transaction holding writes
        # it has not checked yet, nor in a query that writes (its reads see its own writes)
        self.prune = self.schema is not None and getattr(stats.view, "schema_holds", True) is True

    def hidden(self, kind: str) -> str:
        self._hidden += 1
        return f" {kind}{self._hidden}"

    def notify(self, code, title, description, pos):
        self.notifications.append((code, title, description, pos))

    # ------------------------------------------------------------ queries
    def plan(self, q: A.Query):
        """Return ``(root, columns, writes)``."""
        if any(_writes(c) for clauses in q.parts for c in clauses):
            self.prune = False
        roots, columns, writes = [], None, False
        for clauses in q.parts:
            op, cols, w = self.single(clauses, [])
            writes = writes or w
            roots.append(op)
            if columns is None:
                columns = cols
        if len(roots) == 1:
            root = roots[0]
        else:
            root = L.Union(inputs=roots, all=all(q.union_all), est=sum(r.est for r in roots))
        return L.ProduceResults(source=root, columns=list(columns or []), est=root.est), columns, writes

    def single(self, clauses, bound, arg_est: float = 1.0):
        """Plan a list of clauses starting from an Argument with ``bound`` columns."""
        bound = list(bound)
        op = L.Argument(bound=list(bound), est=arg_est)
        cols = None
        writes = any(_writes(cl) for cl in clauses)
        for i, cl in enumerate(clauses):
            op, bound, c = self.clause(cl, op, bound, standalone=len(clauses) == 1)
            if c is not None:
                cols = c
            if writes and isinstance(op, L.Projection):
                op.drain = True        # a LIMIT must not skip the writes before it
            if writes and not isinstance(cl, (A.Return,)):
                op = L.Eager(source=op, est=op.est)
        return op, cols, writes

    def clause(self, cl, op, bound, standalone=False):
        cols = None
        if isinstance(cl, A.Match):
            op = self.match(cl.parts, cl.where, bound, op, cl.optional)
            bound = _extend(bound, pattern_vars(cl.parts))
        elif isinstance(cl, A.Unwind):
            op = L.Unwind(source=op, expr=cl.expr, var=cl.var, est=op.est * 10)
            bound = _extend(bound, [cl.var])
        elif isinstance(cl, A.LoadCsv):
            op = L.LoadCsv(source=op, url=cl.url, var=cl.var, headers=cl.headers,
                           fieldterminator=cl.fieldterminator, est=op.est * 1000)
            bound = _extend(bound, [cl.var])
        elif isinstance(cl, (A.With, A.Return)):
            op, names = self.projection(cl, op, bound)
            bound = list(names)
            if isinstance(cl, A.Return):
                cols = list(names)
        elif isinstance(cl, A.Create):
            if isinstance(op, L.Eager) and isinstance(op.source, L.Create):
                op.source.parts = op.source.parts + list(cl.parts)   # CREATE after CREATE: one operator
                return op.source, _extend(bound, pattern_vars(cl.parts)), None
            op = L.Create(source=op, parts=list(cl.parts), bound=list(bound), est=op.est)
            bound = _extend(bound, pattern_vars(cl.parts))
        elif isinstance(cl, A.Merge):
            inner = self.match([cl.part], None, bound, L.Argument(bound=list(bound), est=1), False)
            op = L.Merge(source=op, clause=cl, bound=list(bound), match=inner, est=op.est)
            bound = _extend(bound, pattern_vars([cl.part]))
        elif isinstance(cl, (A.SetClause, A.Remove)):
            op = L.SetItems(source=op, items=cl.items, bound=list(bound), est=op.est)
        elif isinstance(cl, A.Delete):
            op = L.Delete(source=op, exprs=cl.exprs, detach=cl.detach, est=op.est)
        elif isinstance(cl, A.Foreach):
            inner_bound = _extend(bound, [cl.var])
            inner = L.Argument(bound=inner_bound, est=1)
            ib = list(inner_bound)
            for sub in cl.clauses:
                inner, ib, _ = self.clause(sub, inner, ib)
            op = L.Foreach(source=op, var=cl.var, expr=cl.expr, inner=inner, est=op.est)
        elif isinstance(cl, A.CallSubquery):
            seen = bound if cl.imports is None else [v for v in bound if v in cl.imports]
            inner, cols_in, _ = self._subquery(cl.query, seen)
            op = L.Apply(source=op, inner=inner, returns=cols_in is not None,
                         batch=(cl.batch if cl.batch is not None else A.Literal(1000))
                         if cl.in_transactions else None, imports=None if cl.imports is None else seen,
                         est=op.est * max(1.0, inner.est))
            if cols_in is not None:
                bound = _extend(bound, cols_in)
        elif isinstance(cl, A.Call):
            op = L.ProcedureCall(source=op, clause=cl, bound=list(bound), standalone=standalone, est=op.est)
            from .procedures import get_procedure
            proc = get_procedure(cl.name)
            names = []
            if cl.yields == "*" or (cl.yields is None and standalone):
                names = [n for n, _ in proc.outputs]
            elif cl.yields:
                names = [alias for _, alias in cl.yields]
            bound = _extend(bound, names)
            if standalone:
                cols = names
        elif isinstance(cl, A.SchemaCommand):
            op = L.SchemaCommand(source=op, command=cl, est=0)
        else:
            raise TypeError(cl)
        return op, bound, cols

    def _subquery(self, q: A.Query, bound):
        """A CALL { } body: each UNION part starts from the outer row."""
        roots, cols = [], None
        for clauses in q.parts:
            op, c, _ = self.single(clauses, bound)
            roots.append(op)
            cols = cols if cols is not None else c
        root = roots[0] if len(roots) == 1 else L.Union(inputs=roots, all=all(q.union_all))
        return root, cols, None

    def projection(self, cl, op, bound):
        p = cl.projection
        names = [it.name for it in p.items]
        if p.star:
            names = sorted(v for v in bound if not v.startswith(" ")) + names
        aggregating = any(_has_agg(it.expr) for it in p.items)
        where = cl.where if isinstance(cl, A.With) else None
        cls = L.Aggregation if aggregating else L.Projection
        est = max(1.0, op.est ** 0.5) if aggregating else op.est
        # count(DISTINCT c) of a fixed-length chain from one bound node: CountReach
        if aggregating:
            special = self._count_reach(p, op, bound) or self._degree_count(p, op, where)
            if special is not None:
                if where is not None and not isinstance(special, L.DegreeCount):
                    special = L.Filter(source=special, predicates=split_and(where), est=special.est)
                return special, names
        new = cls(source=op, projection=p, where=where, bound=list(bound), columns=names, est=est)
        if p.order and p.limit is not None:
            new.notes.append("top-k sort")
        return new, names

    # ------------------------------------------------------------ CountReach rewrite
    def _count_reach(self, p, op, bound):
        """``RETURN count(DISTINCT c)`` over ``(a)-[:T]->()-[:T]->(c) WHERE c <> a`` (or one
        hop) from one anchor: exactly the native distinct-reach count (exact for 1 and 2 hops:
        relationship isomorphism can only exclude reaching the start node itself)."""
        if len(p.items) != 1 or p.order or p.distinct or p.skip is not None or p.limit is not None:
            return None
        e = p.items[0].expr
        if not (isinstance(e, A.FuncCall) and e.name == "count" and e.distinct and len(e.args) == 1
                and isinstance(e.args[0], A.Var)):
            return None
        end = e.args[0].name
        chain = getattr(op, "_chain", None)
        if chain is None:
            return None
        start_op, start, hops, types, direction, last, excluded = chain
        if last != end or not 1 <= hops <= 2 or (hops == 2 and not excluded):
            return None
        return L.CountReach(source=start_op, src=start, hops=hops, types=list(types), direction=direction,
                            out_var=p.items[0].name, est=start_op.est,
                            notes=["count(DISTINCT) of a fixed-length expansion: native reach count"])

    # ------------------------------------------------------------ DegreeCount rewrite
    _FLIP = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "=": "=", "<>": "<>"}

    def _degree_count(self, p, op, where):
        """``WITH n, count(*) AS d [WHERE d > x]`` over ``(n)-[:T]->()`` where each row holds
        another n (a scan or seek of n, maybe filtered): the degree of each n (DegreeCount),
        one native call per batch instead of one row per relationship."""
        if p.distinct or p.order or p.skip is not None or p.limit is not None or p.star or len(p.items) != 2:
            return None
        keys = [it for it in p.items if isinstance(it.expr, A.Var)]
        counts = [it for it in p.items if isinstance(it.expr, A.CountStar)]
        if len(keys) != 1 or len(counts) != 1 or keys[0].name != keys[0].expr.name:
            return None
        v, d = keys[0].name, counts[0].name
        ex = op
        if type(ex) is not L.Expand or ex.src != v or ex.into or ex.unique:
            return None
        rel, dst = ex.rel, ex.dst_pattern
        if (rel.length is not None or rel.props is not None or len(rel.types) > 1 or not ex.rel_var.startswith(" ")
                or not ex.dst.startswith(" ") or dst.labels or dst.props is not None):
            return None
        s = ex.source
        while type(s) is L.Filter:
            s = s.source
        if type(s) not in (L.NodeScan, L.NodeIndexSeek) or s.var != v or type(s.source) is not L.Argument \
                or s.source.bound:
            return None                      # rows of n may repeat: count(*) is not the degree
        cmp = bound = None
        if where is not None:
            if not (isinstance(where, A.Compare) and len(where.ops) == 1 and where.ops[0] in self._FLIP):
                return None
            a, b = where.operands
            if isinstance(a, A.Var) and a.name == d and not free_vars(b):
                cmp, bound = where.ops[0], b
            elif isinstance(b, A.Var) and b.name == d and not free_vars(a):
                cmp, bound = self._FLIP[where.ops[0]], a
            else:
                return None
        return L.DegreeCount(source=ex.source, var=v, types=list(rel.types), direction=ex.direction, out_var=d,
                             cmp=cmp, bound=bound, est=ex.source.est,
                             notes=["count(*) of one expansion per node: the nodes' degrees, native"])

    # ------------------------------------------------------------ MATCH
    def match(self, parts, where, bound, op, optional):
        if optional:
            inner = self._match(parts, where, bound, L.Argument(bound=list(bound), est=1))
            new_vars = [v for v in pattern_vars(parts) if v not in bound]
            return L.Optional_(source=op, inner=inner, new_vars=new_vars, est=max(op.est, op.est * inner.est))
        return self._match(parts, where, bound, op)

    def _match(self, parts, where, bound, op):
        parts = [self._name_part(p) for p in parts]
        rel_vars = [r.var for p in parts for r in p.rels]
        scope = set(bound) | {v for p in parts for v in _part_vars(p)}
        pending = []
        for c in split_and(where):
            pending.append((free_vars(c) & scope, c))
        # equality hints for index seeks: var -> [(key, expr, deps)]
        hints = {}
        for _, c in pending:
            if isinstance(c, A.Compare) and c.ops == ["="]:
                l, r = c.operands
                for x, y in ((l, r), (r, l)):
                    if isinstance(x, A.Prop) and isinstance(x.subject, A.Var):
                        hints.setdefault(x.subject.name, []).append((x.key, y, free_vars(y) & scope))
        known = set(bound)
        entry_known = set(bound)
        op = self._filters(op, pending, known)
        remaining = list(range(len(parts)))
        first = True
        while remaining:
            # the next part: the one with the cheapest anchor given what is bound
            best = None
            for pi in remaining:
                part = parts[pi]
                anchor, cost, kind = self._anchor(part, known, hints)
                connected = any(v in known for v in _part_vars(part)) or bool(_part_deps(part) & known)
                key = (0 if connected else 1, cost)
                if best is None or key < best[0]:
                    best = (key, pi, anchor, cost, kind, connected)
            _, pi, anchor, cost, kind, connected = best
            remaining.remove(pi)
            part = parts[pi]
            if part.shortest:
                op = self._shortest(part, op, known, pending)
                continue
            if connected or (first and not (entry_known - set(bound)) and op_is_argument(op)):
                op = self._part(part, anchor, kind, op, known, hints, pending, rel_vars)
            else:
                # disconnected from what is bound: join with the part computed once
                part_known = set()
                right = self._part(part, *self._anchor(part, part_known, hints)[::2], L.Argument(bound=[], est=1),
                                   part_known, hints, pending, rel_vars, local_only=True)
                join = self._join_keys(pending, known, part_known)
                if join:
                    lk, rk = join
                    op = L.HashJoin(source=op, right=right, left_keys=lk, right_keys=rk,
                                    est=max(op.est, right.est),
                                    notes=["equality between pattern parts: hash join instead of a product"])
                else:
                    op = L.CartesianProduct(source=op, right=right, est=op.est * right.est)
                # relationship uniqueness across the join (each side enforced its own)
                left_rels = [v for v in rel_vars if v in known]
                right_rels = [v for v in rel_vars if v in part_known]
                if left_rels and right_rels:
                    op = L.RelsDistinct(source=op, left=left_rels, right=right_rels, est=op.est)
                known |= part_known
                op = self._filters(op, pending, known)
            first = False
        if pending:  # whatever is left (should not happen: every dependency is bound by now)
            op = L.Filter(source=op, predicates=[c for _, c in pending], est=op.est * 0.5)
            pending.clear()
        return op

    def _join_keys(self, pending, left_vars, right_vars):
        lk, rk, used = [], [], []
        for item in pending:
            deps, c = item
            if not (isinstance(c, A.Compare) and c.ops == ["="]):
                continue
            a, b = c.operands
            da, db = free_vars(a), free_vars(b)
            if not da or not db:
                continue
            if da <= left_vars and db <= right_vars:
                lk.append(a), rk.append(b), used.append(item)
            elif db <= left_vars and da <= right_vars:
                lk.append(b), rk.append(a), used.append(item)
        for item in used:
            pending.remove(item)
        return (lk, rk) if lk else None

    def _name_part(self, part):
        nodes = [n if n.var else dataclasses.replace(n, var=self.hidden("n")) for n in part.nodes]
        rels = [r if r.var else dataclasses.replace(r, var=self.hidden("r")) for r in part.rels]
        return A.PatternPart(part.path_var, nodes, rels, part.shortest)

    def _anchor(self, part, known, hints):
        best, best_cost, best_kind = 0, None, None
        for i, n in enumerate(part.nodes):
            if n.var in known:
                cost, kind = 0.5, ("bound",)
            else:
                # an index seek costs 1 whatever the counts, so they are read only without one
                # (a plan that read none is valid at any graph size: PreparedQuery.plan_for)
                cost, kind = 1.0, self._seek(n, known, hints)
                if kind is None:
                    cost = float(self.stats.nodes(None))
                    for lab in n.labels:
                        c = float(self.stats.nodes(lab))
                        if c <= cost:
                            cost, kind = c, ("scan", lab)
                if kind is None:
                    kind = ("all",)
            if best_cost is None or cost < best_cost:
                best, best_cost, best_kind = i, cost, kind
        return best, best_cost, best_kind

    def _seek(self, n, known, hints):
        """``("seek", label, key, expr)`` for the first label of node pattern ``n`` with an
        index on a key it is matched on by an expression of ``known`` variables, or None."""
        for lab in n.labels:
            for key, expr, deps in self._eqs(n, hints):
                if deps <= known and self.stats.index(lab, key):
                    return ("seek", lab, key, expr)
        return None

    @staticmethod
    def _take_seek_predicate(pending, var, key, expr):
        """Drop the WHERE equality ``var.key = expr`` an index seek came from: the index answers
        it exactly (key equality is the language's ``=`` on storable values, and a value that
        is not storable, null or NaN matches nothing either way), so it is not checked again."""
        for item in pending:
            c = item[1]
            if isinstance(c, A.Compare) and c.ops == ["="]:
                for x, y in (c.operands, c.operands[::-1]):
                    if (y is expr and isinstance(x, A.Prop) and x.key == key and isinstance(x.subject, A.Var)
                            and x.subject.name == var):
                        pending.remove(item)
                        return

    @staticmethod
    def _eqs(n, hints):
        out = []
        if isinstance(n.props, A.MapLit):
            for k, v in n.props.items:
                out.append((k, v, free_vars(v)))
        out.extend(hints.get(n.var, []))
        return out

    def _part(self, part, anchor, kind, op, known, hints, pending, rel_vars, local_only=False):
        if self.schema is not None:
            reason = self._impossible(part)
            if reason and self.prune:
                return L.EmptyResult(source=op, reason=reason, notes=["schema: cannot match"])
        np = part.nodes[anchor]
        implied = frozenset()
        if kind[0] == "bound":
            op = L.NodeCheck(source=op, var=np.var, pattern=np, est=op.est)
        elif kind[0] == "seek":
            _, lab, key, expr = kind
            desc = self.stats.index(lab, key) or ""
            op = L.NodeIndexSeek(source=op, var=np.var, label=lab, key=key, value=expr,
                                 pattern=np, index=desc if isinstance(desc, str) else "", est=op.est)
            if isinstance(desc, str) and desc.startswith("key index"):
                op.notes.append("schema: a KEY/EXCLUSIVE constraint serves as the index")
            self._take_seek_predicate(pending, np.var, key, expr)
        elif kind[0] == "scan":
            lab = kind[1]
            est = op.est * self.stats.nodes(lab)
            op = L.NodeScan(source=op, var=np.var, label=lab, pattern=np, est=est)
            if self.prune:
                implied = self.schema.implied([lab]) - {lab}
                dropped = [l for l in np.labels if l in implied]
                if dropped:
                    op.pattern = dataclasses.replace(np, labels=[l for l in np.labels if l not in implied])
                    op.notes.append(f"schema: every {lab} is {', '.join(dropped)}: label test dropped")
        else:
            op = L.NodeScan(source=op, var=np.var, label=None, pattern=np, est=op.est * self.stats.nodes(None))
        known.add(np.var)
        op = self._filters(op, pending, known)
        chain_start = op
        hops, types, direction = 0, None, None
        chainable = kind[0] in ("bound", "seek") and anchor == 0 and not part.path_var
        order = [(j, True) for j in range(anchor, len(part.rels))] + [(j, False) for j in range(anchor - 1, -1, -1)]
        for j, forward in order:
            rel = part.rels[j]
            src = part.nodes[j] if forward else part.nodes[j + 1]
            dst = part.nodes[j + 1] if forward else part.nodes[j]
            direction_j = rel.direction if forward else {"out": "in", "in": "out", "both": "both"}[rel.direction]
            into = dst.var in known
            unique = [v for v in rel_vars if v in known and v != rel.var]
            deg = max(0.1, self.stats.degree(rel.types))
            if rel.length is None:
                op = L.Expand(source=op, src=src.var, rel_var=rel.var, dst=dst.var, rel=rel, dst_pattern=dst,
                              direction=direction_j, into=into, unique=unique,
                              est=op.est * (deg if not into else min(1.0, deg)))
            else:
                lo, hi = rel.length
                op = L.VarExpand(source=op, src=src.var, rel_var=rel.var, dst=dst.var, rel=rel, dst_pattern=dst,
                                 direction=direction_j, into=into, unique=unique, lo=lo, hi=hi,
                                 mids_var=self.hidden("m"), reverse=not forward,
                                 est=op.est * deg ** max(1, min(hi or 3, 3)))
            known.add(rel.var)
            known.add(dst.var)
            # the CountReach shape: anonymous single-type hops in one direction, no checks
            chainable = (chainable and rel.length is None and not into and len(rel.types) == 1
                         and rel.props is None and rel.var.startswith(" ") and not dst.labels
                         and dst.props is None and (types is None or (types == rel.types and direction == direction_j)))
            hops, types, direction = hops + 1, rel.types, direction_j
            if chainable and j == len(part.rels) - 1:
                excluded = self._take_exclusion(pending, np.var, dst.var)
                ready = [item for item in pending if item[0] <= known]
                if excluded and not ready:
                    op = L.Filter(source=op, predicates=[A.Compare([A.Var(dst.var), A.Var(np.var)], ["<>"])],
                                  est=op.est)
                    op._chain = (chain_start, np.var, hops, types, direction, dst.var, True)
                    continue
                if excluded:
                    pending.append((frozenset({np.var, dst.var}),
                                    A.Compare([A.Var(dst.var), A.Var(np.var)], ["<>"])))
            before = len(pending)
            op = self._filters(op, pending, known)
            if len(pending) != before:
                chainable = False
        if part.path_var:
            op = L.BuildPath(source=op, var=part.path_var, nodes=[n.var for n in part.nodes],
                             rels=[(r.var, None) for r in part.rels], est=op.est)
            self._path_mids(op, part)
            known.add(part.path_var)
            op = self._filters(op, pending, known)
        return op

    def _path_mids(self, bp, part):
        # find the VarExpand of each variable-length relationship to name its mids column
        mids = {}
        for o in L.walk(bp.source):
            if isinstance(o, L.VarExpand):
                mids[o.rel_var] = o.mids_var
        bp.rels = [(r.var, mids.get(r.var)) for r in part.rels]

    @staticmethod
    def _take_exclusion(pending, a, c):
        for item in pending:
            deps, e = item
            if (isinstance(e, A.Compare) and e.ops == ["<>"] and all(isinstance(x, A.Var) for x in e.operands)
                    and {x.name for x in e.operands} == {a, c}):
                pending.remove(item)
                return True
        return False

    def _shortest(self, part, op, known, pending):
        a, b = part.nodes[0], part.nodes[-1]
        rel = part.rels[0]
        for n in (a, b):
            if n.var not in known:
                op = L.NodeScan(source=op, var=n.var, label=n.labels[0] if n.labels else None, pattern=n,
                                est=op.est * self.stats.nodes(n.labels[0] if n.labels else None))
                known.add(n.var)
            else:
                op = L.NodeCheck(source=op, var=n.var, pattern=n, est=op.est)
            op = self._filters(op, pending, known)
        op = L.ShortestPath(source=op, src=a.var, dst=b.var, rel=rel, direction=rel.direction,
                            path_var=part.path_var or self.hidden("p"), rel_var=rel.var,
                            all_paths=part.shortest == "all", est=op.est)
        known.add(op.path_var)
        known.add(rel.var)
        return self._filters(op, pending, known)

    def _filters(self, op, pending, known):
        ready = [item for item in pending if item[0] <= known]
        if not ready:
            return op
        for item in ready:
            pending.remove(item)
        preds = [c for _, c in ready]
        if self.schema is not None:
            for c in preds:
                reason = self._closed_property(c, op)
                if reason and self.prune:
                    return L.EmptyResult(source=op, reason=reason, notes=["schema: cannot match"])
        return L.Filter(source=op, predicates=preds, est=max(1.0, op.est * 0.3 ** len(preds)))

    # ------------------------------------------------------------ schema
    def _impossible(self, part) -> Optional[str]:
        s = self.schema
        for n in part.nodes:
            lab = s.unknown_label(n.labels)
            if lab is not None:
                self.notify("lpgdb.Schema.UnknownLabel", "The label is in no type of the graph type",
                            f"no node type of graph type {self.gt.name} carries the label {lab}, so "
                            f"({_name(n.var)}:{lab}) cannot match", n.pos)
                return f"no node type carries :{lab}"
            if n.labels and isinstance(n.props, A.MapLit):
                for k, _ in n.props.items:
                    if s.closed_without(n.labels, k):
                        self.notify("lpgdb.Schema.UnknownProperty", "The property is in no type of these labels",
                                    f"every node type carrying :{':'.join(n.labels)} is CLOSED without the "
                                    f"property {k}, so the pattern cannot match", n.pos)
                        return f":{':'.join(n.labels)} has no property {k}"
        for j, r in enumerate(part.rels):
            a, b = part.nodes[j], part.nodes[j + 1]
            if r.length is not None and r.length[0] == 0:
                continue
            if not s.edge_possible(r.types, a.labels, b.labels, r.direction):
                what = "|".join(r.types) or "any type"
                self.notify("lpgdb.Schema.ImpossibleEdge", "No edge type allows this relationship",
                            f"graph type {self.gt.name} has no edge type {what} from "
                            f"{_lab(a.labels)} to {_lab(b.labels)}", r.pos if r.pos >= 0 else a.pos)
                return f"no edge type {what} between {_lab(a.labels)} and {_lab(b.labels)}"
        return None

    def _closed_property(self, c, op) -> Optional[str]:
        if not isinstance(c, A.Compare):      # = <> < > <= >=, chains too: null when one side is
            return None
        labels_of = _labels_in_plan(op)
        for x in c.operands:
            if isinstance(x, A.Prop) and isinstance(x.subject, A.Var):
                labs = labels_of.get(x.subject.name)
                if labs and self.schema.closed_without(labs, x.key):
                    self.notify("lpgdb.Schema.UnknownProperty", "The property is in no type of these labels",
                                f"every node type carrying :{':'.join(sorted(labs))} is CLOSED without the "
                                f"property {x.key}, so {x.subject.name}.{x.key} is always null", x.pos)
                    return f":{':'.join(sorted(labs))} has no property {x.key}"
        return None


def op_is_argument(op) -> bool:
    while isinstance(op, L.Filter):
        op = op.source
    return isinstance(op, L.Argument)


def _labels_in_plan(op) -> dict:
    out = {}
    o = op
    while o is not None:
        pat = getattr(o, "pattern", None) or getattr(o, "dst_pattern", None)
        if pat is not None and pat.labels:
            out.setdefault(pat.var, set()).update(pat.labels)
        if isinstance(o, L.NodeScan) and o.label:
            out.setdefault(o.var, set()).add(o.label)
        o = o.source
    return out


def _dir_of(part, rel_var):
    for r in part.rels:
        if r.var == rel_var:
            return r.direction
    return None


def _part_deps(p) -> set:
    """Variables the part's inline property maps read."""
    out = set()
    for x in list(p.nodes) + list(p.rels):
        if x.props is not None:
            out |= free_vars(x.props)
    return out


def _part_vars(p):
    out = [n.var for n in p.nodes if n.var] + [r.var for r in p.rels if r.var]
    if p.path_var:
        out.append(p.path_var)
    return out


def _extend(bound, names):
    out = list(bound)
    for n in names:
        if n not in out:
            out.append(n)
    return out


def _has_agg(e) -> bool:
    from .expressions import contains_aggregate
    return contains_aggregate(e)


def _writes(cl) -> bool:
    if isinstance(cl, A.WRITE_CLAUSES):
        return True
    if isinstance(cl, A.CallSubquery):
        return any(_writes(c) for part in cl.query.parts for c in part)
    return False


def _name(v) -> str:
    return "" if not v or v.startswith(" ") else v


def _lab(labels) -> str:
    return "(" + "".join(":" + l for l in labels) + ")" if labels else "()"
