"""The commit fast path: one specialised check that accepts the common commit outright.

Owns: ``accepts(gt, view, ws)``, an accept-only pre-check of a transaction's writes. True means
``validate.validate_commit(gt, view, ws)`` would find no violation; False means "not decided
here", and the general validator runs and writes the violations. Verdicts and ``Violation``
records are therefore the general validator's by construction; this module only finds out
quickly that there are none. A property test compares the two on random schemas and writes
(tests/schema/test_commit_fastpath.py).

What it decides: graph types whose constraints all have a node scope and no pattern, with a
descriptor of the node's own properties (KEY / IDENTIFIER, EXCLUSIVE, MANDATORY, SINGLETON,
COUNT over ``x.k`` or ``(x.a, x.b)``, with or without WHERE), STRICT or LOOSE. Anything else
(patterns, edge scopes, boolean descriptors) is left to the general validator.

How: compiled once per graph type and label set (``_NodePlan``, ``_EdgePlan``, bounded memos):
the concrete candidate shapes of a label set, and for each constraint whether its scope is
settled by the labels alone, by the node's typing (a type scope whose shapes are exactly the
STRICT candidates), or needs the conformance test. Per written node: one record check for its
typing and the descriptor's values; per written edge: its record and its two endpoints (an
endpoint the transaction did not touch is settled from its labels, ``GraphType.strict_implies``,
as the general validator does). Key uniqueness: the transaction's own keys compared as GQL key
tuples (``values.comparable``), the committed holders found in one batched probe per
constraint (``untouched_key_nodes``); any hit is left to the general validator, which re-checks
it. Cost: O(written elements), plus one native call per EXCLUSIVE constraint.
"""
from __future__ import annotations

from array import array
from itertools import accumulate
from typing import Optional

from .. import core
from ..values import comparable
from .bulk import _firsts, _int_cuts
from .constraints import eval_expr, eval_node_labels
from .types import _frozen, _LabelCache

__all__ = ["accepts", "checker"]

#: written nodes from which a commit's nodes are checked by group (C calls) rather than one by one
GROUPED_FROM = 16

# how a constraint's scope is decided for a label set
_OUT, _IN, _TYPED, _CONFORMS, _EXPR = "out", "in", "typed", "conforms", "expr"


def checker(gt) -> Optional["_Checker"]:
    """The compiled fast path of graph type ``gt`` (built once, kept on it), or None when its
    constraints are not all of the kinds decided here."""
    try:
        return gt._fast_checker
    except AttributeError:
        pass
    ok = all(not c.edge_scope and not c.has_pattern and c.prop_keys is not None
             and not c.count_vars and not c.boolean and (not c.exclusive or c.index is not None)
             for c in gt.constraints)
    chk = _Checker(gt) if ok else None
    gt._fast_checker = chk
    return chk


def accepts(gt, view, ws) -> bool:
    """True only if the commit of ``ws`` (seen through ``view``, the post-commit state) leaves no
    violation of ``gt``; False when the general validator must decide."""
    chk = checker(gt)
    if chk is None:
        return False
    try:
        return chk.accepts(view, ws)
    except Exception:           # whatever it is (a NaN key, ...), the general validator says it
        return False


def _node_columns(ws, written):
    """The written nodes as columns ``(ids, label sets, tags array('I'), blob, offs
    array('Q'))``, row r node ids[r] with packed map blob[offs[r]:offs[r+1]]: the commit
    record's one NODES_COLS run when it holds them all (nothing copied), else joined from the
    write set's ``(id, packed map)`` puts; None when neither covers every written node."""
    runs = getattr(ws, "node_runs", None)
    if runs and len(runs) == 1 and len(runs[0][2]) == len(written):
        first, lsets, tags, blob, offs = runs[0]
        return range(first, first + len(tags)), lsets, tags, blob, offs
    puts = getattr(ws, "node_puts", None)
    if puts is None or len(puts) != len(written):
        return None
    images = ws.node_images
    labs = [images[nid][0] for nid, _m in puts]
    numbers: dict = {}
    tags = array("I", [numbers.setdefault(ls, len(numbers)) for ls in labs])
    maps = [m for _nid, m in puts]
    offs = array("Q", [0])
    offs.extend(accumulate(map(len, maps)))
    return [nid for nid, _m in puts], list(numbers), tags, b"".join(maps), offs


class _NodePlan:
    __slots__ = ("shapes", "cons")

    def __init__(self, shapes, cons):
        self.shapes = shapes            # STRICT: the concrete candidates' shapes (() = untypable)
        self.cons = cons                # [(constraint, scope decision, type or expr)]


class _Checker:
    def __init__(self, gt):
        self.gt = gt
        self.strict = gt.strict
        self.constraints = gt.constraints
        self._nodes = _LabelCache()     # labels -> _NodePlan
        self._edges = _LabelCache()     # labels -> ((shape, source shapes, target shapes), ...)
        self._implied = _LabelCache()   # (id(endpoint shapes), labels) -> bool
        self._cuts = _int_cuts()        # the integer classes of the C row grouping

    # ---- compiled plans ----
    def node_plan(self, labels) -> _NodePlan:
        labels = _frozen(labels)
        p = self._nodes.get(labels)
        if p is None:
            gt = self.gt
            cands = gt.concrete_node_candidates(labels) if self.strict else ()
            shapes = tuple(s for _t, s in cands)
            cons = []
            for c in self.constraints:
                sc = c.scope
                if sc[0] == "any":
                    how, arg = _IN, None
                elif sc[0] == "label":
                    how, arg = (_IN if sc[1] in labels else _OUT), None
                elif sc[0] == "type":
                    t = sc[1]
                    mine = t.shapes_for(labels)
                    if not mine:
                        how, arg = _OUT, None
                    elif self.strict and cands and all(u is t for u, _s in cands) and \
                            set(mine) == set(shapes):
                        how, arg = _TYPED, None      # typed (checked first) <=> conforms to t
                    else:
                        how, arg = _CONFORMS, t
                else:
                    how, arg = _EXPR, sc
                cons.append((c, how, arg))
            p = self._nodes.put(labels, _NodePlan(shapes, tuple(cons)))
        return p

    def edge_plan(self, labels):
        labels = _frozen(labels)
        p = self._edges.get(labels)
        if p is None:
            p = self._edges.put(labels, tuple((s, t.source, t.target)
                                              for t, s in self.gt.concrete_edge_candidates(labels)))
        return p

    # ---- the check ----
    def accepts(self, view, ws) -> bool:
        images = getattr(ws, "node_images", None)
        if images is None or getattr(ws, "edge_images", None) is None:
            return False
        written = ws.nodes_written
        rest = range(len(self.constraints))
        rows = None
        cols = _node_columns(ws, written) if len(written) >= GROUPED_FROM and self._cuts is not None else None
        if cols is not None:
            rest = self._grouped(view, cols, images)
            if rest is None:
                return False
            if rest:
                rows = self._rows(written, images, typed=True)
        else:
            rows = self._rows(written, images, typed=False)
            if rows is None:
                return False
        if self.strict and not self._edges_typed(view, ws, images):
            return False
        for i in rest:
            if rows and not self._constraint_ok(view, self.constraints[i], i, rows):
                return False
        return True

    def _rows(self, written, images, typed: bool):
        """[(id, labels, constraint plan, props)] of the written nodes; None when one of them
        fails its STRICT typing (unless ``typed``: already checked)."""
        rows = []
        plans, check = self._nodes, self.strict and not typed
        for nid in written:
            img = images.get(nid)
            if img is None:
                return None
            labels, props = img
            try:
                plan = plans[labels]
            except (KeyError, TypeError):
                plan = self.node_plan(labels)
            if check:
                for s in plan.shapes:
                    if s.record_ok(props):
                        break
                else:
                    return None
            rows.append((nid, labels, plan.cons, props))
        return rows

    def _grouped(self, view, cols, images) -> Optional[list]:
        """The written nodes checked by group (their packed maps, ``cols`` as _node_columns
        gives them, numbered by signature in C, as schema/bulk.py does: label set, and each
        property's key and value class): STRICT typing, and each constraint over one property
        without a WHERE (scope and bounds once per group; its keys made, compared among the
        rows and probed against committed nodes in one native call, ``keys_fresh``).  None when
        some row fails; else the indexes of the constraints left to the row loop (a WHERE,
        several key properties, a key C does not make, or one a committed node holds)."""
        ids, _lsets, tags, blob, offs = cols
        groups = core.Groups(self._cuts)
        gids = groups.rows(blob, offs, tags)
        cons = self.constraints
        simple = [i for i, c in enumerate(cons) if c.where is None and len(c.prop_keys) == 1]
        masks = {i: bytearray(groups.count) for i in simple}
        for g, r in _firsts(gids, 0, groups.count).items():
            labels, props = images[ids[r]]
            plan = self.node_plan(labels)
            if self.strict and not any(s.record_ok(props) for s in plan.shapes):
                return None
            for i in simple:
                c, how, arg = plan.cons[i]
                inside = (how is _IN or how is _TYPED or (how is _CONFORMS and arg.conforms(labels, props))
                          or (how is _EXPR and eval_node_labels(arg, labels, props)))
                has = props.get(c.prop_keys[0]) is not None
                if inside and (has < c.min or (c.max is not None and has > c.max)):
                    return None
                masks[i][g] = inside and has
        fresh = getattr(view, "keys_fresh", None)
        for i in simple:
            c = cons[i]
            if not c.exclusive or not any(masks[i]):
                continue
            verdict = core.KEYS_PYTHON if fresh is None else \
                fresh(c.name, blob, offs, gids, bytes(masks[i]), c.prop_keys[0])
            if verdict == core.KEYS_TWICE:
                return None                 # a key twice among the written nodes (equal keys,
                                            # equal bytes: values.key_value)
            if verdict != core.KEYS_FRESH:
                del masks[i]                # held by a committed node, maybe one rewritten here
                                            # (the row loop's probe tells: untouched_key_nodes),
                                            # or a value C leaves to Python, or NaN
        return [i for i in range(len(cons)) if i not in masks]

    def _constraint_ok(self, view, c, i, rows) -> bool:
        """Constraint ``c`` (the i-th) holds for the written nodes ``rows``: the bounds of
        their descriptor sets (at most one tuple each), and no key shared among them or with
        a committed node (one batched probe)."""
        keys, lo, hi, where, exclusive = c.prop_keys, c.min, c.max, c.where, c.exclusive
        one = keys[0] if len(keys) == 1 else None
        probes, seen = [], set()
        for nid, labels, cons, props in rows:
            how, arg = cons[i][1], cons[i][2]
            if how is not _IN and how is not _TYPED:
                if how is _OUT:
                    continue
                if how is _CONFORMS:
                    if not arg.conforms(labels, props):
                        continue
                elif not eval_node_labels(arg, labels, props):
                    continue
            if where is not None and eval_expr(where, {c.var: ("node", props, nid)}) is not True:
                continue
            if one is not None:
                v = props.get(one)
                vals = None if v is None else (v,)
            else:
                vals = tuple(props.get(k) for k in keys)
                if None in vals:
                    vals = None
            if vals is None:
                if lo > 0:
                    return False
                continue
            if hi is not None and hi < 1:
                return False
            if exclusive:
                t = tuple(("num", v) if type(v) is int else ("str", v) if type(v) is str
                          else comparable(v) for v in vals)          # values.comparable, inlined
                if t in seen:
                    return False
                seen.add(t)
                probes.append(vals)
        if probes:
            untouched = getattr(view, "untouched_key_nodes", None)
            if untouched is None or any(untouched(c.name, probes)):
                return False
        return True

    def _implies(self, shapes, labels) -> bool:
        """An untouched node with ``labels`` matches one of ``shapes`` (an endpoint spec) by
        its labels alone (``GraphType.strict_implies``: it conformed before the commit)."""
        hit = self._implied.get((id(shapes), labels))
        if hit is None or hit[0] is not shapes:
            hit = self._implied.put((id(shapes), labels), (shapes, self.gt.strict_implies(shapes, labels)))
        return hit[1]

    def _edges_grouped(self, view, run, eimages) -> bool:
        """The written edges of a transaction that wrote no node, all new and in one column
        run (records.cols_ops), typed by group: their packed maps numbered by signature in C
        (label set, each property's key and value class), each distinct (group, source labels,
        target labels) checked once, an endpoint settled by its labels (it is untouched).
        False when some triple is not settled so (the row loop decides).  O(edges) in C and
        in one pass of zip/set, plus O(distinct triples) checks."""
        labels_many = getattr(view, "node_labels_many", None)
        if labels_many is None:
            return False
        first, _lsets, tags, srcs, dsts, blob, offs = run
        groups = core.Groups(self._cuts)
        gids = groups.rows(blob, offs, tags)
        firsts = _firsts(gids, 0, groups.count)
        plans, implies = self._edges, self._implies
        for g, sl, dl in set(zip(gids, labels_many(srcs), labels_many(dsts))):
            if sl is None or dl is None:
                return False
            labels, _src, _dst, props = eimages[first + firsts[g]]
            try:
                plan = plans[labels]
            except (KeyError, TypeError):
                plan = self.edge_plan(labels)
            for shape, source, target in plan:
                if shape.record_ok(props) and implies(source, sl) and implies(target, dl):
                    break
            else:
                return False
        return True

    def _edges_typed(self, view, ws, images) -> bool:
        """Every written edge, and every edge at a written node that existed before the
        transaction, conforms to a concrete member edge type (STRICT)."""
        edges = ws.edges_written
        runs = getattr(ws, "edge_runs", None)
        if (runs and len(runs) == 1 and not images and len(edges) >= GROUPED_FROM
                and len(runs[0][2]) == len(edges) and self._cuts is not None):
            ok = self._edges_grouped(view, runs[0], ws.edge_images)
            if ok:
                return True
        first_new = getattr(ws, "first_new_node", None)
        labels_of = getattr(view, "node_labels", None)
        if first_new is None or labels_of is None:
            return False
        old = [n for n in ws.nodes_written if n < first_new]
        eimages = ws.edge_images
        found = {}
        if old:
            edges = set(edges)
            for n in old:
                for e in view.edges_of(n, "both"):
                    edges.add(e.id)
                    found[e.id] = e
        implies = self._implies
        memo = {}

        def end_ok(shapes, nid) -> bool:
            """Node ``nid`` matches one of ``shapes`` (an endpoint spec), as the general
            validator's ``shapes_ok`` decides it."""
            img = images.get(nid, False)
            if img is False:            # untouched: it conformed before, its labels may do
                labels = labels_of(nid)
                if labels is None:
                    return False
                if implies(shapes, labels):
                    return True
            key = (id(shapes), nid)
            r = memo.get(key)
            if r is None:
                if img is False:
                    n = view.node(nid)
                    img = None if n is None else (n.labels, n.properties)
                r = memo[key] = img is not None and any(s.matches(img[0], img[1]) for s in shapes)
            return r

        plans = self._edges
        for eid in edges:
            img = eimages.get(eid, False)
            if img is False:
                e = found.get(eid)
                if e is None:
                    e = view.edge(eid)
                img = (e.labels, e.src, e.dst, e.properties)
            elif img is None:
                continue
            labels, src, dst, props = img
            try:
                plan = plans[labels]
            except (KeyError, TypeError):
                plan = self.edge_plan(labels)
            for s, source, target in plan:
                if s.record_ok(props) and end_ok(source, src) and end_ok(target, dst):
                    break
            else:
                return False
        return True
